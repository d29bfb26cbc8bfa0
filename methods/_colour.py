"""Colour conversions used by the base class: full-range BT.601 YCbCr (JPEG / PIL 'YCbCr'), values in [0, 1]."""
from __future__ import annotations

import torch
from torch import Tensor

# Rows give Y, Cb, Cr from R, G, B (ITU-T T.871, the JFIF definition PIL uses).
_RGB_TO_YCBCR = torch.tensor([[0.299, 0.587, 0.114],
                              [-0.168736, -0.331264, 0.5],
                              [0.5, -0.418688, -0.081312]], dtype=torch.float64)
_YCBCR_TO_RGB = torch.linalg.inv(_RGB_TO_YCBCR)
_CHROMA_OFFSET = 128 / 255  # JFIF centres chroma on 128 of 255, not on 0.5


def rgb_to_ycbcr(rgb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Splits (N, 3, H, W) RGB in [0, 1] into Y, Cb, Cr planes of shape (N, 1, H, W); chroma centred on 128/255."""
    mat = _RGB_TO_YCBCR.to(rgb.device, rgb.dtype)
    ycc = torch.einsum('ij,njhw->nihw', mat, rgb)
    return ycc[:, :1], ycc[:, 1:2] + _CHROMA_OFFSET, ycc[:, 2:] + _CHROMA_OFFSET


def ycbcr_to_rgb(y: Tensor, cb: Tensor, cr: Tensor) -> Tensor:
    """Inverse of `rgb_to_ycbcr`: three (N, 1, H, W) planes to (N, 3, H, W) RGB, clamped to [0, 1]."""
    mat = _YCBCR_TO_RGB.to(y.device, y.dtype)
    ycc = torch.cat([y, cb - _CHROMA_OFFSET, cr - _CHROMA_OFFSET], dim=1)
    return torch.einsum('ij,njhw->nihw', mat, ycc).clamp_(0, 1)
