"""The numba kernels behind `_cpu_kernels` (imported only when numba is present and switched on).

They live at module level, not in a closure: numba's on-disk cache keys a closure by its cell contents, which for
kernels calling other compiled helpers differ in every process, so each new process recompiled VIF's and FMI's
kernels (8-10 s on the first call, and the compiler's memory in every measurement).
"""
import numpy as np
from numba import njit, prange


def kernel(**options):
    """numba's `njit`, cached on disk, releasing the GIL, with IEEE division (inf and NaN, as the torch forms
    give) instead of numba's ZeroDivisionError checks, which also keep a loop with a division from vectorising."""
    return njit(cache=True, nogil=True, error_model='numpy', **options)


@kernel()
def column_pass(plane, r0, taps, out):   # pragma: no cover - compiled
    # out[c] = sum_k taps[k] * plane[r0 + k, c], adding the taps in order: the same arithmetic as one sweep over
    # `out` per tap, but up to nine taps per sweep, which saves most of the loads and stores of `out` (the
    # bottleneck: a 17-tap window takes 2 sweeps instead of 17).
    k_count, w = taps.shape[0], out.shape[0]
    k = 0
    if k_count >= 9:
        t0, t1, t2, t3, t4, t5, t6, t7, t8 = (taps[0], taps[1], taps[2], taps[3], taps[4], taps[5], taps[6],
                                              taps[7], taps[8])
        s0, s1, s2, s3, s4 = plane[r0], plane[r0 + 1], plane[r0 + 2], plane[r0 + 3], plane[r0 + 4]
        s5, s6, s7, s8 = plane[r0 + 5], plane[r0 + 6], plane[r0 + 7], plane[r0 + 8]
        for c in range(w):
            acc = ((t0 * s0[c] + t1 * s1[c]) + t2 * s2[c]) + t3 * s3[c]
            acc = (((acc + t4 * s4[c]) + t5 * s5[c]) + t6 * s6[c]) + t7 * s7[c]
            out[c] = acc + t8 * s8[c]
        k = 9
    else:
        t0 = taps[0]
        s0 = plane[r0]
        for c in range(w):
            out[c] = t0 * s0[c]
        k = 1
    while k + 7 < k_count:
        t0, t1, t2, t3, t4, t5, t6, t7 = (taps[k], taps[k + 1], taps[k + 2], taps[k + 3], taps[k + 4], taps[k + 5],
                                          taps[k + 6], taps[k + 7])
        s0, s1, s2, s3 = plane[r0 + k], plane[r0 + k + 1], plane[r0 + k + 2], plane[r0 + k + 3]
        s4, s5, s6, s7 = plane[r0 + k + 4], plane[r0 + k + 5], plane[r0 + k + 6], plane[r0 + k + 7]
        for c in range(w):
            acc = (((out[c] + t0 * s0[c]) + t1 * s1[c]) + t2 * s2[c]) + t3 * s3[c]
            out[c] = (((acc + t4 * s4[c]) + t5 * s5[c]) + t6 * s6[c]) + t7 * s7[c]
        k += 8
    while k + 3 < k_count:
        t0, t1, t2, t3 = taps[k], taps[k + 1], taps[k + 2], taps[k + 3]
        s0, s1, s2, s3 = plane[r0 + k], plane[r0 + k + 1], plane[r0 + k + 2], plane[r0 + k + 3]
        for c in range(w):
            out[c] = (((out[c] + t0 * s0[c]) + t1 * s1[c]) + t2 * s2[c]) + t3 * s3[c]
        k += 4
    while k < k_count:
        t0 = taps[k]
        s0 = plane[r0 + k]
        for c in range(w):
            out[c] += t0 * s0[c]
        k += 1


@kernel()
def row_pass(line, taps, out):   # pragma: no cover - compiled
    # out[c] = sum_k taps[k] * line[c + k] ('valid'), taps in order, grouped into sweeps as in `column_pass`.
    k_count, wo = taps.shape[0], out.shape[0]
    k = 0
    if k_count >= 9:
        t0, t1, t2, t3, t4, t5, t6, t7, t8 = (taps[0], taps[1], taps[2], taps[3], taps[4], taps[5], taps[6],
                                              taps[7], taps[8])
        for c in range(wo):
            acc = ((t0 * line[c] + t1 * line[c + 1]) + t2 * line[c + 2]) + t3 * line[c + 3]
            acc = (((acc + t4 * line[c + 4]) + t5 * line[c + 5]) + t6 * line[c + 6]) + t7 * line[c + 7]
            out[c] = acc + t8 * line[c + 8]
        k = 9
    else:
        t0 = taps[0]
        for c in range(wo):
            out[c] = t0 * line[c]
        k = 1
    while k + 7 < k_count:
        t0, t1, t2, t3, t4, t5, t6, t7 = (taps[k], taps[k + 1], taps[k + 2], taps[k + 3], taps[k + 4], taps[k + 5],
                                          taps[k + 6], taps[k + 7])
        for c in range(wo):
            j = c + k
            acc = (((out[c] + t0 * line[j]) + t1 * line[j + 1]) + t2 * line[j + 2]) + t3 * line[j + 3]
            out[c] = (((acc + t4 * line[j + 4]) + t5 * line[j + 5]) + t6 * line[j + 6]) + t7 * line[j + 7]
        k += 8
    while k + 3 < k_count:
        t0, t1, t2, t3 = taps[k], taps[k + 1], taps[k + 2], taps[k + 3]
        for c in range(wo):
            j = c + k
            out[c] = (((out[c] + t0 * line[j]) + t1 * line[j + 1]) + t2 * line[j + 2]) + t3 * line[j + 3]
        k += 4
    while k < k_count:
        t0 = taps[k]
        for c in range(wo):
            out[c] += t0 * line[c + k]
        k += 1


@kernel(parallel=True)
def sep_valid(x, col_taps, row_taps, stride):   # pragma: no cover - compiled
    m_count, h, w = x.shape
    kh, kw = col_taps.shape[0], row_taps.shape[0]
    ho = (h - kh) // stride + 1
    wo = (w - kw) // stride + 1
    out = np.empty((m_count, ho, wo))
    for task in prange(m_count * ho):
        m = task // ho
        r = task - m * ho
        # Down the columns first, then along the row: the order of the torch form.
        tmp = np.empty(w)
        column_pass(x[m], r * stride, col_taps, tmp)
        if stride == 1:
            row_pass(tmp, row_taps, out[m, r])
        else:   # every output of the row, then every stride-th: vectorised, faster than a strided gather
            full = np.empty(w - kw + 1)
            row_pass(tmp, row_taps, full)
            row = out[m, r]
            for c in range(wo):
                row[c] = full[c * stride]
    return out


# Output rows per task of the moment kernels: their products are formed once per block (17 + 16 input rows for
# 16 output rows with a 17-tap window) instead of once per tap, and a block's product rows stay in cache.
MOMENT_BLOCK = 16


@kernel()
def block_products(x, n, pairs, cap, first, prod):   # pragma: no cover - compiled
    # prod[q, i] = min(x_a * x_b, cap) on input row first + i, for the pairs q = (a, b)
    for q in range(pairs.shape[0]):
        for i in range(prod.shape[1]):
            a = x[n, pairs[q, 0], first + i]
            b = x[n, pairs[q, 1], first + i]
            dst = prod[q, i]
            for c in range(a.shape[0]):
                dst[c] = min(a[c] * b[c], cap)


@kernel()
def moment_row(x, n, prod, taps, r, i0, out, tmp):   # pragma: no cover - compiled
    # Output row r of every channel: the planes of x[n], then the product planes (prod holds them from input row
    # r - i0 on). Down the columns first, then along the row, taps in order (the torch form's order).
    p_count = x.shape[1]
    for ch in range(out.shape[0]):
        if ch < p_count:
            column_pass(x[n, ch], r, taps, tmp)
        else:
            column_pass(prod[ch - p_count], i0, taps, tmp)
        row_pass(tmp, taps, out[ch])


@kernel(parallel=True)
def moments(x, pairs, taps, cap):   # pragma: no cover - compiled
    n_img, p_count, h, w = x.shape
    q_count = pairs.shape[0]
    k_count = taps.shape[0]
    ho, wo = h - k_count + 1, w - k_count + 1
    blocks = (ho + MOMENT_BLOCK - 1) // MOMENT_BLOCK
    out = np.empty((n_img, ho, p_count + q_count, wo))
    for task in prange(n_img * blocks):
        n = task // blocks
        first = (task - n * blocks) * MOMENT_BLOCK
        last = min(first + MOMENT_BLOCK, ho)
        prod = np.empty((q_count, last - first + k_count - 1, w))
        block_products(x, n, pairs, cap, first, prod)
        tmp = np.empty(w)
        for r in range(first, last):
            moment_row(x, n, prod, taps, r, r - first, out[n, r], tmp)
    return out.transpose(0, 2, 1, 3)


_MANTISSA = 4503599627370495        # the 52 fraction bits of a float64
_ONE = 4607182418800017408           # the bits of 1.0 (biased exponent 1023)


@kernel()
def sum_log10(values, lanes, exps):   # pragma: no cover - compiled
    # sum(log10(values)) of values >= 1 with one logarithm: eight running products (which vectorise) whose binary
    # exponents move into integer counters every 4 factors, so they stay finite while the factors are under 1e75.
    # Should a product overflow anyway, or a value be NaN, it returns the plain sum of logarithms instead.
    count = values.shape[0]
    bits = lanes.view(np.int64)
    for j in range(8):
        lanes[j] = 1.0
        exps[j] = 0
    bad = 0
    whole = count - count % 8
    for c in range(0, whole, 8):
        for j in range(8):
            lanes[j] *= values[c + j]
        if c % 32 == 24 or c + 8 == whole:
            for j in range(8):
                e = (bits[j] >> 52) & 2047
                bad = max(bad, e)            # 2047: inf or NaN
                exps[j] += e - 1023
                bits[j] = (bits[j] & _MANTISSA) | _ONE
    product = 1.0
    exponent = 0
    for j in range(8):
        product *= lanes[j]          # each in [1, 2)
        exponent += exps[j]
    for c in range(whole, count):
        product *= values[c]
    if bad == 2047 or not product < np.inf:
        total = 0.0
        for c in range(count):
            total += np.log10(values[c])
        return total
    return np.log10(product) + exponent * 0.30102999566398120   # log10(2)


@kernel(parallel=True)
def vif_scale(x, pairs, taps, cap, eps, sigma_nsq):   # pragma: no cover - compiled
    # One scale of VIF for each reference x[:, s] (s < k) against the distorted x[:, k]: the local moments of
    # `moments` row by row, turned into the two log10 sums of `vif._vif_terms` without storing the moment maps.
    n_img, p_count, h, w = x.shape
    k = p_count - 1
    q_count = pairs.shape[0]
    k_count = taps.shape[0]
    ho, wo = h - k_count + 1, w - k_count + 1
    blocks = (ho + MOMENT_BLOCK - 1) // MOMENT_BLOCK
    num = np.zeros((n_img, blocks, k))
    den = np.zeros((n_img, blocks, k))
    for task in prange(n_img * blocks):
        n = task // blocks
        b = task - n * blocks
        first = b * MOMENT_BLOCK
        last = min(first + MOMENT_BLOCK, ho)
        prod = np.empty((q_count, last - first + k_count - 1, w))
        block_products(x, n, pairs, cap, first, prod)
        stats = np.empty((p_count + q_count, wo))
        tmp = np.empty(w)
        tn = np.empty(wo)
        td = np.empty(wo)
        lanes = np.empty(8)
        exps = np.empty(8, dtype=np.int64)
        for r in range(first, last):
            moment_row(x, n, prod, taps, r, r - first, stats, tmp)
            mu2 = stats[k]
            e22 = stats[p_count + 2 * k]
            for s in range(k):
                mu1 = stats[s]
                e11 = stats[p_count + s]
                e12 = stats[p_count + k + s]
                for c in range(wo):   # branch-free, so that it vectorises
                    s1 = max(e11[c] - mu1[c] * mu1[c], 0.0)
                    s12 = e12[c] - mu1[c] * mu2[c]
                    s2 = max(e22[c] - mu2[c] * mu2[c], 0.0)
                    g = s12 / (s1 + eps)
                    sv = max(s2 - g * s12, eps) + sigma_nsq
                    ok = s1 >= eps
                    g = g if (ok and s2 >= eps and g > 0) else 0.0
                    tn[c] = g * g * s1 / sv + 1
                    td[c] = (s1 if ok else 0.0) / sigma_nsq + 1
                num[n, b, s] += sum_log10(tn, lanes, exps)
                den[n, b, s] += sum_log10(td, lanes, exps)
    return num.sum(axis=1), den.sum(axis=1)


# Histograms (`_filters.histogram`) and grey-level rounding (`mi._levels`, `mi._uint8`)


@kernel(parallel=True)
def bincount_rows(levels, bins):   # pragma: no cover - compiled
    # Counts of each row's integer levels (truncated as torch's .long() does), and how many fell outside [0, bins).
    n_img, count = levels.shape
    out = np.zeros((n_img, bins))
    outside = np.zeros(n_img, dtype=np.int64)
    for n in prange(n_img):
        row = out[n]
        for j in range(count):
            v = int(levels[n, j])
            if 0 <= v < bins:
                row[v] += 1.0
            else:
                outside[n] += 1
    return out, outside


@kernel(parallel=True)
def round_clamp(x, half_away, lo, hi):   # pragma: no cover - compiled
    # Rounded to integers (half to even, or half away from zero, exactly: trunc, then the fraction's test) and
    # clamped to [lo, hi], in one pass.
    flat = x.ravel()
    out = np.empty_like(flat)
    for i in prange(flat.shape[0]):
        v = flat[i]
        if half_away:
            t = np.trunc(v)
            r = t + (np.sign(v) if abs(v - t) >= 0.5 else 0.0)
        else:
            r = np.rint(v)
        out[i] = min(max(r, lo), hi)
    return out.reshape(x.shape)


@kernel(parallel=True)
def joint_counts(a, b, bins, cap):   # pragma: no cover - compiled
    # Joint counts of two rows of integer levels (each first capped at `cap`): out[n, a * bins + b].
    n_img, count = a.shape
    out = np.zeros((n_img, bins * bins))
    outside = np.zeros(n_img, dtype=np.int64)
    for n in prange(n_img):
        row = out[n]
        for j in range(count):
            u = min(int(a[n, j]), cap)
            v = min(int(b[n, j]), cap)
            if 0 <= u < bins and 0 <= v < bins:
                row[u * bins + v] += 1.0
            else:
                outside[n] += 1
    return out, outside


@kernel(parallel=True)
def flat_windows(x, size):   # pragma: no cover - compiled
    # out[m, r, c]: whether the size x size window at (r, c) of plane m holds one value. Per output row, the
    # column maxima and minima over `size` rows (along the row, so it vectorises), then a running test across.
    m_count, h, w = x.shape
    oh, ow = h - size + 1, w - size + 1
    out = np.empty((m_count, oh, ow), dtype=np.bool_)
    for task in prange(m_count * oh):
        m = task // oh
        r = task - m * oh
        hi = x[m, r].copy()
        lo = x[m, r].copy()
        for k in range(1, size):
            row = x[m, r + k]
            for c in range(w):
                hi[c] = max(hi[c], row[c])
                lo[c] = min(lo[c], row[c])
        o = out[m, r]
        for c in range(ow):
            top = hi[c]
            bottom = lo[c]
            for k in range(1, size):
                top = max(top, hi[c + k])
                bottom = min(bottom, lo[c + k])
            o[c] = top == bottom
    return out


@kernel(parallel=True)
def uniform_filter_scipy(x, rows, cols, size):   # pragma: no cover - compiled
    # `ssim._uniform_filter_scipy` of float32 planes x (M, H, W): along the columns, then along the rows, a running
    # sum in float64 (the first `size` values added in order, then += in[i + size - 1] - in[i - 1]), each output
    # sum / size rounded to float32. rows (H + size - 1,) and cols (W + size - 1,) index the padded lines.
    m_count, h, w = x.shape
    mid = np.empty((m_count, h, w), dtype=np.float32)
    out = np.empty((m_count, h, w), dtype=np.float32)
    blocks = (w + 127) // 128
    for task in prange(m_count * blocks):   # columns in blocks of 128, each along the whole height
        m = task // blocks
        c0 = (task - m * blocks) * 128
        c1 = min(c0 + 128, w)
        acc = np.empty(c1 - c0)
        first = x[m, rows[0]]
        for c in range(c0, c1):
            acc[c - c0] = np.float64(first[c])
        for k in range(1, size):
            src = x[m, rows[k]]
            for c in range(c0, c1):
                acc[c - c0] += np.float64(src[c])
        for c in range(c0, c1):
            mid[m, 0, c] = np.float32(acc[c - c0] / size)
        for i in range(1, h):
            add, sub, dst = x[m, rows[i + size - 1]], x[m, rows[i - 1]], mid[m, i]
            for c in range(c0, c1):
                acc[c - c0] += np.float64(add[c]) - np.float64(sub[c])
                dst[c] = np.float32(acc[c - c0] / size)
    for task in prange(m_count * h):
        m = task // h
        r = task - m * h
        line, dst = mid[m, r], out[m, r]
        s = np.float64(line[cols[0]])
        for k in range(1, size):
            s += np.float64(line[cols[k]])
        dst[0] = np.float32(s / size)
        for i in range(1, w):
            s += np.float64(line[cols[i + size - 1]]) - np.float64(line[cols[i - 1]])
            dst[i] = np.float32(s / size)
    return out
