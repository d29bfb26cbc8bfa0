"""AG: average gradient of the fused image (sharpness)."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._filters import matlab_gradient
from metrics._registry import register_metric, register_variant


def _gradient_magnitude_sum(fused: Tensor) -> Tensor:
    """Per image: sum of s = sqrt((gx^2 + gy^2) / 2), gx and gy the MATLAB/numpy `gradient` derivatives."""
    gx, gy = matlab_gradient(fused.detach().to(torch.float64))
    return ((gx.square() + gy.square()) / 2).sqrt().flatten(1).sum(dim=1)


@register_metric('ag', higher_is_better=True, needs_sources=False, min_size=2,
                 reference='sum of sqrt((gx^2 + gy^2) / 2) / ((M-1)(N-1)), gx, gy the MATLAB gradient '
                           '(as Tang 2022/2023, VIFB and MEFB AG_evaluation.m / metricsAvg_gradient.m)')
def average_gradient(fused: Tensor) -> Tensor:
    """Average gradient: sum of sqrt((gx^2 + gy^2) / 2) over all pixels, divided by (M - 1)(N - 1).

    gx and gy are the MATLAB/numpy `gradient` derivatives (central differences / 2 inside, one-sided differences on
    the borders), so every pixel has a value. This is the definition of the widely copied `avg_gradient.m` (Cui et
    al. 2015) that Tang's code, VIFB and MEFB all run; it is chosen as the textbook one because the published AG
    values of the field (and every MATLAB reference) use it, while CDDFuse's mean over M N differs from it by the
    factor (M - 1)(N - 1) / (M N) only. The forward-difference form that some papers write is computed by none of
    the references.

    Args:
        fused: (N, 1, H, W) float tensor on the 0-255 scale, H and W >= 2.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if `fused` is not a finite floating (N, 1, H, W) tensor with H, W >= 2 (with one row or column
            the divisor (M - 1)(N - 1) is 0).

    Example:
        >>> import torch
        >>> average_gradient(torch.tensor([[0., 2.], [0., 2.]]).view(1, 1, 2, 2))   # s = sqrt(2) at 4 pixels
        tensor([5.6569], dtype=torch.float64)

    References:
        Cui, Feng, Xu, Li, Chen, "Detail preserved fusion of visible and infrared images using regional saliency
        extraction and multi-scale image decomposition", Optics Communications 341 (2015).
        xingchenzhang/VIFB @ 22b2ea9, metrics/metricsAvg_gradient.m; Linfeng-Tang/Image-Fusion @ 53f5542,
        General Evaluation Metric/Evaluation/AG_evaluation.m.
    """
    check_images(fused, min_size=2)
    h, w = fused.shape[-2:]
    return _gradient_magnitude_sum(fused) / ((h - 1) * (w - 1))


def average_gradient_mean(fused: Tensor) -> Tensor:
    """AG as CDDFuse computes it: the mean of sqrt((gx^2 + gy^2) / 2) over all M N pixels.

    Same gradient as the default, but divided by M N instead of (M - 1)(N - 1), so the value is smaller by the factor
    (M - 1)(N - 1) / (M N) (0.99636 at 640 x 480).

    Args:
        fused: (N, 1, H, W) float tensor on the 0-255 scale, H and W >= 2 (CDDFuse indexes columns 0, 1, -2, -1).

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if `fused` is not a finite floating (N, 1, H, W) tensor with H, W >= 2.

    Example:
        >>> import torch
        >>> average_gradient_mean(torch.tensor([[0., 2.], [0., 2.]]).view(1, 1, 2, 2))
        tensor([1.4142], dtype=torch.float64)

    References:
        Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, utils/Evaluator.py, AG (L48-60).
    """
    check_images(fused, min_size=2)
    h, w = fused.shape[-2:]
    return _gradient_magnitude_sum(fused) / (h * w)


register_variant('ag', 'cddfuse', 'Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, utils/Evaluator.py, AG (L48-60): '
                 'np.mean of sqrt((Gx^2 + Gy^2) / 2) over M*N', average_gradient_mean)
register_variant('ag', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, AG_evaluation.m on uint8 F cast to double '
                 '(0-255): sum(s) / ((r-1)(c-1))')
register_variant('ag', 'tang2023', 'Linfeng-Tang/Image-Fusion @ HEAD 2023, AG_evaluation.m on 0-255 double: '
                 'sum(s) / ((r-1)(c-1))')
register_variant('ag', 'vifb', 'xingchenzhang/VIFB @ 22b2ea9, metrics/metricsAvg_gradient.m: sum(s) / ((r-1)(c-1)) '
                 'per band, averaged')
# MEFB's AG alone converts a colour fused image of gray sources with rgb2gray (double, unrounded) where the mefb
# convention (and MEFB's other metrics) take channel 1; the two agree whenever the fused image is gray.
register_variant('ag', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsAvg_gradient.m: sum(s) / ((r-1)(c-1)) '
                 'per band, averaged')
