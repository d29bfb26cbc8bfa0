"""SSIM against independent references: scikit-image (Gaussian and CDDFuse's uniform settings) and numpy/scipy
transcriptions of VIFB's metricsSsim.m and MATLAB's ssim (as Tang 2023 calls it)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import structural_similarity

from metrics import get_metric
from metrics.ssim import _uniform_filter_scipy, ssim, ssim_matlab, ssim_skimage, ssim_vifb
from tests.metrics.mefb_reference import fspecial_gaussian, ssim_maps
from tests.metrics.metric_inputs import wavy_triple


def _images(seed: int, shape=(2, 1, 40, 52), smooth: bool = True) -> tuple[torch.Tensor, ...]:
    # A flat corner in each image: where the tiny constants matter.
    return wavy_triple(seed, shape, amplitude=100, periods=(2, 9), noise=(2, 30), smooth=smooth, flat_corner=True)


def vifb_ssim_transcription(img1: np.ndarray, fused: np.ndarray) -> float:
    """metricsSsim.m's ssim(img1, fused): filter2 'valid' with fspecial('gaussian', 11, 1.5), L = 255, mean2."""
    return ssim_maps(img1, fused).ssim.mean()


def matlab_ssim_transcription(a: np.ndarray, ref: np.ndarray) -> float:
    """MATLAB IPT ssim(A, ref) on double images: DynamicRange 1, imfilter(.., 'conv', 'replicate'), full map."""
    w = fspecial_gaussian(11, 1.5)
    c1, c2 = 0.01 ** 2, 0.03 ** 2

    def filt(x):
        return scipy.ndimage.convolve(x, w, mode='nearest')
    mux2, muy2 = filt(a), filt(ref)
    muxy = mux2 * muy2
    mux2, muy2 = mux2 ** 2, muy2 ** 2
    sigmax2 = filt(a ** 2) - mux2
    sigmay2 = filt(ref ** 2) - muy2
    sigmaxy = filt(a * ref) - muxy
    num = (2 * muxy + c1) * (2 * sigmaxy + c2)
    den = (mux2 + muy2 + c1) * (sigmax2 + sigmay2 + c2)
    return (num / den).mean()


def _per_image(fn, f, a, b):
    return np.array([[fn(f[i, 0].numpy(), x[i, 0].numpy()) for x in (a, b)] for i in range(f.shape[0])])


@pytest.mark.parametrize('seed, shape', [(0, (2, 1, 40, 52)), (1, (1, 1, 11, 11)), (2, (3, 1, 64, 33))])
def test_default_matches_skimage_gaussian_and_vifb_transcription(seed, shape):
    f, a, b = _images(seed, shape)
    sk = _per_image(lambda x, y: structural_similarity(x, y, gaussian_weights=True, sigma=1.5,
                                                       use_sample_covariance=False, data_range=255), f, a, b)
    np.testing.assert_allclose(ssim(f, a, b).numpy(), sk.mean(axis=1), rtol=1e-10)
    vifb = _per_image(lambda x, y: vifb_ssim_transcription(y, x), f, a, b)
    np.testing.assert_allclose(ssim_vifb(f, a, b).numpy(), vifb.sum(axis=1), rtol=1e-10)
    np.testing.assert_allclose(get_metric('ssim', 'vifb')(f, a, b).numpy(), vifb.sum(axis=1), rtol=1e-10)


@pytest.mark.parametrize('seed, shape', [(3, (2, 1, 40, 52)), (4, (1, 1, 5, 9))])
def test_tang2023_matches_matlab_ssim_transcription(seed, shape):
    f, a, b = _images(seed, shape)
    expected = _per_image(matlab_ssim_transcription, f, a, b)
    np.testing.assert_allclose(ssim_matlab(f, a, b).numpy(), 0.5 * expected[:, 0] + 0.5 * expected[:, 1],
                               rtol=1e-9)
    np.testing.assert_allclose(get_metric('ssim', 'tang2023')(f, a, b).numpy(), expected.mean(axis=1), rtol=1e-9)


@pytest.mark.parametrize('shape', [(2, 1, 40, 300), (1, 1, 7, 7), (1, 2, 9, 130)])
def test_uniform_filter_is_scipys_bit_for_bit(cpu_backend, shape):
    x = (np.random.default_rng(1).random(shape) * 255).astype(np.float32) ** 2     # float32 values, many scales
    got = _uniform_filter_scipy(torch.from_numpy(x), 7).numpy()
    expected = np.stack([[scipy.ndimage.uniform_filter(plane, 7) for plane in image] for image in x])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize('seed, shape', [(5, (2, 1, 40, 52)), (6, (1, 1, 7, 7)), (7, (2, 1, 31, 64))])
def test_cddfuse_is_skimage_float32_with_data_range_2(seed, shape, cpu_backend):
    f, a, b = _images(seed, shape)
    sk = _per_image(lambda x, y: structural_similarity(x.astype(np.float32), y.astype(np.float32), data_range=2),
                    f, a, b)
    np.testing.assert_allclose(ssim_skimage(f, a, b).numpy(), sk.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(get_metric('ssim', 'cddfuse')(f, a, b).numpy(), sk.sum(axis=1), rtol=1e-12)
    # The float32 computation is what makes the number: a float64 skimage run differs in flat regions.
    sk64 = _per_image(lambda x, y: structural_similarity(x, y, data_range=2), f, a, b).sum(axis=1)
    assert not np.allclose(sk64, sk.sum(axis=1), rtol=1e-7, atol=0)


def test_identity_and_constant_images():
    f, a, b = _images(8, (1, 1, 24, 24))
    for fn in (ssim, ssim_matlab):
        assert fn(a, a, a).item() == pytest.approx(1.0, abs=1e-12)
    for fn in (ssim_vifb, ssim_skimage):
        assert fn(a, a, a).item() == pytest.approx(2.0, abs=1e-6)
    const = torch.full_like(a, 77.)
    for convention in ('default', 'vifb', 'tang2023', 'cddfuse'):
        spec = get_metric('ssim', convention)
        assert torch.isfinite(spec(const, a, b)).all() and torch.isfinite(spec(f, const, const)).all()
    assert ssim(const, const, const).item() == 1.0


def test_window_size_errors():
    f, a, b = _images(9, (1, 1, 10, 30))
    with pytest.raises(ValueError, match=r'Expected `fused` with N >= 1 and H, W >= 11'):
        ssim(f, a, b)
    with pytest.raises(ValueError, match=r'H, W >= 7'):
        ssim_skimage(f[..., :6, :], a[..., :6, :], b[..., :6, :])
    assert torch.isfinite(ssim_matlab(f[..., :2, :3], a[..., :2, :3], b[..., :2, :3])).all()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 31))
def test_property_bounded_and_symmetric_in_its_two_arguments(seed):
    f, a, _ = _images(seed % 10_000, (1, 1, 24, 28), smooth=bool(seed % 2))
    value = ssim(f, a, a)
    assert -1 <= value.item() <= 1
    torch.testing.assert_close(ssim(a, f, f), value, rtol=1e-12, atol=1e-12)   # SSIM(F, X) = SSIM(X, F)
