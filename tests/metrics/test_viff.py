"""VIFF (Han et al.) against a numpy/scipy transcription of MEFB metricsVIF.m (VIF + ComVidVindG)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.viff import han_viff
from tests.metrics.mefb_reference import vif_gain_and_noise, vifp_scales
from tests.metrics.metric_inputs import blended_triple, tensors

pytestmark = pytest.mark.usefixtures('cpu_backend')


def com_vid_vind_g(ref, dist, sq):
    """ComVidVindG: per-scale VID, VIND and g maps of `ref` against `dist`."""
    out = []
    for r, d, win in vifp_scales(ref, dist):
        g, sv, s1 = vif_gain_and_noise(r, d, win)
        out.append((np.log10(1 + g ** 2 * s1 / (sv + sq)), np.log10(1 + s1 / sq), g))
    return out


def mefb_viff(im1, im2, fused):
    sq, c, p = 0.005 * 255 * 255, 1e-7, np.array([1, 0, 0.15, 1]) / 2.15
    t1, t2 = com_vid_vind_g(im1, fused, sq), com_vid_vind_g(im2, fused, sq)
    f = []
    for (z1, m1, g1), (z2, m2, g2) in zip(t1, t2):
        pick1 = g1 < g2
        f.append(np.sum(np.where(pick1, z1, z2) + c) / np.sum(np.where(pick1, m1, m2) + c))
    return float(np.sum(np.array(f) * p))


def _images(seed, shape=(2, 1, 45, 52)):
    return blended_triple(seed, shape, vis_gain=0.3, vis_noise=(120, 50), fused_noise=15)


@pytest.mark.parametrize('seed', [0, 1])
def test_matches_mefb_transcription(seed):
    fused, ir, vis = _images(seed)
    expected = [mefb_viff(a[0], b[0], f[0]) for f, a, b in zip(fused, ir, vis)]
    for fn in (han_viff, get_metric('viff', 'mefb'), get_metric('viff')):
        np.testing.assert_allclose(fn(*tensors(fused, ir, vis)).numpy(), expected, rtol=1e-10)


def test_ties_take_the_second_source():
    fused, ir, vis = _images(2, shape=(1, 1, 41, 44))
    fused[:] = 77.   # constant fused image: g = 0 for both sources everywhere, VIND comes from `vis`
    expected = mefb_viff(ir[0, 0], vis[0, 0], fused[0, 0])
    ours = han_viff(*tensors(fused, ir, vis)).item()
    assert ours == pytest.approx(expected, rel=1e-10)
    swapped = mefb_viff(vis[0, 0], ir[0, 0], fused[0, 0])
    ours_swapped = han_viff(*tensors(fused, vis, ir)).item()
    assert ours_swapped == pytest.approx(swapped, rel=1e-10)
    assert ours != pytest.approx(ours_swapped, rel=1e-3)


def test_constant_sources_and_small_images():
    fused, ir, vis = tensors(*_images(3, shape=(1, 1, 41, 41)))
    const = torch.full_like(fused, 128.)
    # Constant sources: VID = VIND = 0, so every scale is (n C) / (n C) = 1 and VIFF = sum(p) = 1.
    assert han_viff(fused, const, const).item() == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match='H, W >= 41'):
        han_viff(*[t[..., :40] for t in (fused, ir, vis)])


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2 ** 16))
def test_identical_images_and_bounds(seed):
    fused, ir, vis = tensors(*_images(seed, shape=(1, 1, 42, 43)))
    assert han_viff(ir, ir, ir).item() == pytest.approx(1.0, abs=1e-8)
    assert 0 <= han_viff(fused, ir, vis).item() <= 1 + 1e-8
