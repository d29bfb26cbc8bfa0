"""VIF against an independent numpy/scipy transcription of vifp_mscale.m / CDDFuse compare_viff (2-D filters)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.vif import vif, vif_cddfuse, vif_uint8
from tests.metrics.mefb_reference import vif_gain_and_noise, vifp_scales
from tests.metrics.metric_inputs import wavy_triple

# Every test runs through the fused CPU kernels and through the torch form.
pytestmark = pytest.mark.usefixtures('cpu_backend')


def reference_vifp(ref: np.ndarray, dist: np.ndarray, uint8: bool = False) -> float:
    """vifp_mscale(ref, dist), line by line; `uint8` makes the scale-1 products saturate like MATLAB uint8."""
    num = den = 0.0
    for scale, (r, d, win) in enumerate(vifp_scales(ref, dist), 1):
        products = None
        if uint8 and scale == 1:
            ri, di = r.astype(np.int64), d.astype(np.int64)
            products = tuple(np.minimum(p, 255).astype(float) for p in (ri * ri, di * di, ri * di))
        g, sv_sq, sigma1_sq = vif_gain_and_noise(r, d, win, products)
        num += np.sum(np.log10(1 + g * g * sigma1_sq / (sv_sq + 2)))
        den += np.sum(np.log10(1 + sigma1_sq / 2))
    with np.errstate(invalid='ignore'):
        return num / den


def _triple(seed: int, shape=(2, 1, 64, 72), smooth: bool = True) -> tuple[torch.Tensor, ...]:
    return wavy_triple(seed, shape, amplitude=90, periods=(3, 12), noise=25, smooth=smooth)


@pytest.mark.parametrize('seed, shape', [(0, (2, 1, 64, 72)), (1, (1, 1, 41, 45)), (2, (3, 1, 30, 50)),
                                         (3, (1, 1, 17, 17)), (4, (1, 1, 96, 40))])
def test_default_and_tang2023_match_transcription(seed, shape):
    f, a, b = _triple(seed, shape)
    expected = [reference_vifp(a[i, 0].numpy(), f[i, 0].numpy()) + reference_vifp(b[i, 0].numpy(), f[i, 0].numpy())
                for i in range(shape[0])]
    np.testing.assert_allclose(vif(f, a, b).numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(get_metric('vif', 'tang2023')(f, a, b).numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(get_metric('vif', 'cddfuse')(f, a, b).numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize('seed', [0, 5])
def test_tang2022_saturating_products_match_transcription(seed):
    f, a, b = _triple(seed, (2, 1, 56, 64))
    expected = [reference_vifp(a[i, 0].numpy(), f[i, 0].numpy(), uint8=True)
                + reference_vifp(b[i, 0].numpy(), f[i, 0].numpy(), uint8=True) for i in range(2)]
    ours = get_metric('vif', 'tang2022')(f, a, b)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-10)
    assert (ours > vif(f, a, b)).all()   # the saturated variances shrink the denominator more than the numerator
    # MATLAB uint8(): non-integer inputs round half away from zero first.
    torch.testing.assert_close(vif_uint8(f + 0.5 - 1e-9, a, b), vif_uint8(f, a, b))


def test_identity_scores_two_and_blur_scores_less():
    f, a, b = _triple(7, (1, 1, 64, 64))
    assert vif(a, a, a).item() == pytest.approx(2.0, abs=1e-9)   # g = s1 / (s1 + 1e-10)
    blurred = torch.nn.functional.avg_pool2d(a, 3, stride=1, padding=1, count_include_pad=False)
    assert 0 < vif(blurred, a, a).item() < 2


def test_constant_source_raises_or_is_one_for_cddfuse():
    f, a, b = _triple(8, (2, 1, 48, 48))
    const = a.clone()
    const[1] = 77.
    with pytest.raises(ValueError, match=r'`ir` is constant in image 1: it has no local variance at any scale'):
        vif(f, const, b)
    with pytest.raises(ValueError, match='`vis` is constant'):
        get_metric('vif', 'tang2022')(f, a, const)
    with pytest.raises(ValueError, match='`vis` is constant'):
        get_metric('vif', 'tang2023')(f, a, const)
    # CDDFuse's compare_viff returns 1.0 for the NaN ratio of the constant source.
    out = vif_cddfuse(f, const, b)
    assert out[1].item() == pytest.approx(1.0 + reference_vifp(b[1, 0].numpy(), f[1, 0].numpy()), rel=1e-10)
    assert np.isnan(reference_vifp(const[1, 0].numpy(), f[1, 0].numpy()))
    torch.testing.assert_close(out[0], vif(f[:1], a[:1], b[:1])[0])
    # A constant fused image carries no information: VIF 0, defined.
    assert vif(torch.full_like(f, 9.), a, b).tolist() == [0.0, 0.0]


def test_values_far_outside_0_255_still_match():
    f, a, b = _triple(10, (1, 1, 48, 48))
    f, a, b = f * 1e20, a * 1e20, b * 1e20   # products of 8 terms of the log sums overflow: plain sums are used
    assert torch.isinf((a[0, 0, 0, :8] ** 2).prod())
    expected = reference_vifp(a[0, 0].numpy(), f[0, 0].numpy()) + reference_vifp(b[0, 0].numpy(), f[0, 0].numpy())
    assert vif(f, a, b).item() == pytest.approx(expected, rel=1e-9)


def test_tang2022_saturation_can_leave_no_variance_on_small_images():
    g = torch.Generator().manual_seed(0)
    f, a, b = (torch.randint(60, 256, (1, 1, 24, 31), generator=g).double() for _ in range(3))
    assert np.isnan(reference_vifp(a[0, 0].numpy(), f[0, 0].numpy(), uint8=True))   # MATLAB: 0/0
    with pytest.raises(ValueError, match=r'`ir` is constant, or its uint8-saturated scale-1 variances'):
        vif_uint8(f, a, b)
    assert torch.isfinite(vif(f, a, b)).all()
    f, a, b = (torch.randint(60, 256, (1, 1, 25, 31), generator=g).double() for _ in range(3))
    assert torch.isfinite(vif_uint8(f, a, b)).all()      # scale 2 works on (double) filtered images


def test_too_small_images_are_rejected():
    f, a, b = _triple(9, (1, 1, 16, 40))
    with pytest.raises(ValueError, match=r'Expected `fused` with N >= 1 and H, W >= 17'):
        vif(f, a, b)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 31), gain=st.floats(0.3, 0.9))
def test_property_contrast_loss_lowers_vif(seed, gain):
    """Attenuating the fused image's contrast (around its mean) never raises VIF above the undistorted value."""
    f, a, b = _triple(seed % 1000, (1, 1, 48, 48))
    faded = (a - a.mean()) * gain + a.mean()
    assert vif(faded, a, a).item() <= vif(a, a, a).item() + 1e-12
