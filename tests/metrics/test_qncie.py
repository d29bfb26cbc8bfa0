"""Qncie against a numpy transcription of MEFB metricsQncie.m (NCC.m + eig) and closed-form cases."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.qncie import nonlinear_correlation_information_entropy as qncie
from metrics.qncie import nonlinear_correlation_information_entropy_mefb as qncie_mefb
from tests.metrics.mefb_reference import histogram_entropies, normalize1
from tests.metrics.metric_inputs import tensors

# Every test runs through the CPU kernels (histograms, rounding) and through the torch forms.
pytestmark = pytest.mark.usefixtures('cpu_backend')


def _ncc(im1, im2):
    """NCC.m: mutual information with log base 256 (entropies in bits / 8)."""
    hx, hy, hxy = histogram_entropies(im1, im2)
    return hx / 8 + hy / 8 - hxy / 8


def mefb_qncie(im1, im2, fused):
    im1, im2, fused = normalize1(im1), normalize1(im2), normalize1(fused)
    xy, xf, yf = _ncc(im1, im2), _ncc(im1, fused), _ncc(im2, fused)
    r = np.linalg.eigvals(np.array([[1, xy, xf], [xy, 1, yf], [xf, yf, 1]])).real
    hr = -np.sum(r * np.log2(r / 3) / 3) / np.log2(256)
    return 1 - hr


def _images(seed, shape=(2, 1, 15, 22), levels=256):
    rng = np.random.default_rng(seed)
    ir = rng.integers(0, levels, size=shape)
    vis = np.clip(levels - 1 - ir + rng.integers(-(levels // 8), levels // 8 + 1, size=shape), 0, levels - 1)
    fused = np.maximum(ir, vis)
    return [a.astype(np.float64) for a in (fused, ir, vis)]


@pytest.mark.parametrize('seed, levels', [(0, 256), (1, 16), (2, 4)])
def test_matches_mefb_transcription(seed, levels):
    fused, ir, vis = _images(seed, levels=levels)
    expected = [mefb_qncie(a[0], b[0], f[0]) for f, a, b in zip(fused, ir, vis)]
    np.testing.assert_allclose(qncie_mefb(*tensors(fused, ir, vis)).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(get_metric('qncie', 'mefb')(*tensors(fused, ir, vis)).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(qncie(*tensors(fused, ir, vis)).numpy(), expected, rtol=1e-12)


def test_mefb_stretch_on_non_integer_values():
    rng = np.random.default_rng(3)
    fused, ir, vis = (rng.uniform(0, 40, size=(1, 1, 12, 12)) for _ in range(3))
    expected = mefb_qncie(ir[0, 0], vis[0, 0], fused[0, 0])
    assert qncie_mefb(*tensors(fused, ir, vis)).item() == pytest.approx(expected, rel=1e-12)


def test_closed_forms_and_degenerate_inputs():
    # Three constant images: R = I, eigenvalues 1, 1, 1 -> 1 - log_256(3).
    const = torch.full((1, 1, 8, 8), 9.)
    assert qncie(const, const, const).item() == pytest.approx(1 - math.log(3, 256), rel=1e-12)
    with pytest.raises(ValueError, match='`fused` is constant \\(9\\) in image 0: MEFB normalize1'):
        qncie_mefb(const, const, const)
    zero = torch.zeros_like(const)
    assert qncie_mefb(zero, zero, zero).item() == pytest.approx(1 - math.log(3, 256), rel=1e-12)
    # One image everywhere with all 256 levels once: R is all ones (eigenvalues 3, 0, 0), 0 log 0 = 0 gives 1;
    # MEFB's r .* log2(r / 3) is NaN there.
    ramp = torch.arange(256.).view(1, 1, 16, 16)
    assert qncie(ramp, ramp, ramp).item() == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match='NCC matrix of image 0 is singular'):
        qncie_mefb(ramp, ramp, ramp)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16))
def test_permutation_invariant_and_bounded(seed):
    fused, ir, vis = tensors(*_images(seed, shape=(1, 1, 10, 9)))
    value = qncie(fused, ir, vis)
    assert 1 - math.log(3, 256) - 1e-12 <= value.item() <= 1
    # R's eigenvalues do not depend on the order of the three images.
    for order in [(ir, fused, vis), (vis, ir, fused)]:
        torch.testing.assert_close(qncie(*order), value, rtol=1e-12, atol=1e-15)
