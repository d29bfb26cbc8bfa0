"""CE: cross entropy (relative entropy) of the source histograms against the fused image's histogram."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._filters import histogram
from metrics._registry import register_metric, register_variant


def _levels(t: Tensor) -> Tensor:
    return t.detach().to(torch.float64).flatten(1).round().clamp(0, 255).long()


@register_metric('ce', higher_is_better=False, needs_sources=True,
                 reference='VIFB metricsCross_entropy.m (Bulanon et al. 2009): (KL(h_vis || h_F) + KL(h_ir || h_F)) '
                           '/ 2, 256-bin histograms, log2, over bins where both are nonzero')
def cross_entropy(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """CE = (D(h_vis || h_F) + D(h_ir || h_F)) / 2 in bits, D(p || q) = sum p log2(p / q).

    h are the normalised 256-bin grey-level histograms; the sum runs over the bins where both histograms are nonzero
    (a source level that the fused image never takes is skipped, not infinite). That is the definition as the
    fusion literature computes it (Bulanon et al.; VIFB and MEFB code): a relative entropy called cross entropy.
    Because of the skipped bins it can be slightly negative. Values are rounded to the nearest grey level and clipped
    to [0, 255] before binning, so stored 8-bit images are binned exactly.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape on the 0-255 scale.

    Returns:
        (N,) float64 tensor; lower is better (0 when the histograms are equal).

    Raises:
        ValueError: if the inputs are not finite floating (N, 1, H, W) tensors of one shape.

    Example:
        >>> import torch
        >>> f = torch.tensor([0., 0., 0., 255.]).view(1, 1, 2, 2)
        >>> v = torch.tensor([0., 0., 255., 255.]).view(1, 1, 2, 2)
        >>> cross_entropy(f, f, v)                  # (0.5 log2(0.5 / 0.75) + 0.5 log2(0.5 / 0.25) + 0) / 2
        tensor([0.1038], dtype=torch.float64)

    References:
        Bulanon, Burks, Alchanatis, "Image fusion of visible and thermal images for fruit detection", Biosystems
        Engineering 103 (1) (2009).
        xingchenzhang/VIFB @ 22b2ea9, metrics/metricsCross_entropy.m (L31-79).
    """
    check_images(fused, ir, vis)
    n, pixels = fused.shape[0], fused[0].numel()
    p = histogram(torch.cat([_levels(vis), _levels(ir), _levels(fused)])) / pixels   # (3N, 256)
    p_vis, p_ir, p_f = p[:n], p[n:2 * n], p[2 * n:]

    def divergence(q: Tensor) -> Tensor:
        both = (q > 0) & (p_f > 0)
        ratio = torch.where(both, q / torch.where(both, p_f, torch.ones_like(p_f)), torch.ones_like(q))
        return (q * torch.log2(ratio)).sum(dim=1)

    return (divergence(p_vis) + divergence(p_ir)) / 2


register_variant('ce', 'vifb', 'xingchenzhang/VIFB @ 22b2ea9, metrics/metricsCross_entropy.m L31-79: '
                 '(KL(VI||F) + KL(IR||F)) / 2, bins where both are nonzero, log2')
register_variant('ce', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsCross_entropy.m: as VIFB')
