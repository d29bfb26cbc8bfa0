"""Why MEFB's Qc and Qy under Octave differ from ours on images with constant regions: rounding noise, shown.

MEFB's `ssim_yang` computes variances as filter2(w, x.*x) - filter2(w, x).^2 with C1 = C2 = 2e-16. Over a 7 x 7
window where an image is constant at a nonzero level, exact arithmetic gives 0; floating point leaves a few ulps of
x^2 (about 1e-12) of either sign, which C = 2e-16 does not absorb, so the local SSIM, Qy's lambda and Qc's share
become ratios of rounding errors there. These tests reproduce Octave's values from that arithmetic alone (Octave's
conv2 tap order, transcribed below), then show that (1) the same values with exact zeros in those windows are ours
(Qy; Qc up to windows where IR + VIS is constant, see `NOT_ONLY_CONSTANT`), and (2) a 1-ulp change of the Gaussian
window, such as another summation order in fspecial's normalisation, moves MEFB's Qc on TNO-21 #3 from 0.237 to 0.52:
MATLAB's own value on such images depends on bits that neither Octave nor this project can reproduce.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from bench.images import read_image
from metrics import score_images
from tests.calibration.references import OCTAVE

pytestmark = pytest.mark.calibration

C = 2e-16


def gaussian_window(total=lambda h: sum(h.ravel(order='F').tolist())) -> np.ndarray:
    """fspecial('gaussian', 7, 1.5) / sum(sum(.)), each normalisation dividing by `total`.

    The default, a left-to-right sum in column-major order as Octave's `sum` does, gives Octave 7.3 + image 2.14's
    window bit for bit.
    """
    r = np.arange(7) - 3.0
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5 ** 2))
    g = g / total(g)
    return g / total(g)


def octave_filter2_valid(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """filter2(w, x, 'valid') with Octave's rounding: conv2 with rot90(w, 2) accumulates one tap at a time
    (liboctave dconv2i, a daxpy per tap), the window's columns last to first and, in each, its rows last to first."""
    kh, kw = w.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for q in range(kw - 1, -1, -1):
        for p in range(kh - 1, -1, -1):
            out = out + w[p, q] * x[p:p + out.shape[0], q:q + out.shape[1]]
    return out


def constant(x: np.ndarray) -> np.ndarray:
    windows = sliding_window_view(x, (7, 7))
    return windows.max(axis=(2, 3)) == windows.min(axis=(2, 3))


def yang_statistics(x: np.ndarray, y: np.ndarray, w: np.ndarray, exact: bool):
    """ssim_yang(x, y): the SSIM map and the (co)variances; `exact` puts exact zeros where an image is constant."""
    mu_x, mu_y = octave_filter2_valid(x, w), octave_filter2_valid(y, w)
    var_x = octave_filter2_valid(x * x, w) - mu_x * mu_x
    var_y = octave_filter2_valid(y * y, w) - mu_y * mu_y
    cov = octave_filter2_valid(x * y, w) - mu_x * mu_y
    if exact:
        flat_x, flat_y = constant(x), constant(y)
        var_x[flat_x], var_y[flat_y], cov[flat_x | flat_y] = 0, 0, 0
    ssim = ((2 * mu_x * mu_y + C) * (2 * cov + C)) / ((mu_x * mu_x + mu_y * mu_y + C) * (var_x + var_y + C))
    return ssim, var_x, var_y, cov


def mefb_qc(a, b, f, w, exact=False) -> float:
    with np.errstate(divide='ignore', invalid='ignore'):
        ssim_af, _, _, cov_af = yang_statistics(a, f, w, exact)
        ssim_bf, _, _, cov_bf = yang_statistics(b, f, w, exact)
        share = cov_af / (cov_af + cov_bf)
        sim = share * ssim_af + (1 - share) * ssim_bf
        sim[share < 0], sim[share > 1] = 0, 1
    return float(sim[~np.isnan(sim)].mean())


def mefb_qy(a, b, f, w, exact=False) -> float:
    with np.errstate(divide='ignore', invalid='ignore'):
        ssim_ab, var_a, var_b, _ = yang_statistics(a, b, w, exact)
        ssim_af = yang_statistics(a, f, w, exact)[0]
        ssim_bf = yang_statistics(b, f, w, exact)[0]
        similar = ssim_ab >= 0.75
        lam = var_a / (var_a + var_b)
        q = (lam * ssim_af + (1 - lam) * ssim_bf) * similar + np.fmax(ssim_af, ssim_bf) * ~similar   # MATLAB max
    return float(q[~np.isnan(q)].mean())


TRIPLES = {k: (f'tno21/ir/IR{k}.png', f'tno21/vi/VIS{k}.png',
               f'tno21/fused/RFN-Nest/fused_rfnnest_700_wir_6.0_wvi_3.0_IR{k}.png') for k in (2, 3, 6)}
# Qc also has windows where no image is constant but a covariance, or their sum, is 0 in exact arithmetic: IR + VIS
# constant (112 windows in TNO-21 #3: cov(IR, F) + cov(VIS, F) = 0, share +-inf, clipped to 0 or 1), or cov(VIS, F)
# = 0 by symmetry (4 in #2: share exactly 1, not clipped). Our E[xy] - E[x]E[y] leaves noise there as well, so the
# clip is decided by rounding in ours too; these bounds are what those windows move (measured 2.4e-5 and 1.1e-4).
NOT_ONLY_CONSTANT = {2: 3e-5, 3: 1.5e-4}


@pytest.fixture(scope='module')
def octave_values():
    table = pd.read_csv(OCTAVE)
    return {(r.fused, r.metric): r.value for r in table.itertuples() if r.reference == 'mefb'}


def _load(data_root: Path, k: int):
    return [read_image(data_root / p).astype(np.float64) for p in TRIPLES[k]]


def _ours(a, b, f, metric: str) -> float:
    t = [torch.from_numpy(x)[None, None] for x in (f, a, b)]
    return score_images(*t, [metric], 'mefb')[metric].item()


@pytest.mark.parametrize('k', sorted(TRIPLES))
def test_octave_values_are_this_arithmetic(data_root, octave_values, k):
    a, b, f = _load(data_root, k)
    w = gaussian_window()
    assert mefb_qc(a, b, f, w) == pytest.approx(octave_values[TRIPLES[k][2], 'qc'], rel=1e-12)
    assert mefb_qy(a, b, f, w) == pytest.approx(octave_values[TRIPLES[k][2], 'qy'], rel=1e-12)


@pytest.mark.parametrize('k', sorted(TRIPLES))
def test_exact_zeros_in_constant_windows_give_ours(data_root, octave_values, k):
    a, b, f = _load(data_root, k)
    w = gaussian_window()
    assert _ours(a, b, f, 'qy') == pytest.approx(mefb_qy(a, b, f, w, exact=True), rel=1e-12)
    qc_exact, qc_octave = mefb_qc(a, b, f, w, exact=True), octave_values[TRIPLES[k][2], 'qc']
    assert _ours(a, b, f, 'qc') == pytest.approx(qc_exact, rel=NOT_ONLY_CONSTANT.get(k, 1e-12))
    assert abs(qc_exact / qc_octave - 1) > 5e-3   # the constant windows alone make the Octave difference


def test_one_ulp_in_the_window_moves_mefb_qc_by_a_factor_of_two(data_root, octave_values):
    a, b, f = _load(data_root, 3)
    w = gaussian_window()
    other = gaussian_window(np.sum)      # numpy's pairwise sum: another rounding of the same normalisation
    assert 0 < np.abs(other - w).max() <= 1e-17                           # the windows differ in the last bit
    assert octave_values[TRIPLES[3][2], 'qc'] == pytest.approx(0.2370, abs=1e-4)
    assert mefb_qc(a, b, f, other) == pytest.approx(0.5232, abs=1e-4)     # ours: 0.5206
