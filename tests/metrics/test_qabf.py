"""Qabf against independent numpy transcriptions of R. Hong's code (CDDFuse, Tang, VIFB variants)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given, settings

from metrics import _cpu_kernels, get_metric
from metrics.qabf import _sqrt_correctly_rounded, qabf, qabf_tang2022
from tests.metrics.metric_inputs import gray_triples, single, stacked

# Every test runs through the fused CPU kernel and through the torch form.
pytestmark = pytest.mark.usefixtures('cpu_backend')

H1 = np.array([[1., 2., 1.], [0., 0., 0.], [-1., -2., -1.]])
H3 = np.array([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])


def conv2_same_matlab_order(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """conv2(x, h, 'same') summing the taps in column-major kernel order, one tap at a time (as MATLAB rounds)."""
    rows, cols = x.shape
    padded = np.pad(x, 1)
    out = np.zeros_like(x)
    for q in range(3):
        for p in range(3):
            if h[p, q] != 0:
                out = out + h[p, q] * padded[2 - p:2 - p + rows, 2 - q:2 - q + cols]
    return out


def qabf_reference(f, a, b, *, matlab_order=False, dtype=np.float64):
    """Hong's analysis_Qabf.m / CDDFuse Evaluator.Qabf, transcribed with numpy (dtype float32 = CDDFuse)."""
    def gradients(x):
        x = x.astype(dtype)
        if matlab_order:
            sx, sy = conv2_same_matlab_order(x, H3), conv2_same_matlab_order(x, H1)
        else:
            sx = scipy.signal.convolve2d(x, H3.astype(dtype), mode='same')
            sy = scipy.signal.convolve2d(x, H1.astype(dtype), mode='same')
        g = np.sqrt(sx * sx + sy * sy)
        angle = np.zeros_like(x)
        angle[sx == 0] = math.pi / 2
        angle[sx != 0] = np.arctan(sy[sx != 0] / sx[sx != 0])
        return g, angle

    def preservation(g_x, a_x, g_f, a_f):
        strength = np.zeros_like(g_x)
        strength[g_x > g_f] = g_f[g_x > g_f] / g_x[g_x > g_f]
        strength[g_x == g_f] = g_f[g_x == g_f]
        strength[g_x < g_f] = g_x[g_x < g_f] / g_f[g_x < g_f]
        orient = 1 - np.abs(a_x - a_f) / (math.pi / 2)
        return 0.9994 / (1 + np.exp(-15 * (strength - 0.5))) * (0.9879 / (1 + np.exp(-22 * (orient - 0.8))))

    (g_a, a_a), (g_b, a_b), (g_f, a_f) = gradients(a), gradients(b), gradients(f)
    num = np.sum(preservation(g_a, a_a, g_f, a_f) * g_a + preservation(g_b, a_b, g_f, a_f) * g_b)
    return float(num / np.sum(g_a + g_b))


def _structured(seed: int, shape=(23, 31)) -> tuple[np.ndarray, ...]:
    """Flat areas (Sx == 0), steps, ramps and noise, plus a fused image that copies IR on its left half."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    ir = np.where(xx > w // 2, 200., 30.) + np.where(yy > h // 3, 25., 0.)
    vis = np.clip(np.round(4 * xx + 3 * yy + rng.normal(0, 3, shape)), 0, 255)
    fused = np.round((ir + vis) / 2)
    fused[:, : w // 2] = ir[:, : w // 2]
    return fused, ir, vis


def _batches():
    rng = np.random.default_rng(7)
    rand = rng.integers(0, 256, size=(3, 3, 1, 19, 26)).astype(np.float64)
    yield [tuple(rand[k, i, 0] for k in range(3)) for i in range(3)]
    yield [_structured(s) for s in range(3)]


@pytest.mark.parametrize('triples', list(_batches()), ids=['random', 'structured'])
def test_default_tang2023_and_cddfuse_match_reference(triples):
    f, a, b = stacked(triples)
    expected = [qabf_reference(*t) for t in triples]
    np.testing.assert_allclose(qabf(f, a, b).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(get_metric('qabf', 'tang2023')(f, a, b).numpy(), expected, rtol=1e-12)
    # CDDFuse computes in float32; the variant is the float64 value, within CDDFuse's float32 rounding.
    cdd = [qabf_reference(*t, dtype=np.float32) for t in triples]
    np.testing.assert_allclose(get_metric('qabf', 'cddfuse')(f, a, b).numpy(), cdd, rtol=1e-6)


@pytest.mark.parametrize('triples', list(_batches()), ids=['random', 'structured'])
def test_vifb_and_mefb_multiply_by_255_again(triples):
    f, a, b = stacked(triples)
    expected = [qabf_reference(*(255 * x for x in t)) for t in triples]
    for convention in ('vifb', 'mefb'):
        np.testing.assert_allclose(get_metric('qabf', convention)(f, a, b).numpy(), expected, rtol=1e-12)


def test_vifb_differs_where_gradients_are_equal():
    """The gA == gF branch sets G = gF (not 1): weak equal gradients score low, unless VIFB's extra x255 lifts them."""
    weak = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.05
    t = (weak, weak, weak.flip(-1))
    assert qabf(*t).item() < 0.1 < 0.4 < get_metric('qabf', 'vifb')(*t).item()


@pytest.mark.parametrize('triples', list(_batches()), ids=['random', 'structured'])
def test_tang2022_matches_matlab_order_reference_on_unit_data(triples):
    f, a, b = stacked(triples)
    expected = [qabf_reference(*(x / 255 for x in t), matlab_order=True) for t in triples]
    spec = get_metric('qabf', 'tang2022')
    assert spec.scale == 1 / 255   # applied as im2double does: k / 255 (registry `rescale`)
    np.testing.assert_allclose(spec(f, a, b).numpy(), expected, rtol=1e-13)
    np.testing.assert_allclose(qabf_tang2022(f / 255, a / 255, b / 255).numpy(), expected, rtol=1e-13)


def test_correctly_rounded_sqrt():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(0, 4, 200_000), rng.uniform(0, 1e-4, 100_000),
                        rng.integers(0, 2 ** 22, 100_000).astype(float), [0., 1., 2., 4., 1e-300, 1e300]])
    np.testing.assert_array_equal(_sqrt_correctly_rounded(torch.from_numpy(x)).numpy(), np.sqrt(x))


def test_both_sources_zero_raises():
    f, a, b = stacked([_structured(0)])
    for convention in ('default', 'tang2022', 'vifb'):
        with pytest.raises(ValueError, match='`ir` and `vis` have no gradient anywhere'):
            get_metric('qabf', convention)(f, torch.zeros_like(a), torch.zeros_like(b))
    # Constant non-zero sources still have gradients at the zero-padded border, as in the references.
    expected = qabf_reference(f[0, 0].numpy(), np.full((23, 31), 3.), np.full((23, 31), 7.))
    assert qabf(f, torch.full_like(a, 3.), torch.full_like(b, 7.)).item() == pytest.approx(expected, rel=1e-12)
    # A constant fused image is defined too.
    expected = qabf_reference(np.full((23, 31), 9.), a[0, 0].numpy(), b[0, 0].numpy())
    assert qabf(torch.full_like(f, 9.), a, b).item() == pytest.approx(expected, rel=1e-12)


def test_identical_images_and_checks():
    f, _, _ = stacked([_structured(1)])
    assert qabf(f, f, f).item() == pytest.approx(0.9994 * 0.9879 / (1 + math.exp(-4.4)), rel=1e-3)
    with pytest.raises(ValueError, match=r'Expected `vis` of the same shape'):
        qabf(f, f, f[..., :-1])


@settings(max_examples=30, deadline=None)
@given(gray_triples(3, 12))
def test_properties_symmetry_and_bounds(triple):
    f, a, b = triple
    t = single(f, a, b)
    if not (a.any() or b.any()):
        with pytest.raises(ValueError, match='no gradient anywhere'):
            qabf(*t)
        return
    q = qabf(*t).item()
    assert 0 <= q <= 1
    assert qabf(t[0], t[2], t[1]).item() == pytest.approx(q, rel=1e-14)


def test_kernels_vectorised_exp_and_atan_match_the_c_library(cpu_backend):
    """The kernels' own exp (also in the sigmoid) and atan, written so that they vectorise, against numpy's."""
    if cpu_backend != 'kernel':
        pytest.skip('checks the kernel\'s functions')
    from numba import njit

    from metrics._numba_math import atan_of_ratio, exp_row, sigmoid_row

    @njit
    def atan_all(sy, sx, out):
        for i in range(sy.shape[0]):
            out[i] = atan_of_ratio(sy[i], sx[i])

    rng = np.random.default_rng(0)
    y = np.concatenate([rng.uniform(-40, 40, 100_000), rng.uniform(-750, 750, 20_000),
                        [0., -708., 708., -709.5, 709.5, -745., 745., 1e6, -1e6]])
    got = np.empty_like(y)
    sigmoid_row(y.copy(), got, np.empty(len(y), dtype=np.int64), np.empty_like(y))
    with np.errstate(over='ignore'):
        want = 1 / (1 + np.exp(-y))
    assert np.all(np.abs(got - want) <= 4 * np.spacing(want) + 1e-300)   # 4 ulp; 0 where the true value < 1e-308
    x = np.concatenate([rng.uniform(-50, 50, 100_000), rng.uniform(-708, 709, 20_000),
                        [0., -708., -708.5, -745., -750., 709., 709.5, 710., np.inf, -np.inf, np.nan]])
    got = np.empty_like(x)
    exp_row(x, got, np.empty(len(x), dtype=np.int64), np.empty_like(x))
    with np.errstate(over='ignore'):
        want = np.exp(x)
    finite = np.isfinite(want) & (want > 2.3e-308)
    assert np.all(np.abs(got[finite] - want[finite]) <= 2 * np.spacing(want[finite]))   # 2 ulp
    np.testing.assert_array_equal(got[~finite], want[~finite])     # the C library's outside (-708, 709]
    sy = np.concatenate([rng.normal(0, 100, 100_000), rng.integers(-1020, 1021, 50_000), [0., 5., -5., 1e300]])
    sx = np.concatenate([rng.normal(0, 100, 100_000), rng.integers(-1020, 1021, 50_000), [3., 1e-4, -7., 1.]])
    sx[sx == 0] = 1.
    got = np.empty_like(sy)
    atan_all(sy, sx, got)
    want = np.arctan(sy / sx)
    assert np.all(np.abs(got - want) <= np.spacing(np.abs(want)))   # 1 ulp


def test_kernel_and_torch_form_agree_on_a_large_image(cpu_backend, monkeypatch):
    if cpu_backend != 'kernel':
        pytest.skip('compares the kernel with the torch form')
    from bench.speed import test_triple
    f, a, b = (t.double() for t in test_triple(120, 160, batch=2))
    fused = qabf(f, a, b), qabf_tang2022(f / 255, a / 255, b / 255)
    monkeypatch.setattr(_cpu_kernels, 'available', lambda: False)
    torch.testing.assert_close(fused[0], qabf(f, a, b), rtol=1e-14, atol=0)
    torch.testing.assert_close(fused[1], qabf_tang2022(f / 255, a / 255, b / 255), rtol=1e-14, atol=0)
