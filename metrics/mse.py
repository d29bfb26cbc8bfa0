"""MSE: mean squared error between the fused image and each source, averaged over the two sources."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric, register_variant


@register_metric('mse', higher_is_better=False, needs_sources=True,
                 reference='textbook: (mean((A - F)^2) + mean((B - F)^2)) / 2 on 0-255 (as CDDFuse Evaluator.MSE)')
def mean_squared_error(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """MSE = (mean((ir - fused)^2) + mean((vis - fused)^2)) / 2, in squared units of the input scale.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape (0-255 for the default convention).

    Returns:
        (N,) float64 tensor; lower is better.

    Raises:
        ValueError: if the inputs are not finite floating (N, 1, H, W) tensors of one shape.

    Example:
        >>> import torch
        >>> f = torch.zeros(1, 1, 2, 2)
        >>> mean_squared_error(f, f + 2, f + 4)                     # (4 + 16) / 2
        tensor([10.], dtype=torch.float64)

    References:
        Jagalingam, Hegde, "A review of quality metrics for fused image", Aquatic Procedia 4 (2015).
        Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, utils/Evaluator.py, MSE (L68-71).
    """
    check_images(fused, ir, vis)
    f, a, b = (t.detach().to(torch.float64).flatten(1) for t in (fused, ir, vis))
    return ((a - f).square().mean(dim=1) + (b - f).square().mean(dim=1)) / 2


register_variant('mse', 'cddfuse', 'Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, utils/Evaluator.py, MSE (L68-71): '
                 '(mean((A - F)^2) + mean((B - F)^2)) / 2 on float32 0-255')
register_variant('mse', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, MSE_evaluation.m on im2double images '
                 '([0, 1]): 0.5 MSE_AF + 0.5 MSE_BF', scale=1 / 255)
register_variant('mse', 'tang2023', 'Linfeng-Tang/Image-Fusion @ HEAD 2023, MSE_evaluation.m: divides the 0-255 '
                 'images by 255 first, so MSE on [0, 1]', scale=1 / 255)
