"""The numba kernels of the SSIM-map fusion metrics of MEFB (behind `_cpu_kernels`): Yang's Qy, Cvejic's Qc and
Piella's Qw, from their window moments to per-row sums in one pass, with the torch forms' arithmetic per pixel."""
import numpy as np
from numba import prange

from metrics._numba_kernels import kernel

QY, QC = 0, 1


@kernel()
def _ssim(mu_x, mu_y, var_x, var_y, cov, c1, c2):   # pragma: no cover - compiled
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))


@kernel(parallel=True)
def yang_row_sums(stats, flat, mode, c):   # pragma: no cover - compiled
    # stats (N, h, 6 + P, w) (`local_moments`' memory order): the window means of (ir, vis, fused), their raw
    # second moments, then raw cross moments ((ir, vis), (ir, fused), (vis, fused)) for QY or ((ir, fused),
    # (vis, fused)) for QC; flat (N, 3, h, w): the windows where an image is constant (variance and covariances
    # exactly 0 there, as `qy._window_stats`).
    # Returns (N, h, 2): per row, the sum of the quality map's non-NaN values and their count.
    n_count, h, _, w = stats.shape
    out = np.empty((n_count, h, 2))
    af, bf = (7, 8) if mode == QY else (6, 7)
    for task in prange(n_count * h):
        n = task // h
        r = task - n * h
        total = 0.0
        count = 0.0
        for col in range(w):
            fa, fb, ff = flat[n, 0, r, col], flat[n, 1, r, col], flat[n, 2, r, col]
            mu_a, mu_b, mu_f = stats[n, r, 0, col], stats[n, r, 1, col], stats[n, r, 2, col]
            var_a = 0.0 if fa else stats[n, r, 3, col] - mu_a * mu_a
            var_b = 0.0 if fb else stats[n, r, 4, col] - mu_b * mu_b
            var_f = 0.0 if ff else stats[n, r, 5, col] - mu_f * mu_f
            cov_af = 0.0 if fa or ff else stats[n, r, af, col] - mu_a * mu_f
            cov_bf = 0.0 if fb or ff else stats[n, r, bf, col] - mu_b * mu_f
            ssim_af = _ssim(mu_a, mu_f, var_a, var_f, cov_af, c, c)
            ssim_bf = _ssim(mu_b, mu_f, var_b, var_f, cov_bf, c, c)
            if mode == QY:
                cov_ab = 0.0 if fa or fb else stats[n, r, 6, col] - mu_a * mu_b
                similar = 1.0 if _ssim(mu_a, mu_b, var_a, var_b, cov_ab, c, c) >= 0.75 else 0.0
                lam = var_a / (var_a + var_b)
                value = ((lam * ssim_af + (1 - lam) * ssim_bf) * similar
                         + max(ssim_af, ssim_bf) * (1.0 - similar))   # NaN lambda stays NaN, as 0 * NaN
            else:
                share = cov_af / (cov_af + cov_bf)
                value = share * ssim_af + (1 - share) * ssim_bf
                if share < 0:
                    value = 0.0
                elif share > 1:
                    value = 1.0
            if value == value:
                total += value
                count += 1.0
        out[n, r, 0] = total
        out[n, r, 1] = count
    return out


@kernel(parallel=True)
def prewitt_magnitude(x):   # pragma: no cover - compiled
    # `qw._edge_magnitude` of planes (M, H, W): the same 3-sums and differences, zero padding, in one pass.
    m_count, h, w = x.shape
    out = np.empty((m_count, h, w))
    for task in prange(m_count * h):
        m = task // h
        r = task - m * h
        cols = np.zeros(w + 2)   # 3-row sums at columns -1 .. w
        for col in range(w):
            up = x[m, r - 1, col] if r > 0 else 0.0
            down = x[m, r + 1, col] if r + 1 < h else 0.0
            cols[col + 1] = (up + x[m, r, col]) + down
        for col in range(w):
            gx = cols[col] - cols[col + 2]
            if r > 0:
                left = x[m, r - 1, col - 1] if col > 0 else 0.0
                right = x[m, r - 1, col + 1] if col + 1 < w else 0.0
                above = (left + x[m, r - 1, col]) + right
            else:
                above = 0.0
            if r + 1 < h:
                left = x[m, r + 1, col - 1] if col > 0 else 0.0
                right = x[m, r + 1, col + 1] if col + 1 < w else 0.0
                below = (left + x[m, r + 1, col]) + right
            else:
                below = 0.0
            gy = above - below
            out[m, r, col] = np.sqrt(gx * gx + gy * gy)
    return out


@kernel(parallel=True)
def piella_row_sums(stats, c1, c2):   # pragma: no cover - compiled
    # `qw.piella_weighted` from its window moments (N, h, 8, w) of the edge images: means of (ir, vis, fused), raw
    # second moments, raw cross moments (fused, ir), (fused, vis). Returns (N, h, 2): per row, the sums of
    # weight * quality and of the weights max(s_A, s_B).
    n_count, h, _, w = stats.shape
    out = np.empty((n_count, h, 2))
    for task in prange(n_count * h):
        n = task // h
        r = task - n * h
        total = 0.0
        weights = 0.0
        for col in range(w):
            mu_a, mu_b, mu_f = stats[n, r, 0, col], stats[n, r, 1, col], stats[n, r, 2, col]
            var_a = stats[n, r, 3, col] - mu_a * mu_a
            var_b = stats[n, r, 4, col] - mu_b * mu_b
            var_f = stats[n, r, 5, col] - mu_f * mu_f
            ssim_fa = _ssim(mu_f, mu_a, var_f, var_a, stats[n, r, 6, col] - mu_f * mu_a, c1, c2)
            ssim_fb = _ssim(mu_f, mu_b, var_f, var_b, stats[n, r, 7, col] - mu_f * mu_b, c1, c2)
            half = 0.5 if var_a + var_b == 0 else 0.0
            var_a += half
            var_b += half
            lam = var_a / (var_a + var_b)
            weight = max(var_a, var_b)
            total += weight * (lam * ssim_fa + (1 - lam) * ssim_fb)
            weights += weight
        out[n, r, 0] = total
        out[n, r, 1] = weights
    return out


@kernel(parallel=True)
def chen_blum_row_sums(filtered, n_count, h, w, p, q, z):   # pragma: no cover - compiled
    # `qcb._qcb` after its Gaussian filtering: filtered (3N, 2, PH, PW) holds filter2(G_2, y) and filter2(G_4, y)
    # of (vis, ir, fused) stacked by image kind; per row of each image, the sum of the quality map
    # lambda_A Q^AF + lambda_B Q^BF, with the torch form's arithmetic (NaN where it has 0 * inf).
    out = np.empty((n_count, h))
    for task in prange(n_count * h):
        i = task // h
        r = task - i * h
        total = 0.0
        for col in range(w):
            c1 = abs(filtered[i, 0, r, col] / filtered[i, 1, r, col] - 1)
            c2 = abs(filtered[n_count + i, 0, r, col] / filtered[n_count + i, 1, r, col] - 1)
            cf = abs(filtered[2 * n_count + i, 0, r, col] / filtered[2 * n_count + i, 1, r, col] - 1)
            c1 = c1 ** p / (c1 ** q + z)
            c2 = c2 ** p / (c2 ** q + z)
            cf = cf ** p / (cf ** q + z)
            m1 = 1.0 if c1 < cf else 0.0
            m2 = 1.0 if c2 < cf else 0.0
            q1 = (c1 / cf) * m1 + (cf / c1) * (1 - m1)
            q2 = (c2 / cf) * m2 + (cf / c2) * (1 - m2)
            s1 = c1 * c1
            s2 = c2 * c2
            total += (s1 / (s1 + s2)) * q1 + (s2 / (s1 + s2)) * q2
        out[i, r] = total
    return out
