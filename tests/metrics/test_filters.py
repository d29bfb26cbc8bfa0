"""Shared filter primitives against scipy, with the fused CPU kernel and the torch form held to each other."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from metrics import _cpu_kernels
from metrics._filters import filter_stack, gaussian_taps, separable_valid

needs_numba = pytest.mark.skipif(not _cpu_kernels.available(), reason='numba is not installed')


def _scipy_valid(x: np.ndarray, taps: list[float]) -> np.ndarray:
    """MATLAB filter2(outer(taps, taps), x, 'valid') plane by plane."""
    k = np.outer(taps, taps)
    return np.stack([[scipy.signal.correlate2d(c, k, 'valid') for c in img] for img in x])


def test_gaussian_taps_are_fspecials_factor():
    r = np.arange(11) - 5
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5 ** 2))
    np.testing.assert_allclose(np.outer(gaussian_taps(11, 1.5), gaussian_taps(11, 1.5)), g / g.sum(), rtol=1e-14)


@pytest.mark.parametrize('size', [17, 9, 5, 3])
def test_separable_valid_equals_2d_correlation(cpu_backend, size):
    x = torch.rand(2, 3, 37, 29, generator=torch.Generator().manual_seed(size), dtype=torch.float64) * 255
    taps = gaussian_taps(size, size / 5)
    want = _scipy_valid(x.numpy(), taps)
    np.testing.assert_allclose(separable_valid(x, taps).numpy(), want, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(separable_valid(x, taps, stride=2).numpy(), want[..., ::2, ::2], rtol=1e-12, atol=1e-9)
    out = torch.empty(2, 3, *want.shape[-2:], dtype=torch.float64)
    assert separable_valid(x, taps, out=out) is out
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-9)


def test_asymmetric_taps_are_correlation_not_convolution(cpu_backend):
    x = torch.rand(1, 1, 9, 12, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    taps = [0.1, 0.7, 0.2, -0.4, 0.05]
    np.testing.assert_allclose(separable_valid(x, taps).numpy(), _scipy_valid(x.numpy(), taps), rtol=1e-12)


def test_too_small_inputs_give_empty_results(cpu_backend):
    x = torch.rand(2, 3, 10, 29, dtype=torch.float64)
    assert separable_valid(x, gaussian_taps(17, 3.4)).shape == (2, 3, 0, 13)
    assert separable_valid(x, gaussian_taps(17, 3.4), stride=2).shape == (2, 3, 0, 7)


def test_filter_stack_equals_each_map_filtered(cpu_backend, monkeypatch):
    from metrics import _filters
    monkeypatch.setattr(_filters, '_SMALL_MAP', 0)   # the one-map-at-a-time path of the torch form too
    maps = torch.rand(2, 3, 40, 33, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    taps = gaussian_taps(9, 1.8)
    got = filter_stack(maps, taps, stride=2)
    want = torch.cat([separable_valid(maps[:, i:i + 1], taps, stride=2) for i in range(3)], dim=1)
    torch.testing.assert_close(got, want, rtol=1e-14, atol=0)


@needs_numba
def test_kernel_and_torch_form_agree_on_a_large_image(monkeypatch):
    """The two forms do the same arithmetic in the same order; only FMA contraction may differ."""
    x = torch.rand(1, 4, 480, 640, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 255 ** 2
    taps = gaussian_taps(17, 3.4)
    fused = separable_valid(x, taps, stride=1)
    monkeypatch.setattr(_cpu_kernels, 'available', lambda: False)
    torch.testing.assert_close(fused, separable_valid(x, taps, stride=1), rtol=1e-14, atol=0)


def test_kernel_is_not_used_for_float32_or_autograd():
    x = torch.rand(1, 1, 300, 300)
    assert not _cpu_kernels.usable(x, x.numel())
    assert not _cpu_kernels.usable(x.double().requires_grad_(), x.numel())
    y = separable_valid(x, gaussian_taps(5, 1.0))
    assert y.dtype == torch.float32 and y.shape == (1, 1, 296, 296)


def test_different_column_and_row_taps(cpu_backend):
    x = torch.rand(2, 1, 13, 17, generator=torch.Generator().manual_seed(7), dtype=torch.float64) * 255
    col, row = [1., 2., 1.], [1., 0., -1.]
    want = np.stack([[scipy.signal.correlate2d(c, np.outer(col, row), 'valid') for c in img] for img in x.numpy()])
    np.testing.assert_allclose(separable_valid(x, col, row_taps=row).numpy(), want, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(separable_valid(x, col, stride=2, row_taps=row).numpy(), want[..., ::2, ::2],
                               rtol=1e-12, atol=1e-9)


def test_histograms_from_int_or_float_levels_and_out_of_range(cpu_backend):
    from metrics._filters import histogram, joint_histogram
    rng = np.random.default_rng(4)
    a, b = (torch.from_numpy(rng.integers(0, 256, (2, 1, 20, 30))) for _ in range(2))
    want = np.stack([np.bincount(x.ravel(), minlength=256) for x in a.numpy()])
    np.testing.assert_array_equal(histogram(a).numpy(), want)
    np.testing.assert_array_equal(histogram(a.double()).numpy(), want)
    joint = joint_histogram(a.double(), b, cap=254).numpy()
    capped = [np.minimum(x.numpy(), 254).reshape(2, -1) for x in (a, b)]
    for n in range(2):
        np.testing.assert_array_equal(joint[n], np.histogram2d(capped[0][n], capped[1][n], bins=256,
                                                               range=[[0, 256], [0, 256]])[0])
    with pytest.raises((ValueError, RuntimeError), match='outside|index'):
        histogram(a + 1)   # 256 is not a level of 256 bins


def test_rounding_to_levels_half_even_and_half_away(cpu_backend):
    from metrics.mi import _levels, _uint8
    x = torch.tensor([0.49999999999999994, 0.5, 1.5, 2.5, -0.5, -3.2, 254.5, 255.5, 1e300, 7.0, 99.49, 99.5],
                     dtype=torch.float64).repeat(1500).view(1, 1, 120, 150)   # enough values for the kernel
    half_even = np.clip(np.round(x.numpy().ravel()), 0, 255)
    half_away = np.clip(np.sign(x.numpy().ravel()) * np.floor(np.abs(x.numpy().ravel()) + 0.5), 0, 255)
    half_away[0::12] = 0.   # floor(0.49999999999999994 + 0.5) is 1: the exact rule gives 0
    np.testing.assert_array_equal(_levels(x).numpy().ravel(), half_even)
    np.testing.assert_array_equal(_uint8(x).numpy().ravel(), half_away)
