"""OpenCV's fixed-point colour conversions (methods/_opencv.py), checked against cv2.cvtColor on every colour."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from methods._opencv import cv_gray, cv_recolour, cv_rgb_to_ycrcb, cv_ycrcb_to_rgb


def _all_triples(first: int, count: int) -> np.ndarray:
    """Every (a, b, c) byte triple with a in [first, first + count), as a (count * 256, 256, 3) uint8 image."""
    a, b, c = np.meshgrid(np.arange(first, first + count), np.arange(256), np.arange(256), indexing='ij')
    return np.stack([a, b, c], -1).reshape(count * 256, 256, 3).astype(np.uint8)


def _nchw(image: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(image))
    return t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).numpy() if t.shape[1] > 1 else t[0, 0].numpy()


@pytest.mark.parametrize('first', range(0, 256, 64))
def test_gray_and_ycrcb_match_opencv_on_every_colour(first):
    rgb = _all_triples(first, 64)  # a quarter of all 2**24 colours per case
    bgr = rgb[..., ::-1].copy()
    t = _nchw(rgb)
    assert np.array_equal(_hwc(cv_gray(t)), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    assert np.array_equal(_hwc(cv_rgb_to_ycrcb(t)), cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb))


@pytest.mark.parametrize('first', range(0, 256, 64))
def test_ycrcb_to_rgb_matches_opencv_on_every_triple(first):
    ycrcb = _all_triples(first, 64)
    expected = cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR)[..., ::-1]
    assert np.array_equal(_hwc(cv_ycrcb_to_rgb(_nchw(ycrcb))), expected)


def test_recolouring_matches_tardal_save():
    """TarDAL's `save_fus(color=True)`: the visible Cr/Cb (cv2 YCrCb of the BGR image) under the fused Y."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (57, 83, 3), dtype=np.uint8)
    fused = rng.integers(0, 256, (57, 83), dtype=np.uint8)
    bgr = rgb[..., ::-1].copy()
    cbcr = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)[..., 1:]
    expected = cv2.cvtColor(np.concatenate([fused[..., None], cbcr], 2), cv2.COLOR_YCrCb2BGR)[..., ::-1]
    got = cv_recolour(_nchw(fused).float(), _nchw(rgb).float())
    assert np.array_equal(_hwc(got), expected)
    gray = np.repeat(rgb[..., :1], 3, -1)  # gray stored as RGB: chroma 128, the fused level comes back on all three
    assert np.array_equal(_hwc(cv_recolour(_nchw(fused).float(), _nchw(gray).float())),
                          np.repeat(fused[..., None], 3, -1))
