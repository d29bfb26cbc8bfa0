"""VIFF: Han et al.'s visual-information-fidelity fusion metric (multiscale, per-pixel choice of the source)."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics import _cpu_kernels
from metrics._checks import check_images
from metrics._registry import register_metric, register_variant
from metrics._filters import gaussian_taps, local_moments, separable_valid

HAN_NOISE = 0.005 * 255 * 255          # visual noise variance sigma_n^2 (metricsVIF.m L65)
HAN_C = 1e-7                           # added to every VID / VIND value before summing (L67)
HAN_WEIGHTS = (1 / 2.15, 0.0, 0.15 / 2.15, 1 / 2.15)   # p = [1, 0, 0.15, 1] / 2.15 (L89)
MIN_SIZE = 41   # the 3x3 window of scale 4 still fits after the 'valid' filtering and decimation of scales 2-4


def _vid_vind(mu, second, cross):
    """Per-pixel (VID, VIND, g) of both sources against the fused image at one scale (Sheikh's rules)."""
    mu_s, mu_f = mu[:, :2], mu[:, 2:]
    var_s = (second[:, :2] - mu_s * mu_s).clamp(min=0)
    var_f = (second[:, 2:] - mu_f * mu_f).clamp(min=0)
    cov = cross - mu_s * mu_f
    zero = torch.zeros((), dtype=cov.dtype, device=cov.device)
    g = cov / (var_s + 1e-10)
    sv = var_f - g * cov
    flat_s = var_s < 1e-10
    g = torch.where(flat_s, zero, g)
    sv = torch.where(flat_s, var_f, sv)
    var_s = torch.where(flat_s, zero, var_s)
    flat_f = var_f < 1e-10
    g = torch.where(flat_f, zero, g)
    sv = torch.where(flat_f, zero, sv)
    negative = g < 0
    sv = torch.where(negative, var_f, sv)
    g = torch.where(negative, zero, g)
    sv = sv.clamp(min=1e-10)   # sv_sq(sv_sq <= 1e-10) = 1e-10
    vid = torch.log10(1 + g * g * var_s / (sv + HAN_NOISE))
    vind = torch.log10(1 + var_s / HAN_NOISE)
    return vid, vind, g


@register_metric('viff', higher_is_better=True, needs_sources=True, min_size=MIN_SIZE,
                 reference='Han et al. 2013 VIFF as in MEFB metricsVIF.m + ComVidVindG (sigma_n^2 = 0.005*255^2, '
                           'per-pixel source with the smaller g, p = [1, 0, 0.15, 1]/2.15), gray')
def han_viff(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Han et al.'s VIFF, per image, as MEFB's `metricsVIF` computes it on gray images.

    At each of 4 scales (Gaussian windows N = 17, 9, 5, 3 with sigma = N/5; from scale 2 on, each image is first
    filtered 'valid' with that scale's window and decimated by 2), Sheikh's pixel-domain VIF statistics are
    computed for each source (reference) against the fused image ('valid' windows, negative variances clipped,
    the eps rules of `vifvec`), with visual noise sigma_n^2 = 0.005 * 255^2:
    VID = log10(1 + g^2 var_s / (s_v^2 + sigma_n^2)), VIND = log10(1 + var_s / sigma_n^2). Each pixel keeps the VID
    and VIND of the source with the smaller g; where the two g are equal (e.g. both 0) that is `vis` (MEFB's
    second source), so the metric is not exactly symmetric in the sources. Per scale
    F_s = sum(VID + 1e-7) / sum(VIND + 1e-7), and VIFF = sum_s p_s F_s with p = [1, 0, 0.15, 1] / 2.15.

    MEFB converts colour images to CIELAB (`makecform('srgb2lab')`) and scores L*. That branch is only reached
    for a gray fused image with colour sources (per-channel calls get 2-D planes); it is not reproduced: colour
    input is scored under each convention's channel rule (MEFB: per channel, averaged).

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors on the 0-255 scale, H, W >= 41 (below that, scale 4 has no
            valid window and MEFB's F_4 is 0/0 = NaN).

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: for bad shapes or values, or images smaller than 41 x 41.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> img = torch.randint(0, 256, (1, 1, 48, 48), generator=g).double()
        >>> round(han_viff(img, img, img).item(), 9)   # g = 1, s_v^2 = 0: VID = VIND (to the 1e-10 guards)
        1.0

    References:
        Y. Han, Y. Cai, Y. Cao, X. Xu, "A new image fusion performance metric based on visual information
        fidelity", Inf. Fusion 14 (2) (2013) 127-135. Code: xingchenzhang/MEFB @ 9e185bf, metrics/metricsVIF.m.
    """
    check_images(fused, ir, vis, min_size=MIN_SIZE)
    x = torch.cat([ir, vis, fused], dim=1).to(torch.float64)
    total = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    for scale in range(1, 5):
        size = 2 ** (5 - scale) + 1
        taps = gaussian_taps(size, size / 5)
        if scale > 1:
            x = separable_valid(x, taps, stride=2)
        stats = local_moments(x, [(0, 0), (1, 1), (2, 2), (0, 2), (1, 2)], taps)
        if _cpu_kernels.usable(stats, stats.numel()):
            sums = _cpu_kernels.viff_sums(stats, HAN_NOISE, HAN_C)
            total = total + HAN_WEIGHTS[scale - 1] * (sums[:, 0] / sums[:, 1])
            continue
        vid, vind, g = _vid_vind(stats[:, 0:3], stats[:, 3:6], stats[:, 6:8])
        pick_ir = g[:, 0:1] < g[:, 1:2]
        vid = torch.where(pick_ir, vid[:, 0:1], vid[:, 1:2])
        vind = torch.where(pick_ir, vind[:, 0:1], vind[:, 1:2])
        ratio = (vid + HAN_C).sum(dim=(1, 2, 3)) / (vind + HAN_C).sum(dim=(1, 2, 3))
        total = total + HAN_WEIGHTS[scale - 1] * ratio
    return total


register_variant('viff', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsVIF.m L54-178 (VIF + ComVidVindG, '
                 'gray branch; colour via the convention: per channel, averaged), called as metricsVIF(ir, vis, fused)')
