"""Fused CPU kernels (numba) for the few primitives whose eager float64 torch form is bound by memory traffic.

A K-tap filter written as K torch multiply-adds streams the whole map through memory K times; float64 `conv2d` has
no fast CPU path at all. These kernels do the same arithmetic, in the same order, in one pass per output row, and
run in parallel over rows. They are accelerators, not definitions: each public primitive in `_filters` has its
torch form, which runs on other devices, on other dtypes and when numba is missing, and the tests hold the two to
each other. Compiled code is cached on disk (numba `cache=True`), so only a machine's first call compiles.
"""
from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np
import torch

__all__ = ['available', 'qabf_sums', 'separable_valid', 'usable', 'vif_scale']

# Below this many output values per call the torch form is as fast (numba's call overhead is a few microseconds).
MIN_WORK = 1 << 14


@lru_cache(maxsize=1)
def _numba():
    """The numba module, or None when it is missing or switched off (`BENCH_NO_NUMBA=1`)."""
    if os.environ.get('BENCH_NO_NUMBA', '') not in ('', '0'):
        return None
    try:
        import numba
    except ImportError:
        return None
    if 'NUMBA_THREADING_LAYER' not in os.environ:
        # The work queue's idle workers poll with 1 us naps: system calls that take the cores from torch's threads
        # between kernels (measured, the paper's seven metrics on 2 cores: 52 ms, against 22 ms with OpenMP,
        # whose idle threads spin briefly and then sleep).
        numba.config.THREADING_LAYER = 'omp' if _openmp_layer_loads() else 'workqueue'
    return numba


def _openmp_layer_loads() -> bool:
    try:
        import numba.np.ufunc.omppool  # noqa: F401  (needs the system's libgomp)
    except ImportError:
        return False
    return True


def available() -> bool:
    return _numba() is not None


_KERNEL_MODULES = ('_numba_kernels', '_numba_fmi', '_numba_mef', '_numba_nabf', '_numba_qabf', '_numba_viff',
                   '_numba_ssim', '_numba_math')


def _announce_compilation() -> None:
    """Says so when numba has no cached machine code for some kernel module: their first calls then compile for a
    minute or two, which otherwise looks like a hang."""
    import sys
    from pathlib import Path
    numba = _numba()
    folder = Path(numba.config.CACHE_DIR) if numba.config.CACHE_DIR else Path(__file__).with_name('__pycache__')
    try:
        cached = {p.name.split('.', 1)[0] for p in folder.glob('*.nbi')}
    except OSError:
        return
    if not folder.is_dir() or not set(_KERNEL_MODULES) <= cached:
        print('Compiling the metric kernels (first run only: a minute or two; later runs load them from the cache).',
              file=sys.stderr, flush=True)


@lru_cache(maxsize=1)
def _kernels():
    _numba()   # applies the threading-layer choice before the kernels are loaded
    _announce_compilation()
    from metrics import _numba_kernels as k
    from metrics._numba_fmi import fmi_binary_maps, fmi_maps, sobel_energy, thin_edges
    from metrics._numba_mef import mef_quality, mef_strengths
    from metrics._numba_nabf import nabf_sums
    from metrics._numba_qabf import qabf_sums
    from metrics._numba_viff import viff_row_sums
    from metrics import _numba_ssim as ssim
    return {'mef_strengths': mef_strengths, 'mef_quality': mef_quality, 'qabf_sums': qabf_sums,
            'sep_valid': k.sep_valid, 'vif_scale': k.vif_scale, 'moments': k.moments, 'fmi_maps': fmi_maps,
            'bincount_rows': k.bincount_rows, 'round_clamp': k.round_clamp, 'joint_counts': k.joint_counts,
            'nabf_sums': nabf_sums, 'sobel_energy': sobel_energy, 'thin_edges': thin_edges,
            'fmi_binary_maps': fmi_binary_maps, 'flat_windows': k.flat_windows,
            'viff_row_sums': viff_row_sums, 'yang_row_sums': ssim.yang_row_sums,
            'prewitt_magnitude': ssim.prewitt_magnitude, 'piella_row_sums': ssim.piella_row_sums,
            'chen_blum_row_sums': ssim.chen_blum_row_sums, 'uniform_filter_scipy': k.uniform_filter_scipy}


# The work-queue layer (the fallback) must not be entered from two Python threads at once: numba aborts the process.
_LAUNCH = threading.Lock()


def _threads() -> None:
    numba = _numba()
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))


def usable(x: torch.Tensor, work: int, dtypes: tuple[torch.dtype, ...] = (torch.float64,)) -> bool:
    """Whether the kernels take this tensor: float64 (or `dtypes`) on the CPU, no autograd, enough work, numba
    present."""
    return (x.device.type == 'cpu' and x.dtype in dtypes and not x.requires_grad and work >= MIN_WORK
            and available())


def separable_valid(x: torch.Tensor, col_taps: list[float], row_taps: list[float], stride: int) -> torch.Tensor:
    """`_filters.separable_valid` on a float64 CPU tensor: (..., H, W) no smaller than the window."""
    lead = x.shape[:-2]
    planes = x.detach().reshape(-1, *x.shape[-2:]).contiguous().numpy()
    kernel = _kernels()['sep_valid']
    with _LAUNCH:
        _threads()
        out = kernel(planes, np.asarray(col_taps, dtype=np.float64), np.asarray(row_taps, dtype=np.float64),
                     int(stride))
    return torch.from_numpy(out).reshape(*lead, *out.shape[-2:])


def local_moments(images: torch.Tensor, pairs: list[tuple[int, int]], taps: list[float],
                  cap: float | None) -> torch.Tensor:
    """`_filters.local_moments` on a float64 CPU tensor (the products are formed on the fly, never stored)."""
    kernel = _kernels()['moments']
    pair_array = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    with _LAUNCH:
        _threads()
        out = kernel(images.detach().contiguous().numpy(), pair_array, np.asarray(taps, dtype=np.float64),
                     np.inf if cap is None else float(cap))
    return torch.from_numpy(out)


# FMI window scores of 0/1 maps by the two windows' 9-pixel patterns (NaN: not computed yet); 2 MB, kept for the
# process: edge maps meet a few thousand of the 262144 pairs.
_BINARY_SCORES = np.full((512, 512), np.nan)


def fmi_of_features(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, scalar_below: float | None = None,
                    patterns: bool = True) -> torch.Tensor:
    """`fmi_pixel.fmi_of_features` on float64 CPU tensors (N, 1, H, W): one pass over the windows.

    Maps whose values are all 0 or 1 (edge maps) go through `_numba_fmi.fmi_binary_maps`, which memoises the window
    scores by pattern (`patterns=False` turns that off); others through `_numba_fmi.fmi_maps` with `scalar_below`
    (default `_numba_fmi.SCALAR_BELOW`; the tests force each path)."""
    planes = [t.detach()[:, 0].contiguous().numpy() for t in (fused, ir, vis)]
    binary = patterns and all(bool(((p == 0) | (p == 1)).all()) for p in planes)
    if scalar_below is None:
        from metrics._numba_fmi import SCALAR_BELOW as scalar_below
    with _LAUNCH:
        _threads()
        if binary:
            return torch.from_numpy(_kernels()['fmi_binary_maps'](*planes, _BINARY_SCORES))
        return torch.from_numpy(_kernels()['fmi_maps'](*planes, float(scalar_below)))


def matlab_edge(x: torch.Tensor, tol: float) -> torch.Tensor:
    """`fmi_edge.matlab_edge` of a float64 CPU tensor (N, 1, H, W): 0/1 edge maps, in two passes."""
    planes = x.detach()[:, 0].contiguous().numpy()
    n, h, w = planes.shape
    bx, by, b = (np.empty_like(planes) for _ in range(3))
    row_sums = np.empty((n, h))
    out = np.empty_like(planes)
    with _LAUNCH:
        _threads()
        _kernels()['sobel_energy'](planes, bx, by, b, row_sums)
        cutoff = 4 * row_sums.sum(axis=1) / (h * w)
        _kernels()['thin_edges'](bx, by, b, cutoff, float(tol), out)
    return torch.from_numpy(out).unsqueeze(1)


def mef_strengths(box: torch.Tensor, area: float) -> torch.Tensor:
    """`mef_ssim.mef_ssim_scores`' consistency ratio and signal strengths for two sources, from the box sums
    (N, 5, H, W) of x0, x1, x0^2, x0 x1, x1^2: (N, 3, H, W) float64 (ratio, ed_0, ed_1)."""
    kernel = _kernels()['mef_strengths']
    out = box.new_empty((box.shape[0], 3, *box.shape[2:]))
    with _LAUNCH:
        _threads()
        kernel(box.detach().contiguous().numpy(), float(area), out.numpy())
    return out


def mef_quality(box: torch.Tensor, gm: torch.Tensor, strengths: torch.Tensor, p: torch.Tensor, area: float,
                c: float) -> torch.Tensor:
    """The rest of `mef_ssim.mef_ssim_scores` for two sources, given the exponent map p (N, H, W): the mean
    quality map per image, (N,)."""
    kernel = _kernels()['mef_quality']
    arrays = [t.detach().contiguous().numpy() for t in (box, gm, strengths, p)]
    with _LAUNCH:
        _threads()
        return torch.from_numpy(kernel(*arrays, float(area), float(c)))


def vif_scale(images: torch.Tensor, pairs: list[tuple[int, int]], taps: list[float], cap: float | None, eps: float,
              sigma_nsq: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One scale of `vif._vif_num_den` on a float64 CPU tensor (N, k + 1, H, W), the k references then the
    distorted image: `local_moments` and `vif._vif_terms` in one pass, never storing the moment maps.
    (numerator, denominator) sums, each (N, k)."""
    kernel = _kernels()['vif_scale']
    with _LAUNCH:
        _threads()
        num, den = kernel(images.detach().contiguous().numpy(), np.asarray(pairs, dtype=np.int64).reshape(-1, 2),
                          np.asarray(taps, dtype=np.float64), np.inf if cap is None else float(cap), float(eps),
                          float(sigma_nsq))
    return torch.from_numpy(num), torch.from_numpy(den)


def qabf_sums(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, consts: tuple[float, ...],
              exact: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """`qabf._qabf`'s numerator and denominator for float64 CPU tensors (N, 1, H, W), in one pass without
    full-size temporaries; consts = (Dg, kg, Da, ka), `exact` as there."""
    kernel = _kernels()['qabf_sums']
    planes = [t.detach()[:, 0].contiguous().numpy() for t in (fused, ir, vis)]
    with _LAUNCH:
        _threads()
        num, den = kernel(*planes, np.asarray(consts, dtype=np.float64), bool(exact))
    return torch.from_numpy(num), torch.from_numpy(den)


def nabf_sums(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, exact: bool, threshold: float,
              wt_min: float) -> tuple[torch.Tensor, torch.Tensor]:
    """`nabf._nabf`'s numerator and denominator for float64 CPU tensors (N, 1, H, W), in one pass without
    full-size temporaries."""
    kernel = _kernels()['nabf_sums']
    planes = [t.detach()[:, 0].contiguous().numpy() for t in (fused, ir, vis)]
    with _LAUNCH:
        _threads()
        num, den = kernel(*planes, bool(exact), float(threshold), float(wt_min))
    return torch.from_numpy(num), torch.from_numpy(den)


def bincount_rows(levels: torch.Tensor, bins: int) -> torch.Tensor:
    """`_filters.histogram` of (N, P) int64 or float64 levels: (N, bins) float64 counts. Raises ValueError for a
    level outside [0, bins) (the torch form's scatter raises too)."""
    kernel = _kernels()['bincount_rows']
    with _LAUNCH:
        _threads()
        counts, outside = kernel(levels.detach().contiguous().numpy(), int(bins))
    if outside.any():
        raise ValueError(f'Expected levels in [0, {bins}), but {int(outside.sum())} are outside.')
    return torch.from_numpy(counts)


def joint_counts(a: torch.Tensor, b: torch.Tensor, bins: int, cap: int) -> torch.Tensor:
    """`_filters.joint_histogram` of (N, P) int64 or float64 levels, each capped at `cap`: (N, bins * bins)."""
    kernel = _kernels()['joint_counts']
    with _LAUNCH:
        _threads()
        counts, outside = kernel(a.detach().contiguous().numpy(), b.detach().contiguous().numpy(), int(bins),
                                 int(cap))
    if outside.any():
        raise ValueError(f'Expected levels in [0, {bins}), but {int(outside.sum())} pairs are outside.')
    return torch.from_numpy(counts)


def _run(name: str, *args):
    """Calls kernel `name` under the launch lock with torch's thread count."""
    with _LAUNCH:
        _threads()
        return _kernels()[name](*args)


def _planes(x: torch.Tensor) -> np.ndarray:
    return x.detach().reshape(-1, *x.shape[-2:]).contiguous().numpy()


def flat_windows(x: torch.Tensor, size: int) -> torch.Tensor:
    """`qy._flat_windows` of a float64 CPU tensor (..., H, W) no smaller than the window: one pass."""
    out = _run('flat_windows', _planes(x), int(size))
    return torch.from_numpy(out).view(*x.shape[:-2], *out.shape[-2:])


def moments_by_row(stats: torch.Tensor) -> np.ndarray:
    """(N, K, h, w) window moments as the row kernels read them, (N, h, K, w): no copy for `local_moments`'
    output, which is stored that way."""
    return stats.detach().permute(0, 2, 1, 3).contiguous().numpy()


def viff_sums(stats: torch.Tensor, noise: float, c: float) -> torch.Tensor:
    """`viff.han_viff`'s sums at one scale from its (N, 8, h, w) float64 window moments: (N, 2), the sums of
    VID + c and VIND + c of the chosen source, in one pass."""
    return _row_sums('viff_row_sums', stats, float(noise), float(c))


def _row_sums(name: str, stats: torch.Tensor, *args) -> torch.Tensor:
    return torch.from_numpy(_run(name, moments_by_row(stats), *args).sum(axis=1))


def yang_sums(stats: torch.Tensor, flat: torch.Tensor, qc: bool, c: float) -> torch.Tensor:
    """Qy's (or, with `qc`, Qc's) quality map from its float64 window moments (N, 6 + P, h, w) and flat-window
    masks (N, 3, h, w), in one pass: (N, 2), the sum of its non-NaN values and their count."""
    from metrics._numba_ssim import QC, QY
    return _row_sums('yang_row_sums', stats, flat.contiguous().numpy(), QC if qc else QY, float(c))


def piella_sums(stats: torch.Tensor, c1: float, c2: float) -> torch.Tensor:
    """Qw's sums from the (N, 8, h, w) float64 window moments of the edge images: (N, 2), sum of weight *
    quality and sum of the weights."""
    return _row_sums('piella_row_sums', stats, float(c1), float(c2))


def chen_blum_sums(filtered: torch.Tensor, n: int, h: int, w: int, consts: tuple[int, int, float]) -> torch.Tensor:
    """`qcb._qcb`'s sums of its quality map per image, from the (3N, 2, PH, PW) float64 Gaussian-filtered
    images (the top-left H x W is used): (N,), in one pass."""
    p, q, z = consts   # integer powers stay multiplications
    rows = _run('chen_blum_row_sums', filtered.detach().contiguous().numpy(), int(n), int(h), int(w), int(p), int(q),
                float(z))
    return torch.from_numpy(rows.sum(axis=1))


def prewitt_magnitude(x: torch.Tensor) -> torch.Tensor:
    """`qw._edge_magnitude` of a float64 CPU tensor (..., H, W), in one pass."""
    return torch.from_numpy(_run('prewitt_magnitude', _planes(x))).view(x.shape)


def uniform_filter_scipy(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, size: int) -> torch.Tensor:
    """`ssim._uniform_filter_scipy` of a float32 CPU tensor (..., H, W) whose padded lines take the source
    indices `rows` and `cols`: both passes in one call."""
    return torch.from_numpy(_run('uniform_filter_scipy', _planes(x), rows.numpy(), cols.numpy(), int(size))).view(
        x.shape)


def round_clamp(x: torch.Tensor, half_away: bool, lo: float = 0.0, hi: float = 255.0) -> torch.Tensor:
    """x rounded to integers (half to even as torch.round, or half away from zero as MATLAB's integer casts) and
    clamped to [lo, hi], for a float64 CPU tensor; one pass."""
    kernel = _kernels()['round_clamp']
    with _LAUNCH:
        _threads()
        return torch.from_numpy(kernel(x.detach().contiguous().numpy(), bool(half_away), float(lo), float(hi)))
