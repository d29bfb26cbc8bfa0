"""Fidelity against the output of a method's official code run outside the project (issue 16).

The official scripts' images are third-party output and are not committed; each test module holds, per image, the
sha256 of the 8-bit array `bench.images.read_image` decodes from the official PNG (gray when the script wrote a gray
image as three equal channels), and this helper fuses the same pairs through the benchmark runner (what a user's
`python -m bench run` does) and compares the digests. Equal digests mean identical images: infinite PSNR, no
pixel off.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from bench.images import read_image
from tests.methods.zoo_fidelity import FULL, bench_run


def digest(path: Path) -> str:
    return hashlib.sha256(read_image(path).tobytes()).hexdigest()


def _by_dataset(keys) -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {}
    for key in keys:
        dataset, pair = key.split('/')
        sets.setdefault(dataset, []).append(pair)
    return sets


def check_official(tmp: Path, method: str, official: dict[str, str], subset: dict[str, list[str]],
                   data_root: Path, weights_dir: Path, **options) -> None:
    """Fuses the pairs of `official` ({'<data set>/<pair>': sha256}) through the runner, with factory `options`
    -- all of them under BENCH_FULL_FIDELITY=1, else `subset` (the suite's time budget) -- and asserts every
    digest."""
    ours = {}
    for dataset, pairs in (_by_dataset(official) if FULL else subset).items():
        (tmp / dataset).mkdir(parents=True, exist_ok=True)
        folder = bench_run(tmp / dataset, method, dataset, pairs, data_root, weights_dir, **options)
        ours.update({f'{dataset}/{p}': digest(folder / f'{p}.png') for p in pairs})
    wrong = [k for k in ours if ours[k] != official[k]]
    print(f'{method}: {len(ours) - len(wrong)} of {len(ours)} images identical to the official output')
    assert not wrong, f'{method}: images that differ from the official output: {wrong}'
