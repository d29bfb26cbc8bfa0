"""SSIM255: CDDFuse's SSIM with data_range = 255, as IF-FILM's copy of the evaluator computes it (cddfuse only)."""
from __future__ import annotations

from torch import Tensor

from metrics._registry import register_metric
from metrics.ssim import SKIMAGE_WINDOW, _prepare, skimage_ssim


@register_metric('ssim255', higher_is_better=True, needs_sources=True, convention='cddfuse', label='SSIM255',
                 min_size=7,
                 reference='IF-FILM copy of CDDFuse utils/Evaluator.py (fd8da1f SSIM L214-217 with data_range=255): '
                           'skimage structural_similarity(F, X, data_range=255) summed, float32')
def ssim255(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """skimage `structural_similarity(F, X, data_range=255)` for X = IR, VIS, summed (IF-FILM's evaluator).

    The same computation as the cddfuse `ssim` (7x7 uniform window, sample covariance, 3-pixel border excluded,
    float32 as skimage computes on CDDFuse's float32 images), with C1 = (0.01 * 255)^2 and C2 = (0.03 * 255)^2:
    the constants that suit 0-255 data. Registered only under the cddfuse convention: in the default convention it
    is the default `ssim` (Wang's Gaussian window) that plays this role.

    Args:
        fused: (N, 1, H, W) float tensor on the 0-255 scale, H, W >= 7.
        ir: infrared source, same shape.
        vis: visible source, same shape.

    Returns:
        (N,) float64 tensor in [-2, 2].

    Raises:
        ValueError: if the images are not floating (N, 1, H, W) tensors of one shape with H, W >= 7 (skimage
            rejects a window larger than the image).

    Example:
        >>> import torch
        >>> img = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 255
        >>> ssim255(img, img, img)
        tensor([2.], dtype=torch.float64)

    References:
        Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from error visibility to
        structural similarity", IEEE Trans. Image Process. 13(4) (2004); scikit-image
        `skimage/metrics/_structural_similarity.py`; CDDFuse `utils/Evaluator.py` @ fd8da1f.
    """
    f, sources = _prepare(fused, ir, vis, SKIMAGE_WINDOW)
    return skimage_ssim(f, sources, 255.0).sum(dim=1)
