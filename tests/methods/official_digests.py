"""Helpers of the fidelity tests that compare a port with outputs of the official code run outside the project.

Those outputs are third-party code's output and are not committed: a test holds, per image, the sha256 of the uint8
array the official script wrote (C order, (H, W) gray or (H, W, 3) RGB) and its mean, fuses the same pairs through
`run_benchmark` (as a user's `bench run` would, `zoo_fidelity.bench_run`) and compares the digests of the images the
runner wrote. The mean is only there to say how far off a mismatching image is.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bench.images import read_image
from tests.methods.zoo_fidelity import FULL, bench_run


def digest(image: np.ndarray) -> str:
    """sha256 of a uint8 image's bytes in C order."""
    assert image.dtype == np.uint8
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()


def check_official_digests(tmp: Path, method: str, dataset: str, official: dict[str, tuple[str, float]],
                           fast: list[str], data_root: Path, weights_dir: Path, **options) -> None:
    """Fuses `fast` pairs of `dataset` (all of `official` with BENCH_FULL_FIDELITY=1) with `method` and asserts that
    every written image has the official output's digest. `official`: pair -> (sha256, mean)."""
    pairs = sorted(official) if FULL else fast
    (tmp / dataset).mkdir(parents=True, exist_ok=True)
    folder = bench_run(tmp / dataset, method, dataset, pairs, data_root, weights_dir, **options)
    bad = []
    for pair in pairs:
        ours = read_image(folder / f'{pair}.png')
        sha, mean = official[pair]
        if digest(ours) != sha:
            bad.append(f'{pair}: mean {ours.mean():.6f}, official {mean:.6f}')
    print(f'{method} on {dataset}: {len(pairs) - len(bad)} of {len(pairs)} images identical to the official output')
    assert not bad, f'{method}: images differing from the official output: {bad}'
