"""Qy: Yang's SSIM-based fusion metric (choice between a weighted and a maximum rule by source similarity)."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics import _cpu_kernels
from metrics._checks import check_images
from metrics._filters import gaussian_taps, local_moments
from metrics._registry import register_metric, register_variant

YANG_C = 2e-16        # C1 = C2 of MEFB's ssim_yang (metricsQy.m L117-118, metricsQc.m L123-124)
YANG_WINDOW = (7, 1.5)


def _flat_windows(x: Tensor, size: int) -> Tensor:
    """True where the `size` x `size` window ('valid' positions) of each plane of `x` holds a single value.

    Running maximum and minimum as two 1-D passes of shifted comparisons (`max_pool2d` is slow on float64 CPU);
    on float64 CPU tensors `_cpu_kernels.flat_windows` does both in one pass.
    """
    h, w = x.shape[-2:]
    if _cpu_kernels.usable(x, x.numel()):
        return _cpu_kernels.flat_windows(x, size)
    hi = x[..., 0:h - size + 1, :].clone()
    lo = hi.clone()
    for i in range(1, size):
        torch.maximum(hi, x[..., i:h - size + 1 + i, :], out=hi)
        torch.minimum(lo, x[..., i:h - size + 1 + i, :], out=lo)
    hi_w, lo_w = hi[..., 0:w - size + 1].clone(), lo[..., 0:w - size + 1].clone()
    for i in range(1, size):
        torch.maximum(hi_w, hi[..., i:w - size + 1 + i], out=hi_w)
        torch.minimum(lo_w, lo[..., i:w - size + 1 + i], out=lo_w)
    return hi_w == lo_w


def _window_stats(images: list[Tensor], pairs: list[tuple[int, int]], window: tuple[int, float]):
    """Gaussian-window means, variances and covariances ('valid'), E[xy] - E[x]E[y] as MATLAB's SSIM codes.

    Where an image is constant over a window its variance, and every covariance with it, is set to exactly 0.
    MATLAB's E[x^2] - E[x]^2 leaves rounding noise there instead (up to about 7e-11 at grey level 255), which
    tiny constants such as Yang's C = 2e-16 do not absorb: the SSIM of two such windows is then a ratio of rounding
    noise, which depends on the summation order of `conv2` (see `yang_metric`).

    Returns:
        (mu, var, cov): lists of (N, 1, h, w) tensors, `cov` in the order of `pairs`.
    """
    size, sigma = window
    taps = gaussian_taps(size, sigma)
    x = torch.cat(images, dim=1).to(torch.float64)
    k = x.shape[1]
    stats = local_moments(x, [(i, i) for i in range(k)] + list(pairs), taps)
    mu, second, cross = stats[:, :k], stats[:, k:2 * k], stats[:, 2 * k:]
    flat = _flat_windows(x, size)
    zero = torch.zeros((), dtype=torch.float64, device=x.device)
    var = torch.where(flat, zero, second - mu * mu)
    cov = [torch.where(flat[:, i:i + 1] | flat[:, j:j + 1], zero, cross[:, c:c + 1] - mu[:, i:i + 1] * mu[:, j:j + 1])
           for c, (i, j) in enumerate(pairs)]
    return list(mu.split(1, dim=1)), list(var.split(1, dim=1)), cov


def _ssim_map(mu_x: Tensor, mu_y: Tensor, var_x: Tensor, var_y: Tensor, cov: Tensor, c1: float, c2: float) -> Tensor:
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))


def _nan_mean(x: Tensor, what: str) -> Tensor:
    """Mean per image over the non-NaN values (MATLAB `mean2(A(~isnan(A)))`); raises when none is left."""
    x = x.flatten(1)
    valid = ~torch.isnan(x)
    return _checked_mean(torch.where(valid, x, torch.zeros_like(x)).sum(dim=1), valid.sum(dim=1), what)


def _checked_mean(total: Tensor, count: Tensor, what: str) -> Tensor:
    if bool((count == 0).any()):
        i = int((count == 0).nonzero()[0])
        raise ValueError(f'{what} in every window of image {i}, so the reference mean is NaN.')
    out = total / count
    if not bool(torch.isfinite(out).all()):
        i = int((~torch.isfinite(out)).nonzero()[0])
        raise ValueError(f'The quality map of image {i} has an infinite value (a 1/0 in the weights).')
    return out


def _kernel_mean(images: list[Tensor], qc: bool, what: str) -> Tensor | None:
    """Qy (or Qc) of float64 CPU images by `_cpu_kernels.yang_sums`, the torch forms' per-pixel arithmetic in one
    pass from the window moments; None where the kernels do not apply."""
    x = torch.cat(images, dim=1).to(torch.float64)
    size, sigma = YANG_WINDOW
    if not (_cpu_kernels.usable(x, x.numel()) and min(x.shape[-2:]) >= size):
        return None
    pairs = [(0, 2), (1, 2)] if qc else [(0, 1), (0, 2), (1, 2)]
    stats = local_moments(x, [(i, i) for i in range(3)] + pairs, gaussian_taps(size, sigma))
    sums = _cpu_kernels.yang_sums(stats, _flat_windows(x, size), qc, YANG_C)
    return _checked_mean(sums[:, 0], sums[:, 1], what)


def _yang(fused: Tensor, ir: Tensor, vis: Tensor, min_size: int) -> Tensor:
    check_images(fused, ir, vis, min_size=min_size)
    what = '`ir` and `vis` are both constant (lambda = 0/0)'
    fast = _kernel_mean([ir, vis, fused], False, what)
    if fast is not None:
        return fast
    (mu_a, mu_b, mu_f), (var_a, var_b, var_f), (cov_ab, cov_af, cov_bf) = _window_stats(
        [ir, vis, fused], [(0, 1), (0, 2), (1, 2)], YANG_WINDOW)
    ssim_ab = _ssim_map(mu_a, mu_b, var_a, var_b, cov_ab, YANG_C, YANG_C)
    ssim_af = _ssim_map(mu_a, mu_f, var_a, var_f, cov_af, YANG_C, YANG_C)
    ssim_bf = _ssim_map(mu_b, mu_f, var_b, var_f, cov_bf, YANG_C, YANG_C)
    similar = ssim_ab >= 0.75
    lam = var_a / (var_a + var_b)
    weighted = (lam * ssim_af + (1 - lam) * ssim_bf) * similar
    best = torch.maximum(ssim_af, ssim_bf) * ~similar
    return _nan_mean(weighted + best, what)


@register_metric('qy', higher_is_better=True, needs_sources=True, min_size=YANG_WINDOW[0],
                 reference="Yang et al. 2008, Yang's SSIM (7x7 Gaussian sigma 1.5, C1 = C2 = 2e-16, 'valid') as in "
                           'MEFB metricsQy.m, with exact zero variance in constant windows')
def yang_metric(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Yang's structural-similarity fusion metric Qy, per image.

    With SSIM maps on 7 x 7 Gaussian windows (sigma 1.5, 'valid', C1 = C2 = 2e-16, E[xy] - E[x]E[y] statistics):
    where SSIM(A, B) >= 0.75 the local quality is lambda SSIM(A, F) + (1 - lambda) SSIM(B, F) with
    lambda = var(A) / (var(A) + var(B)); elsewhere max(SSIM(A, F), SSIM(B, F)). Qy is the mean over the windows
    where this is not NaN (windows where both sources are constant give lambda = 0/0 and are left out, as in MEFB).

    Windows in which an image is constant get exactly zero variance and covariance. MEFB computes
    E[x^2] - E[x]^2 there and keeps the rounding noise (up to ~7e-11), which C2 = 2e-16 cannot absorb, so its
    per-window value becomes a ratio of rounding noise: on images with flat regions (saturated or black areas)
    MEFB's Qy is noise-driven, e.g. 93.8 under Octave for SeAFusion TNO #14, for a metric bounded by 1. On images
    without constant 7 x 7 windows (e.g. TNO #10) the two agree to rounding.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors on the 0-255 scale, H, W >= 7.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: for bad shapes or values, or when both sources are constant in every window (no window left).

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> ir = torch.randint(0, 256, (1, 1, 16, 16), generator=g).double()
        >>> yang_metric(ir, ir, ir)   # SSIM = 1 everywhere
        tensor([1.], dtype=torch.float64)

    References:
        C. Yang, J.-Q. Zhang, X.-R. Wang, X. Liu, "A novel similarity based quality metric for image fusion",
        Inf. Fusion 9 (2) (2008) 156-160. Code: xingchenzhang/MEFB @ 9e185bf, metrics/metricsQy.m.
    """
    return _yang(fused, ir, vis, min_size=YANG_WINDOW[0])


def yang_metric_mefb(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Qy as MEFB's `metricsQy(A, B, F)` computes it, with A = `ir`, B = `vis` (see `yang_metric`).

    MEFB's `ssim_yang` returns no variances for images smaller than 11 x 11 (a leftover of Wang's 11 x 11 SSIM
    code) and the caller then fails, so H, W >= 11 here. Constant windows get exact zero statistics, as in the
    default: MEFB's own value there is rounding noise that depends on MATLAB's `conv2` summation order.

    Example:
        >>> import torch
        >>> yang_metric_mefb(*[torch.arange(144.).view(1, 1, 12, 12)] * 3)
        tensor([1.], dtype=torch.float64)
    """
    return _yang(fused, ir, vis, min_size=11)


register_variant('qy', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsQy.m L38-150 (ssim_yang: 7x7 Gaussian '
                 "sigma 1.5, C1 = C2 = 2e-16, 'valid'; NaN windows dropped), called as metricsQy(ir, vis, fused)",
                 yang_metric_mefb, min_size=11)
