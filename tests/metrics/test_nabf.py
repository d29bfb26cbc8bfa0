"""Nabf against a per-pixel numpy transcription of analysis_nabf.m, sobel_fn.m and per_extn_im_fn.m."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from metrics import get_metric, score_images
from metrics.nabf import nabf
from tests.metrics.metric_inputs import gray_triples, single, stacked

# Every test runs through the fused CPU kernel and through the torch form.
pytestmark = pytest.mark.usefixtures('cpu_backend')

VTEMP = np.array([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]]) / 8
HTEMP = np.array([[-1., -2., -1.], [-0., 0., 0.], [1., 2., 1.]]) / 8


def per_extn(x: np.ndarray) -> np.ndarray:
    """per_extn_im_fn(x, 3): zero frame, then rows, then columns mirrored without repeating the edge."""
    p, q = x.shape
    ext = np.zeros((p + 2, q + 2))
    ext[1:p + 1, 1:q + 1] = x
    ext[0, :] = ext[2, :]
    ext[p + 1, :] = ext[p - 1, :]
    ext[:, 0] = ext[:, 2]
    ext[:, q + 1] = ext[:, q - 1]
    return ext


def sobel_fn(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ext = per_extn(x)
    gv, gh = np.zeros_like(x), np.zeros_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            win = ext[i:i + 3, j:j + 3]
            # MATLAB sum(sum(M)): column sums top to bottom, then the three sums left to right.
            for out, k in ((gv, VTEMP), (gh, HTEMP)):
                cols = [(win[0, c] * k[0, c] + win[1, c] * k[1, c]) + win[2, c] * k[2, c] for c in range(3)]
                out[i, j] = (cols[0] + cols[1]) + cols[2]
    return gv, gh


def nabf_reference(f, i1, i2) -> float:
    """analysis_nabf(f, I1, I2), pixel by pixel."""
    (gv_a, gh_a), (gv_b, gh_b), (gv_f, gh_f) = sobel_fn(i1), sobel_fn(i2), sobel_fn(f)
    g_a, g_b, g_f = (np.sqrt(gh ** 2 + gv ** 2) for gv, gh in ((gv_a, gh_a), (gv_b, gh_b), (gv_f, gh_f)))

    def rel(g_x):
        out = np.zeros_like(g_x)
        for idx in np.ndindex(g_x.shape):
            if g_x[idx] == 0 or g_f[idx] == 0:
                out[idx] = 0
            elif g_x[idx] > g_f[idx]:
                out[idx] = g_f[idx] / g_x[idx]
            else:
                out[idx] = g_x[idx] / g_f[idx]
        return out

    def angle(gv, gh):
        out = np.zeros_like(gv)
        for idx in np.ndindex(gv.shape):
            if not (gv[idx] == 0 and gh[idx] == 0):
                with np.errstate(divide='ignore'):
                    out[idx] = np.arctan(gv[idx] / gh[idx])
        return out

    a_a, a_b, a_f = angle(gv_a, gh_a), angle(gv_b, gh_b), angle(gv_f, gh_f)

    def q(g_rel, a_x):
        a_rel = np.abs(np.abs(a_x - a_f) - math.pi / 2) * 2 / math.pi
        q_g = 0.9999 / (1 + np.exp(-19 * (g_rel - 0.5)))
        q_a = 0.9995 / (1 + np.exp(-22 * (a_rel - 0.5)))
        return np.sqrt(q_g * q_a)

    q_af, q_bf = q(rel(g_a), a_a), q(rel(g_b), a_b)
    w_a = np.where(g_a >= 2, g_a ** 1.5, 0.001)
    w_b = np.where(g_b >= 2, g_b ** 1.5, 0.001)
    na = (g_f > g_a) & (g_f > g_b)
    return float(np.sum(na * ((1 - q_af) * w_a + (1 - q_bf) * w_b)) / np.sum(w_a + w_b))


def _triples():
    rng = np.random.default_rng(3)
    out = [tuple(rng.integers(0, 256, (11, 14)).astype(float) for _ in range(3))]
    yy, xx = np.mgrid[:13, :17]
    ir = np.where(xx > 8, 180., 20.)
    vis = np.clip(np.round(9 * yy + rng.normal(0, 2, yy.shape)), 0, 255)
    out.append((np.round(0.6 * ir + 0.6 * vis).clip(0, 255), ir, vis))         # stronger edges than either
    out.append((vis.copy(), ir, vis))                                          # flat IR areas, F == VI
    out.append((np.full((9, 10), 50.), np.zeros((9, 10)), np.full((9, 10), 7.)))   # constants: all g == 0
    return out


@pytest.mark.parametrize('triple', _triples(), ids=['random', 'edges', 'f-equals-vi', 'constant'])
def test_matches_reference(triple):
    f, a, b = single(*triple)
    assert nabf(f, a, b).item() == pytest.approx(nabf_reference(*triple), rel=1e-12, abs=1e-15)
    # Tang 2023: analysis_nabf(ir, vi, F), the IR image in the fused image's place.
    assert get_metric('nabf', 'tang2023')(f, a, b).item() == pytest.approx(
        nabf_reference(triple[1], triple[2], triple[0]), rel=1e-12, abs=1e-15)
    # Tang 2022: the intended order on im2double data (k / 255), MATLAB's rounding.
    spec = get_metric('nabf', 'tang2022')
    assert spec.scale == 1 / 255   # applied as im2double does: k / 255 (registry `rescale`)
    assert spec(f, a, b).item() == pytest.approx(nabf_reference(*(x / 255 for x in triple)), rel=1e-12, abs=1e-15)


def test_batched_equals_single():
    triples = _triples()[:3]
    crop = [tuple(x[:11, :14] for x in t) for t in triples]
    f, a, b = stacked(crop)
    expected = [nabf_reference(*t) for t in crop]
    np.testing.assert_allclose(nabf(f, a, b).numpy(), expected, rtol=1e-12)


def test_unit_data_weights_are_all_minimal():
    """On [0, 1] data no gradient reaches Td = 2, so Tang 2022's Nabf is an unweighted mean."""
    f, a, b = _triples()[1]
    value = get_metric('nabf', 'tang2022')(*single(f, a, b)).item()
    assert 0 < value < 1
    assert value != pytest.approx(nabf(*single(f, a, b)).item(), rel=0.1)


def test_size_checks():
    x = torch.zeros(1, 1, 1, 5)
    with pytest.raises(ValueError, match=r'H, W >= 2'):
        nabf(x, x, x)


@settings(max_examples=30, deadline=None)
@given(gray_triples(2, 9))
def test_properties(triple):
    f, a, b = triple
    t = single(f, a, b)
    value = nabf(*t).item()
    assert 0 <= value <= 1
    assert nabf(t[0], t[2], t[1]).item() == pytest.approx(value, rel=1e-13, abs=1e-16)   # symmetric in sources
    assert nabf(t[1], t[1], t[2]).item() == 0      # F == a source: gF > gA never holds


# TNO #10 / TNO-42 with SeAFusion: the values docs/metrics.md records for each way of calling analysis_nabf.
TNO10 = {'default': 0.0446, 'tang2022': 0.2093, 'tang2023': 0.019926}


def _tno(data_root, name):
    from bench.images import read_image
    root = data_root / 'tno42'
    out = []
    for path in (root / 'fused/SeAFusion' / name, root / 'ir' / name, root / 'vi' / name):
        t = torch.from_numpy(read_image(path))
        out.append((t[None] if t.ndim == 2 else t.permute(2, 0, 1))[None])
    return out


@pytest.mark.parametrize('convention', list(TNO10))
def test_tno10_values(data_root, convention):
    value = score_images(*_tno(data_root, '10.png'), ['nabf'], convention)['nabf'].item()
    digits = len(str(TNO10[convention]).split('.')[1])
    assert round(value, digits) == TNO10[convention]


@pytest.mark.slow
def test_tno42_seafusion_mean(data_root):
    # The intended version (tang2023's swapped call, mean 0.0168, is calibrated per image in tests/calibration).
    values = [score_images(*_tno(data_root, f'{i:02d}.png'), ['nabf'])['nabf'].item() for i in range(1, 43)]
    assert round(float(np.mean(values)), 4) == 0.0807
