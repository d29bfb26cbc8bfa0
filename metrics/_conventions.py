"""Conventions: how a reference implementation turns stored images into the tensors its metrics see.

Scores from different references differ mostly here (gray conversion, rounding, value scale, colour), so each
convention names one way, and every score row records which one produced it. A convention's metrics are the
registrations under its name (see `register_variant`); `prepare` maps stored 0-255 images to 0-255 float64 planes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from metrics._registry import DEFAULT_CONVENTION, MetricSpec, _unknown, get_metric, rescale

__all__ = ['Convention', 'register_convention', 'get_convention', 'list_conventions', 'score_images', 'layout_flags',
           'as_stored']


def luma_bt601_round(images: Tensor) -> Tensor:
    """BT.601 luma rounded half-to-even: what converting to an 8-bit gray image gives."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64, device=images.device).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True).round()


def opencv_gray_round(images: Tensor) -> Tensor:
    """CDDFuse `image_read_cv2(path, 'GRAY')`: cv2 BGR2GRAY on float32, then `np.round` (half-to-even).

    OpenCV itself does the conversion, so its float32 evaluation order is reproduced exactly; the batch is stacked
    into one tall image so it takes one call.
    """
    n, _, h, w = images.shape
    rgb = images.permute(0, 2, 3, 1).reshape(n * h, w, 3).to(torch.float32).cpu().numpy()
    gray = np.round(cv2_cvt(np.ascontiguousarray(rgb[..., ::-1])))
    return torch.from_numpy(gray.astype(np.float64)).reshape(n, 1, h, w).to(images.device)


def cv2_cvt(bgr: np.ndarray) -> np.ndarray:
    import cv2
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def matlab_rgb2gray(images: Tensor) -> Tensor:
    """MATLAB `rgb2gray` on uint8: its coefficients, then rounding half away from zero to uint8."""
    weights = torch.tensor([0.298936021293775, 0.587043074451121, 0.114020904255103], dtype=torch.float64,
                           device=images.device).view(1, 3, 1, 1)
    return torch.floor((images * weights).sum(dim=1, keepdim=True) + 0.5).clamp(0, 255)


@dataclass(frozen=True)
class Convention:
    """A named way of computing metrics.

    Attributes:
        name: key used by `--convention` and recorded in every score row.
        description: what it reproduces, for `bench list conventions`.
        to_gray: (N, 3, H, W) 0-255 float64 -> (N, 1, H, W); None means colour images are scored channel by channel
            and the channel scores averaged (VIFB), gray images being repeated to the colour channels.
        fused_first_channel: with `to_gray` None, a colour fused image of gray sources is scored on its first
            channel only (MEFB).
        stored_layout: the reference reads each file as stored (MATLAB `imread`), so a gray image stored as three
            channels is a three-channel image to it (VIFB's SF then reads its channels side by side). `score_images`
            expands such images (its `stored_rgb` flags) to three equal channels for these conventions only.
    """
    name: str
    description: str
    to_gray: Callable[[Tensor], Tensor] | None = field(repr=False, compare=False)
    fused_first_channel: bool = False
    stored_layout: bool = False

    def prepare(self, images: Tensor) -> Tensor:
        """Stored images (N, 1 or 3, H, W), any dtype with 0-255 values -> float64 planes on the same scale."""
        images = images.to(torch.float64)
        if images.shape[1] == 1 or self.to_gray is None:
            return images
        return self.to_gray(images)


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
    'Textbook definitions on 0-255 values; RGB scored on its BT.601 luma rounded to grey levels.',
    luma_bt601_round))
register_convention(Convention(
    'cddfuse',
    'CDDFuse utils/Evaluator.py @ fd8da1f as run by test_IVF.py: cv2 gray, float32 0-255, MI in nats, '
    'SSIM with data_range 2.',
    opencv_gray_round))
register_convention(Convention(
    'tang2022',
    "Tang's MATLAB code @ 53f5542 (2022), behind Metric_TNO.xlsx and the DFECF paper's Table 3: mixed scales "
    '(uint8 SD/VIF saturate, SF/Qabf on [0, 1]), MI in bits.',
    matlab_rgb2gray))
register_convention(Convention(
    'tang2023',
    "Tang's current MATLAB code (analysis_Reference.m, 2023): 0-255 doubles, MI in bits, Nabf called with "
    'swapped arguments.',
    matlab_rgb2gray))
register_convention(Convention(
    'vifb',
    'VIFB @ 22b2ea9 (compute_metrics.m): no gray conversion, RGB scored per channel and averaged, 0-255 doubles; '
    'files read as stored (gray stored as RGB is RGB).',
    None, stored_layout=True))
register_convention(Convention(
    'mefb',
    'MEFB @ 9e185bf (metrics/*.m): as VIFB, but a colour fused image of gray sources is scored on channel 1 only.',
    None, fused_first_channel=True, stored_layout=True))


def score_images(fused: Tensor, ir: Tensor, vis: Tensor, metrics: list[str],
                 convention: str = DEFAULT_CONVENTION, stored_rgb: tuple | None = None) -> dict[str, Tensor]:
    """Scores a batch of stored images with several metrics of one convention.

    Args:
        fused, ir, vis: (N, C, H, W) tensors with values 0-255 as stored (C = 1 or 3; uint8 or float).
        metrics: metric names registered for `convention`.
        convention: convention name.
        stored_rgb: (fused, ir, vis) flags, each a bool or N bools: whether the image's file stores three channels
            (`bench.images.read_image_layout`). Conventions that read files as stored (`Convention.stored_layout`:
            vifb, mefb) score a 1-channel image whose flag is set as three equal channels, as their references
            do; the others ignore the flags. None: every image as given.

    Returns:
        {metric name: (N,) float64 tensor}.

    Raises:
        KeyError: for an unknown metric or convention.
        ValueError: for images of different sizes or bad values, or flags that do not fit the batch.

    Example:
        >>> import torch
        >>> f = torch.tensor([[0., 9.], [0., 9.]]).view(1, 1, 2, 2)     # gray; VIFB's SF divides by M * N
        >>> score_images(f, f, f, ['sf'], 'vifb')['sf']                 # sqrt(2 * 81 / 4)
        tensor([6.3640], dtype=torch.float64)
        >>> score_images(f, f, f, ['sf'], 'vifb', stored_rgb=(True, False, False))['sf']   # [0 9 0 9 0 9] rows
        tensor([8.2158], dtype=torch.float64)
    """
    conv = get_convention(convention)
    specs = [get_metric(m, convention) for m in metrics]
    if not (fused.shape[0] == ir.shape[0] == vis.shape[0] and fused.shape[2:] == ir.shape[2:] == vis.shape[2:]):
        raise ValueError(f'Expected `fused`, `ir` and `vis` of one size, but got {tuple(fused.shape)}, '
                         f'{tuple(ir.shape)} and {tuple(vis.shape)}.')
    for label, t in (('fused', fused), ('ir', ir), ('vis', vis)):
        if t.numel():
            lo, hi = (float(v) for v in torch.aminmax(t))
            if not 0 <= lo <= hi <= 255:   # also false for NaN, which min and max propagate
                raise ValueError(f'Expected `{label}` values in [0, 255] (stored 8-bit images), but got '
                                 f'[{lo:.4g}, {hi:.4g}].')
    flags = None if stored_rgb is None else layout_flags(stored_rgb, fused.shape[0])
    if flags is None or not conv.stored_layout:
        return _score(conv, specs, fused, ir, vis)
    # Triples of different stored layouts are different computations for these references (SF of one gray
    # plane vs of three planes side by side; MEFB's channel rule), so each layout is scored on its own.
    layouts = flags.unique(dim=0)
    if len(layouts) == 1:
        return _score(conv, specs, *as_stored((fused, ir, vis), layouts[0]))
    scores = {spec.name: torch.empty(fused.shape[0], dtype=torch.float64, device=fused.device) for spec in specs}
    for layout in layouts:
        rows = (flags == layout).all(dim=1).nonzero().flatten().to(fused.device)
        part = _score(conv, specs, *as_stored((fused[rows], ir[rows], vis[rows]), layout))
        for name, values in part.items():
            scores[name][rows] = values
    return scores


def layout_flags(stored_rgb: tuple, n: int) -> Tensor:
    """(N, 3) bools, columns fused, ir, vis, from `score_images`' `stored_rgb` (each a bool or N bools).

    Example:
        >>> layout_flags((True, [False, True], False), 2).tolist()
        [[True, False, False], [True, True, False]]
    """
    if len(stored_rgb) != 3:
        raise ValueError(f'Expected `stored_rgb` as (fused, ir, vis) flags, but got {len(stored_rgb)} items.')
    columns = []
    for label, flag in zip(('fused', 'ir', 'vis'), stored_rgb):
        column = torch.as_tensor(flag, dtype=torch.bool).flatten().cpu()
        if column.numel() == 1:
            column = column.expand(n)
        elif column.numel() != n:
            raise ValueError(f'Expected one `stored_rgb` flag for `{label}` or one per image ({n}), but got '
                             f'{column.numel()}.')
        columns.append(column)
    return torch.stack(columns, dim=1)


def as_stored(images: tuple[Tensor, ...], layout: Tensor) -> tuple[Tensor, ...]:
    """Each 1-channel image whose flag in `layout` is set, as the three equal channels its file holds.

    Example:
        >>> import torch
        >>> g = torch.zeros(1, 1, 2, 2)
        >>> [t.shape[1] for t in as_stored((g, g, g), torch.tensor([True, False, True]))]
        [3, 1, 3]
    """
    return tuple(t.repeat(1, 3, 1, 1) if bool(flag) and t.shape[1] == 1 else t for t, flag in zip(images, layout))


def _score(conv: Convention, specs: list[MetricSpec], fused: Tensor, ir: Tensor, vis: Tensor) -> dict[str, Tensor]:
    """`score_images` on checked images of one layout."""
    f, a, b = (conv.prepare(t) for t in (fused, ir, vis))
    if conv.fused_first_channel and a.shape[1] == b.shape[1] == 1:
        f = f[:, :1]
    channels = max(f.shape[1], a.shape[1], b.shape[1])
    # Columns that a convention computes with one function on one scale (Tang 2022's "SSIM" is its MEF-SSIM) are
    # computed once, and the images are rescaled once per scale (Tang 2022 has 9 metrics on [0, 1]).
    computed: dict[tuple, Tensor] = {}
    scaled: dict[tuple[float, int], tuple[Tensor, ...]] = {}

    def once(key: tuple, compute: Callable[[], Tensor]) -> Tensor:
        if key not in computed:
            computed[key] = compute()
        return computed[key]

    def on_scale(spec: MetricSpec, images: tuple[Tensor, ...]) -> Tensor:
        if spec.scale == 1.0:
            return spec.on_scale(*images)
        key = (spec.scale, id(images[0]))
        if key not in scaled:
            scaled[key] = tuple(rescale(t, spec.scale) for t in images)
        return spec.on_scale(*scaled[key])

    if channels == 1:
        return {spec.name: once((spec.fn, spec.scale), lambda spec=spec: on_scale(spec, (f, a, b))) for spec in specs}
    # Per-channel scoring (VIFB): channels go into the batch and scores are averaged over them, unless the metric
    # reproduces how its reference reads a colour image as a whole (`MetricSpec.colour`).
    n, (h, w) = f.shape[0], f.shape[2:]
    split = [t.expand(n, channels, h, w).reshape(n * channels, 1, h, w) for t in (f, a, b)]
    scores = {}
    for spec in specs:
        if spec.colour is None:
            scores[spec.name] = once((spec.fn, spec.scale),
                                     lambda spec=spec: on_scale(spec, tuple(split)).view(n, channels).mean(dim=1))
        else:
            whole = [rescale(t, spec.scale) for t in (f, a, b)] if spec.scale != 1.0 else [f, a, b]
            scores[spec.name] = once((spec.colour, spec.scale), lambda spec=spec, whole=whole: (
                spec.colour(*whole) if spec.needs_sources else spec.colour(whole[0])))
    return scores
