"""MEF-SSIM's numba kernels (behind `_cpu_kernels.mef_ssim_two_sources`): the per-pixel arithmetic of
`mef_ssim.mef_ssim_scores` for two sources, the same operations in the same order, in two passes along the rows
instead of about sixty full-size torch operations. The tangent and the power between them stay torch's."""
import numpy as np
from numba import prange

from metrics._numba_kernels import kernel
from metrics._numba_math import exp_row, log_abs

_EPS = np.finfo(np.float64).eps


@kernel(inline='always')
def square_window_ssd(s0, s1, c00, c01, c11, area):   # pragma: no cover - compiled
    # sum over the square window of (x_k - mu_k)(x_m - mu_m) from box sums: (00, 01, 11)
    return ((area * c00 - s0 * s0) / area, (area * c01 - s0 * s1) / area, (area * c11 - s1 * s1) / area)


@kernel(parallel=True)
def mef_strengths(box, area, out):   # pragma: no cover - compiled
    # box (N, 5, H, W): box sums of x0, x1, x0^2, x0 x1, x1^2 -> out (N, 3, H, W): consistency ratio R (clamped
    # as the reference clamps it) and the signal strengths ed_k = ||x_k - mu_k|| + 0.001.
    n_img, _, h, w = box.shape
    for task in prange(n_img * h):
        n = task // h
        r = task - n * h
        s0, s1, c00, c01, c11 = box[n, 0, r], box[n, 1, r], box[n, 2, r], box[n, 3, r], box[n, 4, r]
        ratio, ed0, ed1 = out[n, 0, r], out[n, 1, r], out[n, 2, r]
        for c in range(w):
            d00, d01, d11 = square_window_ssd(s0[c], s1[c], c00[c], c01[c], c11[c], area)
            n0, n1 = np.sqrt(max(d00, 0.0)), np.sqrt(max(d11, 0.0))
            total = ((d00 + d01) + d01) + d11
            rr = (np.sqrt(max(total, 0.0)) + _EPS) / ((n0 + n1) + _EPS)
            rr = 1 - _EPS if rr > 1 else rr
            ratio[c] = _EPS if rr < 0 else rr
            ed0[c] = n0 + 0.001
            ed1[c] = n1 + 0.001


@kernel(parallel=True)
def mef_quality(box, gm, strengths, p, area, c_const):   # pragma: no cover - compiled
    # Mean quality map per image. gm (N, 9, H, W): Gaussian means of x0, x1, x0^2, x0 x1, x1^2, f, x0 f, x1 f, f^2;
    # strengths: `mef_strengths`' output; p (N, H, W): the exponent min(tan(pi/2 R), 10). The weights
    # (ed_k / 11)^p + eps are taken as exp(p log(ed_k / 11)) + eps with `_numba_math`'s vectorising forms (within
    # about |p log(ed_k / 11)| ulp of the C library's pow, which would take one call a value).
    n_img, _, h, w = box.shape
    rows = np.zeros((n_img, h))
    for task in prange(n_img * h):
        n = task // h
        r = task - n * h
        s0, s1, c00, c01, c11 = box[n, 0, r], box[n, 1, r], box[n, 2, r], box[n, 3, r], box[n, 4, r]
        mx0, mx1, g00, g01, g11 = gm[n, 0, r], gm[n, 1, r], gm[n, 2, r], gm[n, 3, r], gm[n, 4, r]
        mf, gxf0, gxf1, gff = gm[n, 5, r], gm[n, 6, r], gm[n, 7, r], gm[n, 8, r]
        ed0, ed1, p_row = strengths[n, 1, r], strengths[n, 2, r], p[n, r]
        w0_row, w1_row, y = np.empty(w), np.empty(w), np.empty(w)
        kbits, scale = np.empty(w, dtype=np.int64), np.empty(w)
        for ed, out in ((ed0, w0_row), (ed1, w1_row)):
            for c in range(w):
                out[c] = ed[c] / 11
            log_abs(out, y, scale)
            for c in range(w):
                y[c] = p_row[c] * y[c]
            exp_row(y, out, kbits, scale)
            for c in range(w):
                out[c] = out[c] + _EPS
        acc = 0.0
        for c in range(w):
            d00, d01, d11 = square_window_ssd(s0[c], s1[c], c00[c], c01[c], c11[c], area)
            total_w = w0_row[c] + w1_row[c]
            a0 = (w0_row[c] / total_w) / ed0[c]
            a1 = (w1_row[c] / total_w) / ed1[c]
            r_sq = (((a0 * a0) * d00 + (a0 * a1) * d01) + (a1 * a0) * d01) + (a1 * a1) * d11
            floor = 1e-12 * ((a0 * a0) * max(d00, 0.0) + (a1 * a1) * max(d11, 0.0))
            scale = max(ed0[c], ed1[c]) / np.sqrt(r_sq) if r_sq > floor else 0.0
            cv00 = g00[c] - mx0[c] * mx0[c]
            cv01 = g01[c] - mx0[c] * mx1[c]
            cv11 = g11[c] - mx1[c] * mx1[c]
            var_r = (scale * scale) * ((((a0 * a0) * cv00 + (a0 * a1) * cv01) + (a1 * a0) * cv01)
                                       + (a1 * a1) * cv11)
            var_f = gff[c] - mf[c] * mf[c]
            cov_rf = scale * (a0 * (gxf0[c] - mx0[c] * mf[c]) + a1 * (gxf1[c] - mx1[c] * mf[c]))
            acc += (2 * cov_rf + c_const) / (var_r + var_f + c_const)
        rows[n, r] = acc
    return rows.sum(axis=1) / (h * w)
