"""Conventions: how a reference implementation turns stored images into the tensors its metrics see.

Scores from different references differ mostly here (gray conversion, rounding, value scale), so each convention
names one way and every score row records which one produced it. The metrics issue adds the reference conventions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from metrics._registry import DEFAULT_CONVENTION, _unknown, get_metric

__all__ = ['Convention', 'register_convention', 'get_convention', 'list_conventions', 'score_images']


def luminance_bt601(images: Tensor) -> Tensor:
    """(N, C, H, W) 0-255 -> (N, 1, H, W) float64: gray as stored, or BT.601 luma rounded to a grey level."""
    images = images.to(torch.float64)
    if images.shape[1] == 1:
        return images
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64, device=images.device).view(1, 3, 1, 1)
    return (images[:, :3] * weights).sum(dim=1, keepdim=True).round()


@dataclass(frozen=True)
class Convention:
    """A named way of computing metrics.

    Attributes:
        name: key used by `--convention` and recorded in every score row.
        description: what it reproduces, for `bench list conventions`.
        to_gray: maps stored images (N, C, H, W), values 0-255, to the (N, 1, H, W) tensors its metrics take.
    """
    name: str
    description: str
    to_gray: Callable[[Tensor], Tensor] = field(repr=False, compare=False)


_CONVENTIONS: dict[str, Convention] = {}


def register_convention(convention: Convention) -> Convention:
    if convention.name in _CONVENTIONS:
        raise ValueError(f'Convention {convention.name!r} is already registered.')
    _CONVENTIONS[convention.name] = convention
    return convention


def list_conventions() -> list[str]:
    return sorted(_CONVENTIONS)


def get_convention(name: str) -> Convention:
    try:
        return _CONVENTIONS[name]
    except KeyError:
        raise KeyError(_unknown('convention', name, list_conventions())) from None


register_convention(Convention(
    DEFAULT_CONVENTION,
    'Textbook definitions on 0-255 values; RGB images scored on their BT.601 luma rounded to grey levels '
    '(what converting the image to 8-bit gray gives).',
    luminance_bt601))


def score_images(fused: Tensor, ir: Tensor, vis: Tensor, metrics: list[str],
                 convention: str = DEFAULT_CONVENTION) -> dict[str, Tensor]:
    """Scores a batch of stored images with several metrics of one convention.

    Args:
        fused, ir, vis: (N, C, H, W) tensors with values 0-255 as stored (C = 1 or 3; uint8 or float).
        metrics: metric names registered for `convention`.
        convention: convention name.

    Returns:
        {metric name: (N,) float64 tensor}.

    Raises:
        KeyError: for an unknown metric or convention.
        ValueError: for images of different sizes.
    """
    conv = get_convention(convention)
    specs = [get_metric(m, convention) for m in metrics]
    if not (fused.shape[0] == ir.shape[0] == vis.shape[0] and fused.shape[2:] == ir.shape[2:] == vis.shape[2:]):
        raise ValueError(f'Expected `fused`, `ir` and `vis` of one size, but got {tuple(fused.shape)}, '
                         f'{tuple(ir.shape)} and {tuple(vis.shape)}.')
    f, a, b = conv.to_gray(fused), conv.to_gray(ir), conv.to_gray(vis)
    return {spec.name: spec(f, a, b) for spec in specs}
