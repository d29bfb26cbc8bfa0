"""TE: Cvejic's Tsallis mutual information between each source and the fused image (q = 1.85)."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._filters import joint_histogram
from metrics._registry import register_metric, register_variant
from metrics.nmi import _levels, _normalize1

CVEJIC_Q = 1.85   # Cvejic's constant, as in MEFB metricsTE.m L89 (Nava's 0.43137 is a different metric)


def _joint(source: Tensor, fused: Tensor) -> Tensor:
    n = source.shape[0]
    return joint_histogram(source.reshape(n, -1), fused.reshape(n, -1)) / source[0].numel()


def _tsallis(joint: Tensor, q: float, swapped_marginals: bool) -> Tensor:
    """(1 - sum p(s,f)^q / (p(s) p(f))^(q-1)) / (1 - q) over the bins of a (N, 256, 256) joint distribution."""
    p_s, p_f = joint.sum(dim=2), joint.sum(dim=1)   # rows: source level; columns: fused level
    if swapped_marginals:   # MEFB: row i weighted by p_f(i), column j by p_s(j); terms where that product is 0 skipped
        prod = p_f[:, :, None] * p_s[:, None, :]
        keep = prod != 0
    else:
        prod = p_s[:, :, None] * p_f[:, None, :]
        keep = joint > 0
    safe = torch.where(keep, prod, torch.ones_like(prod))
    terms = torch.where(keep, joint ** q / safe ** (q - 1), torch.zeros_like(joint))
    return (1 - terms.sum(dim=(1, 2))) / (1 - q)


def _te_from_levels(fused: Tensor, ir: Tensor, vis: Tensor, q: float, swapped_marginals: bool) -> Tensor:
    return sum(_tsallis(_joint(s, fused), q, swapped_marginals) for s in (ir, vis))


@register_metric('te', higher_is_better=True, needs_sources=True,
                 reference='Cvejic et al. 2006: Tsallis MI I_q(A,F) + I_q(B,F), q = 1.85, 256-bin histograms '
                           '(MEFB metricsTE.m without its marginal mix-up)')
def tsallis_entropy(fused: Tensor, ir: Tensor, vis: Tensor, *, q: float = CVEJIC_Q) -> Tensor:
    """Cvejic's Tsallis-entropy fusion metric, per image: I_q(A, F) + I_q(B, F), with

    I_q(X, F) = (1 - sum_{x,f} p(x,f)^q / (p(x) p(f))^(q-1)) / (1 - q),

    over 256-bin grey-level histograms (values rounded to the nearest level and clipped to [0, 255], as EN), q = 1.85
    (Cvejic's constant, as MEFB). It tends to the Shannon MI(A,F) + MI(B,F) in nats as q -> 1, and is 0 for
    independent images. MEFB's code pairs each joint bin with the wrong marginals; see `tsallis_entropy_mefb`.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors on the 0-255 scale.
        q: the Tsallis order (not 1).

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: for bad shapes or values, or q == 1.

    Example:
        >>> import torch
        >>> img = torch.tensor([0., 255.]).repeat(8).reshape(1, 1, 4, 4)   # 1 bit; I_q = (2^(q-1) - 1)/(q - 1)
        >>> tsallis_entropy(img, img, img, q=2.0)
        tensor([2.], dtype=torch.float64)

    References:
        N. Cvejic, C. N. Canagarajah, D. R. Bull, "Image fusion metric based on mutual information and Tsallis
        entropy", Electron. Lett. 42 (11) (2006) 626-627. Code: xingchenzhang/MEFB @ 9e185bf, metrics/metricsTE.m.
    """
    check_images(fused, ir, vis)
    if q == 1:
        raise ValueError('Expected `q` != 1 (the Tsallis formula divides by 1 - q), but got 1.')
    return _te_from_levels(*(_levels(t) for t in (fused, ir, vis)), q=q, swapped_marginals=False)


def tsallis_entropy_mefb(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """TE as MEFB's `metricsTE(A, B, F)` computes it (A = `ir`, B = `vis`), including its marginal mix-up.

    Every image is min-max stretched and rounded first (`normalize1.m`). Then `tsallis(im1, im2, q)` builds the
    joint histogram h(i, j) with rows indexed by the source level and columns by the fused level, but takes
    `im1_marg = sum(h)` (the column sums: the *fused* marginal) and `im2_marg = sum(h')` (the source marginal), and
    sums h(i,j)^q / (im1_marg(i) im2_marg(j))^(q-1) over the bins where that product is non-zero. Each joint bin is
    thus divided by the marginals of the wrong levels: the sum is no longer a divergence and the value is large and
    erratic (SeAFusion on TNO #10: 1035.7, on #41: 375433, where the textbook formula gives 5.8 and 9.8). Unlike
    the textbook value it changes when grey levels are relabelled, so the `normalize1` stretch matters even on
    integer images. q = 1.85.

    Raises:
        ValueError: for a constant image that is not all zero (MEFB's normalize1 divides by zero and fails).

    Example:
        >>> import torch
        >>> img = torch.tensor([0., 0., 0., 255.]).repeat(4).reshape(1, 1, 4, 4)   # levels with p = 3/4, 1/4
        >>> tsallis_entropy_mefb(255 - img, img, img), tsallis_entropy(255 - img, img, img)
        (tensor([12.5297], dtype=torch.float64), tensor([1.8118], dtype=torch.float64))
    """
    check_images(fused, ir, vis)
    levels = (_normalize1(t, n) for t, n in zip((fused, ir, vis), ('fused', 'ir', 'vis')))
    return _te_from_levels(*levels, q=CVEJIC_Q, swapped_marginals=True)


register_variant('te', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsTE.m L43-164 (q = 1.85, normalize1.m '
                 'stretch, marginals swapped in tsallis()), called as metricsTE(ir, vis, fused)',
                 tsallis_entropy_mefb)
