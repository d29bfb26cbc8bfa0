"""Qcb: Chen-Blum contrast-preservation quality, human-visual-system based (VIFB/MEFB metricsQcb.m)."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from metrics import _cpu_kernels
from metrics._checks import check_images
from metrics._filters import matlab_round
from metrics._registry import register_metric, register_variant

# CSF (difference of Gaussians) and local-contrast constants of Z. Liu's metricChenBlum.m.
_F0, _F1, _A = 15.3870, 1.3456, 0.7622
_P, _Q, _Z = 3, 2, 0.0001
_SIGMAS, _RADIUS = (2.0, 4.0), 15


def _normalize1(x: Tensor, names: list[str], metric: str, allow_zero: bool) -> Tensor:
    """Z. Liu's `normalize1`: round((x - min) / (max - min) * 255) per image; an all-zero image is left as it is.

    A constant non-zero image gives 0/0 (NaN everywhere) in the reference: ValueError naming it. `names[i]` names
    image i of the stacked batch; `allow_zero` says whether an all-zero image is fine for the metric.
    """
    flat = x.flatten(1)
    lo, hi = flat.min(1).values, flat.max(1).values
    bad = (lo == hi) & ((hi != 0) | (not allow_zero))    # lo == hi == 0: all zero
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        why = ("`normalize1`'s (x - min) / (max - min) is 0/0" if hi[i] != 0 else
               'its local contrast is 0/0 everywhere')
        raise ValueError(f'{names[i]} is constant: {metric} is undefined ({why}; the reference returns NaN).')
    lo, hi = lo.view(-1, 1, 1, 1), hi.view(-1, 1, 1, 1)
    zero = (hi == 0) & (lo == 0)                     # all-zero images pass unchanged
    scaled = (x - lo) / torch.where(zero, torch.ones_like(hi), hi - lo) * 255
    return torch.where(zero, x, matlab_round(scaled))


def _freqspace_radius(h: int, w: int, w_half: bool, scale_h: float, scale_w: float, *, device) -> Tensor:
    """r = sqrt(u^2 + v^2) of MATLAB `freqspace([h, w], 'meshgrid')` with u scaled by `scale_w` and v by `scale_h`,
    laid out like an unshifted FFT (what `ifftshift` of the centred grid gives); only the columns of `rfft2` when
    `w_half`. freqspace(n) = ((0:n-1) - floor(n/2)) * (2/n)."""
    def axis(n: int, keep: int) -> Tensor:
        m = torch.arange(n, dtype=torch.float64, device=device)
        m = torch.where(m < (n + 1) // 2, m, m - n)[:keep]      # DFT index -> signed frequency index
        return m * (2 / n)
    u = scale_w * axis(w, w // 2 + 1 if w_half else w)
    v = scale_h * axis(h, h)
    return torch.sqrt(u.square()[None, :] + v.square()[:, None])


def _fast_len(n: int) -> int:
    """Smallest 2-3-5-smooth integer >= n (fast FFT size)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _local_contrast(y: Tensor) -> Tensor:
    """|filter2(G1, y, 'same') / filter2(G2, y, 'same') - 1| of (M, 1, H, W) planes (`_gaussian_filtered`)."""
    h, w = y.shape[-2:]
    filtered = _gaussian_filtered(y)[..., :h, :w]
    return (filtered[:, 0:1] / filtered[:, 1:2] - 1).abs()


def _gaussian_filtered(y: Tensor) -> Tensor:
    """filter2(G, y, 'same') of (M, 1, H, W) planes for the reference's two 31 x 31 unnormalised Gaussians
    exp(-(x^2 + y^2) / (2 s^2)) / (2 pi s^2), s = 2 and 4, zero padding: (M, 2, PH, PW), valid in the top-left
    H x W. Linear convolution by FFT, padded by the kernel radius (and to a fast size) so nothing wraps round."""
    h, w = y.shape[-2:]
    ph, pw = _fast_len(h + _RADIUS), _fast_len(w + _RADIUS)
    r = torch.arange(-_RADIUS, _RADIUS + 1, dtype=torch.float64, device=y.device)
    d2 = r[None, :] ** 2 + r[:, None] ** 2
    kernels = torch.stack([torch.exp(-d2 / (2 * s * s)) / (2 * math.pi * s * s) for s in _SIGMAS])
    # Centre each kernel on the origin of a (ph, pw) grid: offsets -15..15 wrap round to the end.
    grid = torch.zeros(2, ph, pw, dtype=torch.float64, device=y.device)
    idx_h = torch.remainder(r.long(), ph)
    idx_w = torch.remainder(r.long(), pw)
    grid[:, idx_h[:, None], idx_w[None, :]] = kernels
    spectra = torch.fft.rfft2(grid)                                         # (2, ph, pw // 2 + 1)
    return torch.fft.irfft2(torch.fft.rfft2(y, s=(ph, pw)) * spectra, s=(ph, pw))


def _defined(out: Tensor) -> Tensor:
    if bool(out.isnan().any()):
        i = int(out.isnan().nonzero()[0])
        raise ValueError(f'Qcb is undefined for image {i} of the batch: a local contrast of exactly 0 or a zero '
                         'local mean makes the reference compute 0/0 (NaN).')
    return out


def _qcb(fused: Tensor, ir: Tensor, vis: Tensor, unit: bool) -> Tensor:
    """Batched Chen-Blum Qcb; `unit` divides by 255 before `normalize1`, as `im2double` of uint8 images does."""
    n, (h, w) = fused.shape[0], fused.shape[-2:]
    # VIFB argument order is (vi, ir, fused): im1 = vis, im2 = ir.
    x = torch.cat([vis, ir, fused]).detach().to(torch.float64)
    if unit:
        x = x / 255
    names = [f'`{s}` (image {i} of the batch)' for s in ('vis', 'ir', 'fused') for i in range(n)]
    x = _normalize1(x, names, 'Qcb', allow_zero=False)
    # Contrast sensitivity filtering: fft2 -> times the DoG CSF (freqspace scaled by h/30 and w/30) -> ifft2.
    r = _freqspace_radius(h, w, True, h / 30, w / 30, device=x.device)
    csf = torch.exp(-(r / _F0) ** 2) - _A * torch.exp(-(r / _F1) ** 2)
    y = torch.fft.irfft2(torch.fft.rfft2(x) * csf, s=(h, w))
    if _cpu_kernels.usable(y, y.numel()):
        out = _cpu_kernels.chen_blum_sums(_gaussian_filtered(y), n, h, w, (_P, _Q, _Z)) / (h * w)
        return _defined(out)
    c = _local_contrast(y)
    cp = c ** _P / (c ** _Q + _Z)                                            # C' = k C^p / (h C^q + Z)
    c1, c2, cf = cp.split(n)
    # Preservation as coded: (C1/Cf) mask + (Cf/C1) (1 - mask), NaN where a contrast is exactly 0, like MATLAB.
    mask1, mask2 = (c1 < cf).double(), (c2 < cf).double()
    q1 = (c1 / cf) * mask1 + (cf / c1) * (1 - mask1)
    q2 = (c2 / cf) * mask2 + (cf / c2) * (1 - mask2)
    s1, s2 = c1 * c1, c2 * c2
    q = (s1 / (s1 + s2)) * q1 + (s2 / (s1 + s2)) * q2
    return _defined(q.mean((1, 2, 3)))


@register_metric('qcb', higher_is_better=True, needs_sources=True,
                 reference='Chen & Blum (2009) as coded by Z. Liu (metricChenBlum.m), VIFB @ 22b2ea9 '
                           'metrics/metricsQcb.m on 0-255 doubles')
def qcb(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Qcb: how well the fused image preserves the sources' local contrast, as seen through a CSF, in [0, 1].

    Z. Liu's code (as in VIFB and MEFB): each image is normalised to round((x - min) / (max - min) * 255) (MATLAB
    rounding), filtered in the frequency domain by the DoG CSF S(r) = exp(-(r / 15.387)^2) - 0.7622
    exp(-(r / 1.3456)^2) on `freqspace` scaled by H/30 and W/30 (fft2, ifft2). The local contrast of the filtered
    image y uses 31 x 31 unnormalised Gaussians (sigma 2 and 4): C = |filter2(G_2, y) / filter2(G_4, y) - 1| (zero
    padding), and C' = C^3 / (C^2 + 1e-4).
    Q^XF = min(C'_X, C'_F) / max(C'_X, C'_F), saliency lambda_X = C'_X^2 / (C'_A^2 + C'_B^2), and
    Qcb = mean(lambda_A Q^AF + lambda_B Q^BF). TNO #10 with SeAFusion: 0.461084.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape on the 0-255 scale.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: for tensors of the wrong shape, type or size, non-finite values, for a constant image (the
            normalisation, or the local contrast of an all-zero image, is 0/0), or when a local contrast is exactly
            0 (the reference's 0 * inf gives NaN).

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> ir, vis = torch.rand(2, 1, 1, 32, 32, generator=g) * 255
        >>> qcb(ir, ir, vis) > qcb((ir + vis) / 2, ir, vis)   # keeping IR's contrast exactly beats averaging
        tensor([True])

    References:
        Y. Chen, R. S. Blum, "A new automated quality assessment algorithm for image fusion", Image Vis. Comput. 27
        (2009). xingchenzhang/VIFB @ 22b2ea9, metrics/metricsQcb.m L31-138 (from zhengliu6699/imageFusionMetrics
        metricChenBlum.m).
    """
    check_images(fused, ir, vis)
    return _qcb(fused, ir, vis, unit=False)


def qcb_mefb(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Qcb as MEFB computes it: its wrapper passes the uint8 images on, so `im2double` makes them [0, 1] before
    `normalize1`.

    The normalised levels equal VIFB's except where (x - min) / (max - min) * 255 is exactly a half on 0-255 data
    (e.g. 127.5 when max - min = 254): on [0, 1] data it may round to just below and go down. Takes 0-255 images and
    divides by 255 itself, as `im2double` does.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape on the 0-255 scale.

    Returns:
        (N,) float64 tensor.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> ir, vis = torch.rand(2, 1, 1, 32, 32, generator=g) * 255
        >>> bool(torch.isclose(qcb_mefb(ir, ir, vis), qcb(ir, ir, vis)))
        True
    """
    check_images(fused, ir, vis)
    return _qcb(fused, ir, vis, unit=True)


register_variant('qcb', 'vifb', 'xingchenzhang/VIFB @ 22b2ea9, metrics/metricsQcb.m L31-138 (double(uint8), '
                 'per channel)')
register_variant('qcb', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsQcb.m: im2double(uint8) before '
                 'normalize1', qcb_mefb)
