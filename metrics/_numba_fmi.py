"""FMI's numba kernel (behind `_cpu_kernels.fmi_of_features`), one image row of 3 x 3 windows at a time.

A window's score needs up to 36 logarithms; numba calls the C library's `log` one value at a time, and the window
code (min-max normalisation, the Frechet-bound merge) is too short and branchy to vectorise. So each row is split
into phases: the three maps' PDFs, running sums and logarithms for every window of the row at once (loops along the
row, which LLVM vectorises, with `_numba_math.log_abs`); then, per source, the sum that gives the mixing weight of
the Frechet bound, and the merge that finds the at most 17 cells with Frechet mass, window by window (the one
sequential step), storing each cell's joint probability; then all those logarithms at once; then the sums. The
fused map's PDFs and logarithms serve both sources. Blocks where few windows differ (edge maps) go window by
window instead (`fmi_window`, which is also the reference form of the arithmetic).
"""
import numpy as np
from numba import prange

from metrics._numba_kernels import kernel
from metrics._numba_math import log_abs

BLOCK = 128             # windows per block: a block's work arrays (about 220 kB) stay in the core's L2 cache
# Window by window below this many differing (source, fused) window pairs per window position: maps where most
# windows agree (measured on the edge maps of a 640 x 480 triple, before they had `fmi_binary_maps`: 62 -> 23 ms;
# others unchanged).
SCALAR_BELOW = 1.0


@kernel()
def window_pdfs(x, r, c0, p, cum, lg, t, st, exps):   # pragma: no cover - compiled
    # For the windows at (r, c0..c0+wo-1) of the map x (H, W): each window's 9 values (column-major, k = kw * 3 + kh)
    # min-max normalised (constant -> ones) and divided by their sum, in p (9, wo); running sums cum (10, wo),
    # starting with 0; logs lg, deviations from the mean t; st rows: 0 lo, 1 hi, 2 total, 3 sum p, 4 sum cum,
    # 5 entropy (nats), 6 sum t^2, 7 SD of the position. The same operations in the same order as `fmi_window`.
    wo = p.shape[1]
    lo, hi, total, sum_p, sum_cum, h, stt, sd = st[0], st[1], st[2], st[3], st[4], st[5], st[6], st[7]
    row0 = x[r]
    for c in range(wo):
        lo[c] = row0[c0 + c]
        hi[c] = row0[c0 + c]
        total[c] = 0.0
        sum_p[c] = 0.0
        sum_cum[c] = 0.0
        h[c] = 0.0
        stt[c] = 0.0
    for k in range(1, 9):
        xr = x[r + k % 3]
        off = c0 + k // 3
        for c in range(wo):
            lo[c] = min(lo[c], xr[c + off])
            hi[c] = max(hi[c], xr[c + off])
    for k in range(9):
        xr = x[r + k % 3]
        off = c0 + k // 3
        pk = p[k]
        for c in range(wo):
            v = 1.0 if hi[c] == lo[c] else (xr[c + off] - lo[c]) / (hi[c] - lo[c])
            pk[c] = v
            total[c] += v
    m1 = lo    # lo, hi are free now: the first two moments of the position
    m2 = hi
    start = cum[0]
    for c in range(wo):
        m1[c] = 0.0
        m2[c] = 0.0
        start[c] = 0.0
    for k in range(9):
        pk, ck = p[k], cum[k + 1]
        pos = k + 1.0
        for c in range(wo):
            q = pk[c] / total[c]
            pk[c] = q
            sum_p[c] += q
            ck[c] = sum_p[c]
            sum_cum[c] += ck[c]
            m1[c] += pos * q
            m2[c] += pos * pos * q
    log_abs(p.ravel(), lg.ravel(), exps)
    for k in range(9):
        pk, lk, tk = p[k], lg[k], t[k]
        for c in range(wo):
            tk[c] = pk[c] - sum_p[c] / 9
            stt[c] += tk[c] * tk[c]
            h[c] -= pk[c] * lk[c]
    for c in range(wo):
        sd[c] = np.sqrt(max(m2[c] - m1[c] * m1[c], 0.0))


@kernel()
def column_dots(x, y, rows, out):   # pragma: no cover - compiled
    # out[c] = sum_{k < rows} x[k, c] y[k, c], adding k in order
    for c in range(out.shape[0]):
        out[c] = 0.0
    for k in range(rows):
        xk, yk = x[k], y[k]
        for c in range(out.shape[0]):
            out[c] += xk[c] * yk[c]


@kernel()
def frechet_sums(cf, cx, corr, bound):   # pragma: no cover - compiled
    # sum over cells of the Frechet-bound mass times (9 - i)(9 - j), which is sum_ab of the bound's joint CDF:
    # min(cf_a, cx_b) (upper bound, corr >= 0) or max(cf_a + cx_b - 1, 0) (lower), a, b = 1..9.
    wo = bound.shape[0]
    for c in range(wo):
        bound[c] = 0.0
    for a in range(1, 10):
        fa = cf[a]
        for b in range(1, 10):
            xb = cx[b]
            for c in range(wo):
                up = min(fa[c], xb[c])
                down = max(fa[c] + xb[c] - 1, 0.0)
                bound[c] += up if corr[c] >= 0 else down


@kernel(inline='always')
def merge_step(f_at, x_at, at, qs, ql, mix, rest, wo, flat_cf, flat_pf, flat_lf, flat_work, flat_args):
    # pragma: no cover - compiled
    # One step of `pair_scores`' merge for one window, without branches: f_at and x_at are the flat offsets of
    # cf[i, c] and of the step's row of work, at that of args[count, c]; the joint probability of the cell goes
    # there, and moves on only if the cell has mass.
    lo, hi = flat_work[x_at], flat_work[x_at + 9 * wo]
    f_lo, f_hi = flat_cf[f_at], flat_cf[f_at + wo]
    m = min(f_hi, hi) - max(f_lo, lo)
    q = rest * (flat_work[x_at + 18 * wo] * flat_pf[f_at])
    positive = m > 0
    flat_args[at] = mix * m + q
    qs += q if positive else 0.0
    ql += q * (flat_work[x_at + 27 * wo] + flat_lf[f_at]) if positive else 0.0
    at += wo if positive else 0
    f_at += wo if f_hi <= hi else 0
    x_at += wo if hi <= f_hi else 0
    return f_at, x_at, at, qs, ql


@kernel()
def pair_scores(differs, px, cx, lx, tx, sx, pf, cf, lf, tf, sf, args, largs, work, exps, score):
    # pragma: no cover - compiled
    # FMI of a source's windows against the fused ones, from both maps' `window_pdfs` and `window_differs`;
    # score (wo,).
    # args (18, wo): the joint probabilities of the Frechet cells (zero-padded) and, in row 17, 1 - mix. work
    # rows: 0 free, 1 s, 2 corr, 3 q sum, 4 sum of q (log p_f + log p_x), 5 plogp, 6 mix, 7 bound, then per
    # merge step (9 rows each) the source's interval ends lo (8), hi (17), its p (26) and log p (35).
    wo = score.shape[0]
    s, corr, q_sum, q_logs, plogp, mixes, bound = work[1], work[2], work[3], work[4], work[5], work[6], work[7]
    column_dots(tx, tf, 9, s)
    for c in range(wo):
        corr[c] = 0.0 if s[c] == 0 else s[c] / np.sqrt(sx[6, c] * sf[6, c])
    frechet_sums(cf, cx, corr, bound)
    for c in range(wo):
        cov = bound[c] - sf[4, c] * sx[4, c]
        degenerate = corr[c] == 0 or sx[7, c] == 0 or sf[7, c] == 0
        mixes[c] = 0.0 if degenerate else corr[c] * sf[7, c] * sx[7, c] / cov
        args[17, c] = 1 - mixes[c]
    # The Frechet-bound coupling puts on cell (i over f, j over x) the overlap of f's interval [cf_i, cf_i+1]
    # (cf is the running sum with a leading 0) with x's [cx_j, cx_j+1] (upper bound, c >= 0) or
    # [1 - cx_j+1, 1 - cx_j] (lower bound), visited for j = 8 down to 0 so that they too tile [0, 1] in order.
    for step in range(9):
        lo_row, hi_row, p_row, log_row = work[8 + step], work[17 + step], work[26 + step], work[35 + step]
        up_lo, up_hi, dn_lo, dn_hi = cx[step], cx[step + 1], cx[9 - step], cx[8 - step]
        up_p, dn_p, up_log, dn_log = px[step], px[8 - step], lx[step], lx[8 - step]
        for c in range(wo):
            upper = corr[c] >= 0
            lo_row[c] = up_lo[c] if upper else 1 - dn_lo[c]
            hi_row[c] = up_hi[c] if upper else 1 - dn_hi[c]
            p_row[c] = up_p[c] if upper else dn_p[c]
            log_row[c] = up_log[c] if upper else dn_log[c]
    for k in range(17):
        args[k] = 0.0
    flat_cf, flat_pf, flat_lf, flat_work, flat_args = cf.ravel(), pf.ravel(), lf.ravel(), work.ravel(), args.ravel()
    todo = np.empty(wo, dtype=np.int64)
    n_todo = 0
    for c in range(wo):
        q_sum[c] = 0.0
        q_logs[c] = 0.0
        if differs[c] != 0.0:
            todo[n_todo] = c
            n_todo += 1
    # Both families tile [0, 1] in order, so the cells with positive overlap are those a merge of the two visits:
    # at most 17. Each step depends on the one before (a load, a comparison, the next offset), so two windows
    # are merged side by side, which lets the processor overlap their chains.
    i_end, x_end = 9 * wo, 17 * wo
    for t in range(0, n_todo, 2):
        c1 = todo[t]
        c2 = todo[t + 1] if t + 1 < n_todo else c1
        mix1, rest1, mix2, rest2 = mixes[c1], args[17, c1], mixes[c2], args[17, c2]
        f1, x1, at1, f2, x2, at2 = c1, 8 * wo + c1, c1, c2, 8 * wo + c2, c2
        if t + 1 >= n_todo:
            f2 = i_end    # no partner
        qs1 = ql1 = qs2 = ql2 = 0.0
        while True:
            go1 = f1 < i_end and x1 < x_end
            go2 = f2 < i_end and x2 < x_end
            if go1:
                f1, x1, at1, qs1, ql1 = merge_step(f1, x1, at1, qs1, ql1, mix1, rest1, wo, flat_cf, flat_pf,
                                                   flat_lf, flat_work, flat_args)
            if go2:
                f2, x2, at2, qs2, ql2 = merge_step(f2, x2, at2, qs2, ql2, mix2, rest2, wo, flat_cf, flat_pf,
                                                   flat_lf, flat_work, flat_args)
            if not (go1 or go2):
                break
        if at1 < 17 * wo:
            flat_args[at1] = 0.0   # the slot after the last cell held a step without mass
        q_sum[c1] = qs1
        q_logs[c1] = ql1
        if t + 1 < n_todo:
            if at2 < 17 * wo:
                flat_args[at2] = 0.0
            q_sum[c2] = qs2
            q_logs[c2] = ql2
    log_abs(args.ravel(), largs.ravel(), exps)
    column_dots(args, largs, 17, plogp)
    # The product part of the joint, q_ij = rest pf_i px_j, has sum q log|q| in closed form; the cells with
    # Frechet mass are corrected to their true p log|p| (plogp) less their q log q terms.
    for c in range(wo):
        rest, log_rest = args[17, c], largs[17, c]
        h_x, h_f, sum_x, sum_f = sx[5, c], sf[5, c], sx[3, c], sf[3, c]
        total = (rest * (sum_f * sum_x * log_rest - sum_x * h_f - sum_f * h_x)
                 + (plogp[c] - q_sum[c] * log_rest - q_logs[c]))
        mi = h_x + h_f + total
        value = 0.0 if mi == 0 else 2 * mi / (h_x + h_f)
        score[c] = value if differs[c] != 0.0 else 1.0


# The window-by-window form


@kernel(inline='always')
def xlog_abs(p):   # pragma: no cover - compiled
    return p * np.log(abs(p)) if p != 0.0 else 0.0


@kernel(inline='always')
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


@kernel()
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


@kernel()
def window_differs(x, f, r, c0, out):   # pragma: no cover - compiled
    # out[c] = 1.0 where the 3 x 3 windows of x and f at (r, c0 + c) differ, else 0.0; returns how many differ
    wo = out.shape[0]
    for c in range(wo):
        out[c] = 0.0
    for k in range(9):
        xr, fr = x[r + k % 3], f[r + k % 3]
        off = c0 + k // 3
        for c in range(wo):
            out[c] = 1.0 if xr[c + off] != fr[c + off] else out[c]
    count = 0.0
    for c in range(wo):
        count += out[c]
    return count


@kernel()
def scalar_scores(x, f, r, c0, differs, score, scratch, cells_i, cells_j):   # pragma: no cover - compiled
    # The window-by-window form, for blocks where few windows differ (the rest score 1 without arithmetic)
    wx = np.empty(9)
    wf = np.empty(9)
    for c in range(score.shape[0]):
        if differs[c] == 0.0:
            score[c] = 1.0
            continue
        for kw in range(3):
            for kh in range(3):
                wx[kw * 3 + kh] = x[r + kh, c0 + c + kw]
                wf[kw * 3 + kh] = f[r + kh, c0 + c + kw]
        score[c] = fmi_window(wx, wf, scratch, cells_i, cells_j)


@kernel()
def vector_scores(f, a, b, r, c0, nb, pdfs, cums, stats, args, largs, work, exps, differs, scores):
    # pragma: no cover - compiled
    # Both sources' window scores for the block of nb windows at (r, c0), through the phases of the module doc.
    pf, lf, tf = pdfs[0, 0, :9 * nb].reshape((9, nb)), pdfs[0, 1, :9 * nb].reshape((9, nb)), \
        pdfs[0, 2, :9 * nb].reshape((9, nb))
    pa, la, ta = pdfs[1, 0, :9 * nb].reshape((9, nb)), pdfs[1, 1, :9 * nb].reshape((9, nb)), \
        pdfs[1, 2, :9 * nb].reshape((9, nb))
    pb, lb, tb = pdfs[2, 0, :9 * nb].reshape((9, nb)), pdfs[2, 1, :9 * nb].reshape((9, nb)), \
        pdfs[2, 2, :9 * nb].reshape((9, nb))
    cf, ca, cb = (cums[0, :10 * nb].reshape((10, nb)), cums[1, :10 * nb].reshape((10, nb)),
                  cums[2, :10 * nb].reshape((10, nb)))
    sf, sa, sb = stats[0, :8 * nb].reshape((8, nb)), stats[1, :8 * nb].reshape((8, nb)), \
        stats[2, :8 * nb].reshape((8, nb))
    block_args, block_largs = args[:18 * nb].reshape((18, nb)), largs[:18 * nb].reshape((18, nb))
    block_work, block_exps = work[:44 * nb].reshape((44, nb)), exps[:18 * nb]
    window_pdfs(f, r, c0, pf, cf, lf, tf, sf, block_exps)
    window_pdfs(a, r, c0, pa, ca, la, ta, sa, block_exps)
    window_pdfs(b, r, c0, pb, cb, lb, tb, sb, block_exps)
    pair_scores(differs[0, :nb], pa, ca, la, ta, sa, pf, cf, lf, tf, sf, block_args, block_largs, block_work,
                block_exps, scores[0, :nb])
    pair_scores(differs[1, :nb], pb, cb, lb, tb, sb, pf, cf, lf, tf, sf, block_args, block_largs, block_work,
                block_exps, scores[1, :nb])


@kernel(parallel=True)
def fmi_maps(f, a, b, scalar_below):   # pragma: no cover - compiled
    # Mean over windows of (FMI(a, f) + FMI(b, f)) / 2 for each image of the (N, H, W) maps, a row of windows
    # at a time in blocks of BLOCK (the work arrays of a block stay in the core's cache). A block where fewer than
    # scalar_below * BLOCK of its 2 * BLOCK window pairs differ goes window by window (see `scalar_scores`).
    n_img, h, w = f.shape
    ho, wo = h - 2, w - 2
    rows = np.zeros((n_img, ho))
    for task in prange(n_img * ho):
        n = task // ho
        r = task - n * ho
        pdfs = np.empty((3, 3, 9 * BLOCK))      # per map: p, lg, t
        cums = np.empty((3, 10 * BLOCK))
        stats = np.empty((3, 8 * BLOCK))
        args = np.empty(18 * BLOCK)
        largs = np.empty(18 * BLOCK)
        work = np.empty(44 * BLOCK)
        exps = np.empty(18 * BLOCK)
        differs = np.empty((2, BLOCK))
        scores = np.empty((2, BLOCK))
        scratch = np.empty((7, 17))
        cells_i = np.empty(17, dtype=np.int64)
        cells_j = np.empty(17, dtype=np.int64)
        acc = 0.0
        for c0 in range(0, wo, BLOCK):
            nb = min(BLOCK, wo - c0)
            d_a, d_b = differs[0, :nb], differs[1, :nb]
            s_a, s_b = scores[0, :nb], scores[1, :nb]
            count = window_differs(a[n], f[n], r, c0, d_a) + window_differs(b[n], f[n], r, c0, d_b)
            if count < scalar_below * nb:
                scalar_scores(a[n], f[n], r, c0, d_a, s_a, scratch, cells_i, cells_j)
                scalar_scores(b[n], f[n], r, c0, d_b, s_b, scratch, cells_i, cells_j)
            else:
                vector_scores(f[n], a[n], b[n], r, c0, nb, pdfs, cums, stats, args, largs, work, exps, differs,
                              scores)
            for c in range(nb):
                acc += (s_a[c] + s_b[c]) / 2
        rows[n, r] = acc
    return rows.sum(axis=1) / (ho * wo)


# MATLAB `edge` (the feature of fmi_edge; see `fmi_edge.matlab_edge` for the rules)


@kernel(parallel=True)
def sobel_energy(x, bx, by, b, row_sums):   # pragma: no cover - compiled
    # bx, by: correlation of the replicate-padded (N, H, W) maps with Sobel / 8 (transposed, plain); b = bx^2 + by^2
    n_img, h, w = x.shape
    for task in prange(n_img * h):
        n = task // h
        r = task - n * h
        top, mid, bottom = x[n, max(r - 1, 0)], x[n, r], x[n, min(r + 1, h - 1)]
        total = 0.0
        for c in range(w):
            left, right = max(c - 1, 0), min(c + 1, w - 1)
            # the taps of fspecial('sobel') / 8 in conv2's order over the 3 x 3 window (rows, then columns)
            gx = ((((top[left] * 0.125 + top[right] * -0.125) + mid[left] * 0.25) + mid[right] * -0.25)
                  + bottom[left] * 0.125) + bottom[right] * -0.125
            gy = ((((top[left] * 0.125 + top[c] * 0.25) + top[right] * 0.125) + bottom[left] * -0.125)
                  + bottom[c] * -0.25) + bottom[right] * -0.125
            bx[n, r, c] = gx
            by[n, r, c] = gy
            energy = gx * gx + gy * gy
            b[n, r, c] = energy
            total += energy
        row_sums[n, r] = total


@kernel(parallel=True)
def thin_edges(bx, by, b, cutoff, tol, out):   # pragma: no cover - compiled
    # out = 1 where b > cutoff and b is a maximum across the gradient direction (a neighbour outside the image
    # counts as passed), else 0
    n_img, h, w = b.shape
    for task in prange(n_img * h):
        n = task // h
        r = task - n * h
        row, cut = b[n, r], cutoff[n]
        up = b[n, r - 1] if r > 0 else row
        down = b[n, r + 1] if r < h - 1 else row
        for c in range(w):
            v = row[c]
            ax, ay = abs(bx[n, r, c]), abs(by[n, r, c])
            left = c == 0 or row[c - 1] <= v
            right = c == w - 1 or v > row[c + 1]
            above = r == 0 or up[c] <= v
            below = r == h - 1 or v > down[c]
            keep = v > cut and ((ax >= ay - tol and left and right) or (ay >= ax - tol and above and below))
            out[n, r, c] = 1.0 if keep else 0.0


# Binary maps (edge maps): a window's score depends only on the 9-pixel patterns of the two windows


@kernel(inline='always')
def column_bits(x, r, c):   # pragma: no cover - compiled
    # bits kh = 0..2 of a 0/1 map's column c in rows r..r+2 (the column-major window order k = kw * 3 + kh)
    return np.int64(x[r, c]) | (np.int64(x[r + 1, c]) << 1) | (np.int64(x[r + 2, c]) << 2)


@kernel(inline='always')
def pattern_score(px, pf, table, wx, wf, scratch, cells_i, cells_j):   # pragma: no cover - compiled
    # `fmi_window` of two 0/1 windows given as 9-bit patterns, memoised in table (512, 512), NaN = not yet known.
    # Threads that meet an unknown pair at once compute the same value, so the writes do not race harmfully.
    if px == pf:
        return 1.0
    value = table[px, pf]
    if value != value:
        for k in range(9):
            wx[k] = float((px >> k) & 1)
            wf[k] = float((pf >> k) & 1)
        value = fmi_window(wx, wf, scratch, cells_i, cells_j)
        table[px, pf] = value
    return value


@kernel(parallel=True)
def fmi_binary_maps(f, a, b, table):   # pragma: no cover - compiled
    # `fmi_maps` for maps whose values are all 0 or 1, window by window through the pattern table: the same
    # window scores (the same `fmi_window` arithmetic), added in the same order.
    n_img, h, w = f.shape
    ho, wo = h - 2, w - 2
    rows = np.zeros((n_img, ho))
    for task in prange(n_img * ho):
        n = task // ho
        r = task - n * ho
        wx = np.empty(9)
        wf = np.empty(9)
        scratch = np.empty((7, 17))
        cells_i = np.empty(17, dtype=np.int64)
        cells_j = np.empty(17, dtype=np.int64)
        fn, an, bn = f[n], a[n], b[n]
        pf = column_bits(fn, r, 0) | (column_bits(fn, r, 1) << 3)
        pa = column_bits(an, r, 0) | (column_bits(an, r, 1) << 3)
        pb = column_bits(bn, r, 0) | (column_bits(bn, r, 1) << 3)
        acc = 0.0
        for c in range(wo):
            pf |= column_bits(fn, r, c + 2) << 6    # the window at c: columns c, c + 1, c + 2
            pa |= column_bits(an, r, c + 2) << 6
            pb |= column_bits(bn, r, c + 2) << 6
            acc += (pattern_score(pa, pf, table, wx, wf, scratch, cells_i, cells_j)
                    + pattern_score(pb, pf, table, wx, wf, scratch, cells_i, cells_j)) / 2
            pf >>= 3
            pa >>= 3
            pb >>= 3
        rows[n, r] = acc
    return rows.sum(axis=1) / (ho * wo)
