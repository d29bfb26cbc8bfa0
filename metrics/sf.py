"""SF: spatial frequency of the fused image (overall activity of its row and column differences)."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric, register_variant


def _squared_differences(fused: Tensor) -> tuple[Tensor, Tensor]:
    """Per image: sums of squared horizontal (row frequency) and vertical (column frequency) neighbour differences."""
    f = fused.detach().to(torch.float64)
    row = (f[..., :, 1:] - f[..., :, :-1]).square().flatten(1).sum(dim=1)
    col = (f[..., 1:, :] - f[..., :-1, :]).square().flatten(1).sum(dim=1)
    return row, col


@register_metric('sf', higher_is_better=True, needs_sources=False, min_size=2,
                 reference='textbook: sqrt(RF^2 + CF^2), RF^2 and CF^2 the means of squared horizontal and vertical '
                           'neighbour differences over M(N-1) and (M-1)N differences (as CDDFuse, Tang 2023)')
def spatial_frequency(fused: Tensor) -> Tensor:
    """Spatial frequency sqrt(RF^2 + CF^2), each term the mean over the differences that exist.

    RF^2 = sum (F[i, j] - F[i, j-1])^2 / (M (N - 1)) and CF^2 = sum (F[i, j] - F[i-1, j])^2 / ((M - 1) N) for an
    M x N image (Eskicioglu and Fisher's definition, the one CDDFuse and Tang's 2023 code compute).

    Args:
        fused: (N, 1, H, W) float tensor on the 0-255 scale, H and W >= 2.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if `fused` is not a finite floating (N, 1, H, W) tensor with H, W >= 2 (a single row or column
            has no differences along one axis, so its mean is 0/0).

    Example:
        >>> import torch
        >>> spatial_frequency(torch.tensor([[0., 3.], [4., 7.]]).view(1, 1, 2, 2))   # sqrt(3^2 + 4^2)
        tensor([5.], dtype=torch.float64)

    References:
        Eskicioglu, Fisher, "Image quality measures and their performance", IEEE Trans. Commun. 43 (12) (1995).
        Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, utils/Evaluator.py, SF (L43-46).
    """
    check_images(fused, min_size=2)
    h, w = fused.shape[-2:]
    row, col = _squared_differences(fused)
    return (row / (h * (w - 1)) + col / ((h - 1) * w)).sqrt()


def spatial_frequency_per_pixel(fused: Tensor) -> Tensor:
    """SF as VIFB and MEFB compute it: both sums of squared differences divided by M * N, the number of pixels.

    `metricsSpatial_frequency.m` loops over all M (N - 1) horizontal and (M - 1) N vertical differences but divides
    each sum by M N, so the value is slightly below the textbook one (by about 0.1 % at 640 x 480).

    Args:
        fused: (N, 1, H, W) float tensor on the 0-255 scale.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if `fused` is not a finite floating (N, 1, H, W) tensor.

    Example:
        >>> import torch
        >>> spatial_frequency_per_pixel(torch.tensor([[0., 3.], [4., 7.]]).view(1, 1, 2, 2))  # sqrt((18 + 32) / 4)
        tensor([3.5355], dtype=torch.float64)

    References:
        xingchenzhang/VIFB @ 22b2ea9, metrics/metricsSpatial_frequency.m (L8-31); xingchenzhang/MEFB @ 9e185bf,
        metrics/metricsSpatial_frequency.m (Spatial_frequency).
    """
    check_images(fused)
    h, w = fused.shape[-2:]
    row, col = _squared_differences(fused)
    return ((row + col) / (h * w)).sqrt()


def spatial_frequency_vifb_colour(fused: Tensor) -> Tensor:
    """VIFB's SF of a colour image: its channels laid side by side as one M x (C N) image, then `sf` per pixel.

    `metricsSpatial_frequency.m` reads `[m, n] = size(fused)` and loops `fused(fi, fj)` for fj up to n. For an
    M x N x 3 image MATLAB returns n = 3N and indexes the array as the M x 3N matrix [R G B], so the sums also take
    the two differences across the channel seams and are divided by 3 M N. The result is neither the mean of the
    channel SFs nor the SF of a grey version (it is about their root mean square, up to the seams); it is what VIFB
    reports for every colour fused image. A 1-channel image gives `spatial_frequency_per_pixel`.

    Per-channel scoring (what `score_images` does for the vifb convention) cannot reproduce this, because each
    channel call sees one channel only: this function is meant to receive the whole (N, C, H, W) fused image.

    Args:
        fused: (N, C, H, W) float tensor on the 0-255 scale, C = 1 or 3, as stored (not expanded from gray).

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if `fused` is not a finite floating 4-D tensor.

    Example:
        >>> import torch
        >>> rgb = torch.stack([torch.zeros(2, 2), torch.full((2, 2), 3.), torch.zeros(2, 2)]).unsqueeze(0)
        >>> spatial_frequency_vifb_colour(rgb)     # [0 0 3 3 0 0]: two seams of 3 per row, sqrt(4 * 9 / 12)
        tensor([1.7321], dtype=torch.float64)

    References:
        xingchenzhang/VIFB @ 22b2ea9, metrics/metricsSpatial_frequency.m (L8-31), called by compute_metrics.m on
        the imread image (L109).
    """
    if not isinstance(fused, Tensor) or fused.ndim != 4:
        raise ValueError(f'Expected `fused` of shape (N, C, H, W), but got '
                         f'{tuple(fused.shape) if isinstance(fused, Tensor) else type(fused).__name__}.')
    return spatial_frequency_per_pixel(torch.cat(fused.unbind(dim=1), dim=-1).unsqueeze(1))


register_variant('sf', 'cddfuse', 'Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, utils/Evaluator.py, SF (L43-46): '
                 'sqrt(mean(dx^2) + mean(dy^2)) on float32 0-255')
register_variant('sf', 'tang2023', 'Linfeng-Tang/Image-Fusion @ HEAD 2023, SF_evaluation.m on 0-255 double '
                 '(sqrt(RF1^2 + CF1^2), means over the existing differences)')
register_variant('sf', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, analysis_Reference.m calls SF_evaluation.m '
                 'on im2double(F), i.e. [0, 1] data: the textbook SF / 255', scale=1 / 255)
# VIFB on a colour fused image needs the whole image (`spatial_frequency_vifb_colour`); per-channel scoring of the
# vifb convention gives the mean of the channel values instead, which misses VIFB's numbers by up to 14 %.
register_variant('sf', 'vifb', 'xingchenzhang/VIFB @ 22b2ea9, metrics/metricsSpatial_frequency.m L8-31: sums of '
                 'squared differences divided by M*N; a colour image as its channels side by side',
                 spatial_frequency_per_pixel, colour=spatial_frequency_vifb_colour)
register_variant('sf', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsSpatial_frequency.m: sums of squared '
                 'differences divided by M*N, per channel, averaged', spatial_frequency_per_pixel)
