"""OpenCV's 8-bit HSV conversions (`COLOR_RGB2HSV`, `COLOR_HSV2RGB`, hue range 0..180), bit for bit in torch.

* RGB -> HSV is integer arithmetic (OpenCV `RGB2HSV_b`): `V = max(R, G, B)`, `diff = V - min`,
  `S = (diff * sdiv[V] + 2**11) >> 12`, `H = (h6 * hdiv[diff] + 2**11) >> 12` plus 180 when negative, where h6 is
  `G - B`, `B - R + 2 diff` or `R - G + 4 diff` as R, G or B is the maximum (R first), and the tables are
  `sdiv[i] = round(255 * 2**12 / i)`, `hdiv[i] = round(180 * 2**12 / (6 i))` (0 at i = 0).
* HSV -> RGB goes through float32 (OpenCV `HSV2RGB_b`): `s = S * (1/255)`, `v = V * (1/255)`, `h = H * (6/180)`,
  sector and fraction of h, `tab = (v, v (1 - s), v (1 - s f), v (1 - s (1 - f)))` and the sector's choice of tabs,
  then `* 255`. Two details decide single grey levels: the builds for x86-64 with AVX2 contract `1 - s * f` into one
  fused multiply-add in the vector code (one rounding; reproduced in float64, which is exact for these products), and
  each image row is converted in blocks of 32 pixels by vector code that TRUNCATES `x * 255` to an integer, while
  the row's last `width % 32` pixels go through scalar code that ROUNDS it (half to even) and, in the 4.5.5 wheels,
  fuses `1 - s f` but rounds `s (1 - f)` before subtracting it (the 5.1 wheels fuse both there too: `tail_fma`).

Checked against `cv2.cvtColor` of opencv-python-headless 4.5.5 and 5.1 (x86-64, AVX2 dispatch) on every RGB colour
and every (H <= 180, S, V) triple, at widths that put each pixel in the vector blocks and in the scalar tail;
`tests/methods/test_metafusion.py` repeats that against the installed cv2 (2**20 seeded colours and triples, or all
with BENCH_FULL_FIDELITY=1). Both functions take and return levels as (N, 3, H, W) float32 tensors; like
OpenCV, they read the three channels as R, G, B in that order.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ['cv_rgb_to_hsv', 'cv_hsv_to_rgb']

_HSV_SHIFT = 12
_VECTOR_BLOCK = 32  # pixels per vector iteration of HSV2RGB_b with AVX2 (4 x 8 float lanes)
# per sector 0..5: which tab each of R, G, B takes (OpenCV's sector_data, listed there as B, G, R)
_SECTOR_TABS = ((0, 3, 1), (2, 0, 1), (1, 0, 3), (1, 2, 0), (3, 1, 0), (0, 1, 2))


def _tables(device) -> tuple[Tensor, Tensor]:
    i = torch.arange(256, dtype=torch.float64, device=device)
    safe = i.clamp(min=1)
    sdiv = torch.where(i > 0, torch.round((255 << _HSV_SHIFT) / safe), 0)
    hdiv = torch.where(i > 0, torch.round((180 << _HSV_SHIFT) / (6 * safe)), 0)
    return sdiv.long(), hdiv.long()


def cv_rgb_to_hsv(rgb: Tensor) -> Tensor:
    """`cv2.cvtColor(x, cv2.COLOR_RGB2HSV)` of uint8 levels: (N, 3, H, W) R, G, B -> H (0..179), S, V levels."""
    r, g, b = rgb.round().long().unbind(1)
    v = torch.maximum(torch.maximum(r, g), b)
    diff = v - torch.minimum(torch.minimum(r, g), b)
    sdiv, hdiv = _tables(rgb.device)
    half = 1 << (_HSV_SHIFT - 1)
    s = torch.div(diff * sdiv[v] + half, 1 << _HSV_SHIFT, rounding_mode='floor')
    h6 = torch.where(v == r, g - b, torch.where(v == g, b - r + 2 * diff, r - g + 4 * diff))
    h = torch.div(h6 * hdiv[diff] + half, 1 << _HSV_SHIFT, rounding_mode='floor')
    h = torch.where(h < 0, h + 180, h)
    return torch.stack([h, s, v], 1).float()


def _one_minus_product(a: Tensor, b: Tensor, fused: bool = True) -> Tensor:
    """float32 `1 - a * b`: rounded once, as a fused multiply-add computes it (the float64 product is exact), or
    twice (`fused=False`: the product, then the difference)."""
    return (1.0 - a.double() * b.double()).float() if fused else 1.0 - a * b


def cv_hsv_to_rgb(hsv: Tensor, tail_fma: bool = False) -> Tensor:
    """`cv2.cvtColor(x, cv2.COLOR_HSV2RGB)` of uint8 H (0..180), S, V levels (N, 3, H, W) -> R, G, B levels (float32),
    with OpenCV's vector blocks and scalar row tail (module docstring).

    `tail_fma`: whether the scalar tail also fuses `1 - s * (1 - f)`, as the vector code does: not in the
    opencv-python 4.5.5 wheels (MetaFusion's environment, the default; they fuse `1 - s * f` only), yes in 5.1 (one
    grey level apart on 172 of the 11.8 million (H, S, V) triples).
    """
    h, s, v = hsv.float().unbind(1)
    s = s * (torch.ones((), dtype=torch.float32) / 255)
    v = v * (torch.ones((), dtype=torch.float32) / 255)
    h = h * (torch.tensor(6.0, dtype=torch.float32) / 180)
    sector = torch.trunc(h)  # H = 180 gives h = 6.0000005: sector 0, fraction 5e-7, in vector and scalar code alike
    frac = h - sector
    sector = torch.where(sector >= 6, sector - 6, sector).long()
    pick = torch.tensor(_SECTOR_TABS, device=hsv.device)[sector].permute(3, 0, 1, 2)  # (3, N, H, W)

    def rgb255(fused: bool) -> Tensor:
        tabs = torch.stack([v, v * (1.0 - s), v * _one_minus_product(s, frac),
                            v * _one_minus_product(s, 1.0 - frac, fused)])
        return torch.gather(tabs, 0, pick) * 255.0

    width = hsv.shape[-1]
    vector = torch.arange(width, device=hsv.device) < width // _VECTOR_BLOCK * _VECTOR_BLOCK
    out = torch.trunc(rgb255(True))
    if not bool(vector.all()):
        out = torch.where(vector, out, torch.round(rgb255(tail_fma)))
    return out.clamp(0, 255).permute(1, 0, 2, 3)
