"""PSNR: peak signal-to-noise ratio of the fused image against the two sources."""
from __future__ import annotations

import torch
from torch import Tensor

from metrics._checks import check_images
from metrics._registry import register_metric, register_variant
from metrics.mse import mean_squared_error
from metrics.rmse import rmse_vifb


def _require_error(error: Tensor, what: str, fused: Tensor) -> None:
    """Raises ValueError where the error is 0: the references divide by it and return inf."""
    zero = error == 0
    if bool(zero.any()):
        index = int(zero.nonzero()[0, 0])
        image = fused[index]
        same = ('are one constant image' if bool(image.amax() == image.amin())
                else 'are the same image')
        raise ValueError(f'PSNR is undefined for image {index} of the batch: `fused`, `ir` and `vis` {same}, so '
                         f'{what} is 0 and the ratio is infinite.')


@register_metric('psnr', higher_is_better=True, needs_sources=True,
                 reference='textbook: 10 log10(255^2 / MSE), MSE = (mean((A - F)^2) + mean((B - F)^2)) / 2 on 0-255')
def peak_signal_to_noise_ratio(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """PSNR = 10 log10(255^2 / MSE) in dB, MSE the mean over the two sources of the mean squared error.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape on the 0-255 scale.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: if the inputs are not finite floating (N, 1, H, W) tensors of one shape, or if `fused` equals
            both sources (MSE = 0, PSNR infinite; the message says whether they are one constant image).

    Example:
        >>> import torch
        >>> f = torch.zeros(1, 1, 2, 2)
        >>> peak_signal_to_noise_ratio(f, f + 25.5, f + 25.5)      # 10 log10(100)
        tensor([20.], dtype=torch.float64)

    References:
        Jagalingam, Hegde, "A review of quality metrics for fused image", Aquatic Procedia 4 (2015).
    """
    check_images(fused, ir, vis)
    mse = mean_squared_error(fused, ir, vis)
    _require_error(mse, 'the MSE', fused)
    return 10 * torch.log10(255.0 ** 2 / mse)


def psnr_max_fused(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """PSNR as CDDFuse computes it: 10 log10(max(F)^2 / MSE), the peak being the fused image's maximum, not 255.

    For a fused image whose maximum is below 255 this is lower than the textbook PSNR by 20 log10(255 / max(F)).

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape on the 0-255 scale.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: as `peak_signal_to_noise_ratio`, and if `fused` is all zeros (max(F) = 0, PSNR = -inf).

    Example:
        >>> import torch
        >>> f = torch.tensor([0., 0., 0., 50.]).view(1, 1, 2, 2)
        >>> psnr_max_fused(f, f + 5, f + 5)                        # 10 log10(50^2 / 5^2)
        tensor([20.], dtype=torch.float64)

    References:
        Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, utils/Evaluator.py, PSNR (L82-85).
    """
    check_images(fused, ir, vis)
    mse = mean_squared_error(fused, ir, vis)
    _require_error(mse, 'the MSE', fused)
    peak = fused.detach().to(torch.float64).flatten(1).amax(dim=1)
    if bool((peak == 0).any()):
        index = int((peak == 0).nonzero()[0, 0])
        raise ValueError(f'PSNR (CDDFuse) is undefined for image {index} of the batch: `fused` is all zeros, so its '
                         f'peak max(F) is 0 and the PSNR is -inf.')
    return 10 * torch.log10(peak.square() / mse)


def psnr_tang(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """PSNR as Tang's code computes it: 20 log10(255 / sqrt(MSE)) with the MSE of [0, 1] images.

    `PSNR_evaluation.m` takes the MSE of images scaled to [0, 1] but keeps the peak 255, so the value is the textbook
    PSNR plus 20 log10(255) = 48.13 dB: the "about 60 dB" PSNRs of papers using this code. Expects [0, 1] inputs
    (the tang conventions scale by 1/255 before calling).

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape on the [0, 1] scale.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: as `peak_signal_to_noise_ratio`.

    Example:
        >>> import torch
        >>> f = torch.zeros(1, 1, 2, 2)
        >>> psnr_tang(f, f + 0.1, f + 0.1)                         # 20 log10(255 / 0.1)
        tensor([68.1308], dtype=torch.float64)

    References:
        Linfeng-Tang/Image-Fusion @ 53f5542 and HEAD, General Evaluation Metric/Evaluation/PSNR_evaluation.m.
    """
    check_images(fused, ir, vis)
    mse = mean_squared_error(fused, ir, vis)
    _require_error(mse, 'the MSE', fused)
    return 20 * torch.log10(255.0 / mse.sqrt())


def psnr_vifb(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """PSNR as VIFB and MEFB compute it: 20 log10(255 / sqrt(E)), E their "mse" averaged over the sources.

    The helper `mse(a, b)` of `metricsPsnr.m` returns sqrt(sum((a - b)^2)) / (M N) (see `metrics.rmse.rmse_vifb`),
    so E is not a mean squared error and the value (about 57 dB on TNO) is not a textbook PSNR.

    Args:
        fused, ir, vis: (N, 1, H, W) float tensors of one shape on the 0-255 scale.

    Returns:
        (N,) float64 tensor.

    Raises:
        ValueError: as `peak_signal_to_noise_ratio`.

    Example:
        >>> import torch
        >>> f = torch.zeros(1, 1, 2, 2)
        >>> psnr_vifb(f, f + 2, f + 2)                             # E = sqrt(4 * 2^2) / 4 = 1: 20 log10(255)
        tensor([48.1308], dtype=torch.float64)

    References:
        xingchenzhang/VIFB @ 22b2ea9, metrics/metricsPsnr.m (Psnr and mse, L33-55); xingchenzhang/MEFB @ 9e185bf,
        metrics/metricsPsnr.m.
    """
    check_images(fused, ir, vis)
    error = rmse_vifb(fused, ir, vis)
    _require_error(error, 'its error sqrt(SSE) / (M N)', fused)
    return 20 * torch.log10(255.0 / error.sqrt())


register_variant('psnr', 'cddfuse', 'Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, utils/Evaluator.py, PSNR (L82-85): '
                 '10 log10(max(F)^2 / MSE) on float32 0-255', psnr_max_fused)
register_variant('psnr', 'tang2022', 'Linfeng-Tang/Image-Fusion @ 53f5542, PSNR_evaluation.m on im2double images: '
                 '20 log10(255 / sqrt(MSE on [0, 1]))', psnr_tang, scale=1 / 255)
register_variant('psnr', 'tang2023', 'Linfeng-Tang/Image-Fusion @ HEAD 2023, PSNR_evaluation.m: divides by 255, then '
                 '20 log10(255 / sqrt(MSE on [0, 1]))', psnr_tang, scale=1 / 255)
register_variant('psnr', 'vifb', 'xingchenzhang/VIFB @ 22b2ea9, metrics/metricsPsnr.m L33-55: 20 log10(255 / sqrt('
                 'mean of sqrt(SSE) / (m*n)))', psnr_vifb)
register_variant('psnr', 'mefb', 'xingchenzhang/MEFB @ 9e185bf, metrics/metricsPsnr.m: as VIFB, 20 log10(255 / '
                 'sqrt(mean of sqrt(SSE) / (m*n)))', psnr_vifb)
