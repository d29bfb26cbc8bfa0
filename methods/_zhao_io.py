"""Image reading and saving of Zixiang Zhao's test scripts (MMIF-CDDFuse, MMIF-EMMA): `image_read_cv2(path, 'GRAY')`
and `img_save`, reproduced bit for bit in torch.

Reading (`utils/img_read_save.py` of Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, `utils.py` of MMIF-EMMA @ 9983ca2):
`cv2.imread(path)` (BGR, a gray file as three equal channels) `.astype('float32')`, `cv2.cvtColor(COLOR_BGR2GRAY)`
on the float32 image, `np.round` (half to even), then `/ 255` in float32. OpenCV's float conversion is not its
integer one: the pip wheels of opencv-python on x86-64 run it through Intel IPP, which computes
`fma(R, 0.299f, fma(B, 0.114f, G * 0.587f))` in float32 (found by comparing all 2**24 colours with
opencv-python-headless 4.8.1.78 and 5.1.0, IPP enabled, on an AVX-512 CPU: equal on every colour; the authors pin
4.5.3.56, which has no wheel for Python 3.11). With IPP switched off
(`cv2.ipp.setUseIPP(False)`) OpenCV computes `R * 0.299f + (G * 0.587f + B * 0.114f)` instead, which rounds to a
different level on 546 of the 2**24 colours (`ipp=False`). Gray files (three equal channels) read as their level
either way.

Saving: `skimage.io.imsave(path, x)` of a float32 image of levels in [0, 255]. scikit-image 0.19 (the versions the
requirements pin) hands it to imageio's v2 `imsave` (imageio < 2.28), whose `image_as_uint` stretches any float
image outside [0, 1] to its own min and max in float64 and adds 0.499999999 before truncating:
`uint8((x - min) / (max - min) * 255 + 0.499999999)` (`imageio_uint8`). Newer imageio refuses float PNGs.
"""
from __future__ import annotations

import torch
from torch import Tensor

from methods._opencv import CVColour
from methods._protocol import levels

__all__ = ['CVFloatGray', 'cv_float_gray', 'imageio_uint8', 'minmax']

# OpenCV's float BGR2GRAY coefficients (R2YF, G2YF, B2YF), as float32 values
_R, _G, _B = (torch.tensor(c, dtype=torch.float32).item() for c in (0.299, 0.587, 0.114))


def _fma32(a: Tensor, b: float, c: Tensor) -> Tensor:
    """float32 fused multiply-add `a * b + c` with one rounding: exact in float64 for 8-bit `a` and float32 `c` of
    grey-level magnitude (the exact sum needs at most ~40 significant bits), then rounded once to float32."""
    return (a.double() * b + c.double()).float()


def cv_float_gray(rgb: Tensor, ipp: bool = True) -> Tensor:
    """`np.round(cv2.cvtColor(bgr.astype('float32'), COLOR_BGR2GRAY))` on RGB levels (N, 3, H, W) -> (N, 1, H, W)
    float32 levels; `ipp` chooses IPP's arithmetic (opencv-python's default on x86-64) or OpenCV's own."""
    r, g, b = rgb.float().unbind(1)
    if ipp:
        gray = _fma32(r, _R, _fma32(b, _B, g * _G))
    else:
        gray = r * _R + (g * _G + b * _B)
    return gray.round().unsqueeze(1)


class CVFloatGray(CVColour):
    """Mixin for `FusionMethod`: the visible luminance as `image_read_cv2(path, 'GRAY')` reads it (float64 levels
    / 255, so `levels()` recovers the integer); recolouring, when a user asks for colour, through OpenCV's integer
    YCrCb (`methods._opencv.cv_recolour`: the official scripts save gray only)."""
    ipp = True

    def split_luminance(self, vis: Tensor):
        rgb = levels(vis, step=1.0)
        return cv_float_gray(rgb, self.ipp).double() / 255, rgb


def minmax(x: Tensor) -> Tensor:
    """`(x - x.min()) / (x.max() - x.min())` over the whole tensor, as the scripts normalise each fused image
    (float32; a flat image, on which the script would divide by zero, maps to 0)."""
    lo, hi = x.min(), x.max()
    return (x - lo) / (hi - lo) if hi > lo else torch.zeros_like(x)


def imageio_uint8(x: Tensor) -> Tensor:
    """imageio's `image_as_uint(x, bitdepth=8)` for a float image (one image, any shape): values in [0, 1] are
    scaled by 255, others stretched to their min and max; `+ 0.499999999` and truncation in float64; a flat image
    outside [0, 1] is truncated as it is. Returns float32 levels 0..255."""
    x = x.double()
    lo, hi = x.min(), x.max()
    if lo >= 0 and hi <= 1:
        return torch.floor(x * 255 + 0.499999999).float()
    if hi == lo:
        return x.trunc().clamp(0, 255).float()
    return torch.floor((x - lo) / (hi - lo) * 255 + 0.499999999).float()
