"""Elementary functions for the numba kernels, written so that LLVM vectorises the loops that call them.

numba calls the C library's `exp`, `atan` and `log` one value at a time (Qabf needs three arctangents and four
exponentials a pixel, FMI up to 36 logarithms a window, phase congruency a sigmoid per pixel and orientation);
these branch-free forms run 4 to a vector instruction under AVX2:

* exp (`exp_row`, and `sigmoid_row` through it): Cody-Waite reduction to |r| <= ln(2)/2 and the Taylor series to
  degree 14 (truncation 3e-18 relative), 2^k from the bits; within 2 ulp of the C library (4 in the sigmoid).
* atan (`atan_of_ratio`): Cephes' reduction to |x| <= 0.66 and its rational approximation (the Cephes `atan.c`
  coefficients); within 1 ulp.
* log (`log_abs`): fdlibm's `__ieee754_log` (reduction to m in [sqrt(2)/2, sqrt(2)), log(1 + f) from
  s = f / (2 + f) and a degree-14 polynomial in s), exponent and mantissa from the bits; within 1 ulp. Zero gives
  0 (the 0 log 0 = 0 of entropies); subnormal, infinite and NaN inputs take the C library's log.

tests/metrics/test_qabf.py and test_fmi_pixel.py hold them to numpy over their whole range.
"""
import math

import numpy as np

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
def exp_row(x, out, kbits, scale):   # pragma: no cover - compiled
    # out = exp(x) elementwise (x and out distinct); kbits and scale are work rows of the same length. Outside
    # (-708, 709] (subnormal results, overflow, NaN) the C library's exp.
    w = x.shape[0]
    kf = kbits.view(np.float64)
    for c in range(w):
        v = min(max(x[c], -745.0), 709.0)
        kf[c] = v * _LOG2E + _ROUND
    sbits = scale.view(np.int64)
    for c in range(w):
        sbits[c] = (kbits[c] - _ROUND_BITS + 1023) << 52   # 2^k, k = round(x / ln 2)
    unusual = 0
    for c in range(w):
        v = min(max(x[c], -745.0), 709.0)
        k = kf[c] - _ROUND
        r = (v - k * _LN2_HI) - k * _LN2_LO
        p = _TAYLOR[14]
        for i in range(13, -1, -1):
            p = p * r + _TAYLOR[i]
        out[c] = p * scale[c]
        unusual |= np.int64(not (-708.0 < x[c] <= 709.0))
    if unusual:
        for c in range(w):
            if not (-708.0 < x[c] <= 709.0):
                out[c] = np.exp(x[c])


@kernel()
def sigmoid_row(y, out, kbits, scale):   # pragma: no cover - compiled
    # out = 1 / (1 + exp(-y)), elementwise; y is overwritten (by -y); kbits and scale are work rows of y's length.
    w = y.shape[0]
    for c in range(w):
        y[c] = -y[c]
    exp_row(y, out, kbits, scale)
    for c in range(w):
        out[c] = 1.0 / (1.0 + out[c]) if y[c] < 709.0 else 0.0   # above, exp overflows (the true value < 1e-308)


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


_ABS = 0x7FFFFFFFFFFFFFFF
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000
_EXP_BITS = 0x4330000000000000          # 2^52's bits: OR-ing a small integer in gives 2^52 + that integer
_EXP_BIAS = 4503599627371519.0          # 2^52 + 1023
_SQRT2 = 1.4142135623730951
_TINY = 2.2250738585072014e-308        # smallest normal double
_HUGE = 1.7976931348623157e308
_LN2_HI = 6.93147180369123816490e-01   # ln 2 split so that k * _LN2_HI is exact (fdlibm)
_LN2_LO = 1.90821492927058770002e-10
_LG1, _LG2, _LG3, _LG4 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, \
    2.222219843214978396e-01
_LG5, _LG6, _LG7 = 1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01


@kernel()
def log_abs(x, out, exps):   # pragma: no cover - compiled
    # out = log|x| elementwise over 1-D contiguous arrays, 0 where x == 0; exps is work space of x's length.
    # The exponent goes to a double by the bits of 2^52 + e (AVX2 has no int64 -> double conversion, so
    # float(e) would keep the loop scalar).
    n = x.shape[0]
    xb = x.view(np.int64)
    mb = out.view(np.int64)
    eb = exps.view(np.int64)
    for i in range(n):
        bits = xb[i] & _ABS
        mb[i] = (bits & _MANTISSA) | _ONE_BITS      # the mantissa as a number in [1, 2)
        eb[i] = (bits >> 52) | _EXP_BITS
    unusual = 0
    for i in range(n):
        m = out[i]
        big = m > _SQRT2
        dk = (exps[i] - _EXP_BIAS) + (1.0 if big else 0.0)
        f = (0.5 * m if big else m) - 1.0
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        r = w * (_LG2 + w * (_LG4 + w * _LG6)) + z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
        hfsq = 0.5 * f * f
        value = dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)
        ax = abs(x[i])
        out[i] = value if ax != 0.0 else 0.0
        unusual |= np.int64(ax != 0.0) & np.int64(not (_TINY <= ax <= _HUGE))   # subnormal, inf, NaN
    if unusual:
        for i in range(n):
            ax = abs(x[i])
            if ax != 0.0 and not (_TINY <= ax <= _HUGE):
                out[i] = np.log(ax)
