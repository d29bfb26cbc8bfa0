"""Qp (Zhao, phase congruency) against a numpy transcription of MEFB metricsQp.m and its myphasecong3."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import correlate2d

import metrics.qp
from metrics import get_metric
from metrics.qp import phase_congruency, phase_congruency_metric
from tests.metrics.metric_inputs import tensors


def _lowpass(rows, cols, cutoff=0.45, n=15):
    x = (np.ones((rows, 1)) * np.arange(1, cols + 1)[None, :] - (cols // 2 + 1)) / cols
    y = (np.arange(1, rows + 1)[:, None] * np.ones((1, cols)) - (rows // 2 + 1)) / rows
    return np.fft.fftshift(1.0 / (1.0 + (np.sqrt(x ** 2 + y ** 2) / cutoff) ** (2 * n)))


def myphasecong3(im, nscale=4, norient=6, min_wave=3, mult=2.1, sigma_onf=0.55, dtheta_on_sigma=1.2, k=2.0,
                 cut_off=0.5, g=10):
    """Line-by-line transcription of MEFB's myphasecong3 (filters inverted with ifft2, median, loops)."""
    eps = 1e-4
    theta_sigma = math.pi / norient / dtheta_on_sigma
    rows, cols = im.shape
    imagefft = np.fft.fft2(im)
    zero = np.zeros((rows, cols))
    total_energy, total_sum_an, covx2, covy2, covxy = zero, zero, zero, zero, zero
    xr = (np.arange(cols) - (cols - 1) / 2) / (cols - 1) if cols % 2 else (np.arange(cols) - cols / 2) / cols
    yr = (np.arange(rows) - (rows - 1) / 2) / (rows - 1) if rows % 2 else (np.arange(rows) - rows / 2) / rows
    x, y = np.meshgrid(xr, yr)
    radius = np.sqrt(x ** 2 + y ** 2)
    radius[rows // 2, cols // 2] = 1
    theta = np.arctan2(-y, x)
    radius, theta = np.fft.ifftshift(radius), np.fft.ifftshift(theta)
    sintheta, costheta = np.sin(theta), np.cos(theta)
    lp = _lowpass(rows, cols)
    log_gabor = []
    for s in range(nscale):
        fo = 1.0 / (min_wave * mult ** s)
        lg = np.exp(-(np.log(radius / fo)) ** 2 / (2 * np.log(sigma_onf) ** 2)) * lp
        lg[0, 0] = 0
        log_gabor.append(lg)
    for o in range(norient):
        angl = o * math.pi / norient
        ds = sintheta * math.cos(angl) - costheta * math.sin(angl)
        dc = costheta * math.cos(angl) + sintheta * math.sin(angl)
        spread = np.exp(-np.abs(np.arctan2(ds, dc)) ** 2 / (2 * theta_sigma ** 2))
        sum_e, sum_o, sum_an, energy = zero, zero, zero, zero
        eo, ifft_filters = [], []
        for s in range(nscale):
            filt = log_gabor[s] * spread
            ifft_filters.append(np.real(np.fft.ifft2(filt)) * math.sqrt(rows * cols))
            eo.append(np.fft.ifft2(imagefft * filt))
            an = np.abs(eo[s])
            sum_an, sum_e, sum_o = sum_an + an, sum_e + eo[s].real, sum_o + eo[s].imag
            if s == 0:
                em_n, max_an = np.sum(filt ** 2), an
            else:
                max_an = np.maximum(max_an, an)
        x_energy = np.sqrt(sum_e ** 2 + sum_o ** 2) + eps
        mean_e, mean_o = sum_e / x_energy, sum_o / x_energy
        for s in range(nscale):
            e, od = eo[s].real, eo[s].imag
            energy = energy + e * mean_e + od * mean_o - np.abs(e * mean_o - od * mean_e)
        noise_power = -np.median(np.abs(eo[0]) ** 2) / math.log(0.5) / em_n
        est_sum_an2 = sum(f ** 2 for f in ifft_filters).sum()
        est_sum_ai_aj = sum(ifft_filters[i] * ifft_filters[j] for i in range(nscale) for j in range(i + 1, nscale))
        tau = math.sqrt((2 * noise_power * est_sum_an2 + 4 * noise_power * est_sum_ai_aj.sum()) / 2)
        t = (tau * math.sqrt(math.pi / 2) + k * math.sqrt((2 - math.pi / 2) * tau ** 2)) / 1.7
        energy = np.maximum(energy - t, zero)
        weight = 1.0 / (1 + np.exp((cut_off - sum_an / (max_an + eps) / nscale) * g))
        total_sum_an, total_energy = total_sum_an + sum_an, total_energy + weight * energy
        pc_o = weight * energy / sum_an
        covx, covy = pc_o * math.cos(angl), pc_o * math.sin(angl)
        covx2, covy2, covxy = covx2 + covx ** 2, covy2 + covy ** 2, covxy + covx * covy
    pc = total_energy / (total_sum_an + eps)
    covx2, covy2, covxy = covx2 / (norient / 2), covy2 / (norient / 2), covxy / norient
    denom = np.sqrt(covxy ** 2 + (covx2 - covy2) ** 2) + eps
    return pc, (covy2 + covx2 + denom) / 2, (covy2 + covx2 - denom) / 2


def _gauss11():
    r = np.arange(11) - 5
    w = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5 ** 2))
    return w / w.sum()


def _correlation(im1, im2, im_max, imf, mask1, mask2, mask3):
    w, c = _gauss11(), 1e-4
    f = lambda x: correlate2d(x, w, mode='same')  # noqa: E731  (filter2 'same', zero padding)
    im1, im2, im_max = mask1 * im1, mask2 * im2, mask3 * im_max
    mu1, mu2, muf, mum = f(im1), f(im2), f(imf), f(im_max)
    s1, s2 = f(im1 * im1) - mu1 ** 2, f(im2 * im2) - mu2 ** 2
    sm, sf = f(im_max * im_max) - mum ** 2, f(imf * imf) - muf ** 2
    s1f, s2f, smf = f(im1 * imf) - mu1 * muf, f(im2 * imf) - mu2 * muf, f(im_max * imf) - mum * muf
    res = np.zeros((3,) + im1.shape)
    res[0][mask1] = ((s1f + c) / (np.sqrt(np.abs(s1 * sf)) + c))[mask1]
    res[1][mask2] = ((s2f + c) / (np.sqrt(np.abs(s2 * sf)) + c))[mask2]
    res[2][mask3] = ((smf + c) / (np.sqrt(np.abs(sm * sf)) + c))[mask3]
    return res.max(axis=0).sum() / mask3.sum()


def mefb_qp(im1, im2, fused):
    (pc1, big1, small1), (pc2, big2, small2), (pcf, bigf, smallf) = (myphasecong3(x) for x in (im1, im2, fused))
    mask = pc1 > pc2
    pick = lambda a, b: mask * a + (~mask) * b  # noqa: E731
    m1, m2, m3 = pc1 > 0.1, pc2 > 0.1, pick(pc1, pc2) > 0.1
    return (_correlation(pc1, pc2, pick(pc1, pc2), pcf, m1, m2, m3)
            * _correlation(big1, big2, pick(big1, big2), bigf, m1, m2, m3)
            * _correlation(small1, small2, pick(small1, small2), smallf, m1, m2, m3))


def _images(seed, shape):
    rng = np.random.default_rng(seed)
    h, w = shape[-2:]
    yy, xx = np.mgrid[:h, :w]
    blobs = 120 + 100 * np.sin(xx / 3.0 + seed) * np.cos(yy / 4.0)
    ir = np.clip(blobs + rng.normal(0, 20, size=shape), 0, 255).round()
    vis = np.clip(255 - blobs * 0.6 + rng.normal(0, 30, size=shape) + (xx > w // 2) * 40, 0, 255).round()
    fused = np.clip(0.5 * ir + 0.5 * vis + rng.normal(0, 5, size=shape), 0, 255).round()
    return fused, ir, vis


@pytest.mark.parametrize('shape', [(24, 32), (25, 31)])   # the grid and lowpass quirks differ for odd sizes
def test_phase_congruency_matches_transcription(shape, cpu_backend):
    image = _images(0, (1, 1) + shape)[1]
    ours = phase_congruency(torch.from_numpy(image))
    for got, want in zip(ours, myphasecong3(image[0, 0])):
        np.testing.assert_allclose(got[0, 0].numpy(), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('seed, shape', [(1, (2, 1, 30, 36)), (2, (1, 1, 27, 33))])
def test_matches_mefb_transcription(seed, shape, cpu_backend):
    fused, ir, vis = _images(seed, shape)
    expected = [mefb_qp(a[0], b[0], f[0]) for f, a, b in zip(fused, ir, vis)]
    for fn in (phase_congruency_metric, get_metric('qp', 'mefb'), get_metric('qp')):
        np.testing.assert_allclose(fn(*tensors(fused, ir, vis)).numpy(), expected, rtol=1e-9)


def test_fused_kernels_equal_the_torch_form(monkeypatch):
    if not metrics._cpu_kernels.available():
        pytest.skip('numba is not installed')
    images = torch.cat(tensors(*_images(4, (2, 1, 61, 80))), dim=1)      # (2, 3, 61, 80): batched, odd height
    fast = phase_congruency(images)
    monkeypatch.setattr(metrics._pc_kernels, 'usable', lambda spectrum: False)
    for got, want in zip(fast, phase_congruency(images)):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)


def test_degenerate_inputs(monkeypatch):
    fused, ir, vis = tensors(*_images(3, (1, 1, 20, 20)))
    with pytest.raises(ValueError, match='`vis` is constant in image 0: its log-Gabor responses are all zero'):
        phase_congruency_metric(fused, ir, torch.full_like(vis, 3.))
    monkeypatch.setattr(metrics.qp, 'FEATURE_THRESHOLD', 2.0)   # no PC reaches it: the pixel count is 0
    with pytest.raises(ValueError, match='No pixel of `ir` or `vis` in image 0 has phase congruency above 2.0'):
        phase_congruency_metric(fused, ir, vis)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2 ** 16))
def test_contrast_invariant_and_symmetric(seed):
    fused, ir, vis = tensors(*_images(seed, (1, 1, 22, 26)))
    value = phase_congruency_metric(fused, ir, vis)
    # Phase congruency ignores contrast and offset up to its 1e-4 guards against 0/0: Qp barely changes.
    torch.testing.assert_close(phase_congruency_metric(fused * 0.5 + 10, ir, vis * 2), value, rtol=1e-4, atol=0)
    torch.testing.assert_close(phase_congruency_metric(fused, vis, ir), value, rtol=1e-9, atol=1e-12)


def test_matlab_median_kernel_numpy_and_torch_paths_agree(monkeypatch):
    from metrics import _cpu_kernels, _pc_kernels
    from metrics.qp import _matlab_median
    rng = np.random.default_rng(3)
    cases = [torch.from_numpy(rng.integers(0, 4, (3, n)).astype(float)) for n in (1, 2, 7, 10)]   # ties, odd, even
    big = rng.lognormal(0, 3, (2, 307_200))                        # a plane's squared amplitudes: many decades
    big[1, :1000] = -big[1, :1000]                                   # negative values and signed zeros order too
    big[1, 1000:1100] = -0.0
    cases += [torch.from_numpy(big), torch.from_numpy(np.round(big * 4) / 4), torch.from_numpy(big[1])]   # one row
    for x in cases:
        want = np.median(x.numpy(), axis=-1)
        if _cpu_kernels.available():
            assert _pc_kernels.middle_values(x) is not None
        np.testing.assert_array_equal(_matlab_median(x).numpy(), want)                              # kernel
        np.testing.assert_array_equal(_matlab_median(x.clone().requires_grad_()).detach().numpy(), want)   # torch
        with monkeypatch.context() as patch:
            patch.setattr(_cpu_kernels, 'available', lambda: False)
            np.testing.assert_array_equal(_matlab_median(x).numpy(), want)                          # numpy
    with_nan = torch.from_numpy(big.copy())
    with_nan[0, 5] = math.nan
    if _cpu_kernels.available():
        assert _pc_kernels.middle_values(with_nan) is None          # NaN: the kernel declines, numpy's path runs
    np.testing.assert_array_equal(_matlab_median(with_nan)[1].item(), np.median(big[1]))
