"""Fused CPU kernels (numba) for the per-orientation arithmetic of phase congruency (`qp.phase_congruency`).

Per orientation the torch form makes about twenty passes over (images, scales, H, W) float64 maps, and Qp spent
more time there (and ~300 MB of temporaries) than in its 72 FFTs. These kernels do the same arithmetic in the
same order in one pass per row, in parallel over rows; `qp` keeps its torch form for other devices and when numba
is missing, and the tests hold the two to each other. See `_cpu_kernels` for the threading rules.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
import torch

from metrics import _cpu_kernels


@lru_cache(maxsize=1)
def _kernels():
    _cpu_kernels._numba()   # applies the threading-layer choice before the kernels are loaded
    from metrics import _numba_pc as k
    return k.pc_filtered, k.pc_scale_sums, k.pc_accumulate, k.middle_values, k.zhao_row_sums


def usable(spectrum: torch.Tensor) -> bool:
    """Whether the kernels take this spectrum: complex128 on the CPU, numba present."""
    return spectrum.device.type == 'cpu' and spectrum.dtype == torch.complex128 and _cpu_kernels.available()


def usable_real(x: torch.Tensor) -> bool:
    """Whether `middle_values` takes this tensor: float64 on the CPU, numba present."""
    return x.device.type == 'cpu' and x.dtype == torch.float64 and _cpu_kernels.available()


def responses(spectrum: torch.Tensor, spread: torch.Tensor, log_gabor: torch.Tensor,
              out: torch.Tensor | None = None) -> torch.Tensor:
    """The inverse FFTs of (..., H, W) complex128 spectra times the filters spread * log_gabor[s] ((H, W) and
    (S, H, W) float64): (..., S, H, W) complex128, written into `out` when given (reusing one array across the
    orientations saves its page faults, which cost more than the multiplication).

    The inverse transform is scipy's pocketfft in place (`overwrite_x`): torch's `ifft2(..., out=)` allocates a
    second array of the same size (56 MB for 3 images at 640x480) and took twice as long here.
    """
    lead, (h, w) = spectrum.shape[:-2], spectrum.shape[-2:]
    planes = spectrum.detach().reshape(-1, h, w).contiguous().numpy()
    if out is None:
        out = torch.empty(*lead, log_gabor.shape[0], h, w, dtype=torch.complex128)
    buffer = out.view(-1, log_gabor.shape[0], h, w).numpy()
    with _cpu_kernels._LAUNCH:
        _cpu_kernels._threads()
        _kernels()[0](planes, spread.contiguous().numpy(), log_gabor.contiguous().numpy(), buffer)
    result = scipy.fft.ifft2(buffer, axes=(-2, -1), overwrite_x=True, workers=torch.get_num_threads())
    if not np.shares_memory(result, buffer):   # pocketfft may decline to work in place
        buffer[...] = result
    return out


def scale_sums(eo: torch.Tensor, eps: float) -> tuple[torch.Tensor, ...]:
    """`qp._scale_sums` of (..., S, H, W) complex128 responses: four (..., H, W) float64 maps."""
    lead, (h, w) = eo.shape[:-3], eo.shape[-2:]
    planes = torch.view_as_real(eo.detach().reshape(-1, *eo.shape[-3:]).contiguous()).flatten(-2).numpy()
    with _cpu_kernels._LAUNCH:
        _cpu_kernels._threads()
        out = _kernels()[1](planes, float(eps))
    return tuple(torch.from_numpy(t).view(*lead, h, w) for t in out)


def accumulate(acc: torch.Tensor, sum_an: torch.Tensor, max_an: torch.Tensor, energy: torch.Tensor,
               threshold: torch.Tensor, consts: tuple[float, ...]) -> None:
    """`qp._accumulate` in place on a contiguous (5, ..., H, W) float64 accumulator."""
    h, w = sum_an.shape[-2:]
    flat = [t.reshape(-1, h, w).contiguous().numpy() for t in (sum_an, max_an, energy)]
    with _cpu_kernels._LAUNCH:
        _cpu_kernels._threads()
        _kernels()[2](*flat, threshold.reshape(-1).contiguous().numpy(), np.asarray(consts, dtype=np.float64),
                      acc.view(5, -1, h, w).numpy())


def middle_values(x: torch.Tensor) -> torch.Tensor | None:
    """The two middle order statistics of each row of a float64 CPU tensor (..., n): (..., 2), the (n-1)//2-th and
    n//2-th smallest (equal for odd n); None when a row has a NaN. Exact: a radix step and a sort of the values in
    the two middle buckets, each row in chunks across the threads (about 0.5 ms a 640 x 480 plane on 2 threads,
    against 3 ms for numpy's introselect)."""
    n = x.shape[-1]
    rows = x.detach().reshape(-1, n).contiguous().numpy()
    with _cpu_kernels._LAUNCH:
        _cpu_kernels._threads()
        out, ok = _kernels()[3](rows, (n - 1) // 2, n // 2, _cpu_kernels._numba().get_num_threads())
    return torch.from_numpy(out).view(*x.shape[:-1], 2) if ok.all() else None


def zhao_sums(stats: torch.Tensor, masks: torch.Tensor, c: float) -> torch.Tensor:
    """Per image, the sum over the pixels of `qp._feature_correlation`'s per-pixel maximum, from its (N, 11, H, W)
    float64 window moments and (N, 3, H, W) boolean masks: (N,) float64, in one pass."""
    with _cpu_kernels._LAUNCH:
        _cpu_kernels._threads()
        rows = _kernels()[4](_cpu_kernels.moments_by_row(stats), masks.contiguous().numpy(), float(c))
    return torch.from_numpy(rows.sum(axis=1))
