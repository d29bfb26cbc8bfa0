"""MS-SSIM: Wang's 5-scale MS-SSIM (default) and Ma's MEF-MS-SSIM (Tang's conventions) against transcriptions."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from metrics import get_metric
from metrics.ms_ssim import downsample, mef_ms_ssim, ms_ssim
from tests.metrics.fmi_reference import tno10_crop
from tests.metrics.mefb_reference import fspecial_gaussian
from tests.metrics.test_mef_ssim import mef_ssim_m

# Every test runs through the fused CPU kernels and through the torch form.
pytestmark = pytest.mark.usefixtures('cpu_backend')

WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
# GNU Octave 7.3.0 (image 2.14.0) running analysis_ms_ssim.m (Linfeng-Tang/Image-Fusion @ 53f5542f, identical at
# dba5bf3d and as MEFB @ 9e185bf mef_ms_ssim.m) as analysis_ms_ssim(cat(3, ir, vis), fused) on TNO #10 (SeAFusion
# fused, 0-255 gray doubles): the 48 x 48 crops of fmi_reference.CROPS and the whole image (docs/metrics.md:
# 0.898837), printed with %.17g.
OCTAVE = {'c1': 0.68263498557852065, 'c2': 0.99136801970839727, None: 0.89883683938909587}


def imfilter_mean2_decimate(x):
    """imfilter(x, ones(2)/4, 'symmetric', 'same') then x(1:2:end, 1:2:end)."""
    padded = np.pad(x, ((0, 1), (0, 1)), mode='symmetric')
    return scipy.signal.correlate2d(padded, np.ones((2, 2)) / 4, 'valid')[::2, ::2]


def ssim_index_new(img1, img2, k=(0.01, 0.03)):
    """Wang's ssim_index_new.m (used by msssim.m): mean SSIM and mean cs."""
    win = fspecial_gaussian()
    c1, c2 = (k[0] * 255) ** 2, (k[1] * 255) ** 2

    def filt(x):
        return scipy.signal.correlate2d(x, win, 'valid')
    mu1, mu2 = filt(img1), filt(img2)
    s11 = filt(img1 * img1) - mu1 * mu1
    s22 = filt(img2 * img2) - mu2 * mu2
    s12 = filt(img1 * img2) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 * mu1 + mu2 * mu2 + c1) * (s11 + s22 + c2))
    cs_map = (2 * s12 + c2) / (s11 + s22 + c2)
    return ssim_map.mean(), cs_map.mean()


def msssim_m(img1, img2):
    """Wang's msssim.m, 'product' method, with pytorch-msssim's clipping of negative terms at 0."""
    terms = []
    for level in range(5):
        mssim, mcs = ssim_index_new(img1, img2)
        terms.append(max(mcs if level < 4 else mssim, 0))
        img1, img2 = imfilter_mean2_decimate(img1), imfilter_mean2_decimate(img2)
    return float(np.prod(np.array(terms) ** np.array(WEIGHTS)))


def pytorch_msssim_style(x, y):
    """pytorch-msssim's ms_ssim(data_range=255) for images whose sides stay even: separable 1-D Gaussian 'valid'
    filtering, relu on cs and ssim, avg_pool2d(2) between scales."""
    coords = np.arange(11) - 5.0
    g = np.exp(-coords ** 2 / (2 * 1.5 ** 2))
    g /= g.sum()

    def filt(a):
        a = np.apply_along_axis(lambda v: np.convolve(v, g, 'valid'), 0, a)
        return np.apply_along_axis(lambda v: np.convolve(v, g, 'valid'), 1, a)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mcs = []
    for level in range(5):
        mu1, mu2 = filt(x), filt(y)
        s11, s22, s12 = filt(x * x) - mu1 ** 2, filt(y * y) - mu2 ** 2, filt(x * y) - mu1 * mu2
        cs_map = (2 * s12 + c2) / (s11 + s22 + c2)
        ssim_map = (2 * mu1 * mu2 + c1) / (mu1 ** 2 + mu2 ** 2 + c1) * cs_map
        if level < 4:
            mcs.append(max(cs_map.mean(), 0))
            assert x.shape[0] % 2 == 0 and x.shape[1] % 2 == 0
            x = x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3))
            y = y.reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))
    return float(np.prod(np.array(mcs + [max(ssim_map.mean(), 0)]) ** np.array(WEIGHTS)))


def _images(seed, shape):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:shape[2], 0:shape[3]]
    ir = np.clip(120 + 80 * np.sin(xx / 7.0) * np.cos(yy / 9.0) + rng.normal(0, 15, shape), 0, 255).round()
    vis = np.clip(110 + 70 * np.cos(yy / 5.0) + rng.normal(0, 25, shape), 0, 255).round()
    fused = np.clip(0.6 * ir + 0.5 * vis + rng.normal(0, 8, shape) - 15, 0, 255).round()
    return fused, ir, vis


@pytest.mark.parametrize('shape', [(1, 1, 176, 176), (2, 1, 181, 190)])
def test_default_matches_msssim_m(shape):
    fused, ir, vis = _images(0, shape)
    expected = [(msssim_m(f[0], a[0]) + msssim_m(f[0], b[0])) / 2 for f, a, b in zip(fused, ir, vis)]
    np.testing.assert_allclose(ms_ssim(*map(torch.from_numpy, (fused, ir, vis))).numpy(), expected, rtol=1e-12)


def test_default_equals_pytorch_msssim_on_even_sizes():
    fused, ir, vis = _images(1, (1, 1, 192, 208))       # 192x208 -> 96x104 -> 48x52 -> 24x26 -> 12x13
    expected = (pytorch_msssim_style(fused[0, 0], ir[0, 0]) + pytorch_msssim_style(fused[0, 0], vis[0, 0])) / 2
    assert ms_ssim(*map(torch.from_numpy, (fused, ir, vis))).item() == pytest.approx(expected, rel=1e-12)


def test_default_definition_facts():
    fused, ir, vis = map(torch.from_numpy, _images(2, (1, 1, 176, 180)))
    assert ms_ssim(fused, fused, fused).item() == 1.0
    torch.testing.assert_close(ms_ssim(fused, ir, vis), ms_ssim(fused, vis, ir), rtol=1e-14, atol=0)
    # The mean over the sources, not the sum.
    both = (ms_ssim(fused, ir, ir) + ms_ssim(fused, vis, vis)) / 2
    torch.testing.assert_close(ms_ssim(fused, ir, vis), both, rtol=1e-14, atol=0)
    # Negative contrast-structure terms are clipped to 0 (pytorch-msssim), so an inverted image scores 0.
    noise = torch.randint(0, 2, (1, 1, 176, 176), generator=torch.Generator().manual_seed(0)).double() * 255
    assert ms_ssim(255 - noise, noise, noise).item() == 0.0
    flat = torch.full((1, 1, 176, 176), 90.)
    assert ms_ssim(flat, flat, flat).item() == 1.0


def test_downsample_is_matlab_mean2_decimate():
    for h, w in [(6, 8), (7, 9), (5, 4)]:
        x = np.random.default_rng(h).integers(0, 256, (h, w)).astype(np.float64)
        np.testing.assert_array_equal(downsample(torch.from_numpy(x)[None, None])[0, 0].numpy(),
                                      imfilter_mean2_decimate(x))


def analysis_ms_ssim_m(seq, f):
    """analysis_ms_ssim.m: MEF-SSIM at 3 scales, weights [0.0448 0.2856 0.3001] / sum, prod(Q .^ w)."""
    w = np.array(WEIGHTS[:3]) / sum(WEIGHTS[:3])
    q = []
    for level in range(3):
        q.append(mef_ssim_m(seq, f))
        if level < 2:
            seq = np.stack([imfilter_mean2_decimate(seq[:, :, i]) for i in range(seq.shape[2])], axis=2)
            f = imfilter_mean2_decimate(f)
    return float(np.prod(np.array(q) ** w))


@pytest.mark.parametrize('shape', [(1, 1, 44, 46), (1, 1, 47, 45)])
def test_mef_ms_ssim_matches_transcription(shape):
    fused, ir, vis = _images(3, shape)
    expected = analysis_ms_ssim_m(np.stack([ir[0, 0], vis[0, 0]], axis=2), fused[0, 0])
    assert mef_ms_ssim(*map(torch.from_numpy, (fused, ir, vis))).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize('crop', ['c1', 'c2', None])
def test_tang_conventions_match_octave_on_tno10(data_root, crop):
    fused, ir, vis = tno10_crop(data_root, crop)
    for convention in ('tang2022', 'tang2023'):
        spec = get_metric('ms_ssim', convention)
        assert spec.fn is mef_ms_ssim and spec.scale == 1
    assert mef_ms_ssim(fused, ir, vis).item() == pytest.approx(OCTAVE[crop], rel=1e-12)


def test_errors():
    img = torch.rand(1, 1, 175, 300, dtype=torch.float64) * 255
    with pytest.raises(ValueError, match=r'H, W >= 176'):
        ms_ssim(img, img, img)
    with pytest.raises(ValueError, match=r'H, W >= 44'):
        mef_ms_ssim(img[..., :43, :], img[..., :43, :], img[..., :43, :])
    noise = torch.randint(0, 2, (1, 1, 48, 48), generator=torch.Generator().manual_seed(1)).double() * 255
    with pytest.raises(ValueError, match='MEF-SSIM is negative'):
        mef_ms_ssim(255 - noise, noise, noise)
