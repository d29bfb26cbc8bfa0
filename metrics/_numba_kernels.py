"""The numba kernels behind `_cpu_kernels` (imported only when numba is present and switched on).

They live at module level, not in a closure: numba's on-disk cache keys a closure by its cell contents, which for
kernels calling other compiled helpers differ in every process, so each new process recompiled VIF's and FMI's
kernels (8-10 s on the first call, and the compiler's memory in every measurement).
"""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, nogil=True)
def sep_valid(x, col_taps, row_taps, stride):   # pragma: no cover - compiled
    m_count, h, w = x.shape
    kh, kw = col_taps.shape[0], row_taps.shape[0]
    ho = (h - kh) // stride + 1
    wo = (w - kw) // stride + 1
    out = np.empty((m_count, ho, wo))
    for task in prange(m_count * ho):
        m = task // ho
        r = task - m * ho
        r0 = r * stride
        # Down the columns first, then along the row: the order of the torch form.
        tmp = np.empty(w)
        t0 = col_taps[0]
        for c in range(w):
            tmp[c] = t0 * x[m, r0, c]
        for k in range(1, kh):
            tk = col_taps[k]
            for c in range(w):
                tmp[c] += tk * x[m, r0 + k, c]
        row = out[m, r]
        t0 = row_taps[0]
        if stride == 1:
            for c in range(wo):
                row[c] = t0 * tmp[c]
            for k in range(1, kw):
                tk = row_taps[k]
                for c in range(wo):
                    row[c] += tk * tmp[c + k]
        else:
            for c in range(wo):
                acc = t0 * tmp[c * stride]
                for k in range(1, kw):
                    acc += row_taps[k] * tmp[c * stride + k]
                row[c] = acc
    return out


@njit(parallel=True, cache=True, nogil=True)
def moments(x, pairs, taps, cap):   # pragma: no cover - compiled
    n_img, p_count, h, w = x.shape
    q_count = pairs.shape[0]
    k_count = taps.shape[0]
    ho, wo = h - k_count + 1, w - k_count + 1
    out = np.empty((n_img, p_count + q_count, ho, wo))
    for task in prange(n_img * ho):
        n = task // ho
        r = task - n * ho
        tmp = np.zeros((p_count + q_count, w))
        for k in range(k_count):
            tk = taps[k]
            for p in range(p_count):
                src = x[n, p, r + k]
                acc = tmp[p]
                for c in range(w):
                    acc[c] += tk * src[c]
            for q in range(q_count):
                a = x[n, pairs[q, 0], r + k]
                b = x[n, pairs[q, 1], r + k]
                acc = tmp[p_count + q]
                for c in range(w):
                    acc[c] += tk * min(a[c] * b[c], cap)
        t0 = taps[0]
        for ch in range(p_count + q_count):
            row = out[n, ch, r]
            src = tmp[ch]
            for c in range(wo):
                row[c] = t0 * src[c]
            for k in range(1, k_count):
                tk = taps[k]
                for c in range(wo):
                    row[c] += tk * src[c + k]
    return out


@njit(cache=True, nogil=True, inline='always')
def log10_product(values, count):   # pragma: no cover - compiled
    # One logarithm for up to 8 factors >= 1; the plain sum of logarithms if their product overflows.
    p = 1.0
    for i in range(count):
        p *= values[i]
    if p < np.inf:
        return np.log10(p)
    total = 0.0
    for i in range(count):
        total += np.log10(values[i])
    return total


@njit(parallel=True, cache=True, nogil=True)
def vif_terms(stats, k, eps, sigma_nsq):   # pragma: no cover - compiled
    n_img, _, h, w = stats.shape
    num = np.zeros((n_img, k, h))
    den = np.zeros((n_img, k, h))
    for task in prange(n_img * h):
        n = task // h
        r = task - n * h
        tn = np.empty(w)
        td = np.empty(w)
        mu2 = stats[n, k, r]
        e22 = stats[n, 3 * k + 1, r]
        for s in range(k):
            mu1 = stats[n, s, r]
            e11 = stats[n, k + 1 + s, r]
            e12 = stats[n, 2 * k + 1 + s, r]
            for c in range(w):   # branch-free, so that it vectorises
                s1 = max(e11[c] - mu1[c] * mu1[c], 0.0)
                s12 = e12[c] - mu1[c] * mu2[c]
                s2 = max(e22[c] - mu2[c] * mu2[c], 0.0)
                g = s12 / (s1 + eps)
                sv = max(s2 - g * s12, eps) + sigma_nsq
                ok = s1 >= eps
                g = g if (ok and s2 >= eps and g > 0) else 0.0
                tn[c] = g * g * s1 / sv + 1
                td[c] = (s1 if ok else 0.0) / sigma_nsq + 1
            acc_n = 0.0
            acc_d = 0.0
            for c in range(0, w, 8):
                m = min(8, w - c)
                acc_n += log10_product(tn[c:c + m], m)
                acc_d += log10_product(td[c:c + m], m)
            num[n, s, r] = acc_n
            den[n, s, r] = acc_d
    return num.sum(axis=2), den.sum(axis=2)


@njit(cache=True, nogil=True, inline='always')
def xlog_abs(p):   # pragma: no cover - compiled
    return p * np.log(abs(p)) if p != 0.0 else 0.0


@njit(cache=True, nogil=True, inline='always')
def pdf(src, dst, csum):   # pragma: no cover - compiled
    # min-max normalised (constant -> ones), divided by its sum; and its running sums
    lo = src[0]
    hi = src[0]
    for i in range(1, 9):
        lo = min(lo, src[i])
        hi = max(hi, src[i])
    total = 0.0
    for i in range(9):
        dst[i] = 1.0 if hi == lo else (src[i] - lo) / (hi - lo)
        total += dst[i]
    running = 0.0
    for i in range(9):
        dst[i] = dst[i] / total
        running += dst[i]
        csum[i] = running


@njit(cache=True, nogil=True)
def fmi_window(a, f, scratch, cells_i, cells_j):   # pragma: no cover - compiled
    # Normalised feature MI of two raw 3 x 3 windows (9 values, column-major); see fmi_pixel._nfmi_normalised.
    # `scratch` (7, 17) and `cells_*` (17,) are work space, allocated once per row by the caller.
    same = True
    for i in range(9):
        if a[i] != f[i]:
            same = False
    if same:
        return 1.0
    ap, fp, ac, fc, log_ap, log_fp, cells_m = (scratch[0], scratch[1], scratch[2], scratch[3], scratch[4],
                                               scratch[5], scratch[6])
    pdf(a, ap, ac)
    pdf(f, fp, fc)
    mean_a = 0.0
    mean_f = 0.0
    for i in range(9):
        mean_a += ap[i]
        mean_f += fp[i]
    mean_a /= 9
    mean_f /= 9
    s = 0.0
    saa = 0.0
    sff = 0.0
    m1a = 0.0
    m2a = 0.0
    m1f = 0.0
    m2f = 0.0
    for i in range(9):
        ta = ap[i] - mean_a
        tf = fp[i] - mean_f
        s += ta * tf
        saa += ta * ta
        sff += tf * tf
        m1a += (i + 1) * ap[i]
        m2a += (i + 1) * (i + 1) * ap[i]
        m1f += (i + 1) * fp[i]
        m2f += (i + 1) * (i + 1) * fp[i]
    c = 0.0 if s == 0 else s / np.sqrt(saa * sff)
    a_sd = np.sqrt(max(m2a - m1a * m1a, 0.0))
    f_sd = np.sqrt(max(m2f - m1f * m1f, 0.0))
    upper = c >= 0
    sum_fc = 0.0
    sum_ac = 0.0
    for i in range(9):
        sum_fc += fc[i]
        sum_ac += ac[i]
    # The Frechet-bound coupling puts on cell (i over f, j over a) the overlap of f's interval
    # [fc_{i-1}, fc_i] with a's [ac_{j-1}, ac_j] (upper bound) or [1 - ac_j, 1 - ac_{j-1}] (lower bound).
    # Both families tile an interval in order, so the cells with positive overlap are those a merge of the two
    # visits: at most 17, found in as many steps instead of testing all 81.
    count = 0
    bound = 0.0
    i = 0
    step = 0
    while i < 9 and step < 9:
        j = step if upper else 8 - step
        a_prev = ac[j - 1] if j else 0.0
        lo = a_prev if upper else 1 - ac[j]
        hi = ac[j] if upper else 1 - a_prev
        f_prev = fc[i - 1] if i else 0.0
        m = min(fc[i], hi) - max(f_prev, lo)
        if m > 0:
            cells_i[count] = i
            cells_j[count] = j
            cells_m[count] = m
            count += 1
            bound += m * (9 - i) * (9 - j)
        if fc[i] < hi:
            i += 1
        elif hi < fc[i]:
            step += 1
        else:
            i += 1
            step += 1
    cov = bound - sum_fc * sum_ac
    mix = 0.0 if (c == 0 or a_sd == 0 or f_sd == 0) else c * f_sd * a_sd / cov
    # Entropies in nats. The product part of the joint, q_ij = (1 - mix) fp_i ap_j, has
    # sum q log|q| = (1 - mix) [S_f S_a log|1 - mix| + S_a sum fp log fp + S_f sum ap log ap]; the cells with
    # Frechet mass are then corrected to their true p log|p|: 36 logarithms a window at most, instead of 81.
    h_a = 0.0
    h_f = 0.0
    sum_a = 0.0
    sum_f = 0.0
    for k in range(9):
        log_ap[k] = np.log(ap[k]) if ap[k] > 0 else 0.0
        log_fp[k] = np.log(fp[k]) if fp[k] > 0 else 0.0
        h_a -= ap[k] * log_ap[k]
        h_f -= fp[k] * log_fp[k]
        sum_a += ap[k]
        sum_f += fp[k]
    rest = 1 - mix
    log_rest = np.log(abs(rest)) if rest != 0 else 0.0
    plogp = rest * (sum_f * sum_a * log_rest - sum_a * h_f - sum_f * h_a)
    for k in range(count):
        q = rest * fp[cells_i[k]] * ap[cells_j[k]]
        plogp += xlog_abs(mix * cells_m[k] + q) - q * (log_rest + log_fp[cells_i[k]] + log_ap[cells_j[k]])
    mi = h_a + h_f + plogp
    return 0.0 if mi == 0 else 2 * mi / (h_a + h_f)


@njit(parallel=True, cache=True, nogil=True)
def fmi_maps(f, a, b):   # pragma: no cover - compiled
    n_img, h, w = f.shape
    ho, wo = h - 2, w - 2
    rows = np.zeros((n_img, ho))
    for task in prange(n_img * ho):
        n = task // ho
        r = task - n * ho
        wa = np.empty(9)
        wb = np.empty(9)
        wf = np.empty(9)
        scratch = np.empty((7, 17))
        cells_i = np.empty(17, dtype=np.int64)
        cells_j = np.empty(17, dtype=np.int64)
        acc = 0.0
        for c in range(wo):
            for kw in range(3):
                for kh in range(3):
                    wa[kw * 3 + kh] = a[n, r + kh, c + kw]
                    wb[kw * 3 + kh] = b[n, r + kh, c + kw]
                    wf[kw * 3 + kh] = f[n, r + kh, c + kw]
            acc += (fmi_window(wa, wf, scratch, cells_i, cells_j)
                    + fmi_window(wb, wf, scratch, cells_i, cells_j)) / 2
        rows[n, r] = acc
    return rows.sum(axis=1) / (ho * wo)


# Phase congruency (`_pc_kernels`)


@njit(parallel=True, cache=True, nogil=True)
def pc_filtered(spectrum, spread, log_gabor, out):   # pragma: no cover - compiled
    m_count, h, w = spectrum.shape
    s_count = log_gabor.shape[0]
    for task in prange(m_count * s_count * h):
        m = task // (s_count * h)
        s = (task // h) % s_count
        r = task % h
        for c in range(w):
            out[m, s, r, c] = spectrum[m, r, c] * (spread[r, c] * log_gabor[s, r, c])


@njit(parallel=True, cache=True, nogil=True)
def pc_scale_sums(eo, eps):   # pragma: no cover - compiled
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
def pc_accumulate(sum_an, max_an, energy, threshold, consts, acc):   # pragma: no cover - compiled
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
