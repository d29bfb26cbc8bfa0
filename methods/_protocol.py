"""The image input/output conventions of the baselines' official test scripts, reproduced bit for bit in torch.

The published fusion results of the TensorFlow baselines were written by a handful of library calls whose exact
integer and float32 arithmetic decides every grey level:

* `scipy.misc.imsave(path, float_array)` (scipy <= 1.1): `bytescale`, a per-image min-max stretch to [0, 255] in
  float32, plus 0.5, truncated to uint8;
* `scipy.misc.toimage(x, cmin=0, cmax=x.max())`: the same with the minimum pinned to 0 (`x / max`);
* PIL `convert('L')`: `(19595 R + 38470 G + 7471 B + 2**15) >> 16` on integers;
* PIL `convert('YCbCr')` and back: JFIF coefficients on 6-bit fixed-point tables, `>>` (floor) shifts;
* `scipy.misc.imread(p, flatten=True, mode='YCbCr')`: YCbCr -> RGB (integers) -> 'F' = `(299 R + 587 G + 114 B) /
  1000` in float32;
* recolouring, `Image.merge('YCbCr', (Y_fused, Cb_vis, Cr_vis)).convert('RGB')`.

All functions work on batches `(N, C, H, W)` of grey *levels* (0..255 as floats or integers), on any device, and
return float32 levels. `tests/methods/test_protocol.py` checks each one against Pillow and scipy's formulas on every
possible input where that is cheap (all 2**24 colours for the YCbCr conversions).

`PILColour` is a mixin for `FusionMethod` subclasses: it replaces the base class's float JFIF luminance/recolouring
by PIL's integer conversions, so a method reproduces published colour results exactly.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ['bytescale', 'imread_flatten_ycbcr', 'layout_option', 'levels', 'per_modality', 'pil_convert_f',
           'pil_convert_l', 'pil_recolour', 'pil_rgb_to_ycbcr', 'pil_ycbcr_luminance', 'pil_ycbcr_to_rgb',
           'toimage_max', 'PILColour']


def levels(x: Tensor, step: float = 1e-3) -> Tensor:
    """[0, 1] images -> float32 grey levels, snapped to multiples of `step`.

    Every value a PIL-based script feeds a network is an integer level or PIL's float luminance, a multiple of
    1/1000; snapping undoes the rounding of the division by 255 exactly, so `levels(v / 255) == v` for those values.

    >>> levels(torch.tensor([0.0, 1.0, 128 / 255, 77.123 / 255])).tolist()
    [0.0, 255.0, 128.0, 77.12300109863281]
    """
    scaled = x.double() * (255 / step)
    return (scaled.round() * step).float()


def unit_levels_rgb(ir: Tensor, vis: Tensor) -> tuple[Tensor, Tensor]:
    """What a script that reads 8-bit files (PIL 'L'/'RGB', cv2 IMREAD_COLOR) and divides by 255 in float32 feeds its
    network: the IR levels, and the visible image as RGB levels (a gray one as three equal channels), each / 255."""
    return levels(ir, 1.0) / 255, levels(vis, 1.0).expand(-1, 3, -1, -1) / 255


def _shift(x: Tensor, bits: int) -> Tensor:
    """C's `>>` on signed integers (floor division by 2**bits)."""
    return torch.div(x, 1 << bits, rounding_mode='floor')


def _int(x: Tensor) -> Tensor:
    return x.round().to(torch.int32) if x.is_floating_point() else x.to(torch.int32)


def pil_convert_l(rgb: Tensor) -> Tensor:
    """PIL `Image.convert('L')` of RGB levels (N, 3, H, W) -> (N, 1, H, W) levels (ITU-R 601-2, fixed point)."""
    r, g, b = _int(rgb).unbind(1)
    return _shift(r * 19595 + g * 38470 + b * 7471 + 0x8000, 16).unsqueeze(1).float()


def pil_convert_f(rgb: Tensor) -> Tensor:
    """PIL `Image.convert('F')` of RGB levels: `(299 R + 587 G + 114 B) / 1000` in float32, (N, 1, H, W)."""
    r, g, b = _int(rgb).unbind(1)
    return ((r * 299 + g * 587 + b * 114).float() / 1000).unsqueeze(1)


# PIL's YCbCr tables hold round(coefficient * 64 * value) as C's (int)(v + 0.5), i.e. truncation of v + 0.5, with
# the JFIF coefficients to five decimals (RGB->YCbCr on values 0..255, YCbCr->RGB on chroma - 128).
_SCALE = 6
_FORWARD = ((0.29900, 0.58700, 0.11400), (-0.16874, -0.33126, 0.50000), (0.50000, -0.41869, -0.08131))
_INVERSE = {'R_Cr': 1.40200, 'G_Cb': -0.34414, 'G_Cr': -0.71414, 'B_Cb': 1.77200}


def _table(coef: float, centred: bool) -> Tensor:
    values = torch.arange(256, dtype=torch.float64) - (128 if centred else 0)
    return torch.trunc(coef * (1 << _SCALE) * values + 0.5).to(torch.int32)


_TABLES: dict[str, Tensor] = {}


def _tables(device: torch.device) -> dict[str, Tensor]:
    key = str(device)
    if key not in _TABLES:
        fwd = torch.stack([torch.stack([_table(c, False) for c in row]) for row in _FORWARD])  # (3 out, 3 in, 256)
        inv = torch.stack([_table(_INVERSE[k], True) for k in ('R_Cr', 'G_Cb', 'G_Cr', 'B_Cb')])
        _TABLES[key] = {'fwd': fwd.to(device), 'inv': inv.to(device)}
    return _TABLES[key]


def pil_rgb_to_ycbcr(rgb: Tensor) -> Tensor:
    """PIL `convert('YCbCr')` of RGB levels (N, 3, H, W) -> YCbCr levels (N, 3, H, W), float32."""
    idx = _int(rgb).long()
    fwd = _tables(rgb.device)['fwd']
    out = []
    for k in range(3):
        total = fwd[k, 0][idx[:, 0]] + fwd[k, 1][idx[:, 1]] + fwd[k, 2][idx[:, 2]]
        out.append(_shift(total, _SCALE) + (128 if k else 0))
    return torch.stack(out, 1).float()


def pil_ycbcr_to_rgb(ycbcr: Tensor) -> Tensor:
    """PIL `convert('RGB')` of YCbCr levels (N, 3, H, W) -> RGB levels (N, 3, H, W), clipped to 0..255, float32."""
    y, cb, cr = _int(ycbcr).unbind(1)
    r_cr, g_cb, g_cr, b_cb = _tables(ycbcr.device)['inv']
    cb, cr = cb.long(), cr.long()
    rgb = torch.stack([y + _shift(r_cr[cr], _SCALE), y + _shift(g_cb[cb] + g_cr[cr], _SCALE),
                       y + _shift(b_cb[cb], _SCALE)], 1)
    return rgb.clamp(0, 255).float()


def pil_ycbcr_luminance(rgb: Tensor) -> Tensor:
    """`scipy.misc.imread(p, flatten=True, mode='YCbCr')` of RGB levels: PIL YCbCr -> RGB -> 'F', (N, 1, H, W).

    For a gray image (R = G = B) this is the gray level itself.
    """
    return pil_convert_f(pil_ycbcr_to_rgb(pil_rgb_to_ycbcr(rgb)))


def pil_recolour(y: Tensor, vis_rgb: Tensor) -> Tensor:
    """`Image.merge('YCbCr', (Y, Cb_vis, Cr_vis)).convert('RGB')`: fused luminance levels (N, 1, H, W) with the
    chroma of the visible RGB levels (N, 3, H, W) -> RGB levels (N, 3, H, W)."""
    chroma = pil_rgb_to_ycbcr(vis_rgb)[:, 1:]
    return pil_ycbcr_to_rgb(torch.cat([y, chroma], 1))


def bytescale(x: Tensor, cmin: Tensor | float | None = None, cmax: Tensor | float | None = None) -> Tensor:
    """scipy's `bytescale` (what `scipy.misc.imsave` applies to a float image), per image of a batch.

    Float32 arithmetic as numpy does it: `scale = float32(255 / (cmax - cmin))`, `(x - cmin) * scale`, clipped to
    [0, 255], plus 0.5, truncated. `cmin`/`cmax` default to each image's minimum and maximum; a flat image
    (cmax == cmin) maps to 0.

    Args:
        x: (N, C, H, W) float32 (the network output, in whatever range it has).
        cmin, cmax: scalars or (N,) tensors.

    Returns:
        (N, C, H, W) float32 levels 0..255.

    >>> bytescale(torch.tensor([[[[0.2, 0.5, 0.6]]]])).flatten().tolist()
    [0.0, 191.0, 255.0]
    """
    x = x.float()
    flat = x.flatten(1)
    lo = flat.amin(1) if cmin is None else torch.as_tensor(cmin, dtype=torch.float32, device=x.device)
    hi = flat.amax(1) if cmax is None else torch.as_tensor(cmax, dtype=torch.float32, device=x.device)
    lo, hi = lo.expand(x.shape[0]), hi.expand(x.shape[0])
    span = hi - lo
    span = torch.where(span == 0, torch.ones_like(span), span)
    scale = (255.0 / span.double()).float().view(-1, 1, 1, 1)
    stretched = ((x - lo.view(-1, 1, 1, 1)) * scale).clamp(0, 255)
    return torch.floor(stretched + 0.5)


def imread_flatten_ycbcr(x: Tensor, stored_rgb: bool) -> Tensor:
    """The float32 levels `scipy.misc.imread(path, flatten=True, mode='YCbCr')` returns for an image given to
    `forward` in [0, 1].

    A float64 input is PIL's float luminance of an RGB image already (`PILColour.split_luminance`). A gray image
    (float32 integer levels) reads as itself from a 1-channel file, but from a file that stores it as three equal
    channels (`stored_rgb`; TNO's PNGs) PIL's YCbCr round trip lowers 22 of the 256 levels by one.
    """
    if stored_rgb and x.dtype != torch.float64:
        return pil_ycbcr_luminance(levels(x, 1.0).expand(-1, 3, -1, -1))
    return levels(x)


def per_modality(value: bool | tuple[bool, bool]) -> tuple[bool, bool]:
    """An (ir, vis) pair of flags from one flag or a pair (option values like `gray_as_rgb`)."""
    pair = (value, value) if isinstance(value, bool) else tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(v, bool) for v in pair):
        raise ValueError(f'Expected a bool or an (ir, vis) pair of bools, but got {value!r}.')
    return pair


def layout_option(value: bool | tuple[bool, bool] | None) -> tuple[bool, bool] | None:
    """A `gray_as_rgb` option: None (the default: as each file was stored, `FusionMethod.stored_layout`) or an
    (ir, vis) pair of flags that overrides it."""
    return None if value is None else per_modality(value)


def toimage_max(x: Tensor) -> Tensor:
    """`scipy.misc.toimage(x, cmin=0, cmax=x.max())` per image: `x * float32(255 / max)`, +0.5, truncated."""
    return bytescale(x, cmin=torch.zeros(x.shape[0], device=x.device), cmax=x.flatten(1).amax(1))


class PILColour:
    """Mixin for `FusionMethod`: PIL's integer YCbCr for colour visible images instead of the float JFIF path.

    `pil_luminance` picks what the network sees as visible luminance: 'L' (`convert('L')`, integer levels) or 'F'
    (`imread(flatten=True, mode='YCbCr')`, PIL float). The fused luminance is recoloured with the visible image's
    PIL Cb/Cr and converted to RGB by PIL's integer tables, as VIF-Benchmark's `img2RGB` does.
    """
    pil_luminance = 'L'

    def split_luminance(self, vis: Tensor):
        rgb = levels(vis, step=1.0)
        y = pil_convert_l(rgb) if self.pil_luminance == 'L' else pil_ycbcr_luminance(rgb)
        # float64 so that levels() recovers PIL's float luminance exactly inside forward
        return y.double() / 255, rgb

    def recolour(self, fused: Tensor, chroma) -> Tensor:
        return pil_recolour(levels(fused, step=1.0), chroma) / 255
