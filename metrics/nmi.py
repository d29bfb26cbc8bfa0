"""NMI: Hossny's normalised mutual information between each source and the fused image."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._filters import joint_histogram, matlab_round
from metrics._registry import register_metric, register_variant

_NAMES = ('fused', 'ir', 'vis')


def _levels(image: Tensor) -> Tensor:
    """Grey levels for 256-bin histograms: rounded to the nearest level and clipped to [0, 255] (as EN)."""
    return image.detach().to(torch.float64).round().clamp(0, 255)


def _normalize1(image: Tensor, name: str) -> Tensor:
    """MEFB `normalize1.m`: stretch min..max to 0..255 and round half away from zero, per image.

    `RES = round((x - min) / (max - min) * 255)`, except that an all-zero image is returned unchanged. A constant
    non-zero image makes 0/0 = NaN there, and the NaN then fails as a MATLAB histogram index, so it raises here.

    Raises:
        ValueError: if an image is constant but not all zero, naming it.
    """
    x = image.detach().to(torch.float64).flatten(1)
    lo, hi = x.min(dim=1, keepdim=True).values, x.max(dim=1, keepdim=True).values
    constant = (hi == lo).squeeze(1) & (hi != 0).squeeze(1)
    if bool(constant.any()):
        i = int(constant.nonzero()[0])
        raise ValueError(f'`{name}` is constant ({float(lo[i]):g}) in image {i}: MEFB normalize1 stretches '
                         'min..max to 0..255 and divides by zero (the MATLAB code then fails on a NaN index).')
    zero = (hi == 0) & (lo == 0)
    v = (x - lo) / torch.where(zero, torch.ones_like(hi), hi - lo) * 255
    v = torch.where(zero, x, v)
    return matlab_round(v).view_as(image)


def _entropy_bits(p: Tensor) -> Tensor:
    """-sum p log2 p over the last dim (0 log 0 = 0), as one xlogy pass (fewer ops than `entropy_bits`)."""
    return -torch.special.xlogy(p, p).sum(dim=-1) / math.log(2)


def _mutual_info_terms(source: Tensor, fused: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(MI, H(source), H(fused)) in bits from the 256 x 256 joint histogram of integer levels."""
    n = source.shape[0]
    joint = joint_histogram(source.reshape(n, -1), fused.reshape(n, -1)) / source[0].numel()
    h_s, h_f = _entropy_bits(joint.sum(dim=2)), _entropy_bits(joint.sum(dim=1))
    return h_s + h_f - _entropy_bits(joint.flatten(1)), h_s, h_f


def _nmi_from_levels(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    total = torch.zeros(fused.shape[0], dtype=torch.float64, device=fused.device)
    for name, source in (('ir', ir), ('vis', vis)):
        mi, h_s, h_f = _mutual_info_terms(source, fused)
        den = h_s + h_f
        if bool((den == 0).any()):
            i = int((den == 0).nonzero()[0])
            raise ValueError(f'`{name}` and `fused` are both constant in image {i}: NMI is undefined '
                             f'(MI / (H({name}) + H(fused)) = 0/0).')
        total = total + mi / den
    return 2 * total


@register_metric('nmi', higher_is_better=True, needs_sources=True,
                 reference='Hossny et al. 2008: 2[MI(A,F)/(H(A)+H(F)) + MI(B,F)/(H(B)+H(F))], 256-bin '
                           'histograms (as MEFB metricsNMI.m on 0-255 gray images)')
def normalized_mutual_information(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Hossny's normalised mutual information, per image: 2 [MI(A,F) / (H(A)+H(F)) + MI(B,F) / (H(B)+H(F))].

    Entropies and MI come from 256-bin grey-level histograms (values rounded to the nearest level and clipped to
    [0, 255], as EN). The log base cancels. Range [0, 2]; 2 when the fused image and both sources are the same
    non-constant image. On integer 0-255 images this equals MEFB's value: its min-max stretch (`normalize1`) only
    relabels the grey levels, which leaves every entropy unchanged.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors on the 0-255 scale.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: for bad shapes or values, or when a source and the fused image are both constant (0/0).

    Example:
        >>> import torch
        >>> img = torch.tensor([0., 255.]).repeat(8).reshape(1, 1, 4, 4)
        >>> normalized_mutual_information(img, img, 255 - img)
        tensor([2.], dtype=torch.float64)

    References:
        M. Hossny, S. Nahavandi, D. Creighton, "Comments on 'Information measure for performance of image fusion'",
        Electron. Lett. 44 (18) (2008) 1066-1067. Code: xingchenzhang/MEFB @ 9e185bf, metrics/metricsNMI.m.
    """
    check_images(fused, ir, vis)
    return _nmi_from_levels(*(_levels(t) for t in (fused, ir, vis)))


def normalized_mutual_information_mefb(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """NMI as MEFB's `metricsNMI(A, B, F)` computes it, with A = `ir`, B = `vis`.

    Each image is first min-max stretched to 0..255 and rounded (`normalize1.m`), then binned into 256 levels; an
    all-zero image is left as it is. On integer 0-255 images the stretch does not change the value (see
    `normalized_mutual_information`); for other values it changes the binning.

    Raises:
        ValueError: for a constant image that is not all zero (MEFB divides by zero and fails), and when a source and
            the fused image are both all zero (0/0).

    Example:
        >>> import torch
        >>> img = torch.tensor([0., 255.]).repeat(8).reshape(1, 1, 4, 4)
        >>> normalized_mutual_information_mefb(img / 2, img, img)   # the stretch makes img / 2 equal to img
        tensor([2.], dtype=torch.float64)
    """
    check_images(fused, ir, vis)
    return _nmi_from_levels(*(_normalize1(t, n) for t, n in zip((fused, ir, vis), _NAMES)))


register_variant('nmi', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsNMI.m L41-108 (Hossny NMI, '
                 'normalize1.m stretch, 256-bin log2 histograms), called as metricsNMI(ir, vis, fused)',
                 normalized_mutual_information_mefb)
