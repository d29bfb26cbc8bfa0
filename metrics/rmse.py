"""RMSE: root mean squared error between the fused image and the two sources."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric, register_variant
from metrics.mse import mean_squared_error


@register_metric('rmse', higher_is_better=False, needs_sources=True,
                 reference='textbook: sqrt(MSE), MSE = (mean((A - F)^2) + mean((B - F)^2)) / 2 on 0-255')
def root_mean_squared_error(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """RMSE = sqrt((mean((ir - fused)^2) + mean((vis - fused)^2)) / 2), in units of the input scale.

    The square root of the default `mse`, so that RMSE and PSNR (10 log10(255^2 / MSE)) describe the same error.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape (0-255 for the default convention).

    Returns:
        (N,) float64 tensor; lower is better.

    Raises:
        ValueError: if the inputs are not finite floating (N, 1, H, W) tensors of one shape.

    Example:
        >>> import torch
        >>> f = torch.zeros(1, 1, 2, 2)
        >>> root_mean_squared_error(f, f + 3, f + 5)                # sqrt((9 + 25) / 2)
        tensor([4.1231], dtype=torch.float64)

    References:
        Jagalingam, Hegde, "A review of quality metrics for fused image", Aquatic Procedia 4 (2015).
    """
    check_images(fused, ir, vis)
    return mean_squared_error(fused, ir, vis).sqrt()


def _root_sse_per_pixel(x: Tensor, y: Tensor) -> Tensor:
    """VIFB's `mse(a, b)`: sqrt(sum((a - b)^2)) / (M N), per image of (N, P) tensors."""
    return (x - y).square().sum(dim=1).sqrt() / x.shape[1]


def rmse_vifb(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """VIFB's "RMSE": the mean over the two sources of sqrt(sum((X - F)^2)) / (M N).

    `metricsRmse.m` calls a helper named `mse` that returns sqrt(SSE) / (M N) (the square root is taken of the sum,
    not of the mean), and averages it over the sources. This equals RMSE / sqrt(M N) for each source, so it is not
    an RMSE in grey levels and shrinks with the image size (0.134 on TNO #10 where the RMSE is about 83).

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape (0-255).

    Returns:
        (N,) float64 tensor; lower is better.

    Raises:
        ValueError: if the inputs are not finite floating (N, 1, H, W) tensors of one shape.

    Example:
        >>> import torch
        >>> f = torch.zeros(1, 1, 2, 2)
        >>> rmse_vifb(f, f + 2, f + 4)                              # (sqrt(16) / 4 + sqrt(64) / 4) / 2
        tensor([1.5000], dtype=torch.float64)

    References:
        xingchenzhang/VIFB @ 22b2ea9, metrics/metricsRmse.m (Rmse and mse, L36-59).
    """
    check_images(fused, ir, vis)
    f, a, b = (t.detach().to(torch.float64).flatten(1) for t in (fused, ir, vis))
    return (_root_sse_per_pixel(b, f) + _root_sse_per_pixel(a, f)) / 2


register_variant('rmse', 'vifb', 'xingchenzhang/VIFB @ 22b2ea9, metrics/metricsRmse.m L36-59: mean over the sources '
                 'of sqrt(sum((X - F)^2)) / (m*n)', rmse_vifb)
