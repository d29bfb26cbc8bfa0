"""The seeded synthetic PIAFusion checkpoint and input pairs behind `test_piafusion.py`'s reference digest.

The same functions made the checkpoint and the input PNGs that the official TensorFlow code was run on (see
`test_piafusion.py`), so the test regenerates both exactly: every tensor of the official index, by name in sorted
order, from one numpy generator; three pairs of random 8-bit images of three sizes (odd ones included).
"""
from __future__ import annotations

import numpy as np

from methods.piafusion import OFFICIAL_TENSORS

SEED = 20220316
SIZES = ((48, 64), (37, 53), (61, 40))  # (height, width)


def synthetic_tensors(seed: int = SEED) -> dict[str, np.ndarray]:
    """Every official tensor (name, shape, float32): kernels N(0, 1 / fan_in), biases N(0, 0.1**2)."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape in OFFICIAL_TENSORS.items():
        std = 1 / np.sqrt(np.prod(shape[:-1])) if name.endswith('kernel') else 0.1
        tensors[name] = rng.normal(0, std, shape).astype(np.float32)
    return tensors


def synthetic_pairs(seed: int = SEED) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(MSRS-style file name, infrared uint8 (H, W), visible RGB uint8 (H, W, 3))] for `SIZES`."""
    rng = np.random.default_rng(seed + 1)
    pairs = []
    for i, (h, w) in enumerate(SIZES, 1):
        ir = rng.integers(0, 256, (h, w), dtype=np.uint8)
        vi = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        pairs.append((f'{i:05d}D.png', ir, vi))
    return pairs
