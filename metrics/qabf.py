"""Qabf: Xydeas-Petrovic gradient-based fusion quality (edge strength and orientation preserved from the sources)."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from metrics import _cpu_kernels
from metrics._checks import check_images
from metrics._registry import register_metric, register_variant

# Model parameters of R. Hong's 2007 code (shared by every reference); L = 1 is declared there but unused.
_TG, _KG, _DG = 0.9994, -15.0, 0.5
_TA, _KA, _DA = 0.9879, -22.0, 0.8
# Sobel kernels as the references write them: Sx = conv2(x, _H3, 'same'), Sy = conv2(x, _H1, 'same').
_H1 = ((1., 2., 1.), (0., 0., 0.), (-1., -2., -1.))
_H3 = ((-1., 0., 1.), (-2., 0., 2.), (-1., 0., 1.))


def _padded_stack(*images: Tensor) -> Tensor:
    """The images stacked along the batch in float64, with the one-pixel zero border `conv2(..., 'same')` implies
    (one copy instead of a `cat` and a `pad`)."""
    n, (h, w) = images[0].shape[0], images[0].shape[-2:]
    p = torch.zeros((len(images) * n, 1, h + 2, w + 2), dtype=torch.float64, device=images[0].device)
    for i, t in enumerate(images):
        p[i * n:(i + 1) * n, :, 1:-1, 1:-1] = t.detach()
    return p


def _sobel(p: Tensor) -> tuple[Tensor, Tensor]:
    """`conv2(x, h3, 'same')` and `conv2(x, h1, 'same')` (true convolution, zero padding) as separable sums, from
    the zero-padded images `p`.

    Exact on integer-valued data (every partial sum is a small integer), where the order of the taps is irrelevant.
    """
    v = (p[..., :-2, :] + p[..., 2:, :]).add_(p[..., 1:-1, :], alpha=2)    # [1 2 1]' down the columns
    u = (p[..., :-2] + p[..., 2:]).add_(p[..., 1:-1], alpha=2)              # [1 2 1] along the rows
    return v[..., :-2] - v[..., 2:], u[..., 2:, :] - u[..., :-2, :]


def _sobel_matlab_order(p: Tensor) -> tuple[Tensor, Tensor]:
    """The same convolutions with MATLAB `conv2`'s rounding: taps accumulated in column-major kernel order.

    out(i, j) = sum over q (columns of h), then r (rows of h), of h(r, q) * x(i + 1 - r, j + 1 - q) (0-based,
    zero-padded), skipping zero taps (adding 0 changes nothing). On [0, 1] data (k / 255) the partial sums round, and
    this order reproduces MATLAB's results bit for bit on TNO-42 (Tang 2022 Qabf to 3e-15).
    """
    h, w = p.shape[-2] - 2, p.shape[-1] - 2

    def conv(kernel):
        acc = None
        for q in range(3):
            for r in range(3):
                c = kernel[r][q]
                if c:
                    term = p[..., 2 - r:2 - r + h, 2 - q:2 - q + w]
                    term = term if c == 1 else term * c
                    acc = term if acc is None else acc + term
        return acc
    return conv(_H3), conv(_H1)


def _sqrt_correctly_rounded(x: Tensor) -> Tensor:
    """sqrt(x) rounded correctly, as MATLAB's and numpy's are; torch's vectorised float64 sqrt is off by one ulp on
    about 1% of inputs (measured on CPU), which changes `gX == gF` on [0, 1] data. One Newton step with the exact
    residual x - s^2 (Dekker's product, no FMA needed) corrects it."""
    s = x.sqrt()
    c = s * 134217729.0                                       # 2^27 + 1: Veltkamp split of s into hi + lo
    hi = c - (c - s)
    lo = s - hi
    p = s * s
    residual = (x - p) - (((hi * hi - p) + 2 * hi * lo) + lo * lo)
    return torch.where(s > 0, s + residual / (2 * s), s)


def _gradients(p: Tensor, exact: bool) -> tuple[Tensor, Tensor, Tensor]:
    """(g^2, g, alpha) per pixel of the zero-padded images `p`: g = sqrt(Sx^2 + Sy^2); alpha = atan(Sy / Sx), and
    pi / 2 where Sx == 0.

    `exact` follows MATLAB's rounding (see `qabf_tang2022`); otherwise the faster forms, which agree to the last
    bit or two (atan via atan2(t, 1), which torch vectorises, within one ulp).
    """
    if exact:
        sx, sy = _sobel_matlab_order(p)
        g2 = sx * sx + sy * sy
        g = _sqrt_correctly_rounded(g2)
    else:
        sx, sy = _sobel(p)
        g2 = (sx * sx).addcmul_(sy, sy)
        g = g2.sqrt()
    flat = sx == 0
    a = torch.atan2(sy.div_(sx), torch.ones((), dtype=sx.dtype, device=sx.device))
    return g2, g, a.masked_fill_(flat, math.pi / 2)


def _preservation(key_src: Tensor, g_src: Tensor, a_src: Tensor, key_fus: Tensor, g_fus: Tensor,
                  a_fus: Tensor) -> Tensor:
    """Q^XF * gX / (Tg Ta) per pixel, with Hong's relative strength rule: G = gF where gX == gF (not 1).

    G = min / max otherwise (= gF / gX where gX > gF, gX / gF where gX < gF, the same divisions).
    Qg = Tg / (1 + exp(kg (G - Dg))) = Tg sigmoid(15 (G - 0.5)); Qa likewise with A = 1 - |aX - aF| / (pi / 2).
    `key_*` decide the equality branch: g itself, or g^2 (the same decisions as a correctly rounded sqrt where g^2
    holds integers, as it does on 0-255 data, and independent of the last bit of torch's sqrt).
    """
    strength = torch.minimum(g_src, g_fus).div_(torch.maximum(g_src, g_fus))
    strength = torch.where(key_src == key_fus, g_fus, strength, out=strength)
    q = torch.sigmoid_(strength.sub_(_DG).mul_(-_KG))
    q_a = torch.sigmoid_((a_src - a_fus).abs_().div_(math.pi / 2).sub_(1 - _DA).mul_(_KA))   # ka (A - Da)
    return q.mul_(q_a).mul_(g_src)


def _qabf(fused: Tensor, ir: Tensor, vis: Tensor, exact: bool = False) -> Tensor:
    """Batched Qabf on float64 copies; `exact` selects MATLAB's rounding (tap order, sqrt, branches on g)."""
    n = fused.shape[0]
    fused, ir, vis = (t.detach().to(torch.float64) for t in (fused, ir, vis))
    if _cpu_kernels.usable(fused, fused.numel() * 3):
        num, den = _cpu_kernels.qabf_sums(fused, ir, vis, (_DG, _KG, _DA, _KA), exact)
    else:
        g2, g, a = _gradients(_padded_stack(fused, ir, vis), exact)
        key = g if exact else g2
        (k_f, k_a, k_b), (g_f, g_a, g_b), (a_f, a_a, a_b) = key.split(n), g.split(n), a.split(n)
        num = _preservation(k_a, g_a, a_a, k_f, g_f, a_f).add_(_preservation(k_b, g_b, a_b, k_f, g_f, a_f))
        num, den = num.sum((1, 2, 3)), g_a.sum((1, 2, 3)) + g_b.sum((1, 2, 3))
    if bool((den == 0).any()):
        i = int((den == 0).nonzero()[0])
        raise ValueError(f'`ir` and `vis` have no gradient anywhere (image {i} of the batch): both are constant '
                         'zero (with zero padding any other image has gradients, at least at its border) or 1 x 1, '
                         'so Qabf = 0/0 is undefined (the references return NaN).')
    return num.mul_(_TG * _TA).div_(den)


@register_metric('qabf', higher_is_better=True, needs_sources=True,
                 reference='Xydeas & Petrovic (2000) as coded by R. Hong (2007): CDDFuse Evaluator.Qabf, '
                           'Tang analysis_Qabf.m, VIFB/MEFB metricsQabf.m (all on 0-255 data)')
def qabf(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Qabf: how much of the sources' edge strength and orientation the fused image keeps, in [0, 1].

    R. Hong's code, which every reference reproduces: Sobel responses Sx = conv2(x, [-1 0 1; -2 0 2; -1 0 1]) and
    Sy = conv2(x, [1 2 1; 0 0 0; -1 -2 -1]) ('same', zero padding, true convolution), g = sqrt(Sx^2 + Sy^2) and
    alpha = atan(Sy / Sx) (pi / 2 where Sx == 0). For each source X, G = min(gX, gF) / max(gX, gF) except G = gF
    where gX == gF (the code's rule, not 1), A = 1 - |alphaX - alphaF| / (pi / 2), and
    Q^XF = 0.9994 / (1 + exp(-15 (G - 0.5))) * 0.9879 / (1 + exp(-22 (A - 0.8))).
    Qabf = sum(Q^AF gA + Q^BF gB) / sum(gA + gB). On 0-255 data, as CDDFuse, Tang 2023 and VIFB compute it.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape on the 0-255 scale.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: for tensors of the wrong shape, type or size, non-finite values, or when `ir` and `vis` are both
            all zero (or 1 x 1): no source gradient anywhere, so the weighted mean is 0/0 (the references give NaN).

    Example:
        >>> import torch
        >>> ir = torch.zeros(1, 1, 8, 8); ir[..., 4:] = 255
        >>> round(qabf(ir, ir, ir.transpose(-1, -2)).item(), 4)   # F keeps the IR edge, loses the visible one
        0.5765

    References:
        C. S. Xydeas, V. Petrovic, "Objective image fusion performance measure", Electronics Letters 36 (2000).
        Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, utils/Evaluator.py L166-212.
    """
    check_images(fused, ir, vis)
    return _qabf(fused, ir, vis)


def qabf_tang2022(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Qabf as Tang's 2022 code computes it: on `im2double` images ([0, 1]), with MATLAB's rounding.

    `Evaluation_for_Multi_Algorithm.m` passes `im2double` images (k / 255) to `analysis_Qabf`. On that scale the
    Sobel sums round, and the `gX == gF` branch (G = gF, a tiny value here, where a ratio would be near 1) and the
    `Sx == 0` test depend on the last bit. So this sums the taps in MATLAB `conv2`'s column-major kernel order, takes
    correctly rounded square roots and branches on g itself, which reproduces Tang's Metric_TNO.xlsx to 3e-15
    (the textbook tap order alone moves it by up to 3e-2). It takes the [0, 1] images `im2double` gives (k / 255:
    k * (1 / 255) differs from that by one ulp for 24 of the 256 grey levels, and that alone moves this Qabf by up
    to 2e-2; the registry's scale divides, see `metrics._registry.rescale`).

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape on the [0, 1] scale (k / 255).

    Returns:
        (N,) float64 tensor.

    Example:
        >>> import torch
        >>> ir = torch.zeros(1, 1, 8, 8); ir[..., 4:] = 1
        >>> round(qabf_tang2022(ir, ir, ir.transpose(-1, -2)).item(), 4)
        0.5765
    """
    check_images(fused, ir, vis)
    return _qabf(*(t.detach().to(torch.float64) for t in (fused, ir, vis)), exact=True)


register_variant('qabf', 'cddfuse', 'CDDFuse utils/Evaluator.py @ fd8da1f, Qabf L166-212; it computes in float32 '
                 '(float32 images, np.sum of float32), which leaves differences below 2e-7 relative to this float64 '
                 'evaluation')
register_variant('qabf', 'tang2023', 'Linfeng-Tang/Image-Fusion @ HEAD 2023, analysis_Qabf.m on im2double*255 '
                 '(analysis_Reference.m)')
register_variant('qabf', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, analysis_Qabf.m L8-102 on im2double '
                 'images ([0, 1]) with MATLAB conv2 rounding (Evaluation_for_Multi_Algorithm.m)', qabf_tang2022,
                 scale=1 / 255)
register_variant('qabf', 'vifb', 'xingchenzhang/VIFB @ 22b2ea9, metrics/metricsQabf.m L32-143: '
                 '255*im2double(double(x)), i.e. 0-255 data times 255 again', scale=255.0)
register_variant('qabf', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsQabf.m: as VIFB, '
                 '255*im2double(double(x))', scale=255.0)
