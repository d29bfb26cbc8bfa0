"""Image resizing as the official scripts' libraries do it, reproduced in torch.

* `pil_resize_bilinear`: `scipy.misc.imresize(uint8_image, (h, w))` (scipy <= 1.2), i.e. PIL's
  `Image.resize((w, h), BILINEAR)` on 8-bit images: separable convolution resampling (support 1, widened by the
  scale factor when shrinking), coefficients in double normalised to 22-bit fixed point, a horizontal pass rounded to
  uint8, then a vertical pass (Pillow `libImaging/Resample.c`);
* `cv_resize_linear`: `cv2.resize(float32_image, (w, h))` (INTER_LINEAR): two-tap interpolation at
  `(d + 0.5) * scale - 0.5` (double; the fraction is then stored as a float32 weight), edges clamped, no
  anti-aliasing, horizontal then vertical pass. OpenCV's vectorised loops round some sums differently: results
  agree to 2 float32 ulps (2.4e-7 on [0, 1] data), not bit for bit.

Both act on (N, C, H, W) tensors, each channel alike, and are exact matrix products (PIL) or gathers (OpenCV), so
they run the same on any device. `tests/methods/test_resize.py` compares them with Pillow and OpenCV.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = ['pil_resize_bilinear', 'cv_resize_linear']

_PRECISION_BITS = 32 - 8 - 2  # Pillow's fixed point for 8-bit images


def _pil_coefficients(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) fixed-point weights of Pillow's bilinear resampling along one axis (float64 integers)."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = filterscale  # the bilinear filter's support is 1
    inv = 1.0 / filterscale
    weights = np.zeros((out_size, in_size))
    for out in range(out_size):
        centre = (out + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)  # C casts truncate toward zero, as int() does
        hi = min(int(centre + support + 0.5), in_size)
        k = [max(1.0 - abs((x - centre + 0.5) * inv), 0.0) for x in range(lo, hi)]
        total = 0.0
        for v in k:  # summed in order, as Pillow does
            total += v
        for x, v in zip(range(lo, hi), k):
            v = v / total if total != 0 else v
            weights[out, x] = math.trunc((-0.5 if v < 0 else 0.5) + v * (1 << _PRECISION_BITS))
    return weights


def _pil_pass(x: Tensor, weights: np.ndarray) -> Tensor:
    """One Pillow pass along the last axis of `x` (float64 levels): round to nearest via the 2**21 bias, clip."""
    w = torch.from_numpy(weights).to(x.device)
    acc = torch.matmul(x, w.T) + (1 << (_PRECISION_BITS - 1))  # integers below 2**53: exact in float64
    return torch.floor(acc / (1 << _PRECISION_BITS)).clamp(0, 255)


def pil_resize_bilinear(levels: Tensor, size: tuple[int, int]) -> Tensor:
    """`scipy.misc.imresize(img, size)` (bilinear) of (N, C, H, W) integer grey levels -> (N, C, h, w) float32 levels.

    Pillow resizes horizontally first (when the width changes), rounding to uint8, then vertically.
    """
    h, w = size
    x = levels.double()
    if x.shape[-1] != w:
        x = _pil_pass(x, _pil_coefficients(x.shape[-1], w))
    if x.shape[-2] != h:
        x = _pil_pass(x.transpose(-1, -2), _pil_coefficients(x.shape[-2], h)).transpose(-1, -2)
    return x.float()


def _cv_taps(in_size: int, out_size: int, device) -> tuple[Tensor, Tensor, Tensor]:
    """Source indices and float32 weights of OpenCV's INTER_LINEAR along one axis."""
    scale = 1.0 / (out_size / in_size)  # OpenCV: inv_scale = dsize / ssize (double), scale = 1 / inv_scale
    pos = (np.arange(out_size) + 0.5) * scale - 0.5  # kept in double until the weights are stored as float32
    left = np.floor(pos).astype(np.int64)
    frac = pos - left
    frac[left < 0] = 0
    left[left < 0] = 0
    edge = left >= in_size - 1
    frac[edge], left[edge] = 0, in_size - 1
    right = np.minimum(left + 1, in_size - 1)
    a1 = frac.astype(np.float32)
    a0 = np.float32(1) - a1
    return (torch.from_numpy(left).to(device), torch.from_numpy(right).to(device),
            torch.from_numpy(np.stack([a0, a1])).to(device))


def cv_resize_linear(x: Tensor, size: tuple[int, int]) -> Tensor:
    """`cv2.resize(img, (w, h))` (INTER_LINEAR) of a float32 (N, C, H, W) image -> (N, C, h, w) float32."""
    h, w = size
    x = x.float()
    left, right, a = _cv_taps(x.shape[-1], w, x.device)
    x = x[..., left] * a[0] + x[..., right] * a[1]
    top, bottom, b = _cv_taps(x.shape[-2], h, x.device)
    return x[..., top, :] * b[0].view(-1, 1) + x[..., bottom, :] * b[1].view(-1, 1)
