"""Qncie: Wang's nonlinear correlation information entropy of the two sources and the fused image."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric, register_variant
from metrics.nmi import _levels, _mutual_info_terms, _normalize1

_BINS = 256


def _ncc(x: Tensor, y: Tensor) -> Tensor:
    """Nonlinear correlation coefficient: (H(x) + H(y) - H(x, y)) / log2(256), from 256 x 256 joint histograms."""
    return _mutual_info_terms(x, y)[0] / math.log2(_BINS)


def _ncie(fused: Tensor, ir: Tensor, vis: Tensor, *, strict: bool) -> Tensor:
    """1 + sum_i (r_i / 3) log_256(r_i / 3) over the eigenvalues r_i of the 3 x 3 NCC matrix."""
    ab, af, bf = _ncc(ir, vis), _ncc(ir, fused), _ncc(vis, fused)
    one = torch.ones_like(ab)
    r = torch.stack([torch.stack([one, ab, af], -1), torch.stack([ab, one, bf], -1),
                     torch.stack([af, bf, one], -1)], -2)
    eig = torch.linalg.eigvalsh(r) / 3
    if strict and bool((eig <= 0).any()):
        i = int((eig <= 0).any(dim=1).nonzero()[0])
        raise ValueError(f'The NCC matrix of image {i} is singular (an eigenvalue is {float(eig[i].min() * 3):.3g}): '
                         "MEFB's r .* log2(r / 3) is NaN (or complex) there, so Qncie is undefined.")
    eig = eig.clamp(min=0)
    plogp = eig * torch.log2(torch.where(eig > 0, eig, torch.ones_like(eig)))
    return 1 + plogp.sum(dim=1) / math.log2(_BINS)


@register_metric('qncie', higher_is_better=True, needs_sources=True,
                 reference='Wang, Shen, Jin 2008: NCIE of the 3 x 3 nonlinear correlation matrix, 256-bin '
                           'histograms (as MEFB metricsQncie.m on 0-255 gray images)')
def nonlinear_correlation_information_entropy(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Wang's NCIE fusion metric, per image.

    NCC(X, Y) = (H(X) + H(Y) - H(X, Y)) / log2(256) from 256-bin grey-level histograms (values rounded to the
    nearest level and clipped to [0, 255], as EN). With r_i the eigenvalues of R = [[1, NCC(A,B), NCC(A,F)],
    [NCC(A,B), 1, NCC(B,F)], [NCC(A,F), NCC(B,F), 1]], Qncie = 1 + sum_i (r_i / 3) log_256(r_i / 3). Range
    [1 - log_256(3), 1] = [0.802, 1]: the minimum for three independent images (R = I), 1 when all are one image
    with a uniform 256-level histogram (R then has eigenvalues 3, 0, 0, taken with 0 log 0 = 0). On integer 0-255
    images this equals MEFB's value (its `normalize1` stretch only relabels grey levels).

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors on the 0-255 scale.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: for bad shapes or values.

    Example:
        >>> import torch
        >>> ramp = torch.arange(256.).view(1, 1, 16, 16)   # every level once: NCC(ramp, ramp) = 1
        >>> nonlinear_correlation_information_entropy(ramp, ramp, ramp)
        tensor([1.], dtype=torch.float64)

    References:
        Q. Wang, Y. Shen, J. Jin, "Performance evaluation of image fusion techniques", in Image Fusion: Algorithms
        and Applications (2008) 469-492; Q. Wang, Y. Shen, J. Q. Zhang, Physica D 200 (2005) 287-295.
        Code: xingchenzhang/MEFB @ 9e185bf, metrics/metricsQncie.m.
    """
    check_images(fused, ir, vis)
    return _ncie(*(_levels(t) for t in (fused, ir, vis)), strict=False)


def nonlinear_correlation_information_entropy_mefb(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Qncie as MEFB's `metricsQncie(A, B, F)` computes it, with A = `ir`, B = `vis`.

    Each image is min-max stretched to 0..255 and rounded first (`normalize1.m`). MATLAB evaluates
    `r .* log2(r ./ 3)` on the eigenvalues of R directly, which is NaN for a zero eigenvalue (and complex for a
    rounding-negative one); that happens only for a singular R, and raises here instead.

    Raises:
        ValueError: for a constant image that is not all zero (MEFB's normalize1 divides by zero and fails), and
            when R has an eigenvalue <= 0.

    Example:
        >>> import torch
        >>> img = torch.tensor([0., 255.]).repeat(8).reshape(1, 1, 4, 4)
        >>> nonlinear_correlation_information_entropy_mefb(img, 255 - img, img)   # NCC = 1/8 for all pairs
        tensor([0.8046], dtype=torch.float64)
    """
    check_images(fused, ir, vis)
    levels = (_normalize1(t, n) for t, n in zip((fused, ir, vis), ('fused', 'ir', 'vis')))
    return _ncie(*levels, strict=True)


register_variant('qncie', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsQncie.m L38-182 (NCC from '
                 'normalize1.m-stretched 256-bin histograms, eig of the 3 x 3 matrix), called as '
                 'metricsQncie(ir, vis, fused)', nonlinear_correlation_information_entropy_mefb)
