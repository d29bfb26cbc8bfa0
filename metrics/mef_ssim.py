"""MEF-SSIM: Ma, Zeng & Wang's structural similarity of a fused image to its source sequence (here IR and visible).

Unlike Wang's SSIM, which compares the fused image with one source at a time, MEF-SSIM builds one desired local patch
from all sources (the strongest local contrast, a structure blended from the sources with weights that depend on how
consistent they are) and compares the fused patch with it. Tang's 2022 code reports it as "SSIM".
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from metrics import _cpu_kernels
from metrics._checks import check_images
from metrics._filters import gaussian_taps, separable_valid
from metrics._registry import register_metric, register_variant

WINDOW = 11
SIGMA = 1.5
K = 0.03
EPS = torch.finfo(torch.float64).eps


def box_sum_valid(maps: Tensor, size: int = WINDOW) -> Tensor:
    """Sum over every size x size 'valid' window of each channel of (N, C, H, W), by running sums.

    Exact for integer images (every stored image) and their 2x2 means: all partial sums are exact in float64.
    """
    def along(x: Tensor, dim: int) -> Tensor:
        c = torch.cat([torch.zeros_like(x.narrow(dim, 0, 1)), x.cumsum(dim)], dim=dim)
        n = c.shape[dim] - size
        return c.narrow(dim, size, n) - c.narrow(dim, 0, n)
    return along(along(maps, -1), -2)


def mef_ssim_scores(sources: Tensor, fused: Tensor) -> Tensor:
    """Mean MEF-SSIM map per image: `sources` (N, K, H, W) and `fused` (N, 1, H, W) float64 on the 0-255 scale.

    This is Ma's `mef_ssim.m` (default K = 0.03, 11x11 Gaussian window of sigma 1.5, 'valid' windows) computed from
    local moments instead of a loop over patches. In the reference, at the window centred on pixel c:

    * per source k: mu_k and ed_k = ||x_k - mu_k|| + 0.001 over the 11x11 square window (signal strength);
    * consistency R = (||sum_k x_k - mean|| + eps) / (sum_k ||x_k - mu_k|| + eps) (R > 1 -> 1 - eps),
      p = min(tan(pi/2 R), 10) and weights w_k = (ed_k / 11)^p + eps, normalised over k;
    * desired patch r = sum_k w_k (x_k - mu_k) / ed_k, rescaled to norm max_k ed_k when its norm is > 0;
    * q = (2 sigma_rf + C) / (sigma_r^2 + sigma_f^2 + C) with Gaussian-weighted moments, C = (0.03 * 255)^2.

    r is linear in the source patches, so with a_k = w_k / ed_k and the rescaling factor s, its Gaussian moments are
    sigma_r^2 = s^2 sum_kl a_k a_l cov_G(x_k, x_l) and sigma_rf = s sum_k a_k cov_G(x_k, f), and ||r||^2 =
    sum_kl a_k a_l sum_window (x_k - mu_k)(x_l - mu_l). The square-window sums are formed as
    (121 sum x_k x_l - sum x_k sum x_l) / 121, which is exact for integer (and dyadic, i.e. downsampled) images,
    so flat windows give exactly 0 where the reference's loop gives ulp-level noise.

    Where the desired patch vanishes up to rounding (||r||^2 <= 1e-12 sum_k a_k^2 ||x_k - mu_k||^2) r is taken as
    0, so q = C / (sigma_f^2 + C); the reference instead rescales its rounding noise to norm max_k ed_k. When every
    source is flat there that norm is about 0.001 and q moves by less than 1e-8 (C = 58.5); when textured sources
    cancel exactly (an image and its negative with equal weights) the reference's q is set by rounding noise, and
    this deterministic value is used instead.
    """
    n_src = sources.shape[1]
    area = float(WINDOW * WINDOW)
    pairs = [(k, m) for k in range(n_src) for m in range(k, n_src)]
    # Every map to filter, in one buffer: x_k, x_k x_m (k <= m) | f, x_k f, f^2. The first group gets box sums.
    n_pairs = len(pairs)
    maps = sources.new_empty((sources.shape[0], 2 * n_src + n_pairs + 2, *sources.shape[2:]))
    maps[:, :n_src] = sources
    for i, (k, m) in enumerate(pairs):
        torch.mul(sources[:, k], sources[:, m], out=maps[:, n_src + i])
    first = n_src + n_pairs
    maps[:, first] = fused[:, 0]
    torch.mul(sources, fused, out=maps[:, first + 1:first + 1 + n_src])
    torch.mul(fused[:, 0], fused[:, 0], out=maps[:, -1])
    c = (K * 255) ** 2
    if n_src == 2 and _cpu_kernels.usable(maps, maps[:, 0].numel()):
        # The per-pixel arithmetic below in two kernel passes (37 -> 15 ms at 640x480; tan stays torch's), and the
        # box sums as a filter of ones (as exact: every partial sum is an integer, or a multiple of 1/16 after
        # downsampling).
        box = separable_valid(maps[:, :first], [1.0] * WINDOW)
        strengths = _cpu_kernels.mef_strengths(box, area)
        p = torch.tan(math.pi / 2 * strengths[:, 0]).clamp(max=10)
        gm = separable_valid(maps, gaussian_taps(WINDOW, SIGMA))
        return _cpu_kernels.mef_quality(box, gm, strengths, p, area, c)
    box = box_sum_valid(maps[:, :first])
    sums, cross = box[:, :n_src], box[:, n_src:]
    # ssd[k, m] = sum over the square window of (x_k - mu_k)(x_m - mu_m)
    ssd = {}
    for i, (k, m) in enumerate(pairs):
        ssd[k, m] = ssd[m, k] = (area * cross[:, i] - sums[:, k] * sums[:, m]) / area
    norms = torch.stack([ssd[k, k].clamp(min=0).sqrt() for k in range(n_src)], dim=1)   # ||x_k - mu_k||
    ed = norms + 0.001
    total = sum(ssd[k, m] for k in range(n_src) for m in range(n_src))
    ratio = (total.clamp(min=0).sqrt() + EPS) / (norms.sum(dim=1) + EPS)
    ratio = torch.where(ratio > 1, torch.full_like(ratio, 1 - EPS), ratio)
    ratio = torch.where(ratio < 0, torch.full_like(ratio, EPS), ratio)
    p = torch.tan(math.pi / 2 * ratio).clamp(max=10).unsqueeze(1)
    weights = (ed / WINDOW) ** p + EPS
    weights = weights / weights.sum(dim=1, keepdim=True)
    a = weights / ed
    max_ed = ed.amax(dim=1)
    r_sq = sum(a[:, k] * a[:, m] * ssd[k, m] for k in range(n_src) for m in range(n_src))
    floor = 1e-12 * sum(a[:, k] ** 2 * ssd[k, k].clamp(min=0) for k in range(n_src))
    nonzero = r_sq > floor
    scale = torch.where(nonzero, max_ed / r_sq.where(nonzero, torch.ones_like(r_sq)).sqrt(), torch.zeros_like(r_sq))

    gm = separable_valid(maps, gaussian_taps(WINDOW, SIGMA))
    mean_x, g_cross = gm[:, :n_src], gm[:, n_src:first]
    mean_f, g_xf = gm[:, first], gm[:, first + 1:first + 1 + n_src]
    var_f = gm[:, -1] - mean_f * mean_f
    cov = {}
    for i, (k, m) in enumerate(pairs):
        cov[k, m] = cov[m, k] = g_cross[:, i] - mean_x[:, k] * mean_x[:, m]
    var_r = scale ** 2 * sum(a[:, k] * a[:, m] * cov[k, m] for k in range(n_src) for m in range(n_src))
    cov_rf = scale * sum(a[:, k] * (g_xf[:, k] - mean_x[:, k] * mean_f) for k in range(n_src))
    q = (2 * cov_rf + c) / (var_r + var_f + c)
    return q.flatten(1).mean(dim=1)


@register_metric('mef_ssim', higher_is_better=True, needs_sources=True, min_size=11,
                 reference='Ma, Zeng & Wang 2015 MEF-SSIM (mef_ssim.m: K 0.03, 11x11 Gaussian sigma 1.5) with the '
                           'IR and visible images as the source sequence, 0-255')
def mef_ssim(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """MEF-SSIM of the fused image against the source sequence (IR, visible), per image.

    The textbook definition (Ma et al. 2015) exactly as their `mef_ssim.m` computes it: K = 0.03, C = (0.03 * 255)^2,
    an 11x11 Gaussian window (sigma 1.5) for the SSIM statistics and an 11x11 square window for the signal strengths
    and the structure consistency, windows fully inside the image ('valid'), mean over the quality map. See
    `mef_ssim_scores` for the algorithm. It is symmetric in `ir` and `vis`, in [-1, 1], 1 for a perfect match.

    Args:
        fused: (N, 1, H, W) float tensor on the 0-255 scale, H, W >= 11.
        ir: infrared source, same shape.
        vis: visible source, same shape.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if the images are not floating (N, 1, H, W) tensors of one shape with H, W >= 11 (the window).

    Example:
        >>> import torch
        >>> img = torch.arange(256.).view(1, 1, 16, 16)
        >>> mef_ssim(img, img, img).round(decimals=6)   # a source itself scores 1 up to the 0.001 strength offset
        tensor([1.], dtype=torch.float64)

    References:
        K. Ma, K. Zeng, Z. Wang, "Perceptual quality assessment for multi-exposure image fusion", IEEE TIP 24(11)
        (2015) 3345-3356; `mef_ssim.m` as shipped in Linfeng-Tang/Image-Fusion @ 53f5542 and xingchenzhang/MEFB
        @ 9e185bf (identical code).
    """
    check_images(fused, ir, vis, min_size=WINDOW)
    fused, ir, vis = (t.detach().to(torch.float64) for t in (fused, ir, vis))
    return mef_ssim_scores(torch.cat([ir, vis], dim=1), fused)


register_variant('mef_ssim', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, mef_ssim.m (called as "SSIM" by '
                 'analysis_Reference.m L70 on 0-255 values)')
register_variant('mef_ssim', 'tang2023', 'Linfeng-Tang/Image-Fusion @ dba5bf3 (HEAD), mef_ssim.m, unchanged; '
                 'analysis_Reference.m no longer calls it directly (it is the per-scale score of analysis_ms_ssim.m)')
# Tang 2022's "SSIM" is MEF-SSIM, not Wang's SSIM: `analysis_Reference.m` @ 53f5542 (L70) fills
# imgSeq(:, :, 1) = image_ir, imgSeq(:, :, 2) = image_vis (uint8 values in a double array) and calls
# mef_ssim(imgSeq, uint8 F), which casts with `double`: 0-255 data, exactly `mef_ssim` (TNO #10 with SeAFusion:
# 0.8911). Registered with the same function, so scoring both columns computes it once. Tang's 2023 code replaced
# this line with Wang's SSIM.
register_variant('ssim', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, analysis_Reference.m L70: '
                 '"SSIM" = mef_ssim(imgSeq, uint8 F), i.e. MEF-SSIM (Ma et al. 2015) on 0-255 values',
                 fn=mef_ssim, min_size=11)
