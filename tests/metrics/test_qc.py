"""Qc (Cvejic) against a numpy/scipy transcription of MEFB metricsQc.m."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import correlate2d

from metrics import get_metric
from metrics.qc import cvejic_metric, cvejic_metric_mefb


def fspecial_gaussian(size, sigma):
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    g[g < np.finfo(float).eps * g.max()] = 0
    return g / g.sum()


def ssim_yang(img1, img2):
    """MEFB metricsQc.m ssim_yang -> (ssim_map, sigma12); constant windows get exact zero statistics."""
    w = fspecial_gaussian(7, 1.5)
    f = lambda x: correlate2d(x, w, mode='valid')  # noqa: E731
    mu1, mu2 = f(img1), f(img2)
    s1, s2, s12 = f(img1 * img1) - mu1 * mu1, f(img2 * img2) - mu2 * mu2, f(img1 * img2) - mu1 * mu2
    flat1 = np.ptp(sliding_window_view(img1, (7, 7)), axis=(-2, -1)) == 0
    flat2 = np.ptp(sliding_window_view(img2, (7, 7)), axis=(-2, -1)) == 0
    s1[flat1], s2[flat2], s12[flat1 | flat2] = 0, 0, 0
    c = 2e-16
    return ((2 * mu1 * mu2 + c) * (2 * s12 + c)) / ((mu1 * mu1 + mu2 * mu2 + c) * (s1 + s2 + c)), s12


def mefb_qc(im1, im2, fused):
    ssim2, sigma_xf = ssim_yang(im1, fused)
    ssim3, sigma_yf = ssim_yang(im2, fused)
    with np.errstate(invalid='ignore', divide='ignore'):
        sim_xyf = sigma_xf / (sigma_xf + sigma_yf)
        sim = sim_xyf * ssim2 + (1 - sim_xyf) * ssim3
    sim[sim_xyf < 0] = 0
    sim[sim_xyf > 1] = 1
    return sim[~np.isnan(sim)].mean()


def _images(seed, shape=(2, 1, 21, 26)):
    rng = np.random.default_rng(seed)
    ir = rng.integers(0, 256, size=shape).astype(np.float64)
    vis = np.clip(255 - ir * 0.7 + rng.normal(0, 40, size=shape), 0, 255).round()
    fused = np.clip(0.5 * ir + 0.5 * vis + rng.normal(0, 10, size=shape), 0, 255).round()
    return fused, ir, vis


def _t(*arrays):
    return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]


@pytest.mark.parametrize('seed', [0, 1])
def test_matches_mefb_transcription(seed):
    fused, ir, vis = _images(seed)
    expected = [mefb_qc(a[0], b[0], f[0]) for f, a, b in zip(fused, ir, vis)]
    for fn in (cvejic_metric, cvejic_metric_mefb, get_metric('qc', 'mefb'), get_metric('qc')):
        np.testing.assert_allclose(fn(*_t(fused, ir, vis)).numpy(), expected, rtol=1e-10)


def test_source_order_matters():
    fused, ir, vis = _images(2, shape=(1, 1, 24, 24))
    straight, swapped = mefb_qc(ir[0, 0], vis[0, 0], fused[0, 0]), mefb_qc(vis[0, 0], ir[0, 0], fused[0, 0])
    assert abs(straight - swapped) > 1e-3     # windows with s < 0 or s > 1 swap their 0 and 1
    assert cvejic_metric(*_t(fused, ir, vis)).item() == pytest.approx(straight, rel=1e-10)
    assert cvejic_metric(*_t(fused, vis, ir)).item() == pytest.approx(swapped, rel=1e-10)


def test_constant_regions_and_degenerate_inputs():
    fused, ir, vis = _images(3, shape=(1, 1, 30, 30))
    ir[..., 5:20, 5:20] = 255.     # constant source windows: cov(A, F) = 0 exactly, so s = 0 and Q = SSIM(B, F)
    fused[..., 18:, 18:] = 7.      # constant fused windows: s = 0/0, dropped
    expected = mefb_qc(ir[0, 0], vis[0, 0], fused[0, 0])
    assert cvejic_metric(*_t(fused, ir, vis)).item() == pytest.approx(expected, rel=1e-10)
    f, a, b = _t(fused, ir, vis)
    with pytest.raises(ValueError, match='is 0/0 \\(a constant `fused`, or constant sources\\) in every window'):
        cvejic_metric(torch.full_like(f, 9.), a, b)
    with pytest.raises(ValueError, match='H, W >= 11'):
        cvejic_metric_mefb(*[t[..., :10, :] for t in (f, a, b)])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16))
def test_bounded_and_one_for_identical_images(seed):
    fused, ir, vis = _t(*_images(seed, shape=(1, 1, 12, 14)))
    assert -1 - 1e-9 <= cvejic_metric(fused, ir, vis).item() <= 1 + 1e-9
    assert cvejic_metric(ir, ir, ir).item() == pytest.approx(1.0, abs=1e-12)
