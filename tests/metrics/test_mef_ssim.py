"""MEF-SSIM against a per-window numpy transcription of Ma's mef_ssim.m and GNU Octave values."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.mef_ssim import box_sum_valid, mef_ssim
from tests.metrics.fmi_reference import tno10_crop
from tests.metrics.mefb_reference import fspecial_gaussian

# Every test runs through the fused CPU kernels and through the torch form.
pytestmark = pytest.mark.usefixtures('cpu_backend')

EPS = np.finfo(np.float64).eps
# GNU Octave 7.3.0 (image 2.14.0) running mef_ssim.m (Linfeng-Tang/Image-Fusion @ 53f5542f, identical at dba5bf3d
# and in MEFB @ 9e185bf) as mef_ssim(cat(3, ir, vis), fused) on TNO #10 (SeAFusion fused, 0-255 gray doubles):
# the 48 x 48 crops of fmi_reference.CROPS and the whole 640 x 480 image, printed with %.17g.
OCTAVE = {'c1': 0.84362818292432007, 'c2': 0.97024107445355079, None: 0.89114814057465586}


def mef_ssim_m(seq, f, k=0.03):
    """mef_ssim.m, literally: seq (H, W, K) and f (H, W) 0-255 doubles."""
    window = fspecial_gaussian()
    s1, s2, s3 = seq.shape
    w = 11
    bd = w // 2
    s_window = np.ones((w, w)) / w ** 2
    mu = np.zeros((s1 - 2 * bd, s2 - 2 * bd, s3))
    ed = np.zeros_like(mu)
    for i in range(s3):
        img = seq[:, :, i]
        mu[:, :, i] = scipy.signal.correlate2d(img, s_window, 'valid')
        sigma_sq = scipy.signal.correlate2d(img * img, s_window, 'valid') - mu[:, :, i] ** 2
        ed[:, :, i] = np.sqrt(np.maximum(w ** 2 * sigma_sq, 0)) + 0.001
    r_map = np.zeros(mu.shape[:2])
    for i in range(bd, s1 - bd):
        for j in range(bd, s2 - bd):
            vecs = seq[i - bd:i + bd + 1, j - bd:j + bd + 1, :].reshape(w * w, s3, order='F')
            den = sum(np.linalg.norm(vecs[:, kk] - mu[i - bd, j - bd, kk]) for kk in range(s3))
            total = vecs.sum(axis=1)
            num = np.linalg.norm(total - total.mean())
            r_map[i - bd, j - bd] = (num + EPS) / (den + EPS)
    r_map[r_map > 1] = 1 - EPS
    r_map[r_map < 0] = EPS
    p = np.minimum(np.tan(math.pi / 2 * r_map), 10)
    w_map = (ed / w) ** p[:, :, None] + EPS
    w_map = w_map / w_map.sum(axis=2, keepdims=True)
    max_ed = ed.max(axis=2)
    c = (k * 255) ** 2
    q_map = np.zeros_like(r_map)
    for i in range(bd, s1 - bd):
        for j in range(bd, s2 - bd):
            blocks = seq[i - bd:i + bd + 1, j - bd:j + bd + 1, :]
            r_block = np.zeros((w, w))
            for kk in range(s3):
                weight, mean, strength = w_map[i - bd, j - bd, kk], mu[i - bd, j - bd, kk], ed[i - bd, j - bd, kk]
                r_block += weight * (blocks[:, :, kk] - mean) / strength
            if np.linalg.norm(r_block) > 0:
                r_block = r_block / np.linalg.norm(r_block) * max_ed[i - bd, j - bd]
            f_block = f[i - bd:i + bd + 1, j - bd:j + bd + 1]
            mu1, mu2 = np.sum(window * r_block), np.sum(window * f_block)
            s11 = np.sum(window * (r_block - mu1) ** 2)
            s22 = np.sum(window * (f_block - mu2) ** 2)
            s12 = np.sum(window * (r_block - mu1) * (f_block - mu2))
            q_map[i - bd, j - bd] = (2 * s12 + c) / (s11 + s22 + c)
    return q_map.mean()


def _images(seed, shape=(2, 1, 15, 17)):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:shape[2], 0:shape[3]]
    ir = np.clip(120 + 80 * np.sin(xx / 3.0) + rng.normal(0, 20, shape), 0, 255).round()
    vis = np.clip(100 + 60 * np.cos(yy / 2.0) + rng.normal(0, 30, shape), 0, 255).round()
    fused = np.clip(0.5 * ir + 0.6 * vis + rng.normal(0, 10, shape) - 20, 0, 255).round()
    return fused, ir, vis


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_matches_mef_ssim_m_transcription(seed):
    fused, ir, vis = _images(seed)
    expected = [mef_ssim_m(np.stack([a[0], b[0]], axis=2), f[0]) for f, a, b in zip(fused, ir, vis)]
    np.testing.assert_allclose(mef_ssim(*map(torch.from_numpy, (fused, ir, vis))).numpy(), expected, rtol=1e-12)


def test_flat_sources():
    """Where every source is flat the reference rescales rounding noise; the effect is below 1e-8 (C = 58.5)."""
    fused, ir, vis = _images(3, shape=(1, 1, 16, 16))
    ir[..., :, :13], vis[..., :, :13] = 40., 200.           # both flat over the first 3 window columns
    expected = mef_ssim_m(np.stack([ir[0, 0], vis[0, 0]], axis=2), fused[0, 0])
    assert mef_ssim(*map(torch.from_numpy, (fused, ir, vis))).item() == pytest.approx(expected, rel=1e-8)
    flat = torch.full((1, 1, 12, 12), 50.)
    assert mef_ssim(flat, flat, flat).item() == pytest.approx(1, abs=1e-12)   # r = 0, sigma_f = 0: q = C / C
    noise = torch.from_numpy(fused[..., :12, :12])
    var = noise[0, 0].var(correction=0).item()
    assert 0 < mef_ssim(noise, flat, flat).item() < 1 and math.isfinite(var)


@pytest.mark.parametrize('crop', ['c1', 'c2', None])
def test_matches_octave_on_tno10(data_root, crop):
    fused, ir, vis = tno10_crop(data_root, crop)
    for convention in ('tang2022', 'tang2023'):       # the reference code is the textbook definition
        spec = get_metric('mef_ssim', convention)
        assert spec.fn is mef_ssim and spec.scale == 1
    assert get_metric('ssim', 'tang2022').fn is mef_ssim             # Tang 2022's "SSIM" column
    assert mef_ssim(fused, ir, vis).item() == pytest.approx(OCTAVE[crop], rel=1e-12)
    if crop is None:
        # Tang 2022's "SSIM" column is MEF-SSIM: 0.8911 on TNO #10 (docs/metrics.md).
        assert get_metric('ssim', 'tang2022')(fused, ir, vis).item() == pytest.approx(OCTAVE[None], rel=1e-12)


def test_box_sums_are_exact_on_integers():
    x = torch.rand(2, 3, 14, 15, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 255
    ints = x.round()
    sums = np.stack([[scipy.signal.correlate2d(c, np.ones((11, 11)), 'valid') for c in img] for img in ints.numpy()])
    np.testing.assert_array_equal(box_sum_valid(ints).numpy(), sums)          # exact on integers


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2 ** 31))
def test_symmetric_and_bounded(seed):
    fused, ir, vis = map(torch.from_numpy, _images(seed, shape=(1, 1, 13, 14)))
    value = mef_ssim(fused, ir, vis)
    torch.testing.assert_close(mef_ssim(fused, vis, ir), value, rtol=1e-12, atol=0)
    assert -1 <= value.item() <= 1


def test_source_itself_scores_near_one():
    img = torch.from_numpy(_images(4, shape=(1, 1, 20, 20))[1])
    assert mef_ssim(img, img, img).item() == pytest.approx(1, abs=1e-6)


def test_rejects_small_images():
    img = torch.rand(1, 1, 10, 30, dtype=torch.float64)
    with pytest.raises(ValueError, match=r'H, W >= 11'):
        mef_ssim(img, img, img)
