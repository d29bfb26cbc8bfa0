"""FMI_pixel: Haghighat's fast feature mutual information on raw pixels (no feature extraction).

Fast-FMI compares the fused image with each source in every w x w sliding window (w = 3): each window, min-max
normalised, is read as a probability distribution over its w^2 positions; the joint distribution of a source window
and the fused window is modelled from their correlation with Nelsen's method between the Frechet bounds; the
window's score is the normalised mutual information 2 MI / (H_a + H_f). The metric is the mean over windows of
(FMI(ir, fused) + FMI(vis, fused)) / 2. `fmi_edge` and `fmi_dct` run the same window code on edge and DCT maps;
`fmi_edge.py` also registers Tang's "FMI_pixel", which is FMI on edge maps.

Tang's third column, FMI_w, is not implemented: `fmi.m` takes `dwt2(x, 'dmey')` from MATLAB's Wavelet Toolbox
(absent from GNU Octave), and PyWavelets' 'dmey' is a different FIR approximation of the Meyer wavelet (62 taps
against MATLAB's 102; PyWavelets issue #261), so its coefficients, and hence the windows, would not match.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from metrics import _cpu_kernels
from metrics._checks import check_images
from metrics._registry import register_metric

WINDOW = 3
_CHUNK = 16384  # windows per block of the (windows, 9, 9) joint-distribution tensors (about 10 MB each)
_LOG2 = torch.log(torch.tensor(2.0, dtype=torch.float64)).item()


def windows_column_major(x: Tensor) -> Tensor:
    """(N, 1, H, W) -> (N, L, 9): every 3x3 'valid' window, flattened in MATLAB's column-major order `sub(:)`."""
    n = x.shape[0]
    cols = F.unfold(x, WINDOW)                                   # (N, 9, L), index kh * 3 + kw
    order = [kh * WINDOW + kw for kw in range(WINDOW) for kh in range(WINDOW)]
    return cols[:, order].transpose(1, 2).reshape(n, -1, WINDOW * WINDOW)


def _normalise(w: Tensor) -> Tensor:
    """Min-max normalisation of each window; a constant window becomes all ones (`ones(2*w+1)`)."""
    lo, hi = w.amin(dim=1, keepdim=True), w.amax(dim=1, keepdim=True)
    flat = hi == lo
    return torch.where(flat, torch.ones_like(w), (w - lo) / torch.where(flat, torch.ones_like(hi), hi - lo))


def _neg_xlog2x(p: Tensor) -> Tensor:
    """-p log2|p| with 0 for p == 0: MATLAB's `real(-p .* log2(p))` (a negative p has a complex log)."""
    return -torch.special.xlogy(p, p.abs()) / _LOG2


def _mean_in_order(p: Tensor) -> Tensor:
    """MATLAB/Octave `mean(p)` of each row: a left-to-right sum divided by the count, (M, 9) -> (M, 1).

    The order matters for a constant window, whose PDF is nine copies of fl(1/9): see `fmi_of_features`.
    """
    total = p[:, 0]
    for i in range(1, p.shape[1]):
        total = total + p[:, i]
    return (total / p.shape[1]).unsqueeze(1)


def _nfmi_normalised(a: Tensor, f: Tensor) -> Tensor:
    """Normalised feature MI of min-max normalised windows a, f: (M, 9) each -> (M,).

    Follows the per-window body of Haghighat's `fmi.m` after the equality test, with 1-based position index i.
    The Frechet bound's joint CDF, min(F_i, A_j) when c >= 0 or max(F_i + A_j - 1, 0) when c < 0, puts on cell
    (i, j) the mass |[F_i-1, F_i] & [A_j-1, A_j]| or |[F_i-1, F_i] & [1 - A_j, 1 - A_j-1]|: `fmi.m`'s four-term
    differences of the bound, computed as interval overlaps (equal up to rounding).
    """
    n = a.shape[1]
    ap, fp = a / a.sum(dim=1, keepdim=True), f / f.sum(dim=1, keepdim=True)
    ac, fc = ap.cumsum(dim=1), fp.cumsum(dim=1)
    at, ft = ap - _mean_in_order(ap), fp - _mean_in_order(fp)
    s = (at * ft).sum(dim=1)
    denom = ((at * at).sum(dim=1) * (ft * ft).sum(dim=1)).sqrt()
    c = torch.where(s == 0, torch.zeros_like(s), s / torch.where(s == 0, torch.ones_like(denom), denom))
    idx = torch.arange(1, n + 1, dtype=a.dtype, device=a.device)

    def sd(p: Tensor) -> Tensor:   # population SD of the position under p; clamped: MATLAB would go complex
        return ((idx * idx * p).sum(dim=1) - (idx * p).sum(dim=1) ** 2).clamp(min=0).sqrt()
    a_sd, f_sd = sd(ap), sd(fp)
    zero = torch.zeros_like(ac[:, :1])
    a_prev, f_prev = torch.cat([zero, ac[:, :-1]], dim=1), torch.cat([zero, fc[:, :-1]], dim=1)
    upper = (c >= 0)[:, None]
    lo, hi = torch.where(upper, a_prev, 1 - ac), torch.where(upper, ac, 1 - a_prev)
    mass = torch.minimum(fc[:, :, None], hi[:, None, :])
    mass.sub_(torch.maximum(f_prev[:, :, None], lo[:, None, :])).clamp_(min=0)      # (M, i over f, j over a)
    # sum_ij bound(i, j) = sum_ij mass(i, j) (n + 1 - i)(n + 1 - j): the covariance of the bound coupling
    tail = (n + 1 - idx)
    bound_sum = mass.reshape(-1, n * n) @ (tail[:, None] * tail[None, :]).reshape(-1)
    cov = bound_sum - fc.sum(dim=1) * ac.sum(dim=1)
    degenerate = (c == 0) | (a_sd == 0) | (f_sd == 0)
    mix = torch.where(degenerate, torch.zeros_like(c), c * f_sd * a_sd / torch.where(degenerate, torch.ones_like(cov),
                                                                                     cov))
    joint = mass.mul_(mix[:, None, None]).addcmul_(((1 - mix)[:, None] * fp)[:, :, None], ap[:, None, :])
    # -sum p log2|p| (MATLAB's real(-p log2 p): a negative p has a complex log), 0 log 0 = 0
    joint_entropy = -torch.special.xlogy(joint, joint.abs()).reshape(-1, n * n).sum(dim=1) / _LOG2
    h_a, h_f = _neg_xlog2x(ap).sum(dim=1), _neg_xlog2x(fp).sum(dim=1)
    mi = h_a + h_f - joint_entropy
    return torch.where(mi == 0, torch.zeros_like(mi), 2 * mi / torch.where(mi == 0, torch.ones_like(h_a), h_a + h_f))


def _nfmi_where_needed(a: Tensor, f: Tensor, equal: Tensor) -> Tensor:
    """Window scores (1 where `equal`), computing only the other windows, in blocks: (M, 9) x2, (M,) -> (M,)."""
    out = torch.ones(a.shape[0], dtype=a.dtype, device=a.device)
    todo = (~equal).nonzero().squeeze(1)
    for start in range(0, todo.numel(), _CHUNK):
        idx = todo[start:start + _CHUNK]
        out[idx] = _nfmi_normalised(_normalise(a[idx]), _normalise(f[idx]))
    return out


def fmi_of_features(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Fast-FMI (3x3 windows) of feature maps, as Haghighat's `fmi.m` after its feature extraction: (N,) float64.

    Per window: if the source window equals the fused window exactly the score is 1; otherwise both are min-max
    normalised (constant -> ones), divided by their sums to give PDFs over the 9 positions (MATLAB column-major
    order), and FMI = 2 MI / (H_a + H_f) in bits, 0 when MI == 0. The joint PDF is phi * (Frechet upper-bound mass)
    + (1 - phi) * product, phi = c / corr_up, when the Pearson correlation c of the PDFs is >= 0, and likewise with
    the lower bound when c < 0; phi = 0 when c == 0 or a PDF has zero spread.

    Two details of `fmi.m` that a reimplementation could get wrong are followed:

    * Two constant windows (e.g. an all-zero source edge window against an all-zero fused one, or two flat pixel
      windows) both become uniform PDFs of nine fl(1/9). `mean` sums them left to right to 1 + 2^-52, so their
      deviations from the mean are equal tiny constants, their correlation is c = 1 and the window scores 1 (as
      for equal windows). GNU Octave running `fmi.m` gives exactly this; a pairwise or SIMD sum would give c = 0
      and a score of 0 (TNO #10 SeAFusion, fmi_edge: 0.871124 here, 0.868494 that way). MATLAB's `sum` is taken
      to add in order like Octave's; no MATLAB run was available to confirm it.
    * The IR branch overwrites the fused window with its normalised copy, so the visible branch's equality test
      may compare the raw visible window with the normalised fused one. This changes nothing: windows whose
      normalised copies are equal score 1 (up to rounding) through the computation too (c = 1 and the comonotone
      coupling), so it is not reproduced and the score stays symmetric in the two sources.
    """
    if _cpu_kernels.usable(fused, fused.numel() * 9):
        out = _cpu_kernels.fmi_of_features(fused, ir, vis)
    else:
        out = _fmi_of_features(fused, ir, vis)
    if not bool(torch.isfinite(out).all()):
        raise ValueError('FMI is not finite for some image (a window with a degenerate joint distribution).')
    return out


def _fmi_of_features(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """The torch form of `fmi_of_features`, in blocks of windows (`_cpu_kernels.fmi_of_features` is the fused CPU
    form; it computes the joint entropy from the product part's closed form plus the at most 17 cells that carry
    Frechet mass, which equals the cell-by-cell sum up to rounding)."""
    n = fused.shape[0]
    f, a, b = (windows_column_major(t) for t in (fused, ir, vis))
    f, a, b = (t.reshape(-1, WINDOW * WINDOW) for t in (f, a, b))
    equal_a = (a == f).all(dim=1)
    equal_b = (b == f).all(dim=1)
    score = (_nfmi_where_needed(a, f, equal_a) + _nfmi_where_needed(b, f, equal_b)) / 2
    return score.view(n, -1).mean(dim=1)


@register_metric('fmi_pixel', higher_is_better=True, needs_sources=True, min_size=3,
                 reference="Haghighat & Razian 2014 fast-FMI on raw pixels (fmi.m feature 'none', 3x3 windows), "
                           'mean of the IR and visible scores, 0-255')
def fmi_pixel(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Fast feature mutual information on raw pixel values (Haghighat's `fmi(ima, imb, imf, 'none', 3)`), per image.

    See `fmi_of_features` for the window algorithm. The score is invariant to the value scale (each window is
    min-max normalised), in [0, 1] up to the Nelsen approximation, and 1 where the fused window equals the source
    window. Tang's and MEFB's code call `fmi` without a feature, which selects 'edge': their "FMI_pixel"/"FMI" is
    `fmi_edge` (registered there for their conventions); no reference convention reports this pixel variant.

    Args:
        fused: (N, 1, H, W) float tensor, H, W >= 3.
        ir: infrared source, same shape.
        vis: visible source, same shape.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if the images are not floating (N, 1, H, W) tensors of one shape with H, W >= 3.

    Example:
        >>> import torch
        >>> img = torch.arange(30.).view(1, 1, 5, 6) % 7
        >>> fmi_pixel(img, img, img)       # every window equals the fused one
        tensor([1.], dtype=torch.float64)

    References:
        M. B. A. Haghighat, A. Aghagolzadeh, H. Seyedarabi, "A non-reference image fusion metric based on mutual
        information of image features", Comput. Electr. Eng. 37(5) (2011) 744-756; M. Haghighat, M. A. Razian,
        "Fast-FMI: non-reference image fusion metric", AICT 2014; `analysis_fmi.m` in Linfeng-Tang/Image-Fusion
        @ 53f5542 and `metricsFMI.m` in xingchenzhang/MEFB @ 9e185bf (the same code).
    """
    check_images(fused, ir, vis, min_size=WINDOW)
    return fmi_of_features(*(t.detach().to(torch.float64) for t in (fused, ir, vis)))
