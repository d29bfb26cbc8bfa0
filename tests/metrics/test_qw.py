"""Qw (Piella, MEFB sw = 3) against a numpy/scipy transcription of MEFB metricsQw.m."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import correlate2d

from metrics import get_metric
from metrics.qw import _edge_magnitude, piella_weighted
from tests.metrics.mefb_reference import ssim_maps  # Wang's ssim_index.m with its defaults
from tests.metrics.metric_inputs import blended_triple, tensors

pytestmark = pytest.mark.usefixtures('cpu_backend')


def _edges(x):
    flt1 = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], float)
    flt2 = np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], float)
    same = lambda k: correlate2d(x, k, mode='same', boundary='fill')  # noqa: E731
    return np.sqrt(same(flt1) ** 2 + same(flt2) ** 2)


def mefb_qw(img1, img2, fused):
    a, b, f = _edges(img1), _edges(img2), _edges(fused)
    _, s1, s2, _ = ssim_maps(a, b)
    test = (s1 + s2 == 0) * 0.5
    s1, s2 = s1 + test, s2 + test
    ramda = s1 / (s1 + s2)
    m1 = ssim_maps(f, a).ssim
    m2 = ssim_maps(f, b).ssim
    cw = np.maximum(s1, s2)
    cw = cw / cw.sum()
    return np.sum(cw * (ramda * m1 + (1 - ramda) * m2))


def _images(seed, shape=(2, 1, 23, 29)):
    return blended_triple(seed, shape, vis_gain=0.3, vis_noise=(100, 50), fused_noise=8)


@pytest.mark.parametrize('seed', [0, 1])
def test_matches_mefb_transcription(seed):
    fused, ir, vis = _images(seed)
    expected = [mefb_qw(a[0], b[0], f[0]) for f, a, b in zip(fused, ir, vis)]
    for fn in (piella_weighted, get_metric('qw', 'mefb'), get_metric('qw')):
        np.testing.assert_allclose(fn(*tensors(fused, ir, vis)).numpy(), expected, rtol=1e-10)


def test_flat_regions_use_the_half_rule():
    fused, ir, vis = _images(2, shape=(1, 1, 40, 40))
    ir[..., :25, :25] = 255.     # both sources constant: zero edge variance in both, raised to 0.5
    vis[..., :25, :25] = 30.
    fused[..., :25, :25] = 140.
    expected = mefb_qw(ir[0, 0], vis[0, 0], fused[0, 0])
    assert piella_weighted(*tensors(fused, ir, vis)).item() == pytest.approx(expected, rel=1e-10)


def test_degenerate_and_small_inputs():
    fused, ir, vis = tensors(*_images(3, shape=(1, 1, 14, 14)))
    const = torch.full_like(fused, 50.)
    # Constant images still have edges on the zero-padded border, so the value is defined.
    expected = mefb_qw(*(t[0, 0].numpy() for t in (const, const, const)))
    assert piella_weighted(const, const, const).item() == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match='H, W >= 11'):
        piella_weighted(*[t[..., :10] for t in (fused, ir, vis)])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16))
def test_symmetric_bounded_and_one_for_identical_images(seed):
    fused, ir, vis = tensors(*_images(seed, shape=(1, 1, 13, 16)))
    value = piella_weighted(fused, ir, vis)
    torch.testing.assert_close(piella_weighted(fused, vis, ir), value, rtol=1e-12, atol=1e-14)
    assert -1 - 1e-9 <= value.item() <= 1 + 1e-9
    assert piella_weighted(ir, ir, ir).item() == pytest.approx(1.0, abs=1e-12)


def test_edge_magnitude_is_the_correctly_rounded_prewitt_magnitude(cpu_backend):
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 17, 23)).astype(np.float64)
    p = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    cols = p[..., :-2, :] + p[..., 1:-1, :] + p[..., 2:, :]
    rows = p[..., :-2] + p[..., 1:-1] + p[..., 2:]
    gx, gy = cols[..., :-2] - cols[..., 2:], rows[..., :-2, :] - rows[..., 2:, :]
    expected = np.sqrt(gx * gx + gy * gy)         # integers: exact up to numpy's correctly rounded sqrt
    got = _edge_magnitude(torch.from_numpy(x)).numpy()
    if cpu_backend == 'kernel':
        np.testing.assert_array_equal(got, expected)
    else:   # torch's float64 CPU sqrt is not always correctly rounded (this build: 1 ulp off on some values)
        np.testing.assert_array_max_ulp(got, expected, maxulp=1)
