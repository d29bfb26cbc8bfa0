"""Input checks shared by every metric: clear ValueErrors instead of broadcasting surprises or silent NaNs."""
from __future__ import annotations

import torch
from torch import Tensor


def check_images(fused: Tensor, ir: Tensor | None = None, vis: Tensor | None = None, *, min_size: int = 1) -> None:
    """Raises ValueError unless every given image is a finite floating (N, 1, H, W) tensor of one common shape.

    Args:
        min_size: smallest height and width the metric is defined for (its window or filter size).
    """
    for label, t in (('fused', fused), ('ir', ir), ('vis', vis)):
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise ValueError(f'Expected `{label}` to be a torch.Tensor, but got {type(t).__name__}.')
        if t.ndim != 4 or t.shape[1] != 1:
            raise ValueError(f'Expected `{label}` of shape (N, 1, H, W), but got {tuple(t.shape)}.')
        if not t.is_floating_point():
            raise ValueError(f'Expected `{label}` to be floating point, but got {t.dtype}.')
        if t.shape != fused.shape:
            raise ValueError(f'Expected `{label}` of the same shape as `fused` {tuple(fused.shape)}, '
                             f'but got {tuple(t.shape)}.')
        if t.shape[0] == 0 or min(t.shape[2:]) < min_size:
            raise ValueError(f'Expected `{label}` with N >= 1 and H, W >= {min_size}, but got {tuple(t.shape)}.')
        # One summing pass: the sum is finite whenever every value is; only a non-finite sum (a NaN, an inf, or
        # an overflow of huge values) pays for the element-wise test.
        if not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
            raise ValueError(f'Expected `{label}` to be finite, but it has NaN or inf values.')
