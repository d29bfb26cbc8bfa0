"""Qw: Piella's fusion quality index, as MEFB computes it (edge-dependent, weighted, on gradient images)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from metrics import _cpu_kernels
from metrics._checks import check_images
from metrics._registry import register_metric, register_variant
from metrics._filters import gaussian_taps, local_moments
from metrics.qy import _ssim_map

WANG_WINDOW = (11, 1.5)
WANG_C1, WANG_C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def _edge_magnitude(x: Tensor) -> Tensor:
    """sqrt(X^2 + Y^2) with X = filter2([1 0 -1; 1 0 -1; 1 0 -1], x, 'same'), Y = filter2([1 1 1; 0 0 0; -1 -1 -1],
    x, 'same') (zero padding), computed as 3-sums and differences of shifted slices."""
    if _cpu_kernels.usable(x, x.numel()):
        return _cpu_kernels.prewitt_magnitude(x)
    p = F.pad(x, (1, 1, 1, 1))
    cols = p[..., :-2, :] + p[..., 1:-1, :] + p[..., 2:, :]       # 3-row sums, (H, W + 2)
    rows = p[..., :-2] + p[..., 1:-1] + p[..., 2:]               # 3-column sums, (H + 2, W)
    gx = cols[..., :-2] - cols[..., 2:]
    gy = rows[..., :-2, :] - rows[..., 2:, :]
    return torch.sqrt(gx * gx + gy * gy)


def _finite(out: Tensor) -> Tensor:
    if not bool(torch.isfinite(out).all()):
        i = int((~torch.isfinite(out)).nonzero()[0])
        raise ValueError(f'Qw of image {i} is not finite (the variance weights of the edge images sum to 0).')
    return out


@register_metric('qw', higher_is_better=True, needs_sources=True, min_size=WANG_WINDOW[0],
                 reference="Piella & Heijmans 2003 weighted fusion quality index on edge images, Wang's SSIM "
                           "(11x11 Gaussian sigma 1.5, K = 0.01/0.03, L = 255, 'valid'), as MEFB metricsQw.m (sw = 3)")
def piella_weighted(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Piella's weighted fusion quality index, per image, in the form MEFB's `metricsQw` (sw = 3) computes it.

    All three images are first replaced by their edge magnitudes sqrt(X^2 + Y^2) (3 x 3 Prewitt-like kernels,
    'same' with zero padding). On these, with Wang's SSIM maps (11 x 11 Gaussian window, sigma 1.5,
    K = (0.01, 0.03), L = 255, 'valid') and local variances s_A, s_B (both raised by 0.5 where both are 0):
    lambda = s_A / (s_A + s_B), c = max(s_A, s_B) / sum(max(s_A, s_B)) and
    Qw = sum c (lambda SSIM(F, A) + (1 - lambda) SSIM(F, B)). This is Piella's Q_W computed on edge images, i.e.
    the edge-dependent index Q_E with alpha = 1 and without the Q_W factor on the images themselves. Range
    [-1, 1]; 1 when the three images are equal.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors on the 0-255 scale, H, W >= 11.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: for bad shapes or values, images smaller than 11 x 11 (MEFB's `ssim_index` gives up there),
            or a non-finite result.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> img = torch.randint(0, 256, (1, 1, 16, 16), generator=g).double()
        >>> piella_weighted(img, img, img)
        tensor([1.], dtype=torch.float64)

    References:
        G. Piella, H. Heijmans, "A new quality metric for image fusion", ICIP 2003, vol. 3, 173-176.
        Code: xingchenzhang/MEFB @ 9e185bf, metrics/metricsQw.m.
    """
    check_images(fused, ir, vis, min_size=WANG_WINDOW[0])
    edges = _edge_magnitude(torch.cat([ir, vis, fused], dim=1).to(torch.float64))
    stats = local_moments(edges, [(0, 0), (1, 1), (2, 2), (2, 0), (2, 1)], gaussian_taps(*WANG_WINDOW))
    if _cpu_kernels.usable(stats, stats.numel()):
        sums = _cpu_kernels.piella_sums(stats, WANG_C1, WANG_C2)   # sum(weight * quality) / sum(weight)
        return _finite(sums[:, 0] / sums[:, 1])
    mu_a, mu_b, mu_f = stats[:, 0:1], stats[:, 1:2], stats[:, 2:3]
    var_a, var_b, var_f = (stats[:, 3 + i:4 + i] - m * m for i, m in enumerate((mu_a, mu_b, mu_f)))
    ssim_fa = _ssim_map(mu_f, mu_a, var_f, var_a, stats[:, 6:7] - mu_f * mu_a, WANG_C1, WANG_C2)
    ssim_fb = _ssim_map(mu_f, mu_b, var_f, var_b, stats[:, 7:8] - mu_f * mu_b, WANG_C1, WANG_C2)
    both_zero = ((var_a + var_b) == 0).to(torch.float64) * 0.5
    var_a, var_b = var_a + both_zero, var_b + both_zero
    lam = var_a / (var_a + var_b)
    weight = torch.maximum(var_a, var_b)
    weight = weight / weight.sum(dim=(1, 2, 3), keepdim=True)
    return _finite((weight * (lam * ssim_fa + (1 - lam) * ssim_fb)).sum(dim=(1, 2, 3)))


register_variant('qw', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsQw.m L39-165 (sw = 3: weighted index '
                 'on edge images) and ssim_index L167-361, called as metricsQw(ir, vis, fused)')
