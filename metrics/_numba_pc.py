"""Phase congruency's numba kernels (behind `_pc_kernels`): the filtered spectra, the sums over the scales and the
per-orientation accumulation, in loops along the row that LLVM vectorises (the sigmoid by `_numba_math`'s exp)."""
import numpy as np
from numba import prange

from metrics._numba_kernels import kernel
from metrics._numba_math import sigmoid_row


@kernel(parallel=True)
def pc_filtered(spectrum, spread, log_gabor, out):   # pragma: no cover - compiled
    m_count, h, w = spectrum.shape
    s_count = log_gabor.shape[0]
    for task in prange(m_count * s_count * h):
        m = task // (s_count * h)
        s = (task // h) % s_count
        r = task % h
        for c in range(w):
            out[m, s, r, c] = spectrum[m, r, c] * (spread[r, c] * log_gabor[s, r, c])


@kernel(parallel=True)
def pc_scale_sums(eo, eps):   # pragma: no cover - compiled
    # eo: (M, S, H, 2W) float64, the complex responses' (real, imaginary) pairs. Loops run along the row (LLVM
    # vectorises them) and over the scales outside, adding scale by scale as the MATLAB loop does.
    m_count, s_count, h, w2 = eo.shape
    w = w2 // 2
    sum_an = np.empty((m_count, h, w))
    max_an = np.empty((m_count, h, w))
    energy = np.empty((m_count, h, w))
    amp0_sq = np.empty((m_count, h, w))
    for task in prange(m_count * h):
        m = task // h
        r = task - m * h
        sa, mx, en, a0 = sum_an[m, r], max_an[m, r], energy[m, r], amp0_sq[m, r]
        se = np.empty(w)
        so = np.empty(w)
        z = eo[m, 0, r]
        for c in range(w):
            re, im = z[2 * c], z[2 * c + 1]
            amp = np.sqrt(re * re + im * im)
            sa[c] = amp
            mx[c] = amp
            se[c] = re
            so[c] = im
            a0[c] = amp * amp
        for s in range(1, s_count):
            z = eo[m, s, r]
            for c in range(w):
                re, im = z[2 * c], z[2 * c + 1]
                amp = np.sqrt(re * re + im * im)
                sa[c] += amp
                mx[c] = max(mx[c], amp)
                se[c] += re
                so[c] += im
        for c in range(w):   # se, so become the unit vector of the summed response
            x_energy = np.sqrt(se[c] * se[c] + so[c] * so[c]) + eps
            se[c] = se[c] / x_energy
            so[c] = so[c] / x_energy
        for s in range(s_count):
            z = eo[m, s, r]
            for c in range(w):
                re, im = z[2 * c], z[2 * c + 1]
                term = (re * se[c] + im * so[c]) - abs(re * so[c] - im * se[c])
                en[c] = term if s == 0 else en[c] + term
    return sum_an, max_an, energy, amp0_sq


@kernel(parallel=True)
def pc_accumulate(sum_an, max_an, energy, threshold, consts, acc):   # pragma: no cover - compiled
    # The sigmoid 1 / (1 + exp((cut_off - width) gain)) by the vectorising exp of `_numba_qabf.sigmoid_row`.
    eps, n_scale, cut_off, gain, cos_a, sin_a = consts
    m_count, h, w = sum_an.shape
    for task in prange(m_count * h):
        m = task // h
        r = task - m * h
        t = threshold[m]
        san, man, en = sum_an[m, r], max_an[m, r], energy[m, r]
        a0, a1, a2, a3, a4 = acc[0, m, r], acc[1, m, r], acc[2, m, r], acc[3, m, r], acc[4, m, r]
        y = np.empty(w)
        sig = np.empty(w)
        kbits = np.empty(w, dtype=np.int64)
        scale = np.empty(w)
        for c in range(w):
            width = san[c] / (man[c] + eps) / n_scale
            y[c] = -((cut_off - width) * gain)
        sigmoid_row(y, sig, kbits, scale)
        for c in range(w):
            weighted = sig[c] * max(en[c] - t, 0.0)
            a0[c] += weighted
            a1[c] += san[c]
            pc = weighted / san[c]
            cx, cy = pc * cos_a, pc * sin_a
            a2[c] += cx * cx
            a3[c] += cy * cy
            a4[c] += cx * cy


@kernel()
def _radix_key(b):   # pragma: no cover - compiled
    # The top 16 bits of an order-preserving integer key of a float64's bits (-0 before +0), as a bucket 0..65535.
    key = b if b >= 0 else b ^ 0x7FFFFFFFFFFFFFFF
    return (key >> 48) + 32768


@kernel(parallel=True)
def middle_values(x, k1, k2, threads):   # pragma: no cover - compiled
    # The k1-th and k2-th smallest values (0-based) of each row of x (M, n), by one radix step: histograms of
    # the top 16 bits of order-preserving integer keys find the buckets that hold them, and only those buckets'
    # values are searched (up to tens of thousands of 307k for a 640 x 480 plane). Each row is cut into chunks, one per
    # thread, for both passes (Qp asks for one row at a time). ok[m] is False when a row has a NaN.
    m_count, n = x.shape
    chunks = max(1, min(threads, n // 4096))
    size = (n + chunks - 1) // chunks
    counts = np.zeros((m_count, chunks, 65536), dtype=np.int32)
    nans = np.zeros((m_count, chunks), dtype=np.int64)
    for task in prange(m_count * chunks):
        m = task // chunks
        t = task - m * chunks
        bits = x[m].view(np.int64)
        own = counts[m, t]
        nan = 0
        for i in range(t * size, min(n, (t + 1) * size)):
            own[_radix_key(bits[i])] += 1
            nan += np.int64(x[m, i] != x[m, i])
        nans[m, t] = nan
    out = np.empty((m_count, 2))
    ok = np.ones(m_count, dtype=np.bool_)
    picks = np.empty((m_count, 3), dtype=np.int64)   # buckets d1, d2 and the count below d1
    offsets = np.zeros((m_count, chunks + 1), dtype=np.int64)
    for m in range(m_count):
        ok[m] = nans[m].sum() == 0
        d1 = -1
        d2 = -1
        below = 0
        seen = 0
        for d in range(65536):
            count = 0
            for t in range(chunks):
                count += counts[m, t, d]
            if d1 < 0 and seen + count > k1:
                d1 = d
                below = seen
            if seen + count > k2:
                d2 = d
                break
            seen += count
        picks[m, 0], picks[m, 1], picks[m, 2] = d1, d2, below
        for t in range(chunks):
            offsets[m, t + 1] = offsets[m, t] + counts[m, t, d1] + (counts[m, t, d2] if d2 != d1 else 0)
    buf = np.empty((m_count, offsets[:, chunks].max()))
    for task in prange(m_count * chunks):
        m = task // chunks
        t = task - m * chunks
        if not ok[m]:
            continue
        bits = x[m].view(np.int64)
        d1, d2 = picks[m, 0], picks[m, 1]
        j = offsets[m, t]
        for i in range(t * size, min(n, (t + 1) * size)):
            d = _radix_key(bits[i])
            if d == d1 or d == d2:
                buf[m, j] = x[m, i]
                j += 1
    for m in range(m_count):
        if ok[m]:
            # Smooth images put tens of thousands of values in a bucket: select, do not sort.
            i1 = k1 - picks[m, 2]
            values = np.partition(buf[m, :offsets[m, chunks]], i1)
            out[m, 0] = values[i1]
            out[m, 1] = values[i1] if k2 == k1 else values[i1 + 1:].min()
    return out, ok


@kernel(parallel=True)
def zhao_row_sums(stats, masks, c_zhao):   # pragma: no cover - compiled
    # Per row, the sum of max_i(mask_i ? (cov_i + C) / (sqrt|var_i var_F| + C) : 0) over the pixels, i = the three
    # masked maps; stats (N, H, 11, W) (`local_moments`' memory order) holds the means of the 4 maps, their raw
    # second moments, then the 3 raw cross moments with map 3 (fused), as `qp._feature_correlation` lays them out.
    n_count, h, _, w = stats.shape
    out = np.empty((n_count, h))
    for task in prange(n_count * h):
        n = task // h
        r = task - n * h
        mf, sf = stats[n, r, 3], stats[n, r, 7]
        total = 0.0
        for c in range(w):
            var_f = sf[c] - mf[c] * mf[c]
            best = -np.inf
            for i in range(3):
                mu = stats[n, r, i, c]
                var = stats[n, r, 4 + i, c] - mu * mu
                cov = stats[n, r, 8 + i, c] - mu * mf[c]
                res = (cov + c_zhao) / (np.sqrt(abs(var * var_f)) + c_zhao)
                best = max(best, res if masks[n, i, r, c] else 0.0)
            total += best
        out[n, r] = total
    return out
