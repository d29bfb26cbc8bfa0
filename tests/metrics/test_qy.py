"""Qy (Yang) against a numpy/scipy transcription of MEFB metricsQy.m."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import _cpu_kernels, get_metric
from metrics.qy import _flat_windows, yang_metric, yang_metric_mefb
from tests.metrics.mefb_reference import ssim_yang
from tests.metrics.metric_inputs import blended_triple, tensors

pytestmark = pytest.mark.usefixtures('cpu_backend')


def mefb_qy(im1, im2, fused):
    m1, s1, s2, _ = ssim_yang(im1, im2)
    m2 = ssim_yang(im1, fused).ssim
    m3 = ssim_yang(im2, fused).ssim
    bin_map = m1 >= 0.75
    with np.errstate(invalid='ignore', divide='ignore'):
        ramda = s1 / (s1 + s2)
        q1 = (ramda * m2 + (1 - ramda) * m3) * bin_map
    q2 = np.fmax(m2, m3) * ~bin_map
    a = q1 + q2
    return a[~np.isnan(a)].mean()


def _images(seed, shape=(2, 1, 20, 27)):
    return blended_triple(seed, shape, vis_gain=0.5, vis_noise=(60, 25), fused_noise=4, fused_weights=(0.6, 0.4))


@pytest.mark.parametrize('seed', [0, 1])
def test_matches_mefb_transcription(seed):
    fused, ir, vis = _images(seed)
    expected = [mefb_qy(a[0], b[0], f[0]) for f, a, b in zip(fused, ir, vis)]
    for fn in (yang_metric, yang_metric_mefb, get_metric('qy', 'mefb'), get_metric('qy')):
        np.testing.assert_allclose(fn(*tensors(fused, ir, vis)).numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize('size', [3, 7])
def test_flat_windows_kernel_and_torch_form_agree(cpu_backend, size):
    rng = np.random.default_rng(size)
    x = rng.integers(0, 3, (2, 2, 25, 31)).astype(np.float64)   # few levels: many flat windows besides set ones
    x[0, 1, 4:15, 2:20] = 7.
    flat = _flat_windows(torch.from_numpy(x), size)
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(-2, -1))
    expected = windows.max(axis=(-2, -1)) == windows.min(axis=(-2, -1))
    assert expected.any() and not expected.all()
    np.testing.assert_array_equal(flat.numpy(), expected)


def test_constant_regions_use_exact_statistics():
    fused, ir, vis = _images(2, shape=(1, 1, 30, 30))
    ir[..., :12, :14] = 255.          # saturated target: constant windows in ir ...
    fused[..., :12, :14] = 250.       # ... and in fused, at another level (Octave's value is rounding noise here)
    vis[..., 20:, 20:] = 0.
    expected = mefb_qy(ir[0, 0], vis[0, 0], fused[0, 0])
    assert yang_metric(*tensors(fused, ir, vis)).item() == pytest.approx(expected, rel=1e-10)
    # Windows where both sources are constant give lambda = 0/0 and are dropped from the mean.
    vis[..., :12, :14] = 3.
    expected = mefb_qy(ir[0, 0], vis[0, 0], fused[0, 0])
    assert np.isfinite(expected)
    assert yang_metric(*tensors(fused, ir, vis)).item() == pytest.approx(expected, rel=1e-10)


def test_degenerate_and_small_inputs():
    fused, ir, vis = tensors(*_images(3, shape=(1, 1, 12, 12)))
    assert yang_metric(fused, fused, fused).item() == pytest.approx(1.0, abs=1e-12)
    const = torch.full_like(fused, 80.)
    with pytest.raises(ValueError, match='`ir` and `vis` are both constant \\(lambda = 0/0\\) in every window of '
                                         'image 0, so the reference mean is NaN'):
        yang_metric(fused, const, const)
    assert np.isfinite(yang_metric(const, ir, vis).item())
    small = [t[..., :10, :9] for t in (fused, ir, vis)]
    assert np.isfinite(yang_metric(*small).item())   # the 7x7 window fits
    with pytest.raises(ValueError, match='H, W >= 11'):
        yang_metric_mefb(*small)                     # MEFB's ssim_yang gives up below 11x11
    with pytest.raises(ValueError, match='H, W >= 7'):
        yang_metric(*[t[..., :6, :] for t in small])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16))
def test_symmetric_in_sources_and_bounded(seed):
    fused, ir, vis = tensors(*_images(seed, shape=(1, 1, 13, 15)))
    value = yang_metric(fused, ir, vis)
    torch.testing.assert_close(yang_metric(fused, vis, ir), value, rtol=1e-12, atol=1e-14)
    assert -1 - 1e-9 <= value.item() <= 1 + 1e-9


@pytest.mark.parametrize('name', ['qy', 'qc', 'qw'])
def test_kernels_and_torch_forms_agree_on_flat_regions(name, cpu_backend, monkeypatch):
    if cpu_backend == 'torch':
        pytest.skip('compares the kernels with the torch form: its kernel variant does')
    fused, ir, vis = _images(5, shape=(2, 1, 150, 130))
    ir[0, :, :40, :50] = 255.
    fused[0, :, :40, :50] = 250.
    vis[1, :, 90:, 60:] = 0.
    args = tensors(fused, ir, vis)
    fn = get_metric(name, 'mefb')
    fast = fn(*args)
    monkeypatch.setattr(_cpu_kernels, 'available', lambda: False)
    torch.testing.assert_close(fast, fn(*args), rtol=1e-12, atol=0)
