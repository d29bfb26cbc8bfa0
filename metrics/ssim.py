"""SSIM: Wang et al.'s structural similarity of the fused image with each source."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from metrics import _cpu_kernels
from metrics._checks import check_images
from metrics._filters import symmetric_indices, symmetric_pad
from metrics._registry import register_metric, register_variant
from metrics._filters import gaussian_taps, local_moments

WINDOW, SIGMA = 11, 1.5     # Wang's Gaussian window
K1, K2 = 0.01, 0.03
SKIMAGE_WINDOW = 7          # skimage structural_similarity default (uniform window)


def _gaussian_ssim(fused: Tensor, sources: list[Tensor], c1: float, c2: float, padding: str | None) -> Tensor:
    """Mean SSIM map of `fused` against each source with Wang's 11x11 Gaussian window: (N, S) float64.

    ssim = (2 mu_f mu_x + C1)(2 s_fx + C2) / ((mu_f^2 + mu_x^2 + C1)(s_f^2 + s_x^2 + C2)) with Gaussian-weighted
    moments, averaged over the map. `padding` None keeps 'valid' windows only (filter2 'valid'); 'replicate' pads
    by the window radius first, as MATLAB's `ssim` (imfilter 'replicate', same-size map) does.
    """
    images = torch.cat([fused] + sources, dim=1)
    if padding == 'replicate':
        images = F.pad(images, (WINDOW // 2,) * 4, mode='replicate')
    k = len(sources)
    # Means of f, x_1..x_k; then of f^2, and of x_i^2, f x_i for each source.
    pairs = [(0, 0)] + [p for i in range(1, k + 1) for p in ((i, i), (0, i))]
    stats = local_moments(images, pairs, gaussian_taps(WINDOW, SIGMA))
    mu_f = stats[:, :1]
    mu_f2 = mu_f * mu_f
    var_f = stats[:, k + 1:k + 2] - mu_f2
    scores = []
    for i in range(k):
        mu_x = stats[:, 1 + i:2 + i]
        mu_fx = mu_f * mu_x
        var_x = stats[:, k + 2 + 2 * i:k + 3 + 2 * i].addcmul(mu_x, mu_x, value=-1)
        cov = stats[:, k + 3 + 2 * i:k + 4 + 2 * i] - mu_fx
        num = (2 * mu_fx + c1).mul_(2 * cov + c2)
        den = torch.addcmul(mu_f2, mu_x, mu_x).add_(c1).mul_(var_f.add(var_x).add_(c2))
        scores.append(num.div_(den).mean(dim=(-3, -2, -1)))
    return torch.stack(scores, dim=1)


def _prepare(fused: Tensor, ir: Tensor, vis: Tensor, min_size: int) -> tuple[Tensor, list[Tensor]]:
    check_images(fused, ir, vis, min_size=min_size)
    return fused.detach().to(torch.float64), [ir.detach().to(torch.float64), vis.detach().to(torch.float64)]


@register_metric('ssim', higher_is_better=True, needs_sources=True, min_size=11,
                 reference="textbook: Wang et al. 2004 SSIM (ssim_index.m: 11x11 Gaussian sigma 1.5, K = (0.01, "
                           "0.03), L = 255, 'valid' windows), mean of SSIM(F, IR) and SSIM(F, VIS)")
def ssim(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Structural similarity of the fused image with each source, averaged over the two sources.

    Wang et al.'s SSIM as their reference `ssim_index.m` computes it: Gaussian-weighted local statistics with an
    11 x 11 window of sigma 1.5 (`filter2(..., 'valid')`: only windows inside the image), C1 = (0.01 L)^2,
    C2 = (0.03 L)^2 with L = 255, no downsampling, and the mean of the SSIM map. The score is the mean of
    SSIM(F, IR) and SSIM(F, VIS), so it stays in [-1, 1] with 1 for a fused image equal to both sources (Tang 2023
    averages the same way; CDDFuse and VIFB sum, with other windows or constants: see their variants). C1, C2 > 0
    keep every window defined, constant images included.

    Args:
        fused: (N, 1, H, W) float tensor on the 0-255 scale, H, W >= 11.
        ir: infrared source, same shape.
        vis: visible source, same shape.

    Returns:
        (N,) float64 tensor in [-1, 1].

    Raises:
        ValueError: if the images are not floating (N, 1, H, W) tensors of one shape with H, W >= 11.

    Example:
        >>> import torch
        >>> img = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 255
        >>> ssim(img, img, img)
        tensor([1.], dtype=torch.float64)

    References:
        Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from error visibility to
        structural similarity", IEEE Trans. Image Process. 13(4) (2004); `ssim_index.m` (2003), the authors' code,
        as copied into xingchenzhang/VIFB @ 22b2ea9 `metrics/metricsSsim.m` L40-101.
    """
    f, sources = _prepare(fused, ir, vis, WINDOW)
    return _gaussian_ssim(f, sources, (K1 * 255) ** 2, (K2 * 255) ** 2, None).mean(dim=1)


def ssim_vifb(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """SSIM as VIFB's `metricsSsim.m`: the default's SSIM(F, VIS) + SSIM(F, IR), summed (range [-2, 2]).

    The same Wang formula (11x11 Gaussian, sigma 1.5, K = (0.01, 0.03), L = 255, `filter2 'valid'`, `mean2`), but
    the two sources are summed, so the value is twice the default.

    Example:
        >>> import torch
        >>> img = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 255
        >>> ssim_vifb(img, img, img)
        tensor([2.], dtype=torch.float64)
    """
    f, sources = _prepare(fused, ir, vis, WINDOW)
    return _gaussian_ssim(f, sources, (K1 * 255) ** 2, (K2 * 255) ** 2, None).sum(dim=1)


def ssim_matlab(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """SSIM as Tang's 2023 code: 0.5 ssim(F, IR) + 0.5 ssim(F, VIS) with MATLAB's `ssim` on 0-255 doubles.

    MATLAB's `ssim` takes its DynamicRange from the class of the input: 1 for double, although these doubles hold
    0-255 values, so C1 = (0.01 * 1)^2 = 1e-4 and C2 = (0.03 * 1)^2 = 9e-4 (instead of 6.5025 and 58.5225). Its
    11x11 Gaussian window (sigma 1.5, radius ceil(3 * 1.5)) is applied with `imfilter(..., 'conv', 'replicate')`,
    so the map covers the whole image (replicate-padded borders) and is averaged over all pixels. The tiny
    constants make flat regions (local variances near 0) score by their rounding noise rather than 1. Not checked
    against MATLAB itself (GNU Octave has no `ssim`): this follows the documented IPT algorithm.

    Example:
        >>> import torch
        >>> img = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 255
        >>> ssim_matlab(img, img, img)
        tensor([1.], dtype=torch.float64)
    """
    f, sources = _prepare(fused, ir, vis, 1)
    return _gaussian_ssim(f, sources, K1 ** 2, K2 ** 2, 'replicate').mean(dim=1)


def _uniform_filter_scipy(x: Tensor, size: int) -> Tensor:
    """`scipy.ndimage.uniform_filter(x, size)` on a float32 image, mode 'reflect', as scipy computes it.

    scipy filters axis 0 and then axis 1; each 1-D pass copies a line into a double buffer padded by reflection
    (d c b a | a b c d | d c b a), keeps a running sum (x_0 + ... + x_{size-1}, then += x_{i+size-1} - x_{i-1})
    and stores sum / size rounded to float32 (as scipy 1.17 does, which computed the calibration values; older
    code divided each increment by size instead, which differs in the last float32 bit now and then). The running
    sum is reproduced step by step (a sequential cumulative sum), so the float32 outputs match scipy's bit for bit
    on CPU.
    """
    lo, hi = size // 2, size - size // 2 - 1
    if _cpu_kernels.usable(x, x.numel(), (torch.float32,)):
        return _cpu_kernels.uniform_filter_scipy(x, symmetric_indices(x.shape[-2], lo, hi),
                                                 symmetric_indices(x.shape[-1], lo, hi), size)
    for dim in (-2, -1):
        pad = (0, 0, lo, hi) if dim == -2 else (lo, hi, 0, 0)
        line = symmetric_pad(x, pad).to(torch.float64)
        n = x.shape[dim]
        first = line.narrow(dim, 0, 1).clone()
        for k in range(1, size):
            first += line.narrow(dim, k, 1)
        steps = line.narrow(dim, size, n - 1) - line.narrow(dim, 0, n - 1)
        x = (torch.cat([first, steps], dim=dim).cumsum(dim=dim) / size).to(torch.float32)
    return x


def skimage_ssim(fused: Tensor, sources: list[Tensor], data_range: float) -> Tensor:
    """`skimage.metrics.structural_similarity(F, X, data_range=...)` with its defaults, per source: (N, S) float64.

    Defaults: 7x7 uniform window, sample covariance (x 49/48), K = (0.01, 0.03), and the mean of the SSIM map
    without a 3-pixel border. CDDFuse reads its images as float32, and skimage then computes in float32: every
    step is reproduced in float32 (scipy's uniform filter, then skimage's expressions in its order), because with
    data_range = 2 (C2 = 0.0036) float32 rounding noise in flat regions moves the score by up to about 1e-6
    relative (5.5e-7 on TNO #10 against a float64 run), the size of the calibration target.
    """
    w = SKIMAGE_WINDOW
    cov_norm = w * w / (w * w - 1)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    f = fused.to(torch.float32)
    ux = _uniform_filter_scipy(f, w)
    uxx = _uniform_filter_scipy(f * f, w)
    vx = cov_norm * (uxx - ux * ux)
    scores = []
    for x in sources:
        y = x.to(torch.float32)
        uy = _uniform_filter_scipy(y, w)
        vy = cov_norm * (_uniform_filter_scipy(y * y, w) - uy * uy)
        vxy = cov_norm * (_uniform_filter_scipy(f * y, w) - ux * uy)
        a1, a2 = 2 * ux * uy + c1, 2 * vxy + c2
        b1, b2 = ux * ux + uy * uy + c1, vx + vy + c2
        s = (a1 * a2) / (b1 * b2)
        pad = (w - 1) // 2
        scores.append(s[..., pad:-pad, pad:-pad].to(torch.float64).mean(dim=(-3, -2, -1)))
    return torch.stack(scores, dim=1)


def ssim_skimage(fused: Tensor, ir: Tensor, vis: Tensor, data_range: float = 2.0) -> Tensor:
    """SSIM as CDDFuse's `Evaluator.SSIM`: skimage `structural_similarity(F, X)` for X = IR, VIS, summed.

    CDDFuse passes float32 images holding 0-255 values and no `data_range`. scikit-image 0.19 (CDDFuse's pinned
    version) then took the float dtype's range, [-1, 1], i.e. data_range = 2: C1 = (0.01 * 2)^2 = 4e-4 and
    C2 = (0.03 * 2)^2 = 3.6e-3, far below the 6.5 and 58.5 of 0-255 data, so flat regions score by their float32
    rounding noise (recent scikit-image raises an error instead of guessing). Window: 7x7 uniform, sample
    covariance, 3-pixel border excluded; computed in float32 exactly as skimage does (see `skimage_ssim`). IF-FILM's
    copy of the evaluator passes data_range=255: that is the `ssim255` metric of this convention.

    Example:
        >>> import torch
        >>> img = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 255
        >>> ssim_skimage(img, img, img)
        tensor([2.], dtype=torch.float64)
    """
    f, sources = _prepare(fused, ir, vis, SKIMAGE_WINDOW)
    return skimage_ssim(f, sources, data_range).sum(dim=1)


register_variant('ssim', 'vifb', 'xingchenzhang/VIFB @ 22b2ea9, metrics/metricsSsim.m L32-101: 11x11 Gaussian, '
                 "filter2 'valid', L = 255, summed over the sources", ssim_vifb)
register_variant('ssim', 'tang2023', "Linfeng-Tang/Image-Fusion @ HEAD 2023, analysis_Reference.m L71-73: 0.5 "
                 "ssim(F, IR) + 0.5 ssim(F, VIS), MATLAB ssim on 0-255 double (C1 = 1e-4, C2 = 9e-4, 'replicate')",
                 ssim_matlab)
register_variant('ssim', 'cddfuse', 'CDDFuse utils/Evaluator.py @ fd8da1f, SSIM (L214-217): skimage '
                 'structural_similarity(F, X) summed, float32, data_range = 2 (skimage 0.19 float default)',
                 ssim_skimage, min_size=7)
