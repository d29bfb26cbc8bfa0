"""Nabf's numba kernel (behind `_cpu_kernels.nabf_sums`): `nabf._nabf`'s arithmetic row by row, without full-size
temporaries, with `_numba_math`'s vectorising atan and sigmoid (see `_numba_qabf`, its sibling). Two operations
differ from the torch form by an ulp: atan(gv / gh) is taken without rounding the ratio first, and the weight
g^1.5 is g * sqrt(g) (the C library's pow, one value at a time, cost more than the rest of the kernel)."""
import numpy as np
from numba import prange

from metrics._numba_kernels import kernel
from metrics._numba_math import atan_of_ratio, sigmoid_row

_NRG, _KG, _SIGMA_G = 0.9999, 19.0, 0.5     # as nabf.py
_NRA, _KA, _SIGMA_A = 0.9995, 22.0, 0.5


@kernel()
def sobel_row(plane, r, exact, s, d, key, g, angle):   # pragma: no cover - compiled
    # Row r of `nabf._sobel_reflect` and `nabf._edges`: mirror extension without repeating the edge; s and d are
    # (W + 2,) work rows (column sums and differences of the extended image).
    h, w = plane.shape
    top = plane[r - 1 if r > 0 else 1]
    mid = plane[r]
    bottom = plane[r + 1 if r < h - 1 else h - 2]
    for c in range(w):
        s[c + 1] = (top[c] * 0.125 + mid[c] * 0.25) + bottom[c] * 0.125
        d[c + 1] = bottom[c] - top[c]
    s[0], d[0], s[w + 1], d[w + 1] = s[2], d[2], s[w - 1], d[w - 1]
    for c in range(w):
        gv = s[c + 2] - s[c]
        gh = (d[c] * 0.125 + d[c + 1] * 0.25) + d[c + 2] * 0.125
        g2 = gh * gh + gv * gv
        root = np.sqrt(g2)   # IEEE: correctly rounded
        g[c] = root
        key[c] = root if exact else g2
        edge = np.pi / 2 if gv / gh > 0 else -np.pi / 2     # gh == 0: atan(+-inf)
        a = edge if gh == 0 else atan_of_ratio(gv, gh)
        angle[c] = 0.0 if g2 == 0 else a


@kernel()
def preservation_row(g_x, a_x, g_f, a_f, y, q_g, q_a, kbits, scale):   # pragma: no cover - compiled
    # q_g <- Q^XF = sqrt(Qg Qa) along the row (see `nabf._preservation`, the same operations in the same order)
    w = g_x.shape[0]
    for c in range(w):
        big = max(g_x[c], g_f[c])
        strength = 0.0 if big == 0 else min(g_x[c], g_f[c]) / big
        y[c] = (strength - _SIGMA_G) * _KG
    sigmoid_row(y, q_g, kbits, scale)
    for c in range(w):
        y[c] = ((abs(abs(a_x[c] - a_f[c]) - np.pi / 2) * 2) / np.pi - _SIGMA_A) * _KA
    sigmoid_row(y, q_a, kbits, scale)
    for c in range(w):
        q_g[c] = np.sqrt((q_g[c] * _NRG) * (q_a[c] * _NRA))


@kernel(parallel=True)
def nabf_sums(f, a, b, exact, threshold, wt_min):   # pragma: no cover - compiled
    # Per image: sum of the artefact losses and sum(wA + wB), 16 rows per task, in a fixed order. The weight
    # exponent is nabf._LG = 1.5.
    n_img, h, w = f.shape
    block = 16
    blocks = (h + block - 1) // block
    num = np.zeros((n_img, blocks))
    den = np.zeros((n_img, blocks))
    for task in prange(n_img * blocks):
        n = task // blocks
        bl = task - n * blocks
        s = np.empty(w + 2)
        d = np.empty(w + 2)
        key = np.empty((3, w))
        g = np.empty((3, w))
        angle = np.empty((3, w))
        work = np.empty((4, w))
        kbits = np.empty(w, dtype=np.int64)
        scale = np.empty(w)
        q_a, q_b, y, tmp = work[0], work[1], work[2], work[3]
        for r in range(bl * block, min(h, (bl + 1) * block)):
            sobel_row(f[n], r, exact, s, d, key[0], g[0], angle[0])
            sobel_row(a[n], r, exact, s, d, key[1], g[1], angle[1])
            sobel_row(b[n], r, exact, s, d, key[2], g[2], angle[2])
            preservation_row(g[1], angle[1], g[0], angle[0], y, q_a, tmp, kbits, scale)
            preservation_row(g[2], angle[2], g[0], angle[0], y, q_b, tmp, kbits, scale)
            loss = 0.0
            total = 0.0
            for c in range(w):
                w_a = g[1, c] * np.sqrt(g[1, c]) if key[1, c] >= threshold else wt_min
                w_b = g[2, c] * np.sqrt(g[2, c]) if key[2, c] >= threshold else wt_min
                artefact = key[0, c] > key[1, c] and key[0, c] > key[2, c]
                term = (1 - q_a[c]) * w_a + (1 - q_b[c]) * w_b
                loss += term if artefact else 0.0
                total += w_a + w_b
            num[n, bl] += loss
            den[n, bl] += total
    return num.sum(axis=1), den.sum(axis=1)
