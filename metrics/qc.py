"""Qc: Cvejic's SSIM-based fusion metric, weighted by each source's covariance with the fused image."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric, register_variant
from metrics.qy import YANG_C, YANG_WINDOW, _kernel_mean, _nan_mean, _ssim_map, _window_stats


def _cvejic(fused: Tensor, ir: Tensor, vis: Tensor, min_size: int) -> Tensor:
    check_images(fused, ir, vis, min_size=min_size)
    what = 'cov(`ir`, `fused`) + cov(`vis`, `fused`) is 0/0 (a constant `fused`, or constant sources)'
    fast = _kernel_mean([ir, vis, fused], True, what)
    if fast is not None:
        return fast
    (mu_a, mu_b, mu_f), (var_a, var_b, var_f), (cov_af, cov_bf) = _window_stats(
        [ir, vis, fused], [(0, 2), (1, 2)], YANG_WINDOW)
    ssim_af = _ssim_map(mu_a, mu_f, var_a, var_f, cov_af, YANG_C, YANG_C)
    ssim_bf = _ssim_map(mu_b, mu_f, var_b, var_f, cov_bf, YANG_C, YANG_C)
    share = cov_af / (cov_af + cov_bf)
    sim = share * ssim_af + (1 - share) * ssim_bf
    sim = torch.where(share < 0, torch.zeros_like(sim), torch.where(share > 1, torch.ones_like(sim), sim))
    return _nan_mean(sim, what)


@register_metric('qc', higher_is_better=True, needs_sources=True, min_size=YANG_WINDOW[0],
                 reference="Cvejic et al. 2006, Yang's SSIM maps (7x7 Gaussian sigma 1.5, C1 = C2 = 2e-16, 'valid') "
                           'as in MEFB metricsQc.m, with exact zero variance in constant windows')
def cvejic_metric(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Cvejic's fusion metric Qc, per image.

    With SSIM maps on 7 x 7 Gaussian windows (sigma 1.5, 'valid', C1 = C2 = 2e-16, as Yang's Qy) and the local
    share s = cov(A, F) / (cov(A, F) + cov(B, F)): the local quality is s SSIM(A, F) + (1 - s) SSIM(B, F), set to 0
    where s < 0 and to 1 where s > 1; Qc is its mean over the windows where it is not NaN (s = 0/0, e.g. where F
    is constant, is left out, as in MEFB). Not symmetric in the sources: swapping them maps s to 1 - s, which swaps
    the 0 and 1 of the clipped windows (TNO #10: 0.55721 as (ir, vis), as MEFB's published values, 0.55405 as
    (vis, ir)).

    Windows in which an image is constant get exactly zero (co)variance, so there s is exactly 0 (quality
    SSIM(B, F)) or 0/0 (left out). MEFB's E[xy] - E[x]E[y] leaves rounding noise of either sign instead (see
    `metrics.qy.yang_metric`): where only A is constant, the sign of the noise in cov(A, F) decides between s < 0
    (quality 0) and s ~ 0 (quality SSIM(B, F)), window by window; where F or both sources are constant, s is a
    ratio of noise. So on images with flat regions MEFB's Qc depends on MATLAB's summation order (Octave gives
    44.5 for SeAFusion TNO #14, a metric bounded by 1). On TNO #10 two such windows (IR constant) make Octave's
    0.5572112 differ from this 0.5572142; both are 0.55721. A 1-ulp change of the Gaussian window moves MEFB's Qc
    on TNO-21 #3 from Octave's 0.2370 to 0.5232 (this: 0.5206), so MATLAB's own value there is not knowable.
    Windows where no image is constant but cov(A, F) + cov(B, F) is 0 in exact arithmetic (A + B constant: s is
    +-inf, clipped) or cov(B, F) is (s exactly 1) are still decided by rounding here: up to 1.1e-4 on TNO-21 #3
    (tests/calibration/test_mefb_noise.py).

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors on the 0-255 scale, H, W >= 7.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: for bad shapes or values, or when s is 0/0 in every window (e.g. a constant `fused`).

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> ir, vis = torch.randint(0, 256, (2, 1, 1, 16, 16), generator=g).double()
        >>> cvejic_metric(ir, ir, vis) > 0.9   # F = A: SSIM(A, F) = 1 and s is close to 1
        tensor([True])

    References:
        N. Cvejic, A. Loza, D. Bull, N. Canagarajah, "A similarity metric for assessment of image fusion
        algorithms", Int. J. Signal Process. 2 (3) (2005) 178-182. Code: xingchenzhang/MEFB @ 9e185bf,
        metrics/metricsQc.m.
    """
    return _cvejic(fused, ir, vis, min_size=YANG_WINDOW[0])


def cvejic_metric_mefb(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Qc as MEFB's `metricsQc(A, B, F)` computes it, with A = `ir`, B = `vis` (see `cvejic_metric`).

    The source order matters (see `cvejic_metric`); MEFB's values for IR-visible pairs match A = `ir`. H, W >= 11,
    as MEFB's `ssim_yang` requires.

    Example:
        >>> import torch
        >>> cvejic_metric_mefb(*[torch.arange(144.).view(1, 1, 12, 12)] * 3)
        tensor([1.], dtype=torch.float64)
    """
    return _cvejic(fused, ir, vis, min_size=11)


register_variant('qc', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsQc.m L39-155 (ssim_yang: 7x7 Gaussian '
                 "sigma 1.5, C1 = C2 = 2e-16, 'valid'; share clipped to 0/1; NaN windows dropped), called as "
                 'metricsQc(ir, vis, fused)', cvejic_metric_mefb, min_size=11)
