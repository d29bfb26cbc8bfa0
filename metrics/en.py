"""EN: Shannon entropy of the fused image's grey-level histogram."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric, register_variant


@register_metric('en', higher_is_better=True, needs_sources=False,
                 reference='textbook: Shannon entropy of the 256-bin histogram in bits '
                           '(as CDDFuse, VIFB, MATLAB entropy)')
def entropy(fused: Tensor) -> Tensor:
    """Entropy in bits of the 256-bin grey-level histogram, per image.

    Values are rounded to the nearest grey level and clipped to [0, 255] before binning, so integer images (what a
    saved PNG holds) are binned exactly.

    Args:
        fused: (N, 1, H, W) float tensor on the 0-255 scale.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if `fused` is not a floating (N, 1, H, W) tensor.

    Example:
        >>> import torch
        >>> img = torch.tensor([0., 255.]).repeat(8).reshape(1, 1, 4, 4)   # two grey levels, equally frequent
        >>> entropy(img)
        tensor([1.], dtype=torch.float64)

    References:
        Roberts, Van Aardt, Ahmed, "Assessment of image fusion procedures using entropy, image quality, and
        multispectral classification", J. Appl. Remote Sens. 2 (2008).
    """
    check_images(fused)
    n = fused.shape[0]
    levels = fused.detach().reshape(n, -1).round().clamp(0, 255).long()
    counts = torch.zeros(n, 256, dtype=torch.float64, device=fused.device)
    counts.scatter_add_(1, levels, torch.ones_like(levels, dtype=torch.float64))
    p = counts / levels.shape[1]
    return -(p * torch.log2(p.where(p > 0, torch.ones_like(p)))).sum(dim=1)


# Every reference bins integer grey levels into 256 bins and uses log2, so all equal the default on stored images.
register_variant('en', 'cddfuse', 'CDDFuse utils/Evaluator.py @ fd8da1f, EN (L31-36): bincount of round(F), log2')
register_variant('en', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, entropy(uint8 F) (MATLAB IPT, 256 bins)')
register_variant('en', 'tang2023', 'Linfeng-Tang/Image-Fusion @ HEAD 2023, analysis_Reference.m: entropy(uint8 F)')
register_variant('en', 'vifb', 'xingchenzhang/VIFB @ 22b2ea9, metrics/metricsEntropy.m L30-56: bins floor(F)+1, log2')
register_variant('en', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsEntropy.m: bins floor(F)+1, log2 '
                 '(per channel, averaged)')
