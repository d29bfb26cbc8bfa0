"""Qp: Zhao's phase-congruency fusion metric (feature maps from Kovesi's phase congruency, as MEFB)."""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from metrics import _cpu_kernels, _pc_kernels
from metrics._checks import check_images
from metrics._registry import register_metric, register_variant
from metrics._filters import gaussian_taps, local_moments

# Defaults of Kovesi's phasecong3 as revised in MEFB's myphasecong3 (metricsQp.m L455-473).
NSCALE, NORIENT = 4, 6
MIN_WAVELENGTH, MULT, SIGMA_ON_F, D_THETA_ON_SIGMA = 3, 2.1, 0.55, 1.2
K_NOISE, CUT_OFF, G_SIGMOID = 2.0, 0.5, 10
EPSILON = 1e-4
FEATURE_THRESHOLD = 0.1        # fea_threshold (metricsQp.m L57)
FEATURE_WINDOW = 11            # 11 x 11 Gaussian window, sigma 1.5, of correlation_coeffcient
ZHAO_C = 1e-4                  # C1 = C2 = C3 of correlation_coeffcient (L156-158)


@lru_cache(maxsize=4)
def _log_gabor_bank(rows: int, cols: int, device: torch.device) -> tuple[Tensor, ...]:
    """The frequency-domain filters of myphasecong3, as factors, and its noise constants.

    Returns:
        (spread, log_gabor, em_n, sum_an2, sum_ai_aj): the filter of orientation o and scale s is
        spread[o] * log_gabor[s], (NORIENT, rows, cols) and (NSCALE, rows, cols) (kept apart: the full bank would
        hold 24 planes per cached size, 59 MB at 640x480); `em_n` (NORIENT,) is sum(filter^2) at the smallest scale;
        `sum_an2` and `sum_ai_aj` (NORIENT,) are sum(ifftFilt_s^2) and sum_{i<j} sum(ifftFilt_i ifftFilt_j) with
        ifftFilt = real(ifft2(filter)) sqrt(rows cols), taken in the frequency domain (Parseval): real(ifft2(H)) is
        the transform of H's even part (H(k) + H(-k)) / 2, so no inverse FFT of the filters is needed.
    """
    f64 = dict(dtype=torch.float64, device=device)

    def axis(n: int) -> Tensor:   # Kovesi's grid: odd sizes divide by n - 1 (metricsQp.m L386-396)
        k = torch.arange(n, **f64)
        return (k - (n - 1) / 2) / (n - 1) if n % 2 else (k - n / 2) / n

    y, x = torch.meshgrid(axis(rows), axis(cols), indexing='ij')
    radius = torch.sqrt(x * x + y * y)
    radius[rows // 2, cols // 2] = 1
    theta = torch.atan2(-y, x)
    radius, theta = torch.fft.ifftshift(radius), torch.fft.ifftshift(theta)
    sin_t, cos_t = torch.sin(theta), torch.cos(theta)

    # lowpassfilter([rows cols], .45, 15): its own grid, and fftshift (not ifftshift), as in the MEFB copy.
    ly = (torch.arange(rows, **f64) - rows // 2) / rows
    lx = (torch.arange(cols, **f64) - cols // 2) / cols
    lr = torch.sqrt(lx[None, :] ** 2 + ly[:, None] ** 2)
    lowpass = torch.fft.fftshift(1 / (1.0 + (lr / 0.45) ** 30))

    log_gabor = []
    for s in range(NSCALE):
        fo = 1.0 / (MIN_WAVELENGTH * MULT ** s)
        lg = torch.exp(-(torch.log(radius / fo)) ** 2 / (2 * math.log(SIGMA_ON_F) ** 2)) * lowpass
        lg[0, 0] = 0
        log_gabor.append(lg)
    theta_sigma = math.pi / NORIENT / D_THETA_ON_SIGMA
    spread = []
    for o in range(NORIENT):
        angle = o * math.pi / NORIENT
        ds = sin_t * math.cos(angle) - cos_t * math.sin(angle)
        dc = cos_t * math.cos(angle) + sin_t * math.sin(angle)
        spread.append(torch.exp(-torch.atan2(ds, dc).abs() ** 2 / (2 * theta_sigma ** 2)))
    log_gabor, spread = torch.stack(log_gabor), torch.stack(spread)
    em_n, sum_an2, sum_ai_aj = (torch.empty(NORIENT, **f64) for _ in range(3))
    for o in range(NORIENT):
        filters = spread[o] * log_gabor
        even = (filters + torch.roll(torch.flip(filters, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1))) / 2
        em_n[o] = (filters[0] ** 2).sum()
        sum_an2[o] = (even * even).sum()
        total = even.sum(dim=0)
        sum_ai_aj[o] = ((total * total).sum() - sum_an2[o]) / 2
    return spread, log_gabor, em_n, sum_an2, sum_ai_aj


def _sum_scales(x: Tensor) -> Tensor:
    """Sum over the scale dim (-3), accumulated scale by scale as the MATLAB loop does."""
    out = x[..., 0, :, :].clone()
    for s in range(1, x.shape[-3]):
        out += x[..., s, :, :]
    return out


def _matlab_median(x: Tensor) -> Tensor:
    """MATLAB `median` over the last dim: the mean of the two middle values for an even count."""
    n = x.shape[-1]
    if x.device.type == 'cpu' and not x.requires_grad:
        middle = _pc_kernels.middle_values(x) if _pc_kernels.usable_real(x) else None
        if middle is None:
            # numpy's introselect finds both middle order statistics in one pass (torch.kthvalue: 4 ms a plane)
            middle = torch.from_numpy(np.partition(x.detach().numpy(), [(n - 1) // 2, n // 2],
                                                   axis=-1)[..., [(n - 1) // 2, n // 2]])
        return (middle[..., 0] + middle[..., 1]) / 2
    lo = torch.kthvalue(x, (n + 1) // 2, dim=-1, keepdim=True).values
    if n % 2:
        return lo.squeeze(-1)
    # The next order statistic: lo itself if it occurs beyond the middle, else the smallest larger value.
    repeated = (x <= lo).sum(dim=-1, keepdim=True) > n // 2
    above = torch.where(x > lo, x, torch.full_like(x, math.inf)).amin(dim=-1, keepdim=True)
    return ((lo + torch.where(repeated, lo, above)) / 2).squeeze(-1)


def phase_congruency(images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """MEFB's `myphasecong3` (Kovesi's phasecong3, PC_2 measure, revised by Z. Liu): PC and its moments.

    Log-Gabor filters over 4 scales (wavelengths 3, 6.3, 13.23, 27.78; sigmaOnf 0.55) and 6 orientations
    (dThetaOnSigma 1.2), applied with batched FFTs (all scales at once, one orientation at a time; on the
    CPU one image plane at a time, so that 4 complex planes are in flight); noise threshold per orientation from
    the median energy at the smallest scale (k = 2, then / 1.7), frequency-spread weighting (cutOff 0.5, g = 10).

    Args:
        images: (..., H, W) float64 planes, H, W >= 2.

    Returns:
        (pc, M, m): phase congruency totalEnergy / (totalSumAn + 1e-4), and the maximum and minimum moments of
        the per-orientation PC covariance, each of the shape of `images`.
    """
    rows, cols = images.shape[-2:]
    planes = images.reshape(-1, rows, cols)
    if planes.shape[0] > 1 and images.device.type == 'cpu':
        # One plane at a time on the CPU: the complex responses in flight are then 4 planes, not 4 per image
        # (measured, Qp alone on one 640 x 480 triple: 283 -> 217 MB peak, for about 15 % more time).
        parts = [phase_congruency(plane) for plane in planes.split(1)]
        return tuple(torch.cat(maps).view(images.shape) for maps in zip(*parts))
    spread, log_gabor, em_n, sum_an2, sum_ai_aj = _log_gabor_bank(rows, cols, images.device)
    spectrum = torch.fft.fft2(images)
    fast = _pc_kernels.usable(spectrum)
    eo = None
    # (total energy, total sum of amplitudes, covx^2, covy^2, covx covy), summed over the orientations
    acc = images.new_zeros(5, *images.shape)
    for o in range(NORIENT):   # scales batched; one orientation at a time keeps memory at 4 complex planes/image
        if fast:
            eo = _pc_kernels.responses(spectrum, spread[o], log_gabor, out=eo)
        else:
            eo = torch.fft.ifft2(spectrum[..., None, :, :] * (spread[o] * log_gabor))   # (..., NSCALE, H, W)
        sum_an, max_an, energy, amp0_sq = (_pc_kernels.scale_sums if fast else _scale_sums)(eo, EPSILON)
        if not fast:
            eo = None   # the kernels reuse their array for the next orientation; the torch form makes a new one
        median_e2 = _matlab_median(amp0_sq.flatten(-2))
        noise_power = -median_e2 / math.log(0.5) / em_n[o]
        tau = torch.sqrt((2 * noise_power * sum_an2[o] + 4 * noise_power * sum_ai_aj[o]) / 2)
        threshold = (tau * math.sqrt(math.pi / 2) + K_NOISE * torch.sqrt((2 - math.pi / 2) * tau * tau)) / 1.7
        angle = o * math.pi / NORIENT
        consts = (EPSILON, NSCALE, CUT_OFF, G_SIGMOID, math.cos(angle), math.sin(angle))
        (_pc_kernels.accumulate if fast else _accumulate)(acc, sum_an, max_an, energy, threshold, consts)
    del eo
    total_energy, total_sum_an, covx2, covy2, covxy = acc
    pc = total_energy / (total_sum_an + EPSILON)
    covx2, covy2, covxy = covx2 / (NORIENT / 2), covy2 / (NORIENT / 2), covxy / NORIENT
    denom = torch.sqrt(covxy * covxy + (covx2 - covy2) ** 2) + EPSILON
    return pc, (covy2 + covx2 + denom) / 2, (covy2 + covx2 - denom) / 2


def _scale_sums(eo: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One orientation's sums over the scales of its (..., NSCALE, H, W) complex responses: sum and maximum of the
    amplitudes, the energy sum_s E MeanE + O MeanO - |E MeanO - O MeanE| (Mean* = the unit vector of the summed
    response), and the squared smallest-scale amplitude (for the noise estimate). `_pc_kernels.scale_sums` is the
    same arithmetic in one pass."""
    parts = torch.view_as_real(eo)
    even, odd = parts[..., 0], parts[..., 1]
    amplitude = torch.addcmul(even * even, odd, odd).sqrt_()
    sum_an = _sum_scales(amplitude)
    max_an = amplitude.amax(dim=-3)
    amp0_sq = amplitude[..., 0, :, :] ** 2
    del amplitude
    sum_e, sum_o = _sum_scales(even), _sum_scales(odd)
    x_energy = torch.addcmul(sum_e * sum_e, sum_o, sum_o).sqrt_() + eps
    mean_e, mean_o = (sum_e / x_energy)[..., None, :, :], (sum_o / x_energy)[..., None, :, :]
    cross = torch.addcmul(even * mean_o, odd, mean_e, value=-1).abs_()
    energy = _sum_scales(torch.addcmul(even * mean_e, odd, mean_o).sub_(cross))
    return sum_an, max_an, energy, amp0_sq


def _accumulate(acc: Tensor, sum_an: Tensor, max_an: Tensor, energy: Tensor, threshold: Tensor,
                consts: tuple[float, ...]) -> None:
    """Adds one orientation to `acc` (5, ..., H, W) in place: its noise-thresholded energy weighted by the
    frequency spread (sigmoid of the amplitude width), its summed amplitude, and the moments of its PC direction
    (cos, sin of the orientation angle). `_pc_kernels.accumulate` is the same arithmetic in one pass."""
    eps, n_scale, cut_off, gain, cos_a, sin_a = consts
    energy = (energy - threshold[..., None, None]).clamp(min=0)
    width = sum_an / (max_an + eps) / n_scale
    weighted = 1.0 / (1 + torch.exp((cut_off - width) * gain)) * energy
    pc_orient = weighted / sum_an
    covx, covy = pc_orient * cos_a, pc_orient * sin_a
    for i, term in enumerate((weighted, sum_an, covx * covx, covy * covy, covx * covy)):
        acc[i] += term


def _feature_correlation(feature: Tensor, masks: Tensor) -> Tensor:
    """MEFB `correlation_coeffcient` for one feature.

    Args:
        feature: (N, 4, H, W) maps of (ir, vis, max, fused).
        masks: (N, 3, H, W) booleans for (ir, vis, max).

    Returns:
        (N,): sum of the per-pixel maximum of the three masked correlation maps / number of `max` feature pixels.
    """
    x = torch.cat([feature[:, :3] * masks, feature[:, 3:]], dim=1)                  # the fused map is not masked
    r = FEATURE_WINDOW // 2
    # 'same' with zero padding = 'valid' on the zero-padded maps; products are formed inside the filter
    stats = local_moments(F.pad(x, (r, r, r, r)), [(i, i) for i in range(4)] + [(i, 3) for i in range(3)],
                          gaussian_taps(FEATURE_WINDOW, 1.5))
    if _cpu_kernels.usable(stats, stats.numel()):
        return _pc_kernels.zhao_sums(stats, masks, ZHAO_C) / masks[:, 2].sum(dim=(-2, -1))
    mu, second, cross = stats[:, :4], stats[:, 4:8], stats[:, 8:]
    var = second - mu * mu
    cov = cross - mu[:, :3] * mu[:, 3:]
    res = (cov + ZHAO_C) / (torch.sqrt((var[:, :3] * var[:, 3:]).abs()) + ZHAO_C)
    best = torch.where(masks, res, torch.zeros_like(res)).amax(dim=1)
    return best.sum(dim=(-2, -1)) / masks[:, 2].sum(dim=(-2, -1))


@register_metric('qp', higher_is_better=True, needs_sources=True, min_size=2,
                 reference="Zhao, Laganiere, Liu 2007 phase-congruency metric with Kovesi's phase congruency, as "
                           'MEFB metricsQp.m + its myphasecong3')
def phase_congruency_metric(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Zhao's phase-congruency based fusion metric Qp, per image, as MEFB's `metricsQp` computes it.

    Phase congruency PC and its maximum and minimum moments M, m are computed for the three images
    (`phase_congruency`). Per pixel, the source with the larger PC (`vis` on ties) gives PC_max, M_max, m_max; the
    feature masks are PC_ir > 0.1, PC_vis > 0.1, PC_max > 0.1. For each feature P in (PC, M, m), the masked source
    maps and the (unmasked) fused map give three local correlation maps (cov + C) / (sqrt|var_s var_F| + C),
    C = 1e-4, from an 11 x 11 Gaussian window (sigma 1.5, 'same', zero padding), each zero outside its mask;
    Q_P = sum of their per-pixel maximum / number of PC_max feature pixels. Qp = Q_PC Q_M Q_m.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors on the 0-255 scale, H, W >= 2.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: for bad shapes or values, a constant image (its filter responses are all zero, so MEFB's
            per-orientation PC is 0/0), or when no pixel of either source has PC > 0.1 (0/0).

    Example:
        >>> import torch
        >>> yy, xx = torch.meshgrid(torch.arange(32.), torch.arange(32.), indexing='ij')
        >>> img = ((xx - 16) ** 2 + (yy - 16) ** 2 < 64).double().view(1, 1, 32, 32) * 200   # a disc
        >>> round(phase_congruency_metric(img, img, img).item(), 5)   # < 1: the fused map is not masked
        0.94457

    References:
        J. Zhao, R. Laganiere, Z. Liu, "Performance assessment of combinative pixel-level image fusion based on an
        absolute feature measurement", Int. J. Innov. Comput. Inf. Control 3 (6) (2007) 1433-1447; P. Kovesi,
        phasecong3.m. Code: xingchenzhang/MEFB @ 9e185bf, metrics/metricsQp.m (its own myphasecong3).
    """
    check_images(fused, ir, vis, min_size=2)
    x = torch.cat([ir, vis, fused], dim=1).to(torch.float64)
    flat = x.flatten(2)
    constant = flat.amax(dim=-1) == flat.amin(dim=-1)
    if bool(constant.any()):
        i, j = (int(v) for v in constant.nonzero()[0])
        raise ValueError(f'`{("ir", "vis", "fused")[j]}` is constant in image {i}: its log-Gabor responses are all '
                         'zero, so its phase congruency is 0/0 and Qp is undefined.')
    pc, big, small = phase_congruency(x)                                          # each (N, 3, H, W)
    pick_ir = pc[:, 0:1] > pc[:, 1:2]
    masks = torch.cat([pc[:, :2], torch.where(pick_ir, pc[:, 0:1], pc[:, 1:2])], dim=1) > FEATURE_THRESHOLD
    count = masks[:, 2].sum(dim=(-2, -1))
    if bool((count == 0).any()):
        i = int((count == 0).nonzero()[0])
        raise ValueError(f'No pixel of `ir` or `vis` in image {i} has phase congruency above {FEATURE_THRESHOLD}: '
                         'Qp divides by their count, 0.')
    out = torch.ones(x.shape[0], dtype=torch.float64, device=x.device)
    for feature in (pc, big, small):   # (ir, vis, fused) -> (ir, vis, max, fused); `vis` wins ties
        best = torch.where(pick_ir, feature[:, 0:1], feature[:, 1:2])
        out = out * _feature_correlation(torch.cat([feature[:, :2], best, feature[:, 2:]], dim=1), masks)
    if not bool(torch.isfinite(out).all()):
        i = int((~torch.isfinite(out)).nonzero()[0])
        raise ValueError(f'Qp of image {i} is not finite (a pixel without any log-Gabor response).')
    return out


register_variant('qp', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsQp.m L38-212 with its myphasecong3 '
                 'L351-637 and lowpassfilter L772-790, called as metricsQp(ir, vis, fused)')
