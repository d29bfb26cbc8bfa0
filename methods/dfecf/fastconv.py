"""3x3 convolutions (stride 1, padding 1) for inference on one image: NNPACK's Winograd kernels where torch has them.

On this project's CPU (2-core AMD EPYC, AVX2) NNPACK's inference convolution of one 640x480 image took half the time
of oneDNN's direct one for DFECF's wider layers (64 -> 128 channels: 0.27 against 0.59 s), in float32 with the same
error against float64 (max |error| 4e-4 against 3e-4 on outputs up to 174). Batches (training) gain nothing from it
(measured), and a 1-channel input is faster in oneDNN: those, and tensors that need gradients, stay on `F.conv2d`.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['conv3x3', 'nnpack_usable']


@functools.cache
def _nnpack_ready() -> bool:
    # `_nnpack_available` also initialises NNPACK; its convolution fails ("updateOutput failed") until then.
    return bool(getattr(torch, '_nnpack_available', lambda: False)())


def nnpack_usable(x: Tensor, weight: Tensor) -> bool:
    """Whether `conv3x3(x, weight, ...)` runs through NNPACK."""
    return (x.device.type == 'cpu' and x.dtype == weight.dtype == torch.float32 and x.dim() == 4 and x.shape[0] == 1
            and x.shape[1] > 1 and tuple(weight.shape[2:]) == (3, 3) and not torch.is_grad_enabled()
            and _nnpack_ready())


def conv3x3(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """`F.conv2d(x, weight, bias, padding=1)` for a 3x3 `weight`, through NNPACK where `nnpack_usable`."""
    if nnpack_usable(x, weight):
        bias = bias if bias is not None else weight.new_zeros(weight.shape[0])
        return torch._nnpack_spatial_convolution(x.contiguous(), weight.contiguous(), bias, [1, 1])
    return F.conv2d(x, weight, bias, padding=1)
