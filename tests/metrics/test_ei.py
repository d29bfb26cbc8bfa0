"""EI against scipy.ndimage.correlate with the Sobel kernel and 'nearest' (= MATLAB 'replicate') borders."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.ei import edge_intensity

SOBEL = np.array([[1., 2., 1.], [0., 0., 0.], [-1., -2., -1.]])   # fspecial('sobel')


def _reference(img: np.ndarray) -> float:
    gx = scipy.ndimage.correlate(img, SOBEL, mode='nearest')
    gy = scipy.ndimage.correlate(img, SOBEL.T, mode='nearest')
    return float(np.mean(np.sqrt(gx * gx + gy * gy)))


def _images(seed: int, shape=(3, 1, 15, 11)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=shape).astype(np.float64)
    yy, xx = np.mgrid[:shape[2], :shape[3]]
    images[0, 0] = 255.0 * ((xx - 5) ** 2 + (yy - 7) ** 2 < 16)   # a disc
    return images


@pytest.mark.parametrize('shape', [(3, 1, 15, 11), (2, 1, 1, 6), (2, 1, 2, 2)])
@pytest.mark.parametrize('convention', ['default', 'vifb', 'mefb'])
def test_matches_scipy(shape, convention):
    images = _images(0, shape)
    expected = [_reference(img[0]) for img in images]
    got = get_metric('ei', convention)(torch.from_numpy(images))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_edge_cases():
    assert edge_intensity(torch.full((2, 1, 6, 6), 80.)).tolist() == [0, 0]   # replicate borders: no false edges
    with pytest.raises(ValueError, match='Expected `fused` to be finite'):
        edge_intensity(torch.full((1, 1, 3, 3), float('inf')))


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 10), st.integers(1, 10), st.integers(0, 2 ** 16), st.floats(0.1, 10), st.floats(-50, 50))
def test_properties(h, w, seed, scale, offset):
    img = torch.from_numpy(np.random.default_rng(seed).uniform(0, 255, size=(1, 1, h, w)))
    ei = edge_intensity(img)
    torch.testing.assert_close(edge_intensity(img.transpose(-1, -2)), ei)
    torch.testing.assert_close(edge_intensity(img.flip(-1).flip(-2)), ei)
    torch.testing.assert_close(edge_intensity(img * scale + offset), ei * scale)
