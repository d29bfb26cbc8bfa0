"""MS-SSIM: multi-scale structural similarity (Wang, Simoncelli & Bovik 2003); Tang's MS_SSIM is Ma's MEF-MS-SSIM."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric, register_variant
from metrics._filters import gaussian_taps, local_moments
from metrics.mef_ssim import SIGMA, WINDOW, mef_ssim_scores

WANG_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MEF_WEIGHTS = (0.0448, 0.2856, 0.3001)


def downsample(x: Tensor) -> Tensor:
    """MATLAB `imfilter(x, ones(2)/4, 'symmetric', 'same')` then `(1:2:end, 1:2:end)`: 2x2 means, odd sizes keep
    their last row/column (averaged with its mirror, i.e. itself). Output ceil(H/2) x ceil(W/2)."""
    h, w = x.shape[-2:]
    if h % 2 or w % 2:
        x = F.pad(x, (0, w % 2, 0, h % 2), mode='replicate')
    return F.avg_pool2d(x, 2)


def _ssim_cs(fused: Tensor, sources: Tensor) -> tuple[Tensor, Tensor]:
    """Mean SSIM and mean contrast-structure term of `fused` against each source channel: two (N, K) tensors.

    Wang's `ssim_index_new` (msssim.m): 11x11 Gaussian (sigma 1.5) 'valid' statistics, C1 = (0.01 L)^2,
    C2 = (0.03 L)^2, L = 255.
    """
    k = sources.shape[1]
    # Means of f, x_1..x_k; of f^2; of each x_i^2; of each f x_i.
    pairs = [(0, 0)] + [(i, i) for i in range(1, k + 1)] + [(0, i) for i in range(1, k + 1)]
    g = local_moments(torch.cat([fused, sources], dim=1), pairs, gaussian_taps(WINDOW, SIGMA))
    mu_f, mu_x = g[:, :1], g[:, 1:1 + k]
    var_f = g[:, 1 + k:2 + k] - mu_f * mu_f
    var_x = g[:, 2 + k:2 + 2 * k] - mu_x * mu_x
    cov = g[:, 2 + 2 * k:] - mu_f * mu_x
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    cs = (2 * cov + c2) / (var_f + var_x + c2)
    luminance = (2 * mu_f * mu_x + c1) / (mu_f * mu_f + mu_x * mu_x + c1)
    return (luminance * cs).flatten(2).mean(dim=2), cs.flatten(2).mean(dim=2)


@register_metric('ms_ssim', higher_is_better=True, needs_sources=True, min_size=176,
                 reference="textbook: Wang, Simoncelli & Bovik 2003 MS-SSIM (Wang's msssim.m, 5 scales), "
                           'mean of MS-SSIM(F, IR) and MS-SSIM(F, VIS), 0-255')
def ms_ssim(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """Multi-scale SSIM of the fused image with each source, averaged over the two sources.

    Wang's five-scale MS-SSIM as his `msssim.m` computes it: at each scale SSIM statistics with an 11x11 Gaussian
    window (sigma 1.5, 'valid'), C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2; between scales a 2x2 mean with
    'symmetric' padding and decimation by 2; result prod_{j<5} cs_j^w_j * ssim_5^w_5 with w = [0.0448, 0.2856,
    0.3001, 0.2363, 0.1333] (not renormalised). Negative cs or ssim means are clipped to 0 before the powers, as
    pytorch-msssim does (msssim.m would return a complex number). On images whose sides stay even down to the
    coarsest scale (640x480 does) this equals pytorch-msssim's `ms_ssim(data_range=255)`, whose `avg_pool2d`
    downsampling differs from msssim.m's only on odd sizes.

    The two sources are combined by their mean (like Tang 2023's SSIM), which keeps the score in [0, 1] with 1 for
    a fused image equal to both sources; VIFB and CDDFuse sum SSIM over the sources instead.

    Args:
        fused: (N, 1, H, W) float tensor on the 0-255 scale, H, W >= 176 (the window at the fifth scale).
        ir: infrared source, same shape.
        vis: visible source, same shape.

    Returns:
        (N,) float64 tensor in [0, 1].

    Raises:
        ValueError: if the images are not floating (N, 1, H, W) tensors of one shape with H, W >= 176 (msssim.m
            returns -Inf there).

    Example:
        >>> import torch
        >>> img = torch.rand(1, 1, 176, 176, generator=torch.Generator().manual_seed(0)) * 255
        >>> ms_ssim(img, img, img)
        tensor([1.], dtype=torch.float64)

    References:
        Z. Wang, E. P. Simoncelli, A. C. Bovik, "Multiscale structural similarity for image quality assessment",
        Asilomar Conference on Signals, Systems and Computers (2003); Wang's msssim.m (ssim_index_new.m).
    """
    levels = len(WANG_WEIGHTS)
    check_images(fused, ir, vis, min_size=WINDOW * 2 ** (levels - 1))
    f = fused.detach().to(torch.float64)
    x = torch.cat([ir, vis], dim=1).detach().to(torch.float64)
    weights = torch.tensor(WANG_WEIGHTS, dtype=torch.float64, device=f.device)
    terms = []
    for level in range(levels):
        ssim, cs = _ssim_cs(f, x)
        terms.append(cs if level < levels - 1 else ssim)
        if level < levels - 1:
            f, x = downsample(f), downsample(x)
    stacked = torch.stack(terms, dim=-1).clamp(min=0)                       # (N, 2, levels)
    return (stacked ** weights).prod(dim=-1).mean(dim=1)


def mef_ms_ssim(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """MEF-MS-SSIM (Ma, Zeng & Wang 2015) as `analysis_ms_ssim.m` computes it: Tang's "MS_SSIM".

    The sources (IR, visible) form the sequence; MEF-SSIM (`mef_ssim.m`, K = 0.03, 11x11 Gaussian sigma 1.5) at
    three scales, a 2x2 mean with 'symmetric' padding and decimation between scales (sources and fused alike),
    result prod_j Q_j^w_j with w = [0.0448, 0.2856, 0.3001] / sum. Tang passes 0-255 values: 2022 the uint8 F
    (`double(fI)`), 2023 `im2double(F) * 255`; both are these values. TNO #10 with SeAFusion: 0.898837.

    Raises:
        ValueError: for images smaller than 44 (`analysis_ms_ssim.m` returns -Inf when min(H, W) / 4 < 11), or
            when a scale's MEF-SSIM is negative (its fractional power makes MATLAB's result complex).

    Example:
        >>> import torch
        >>> img = torch.full((1, 1, 44, 44), 9.)
        >>> mef_ms_ssim(img, img, img)
        tensor([1.], dtype=torch.float64)
    """
    levels = len(MEF_WEIGHTS)
    check_images(fused, ir, vis, min_size=WINDOW * 2 ** (levels - 1))
    f = fused.detach().to(torch.float64)
    x = torch.cat([ir, vis], dim=1).detach().to(torch.float64)
    weights = torch.tensor(MEF_WEIGHTS, dtype=torch.float64, device=f.device)
    scores = []
    for level in range(levels):
        scores.append(mef_ssim_scores(x, f))
        if level < levels - 1:
            f, x = downsample(f), downsample(x)
    scores = torch.stack(scores, dim=-1)
    if bool((scores < 0).any()):
        raise ValueError('MEF-SSIM is negative at some scale, so MEF-MS-SSIM (a product of its fractional powers) '
                         'is undefined there (MATLAB returns a complex number).')
    return (scores ** (weights / weights.sum())).prod(dim=-1)


register_variant('ms_ssim', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, analysis_ms_ssim.m (MEF-MS-SSIM, '
                 'Ma et al. 2015) called as analysis_ms_ssim(imgSeq, uint8 F) in analysis_Reference.m L72',
                 fn=mef_ms_ssim, min_size=44)
register_variant('ms_ssim', 'tang2023', 'Linfeng-Tang/Image-Fusion @ dba5bf3 (HEAD), analysis_ms_ssim.m (MEF-MS-SSIM) '
                 'called on 0-255 doubles in analysis_Reference.m L76', fn=mef_ms_ssim, min_size=44)
