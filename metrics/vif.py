"""VIF: Sheikh & Bovik's multiscale pixel-domain visual information fidelity, summed over the two sources."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics import _cpu_kernels
from metrics._checks import check_images
from metrics._filters import filter_stack, gaussian_taps, local_moments, matlab_round
from metrics._registry import register_metric, register_variant

SIGMA_NSQ = 2.0      # HVS noise variance of vifp_mscale.m
EPS = 1e-10          # the reference's guard for near-zero variances
SCALES = 4
MIN_SIZE = 17        # the scale-1 window; smaller images leave every scale empty (0/0 in the reference)


def _vif_num_den(sources: list[Tensor], fused: Tensor, saturate: bool = False) -> tuple[Tensor, Tensor]:
    """Numerator and denominator of vifp_mscale(source, fused) for every source: two (N, S) tensors.

    Args:
        sources: S (N, 1, H, W) float64 reference images ("ref" in vifp_mscale.m).
        fused: (N, 1, H, W) float64 distorted image ("dist").
        saturate: scale-1 products as MATLAB computes them on uint8 images: min(x * y, 255).
    """
    n, k = fused.shape[0], len(sources)
    num, den = fused.new_zeros(n, k), fused.new_zeros(n, k)
    images = torch.cat(sources + [fused], dim=1)          # (N, S + 1, H, W): the references, then "dist"
    for scale in range(1, SCALES + 1):
        size = 2 ** (SCALES - scale + 1) + 1
        taps = gaussian_taps(size, size / 5)
        if scale > 1:
            images = filter_stack(images, taps, stride=2)
        if images.shape[-2] < size or images.shape[-1] < size:
            break  # MATLAB's 'valid' output is empty from here on: nothing more is added
        pairs = [(i, i) for i in range(k)] + [(i, k) for i in range(k)] + [(k, k)]
        cap = 255 if saturate and scale == 1 else None
        if _cpu_kernels.usable(images, images.numel() * 2):
            terms = _cpu_kernels.vif_scale(images, pairs, taps, cap, EPS, SIGMA_NSQ)
        else:
            terms = _vif_terms(local_moments(images, pairs, taps, cap=cap), k)
        num += terms[0]
        den += terms[1]
    return num, den


def _vif_terms(stats: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Sums over the pixels of log10(1 + g^2 s1 / s_v) and log10(1 + s1 / sigma_n^2) for each of the k references,
    from one scale's local moments, (N, 3k + 2, h, w) channels: means of r_1..r_k and d, of r_i^2, of r_i d, of
    d^2. Two (N, k) tensors. `_cpu_kernels.vif_scale` fuses it with the moments."""
    mu1, mu2 = stats[:, :k], stats[:, k:k + 1]
    s1, s12, s2 = stats[:, k + 1:2 * k + 1], stats[:, 2 * k + 1:3 * k + 1], stats[:, 3 * k + 1:]
    s2 = s2.addcmul_(mu2, mu2, value=-1).clamp_(min=0)
    s1 = s1.addcmul_(mu1, mu1, value=-1).clamp_(min=0)
    s12 = s12.addcmul_(mu1, mu2, value=-1)
    g = s12 / (s1 + EPS)
    sv = torch.addcmul(s2, g, s12, value=-1).clamp_(min=EPS).add_(SIGMA_NSQ)
    # The reference sets g = 0 where s1 < eps, s2 < eps or g < 0 (log10(1 + 0) adds 0), and s1 = 0 where
    # s1 < eps; s_v is floored at eps.
    s1_ok = s1 >= EPS
    g = torch.where(s1_ok & (s2 >= EPS) & (g > 0), g, 0.)
    return (_sum_log10(g.mul_(g).mul_(s1).div_(sv).add_(1)),
            _sum_log10(torch.where(s1_ok, s1, 0.).div_(SIGMA_NSQ).add_(1)))


def _sum_log10(x: Tensor, block: int = 8) -> Tensor:
    """sum(log10(x)) over H, W of (N, S, H, W) values x >= 1, as log10 of products of `block` values at a time.

    A logarithm costs about ten additions. Here x = 1 + g^2 s1 / (s_v + 2) or 1 + s1 / 2, and on 0-255 data
    |s12| <= 2 * 255^2 with s1 >= 1e-10 bounds x by about 1e20, so a product of 8 stays below 1e160; should one
    overflow anyway (images far outside 0-255), the plain sum is used. The result differs from the plain sum by
    rounding only (about 1e-16 relative per product).
    """
    flat = x.flatten(2)
    whole = flat.shape[2] - flat.shape[2] % block
    products = flat[..., :whole].reshape(*flat.shape[:2], -1, block).prod(dim=3)
    if bool(torch.isinf(products).any()):
        return torch.log10(flat).sum(dim=2)
    return torch.log10(products).sum(dim=2) + torch.log10(flat[..., whole:]).sum(dim=2)


def _prepare(fused: Tensor, ir: Tensor, vis: Tensor) -> tuple[list[Tensor], Tensor]:
    check_images(fused, ir, vis, min_size=MIN_SIZE)
    return [ir.detach().to(torch.float64), vis.detach().to(torch.float64)], fused.detach().to(torch.float64)


def _undefined(den: Tensor, saturated: bool = False) -> None:
    """Raises the ValueError for a zero denominator (the reference's 0/0 = NaN), naming the source."""
    zero = den == 0
    if bool(zero.any()):
        i, s = (int(v) for v in zero.nonzero()[0])
        label = ('ir', 'vis')[s]
        why = ('is constant, or its uint8-saturated scale-1 variances (from min(x^2, 255)) are all 0 and the image '
               'is under 25 pixels (no coarser scale)' if saturated else 'is constant')
        raise ValueError(f'`{label}` {why} in image {i}: it has no local variance at any scale, so VIF is undefined '
                         f'(0/0; vifp_mscale.m returns NaN).')


@register_metric('vif', higher_is_better=True, needs_sources=True, min_size=MIN_SIZE,
                 reference='textbook: Sheikh & Bovik multiscale pixel VIF (LIVE vifp_mscale.m, sigma_n^2 = 2), '
                           'VIF(IR, F) + VIF(VIS, F), 0-255 float64')
def vif(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Visual information fidelity of the fused image with respect to each source, summed over the two sources.

    Sheikh & Bovik's multiscale pixel-domain VIF as the LIVE `vifp_mscale.m` computes it, with the source as the
    reference and the fused image as the distorted image: at scales s = 1..4 an N x N Gaussian window
    (N = 2^(5-s) + 1, sigma = N/5); for s > 1 both images are first filtered 'valid' with it and decimated by 2;
    local means, variances and covariance from 'valid' filtering; g = s12 / (s1 + 1e-10), s_v = s2 - g s12 with the
    reference's guards (g = 0 where s1 < 1e-10, s2 < 1e-10 or g < 0; s_v >= 1e-10); then
    VIF = sum_s sum log10(1 + g^2 s1 / (s_v + 2)) / sum_s sum log10(1 + s1 / 2). This sum over the two sources is
    what CDDFuse and Tang's code report (so a perfect score is 2, not 1). Scales whose 'valid' window no longer fits
    (images under 41 pixels) add nothing, as MATLAB's empty 'valid' output does. The Gaussian windows are
    separable, which makes this a sequence of 1-D filters.

    Args:
        fused: (N, 1, H, W) float tensor on the 0-255 scale, H, W >= 17.
        ir: infrared source, same shape.
        vis: visible source, same shape.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if the images are not floating (N, 1, H, W) tensors of one shape with H, W >= 17, or if a source
            has no local variance at any scale (a constant image), where the ratio is 0/0.

    Example:
        >>> import torch
        >>> img = torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(0)) * 255
        >>> vif(img, img, img)   # each source is perfectly preserved: 1 + 1 (to the 1e-10 guard)
        tensor([2.0000], dtype=torch.float64)

    References:
        H. R. Sheikh, A. C. Bovik, "Image information and visual quality", IEEE Trans. Image Process. 15(2) (2006).
        LIVE `vifp_mscale.m` as shipped in Linfeng-Tang/Image-Fusion @ 53f5542,
        `General Evaluation Metric/Evaluation/vifp_mscale.m` L52-99.
    """
    sources, f = _prepare(fused, ir, vis)
    num, den = _vif_num_den(sources, f)
    _undefined(den)
    return (num / den).sum(dim=1)


def vif_cddfuse(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """VIF as CDDFuse's `Evaluator.VIFF`: the default sum, but a source whose ratio is NaN counts as 1.0.

    `compare_viff` returns 1.0 when num/den is NaN, i.e. when the source has no local variance at any scale (a
    constant image): 0/0. Everything else equals the default (CDDFuse filters with `convolve2d(x, rot90(win, 2))`,
    a correlation, in float64; its float32 images hold integers, whose products are exact). Images under 41 pixels
    differ: there scipy's `convolve2d(..., 'valid')` swaps its arguments once the image is smaller than the window
    (a meaningless number), while here, as in MATLAB, such scales add nothing.

    Example:
        >>> import torch
        >>> img = torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(0)) * 255
        >>> vif_cddfuse(img, torch.full_like(img, 9.), img)   # constant IR: 1.0 by definition, + 1 for VIS
        tensor([2.0000], dtype=torch.float64)
    """
    sources, f = _prepare(fused, ir, vis)
    num, den = _vif_num_den(sources, f)
    return torch.where(den == 0, 1., num / torch.where(den == 0, 1., den)).sum(dim=1)


def vif_uint8(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """VIF as Tang's 2022 code computes it: `vifp_mscale` called on uint8 images, so scale-1 products saturate.

    `analysis_Reference.m` @ 53f5542 (L26) calls `vifp_mscale(image_ir, image_f) + vifp_mscale(image_vis, image_f)`
    on the uint8 images from `imread`. `filter2` returns double, so the means are right, but `ref.*ref`,
    `dist.*dist` and `ref.*dist` at scale 1 are uint8 products that saturate at 255: the local variances there
    are computed from min(x * y, 255). From scale 2 on the images are the (double) filtered ones and the
    arithmetic is exact. This inflates the score (TNO-42 SeAFusion mean 0.981 instead of 0.704). Inputs are first
    converted as MATLAB's uint8() does (rounded half away from zero, clipped to [0, 255]). Where the local mean
    exceeds about 16 grey levels the saturated scale-1 variance is 0, so on an image under 25 pixels (no scale 2)
    that is not dark somewhere the reference divides 0 by 0: that raises, as a constant source does.

    Raises:
        ValueError: as the default, and when a source has no local variance at any scale after the saturation.

    Example:
        >>> import torch
        >>> img = (torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(0)) * 255).round()
        >>> vif(img * 0.5, img, img), vif_uint8(img * 0.5, img, img)   # halved contrast, seen through saturation
        (tensor([1.6257], dtype=torch.float64), tensor([1.3190], dtype=torch.float64))
    """
    sources, f = _prepare(fused, ir, vis)
    sources, f = [matlab_round(t, 0, 255) for t in sources], matlab_round(f, 0, 255)   # uint8()
    num, den = _vif_num_den(sources, f, saturate=True)
    _undefined(den, saturated=True)
    return (num / den).sum(dim=1)


register_variant('vif', 'cddfuse', 'CDDFuse utils/Evaluator.py @ fd8da1f, VIFF/compare_viff (L98-164): NaN -> 1.0 '
                 'per source', vif_cddfuse)
register_variant('vif', 'tang2023', 'Linfeng-Tang/Image-Fusion @ HEAD 2023, analysis_Reference.m L30: '
                 'vifp_mscale on 0-255 double, summed over the sources')
# min_size 25: saturation leaves scale 1 without variance on real images, so VIF needs the next scale (>= 25 px).
register_variant('vif', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, analysis_Reference.m L26: vifp_mscale.m on '
                 'uint8 images (saturating scale-1 products)', vif_uint8, min_size=25)
