"""EI: edge intensity, the mean Sobel gradient magnitude of the fused image."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._filters import filter2_same
from metrics._registry import register_metric, register_variant

SOBEL = ((1., 2., 1.), (0., 0., 0.), (-1., -2., -1.))
"""MATLAB `fspecial('sobel')` (emphasises horizontal edges; its transpose the vertical ones)."""


@register_metric('ei', higher_is_better=True, needs_sources=False,
                 reference="VIFB metricsEdge_intensity.m: mean sqrt(gx^2 + gy^2), gx, gy = imfilter(F, "
                           "fspecial('sobel') and its transpose, 'replicate')")
def edge_intensity(fused: Tensor) -> Tensor:
    """Edge intensity: the mean over all pixels of sqrt(gx^2 + gy^2), gx and gy the 3 x 3 Sobel responses.

    The responses are MATLAB `imfilter(F, fspecial('sobel'), 'replicate')` and the same with the transposed kernel
    (correlation, borders padded by replicating the edge pixels), as in VIFB and MEFB; the sign convention of the
    kernel does not matter for the magnitude.

    Args:
        fused: (N, 1, H, W) float tensor on the 0-255 scale.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if `fused` is not a finite floating (N, 1, H, W) tensor.

    Example:
        >>> import torch
        >>> step = torch.tensor([0., 0., 1., 1.]).repeat(4).reshape(1, 1, 4, 4)   # a vertical unit step
        >>> edge_intensity(step)                    # responses 0, 4, 4, 0 along each row (weights 1 + 2 + 1)
        tensor([2.], dtype=torch.float64)

    References:
        Rajalingam, Priya, "Hybrid multimodality medical image fusion technique for feature enhancement in medical
        diagnosis", Int. J. Eng. Sci. Invention (2018).
        xingchenzhang/VIFB @ 22b2ea9, metrics/metricsEdge_intensity.m.
    """
    check_images(fused)
    f = fused.detach().to(torch.float64)
    sobel = torch.tensor(SOBEL, dtype=torch.float64, device=f.device)
    gx = filter2_same(f, sobel, padding='replicate')
    gy = filter2_same(f, sobel.T, padding='replicate')
    return (gx.square() + gy.square()).sqrt().flatten(1).mean(dim=1)


register_variant('ei', 'vifb', "xingchenzhang/VIFB @ 22b2ea9, metrics/metricsEdge_intensity.m: imfilter(F, "
                 "fspecial('sobel'), 'replicate') and its transpose, mean magnitude (per channel, averaged)")
register_variant('ei', 'mefb', "xingchenzhang/MEFB @ 9e185bf, metrics/metricsEdge_intensity.m: as VIFB")
