"""Qcv: Chen-Varshney human-perception fusion metric on 16 x 16 regions (VIFB/MEFB metricsQcv.m); lower is better."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric, register_variant
from metrics.qcb import _freqspace_radius, _normalize1

_WINDOW, _ALPHA = 16, 5


def _sobel_magnitude(x: Tensor) -> Tensor:
    """sqrt(X^2 + Y^2) of filter2([-1 0 1; -2 0 2; -1 0 1], x, 'same') and its transpose (zero padding); the
    separable sums are exact on the integer levels `normalize1` produces."""
    p = F.pad(x, (1, 1, 1, 1))
    v = (p[..., :-2, :] + p[..., 2:, :]).add_(p[..., 1:-1, :], alpha=2)
    u = (p[..., :-2] + p[..., 2:]).add_(p[..., 1:-1], alpha=2)
    gx, gy = v[..., 2:] - v[..., :-2], u[..., 2:, :] - u[..., :-2, :]
    return torch.sqrt(gx * gx + gy * gy)


def _block_sums(x: Tensor) -> Tensor:
    """Sums over the distinct 16 x 16 blocks, the image zero-padded on the right and bottom as `blkproc` pads it:
    (N, 1, H, W) -> (N, ceil(H / 16), ceil(W / 16))."""
    h, w = x.shape[-2:]
    x = F.pad(x, (0, -w % _WINDOW, 0, -h % _WINDOW))
    n, _, hp, wp = x.shape
    return x.view(n, hp // _WINDOW, _WINDOW, wp // _WINDOW, _WINDOW).sum((2, 4))


def _qcv(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    n, (h, w) = fused.shape[0], fused.shape[-2:]
    # VIFB argument order is (vi, ir, fused): im1 = vis, im2 = ir.
    x = torch.cat([vis, ir, fused]).detach().to(torch.float64)
    names = [f'`{s}` (image {i} of the batch)' for s in ('vis', 'ir', 'fused') for i in range(n)]
    x = _normalize1(x, names, 'Qcv', allow_zero=True)
    src, fus = x[:2 * n], x[2 * n:]
    # Regional saliency: sum of g^alpha per block (the fused image's gradients are computed there but unused).
    saliency = _block_sums(_sobel_magnitude(src) ** _ALPHA)
    # Mannos-Sakrison CSF on freqspace scaled by W/8 and H/8, applied to the differences in the frequency domain.
    r = _freqspace_radius(h, w, True, h / 8, w / 8, device=x.device)
    csf = 2.6 * (0.0192 + 0.144 * r) * torch.exp(-(0.144 * r) ** 1.1)
    diff = torch.fft.irfft2(torch.fft.rfft2(src - fus.repeat(2, 1, 1, 1)) * csf, s=(h, w))
    dissimilarity = _block_sums(diff * diff) / (_WINDOW * _WINDOW)     # mean2 over the zero-padded block
    (s1, s2), (d1, d2) = saliency.split(n), dissimilarity.split(n)
    den = (s1 + s2).sum((1, 2))
    if bool((den == 0).any()):
        i = int((den == 0).nonzero()[0])
        raise ValueError(f'`ir` and `vis` are both constant (image {i} of the batch): Qcv = 0/0 is undefined, '
                         'as the regional saliencies that weight it are all zero.')
    return (s1 * d1 + s2 * d2).sum((1, 2)) / den


@register_metric('qcv', higher_is_better=False, needs_sources=True,
                 reference='Chen & Varshney (2007) as coded by Z. Liu (metricChen.m), VIFB @ 22b2ea9 '
                           'metrics/metricsQcv.m on 0-255 doubles')
def qcv(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Qcv: saliency-weighted, CSF-filtered squared difference between each source and the fused image.

    Z. Liu's code (as in VIFB and MEFB): each image is normalised to round((x - min) / (max - min) * 255) (MATLAB
    rounding; an all-zero image is kept). Per distinct 16 x 16 block (`blkproc`, zero padding at the right and
    bottom), the saliency of source X is lambda_X = sum(g_X^5), g the Sobel magnitude (`filter2`, zero padding), and
    the dissimilarity D_X = mean((CSF * (X - F))^2), where the Mannos-Sakrison CSF 2.6 (0.0192 + 0.144 r)
    exp(-(0.144 r)^1.1) is applied in the frequency domain on `freqspace` scaled by W/8 and H/8.
    Qcv = sum(lambda_A D_A + lambda_B D_B) / sum(lambda_A + lambda_B). Lower is better; the scale depends on the
    image (TNO #10 with SeAFusion: 126.5).

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape on the 0-255 scale.

    Returns:
        (N,) float64 tensor, >= 0.

    Raises:
        ValueError: for tensors of the wrong shape, type or size, non-finite values, a constant non-zero image
            (`normalize1` divides 0 by 0), or when `ir` and `vis` are both constant (all saliencies are 0).

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> ir, vis = torch.rand(2, 1, 1, 32, 32, generator=g) * 255
        >>> qcv(ir, ir, vis) > qcv((ir + vis) / 2, ir, vis)   # copying IR leaves VI's whole difference
        tensor([True])

    References:
        H. Chen, P. K. Varshney, "A human perception inspired quality metric for image fusion based on regional
        information", Information Fusion 8 (2007). xingchenzhang/VIFB @ 22b2ea9, metrics/metricsQcv.m L33-216 (from
        zhengliu6699/imageFusionMetrics metricChen.m).
    """
    check_images(fused, ir, vis)
    return _qcv(fused, ir, vis)


register_variant('qcv', 'vifb', 'xingchenzhang/VIFB @ 22b2ea9, metrics/metricsQcv.m L33-216 (double(uint8), '
                 'per channel)')
register_variant('qcv', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsQcv.m (as VIFB: double before '
                 'normalize1)')
