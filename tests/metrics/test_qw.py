"""Qw (Piella, MEFB sw = 3) against a numpy/scipy transcription of MEFB metricsQw.m."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import correlate2d

from metrics import get_metric
from metrics.qw import piella_weighted


def fspecial_gaussian(size, sigma):
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    g[g < np.finfo(float).eps * g.max()] = 0
    return g / g.sum()


def ssim_index(img1, img2):
    """Wang's ssim_index.m with its defaults: 11x11 Gaussian (1.5), K = (0.01, 0.03), L = 255, 'valid'."""
    w = fspecial_gaussian(11, 1.5)
    f = lambda x: correlate2d(x, w, mode='valid')  # noqa: E731
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu1, mu2 = f(img1), f(img2)
    s1, s2, s12 = f(img1 * img1) - mu1 * mu1, f(img2 * img2) - mu2 * mu2, f(img1 * img2) - mu1 * mu2
    return ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 * mu1 + mu2 * mu2 + c1) * (s1 + s2 + c2)), s1, s2


def _edges(x):
    flt1 = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], float)
    flt2 = np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], float)
    same = lambda k: correlate2d(x, k, mode='same', boundary='fill')  # noqa: E731
    return np.sqrt(same(flt1) ** 2 + same(flt2) ** 2)


def mefb_qw(img1, img2, fused):
    a, b, f = _edges(img1), _edges(img2), _edges(fused)
    _, s1, s2 = ssim_index(a, b)
    test = (s1 + s2 == 0) * 0.5
    s1, s2 = s1 + test, s2 + test
    ramda = s1 / (s1 + s2)
    m1, _, _ = ssim_index(f, a)
    m2, _, _ = ssim_index(f, b)
    cw = np.maximum(s1, s2)
    cw = cw / cw.sum()
    return np.sum(cw * (ramda * m1 + (1 - ramda) * m2))


def _images(seed, shape=(2, 1, 23, 29)):
    rng = np.random.default_rng(seed)
    ir = rng.integers(0, 256, size=shape).astype(np.float64)
    vis = np.clip(ir * 0.3 + rng.normal(100, 50, size=shape), 0, 255).round()
    fused = np.clip(0.5 * ir + 0.5 * vis + rng.normal(0, 8, size=shape), 0, 255).round()
    return fused, ir, vis


def _t(*arrays):
    return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]


@pytest.mark.parametrize('seed', [0, 1])
def test_matches_mefb_transcription(seed):
    fused, ir, vis = _images(seed)
    expected = [mefb_qw(a[0], b[0], f[0]) for f, a, b in zip(fused, ir, vis)]
    for fn in (piella_weighted, get_metric('qw', 'mefb'), get_metric('qw')):
        np.testing.assert_allclose(fn(*_t(fused, ir, vis)).numpy(), expected, rtol=1e-10)


def test_flat_regions_use_the_half_rule():
    fused, ir, vis = _images(2, shape=(1, 1, 40, 40))
    ir[..., :25, :25] = 255.     # both sources constant: zero edge variance in both, raised to 0.5
    vis[..., :25, :25] = 30.
    fused[..., :25, :25] = 140.
    expected = mefb_qw(ir[0, 0], vis[0, 0], fused[0, 0])
    assert piella_weighted(*_t(fused, ir, vis)).item() == pytest.approx(expected, rel=1e-10)


def test_degenerate_and_small_inputs():
    fused, ir, vis = _t(*_images(3, shape=(1, 1, 14, 14)))
    const = torch.full_like(fused, 50.)
    # Constant images still have edges on the zero-padded border, so the value is defined.
    expected = mefb_qw(*(t[0, 0].numpy() for t in (const, const, const)))
    assert piella_weighted(const, const, const).item() == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match='H, W >= 11'):
        piella_weighted(*[t[..., :10] for t in (fused, ir, vis)])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16))
def test_symmetric_bounded_and_one_for_identical_images(seed):
    fused, ir, vis = _t(*_images(seed, shape=(1, 1, 13, 16)))
    value = piella_weighted(fused, ir, vis)
    torch.testing.assert_close(piella_weighted(fused, vis, ir), value, rtol=1e-12, atol=1e-14)
    assert -1 - 1e-9 <= value.item() <= 1 + 1e-9
    assert piella_weighted(ir, ir, ir).item() == pytest.approx(1.0, abs=1e-12)
