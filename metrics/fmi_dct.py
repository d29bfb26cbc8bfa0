"""FMI_dct: Haghighat's fast feature mutual information on the images' 2-D DCT coefficients (`fmi(..., 'dct')`)."""
from __future__ import annotations

import math

import scipy.fft
import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric, register_variant
from metrics.fmi_pixel import WINDOW, fmi_of_features


def _dct_last(x: Tensor) -> Tensor:
    """Orthonormal DCT-II along the last axis via one FFT (Makhoul's even/odd reordering)."""
    n = x.shape[-1]
    v = torch.cat([x[..., ::2], x[..., 1::2].flip(-1)], dim=-1)
    k = torch.arange(n, dtype=x.dtype, device=x.device)
    twiddle = torch.polar(torch.ones_like(k), -math.pi * k / (2 * n))
    y = (torch.fft.fft(v, dim=-1) * twiddle).real
    scale = torch.full_like(k, math.sqrt(2 / n))
    scale[0] = math.sqrt(1 / n)
    return y * scale


def dct2(x: Tensor) -> Tensor:
    """MATLAB `dct2`: orthonormal 2-D DCT-II of each whole (..., H, W) image.

    On the CPU scipy's pocketfft DCT (1.2 ms a 640 x 480 image on 2 threads); elsewhere `dct2_fft`."""
    if x.device.type == 'cpu' and not x.requires_grad:
        return torch.from_numpy(scipy.fft.dctn(x.detach().numpy(), type=2, norm='ortho', axes=(-2, -1),
                                               workers=torch.get_num_threads()))
    return dct2_fft(x)


def dct2_fft(x: Tensor) -> Tensor:
    """`dct2` by one FFT per axis (Makhoul), on any device."""
    return _dct_last(_dct_last(x).transpose(-1, -2)).transpose(-1, -2)


@register_metric('fmi_dct', higher_is_better=True, needs_sources=True, min_size=3,
                 reference="Haghighat & Razian 2014 fast-FMI on dct2 coefficients (fmi.m feature 'dct', 3x3 windows), "
                           'mean of the IR and visible scores')
def fmi_dct(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Fast feature mutual information of the images' DCT coefficients (Haghighat's `fmi(ima, imb, imf, 'dct', 3)`).

    As `fmi.m` codes it, the feature is `dct2` of the whole image (the orthonormal 2-D DCT-II, the same size as the
    image), and the 3x3 sliding windows of `fmi_of_features` then run over that coefficient array: neighbouring
    frequencies, not a per-window DCT. Each window is min-max normalised, so the value scale of the images does
    not matter (up to rounding).

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
        >>> img = torch.arange(20.).view(1, 1, 4, 5) ** 2
        >>> fmi_dct(img, img, img)
        tensor([1.], dtype=torch.float64)

    References:
        M. Haghighat, M. A. Razian, "Fast-FMI: non-reference image fusion metric", AICT 2014; `analysis_fmi.m` in
        Linfeng-Tang/Image-Fusion @ 53f5542 (the same code as MEFB's `metricsFMI.m`, which only uses 'edge').
    """
    check_images(fused, ir, vis, min_size=WINDOW)
    return fmi_of_features(*(dct2(t.detach().to(torch.float64)) for t in (fused, ir, vis)))


register_variant('fmi_dct', 'tang2022', "Linfeng-Tang/Image-Fusion @ 53f5542, analysis_Reference.m L75: "
                 "analysis_fmi(im2double ir, vis, F, 'dct'), [0, 1]", scale=1 / 255)
register_variant('fmi_dct', 'tang2023', "Linfeng-Tang/Image-Fusion @ dba5bf3 (HEAD), analysis_Reference.m L79: "
                 "analysis_fmi(..., 'dct') on 0-255 doubles")
