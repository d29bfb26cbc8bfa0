"""Nabf: Petrovic's fusion-artefact measure as modified by B. K. Shreyamsha Kumar (lower is better)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from metrics import _cpu_kernels
from metrics._checks import check_images
from metrics._registry import register_metric, register_variant
from metrics.qabf import _sqrt_correctly_rounded

# Parameters of `objective_fusion_perform_fn` (B. K. Shreyamsha Kumar, 2011) as in Tang's analysis_nabf.m.
_TD, _WT_MIN, _LG = 2.0, 0.001, 1.5
_NRG, _KG, _SIGMA_G = 0.9999, 19.0, 0.5
_NRA, _KA, _SIGMA_A = 0.9995, 22.0, 0.5


def _sobel_reflect(x: Tensor) -> tuple[Tensor, Tensor]:
    """`sobel_fn`: (gv, gh), correlation of the mirror-extended image with [-1 0 1; -2 0 2; -1 0 1] / 8 and
    [-1 -2 -1; 0 0 0; 1 2 1] / 8.

    `per_extn_im_fn(x, 3)` mirrors without repeating the edge (row 0 becomes row 1: torch's 'reflect'). The taps
    are summed in MATLAB's `sum(sum(window .* kernel))` order (column sums top to bottom, then left to right): gv =
    s(right) - s(left) with s = (x_top / 8 + x_mid / 4) + x_bottom / 8, and gh = (d_left / 8 + d_mid / 4) +
    d_right / 8 with d = x_bottom - x_top. Scaling by 1/8 and 1/4 is exact, so this is bit for bit what MATLAB
    computes, also on [0, 1] data.
    """
    p = F.pad(x, (1, 1, 1, 1), mode='reflect')
    # a + alpha * b with alpha a power of 2: the product is exact, so one rounding per addition, as in MATLAB.
    s = (p[..., :-2, :] * 0.125).add_(p[..., 1:-1, :], alpha=0.25).add_(p[..., 2:, :], alpha=0.125)
    d = p[..., 2:, :] - p[..., :-2, :]
    gh = (d[..., :-2] * 0.125).add_(d[..., 1:-1], alpha=0.25).add_(d[..., 2:], alpha=0.125)
    return s[..., 2:] - s[..., :-2], gh


def _edges(x: Tensor, exact: bool) -> tuple[Tensor, Tensor, Tensor]:
    """(g^2, g, alpha) per pixel: g = sqrt(gh^2 + gv^2); alpha = atan(gv / gh), and 0 where gv == gh == 0."""
    gv, gh = _sobel_reflect(x)
    g2 = gh * gh + gv * gv
    g = _sqrt_correctly_rounded(g2) if exact else g2.sqrt()
    # atan(gv / gh) via atan2(t, 1), which torch vectorises; gh == 0 gives atan(+-inf) = +-pi/2 as in MATLAB.
    a = torch.atan2(gv / gh, torch.ones((), dtype=x.dtype, device=x.device))
    return g2, g, a.masked_fill_(g2 == 0, 0.0)


def _preservation(g_src: Tensor, a_src: Tensor, g_fus: Tensor, a_fus: Tensor) -> Tensor:
    """Q^XF = sqrt(Qg Qa): Qg of the relative strength (0 if either gradient is 0, else min / max), Qa of
    ||aX - aF| - pi / 2| * 2 / pi."""
    big = torch.maximum(g_src, g_fus)
    strength = torch.where(big == 0, torch.zeros_like(big), torch.minimum(g_src, g_fus) / big)
    orient = ((a_src - a_fus).abs_().sub_(math.pi / 2).abs_() * 2).div_(math.pi)
    q_g = torch.sigmoid_(strength.sub_(_SIGMA_G).mul_(_KG)).mul_(_NRG)
    q_a = torch.sigmoid_(orient.sub_(_SIGMA_A).mul_(_KA)).mul_(_NRA)
    return q_g.mul_(q_a).sqrt_()


def _nabf(fused: Tensor, ir: Tensor, vis: Tensor, exact: bool = False) -> Tensor:
    """`analysis_nabf(fused, ir, vis)` on float64 copies; `exact` takes correctly rounded square roots and branches
    on g itself (MATLAB's rounding, which matters on [0, 1] data); otherwise the branches use g^2, the same
    decisions wherever g^2 is a multiple of 1/64 (0-255 data)."""
    n = fused.shape[0]
    key_threshold = _TD if exact else _TD * _TD
    if _cpu_kernels.usable(fused, fused.numel() * 3, dtypes=(torch.float64, torch.float32)) and _LG == 1.5:
        planes = (t.detach().to(torch.float64) for t in (fused, ir, vis))
        num, den = _cpu_kernels.nabf_sums(*planes, exact, key_threshold, _WT_MIN)
        return num / den
    g2, g, a = _edges(torch.cat([fused, ir, vis]).detach().to(torch.float64), exact)
    key, threshold = (g if exact else g2), key_threshold
    (k_f, k_a, k_b), (g_f, g_a, g_b), (a_f, a_a, a_b) = key.split(n), g.split(n), a.split(n)
    w_a = torch.where(k_a >= threshold, g_a.pow(_LG), _WT_MIN)
    w_b = torch.where(k_b >= threshold, g_b.pow(_LG), _WT_MIN)
    artefact = (k_f > k_a) & (k_f > k_b)
    loss = (1 - _preservation(g_a, a_a, g_f, a_f)).mul_(w_a).add_((1 - _preservation(g_b, a_b, g_f, a_f)).mul_(w_b))
    return (loss * artefact).sum((1, 2, 3)) / (w_a + w_b).sum((1, 2, 3))


@register_metric('nabf', higher_is_better=False, needs_sources=True, min_size=2,
                 reference='Petrovic artefact measure modified by B. K. Shreyamsha Kumar (2011), as in Tang '
                           'analysis_nabf.m called the intended way: analysis_nabf(F, ir, vi) on 0-255 data')
def nabf(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Nabf: the share of edge information that the fused image adds without either source having it (artefacts).

    Gradients are `sobel_fn`'s Sobel / 8 with mirror extension (gv, gh), g = sqrt(gh^2 + gv^2) and
    alpha = atan(gv / gh) (0 where both are 0). For each source X, G = 0 if gX or gF is 0, else min / max;
    A = ||alphaX - alphaF| - pi / 2| * 2 / pi; Q^XF = sqrt(0.9999 / (1 + e^(-19 (G - 0.5))) *
    0.9995 / (1 + e^(-22 (A - 0.5)))). Weights w = g^1.5 where g >= 2, else 0.001. Then
    Nabf = sum(1[gF > gA and gF > gB] ((1 - Q^AF) wA + (1 - Q^BF) wB)) / sum(wA + wB).
    This is what analysis_nabf.m computes when called as intended, fused image first, on 0-255 data (TNO #10 with
    SeAFusion: 0.0446; TNO-42 mean 0.0807). Tang's two versions call it differently: see the variants.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape on the 0-255 scale, H and W >= 2.

    Returns:
        (N,) float64 tensor in [0, 1]; lower is better. Always defined (the weights are at least 0.001).

    Raises:
        ValueError: for tensors of the wrong shape, type or size, or non-finite values.

    Example:
        >>> import torch
        >>> vis = torch.zeros(1, 1, 8, 8); vis[..., 4:] = 100
        >>> ir = torch.zeros_like(vis)
        >>> nabf(vis, ir, vis).item()                  # F = VI: no artefacts
        0.0
        >>> round(nabf(2 * vis, ir, vis).item(), 4)    # F doubles the visible edge
        0.2931

    References:
        V. Petrovic, C. Xydeas, "Objective image fusion performance characterisation", ICCV 2005;
        B. K. Shreyamsha Kumar, "Multifocus and multispectral image fusion based on pixel significance using
        discrete cosine harmonic wavelet transform", SIViP 7 (2013).
        Linfeng-Tang/Image-Fusion @ 53f5542, General Evaluation Metric/Evaluation/analysis_nabf.m, sobel_fn.m,
        per_extn_im_fn.m (identical at HEAD).
    """
    check_images(fused, ir, vis, min_size=2)
    return _nabf(fused, ir, vis)


def nabf_tang2022(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Nabf as Tang's 2022 code computes it: called the right way round, but on `im2double` images ([0, 1]).

    On [0, 1] data no gradient reaches Td = 2 (Sobel / 8 of [0, 1] values is at most 0.71), so every weight is
    0.001 and Nabf becomes the plain mean of 1[gF > gA, gB] ((1 - Q^AF) + (1 - Q^BF)) / 2: 0.2093 on TNO #10 with
    SeAFusion, against 0.0446 on 0-255 data. It takes the [0, 1] images `im2double` gives (k / 255, which differs
    from k * (1 / 255) in the last bit: the registry's scale divides) and follows MATLAB's rounding (correctly
    rounded square roots, comparisons of g itself), which decides gF > gA on this scale.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape on the [0, 1] scale (k / 255), H and W >= 2.

    Returns:
        (N,) float64 tensor.

    Example:
        >>> import torch
        >>> vis = torch.zeros(1, 1, 8, 8); vis[..., 4:] = 100 / 255
        >>> round(nabf_tang2022(2 * vis, torch.zeros_like(vis), vis).item(), 4)   # 0.2931 on 0-255 data
        0.1616
    """
    check_images(fused, ir, vis, min_size=2)
    return _nabf(*(t.detach().to(torch.float64) for t in (fused, ir, vis)), exact=True)


def nabf_tang2023(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Nabf as Tang's 2023 code computes it: `analysis_nabf(ir, vi, F)`, so the IR image plays the fused image.

    analysis_Reference.m (L69) passes (img1_float, img2_float, img_f_float) = (ir, vi, F) to
    `analysis_nabf(f, I1, I2)`, whose first argument is the fused image. The number therefore measures edges of
    the IR image that neither the visible nor the fused image has: 0.019926 on TNO #10 with SeAFusion, against
    0.0446 for the intended order. On 0-255 data (`im2double * 255`, exact integers).

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape on the 0-255 scale, H and W >= 2.

    Returns:
        (N,) float64 tensor.

    Example:
        >>> import torch
        >>> vis = torch.zeros(1, 1, 8, 8); vis[..., 4:] = 100
        >>> round(nabf_tang2023(vis, 2 * vis, vis).item(), 4)   # F = VI, but the IR edge is stronger than both
        0.2931
    """
    check_images(fused, ir, vis, min_size=2)
    return _nabf(ir, vis, fused)


register_variant('nabf', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, analysis_nabf.m (+ sobel_fn.m, '
                 'per_extn_im_fn.m) called as analysis_nabf(F, ir, vi) on im2double images ([0, 1]): all weights '
                 '0.001', nabf_tang2022, scale=1 / 255)
register_variant('nabf', 'tang2023', 'Linfeng-Tang/Image-Fusion @ HEAD 2023, analysis_Reference.m L69: '
                 'analysis_nabf(ir, vi, F) (arguments swapped) on im2double*255', nabf_tang2023)
