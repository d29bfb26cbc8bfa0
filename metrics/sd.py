"""SD: standard deviation of the fused image (contrast)."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric, register_variant


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


def standard_deviation_uint8(fused: Tensor) -> Tensor:
    """SD as Tang's 2022 MATLAB code computes it on a uint8 image: every step saturates to [0, 255].

    `SD_evaluation.m` subtracts the (double) mean from the uint8 image and squares the difference, both in uint8
    arithmetic, so negative deviations become 0 and squares cap at 255: sqrt(mean(min(max(round(F - mu), 0)^2, 255))).
    This is the bug behind the SD of about 9 in Metric_TNO.xlsx and in the DFECF paper's Table 3. MATLAB rounds
    half away from zero.

    Example:
        >>> import torch
        >>> standard_deviation_uint8(torch.tensor([0., 10.]).repeat(8).reshape(1, 1, 4, 4))  # deviations -5, +5
        tensor([3.5355], dtype=torch.float64)
    """
    check_images(fused)
    f = fused.detach().to(torch.float64).flatten(1)
    dev = f - f.mean(dim=1, keepdim=True)
    dev = (torch.sign(dev) * torch.floor(dev.abs() + 0.5)).clamp(0, 255)
    return (dev * dev).clamp(max=255).mean(dim=1).sqrt()


register_variant('sd', 'cddfuse', 'CDDFuse utils/Evaluator.py @ fd8da1f, SD (L38-41): np.std(F)')
register_variant('sd', 'tang2023', 'Linfeng-Tang/Image-Fusion @ HEAD 2023, SD_evaluation.m on 0-255 double')
register_variant('sd', 'vifb', 'xingchenzhang/VIFB @ 22b2ea9, metrics/metricsVariance.m L30-42 (an SD, not a variance)')
register_variant('sd', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, SD_evaluation.m called on uint8 F '
                 '(saturating uint8 arithmetic)', standard_deviation_uint8)
register_variant('sd', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsSD.m (its function is named '
                 'metricsVariance; an SD): population SD per channel, averaged')
