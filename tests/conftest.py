"""Shared fixtures: the shared data root (tests needing it skip with the reason) and a clean environment."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path | None:
    """`$BENCH_DATA_ROOT`, else `../shared/data` beside the repository; None when neither exists."""
    env = os.environ.get('BENCH_DATA_ROOT')
    candidates = [Path(env)] if env else [REPO.parent / 'shared' / 'data']
    return next((p for p in candidates if (p / 'tno42').is_dir()), None)


@pytest.fixture(scope='session')
def data_root() -> Path:
    root = shared_data_root()
    if root is None:
        pytest.skip('needs the real data sets: set BENCH_DATA_ROOT to a folder holding tno42/ (CI uses ../shared/data)')
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keeps the user cache (synthetic set, default data root) out of the developer's home during tests."""
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path_factory.getbasetemp() / 'cache'))
