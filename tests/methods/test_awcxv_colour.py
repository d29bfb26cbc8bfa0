"""`methods._awcxv_colour` against numpy's own evaluation of the scripts' expressions (`np.dot` of an (H, W, 3)
array with the 3x3 matrix), where float rounding decides a truncated or rounded level."""
from __future__ import annotations

import numpy as np
import torch

from methods._awcxv_colour import script_chroma, script_luminance, script_recolour

FORWARD = np.array([[0.299, 0.587, 0.114], [-0.169, -0.331, 0.5], [0.5, -0.419, -0.081]])
INVERSE = np.array([[1, 0, 1.402], [1, -0.344136, -0.714136], [1, 1.772, 0]])


def _critical_colours() -> np.ndarray:
    """Every gray, every colour whose exact Y is an integer (299 R + 587 G + 114 B divisible by 1000: where
    truncation can go either way) and 20,000 random colours, as (1, K, 3) uint8."""
    r, g, b = np.meshgrid(np.arange(256), np.arange(256), np.arange(256), indexing='ij')
    exact = ((299 * r + 587 * g + 114 * b) % 1000 == 0)
    picked = np.stack([r[exact], g[exact], b[exact]], -1)
    grays = np.repeat(np.arange(256)[:, None], 3, 1)
    rand = np.random.default_rng(0).integers(0, 256, (20000, 3))
    return np.concatenate([picked, grays, rand]).astype(np.uint8)[None]


def test_forward_matrix_matches_numpy_bit_for_bit():
    colours = _critical_colours()
    theirs = np.dot(colours, FORWARD.T)
    rgb = torch.from_numpy(colours[0].T.copy())[None, :, None, :].float()  # (1, 3, 1, K)
    y = script_luminance(rgb)[0, 0, 0].numpy()
    cb, cr = (c[0, 0, 0].numpy() for c in script_chroma(rgb))
    assert np.array_equal(y, np.clip(theirs[0, :, 0], 0, 255))
    assert np.array_equal(cb, theirs[0, :, 1]) and np.array_equal(cr, theirs[0, :, 2])
    assert (np.trunc(y) != np.trunc((299 * colours[0, :, 0].astype(int) + 587 * colours[0, :, 1].astype(int)
                                     + 114 * colours[0, :, 2].astype(int)) / 1000)).any(), \
        'the truncation case this guards against does occur'


def test_recolour_matches_numpy_including_ties():
    rng = np.random.default_rng(1)
    n = 30000
    y = rng.uniform(-40, 300, n)
    y[:2000] = np.floor(y[:2000]) + 0.5  # float32-exact halves, as 255 * out can be
    cb = rng.uniform(-60, 60, n)
    cr = rng.uniform(-60, 60, n)
    # gray visible pixels: Cb/Cr zero up to float rounding, and a luminance exactly halfway between two levels
    gray = rng.integers(0, 256, 3000)
    cb[-3000:], cr[-3000:] = np.dot(np.stack([gray] * 3, -1)[None].astype(np.uint8), FORWARD.T)[0, :, 1:].T
    y[-3000:] = np.floor(y[-3000:]) + 0.5
    assert (cr[-3000:] != 0).any() and (cr[-3000:] == 0).any()
    theirs = np.round(np.clip(np.dot(np.stack([y, cb, cr], -1)[None], INVERSE.T), 0, 255))[0]
    as_map = [torch.from_numpy(a).view(1, 1, 1, n) for a in (y, cb, cr)]
    ours = script_recolour(*as_map)[0, :, 0].T.numpy()
    assert np.array_equal(ours, theirs)
