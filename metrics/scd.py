"""SCD: sum of the correlations of differences (Aslantas and Bendes 2015)."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric, register_variant


def _require_varying(x: Tensor, label: str) -> None:
    """Raises ValueError if an image of the batch is constant: its correlation is 0/0."""
    constant = x.amax(dim=1) == x.amin(dim=1)
    if bool(constant.any()):
        index = int(constant.nonzero()[0, 0])
        raise ValueError(f'{label} is constant (image {index} of the batch): SCD is undefined, a correlation '
                         f'coefficient divides by its zero variance.')


def _correlation(x: Tensor, y: Tensor) -> Tensor:
    """MATLAB `corr2` per row of (N, P) tensors."""
    xc, yc = x - x.mean(dim=1, keepdim=True), y - y.mean(dim=1, keepdim=True)
    return (xc * yc).sum(dim=1) / ((xc * xc).sum(dim=1) * (yc * yc).sum(dim=1)).sqrt()


@register_metric('scd', higher_is_better=True, needs_sources=True,
                 reference='Aslantas and Bendes 2015: corr(F - B, A) + corr(F - A, B) '
                           '(as CDDFuse Evaluator.SCD and Tang analysis_SCD.m)')
def sum_of_correlations_of_differences(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """SCD = r(fused - vis, ir) + r(fused - ir, vis), r the Pearson correlation coefficient (MATLAB `corr2`).

    The difference image fused - vis is what the fused image took over from the infrared image and is correlated with
    it, and vice versa. Scale and offset invariant (the same offset on all three images), in [-2, 2].

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape (any common scale).

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if the inputs are not finite floating (N, 1, H, W) tensors of one shape, or if `ir`, `vis`,
            `fused` - `vis` or `fused` - `ir` is constant (a correlation of 0/0; the references return NaN there).

    Example:
        >>> import torch
        >>> a, b = torch.tensor([0., 1., 0., 2.]).view(1, 1, 2, 2), torch.tensor([3., 0., 1., 1.]).view(1, 1, 2, 2)
        >>> sum_of_correlations_of_differences(a + b, a, b)         # F = A + B keeps both sources entirely
        tensor([2.], dtype=torch.float64)

    References:
        Aslantas, Bendes, "A new image quality metric for image fusion: the sum of the correlations of
        differences", AEU Int. J. Electron. Commun. 69 (12) (2015).
        Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, utils/Evaluator.py, SCD (L87-96); Linfeng-Tang/Image-Fusion @ 53f5542,
        General Evaluation Metric/Evaluation/analysis_SCD.m.
    """
    check_images(fused, ir, vis)
    f, a, b = (t.detach().to(torch.float64).flatten(1) for t in (fused, ir, vis))
    f_minus_b, f_minus_a = f - b, f - a
    for t, label in ((a, '`ir`'), (b, '`vis`'), (f_minus_b, '`fused` - `vis`'), (f_minus_a, '`fused` - `ir`')):
        _require_varying(t, label)
    return _correlation(f_minus_b, a) + _correlation(f_minus_a, b)


register_variant('scd', 'cddfuse', 'Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, utils/Evaluator.py, SCD (L87-96): '
                 'corr(A, F - B) + corr(B, F - A) on float32 0-255')
register_variant('scd', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, analysis_SCD.m: corr2(F - B, A) + '
                 'corr2(F - A, B) on im2double images ([0, 1])', scale=1 / 255)
register_variant('scd', 'tang2023', 'Linfeng-Tang/Image-Fusion @ HEAD 2023, analysis_SCD.m: corr2(F - B, A) + '
                 'corr2(F - A, B) on 0-255 double')
