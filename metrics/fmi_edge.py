"""FMI_edge: Haghighat's fast feature mutual information on binary edge maps (MATLAB `edge`, Sobel, thinned).

This is what Tang's and MEFB's code report: both call `fmi(ima, imb, imf)` without a feature argument, which selects
'edge'. So this file also registers Tang's "FMI_pixel" column (key `fmi_pixel` under tang2022 and tang2023).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from metrics import _cpu_kernels
from metrics._checks import check_images
from metrics._registry import register_metric, register_variant
from metrics.fmi_pixel import WINDOW, fmi_of_features

_SOBEL = [[1., 2., 1.], [0., 0., 0.], [-1., -2., -1.]]    # fspecial('sobel')
_TOL = 100 * torch.finfo(torch.float64).eps


def matlab_edge(x: Tensor) -> Tensor:
    """MATLAB `edge(x)` with its defaults: Sobel, automatic threshold, thinning. (N, 1, H, W) -> 0/1 float64.

    As MATLAB's Image Processing Toolbox computes it (edge.m; the portable code of its `edgesobelprewittmex` and
    `computeedge`/`edgethinning` kernels): op = fspecial('sobel') / 8; bx = imfilter(x, op', 'replicate'),
    by = imfilter(x, op, 'replicate') (correlation); b = bx^2 + by^2; cutoff = 4 * mean(b) (per image); then
    e = b > cutoff & ((|bx| >= |by| - 100 eps & b(r, c-1) <= b & b > b(r, c+1)) |
    (|by| >= |bx| - 100 eps & b(r-1, c) <= b & b > b(r+1, c))), a neighbour outside the image counting as passed.
    The threshold is relative, so the map does not depend on the value scale (up to rounding: on 0-255 integers
    every step is exact, on [0, 1] data ties between neighbours can break either way by one ulp).

    GNU Octave's `edge` differs (its thinning keeps pixels strictly above both neighbours along either axis, and it
    rejects doubles outside [0, 1]), so Octave does not reproduce MATLAB's FMI_edge.
    """
    if _cpu_kernels.usable(x, x.numel()):
        return _cpu_kernels.matlab_edge(x, _TOL)
    k = torch.tensor(_SOBEL, dtype=x.dtype, device=x.device) / 8
    padded = F.pad(x, (1, 1, 1, 1), mode='replicate')
    grads = F.conv2d(padded, torch.stack([k.t(), k]).unsqueeze(1))       # (N, 2, H, W): bx, by
    bx, by = grads[:, :1], grads[:, 1:]
    b = bx * bx + by * by
    cutoff = 4 * b.flatten(1).sum(dim=1) / b[0].numel()
    bx, by = bx.abs(), by.abs()
    true_col = torch.ones_like(b[..., :, :1], dtype=torch.bool)
    true_row = torch.ones_like(b[..., :1, :], dtype=torch.bool)
    left = torch.cat([true_col, b[..., :, :-1] <= b[..., :, 1:]], dim=-1)     # b(r, c-1) <= b(r, c)
    right = torch.cat([b[..., :, :-1] > b[..., :, 1:], true_col], dim=-1)     # b(r, c) > b(r, c+1)
    up = torch.cat([true_row, b[..., :-1, :] <= b[..., 1:, :]], dim=-2)       # b(r-1, c) <= b(r, c)
    down = torch.cat([b[..., :-1, :] > b[..., 1:, :], true_row], dim=-2)      # b(r, c) > b(r+1, c)
    edges = (b > cutoff.view(-1, 1, 1, 1)) & (((bx >= by - _TOL) & left & right) | ((by >= bx - _TOL) & up & down))
    return edges.to(x.dtype)


@register_metric('fmi_edge', higher_is_better=True, needs_sources=True, min_size=3,
                 reference="Haghighat & Razian 2014 fast-FMI on MATLAB edge() maps (fmi.m feature 'edge', 3x3 "
                           'windows), mean of the IR and visible scores')
def fmi_edge(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Fast feature mutual information of the images' edge maps (Haghighat's `fmi(ima, imb, imf, 'edge', 3)`).

    Edge maps are MATLAB's `edge(image)` defaults (see `matlab_edge`); the window algorithm is `fmi_of_features`.
    Windows where a source's and the fused edge maps agree (most flat regions: both all 0) score 1.

    Args:
        fused: (N, 1, H, W) float tensor, H, W >= 3 (any value scale: the edge threshold is relative).
        ir: infrared source, same shape.
        vis: visible source, same shape.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if the images are not floating (N, 1, H, W) tensors of one shape with H, W >= 3.

    Example:
        >>> import torch
        >>> img = torch.zeros(1, 1, 8, 8)
        >>> img[..., 4:] = 255.
        >>> fmi_edge(img, img, 255 - img)    # the same step edge in all three
        tensor([1.], dtype=torch.float64)

    References:
        M. Haghighat, M. A. Razian, "Fast-FMI: non-reference image fusion metric", AICT 2014; `metricsFMI.m` in
        xingchenzhang/MEFB @ 9e185bf and `analysis_fmi.m` in Linfeng-Tang/Image-Fusion @ 53f5542; MATLAB Image
        Processing Toolbox `edge`.
    """
    check_images(fused, ir, vis, min_size=WINDOW)
    fused, ir, vis = (t.detach().to(torch.float64) for t in (fused, ir, vis))
    return fmi_of_features(*(matlab_edge(t) for t in (fused, ir, vis)))


def fmi_edge_tang(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Tang's "FMI_pixel": `analysis_fmi(ir, vis, F)` without a feature argument, which selects 'edge'.

    Tang's `analysis_fmi.m` defaults `feature = 'edge'` (its help text says "no feature extraction"), so the column
    named FMI_pixel is FMI on MATLAB edge maps, i.e. `fmi_edge`. Tang 2022 passes `im2double` images ([0, 1];
    registered with scale 1/255), Tang 2023 0-255 doubles. MATLAB's `edge` accepts both and its threshold is
    relative, so the two agree up to ties in the edge thinning that rounding breaks differently on [0, 1] data
    (TNO #10 with SeAFusion: 0.8711252 on [0, 1], 0.8711236 on 0-255; which ties MATLAB's own arithmetic breaks
    cannot be known without MATLAB). GNU Octave's `edge` rejects the 0-255 doubles (Tang 2023's call errors
    there) and thins differently (0.8125561 instead of 0.8219499 on the crop 'c1' of the tests).

    Example:
        >>> import torch
        >>> img = torch.zeros(1, 1, 8, 8)
        >>> img[..., 4:] = 1.
        >>> fmi_edge_tang(img, img, img)
        tensor([1.], dtype=torch.float64)
    """
    return fmi_edge(fused, ir, vis)


register_variant('fmi_edge', 'mefb', "xingchenzhang/MEFB @ 9e185bf, metrics/metricsFMI.m: FMI(img1, img2, fused) with "
                 "the default feature 'edge', window 3, on 0-255 doubles")
register_variant('fmi_pixel', 'tang2022', "Linfeng-Tang/Image-Fusion @ 53f5542, analysis_Reference.m L74: FMI_pixel = "
                 "analysis_fmi(im2double ir, vis, F) whose default feature is 'edge' (so FMI on edge maps), [0, 1]",
                 fn=fmi_edge_tang, scale=1 / 255)
register_variant('fmi_pixel', 'tang2023', "Linfeng-Tang/Image-Fusion @ dba5bf3 (HEAD), analysis_Reference.m L78: "
                 "FMI_pixel = analysis_fmi on 0-255 doubles, default feature 'edge' (MATLAB edge accepts them; "
                 'Octave errors)', fn=fmi_edge_tang)
