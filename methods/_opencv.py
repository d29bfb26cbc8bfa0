"""OpenCV's 8-bit colour conversions, reproduced bit for bit in torch, for methods whose scripts colour with cv2.

Scripts such as TarDAL's read the visible image with `cv2.imread(path, cv2.IMREAD_COLOR)`, feed the network
`cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)`, and colour the fused luminance with the visible chroma by
`cv2.cvtColor(bgr, COLOR_BGR2YCrCb)` / `COLOR_YCrCb2BGR`. On uint8 images OpenCV computes these in fixed point:

* gray (OpenCV >= 4.0): `(9798 R + 19235 G + 3735 B + 2**14) >> 15`. OpenCV 3.4 used
  `(4899 R + 9617 G + 1868 B + 2**13) >> 14` instead (one level higher or lower on 0.26 % of all colours);
* YCrCb (every version): Y as gray on 14 bits, `Cr = (11682 (R - Y) + 128 * 2**14 + 2**13) >> 14`,
  `Cb = (9241 (B - Y) + ...) >> 14`, saturated to 0..255;
* back to RGB: `R = Y + ((22987 (Cr - 128) + 2**13) >> 14)`, `G = Y + ((-11698 (Cr - 128) - 5636 (Cb - 128)
  + 2**13) >> 14)`, `B = Y + ((29049 (Cb - 128) + 2**13) >> 14)`, saturated.

Functions take RGB (not BGR) levels 0..255 as (N, 3, H, W) tensors of any dtype and return float32 levels.
`tests/methods/test_opencv_protocol.py` checks each against `cv2.cvtColor` on all 2**24 colours.
"""
from __future__ import annotations

import torch
from torch import Tensor

from methods._protocol import levels

__all__ = ['cv_gray', 'cv_rgb_to_ycrcb', 'cv_ycrcb_to_rgb', 'cv_recolour', 'CVColour']


def _descale(x: Tensor, bits: int) -> Tensor:
    """OpenCV's CV_DESCALE: `(x + 2**(bits - 1)) >> bits` (arithmetic shift, i.e. floor)."""
    return torch.div(x + (1 << (bits - 1)), 1 << bits, rounding_mode='floor')


def _channels(rgb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return rgb.round().to(torch.int32).unbind(1) if rgb.is_floating_point() else rgb.to(torch.int32).unbind(1)


def _luma14(r: Tensor, g: Tensor, b: Tensor) -> Tensor:
    return _descale(r * 4899 + g * 9617 + b * 1868, 14)


def cv_gray(rgb: Tensor) -> Tensor:
    """`cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)` of OpenCV >= 4 on RGB levels (N, 3, H, W) -> (N, 1, H, W)."""
    r, g, b = _channels(rgb)
    return _descale(r * 9798 + g * 19235 + b * 3735, 15).unsqueeze(1).float()


def cv_rgb_to_ycrcb(rgb: Tensor) -> Tensor:
    """`cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)` on RGB levels (N, 3, H, W) -> (Y, Cr, Cb) levels (N, 3, H, W)."""
    r, g, b = _channels(rgb)
    y = _luma14(r, g, b)
    cr = _descale((r - y) * 11682 + (128 << 14), 14).clamp(0, 255)
    cb = _descale((b - y) * 9241 + (128 << 14), 14).clamp(0, 255)
    return torch.stack([y, cr, cb], 1).float()


def cv_ycrcb_to_rgb(ycrcb: Tensor) -> Tensor:
    """`cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR)` of (Y, Cr, Cb) levels (N, 3, H, W) -> RGB levels (N, 3, H, W)."""
    y, cr, cb = _channels(ycrcb)
    cr, cb = cr - 128, cb - 128
    r = y + _descale(cr * 22987, 14)
    g = y + _descale(cr * -11698 + cb * -5636, 14)
    b = y + _descale(cb * 29049, 14)
    return torch.stack([r, g, b], 1).clamp(0, 255).float()


def cv_recolour(y: Tensor, vis_rgb: Tensor) -> Tensor:
    """The fused luminance levels (N, 1, H, W) with the Cr/Cb of the visible RGB levels (N, 3, H, W), back to RGB
    through OpenCV's YCrCb (TarDAL's `ImagePair.save_fus(..., color=True)`)."""
    chroma = cv_rgb_to_ycrcb(vis_rgb)[:, 1:]
    return cv_ycrcb_to_rgb(torch.cat([y.to(chroma.dtype), chroma], 1))


class CVColour:
    """Mixin for `FusionMethod`: OpenCV's integer gray and YCrCb instead of the float JFIF path.

    The network sees `cv_gray` of a colour visible image (as float64 levels / 255, so `levels()` recovers the
    integer exactly inside `forward`); the fused luminance is recoloured by `cv_recolour`.
    """

    def split_luminance(self, vis: Tensor):
        rgb = levels(vis, step=1.0)
        return cv_gray(rgb).double() / 255, rgb

    def recolour(self, fused: Tensor, chroma) -> Tensor:
        return cv_recolour(levels(fused, step=1.0), chroma) / 255
