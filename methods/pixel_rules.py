"""Pixel rules with exact outputs: they exercise the pipeline and are the floor any learned method must beat."""
from __future__ import annotations

import torch
from torch import Tensor

from methods._base import FusionMethod
from methods._registry import register_method


class Average(FusionMethod):
    """Fused = (IR + VIS) / 2."""

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return (ir + vis) / 2


class Maximum(FusionMethod):
    """Fused = max(IR, VIS), pixel by pixel."""

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return torch.maximum(ir, vis)


@register_method(paper='Pixel-wise average of the two sources (classic baseline).', licence='MIT (this project)',
                 tags=('pixel-rule',), verification='exact (the rule itself)')
def average() -> Average:
    return Average()


@register_method(paper='Pixel-wise maximum of the two sources (classic baseline).', licence='MIT (this project)',
                 tags=('pixel-rule',), verification='exact (the rule itself)')
def maximum() -> Maximum:
    return Maximum()
