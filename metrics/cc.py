"""CC: mean correlation coefficient between each source image and the fused image."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric, register_variant


def _flat(t: Tensor) -> Tensor:
    return t.detach().to(torch.float64).flatten(1)


def _require_varying(x: Tensor, label: str) -> None:
    """Raises ValueError if an image of the batch is constant: its correlation is 0/0."""
    constant = x.amax(dim=1) == x.amin(dim=1)
    if bool(constant.any()):
        index = int(constant.nonzero()[0, 0])
        raise ValueError(f'{label} is constant (image {index} of the batch): CC is undefined, the correlation '
                         f'coefficient divides by its zero variance.')


def _correlation(x: Tensor, y: Tensor, x_center: Tensor | None = None) -> Tensor:
    """Pearson correlation per row of (N, P) tensors; `x_center` replaces mean(x) in the numerator only."""
    xc, yc = x - x.mean(dim=1, keepdim=True), y - y.mean(dim=1, keepdim=True)
    xn = xc if x_center is None else x - x_center
    return (xn * yc).sum(dim=1) / ((xc * xc).sum(dim=1) * (yc * yc).sum(dim=1)).sqrt()


def _checked(fused: Tensor, ir: Tensor, vis: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    check_images(fused, ir, vis)
    f, a, b = _flat(fused), _flat(ir), _flat(vis)
    for t, label in ((f, '`fused`'), (a, '`ir`'), (b, '`vis`')):
        _require_varying(t, label)
    return f, a, b


@register_metric('cc', higher_is_better=True, needs_sources=True,
                 reference='textbook: (corr(A, F) + corr(B, F)) / 2, Pearson correlation over all pixels '
                           '(as CDDFuse Evaluator.CC and Tang CC_evaluation.m)')
def correlation_coefficient(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """CC = (r(ir, fused) + r(vis, fused)) / 2, r the Pearson correlation coefficient over all pixels.

    Scale and offset invariant, in [-1, 1].

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape (any common scale).

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if the inputs are not finite floating (N, 1, H, W) tensors of one shape, or if one image is
            constant (its correlation is 0/0; the references return NaN there).

    Example:
        >>> import torch
        >>> f = torch.tensor([0., 1., 2., 3.]).view(1, 1, 2, 2)
        >>> correlation_coefficient(f, 2 * f + 1, 3 - f)            # r = 1 and r = -1
        tensor([0.], dtype=torch.float64)

    References:
        Ma, Ma, Li, "Infrared and visible image fusion methods and applications: a survey", Inf. Fusion 45 (2019).
        Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, utils/Evaluator.py, CC (L73-80).
    """
    f, a, b = _checked(fused, ir, vis)
    return (_correlation(a, f) + _correlation(b, f)) / 2


def correlation_coefficient_tang(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """CC as Tang's `CC_evaluation.m` codes it: the numerator of r(B, F) centres B with the mean of A.

    `rBF = sum((B - mean(A)) .* (F - mean(F))) / sqrt(...)`: since sum(F - mean(F)) = 0 the wrong centre cancels
    mathematically and only moves the value by floating-point noise (about 1e-16 relative); the variant keeps it so
    that it reproduces the code operation by operation.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: as `correlation_coefficient`.

    Example:
        >>> import torch
        >>> f = torch.tensor([0., 1., 2., 3.]).view(1, 1, 2, 2)
        >>> correlation_coefficient_tang(f, 2 * f + 1, 3 - f)
        tensor([0.], dtype=torch.float64)

    References:
        Linfeng-Tang/Image-Fusion @ 53f5542 and HEAD, General Evaluation Metric/Evaluation/CC_evaluation.m (L2-4).
    """
    f, a, b = _checked(fused, ir, vis)
    return (_correlation(a, f) + _correlation(b, f, x_center=a.mean(dim=1, keepdim=True))) / 2


register_variant('cc', 'cddfuse', 'Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, utils/Evaluator.py, CC (L73-80): '
                 '(rAF + rBF) / 2 on float32 0-255')
register_variant('cc', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, CC_evaluation.m on im2double images ([0, 1]), '
                 'rBF numerator centred with mean(A)', correlation_coefficient_tang, scale=1 / 255)
register_variant('cc', 'tang2023', 'Linfeng-Tang/Image-Fusion @ HEAD 2023, CC_evaluation.m on 0-255 double, '
                 'rBF numerator centred with mean(A)', correlation_coefficient_tang)
