"""Shared primitives, batched over (N, 1, H, W) float64 tensors: MATLAB-style filtering, gradients, histograms.

MATLAB semantics matter here because the references are MATLAB code: `filter2`/`imfilter` correlate, `conv2`
convolves (flips the kernel), 'same' keeps the size with zero padding unless stated, 'valid' crops.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _kernel(kernel: Tensor | list, like: Tensor) -> Tensor:
    k = torch.as_tensor(kernel, dtype=like.dtype, device=like.device)
    return k.view(1, 1, *k.shape[-2:])


def filter2_valid(x: Tensor, kernel: Tensor | list) -> Tensor:
    """MATLAB `filter2(k, x, 'valid')`: correlation, output (H - kh + 1, W - kw + 1)."""
    return F.conv2d(x, _kernel(kernel, x))


def filter2_same(x: Tensor, kernel: Tensor | list, padding: str = 'zeros') -> Tensor:
    """Correlation keeping the size: `filter2(k, x, 'same')` ('zeros'), `imfilter(x, k, 'replicate')` ('replicate'),
    `imfilter(x, k, 'symmetric')` ('symmetric'). Odd kernels; even ones follow MATLAB's centre floor((k+1)/2)."""
    k = _kernel(kernel, x)
    kh, kw = k.shape[-2:]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    pad = (left, kw - 1 - left, top, kh - 1 - top)
    if padding == 'zeros':
        x = F.pad(x, pad)
    elif padding == 'replicate':
        x = F.pad(x, pad, mode='replicate')
    elif padding == 'symmetric':
        x = symmetric_pad(x, pad)
    else:
        raise ValueError(f"Expected `padding` in ('zeros', 'replicate', 'symmetric'), but got {padding!r}.")
    return F.conv2d(x, k)


def conv2_same(x: Tensor, kernel: Tensor | list) -> Tensor:
    """MATLAB `conv2(x, k, 'same')`: true convolution (kernel flipped), zero padding."""
    k = torch.as_tensor(kernel, dtype=x.dtype, device=x.device)
    return filter2_same(x, torch.flip(k, dims=(-2, -1)))


def symmetric_pad(x: Tensor, pad: tuple[int, int, int, int]) -> Tensor:
    """MATLAB 'symmetric' padding (edge sample repeated: `d c b a | a b c d | d c b a`), pad = (l, r, t, b)."""
    left, right, top, bottom = pad
    h, w = x.shape[-2:]
    rows = torch.cat([torch.arange(top - 1, -1, -1), torch.arange(h), torch.arange(h - 1, h - 1 - bottom, -1)])
    cols = torch.cat([torch.arange(left - 1, -1, -1), torch.arange(w), torch.arange(w - 1, w - 1 - right, -1)])
    rows, cols = rows.abs().clamp(max=h - 1).to(x.device), cols.abs().clamp(max=w - 1).to(x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def matlab_gradient(x: Tensor) -> tuple[Tensor, Tensor]:
    """MATLAB/numpy `gradient`: central differences / 2 inside, one-sided differences on the borders.

    Returns:
        (gx, gy): derivatives along width and height, each the shape of `x`.
    """
    def along(t: Tensor, dim: int) -> Tensor:
        n = t.shape[dim]
        if n < 2:
            return torch.zeros_like(t)
        first = t.narrow(dim, 1, 1) - t.narrow(dim, 0, 1)
        last = t.narrow(dim, n - 1, 1) - t.narrow(dim, n - 2, 1)
        inner = (t.narrow(dim, 2, n - 2) - t.narrow(dim, 0, n - 2)) / 2
        return torch.cat([first, inner, last], dim=dim)
    return along(x, -1), along(x, -2)


def fspecial_gaussian(size: int, sigma: float, *, device=None, dtype=torch.float64) -> Tensor:
    """MATLAB `fspecial('gaussian', size, sigma)`: values below eps * max set to 0, normalised to sum 1."""
    r = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    g = torch.where(g < torch.finfo(dtype).eps * g.max(), torch.zeros_like(g), g)
    return g / g.sum()


def histogram(levels: Tensor, bins: int = 256) -> Tensor:
    """Counts per image of integer `levels` in [0, bins): (N, ...) -> (N, bins) float64."""
    n = levels.shape[0]
    flat = levels.reshape(n, -1).long()
    counts = torch.zeros(n, bins, dtype=torch.float64, device=levels.device)
    return counts.scatter_add_(1, flat, torch.ones_like(flat, dtype=torch.float64))


def joint_histogram(a: Tensor, b: Tensor, bins: int = 256) -> Tensor:
    """Joint counts per image of integer levels: (N, ...) x2 -> (N, bins, bins), rows indexed by `a`."""
    return histogram(a.long() * bins + b.long(), bins * bins).view(-1, bins, bins)


def entropy_bits(p: Tensor, dim: int = -1) -> Tensor:
    """-sum p log2 p over `dim`, with 0 log 0 = 0."""
    return -(p * torch.log2(torch.where(p > 0, p, torch.ones_like(p)))).sum(dim=dim)


LOG2E = 1 / math.log(2)
