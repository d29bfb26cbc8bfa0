"""The DFECF joint loss (eq. 21-26): L = 50 L_grad + 7 L_pix + 1 L_aux, on images in [0, 1].

The paper's section 2.4 has three typos, implemented here as evidently intended:
  * eq. 24 calls the variance window 9x9 but indexes i-3..i+3, a 7x7 window: 7 is the default, `window` sets it;
  * eq. 25's second case reads "M_vis != M_inf"; it must be "otherwise" (else M_vis < M_inf gives 1 and 0 at once);
  * eq. 26's second term compares the fused image with the visible image again; where M_f = 0 the infrared image is
    the reliable one (the text before eq. 25 says so), so the second term compares with the infrared image.
Every ||.||_1 is the mean absolute value over pixels (and the batch), as in SeAFusion's and PIAFusion's losses, so the
weights 50, 7 and 1 do not depend on the image size.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['sobel_gradient', 'local_variance', 'reliability_mask', 'gradient_loss', 'pixel_loss', 'auxiliary_loss',
           'JointLoss', 'LossTerms']

_SOBEL_X = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])


def sobel_gradient(image: Tensor) -> Tensor:
    """|G_x| + |G_y| of the 3x3 Sobel operator, (N, 1, H, W) -> (N, 1, H, W), borders reflected.

    The L1 form of the gradient magnitude, as SeAFusion's `Sobelxy`; reflection (not zero padding) keeps the image
    border from reading as an edge. Needs H, W >= 2.
    """
    kernels = torch.stack([_SOBEL_X, _SOBEL_X.t()])[:, None].to(image.device, image.dtype)
    g = F.conv2d(F.pad(image, (1, 1, 1, 1), mode='reflect'), kernels)
    return g.abs().sum(1, keepdim=True)


def local_variance(image: Tensor, window: int = 7) -> Tensor:
    """Variance over the `window` x `window` neighbourhood of every pixel (eq. 24), borders reflected.

    E[x^2] - E[x]^2 over the window (the population variance, dividing by window^2), clamped at 0 against rounding.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f'Expected an odd `window` >= 1, but got {window}.')
    r = window // 2
    padded = F.pad(image, (r, r, r, r), mode='reflect') if r else image
    mean = F.avg_pool2d(padded, window, stride=1)
    mean_sq = F.avg_pool2d(padded * padded, window, stride=1)
    return (mean_sq - mean * mean).clamp_min(0)


def reliability_mask(ir: Tensor, vis: Tensor, window: int = 7) -> Tensor:
    """M_f of eq. 25: 1 where the visible local variance is larger, 0 otherwise (ties go to the infrared image)."""
    return (local_variance(vis, window) > local_variance(ir, window)).to(vis.dtype)


def gradient_loss(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """eq. 22: mean |grad(fused) - max(grad(vis), grad(ir))|."""
    target = torch.maximum(sobel_gradient(vis), sobel_gradient(ir))
    return (sobel_gradient(fused) - target).abs().mean()


def pixel_loss(fused: Tensor, ir: Tensor, vis: Tensor) -> Tensor:
    """eq. 23: mean |fused - max(vis, ir)|."""
    return (fused - torch.maximum(vis, ir)).abs().mean()


def auxiliary_loss(fused: Tensor, ir: Tensor, vis: Tensor, window: int = 7) -> Tensor:
    """eq. 26 as intended: mean |M_f (fused - vis)| + mean |(1 - M_f)(fused - ir)|."""
    mask = reliability_mask(ir, vis, window)
    return (mask * (fused - vis)).abs().mean() + ((1 - mask) * (fused - ir)).abs().mean()


@dataclass
class LossTerms:
    """The total loss (differentiable) and its unweighted terms (detached floats, for the loss curves)."""
    total: Tensor
    grad: float
    pix: float
    aux: float


class JointLoss(nn.Module):
    """L = w_grad L_grad + w_pix L_pix + w_aux L_aux (eq. 21; the paper's weights 50, 7, 1).

    `w_aux = 0` is the `dfecf-no-aux` ablation (L_aux is then not computed).
    """

    def __init__(self, w_grad: float = 50.0, w_pix: float = 7.0, w_aux: float = 1.0, window: int = 7) -> None:
        super().__init__()
        self.w_grad, self.w_pix, self.w_aux, self.window = w_grad, w_pix, w_aux, window

    def forward(self, fused: Tensor, ir: Tensor, vis: Tensor) -> LossTerms:
        grad = gradient_loss(fused, ir, vis)
        pix = pixel_loss(fused, ir, vis)
        total = self.w_grad * grad + self.w_pix * pix
        aux = fused.new_zeros(())
        if self.w_aux:
            aux = auxiliary_loss(fused, ir, vis, self.window)
            total = total + self.w_aux * aux
        return LossTerms(total, grad.item(), pix.item(), aux.item())
