"""NMI (Hossny) against a numpy transcription of MEFB metricsNMI.m and against scikit-learn."""
from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.nmi import normalized_mutual_information, normalized_mutual_information_mefb
from tests.metrics.mefb_reference import histogram_entropies, normalize1
from tests.metrics.metric_inputs import tensors

# Every test runs through the CPU kernels (histograms, rounding) and through the torch forms.
pytestmark = pytest.mark.usefixtures('cpu_backend')


def mefb_nmi(im1, im2, fused):
    """metricsNMI(im1, im2, fused) for gray images."""
    im1, im2, fused = normalize1(im1), normalize1(im2), normalize1(fused)
    h_x, h_f1, h_xf = histogram_entropies(im1, fused)       # H_x, H_y, H_xy as mutual_info.m names them
    h_y, h_f2, h_yf = histogram_entropies(im2, fused)
    i_fx, i_fy = h_x + h_f1 - h_xf, h_y + h_f2 - h_yf
    return 2 * (i_fx / (h_f1 + h_x) + i_fy / (h_f2 + h_y))


def _images(seed, shape=(2, 1, 19, 23), levels=256):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, levels, size=shape)
    ir = np.clip(base + rng.integers(-20, 21, size=shape), 0, levels - 1)
    vis = rng.integers(0, levels, size=shape)
    fused = np.clip((ir + vis) // 2 + rng.integers(-3, 4, size=shape), 0, levels - 1)
    return [a.astype(np.float64) for a in (fused, ir, vis)]


@pytest.mark.parametrize('seed, levels', [(0, 256), (1, 9), (2, 2)])
def test_matches_mefb_transcription(seed, levels):
    fused, ir, vis = _images(seed, levels=levels)
    expected = [mefb_nmi(a[0], b[0], f[0]) for f, a, b in zip(fused, ir, vis)]
    inputs = tensors(fused, ir, vis)
    np.testing.assert_allclose(normalized_mutual_information_mefb(*inputs).numpy(), expected, rtol=1e-12)
    # On integer images the stretch only relabels grey levels: the default equals MEFB.
    np.testing.assert_allclose(normalized_mutual_information(*inputs).numpy(), expected, rtol=1e-12)


def test_mefb_stretch_matters_for_non_integer_values():
    rng = np.random.default_rng(3)
    fused, ir, vis = (rng.uniform(10, 60, size=(1, 1, 16, 16)) for _ in range(3))
    expected = mefb_nmi(ir[0, 0], vis[0, 0], fused[0, 0])
    assert normalized_mutual_information_mefb(*tensors(fused, ir, vis)).item() == pytest.approx(expected, rel=1e-12)
    assert get_metric('nmi', 'mefb')(*tensors(fused, ir, vis)).item() == pytest.approx(expected, rel=1e-12)


def test_matches_sklearn_arithmetic_nmi():
    fused, ir, vis = _images(4, shape=(1, 1, 32, 32))
    f, a, b = (x.ravel().astype(int) for x in (fused, ir, vis))
    expected = sum(sklearn.metrics.normalized_mutual_info_score(s, f, average_method='arithmetic') for s in (a, b))
    assert normalized_mutual_information(*tensors(fused, ir, vis)).item() == pytest.approx(expected, rel=1e-10)


def test_identical_images_give_two_and_independent_ones_near_zero():
    ramp = torch.arange(256.).view(1, 1, 16, 16)
    assert normalized_mutual_information(ramp, ramp, ramp).item() == pytest.approx(2.0, abs=1e-12)
    # Chequerboard fused, sources constant along the other axis: statistically independent, MI = 0.
    f = (torch.arange(16.).view(1, 1, 4, 4) % 2) * 255
    a = torch.tensor([0., 0., 255., 255.]).view(1, 1, 1, 4).expand(1, 1, 4, 4).transpose(-1, -2).contiguous()
    assert normalized_mutual_information(f, a, a).item() == pytest.approx(0.0, abs=1e-12)


def test_constant_images():
    rng = np.random.default_rng(5)
    fused, ir, vis = tensors(*_images(5, shape=(1, 1, 12, 12)))
    const = torch.full_like(fused, 37.)
    # One constant source is fine: MI with it is 0, H(fused) > 0.
    value = normalized_mutual_information(fused, const, vis).item()
    assert value == pytest.approx(normalized_mutual_information(fused, vis, vis).item() / 2, rel=1e-12)
    with pytest.raises(ValueError, match='`ir` and `fused` are both constant in image 0: NMI is undefined'):
        normalized_mutual_information(const, const, vis)
    # MEFB: normalize1 divides by zero for a constant non-zero image; an all-zero image passes unchanged.
    with pytest.raises(ValueError, match='`ir` is constant \\(37\\) in image 0: MEFB normalize1'):
        normalized_mutual_information_mefb(fused, const, vis)
    zero = torch.zeros_like(fused)
    assert normalized_mutual_information_mefb(fused, zero, vis).item() == pytest.approx(value, rel=1e-12)
    with pytest.raises(ValueError, match='`vis` and `fused` are both constant'):
        normalized_mutual_information_mefb(zero, fused, zero)
    del rng


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16), scale=st.sampled_from([1.0, 0.5, 0.25]))
def test_symmetric_in_sources_bounded_and_mefb_scale_invariant(seed, scale):
    fused, ir, vis = tensors(*_images(seed, shape=(1, 1, 9, 11)))
    value = normalized_mutual_information(fused, ir, vis)
    torch.testing.assert_close(normalized_mutual_information(fused, vis, ir), value, rtol=1e-12, atol=0)
    assert 0 <= value.item() <= 2 + 1e-12
    # The min-max stretch makes MEFB's NMI invariant to scaling by a power of two (exact in floating point).
    torch.testing.assert_close(normalized_mutual_information_mefb(fused * scale, ir * scale, vis),
                               normalized_mutual_information_mefb(fused, ir, vis), rtol=1e-12, atol=0)
