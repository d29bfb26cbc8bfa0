"""ViFF's numba kernel (behind `_cpu_kernels.viff_sums`): Sheikh's VID / VIND rules, the choice of source and the
sums at one scale, in one pass per row."""
import numpy as np
from numba import prange

from metrics._numba_kernels import kernel
from metrics._numba_math import log_abs

_INV_LN10 = 0.43429448190325176   # 1 / ln 10, rounded


@kernel(parallel=True)
def viff_row_sums(stats, noise, c_han):   # pragma: no cover - compiled
    # `viff._vid_vind` and the choice of source at one scale, per row: stats (N, h, 8, w) = means of (ir, vis,
    # fused), their raw second moments, the raw cross moments (ir, fused) and (vis, fused). Returns (N, h, 2): the
    # row sums of VID + c and VIND + c of the source with the smaller g (vis on ties), in column order. log10 is
    # `_numba_math.log_abs` / ln 10 (within 2 ulp of libm's log10), so that the row's logarithms vectorise.
    n_count, h, _, w = stats.shape
    out = np.empty((n_count, h, 2))
    for task in prange(n_count * h):
        n = task // h
        r = task - n * h
        args = np.empty(2 * w)
        logs = np.empty(2 * w)
        exps = np.empty(2 * w)
        for c in range(w):
            mu_f = stats[n, r, 2, c]
            var_f = max(stats[n, r, 5, c] - mu_f * mu_f, 0.0)
            best_g = 0.0
            best_num = 0.0
            best_var = 0.0
            for s in range(2):
                mu_s = stats[n, r, s, c]
                var_s = max(stats[n, r, 3 + s, c] - mu_s * mu_s, 0.0)
                cov = stats[n, r, 6 + s, c] - mu_s * mu_f
                g = cov / (var_s + 1e-10)
                sv = var_f - g * cov
                if var_s < 1e-10:
                    g = 0.0
                    sv = var_f
                    var_s = 0.0
                if var_f < 1e-10:
                    g = 0.0
                    sv = 0.0
                if g < 0:
                    sv = var_f
                    g = 0.0
                sv = max(sv, 1e-10)
                num = g * g * var_s / (sv + noise)
                if s == 0 or not best_g < g:   # ir only when its g is strictly smaller
                    best_g, best_num, best_var = g, num, var_s
            args[c] = 1 + best_num
            args[w + c] = 1 + best_var / noise
        log_abs(args, logs, exps)
        sum_vid = 0.0
        sum_vind = 0.0
        for c in range(w):
            sum_vid += logs[c] * _INV_LN10 + c_han
            sum_vind += logs[w + c] * _INV_LN10 + c_han
        out[n, r, 0] = sum_vid
        out[n, r, 1] = sum_vind
    return out
