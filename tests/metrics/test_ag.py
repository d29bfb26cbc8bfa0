"""AG against numpy.gradient transcriptions of CDDFuse's AG and of MATLAB's avg_gradient.m (default and variants)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.ag import average_gradient, average_gradient_mean


def _s(img: np.ndarray) -> np.ndarray:
    """sqrt((gx^2 + gy^2) / 2) with numpy's gradient, which is MATLAB's (central / 2 inside, one-sided at borders)."""
    gy, gx = np.gradient(img)
    return np.sqrt((gx ** 2 + gy ** 2) / 2)


def _matlab_ag(img: np.ndarray) -> float:
    r, c = img.shape
    return float(_s(img).sum() / ((r - 1) * (c - 1)))


def _cddfuse_ag(img: np.ndarray) -> float:
    """Evaluator.AG of CDDFuse, restated with its explicit border formulas."""
    gx, gy = np.zeros_like(img), np.zeros_like(img)
    gx[:, 0], gx[:, -1], gx[:, 1:-1] = img[:, 1] - img[:, 0], img[:, -1] - img[:, -2], (img[:, 2:] - img[:, :-2]) / 2
    gy[0, :], gy[-1, :], gy[1:-1, :] = img[1, :] - img[0, :], img[-1, :] - img[-2, :], (img[2:, :] - img[:-2, :]) / 2
    return float(np.mean(np.sqrt((gx ** 2 + gy ** 2) / 2)))


def _images(seed: int, shape=(3, 1, 14, 19)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=shape).astype(np.float64)
    yy, xx = np.mgrid[:shape[2], :shape[3]]
    images[0, 0] = (xx * 5 + yy * yy) % 256
    images[-1, 0] = 255.0 * (xx > shape[3] // 2)        # one vertical edge
    return images


@pytest.mark.parametrize('seed', [0, 1])
@pytest.mark.parametrize('convention', ['default', 'tang2022', 'tang2023', 'vifb', 'mefb'])
def test_matlab_conventions(seed, convention):
    images = _images(seed)
    expected = [_matlab_ag(img[0]) for img in images]
    np.testing.assert_allclose(get_metric('ag', convention)(torch.from_numpy(images)).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize('shape', [(3, 1, 14, 19), (2, 1, 2, 2), (1, 1, 3, 40)])
def test_cddfuse_is_the_mean(shape):
    images = _images(4, shape)
    expected = [_cddfuse_ag(img[0]) for img in images]
    t = torch.from_numpy(images)
    np.testing.assert_allclose(get_metric('ag', 'cddfuse')(t).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(average_gradient_mean(t).numpy(), expected, rtol=1e-12)
    h, w = shape[2:]
    torch.testing.assert_close(average_gradient_mean(t) * h * w / ((h - 1) * (w - 1)), average_gradient(t))


def test_degenerate_inputs():
    assert average_gradient(torch.full((2, 1, 4, 5), 9.)).tolist() == [0, 0]
    for fn in (average_gradient, average_gradient_mean):
        with pytest.raises(ValueError, match=r'H, W >= 2, but got \(1, 1, 7, 1\)'):
            fn(torch.zeros(1, 1, 7, 1))
    with pytest.raises(ValueError, match='floating point'):
        average_gradient(torch.zeros(1, 1, 4, 4, dtype=torch.uint8))


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 12), st.integers(2, 12), st.integers(0, 2 ** 32 - 1), st.floats(0.1, 10), st.floats(-50, 50))
def test_properties(h, w, seed, scale, offset):
    img = torch.from_numpy(np.random.default_rng(seed).uniform(0, 255, size=(1, 1, h, w)))
    ag = average_gradient(img)
    torch.testing.assert_close(average_gradient(img.transpose(-1, -2)), ag)
    torch.testing.assert_close(average_gradient(img.flip(-1)), ag)
    torch.testing.assert_close(average_gradient(img * scale + offset), ag * scale)
