"""Qabf's numba kernel (behind `_cpu_kernels.qabf_sums`), with exp and atan written so that they vectorise.

numba calls the C library for `np.exp` and `np.arctan` one value at a time (7.6 ms for the 920k arctangents of
one 640 x 480 triple on 2 cores, as slow as torch's); Qabf needs three arctangents and four exponentials a pixel.
The forms below are branch-free polynomials that LLVM turns into 4-wide AVX2 code: exp by Cody-Waite reduction
to |r| <= ln(2)/2 and its Taylor series to degree 14 (truncation 3e-18 relative), atan by Cephes' reduction to
|x| <= 0.66 and its rational approximation (P/Q, the Cephes `atan.c` coefficients). Both stay within 2 ulp of
the C library (tests/metrics/test_qabf.py checks them over their whole range).
"""
import math

import numpy as np
from numba import prange

from metrics._numba_kernels import kernel

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01   # ln 2 split so that k * _LN2_HI is exact for |k| < 2^20 (fdlibm)
_LN2_LO = 1.90821492927058770002e-10
_ROUND = 6755399441055744.0            # 1.5 * 2^52: adding it rounds to an integer held in the low bits
_ROUND_BITS = 4843621399236968448      # its bit pattern
_TAYLOR = tuple(1.0 / math.factorial(i) for i in range(15))

_T3P8 = 2.41421356237309504880          # tan(3 pi / 8)
_MOREBITS = 6.123233995736765886130e-17  # pi / 2 - float(pi / 2)
_P = (-8.750608600031904122785e-1, -1.615753718733365076637e1, -7.500855792314704667340e1,
      -1.228866684490136173410e2, -6.485021904942025371773e1)
_Q = (2.485846490142306297962e1, 1.650270098316988542046e2, 4.328810604912902668951e2,
      4.853903996359136964868e2, 1.945506571482613964425e2)


@kernel()
def sigmoid_row(y, out, kbits, scale):   # pragma: no cover - compiled
    # out = 1 / (1 + exp(-y)), elementwise; kbits and scale are work rows of the same length.
    w = y.shape[0]
    kf = kbits.view(np.float64)
    for c in range(w):
        x = min(max(-y[c], -745.0), 709.0)
        kf[c] = x * _LOG2E + _ROUND
    sbits = scale.view(np.int64)
    for c in range(w):
        sbits[c] = (kbits[c] - _ROUND_BITS + 1023) << 52   # 2^k, k = round(x / ln 2)
    for c in range(w):
        x = min(max(-y[c], -745.0), 709.0)
        k = kf[c] - _ROUND
        r = (x - k * _LN2_HI) - k * _LN2_LO
        p = _TAYLOR[14]
        for i in range(13, -1, -1):
            p = p * r + _TAYLOR[i]
        e = p * scale[c] if x > -708.0 else 0.0   # below, 2^k is subnormal; 1 / (1 + e) is 1 there anyway
        out[c] = 1.0 / (1.0 + e) if -y[c] < 709.0 else 0.0   # above, exp overflows (the true value < 1e-308)


@kernel()
def atan_of_ratio(sy, sx):   # pragma: no cover - compiled
    # atan(sy / sx) for sx != 0, reducing |sy / sx| with one division: x, -1/x or (x - 1)/(x + 1) (Cephes)
    ay, ax = abs(sy), abs(sx)
    big = ay > _T3P8 * ax
    mid = ay > 0.66 * ax
    num = -ax if big else (ay - ax if mid else ay)
    den = ay if big else (ay + ax if mid else ax)
    x = num / den
    z = x * x
    p = (((_P[0] * z + _P[1]) * z + _P[2]) * z + _P[3]) * z + _P[4]
    q = ((((z + _Q[0]) * z + _Q[1]) * z + _Q[2]) * z + _Q[3]) * z + _Q[4]
    t = x * (z * p / q) + x + (_MOREBITS if big else (0.5 * _MOREBITS if mid else 0.0))
    t = (np.pi / 2 if big else (np.pi / 4 if mid else 0.0)) + t
    return t if (sy >= 0) == (sx >= 0) else -t


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
