"""Qc (Cvejic) against a numpy/scipy transcription of MEFB metricsQc.m."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.qc import cvejic_metric, cvejic_metric_mefb
from tests.metrics.mefb_reference import ssim_yang   # constant windows get exact zero statistics
from tests.metrics.metric_inputs import blended_triple, tensors

pytestmark = pytest.mark.usefixtures('cpu_backend')


def mefb_qc(im1, im2, fused):
    ssim2, _, _, sigma_xf = ssim_yang(im1, fused)
    ssim3, _, _, sigma_yf = ssim_yang(im2, fused)
    with np.errstate(invalid='ignore', divide='ignore'):
        sim_xyf = sigma_xf / (sigma_xf + sigma_yf)
        sim = sim_xyf * ssim2 + (1 - sim_xyf) * ssim3
    sim[sim_xyf < 0] = 0
    sim[sim_xyf > 1] = 1
    return sim[~np.isnan(sim)].mean()


def _images(seed, shape=(2, 1, 21, 26)):
    return blended_triple(seed, shape, vis_gain=-0.7, vis_offset=255, vis_noise=(0, 40), fused_noise=10)


@pytest.mark.parametrize('seed', [0, 1])
def test_matches_mefb_transcription(seed):
    fused, ir, vis = _images(seed)
    expected = [mefb_qc(a[0], b[0], f[0]) for f, a, b in zip(fused, ir, vis)]
    for fn in (cvejic_metric, cvejic_metric_mefb, get_metric('qc', 'mefb'), get_metric('qc')):
        np.testing.assert_allclose(fn(*tensors(fused, ir, vis)).numpy(), expected, rtol=1e-10)


def test_source_order_matters():
    fused, ir, vis = _images(2, shape=(1, 1, 24, 24))
    straight, swapped = mefb_qc(ir[0, 0], vis[0, 0], fused[0, 0]), mefb_qc(vis[0, 0], ir[0, 0], fused[0, 0])
    assert abs(straight - swapped) > 1e-3     # windows with s < 0 or s > 1 swap their 0 and 1
    assert cvejic_metric(*tensors(fused, ir, vis)).item() == pytest.approx(straight, rel=1e-10)
    assert cvejic_metric(*tensors(fused, vis, ir)).item() == pytest.approx(swapped, rel=1e-10)


def test_constant_regions_and_degenerate_inputs():
    fused, ir, vis = _images(3, shape=(1, 1, 30, 30))
    ir[..., 5:20, 5:20] = 255.     # constant source windows: cov(A, F) = 0 exactly, so s = 0 and Q = SSIM(B, F)
    fused[..., 18:, 18:] = 7.      # constant fused windows: s = 0/0, dropped
    expected = mefb_qc(ir[0, 0], vis[0, 0], fused[0, 0])
    assert cvejic_metric(*tensors(fused, ir, vis)).item() == pytest.approx(expected, rel=1e-10)
    f, a, b = tensors(fused, ir, vis)
    with pytest.raises(ValueError, match='is 0/0 \\(a constant `fused`, or constant sources\\) in every window'):
        cvejic_metric(torch.full_like(f, 9.), a, b)
    with pytest.raises(ValueError, match='H, W >= 11'):
        cvejic_metric_mefb(*[t[..., :10, :] for t in (f, a, b)])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16))
def test_bounded_and_one_for_identical_images(seed):
    fused, ir, vis = tensors(*_images(seed, shape=(1, 1, 12, 14)))
    assert -1 - 1e-9 <= cvejic_metric(fused, ir, vis).item() <= 1 + 1e-9
    assert cvejic_metric(ir, ir, ir).item() == pytest.approx(1.0, abs=1e-12)
