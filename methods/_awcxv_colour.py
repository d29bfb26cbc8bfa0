"""The colour conversions of AWCXV's test scripts (MUFusion `test_image_rgb.py`, GIFNet `test.py`), as numpy
evaluates them.

Both scripts convert with their own matrices on float64 levels 0..255, chroma centred on 0:

* `rgb_to_ycbcr`: `Y = 0.299 R + 0.587 G + 0.114 B` clipped to 0..255, `Cb = -0.169 R - 0.331 G + 0.5 B`,
  `Cr = 0.5 R - 0.419 G - 0.081 B` (`np.dot` of an (H, W, 3) array: each sum left to right, no fused multiply-add;
  checked against numpy in `tests/methods/test_awcxv_colour.py`);
* `ycbcr_to_rgb`: `R = Y + 1.402 Cr`, `G = Y - 0.344136 Cb - 0.714136 Cr`, `B = Y + 1.772 Cb` (the matrix's zero
  terms add nothing), clipped to 0..255, `np.round` (half to even).

Order matters where a result is truncated or rounded: the float sum of an exact integer Y can fall just below it
(gray levels 1, 2, 4, 8, 11, ... sum to a hair under themselves), and a gray image's Cb/Cr are not exactly zero.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ['script_chroma', 'script_luminance', 'script_recolour']


def _channels(rgb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return rgb.double().unbind(1)


def script_luminance(rgb: Tensor) -> Tensor:
    """Y of RGB levels (N, 3, H, W), clipped to 0..255, float64 (N, 1, H, W)."""
    r, g, b = _channels(rgb)
    return (r * 0.299 + g * 0.587 + b * 0.114).clamp(0, 255).unsqueeze(1)


def script_chroma(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """(Cb, Cr) of RGB levels (N, 3, H, W), centred on 0, float64 (N, 1, H, W) each."""
    r, g, b = _channels(rgb)
    return (r * -0.169 + g * -0.331 + b * 0.5).unsqueeze(1), (r * 0.5 + g * -0.419 + b * -0.081).unsqueeze(1)


def script_recolour(y: Tensor, cb: Tensor, cr: Tensor) -> Tensor:
    """RGB levels (N, 3, H, W) float32 from luminance levels `y` (N, 1, H, W; any range, promoted to float64) and
    the visible image's `script_chroma`."""
    y = y.double()
    rgb = torch.cat([y + cr * 1.402, y + cb * -0.344136 + cr * -0.714136, y + cb * 1.772], 1)
    return rgb.clamp(0, 255).round().float()
