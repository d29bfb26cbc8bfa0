"""MI: mutual information between each source and the fused image, MI(IR, F) + MI(VIS, F)."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from metrics import _cpu_kernels
from metrics._checks import check_images
from metrics._filters import entropy_bits, histogram, joint_histogram, matlab_round
from metrics._registry import register_metric, register_variant

LN2 = math.log(2)


def _levels(image: Tensor) -> Tensor:
    """(N, 1, H, W) -> (N, H*W) grey levels in 0..255: rounded half to even (as np.round), clipped."""
    x = image.detach().to(torch.float64).flatten(1)
    if _cpu_kernels.usable(x, x.numel()):
        return _cpu_kernels.round_clamp(x, half_away=False)
    return x.round().clamp_(0, 255)


def _uint8(image: Tensor) -> Tensor:
    """(N, 1, H, W) -> (N, H*W) as MATLAB's uint8(): rounded half away from zero, saturated to 0..255."""
    return matlab_round(image.detach().to(torch.float64).flatten(1), 0, 255)


def _mi_from_joint(joint: Tensor) -> Tensor:
    """H(X) + H(Y) - H(X, Y) in bits from (N, B, B) joint counts (marginals are its row and column sums)."""
    p = joint / joint.sum(dim=(1, 2), keepdim=True)
    return entropy_bits(p.sum(dim=2)) + entropy_bits(p.sum(dim=1)) - entropy_bits(p.flatten(1))


@register_metric('mi', higher_is_better=True, needs_sources=True,
                 reference='textbook: MI(IR, F) + MI(VIS, F) of 256-bin grey-level histograms, in bits')
def mutual_information(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Mutual information of the fused image with each source, summed over the two sources, in bits.

    MI(X, F) = H(X) + H(F) - H(X, F) with the entropies of the 256-bin grey-level histograms and of the 256 x 256
    joint histogram, log base 2 (Qu, Zhang & Yan 2002). Values are rounded to the nearest grey level (half to
    even) and clipped to [0, 255] before binning, so integer images (what a saved PNG holds) are binned exactly.
    A constant image shares no information: its MI is 0.

    Args:
        fused: (N, 1, H, W) float tensor on the 0-255 scale.
        ir: infrared source, same shape.
        vis: visible source, same shape.

    Returns:
        (N,) float64 tensor, non-negative (to rounding), at most H(IR) + H(VIS).

    Raises:
        ValueError: if the images are not floating (N, 1, H, W) tensors of one shape.

    Example:
        >>> import torch
        >>> img = torch.tensor([0., 255.]).repeat(8).reshape(1, 1, 4, 4)   # one bit of information
        >>> mutual_information(img, img, 255 - img)
        tensor([2.], dtype=torch.float64)

    References:
        G. Qu, D. Zhang, P. Yan, "Information measure for performance of image fusion", Electron. Lett. 38(7) (2002).
        Reference implementations of the variants: CDDFuse `utils/Evaluator.py` @ fd8da1f (MI, L62-66);
        Linfeng-Tang/Image-Fusion @ 53f5542 `General Evaluation Metric/Evaluation/MI_evaluation.m`, `Hab.m`;
        xingchenzhang/VIFB @ 22b2ea9 `metrics/metricsMutinf.m`.
    """
    check_images(fused, ir, vis)
    f, a, b = (_levels(t) for t in (fused, ir, vis))
    return _mi_from_joint(_pair_histogram(f, a, b)).view(2, -1).sum(dim=0)


def _pair_histogram(f: Tensor, a: Tensor, b: Tensor, cap: int | None = None) -> Tensor:
    """Joint histograms (2N, 256, 256) of (A, F) for the N images, then of (B, F), from (N, P) integer levels:
    rows index the source; with `cap`, levels above it count as `cap`."""
    return torch.cat([joint_histogram(x, f, cap=cap) for x in (a, b)])


def _sklearn_terms(cells: Tensor, a: Tensor, b: Tensor, p: int) -> Tensor:
    """sklearn's per-cell MI terms from the cells' counts n_ij and their row and column totals a_i, b_j."""
    log_p = math.log(p)
    c_nm = cells / p
    terms = c_nm * (torch.log(cells) - log_p) + c_nm * (-torch.log(a * b) + log_p + log_p)
    return torch.where(terms.abs() < torch.finfo(torch.float64).eps, 0., terms)


def _sklearn_mi_levels(labels_a: Tensor, labels_b: Tensor) -> Tensor:
    """`mutual_info_score` per row of two (M, P) tensors of integer levels 0..255 (dense 256 x 256 table)."""
    p = labels_a.shape[1]
    joint = joint_histogram(labels_a, labels_b)                     # (M, 256, 256)
    rows, cols = joint.sum(dim=2), joint.sum(dim=1)
    nz = joint > 0
    terms = _sklearn_terms(torch.where(nz, joint, 1.), rows[:, :, None].expand_as(joint),
                           cols[:, None, :].expand_as(joint), p)
    mi = torch.where(nz, terms, 0.).sum(dim=(1, 2)).clamp(min=0)
    single = ((rows > 0).sum(dim=1) == 1) | ((cols > 0).sum(dim=1) == 1)
    return torch.where(single, 0., mi)


def _sklearn_mi_values(values_a: Tensor, values_b: Tensor) -> Tensor:
    """`mutual_info_score` per row of two (M, P) float tensors: every distinct value is a label (sparse table)."""
    m, p = values_a.shape
    row = torch.arange(m, device=values_a.device)[:, None].expand(m, p).reshape(-1)
    # Label ids unique across rows: (row, value) pairs.
    ids_a = torch.unique(torch.stack([row.to(values_a.dtype), values_a.reshape(-1)]), dim=1, return_inverse=True,
                         return_counts=True)
    ids_b = torch.unique(torch.stack([row.to(values_b.dtype), values_b.reshape(-1)]), dim=1, return_inverse=True,
                         return_counts=True)
    (_, inv_a, count_a), (_, inv_b, count_b) = ids_a, ids_b
    _, inv_c, count_c = torch.unique(inv_a * count_b.numel() + inv_b, return_inverse=True, return_counts=True)
    cells = count_c.to(torch.float64)
    # Every pixel of a cell has the same row, a_i and b_j: scatter them onto the cells.
    a = cells.new_zeros(cells.shape).scatter_(0, inv_c, count_a[inv_a].to(torch.float64))
    b = cells.new_zeros(cells.shape).scatter_(0, inv_c, count_b[inv_b].to(torch.float64))
    cell_row = inv_c.new_zeros(cells.shape).scatter_(0, inv_c, row)
    mi = cells.new_zeros(m).index_add_(0, cell_row, _sklearn_terms(cells, a, b, p)).clamp(min=0)
    labels_per_row = [torch.bincount(ids[0][0].long(), minlength=m) for ids in (ids_a, ids_b)]
    return torch.where((labels_per_row[0] == 1) | (labels_per_row[1] == 1), 0., mi)


def mutual_information_sklearn(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """MI as CDDFuse computes it: `sklearn.metrics.mutual_info_score(F, X)` for X = IR, VIS, summed; in nats.

    `mutual_info_score` treats every distinct value as its own label (a contingency table of the unique values, no
    binning) and uses the natural logarithm. On integer grey-level images that is the 256-bin MI in nats (the
    default times ln 2); non-integer inputs keep their distinct values apart, as sklearn does. sklearn's details
    are reproduced: per-cell terms under machine epsilon are zeroed, the sum is clipped at 0, and a constant image
    gives 0.

    Example:
        >>> import torch
        >>> img = torch.tensor([0., 255.]).repeat(8).reshape(1, 1, 4, 4)
        >>> mutual_information_sklearn(img, img, img)   # 2 ln 2
        tensor([1.3863], dtype=torch.float64)
    """
    check_images(fused, ir, vis)
    f, a, b = (t.detach().to(torch.float64).flatten(1) for t in (fused, ir, vis))
    f, x = torch.cat([f, f]), torch.cat([a, b])
    if all(bool(((t == t.round()) & (t >= 0) & (t <= 255)).all()) for t in (f, x)):
        mi = _sklearn_mi_levels(f, x)
    else:
        mi = _sklearn_mi_values(f, x)
    return mi.view(2, -1).sum(dim=0)


def mutual_information_tang(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """MI as Tang's MATLAB code computes it (Qu Xiaobo's `MI_evaluation.m` and `Hab.m`), in bits.

    MI = H(A) + H(F) - H(F, A) + H(B) + H(F) - H(F, B) on uint8 images. The marginal entropies come from MATLAB's
    `entropy` (256-bin `imhist`, log2), but `Hab.m` indexes its 256 x 256 joint histogram with `x + 1` computed in
    uint8, which saturates: grey level 255 lands in the bin of 254. Joint entropies are therefore computed with
    levels 254 and 255 merged (on both axes) while the marginals keep them apart, so images with saturated pixels
    (hot IR targets, clipped skies) get a higher MI than the textbook value. Inputs are converted as MATLAB's
    uint8() does (rounded half away from zero, saturated to [0, 255]).

    Example:
        >>> import torch
        >>> img = torch.tensor([254., 255.]).repeat(8).reshape(1, 1, 4, 4)   # the textbook MI is 1 + 1
        >>> mutual_information_tang(img, img, img)   # H(F, X) = 0 after the merge: MI = 1 + 1 - 0, twice
        tensor([4.], dtype=torch.float64)
    """
    check_images(fused, ir, vis)
    f, a, b = (_uint8(t) for t in (fused, ir, vis))
    p = f.shape[1]
    h_f, h_a, h_b = (entropy_bits(histogram(t) / p) for t in (f, a, b))
    joint = _pair_histogram(f, a, b, cap=254)
    h_joint = entropy_bits(joint.flatten(1) / p).view(2, -1)
    return (h_a + h_f - h_joint[0]) + (h_b + h_f - h_joint[1])


def mutual_information_vifb(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """MI as VIFB's `metricsMutinf.m` computes it: each image min-max stretched and re-binned, natural log.

    `mutinf(a, b)` stretches each image to [0, 1] by its own min and max (a constant image becomes all 0), bins it
    as `int16(x * 255) + 1` (rounded half away from zero) into 256 bins and returns Ha + Hb - Hab with the natural
    logarithm. It equals the sklearn (CDDFuse) value whenever both images already span 0..255, and differs when
    an image's range is narrower (the stretch spreads its levels, and rounding can merge or split them).

    Example:
        >>> import torch
        >>> img = torch.tensor([100., 110.]).repeat(8).reshape(1, 1, 4, 4)   # stretched to 0 and 255
        >>> mutual_information_vifb(img, img, img)   # 2 ln 2
        tensor([1.3863], dtype=torch.float64)
    """
    check_images(fused, ir, vis)
    f, a, b = (_stretched_levels(t) for t in (fused, ir, vis))
    return (_mi_from_joint(_pair_histogram(f, a, b)) * LN2).view(2, -1).sum(dim=0)


def _stretched_levels(image: Tensor) -> Tensor:
    """`double(int16((x - min) / (max - min) * 255))` per image (0 for a constant image), as (N, H*W)."""
    x = image.detach().to(torch.float64).flatten(1)
    lo, hi = x.min(dim=1, keepdim=True).values, x.max(dim=1, keepdim=True).values
    flat = hi == lo
    stretched = (x - lo) / torch.where(flat, 1., hi - lo)
    return torch.where(flat, 0., matlab_round(stretched * 255))


register_variant('mi', 'cddfuse', 'CDDFuse utils/Evaluator.py @ fd8da1f, MI (L62-66): sklearn mutual_info_score '
                 '(F, X) summed over the sources, nats', mutual_information_sklearn)
register_variant('mi', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, MI_evaluation.m L12-19 + Hab.m L11-27 on '
                 'uint8 (joint index x+1 saturates: 254/255 share a bin), bits', mutual_information_tang)
register_variant('mi', 'tang2023', 'Linfeng-Tang/Image-Fusion @ HEAD 2023, analysis_Reference.m L20: MI_evaluation.m '
                 '+ Hab.m on uint8 (joint index x+1 saturates), bits', mutual_information_tang)
register_variant('mi', 'vifb', 'xingchenzhang/VIFB @ 22b2ea9, metrics/metricsMutinf.m L33-116: min-max stretch, '
                 'int16(x*255)+1 bins, natural log', mutual_information_vifb)
