"""Shared fixtures: the shared data root (tests needing it skip with the reason) and a clean environment."""
from __future__ import annotations

import os
from pathlib import Path

from bench import runtime

# The settings `python -m bench` runs under, applied before torch is loaded: the suite is what CI waits for, and
# the page faults of fresh temporaries otherwise add half again to the metric-heavy tests (measured: 31 -> 22 s).
TUNED = runtime.tune()

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# Cheap metrics for pipeline tests: the pipeline is what they test; each metric has its own tests.
FAST_METRICS = ['en', 'sd', 'sf']
# Methods for pipeline tests: the exact pixel rules. `--methods all` includes the baseline networks (seconds to a
# minute per pair on a CPU, and error rows where weights are missing), which pipeline tests do not need.
PIPELINE_METHODS = ['average', 'maximum']
PIPELINE = ','.join(PIPELINE_METHODS)


def weightless_methods() -> list[str]:
    """The registered methods that need no weight files (the pixel rules). Pipeline tests run these: they do not
    depend on the weights directory, and the baselines would take minutes per image on a CPU."""
    import methods
    return [n for n in methods.list_methods() if not methods.get_method_spec(n).weights]


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


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keeps the user cache (synthetic set, default data root) out of the developer's home during tests."""
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path_factory.getbasetemp() / 'cache'))
    # Every `bench run` ends with a report; figures would cost seconds per run. Report tests ask for them explicitly.
    monkeypatch.setenv('BENCH_REPORT_FIGURES', '0')


def realistic_triple(n: int = 3, h: int = 24, w: int = 31, seed: int = 0):
    """(fused, ir, vis) float64 (N, 1, H, W) on 0-255 with smooth structure and noise; fused mixes the sources.

    Uniform noise images are degenerate for several metrics (every local variance saturates in Tang 2022's uint8
    VIF, MEF-SSIM turns negative); fusion results look like this instead.
    """
    import numpy as np
    import torch
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = [rng.uniform(40, 120) * np.sin(rng.uniform(2, 12) * xx + rng.uniform(2, 12) * yy) for _ in range(3)]
    ir, vis = (np.clip(128 + b + rng.normal(0, 12, (n, 1, h, w)), 0, 255) for b in base[:2])
    fused = np.clip(0.5 * ir + 0.5 * vis + 0.3 * base[2] + rng.normal(0, 5, (n, 1, h, w)), 0, 255)
    return tuple(torch.from_numpy(a.round()) for a in (fused, ir, vis))
