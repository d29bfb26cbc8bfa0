"""Independent plain-Python/numpy transcriptions of Haghighat's fmi.m and MATLAB's edge(), for the FMI tests.

Written from the reference code's behaviour (Linfeng-Tang/Image-Fusion @ 53f5542 `analysis_fmi.m`, identical to
MEFB @ 9e185bf `metricsFMI.m`): one window at a time with Python loops, sums in MATLAB's left-to-right order,
including `fmi.m`'s overwrite of the fused window in the IR branch. MATLAB's `edge` defaults (Sobel, automatic
threshold, thinning) follow the portable code of its edge.m (computeEdgeSobelPrewittPortable +
computeEdgesWithThinningPortable).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.fft

EPS = np.finfo(np.float64).eps


def _msum(values):
    total = 0.0
    for v in values:
        total += v
    return total


def _xlog2(p):
    """MATLAB real(-p .* log2(p)) for p != 0."""
    return -p * math.log2(abs(p))


def _pair(a_sub, f_sub):
    """One `fmi.m` source branch. a_sub, f_sub: 3x3 arrays. Returns (score, f_sub as left by the branch)."""
    if np.array_equal(a_sub, f_sub):
        return 1.0, f_sub

    def norm(x):
        hi, lo = x.max(), x.min()
        return np.ones((3, 3)) if hi == lo else (x - lo) / (hi - lo)
    a_sub, f_sub = norm(a_sub), norm(f_sub)
    a_vec, f_vec = a_sub.flatten(order='F'), f_sub.flatten(order='F')          # sub(:) is column-major
    a_tot = _msum(_msum(a_sub[:, k]) for k in range(3))                        # sum(sum(sub))
    f_tot = _msum(_msum(f_sub[:, k]) for k in range(3))
    a_pdf, f_pdf = a_vec / a_tot, f_vec / f_tot
    n = 9
    a_cdf, f_cdf = np.zeros(n), np.zeros(n)
    a_cdf[0], f_cdf[0] = a_pdf[0], f_pdf[0]
    for i in range(1, n):
        a_cdf[i] = a_pdf[i] + a_cdf[i - 1]
        f_cdf[i] = f_pdf[i] + f_cdf[i - 1]
    a_tmp, f_tmp = a_pdf - _msum(a_pdf) / n, f_pdf - _msum(f_pdf) / n
    s = _msum(a_tmp * f_tmp)
    c = 0.0 if s == 0 else s / math.sqrt(_msum(a_tmp * a_tmp) * _msum(f_tmp * f_tmp))
    e_a = e2_a = e_f = e2_f = 0.0
    for i in range(1, n + 1):
        e_a += i * a_pdf[i - 1]
        e2_a += i * i * a_pdf[i - 1]
        e_f += i * f_pdf[i - 1]
        e2_f += i * i * f_pdf[i - 1]
    a_sd, f_sd = math.sqrt(e2_a - e_a ** 2), math.sqrt(e2_f - e_f ** 2)
    if c >= 0:
        def bound(x, y):
            return 0.5 * (x + y - abs(x - y))
        zero = c == 0 or a_sd == 0 or f_sd == 0
    else:
        def bound(x, y):
            return 0.5 * (x + y - 1 + abs(x + y - 1))
        zero = a_sd == 0 or f_sd == 0
    if zero:
        phi = 0.0
    else:
        cov = 0.0
        for i in range(n):
            for j in range(n):
                cov += bound(f_cdf[i], a_cdf[j]) - f_cdf[i] * a_cdf[j]
        phi = c / (cov / (f_sd * a_sd))

    def up(i, j):          # bound's joint CDF with index 0 meaning "before the first position"
        return 0.0 if i < 0 or j < 0 else bound(f_cdf[i], a_cdf[j])
    joint = 0.0
    order = [(0, 0)] + [(i, 0) for i in range(1, n)] + [(0, j) for j in range(1, n)] + \
        [(i, j) for i in range(1, n) for j in range(1, n)]
    for i, j in order:
        mass = up(i, j) - up(i - 1, j) - up(i, j - 1) + up(i - 1, j - 1)
        p = phi * mass + (1 - phi) * f_pdf[i] * a_pdf[j]
        if p != 0:
            joint += _xlog2(p)
    h_a = _msum(_xlog2(p) for p in a_pdf if p != 0)
    h_f = _msum(_xlog2(p) for p in f_pdf if p != 0)
    mi = h_a + h_f - joint
    return (0.0 if mi == 0 else 2 * mi / (h_a + h_f)), f_sub


def fmi_m(a_feat, b_feat, f_feat):
    """`fmi.m` after feature extraction, window 3, on 2-D float arrays: mean of (fmi_af + fmi_bf) / 2."""
    m, n = a_feat.shape
    total = []
    for q in range(1, n - 1):                    # MATLAB loops p (rows) outer; the mean does not care
        for p in range(1, m - 1):
            a_sub = a_feat[p - 1:p + 2, q - 1:q + 2]
            b_sub = b_feat[p - 1:p + 2, q - 1:q + 2]
            f_sub = f_feat[p - 1:p + 2, q - 1:q + 2]
            fmi_af, f_sub = _pair(a_sub, f_sub)                 # the IR branch may overwrite fSub
            fmi_bf, _ = _pair(b_sub, f_sub)
            total.append((fmi_af + fmi_bf) / 2)
    return _msum(total) / len(total)


def matlab_edge(x):
    """MATLAB edge(x): Sobel / 8 with replicate padding, cutoff 4 * mean(b), direction-aware thinning."""
    m, n = x.shape
    p = np.pad(x, 1, mode='edge')
    op = np.array([[1., 2., 1.], [0., 0., 0.], [-1., -2., -1.]]) / 8
    bx, by = np.zeros((m, n)), np.zeros((m, n))
    for r in range(m):
        for c in range(n):
            win = p[r:r + 3, c:c + 3]
            bx[r, c] = np.sum(win * op.T)
            by[r, c] = np.sum(win * op)
    b = bx * bx + by * by
    cutoff = 4 * np.sum(b) / b.size
    bx, by = np.abs(bx), np.abs(by)
    e = np.zeros((m, n))
    for c in range(n):
        for r in range(m):
            b1 = c - 1 < 0 or b[r, c - 1] <= b[r, c]
            b2 = c + 1 > n - 1 or b[r, c] > b[r, c + 1]
            b3 = r - 1 < 0 or b[r - 1, c] <= b[r, c]
            b4 = r + 1 > m - 1 or b[r, c] > b[r + 1, c]
            e[r, c] = b[r, c] > cutoff and ((bx[r, c] >= by[r, c] - EPS * 100 and b1 and b2)
                                            or (by[r, c] >= bx[r, c] - EPS * 100 and b3 and b4))
    return e


def dct2(x):
    """MATLAB dct2: orthonormal 2-D DCT-II."""
    return scipy.fft.dctn(x, type=2, norm='ortho')


def fmi(ima, imb, imf, feature):
    """`fmi(ima, imb, imf, feature, 3)` for feature 'none', 'edge' or 'dct'."""
    extract = {'none': lambda x: x, 'edge': matlab_edge, 'dct': dct2}[feature]
    return fmi_m(extract(ima), extract(imb), extract(imf))


# Crops of TNO #10 (SeAFusion fused, IR, visible; 0-based row and column offsets, 48 x 48) used for the GNU Octave
# reference values in the FMI, MEF-SSIM and MS-SSIM tests.
CROPS = {'c1': (96, 384), 'c2': (0, 0)}


def tno10_crop(data_root, crop, size=48):
    """(fused, ir, vis) as (1, 1, size, size) float64 tensors, or the whole images for crop None."""
    import torch
    from bench.images import read_image
    images = [read_image(data_root / 'tno42' / rel).astype(np.float64)
              for rel in ('fused/SeAFusion/10.png', 'ir/10.png', 'vi/10.png')]
    if crop is not None:
        r, c = CROPS[crop]
        images = [im[r:r + size, c:c + size] for im in images]
    return tuple(torch.from_numpy(np.ascontiguousarray(im))[None, None] for im in images)
