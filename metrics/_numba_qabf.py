"""Qabf's numba kernel (behind `_cpu_kernels.qabf_sums`): Sobel responses, angles and the two sigmoids per source,
summed per row block without full-size temporaries. Its exp and atan are `_numba_math`'s vectorising forms (the C
library's, one value at a time, took 7.6 ms for the 920k arctangents of one 640 x 480 triple on 2 cores).
"""
import numpy as np
from numba import prange

from metrics._numba_kernels import kernel
from metrics._numba_math import atan_of_ratio, sigmoid_row


@kernel()
def gradient_row(plane, r, exact, pad, key, g, angle):   # pragma: no cover - compiled
    # Row r of Qabf's Sobel responses (zero padding): g = sqrt(Sx^2 + Sy^2), alpha = atan(Sy / Sx) (pi / 2 where
    # Sx == 0) and the key of the gX == gF test (g^2, or g itself when `exact`). `exact` sums the taps in MATLAB
    # conv2's column-major order (`qabf._sobel_matlab_order`), otherwise as `qabf._sobel`. pad: (3, W + 2) work rows.
    h, w = plane.shape
    for i in range(3):
        src = r - 1 + i
        pad[i, 0] = 0.0
        pad[i, w + 1] = 0.0
        if 0 <= src < h:
            pad[i, 1:w + 1] = plane[src]
        else:
            pad[i, 1:w + 1] = 0.0
    up, mid, down = pad[0], pad[1], pad[2]
    for c in range(w):
        if exact:
            sx = ((((-down[c + 2] + -2 * mid[c + 2]) + -up[c + 2]) + down[c]) + 2 * mid[c]) + up[c]
            sy = ((((down[c + 2] + -up[c + 2]) + 2 * down[c + 1]) + -2 * up[c + 1]) + down[c]) + -up[c]
        else:
            sx = ((up[c] + down[c]) + 2 * mid[c]) - ((up[c + 2] + down[c + 2]) + 2 * mid[c + 2])
            sy = ((down[c] + down[c + 2]) + 2 * down[c + 1]) - ((up[c] + up[c + 2]) + 2 * up[c + 1])
        s2 = sx * sx + sy * sy
        root = np.sqrt(s2)   # IEEE: correctly rounded
        g[c] = root
        key[c] = root if exact else s2
        angle[c] = np.pi / 2 if sx == 0 else atan_of_ratio(sy, sx)


@kernel()
def preservation_row(k_x, g_x, a_x, k_f, g_f, a_f, consts, y, q, q_a, kbits, scale):   # pragma: no cover
    # Sum over the row of Q^XF * gX (see `qabf._preservation`, the same operations in the same order).
    dg, kg, da, ka = consts[0], consts[1], consts[2], consts[3]
    w = g_x.shape[0]
    for c in range(w):
        strength = g_f[c] if k_x[c] == k_f[c] else min(g_x[c], g_f[c]) / max(g_x[c], g_f[c])
        y[c] = (strength - dg) * -kg
    sigmoid_row(y, q, kbits, scale)
    for c in range(w):
        y[c] = (abs(a_x[c] - a_f[c]) / (np.pi / 2) - (1 - da)) * ka
    sigmoid_row(y, q_a, kbits, scale)
    total = 0.0
    for c in range(w):
        total += q[c] * q_a[c] * g_x[c]
    return total


@kernel(parallel=True)
def qabf_sums(f, a, b, consts, exact):   # pragma: no cover - compiled
    # Per image: sum(Q^AF gA + Q^BF gB) and sum(gA) + sum(gB), 16 rows per task, in a fixed order.
    n_img, h, w = f.shape
    block = 16
    blocks = (h + block - 1) // block
    num = np.zeros((n_img, blocks))
    den = np.zeros((n_img, blocks))
    for task in prange(n_img * blocks):
        n = task // blocks
        bl = task - n * blocks
        pad = np.empty((3, w + 2))
        key = np.empty((3, w))
        g = np.empty((3, w))
        angle = np.empty((3, w))
        work = np.empty((3, w))
        kbits = np.empty(w, dtype=np.int64)
        scale = np.empty(w)
        for r in range(bl * block, min(h, (bl + 1) * block)):
            gradient_row(f[n], r, exact, pad, key[0], g[0], angle[0])
            gradient_row(a[n], r, exact, pad, key[1], g[1], angle[1])
            gradient_row(b[n], r, exact, pad, key[2], g[2], angle[2])
            for s in (1, 2):
                num[n, bl] += preservation_row(key[s], g[s], angle[s], key[0], g[0], angle[0], consts,
                                               work[0], work[1], work[2], kbits, scale)
                for c in range(w):
                    den[n, bl] += g[s, c]
    return num.sum(axis=1), den.sum(axis=1)
