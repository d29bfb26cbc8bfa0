"""Fidelity against the output of a method's official code run outside the project (issue 16).

The official scripts' images are third-party output and are not committed; each test module holds, per image, the
sha256 of the 8-bit array `bench.images.read_image` decodes from the official PNG (gray when the script wrote a gray
image as three equal channels), and this helper fuses the same pairs through the benchmark runner (what a user's
`python -m bench run` does) and compares the digests. Equal digests mean identical images: infinite PSNR, no
pixel off. The verification pairs, all packaged data sets:
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from bench.images import read_image
from tests.methods.zoo_fidelity import FULL, bench_run

PAIRS = {'tno42': ['05', '08', '34', '37', '41'], 'msrs': ['00004N'], 'roadscene': ['FLIR_00006']}


def digest(path: Path) -> str:
    return hashlib.sha256(read_image(path).tobytes()).hexdigest()


def fused_digests(tmp: Path, method: str, subset: dict[str, list[str]], data_root: Path,
                  weights_dir: Path) -> dict[str, str]:
    """{'<data set>/<pair>': sha256} of `method`'s fused images: every pair of `PAIRS` under
    BENCH_FULL_FIDELITY=1, else `subset` (the suite's time budget)."""
    out = {}
    for dataset, pairs in (PAIRS if FULL else subset).items():
        folder = bench_run(tmp / dataset, method, dataset, pairs, data_root, weights_dir)
        out.update({f'{dataset}/{p}': digest(folder / f'{p}.png') for p in pairs})
    return out


def check(method: str, ours: dict[str, str], official: dict[str, str]) -> None:
    wrong = [k for k in ours if ours[k] != official[k]]
    print(f'{method}: {len(ours) - len(wrong)} of {len(ours)} images identical to the official output')
    assert not wrong, f'{method}: images that differ from the official output: {wrong}'
