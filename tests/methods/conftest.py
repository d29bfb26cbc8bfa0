"""Fixtures for method tests: the official weights directory (tests needing it skip with the reason)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import REPO


def shared_weights_dir() -> Path | None:
    """`$BENCH_WEIGHTS_DIR`, else `../shared/weights` beside the repository; None when neither holds weights."""
    env = os.environ.get('BENCH_WEIGHTS_DIR')
    candidates = [Path(env)] if env else [REPO.parent / 'shared' / 'weights']
    return next((p for p in candidates if p.is_dir() and any(p.iterdir())), None)


@pytest.fixture(scope='session')
def weights_dir() -> Path:
    root = shared_weights_dir()
    if root is None:
        pytest.skip('needs the official weights: set BENCH_WEIGHTS_DIR to a folder holding them '
                    '(CI uses ../shared/weights; `python -m bench weights fetch NAME` downloads them)')
    return root
