"""SF against plain numpy transcriptions of CDDFuse's SF and of VIFB's loops (default and every variant)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.sf import spatial_frequency, spatial_frequency_per_pixel


def _cddfuse_sf(img: np.ndarray) -> float:
    """Evaluator.SF of CDDFuse, restated."""
    return float(np.sqrt(np.mean((img[:, 1:] - img[:, :-1]) ** 2) + np.mean((img[1:, :] - img[:-1, :]) ** 2)))


def _vifb_sf(img: np.ndarray) -> float:
    """metricsSpatial_frequency.m of VIFB, its two double loops restated literally."""
    m, n = img.shape
    rf = sum((img[i, j] - img[i, j - 1]) ** 2 for i in range(m) for j in range(1, n)) / (m * n)
    cf = sum((img[i, j] - img[i - 1, j]) ** 2 for j in range(n) for i in range(1, m)) / (m * n)
    return float(np.sqrt(rf + cf))


def _images(seed: int, shape=(3, 1, 13, 17)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    random = rng.integers(0, 256, size=shape).astype(np.float64)
    yy, xx = np.mgrid[:shape[2], :shape[3]]
    random[0, 0] = (xx * 7 + yy * 3) % 256            # a ramp
    random[1, 0] = 255.0 * ((xx + yy) % 2)              # a checkerboard
    return random


@pytest.mark.parametrize('seed', [0, 1])
def test_default_and_textbook_conventions_match_cddfuse(seed):
    images = _images(seed)
    expected = [_cddfuse_sf(img[0]) for img in images]
    t = torch.from_numpy(images)
    np.testing.assert_allclose(spatial_frequency(t).numpy(), expected, rtol=1e-12)
    for convention in ('cddfuse', 'tang2023'):
        np.testing.assert_allclose(get_metric('sf', convention)(t).numpy(), expected, rtol=1e-12)


def test_tang2022_is_sf_of_unit_range_data():
    images = _images(2)
    expected = [_cddfuse_sf(img[0] / 255) for img in images]
    np.testing.assert_allclose(get_metric('sf', 'tang2022')(torch.from_numpy(images)).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize('convention', ['vifb', 'mefb'])
def test_vifb_mefb_divide_by_pixel_count(convention):
    images = _images(3, shape=(3, 1, 9, 11))
    expected = [_vifb_sf(img[0]) for img in images]
    t = torch.from_numpy(images)
    np.testing.assert_allclose(get_metric('sf', convention)(t).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(spatial_frequency_per_pixel(t).numpy(), expected, rtol=1e-12)
    # The textbook value is larger: only the divisors differ.
    assert (spatial_frequency(t) > spatial_frequency_per_pixel(t)).all()


def test_degenerate_inputs():
    assert spatial_frequency(torch.full((2, 1, 5, 6), 17.)).tolist() == [0, 0]
    assert spatial_frequency_per_pixel(torch.full((1, 1, 1, 1), 3.)).item() == 0   # defined: 0 / 1
    with pytest.raises(ValueError, match=r'H, W >= 2, but got \(1, 1, 1, 8\)'):
        spatial_frequency(torch.zeros(1, 1, 1, 8))
    with pytest.raises(ValueError, match='finite'):
        spatial_frequency(torch.full((1, 1, 4, 4), float('nan')))


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 12), st.integers(2, 12), st.integers(0, 2 ** 32 - 1), st.floats(0.1, 10), st.floats(-50, 50))
def test_properties(h, w, seed, scale, offset):
    img = torch.from_numpy(np.random.default_rng(seed).uniform(0, 255, size=(1, 1, h, w)))
    sf = spatial_frequency(img)
    torch.testing.assert_close(spatial_frequency(img.transpose(-1, -2)), sf)          # rows and columns alike
    torch.testing.assert_close(spatial_frequency(img * scale + offset), sf * scale)   # offset-free, linear
    assert spatial_frequency_per_pixel(img).item() <= sf.item() + 1e-12


def _vifb_sf_matlab_indexing(img_hwc: np.ndarray) -> float:
    """metricsSpatial_frequency.m on an M x N x C array: `[m, n] = size(fused)` gives n = C N and `fused(fi, fj)`
    indexes the columns of the column-major M x (C N) view, which numpy's order='F' reshape reproduces."""
    m, w, c = img_hwc.shape
    return _vifb_sf(img_hwc.reshape(m, w * c, order='F'))


def test_vifb_colour_lays_channels_side_by_side():
    from metrics.sf import spatial_frequency_vifb_colour
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, size=(2, 3, 7, 9)).astype(np.float64)
    expected = [_vifb_sf_matlab_indexing(img.transpose(1, 2, 0)) for img in rgb]
    got = spatial_frequency_vifb_colour(torch.from_numpy(rgb))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    # Not the mean of the channel values (what per-channel scoring would give).
    per_channel = spatial_frequency_per_pixel(torch.from_numpy(rgb).reshape(6, 1, 7, 9)).view(2, 3).mean(dim=1)
    assert (got - per_channel).abs().min() > 1e-3
    gray = torch.from_numpy(rgb[:, :1])
    torch.testing.assert_close(spatial_frequency_vifb_colour(gray), spatial_frequency_per_pixel(gray))
    with pytest.raises(ValueError, match=r'Expected `fused` of shape \(N, C, H, W\), but got \(7, 9\)'):
        spatial_frequency_vifb_colour(gray[0, 0])
