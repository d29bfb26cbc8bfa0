"""SD: standard deviation of the fused image (contrast)."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric


@register_metric('sd', higher_is_better=True, needs_sources=False,
                 reference='textbook: population standard deviation (ddof 0), '
                           'as CDDFuse np.std and VIFB metricsVariance.m')
def standard_deviation(fused: Tensor) -> Tensor:
    """Population standard deviation of the pixel values, per image, in float64.

    Args:
        fused: (N, 1, H, W) float tensor on the 0-255 scale.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if `fused` is not a floating (N, 1, H, W) tensor.

    Example:
        >>> import torch
        >>> standard_deviation(torch.tensor([0., 10.]).repeat(8).reshape(1, 1, 4, 4))
        tensor([5.], dtype=torch.float64)

    References:
        Ma, Ma, Li, "Infrared and visible image fusion methods and applications: a survey", Inf. Fusion 45 (2019).
    """
    check_images(fused)
    return fused.detach().to(torch.float64).flatten(1).std(dim=1, correction=0)
