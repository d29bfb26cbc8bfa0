"""Shared primitives, batched over (N, 1, H, W) float64 tensors: MATLAB-style filtering, gradients, histograms.

MATLAB semantics matter here because the references are MATLAB code: `filter2`/`imfilter` correlate, `conv2`
convolves (flips the kernel), 'same' keeps the size with zero padding unless stated, 'valid' crops.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from metrics import _cpu_kernels


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


def matlab_round(x: Tensor, lo: float = -math.inf, hi: float = math.inf) -> Tensor:
    """MATLAB `round` and its integer casts (uint8() is lo = 0, hi = 255): halves away from zero (torch rounds
    them to even), exact for every double, then clamped to [lo, hi]. One kernel pass on float64 CPU tensors."""
    if _cpu_kernels.usable(x, x.numel()):
        return _cpu_kernels.round_clamp(x, half_away=True, lo=lo, hi=hi)
    t = x.trunc()
    out = t + torch.sign(x) * ((x - t).abs() >= 0.5).to(x.dtype)
    return out.clamp(lo, hi) if math.isfinite(lo) or math.isfinite(hi) else out


def symmetric_pad(x: Tensor, pad: tuple[int, int, int, int]) -> Tensor:
    """MATLAB 'symmetric' padding (edge sample repeated: `d c b a | a b c d | d c b a`), pad = (l, r, t, b)."""
    left, right, top, bottom = pad
    h, w = x.shape[-2:]
    rows, cols = symmetric_indices(h, top, bottom).to(x.device), symmetric_indices(w, left, right).to(x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def symmetric_indices(n: int, before: int, after: int) -> Tensor:
    """The source index of each sample of a line of `n` padded symmetrically by `before` and `after` (int64)."""
    index = torch.cat([torch.arange(before - 1, -1, -1), torch.arange(n), torch.arange(n - 1, n - 1 - after, -1)])
    return index.abs().clamp(max=n - 1)


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
    if _cpu_kernels.usable(levels, levels.numel(), (torch.int64, torch.float64)):
        return _cpu_kernels.bincount_rows(levels.reshape(n, -1), bins)
    flat = levels.reshape(n, -1).long()
    counts = torch.zeros(n, bins, dtype=torch.float64, device=levels.device)
    return counts.scatter_add_(1, flat, torch.ones_like(flat, dtype=torch.float64))


def joint_histogram(a: Tensor, b: Tensor, bins: int = 256, cap: int | None = None) -> Tensor:
    """Joint counts per image of integer levels: (N, ...) x2 -> (N, bins, bins), rows indexed by `a`; with `cap`,
    levels above it count as `cap`."""
    n = a.shape[0]
    levels = (torch.int64, torch.float64)
    if _cpu_kernels.usable(a, a.numel(), levels) and b.dtype in levels:
        return _cpu_kernels.joint_counts(a.reshape(n, -1), b.reshape(n, -1), bins,
                                         bins - 1 if cap is None else cap).view(-1, bins, bins)
    a, b = a.long(), b.long()
    if cap is not None:
        a, b = a.clamp(max=cap), b.clamp(max=cap)
    return histogram(a * bins + b, bins * bins).view(-1, bins, bins)


def entropy_bits(p: Tensor, dim: int = -1) -> Tensor:
    """-sum p log2 p over `dim`, with 0 log 0 = 0."""
    return -(p * torch.log2(torch.where(p > 0, p, torch.ones_like(p)))).sum(dim=dim)


LOG2E = 1 / math.log(2)


def gaussian_taps(size: int, sigma: float) -> list[float]:
    """1-D factor of MATLAB `fspecial('gaussian', size, sigma)`, as Python floats.

    The 2-D window is exp(-(x^2 + y^2) / (2 sigma^2)), entries below eps * max zeroed, normalised to sum 1: for the
    windows the metrics use (sigma >= size / 8) no entry is zeroed, so it is the outer product of these taps with
    themselves (equal to the 2-D window to rounding).
    """
    c = (size - 1) / 2
    e = [math.exp(-((i - c) ** 2) / (2 * sigma * sigma)) for i in range(size)]
    total = math.fsum(e)
    return [v / total for v in e]


_SMALL_MAP = 1 << 16  # pixels per plane under which `filter_stack` filters the maps together


def _filter_axis(x: Tensor, taps: list[float], dim: int, stride: int, out: Tensor | None = None) -> Tensor:
    n = x.shape[dim] - len(taps) + 1
    first = x.narrow(dim, 0, n)
    out = torch.mul(first if stride == 1 else first[_every(dim, stride)], taps[0], out=out)
    for k in range(1, len(taps)):
        part = x.narrow(dim, k, n)
        out.add_(part if stride == 1 else part[_every(dim, stride)], alpha=taps[k])
    return out


def _every(dim: int, stride: int) -> tuple:
    return (Ellipsis, slice(None, None, stride)) + (slice(None),) * (-1 - dim)


def separable_valid(x: Tensor, taps: list[float], stride: int = 1, out: Tensor | None = None,
                    row_taps: list[float] | None = None) -> Tensor:
    """MATLAB `filter2(outer(taps, row_taps), x, 'valid')` over the last two dims (`row_taps` defaults to `taps`),
    optionally keeping every `stride`-th row and column of the result (`y(1:s:end, 1:s:end)`) without computing
    the others.

    The columns are filtered first, then the rows, each tap in order. On float64 CPU tensors a fused kernel
    (`_cpu_kernels`) does this arithmetic in one pass; elsewhere shifted-slice multiply-adds do it (float64 `conv2d`
    has no fast CPU path). Inputs smaller than the window give empty outputs, as MATLAB's 'valid' does. `out`, if
    given, receives the result (it may be a view).

    Example:
        >>> x = torch.arange(16.).view(1, 1, 4, 4)
        >>> separable_valid(x, [0.5, 0.5])          # 2 x 2 means
        tensor([[[[ 2.5000,  3.5000,  4.5000],
                  [ 6.5000,  7.5000,  8.5000],
                  [10.5000, 11.5000, 12.5000]]]])
        >>> separable_valid(x, [1., 2., 1.], row_taps=[1., 0., -1.])   # a Sobel response, as a correlation
        tensor([[[[-8., -8.],
                  [-8., -8.]]]])
    """
    row_taps = taps if row_taps is None else row_taps
    kh, kw = len(taps), len(row_taps)
    if x.shape[-2] < kh or x.shape[-1] < kw:
        h, w = max(x.shape[-2] - kh + 1, 0), max(x.shape[-1] - kw + 1, 0)
        return x.new_zeros(*x.shape[:-2], -(-h // stride), -(-w // stride))
    if _cpu_kernels.usable(x, x.numel()):
        result = _cpu_kernels.separable_valid(x, taps, row_taps, stride)
        return result if out is None else out.copy_(result)
    return _filter_axis(_filter_axis(x, taps, -2, stride), row_taps, -1, stride, out)


def filter_stack(maps: Tensor, taps: list[float], stride: int = 1) -> Tensor:
    """`separable_valid` of every channel of (N, C, H, W) maps, for stacks of large maps.

    The fused CPU kernel takes the whole stack at once. The shifted-slice form filters large maps one channel at a
    time, each straight into its channel of the result, so that each pass stays cache-sized; small maps are
    filtered together, which saves per-operation overhead.
    """
    k = len(taps)
    (h, w), plane = maps.shape[-2:], maps.shape[-2] * maps.shape[-1]
    if plane <= _SMALL_MAP or h < k or w < k or _cpu_kernels.usable(maps, maps.numel()):
        return separable_valid(maps, taps, stride)
    out = maps.new_empty(*maps.shape[:2], -(-(h - k + 1) // stride), -(-(w - k + 1) // stride))
    for i in range(maps.shape[1]):
        separable_valid(maps[:, i:i + 1], taps, stride, out=out[:, i:i + 1])
    return out


def local_moments(images: Tensor, pairs: list[tuple[int, int]], taps: list[float],
                  cap: float | None = None) -> Tensor:
    """Gaussian-window ('valid') means of images and of products of image pairs, the raw moments behind SSIM- and
    VIF-style statistics.

    Args:
        images: (N, P, H, W) float tensor of P planes.
        pairs: (i, j) plane indices whose product x_i x_j is filtered.
        taps: 1-D window (the 2-D window is their outer product).
        cap: if given, each product is min(x_i x_j, cap) (MATLAB's saturating uint8 arithmetic).

    Returns:
        (N, P + len(pairs), H - k + 1, W - k + 1): the P filtered planes, then the filtered products in the order
        of `pairs`. On float64 CPU tensors a fused kernel forms the products on the fly; the arithmetic is the same.

    Example:
        >>> x = torch.tensor([[[[1., 2.], [3., 4.]]]])
        >>> local_moments(x, [(0, 0)], [0.5, 0.5])     # mean and mean of squares over the 2 x 2 window
        tensor([[[[2.5000]],
        <BLANKLINE>
                 [[7.5000]]]])
    """
    k = len(taps)
    if images.shape[-2] >= k and images.shape[-1] >= k and _cpu_kernels.usable(images, images.numel() * 2):
        return _cpu_kernels.local_moments(images, pairs, taps, cap)
    maps = images.new_empty(images.shape[0], images.shape[1] + len(pairs), *images.shape[2:])
    maps[:, :images.shape[1]] = images
    for q, (i, j) in enumerate(pairs):
        product = torch.mul(images[:, i], images[:, j], out=maps[:, images.shape[1] + q])
        if cap is not None:
            product.clamp_(max=cap)
    return filter_stack(maps, taps)
