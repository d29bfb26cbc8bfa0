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
    numba = _cpu_kernels._numba()
    njit, prange = numba.njit, numba.prange

    @njit(parallel=True, cache=True, nogil=True)
    def filtered(spectrum, spread, log_gabor, out):   # pragma: no cover - compiled
        m_count, h, w = spectrum.shape
        s_count = log_gabor.shape[0]
        for task in prange(m_count * s_count * h):
            m = task // (s_count * h)
            s = (task // h) % s_count
            r = task % h
            for c in range(w):
                out[m, s, r, c] = spectrum[m, r, c] * (spread[r, c] * log_gabor[s, r, c])

    @njit(parallel=True, cache=True, nogil=True)
    def scale_sums(eo, eps):   # pragma: no cover - compiled
        m_count, s_count, h, w = eo.shape
        sum_an = np.empty((m_count, h, w))
        max_an = np.empty((m_count, h, w))
        energy = np.empty((m_count, h, w))
        amp0_sq = np.empty((m_count, h, w))
        for task in prange(m_count * h):
            m = task // h
            r = task - m * h
            for c in range(w):
                z = eo[m, 0, r, c]
                amp = np.sqrt(z.real * z.real + z.imag * z.imag)
                sa, mx, se, so = amp, amp, z.real, z.imag
                amp0_sq[m, r, c] = amp * amp
                for s in range(1, s_count):   # scale by scale, as the MATLAB loop adds them
                    z = eo[m, s, r, c]
                    amp = np.sqrt(z.real * z.real + z.imag * z.imag)
                    sa += amp
                    mx = max(mx, amp)
                    se += z.real
                    so += z.imag
                x_energy = np.sqrt(se * se + so * so) + eps
                mean_e, mean_o = se / x_energy, so / x_energy
                acc = 0.0
                for s in range(s_count):
                    z = eo[m, s, r, c]
                    term = (z.real * mean_e + z.imag * mean_o) - abs(z.real * mean_o - z.imag * mean_e)
                    acc = term if s == 0 else acc + term
                sum_an[m, r, c] = sa
                max_an[m, r, c] = mx
                energy[m, r, c] = acc
        return sum_an, max_an, energy, amp0_sq

    @njit(parallel=True, cache=True, nogil=True)
    def accumulate(sum_an, max_an, energy, threshold, consts, acc):   # pragma: no cover - compiled
        eps, n_scale, cut_off, gain, cos_a, sin_a = consts
        m_count, h, w = sum_an.shape
        for task in prange(m_count * h):
            m = task // h
            r = task - m * h
            t = threshold[m]
            for c in range(w):
                e = max(energy[m, r, c] - t, 0.0)
                width = sum_an[m, r, c] / (max_an[m, r, c] + eps) / n_scale
                weighted = 1.0 / (1 + np.exp((cut_off - width) * gain)) * e
                acc[0, m, r, c] += weighted
                acc[1, m, r, c] += sum_an[m, r, c]
                pc = weighted / sum_an[m, r, c]
                cx, cy = pc * cos_a, pc * sin_a
                acc[2, m, r, c] += cx * cx
                acc[3, m, r, c] += cy * cy
                acc[4, m, r, c] += cx * cy

    return filtered, scale_sums, accumulate


def usable(spectrum: torch.Tensor) -> bool:
    """Whether the kernels take this spectrum: complex128 on the CPU, numba present."""
    return spectrum.device.type == 'cpu' and spectrum.dtype == torch.complex128 and _cpu_kernels.available()


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
    planes = eo.detach().reshape(-1, *eo.shape[-3:]).contiguous().numpy()
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
