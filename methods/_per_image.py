"""Running a network one image at a time, for methods whose output is quantised to grey levels."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

__all__ = ['per_image']


def per_image(fn: Callable[[Tensor, Tensor], Tensor], ir: Tensor, vis: Tensor) -> Tensor:
    """`fn` on each (ir, vis) pair of the batch alone, results concatenated.

    Batched convolutions round differently from single-image ones (about 1e-7 relative); a method that stretches
    its output and truncates to grey levels (as the official scripts save) turns that into a grey level now and
    then, so a pair's result would depend on the batch it came in. The official scripts fuse one pair at a time, and
    so does this.
    """
    if ir.shape[0] == 1:
        return fn(ir, vis)
    return torch.cat([fn(i, v) for i, v in zip(ir.split(1), vis.split(1))])
