"""Input checks shared by every metric: clear ValueErrors instead of broadcasting surprises or silent NaNs."""
from __future__ import annotations

import weakref

import torch
from torch import Tensor

# Tensors found finite, with their version counter then (in-place writes bump it): scoring one triple with all
# metrics of a convention checks the same three tensors dozens of times. Keyed by id, with a weak reference that
# removes the entry when the tensor goes (a WeakKeyDictionary would compare tensors with ==, elementwise).
_FINITE: dict[int, tuple[weakref.ref, int]] = {}


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
        version = _version(t)
        known = _FINITE.get(id(t))
        if version is not None and known is not None and known[0]() is t and known[1] == version:
            continue
        # One summing pass: the sum is finite whenever every value is; only a non-finite sum (a NaN, an inf, or
        # an overflow of huge values) pays for the element-wise test.
        if not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
            raise ValueError(f'Expected `{label}` to be finite, but it has NaN or inf values.')
        if version is not None:
            key = id(t)
            _FINITE[key] = (weakref.ref(t, lambda _, key=key: _FINITE.pop(key, None)), version)


def _version(t: Tensor) -> int | None:
    """The tensor's version counter, None where it has none (inference-mode tensors)."""
    try:
        return t._version
    except RuntimeError:
        return None
