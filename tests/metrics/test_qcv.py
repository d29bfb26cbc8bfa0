"""Qcv against a numpy transcription of VIFB/MEFB metricsQcv.m (complex FFTs, blkproc loops over 16 x 16 blocks)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given, settings

from metrics import get_metric
from metrics.qcv import qcv
from tests.metrics.mefb_reference import freqspace, normalize1
from tests.metrics.metric_inputs import gray_triples, single, stacked

pytestmark = pytest.mark.usefixtures('cpu_backend')


def blkproc(x: np.ndarray, fun) -> np.ndarray:
    """MATLAB blkproc(x, [16 16], fun): zero-pad to whole blocks, apply fun to each block."""
    h, w = x.shape
    hb, wb = -(-h // 16), -(-w // 16)
    padded = np.zeros((hb * 16, wb * 16), dtype=x.dtype)
    padded[:h, :w] = x
    return np.array([[fun(padded[16 * i:16 * i + 16, 16 * j:16 * j + 16]) for j in range(wb)] for i in range(hb)])


def qcv_reference(im1, im2, fused) -> float:
    """Qcv(im1, im2, fused) of metricsQcv.m, VIFB argument order (vi, ir, fused)."""
    im1, im2, fused = normalize1(im1), normalize1(im2), normalize1(fused)
    flt1 = np.array([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])
    flt2 = np.array([[-1., -2., -1.], [0., 0., 0.], [1., 2., 1.]])

    def grad(x):
        gx = scipy.signal.correlate2d(x, flt1, mode='same')
        gy = scipy.signal.correlate2d(x, flt2, mode='same')
        return np.sqrt(gx * gx + gy * gy)

    ramda1 = blkproc(grad(im1), lambda b: np.sum(b ** 5))
    ramda2 = blkproc(grad(im2), lambda b: np.sum(b ** 5))
    hang, lie = im1.shape
    u, v = freqspace(hang, lie)
    u, v = lie / 8 * u, hang / 8 * v
    r = np.sqrt(u ** 2 + v ** 2)
    theta_m = 2.6 * (0.0192 + 0.144 * r) * np.exp(-(0.144 * r) ** 1.1)

    def filtered(x):
        return np.fft.ifft2(np.fft.ifftshift(np.fft.fftshift(np.fft.fft2(x)) * theta_m))

    d1 = blkproc(filtered(im1 - fused), lambda b: np.mean(b ** 2))
    d2 = blkproc(filtered(im2 - fused), lambda b: np.mean(b ** 2))
    return float(np.real(np.sum(ramda1 * d1 + ramda2 * d2) / np.sum(ramda1 + ramda2)))


def _triples():
    rng = np.random.default_rng(11)
    yield [tuple(rng.integers(0, 256, (32, 48)).astype(float) for _ in range(3)) for _ in range(2)]
    yy, xx = np.mgrid[:37, :51]                     # not whole blocks, odd sizes
    ir = np.where((xx - 25) ** 2 + (yy - 18) ** 2 < 90, 230., 35.) + rng.integers(0, 6, yy.shape)
    vis = np.clip(4 * xx + 3 * yy + rng.normal(0, 5, yy.shape), 0, 255).round()
    yield [(np.maximum(ir, vis), ir, vis), ((ir + vis) / 2, ir, vis), (np.zeros_like(ir), ir, vis)]


@pytest.mark.parametrize('triples', list(_triples()), ids=['random', 'structured-partial-blocks'])
def test_matches_reference(triples):
    f, a, b = stacked(triples)
    expected = [qcv_reference(t[2], t[1], t[0]) for t in triples]
    for convention in ('default', 'vifb', 'mefb'):
        np.testing.assert_allclose(get_metric('qcv', convention)(f, a, b).numpy(), expected, rtol=1e-10)


def test_degenerate_inputs():
    f, a, b = single(*next(_triples())[0])
    with pytest.raises(ValueError, match=r'`fused` \(image 0 of the batch\) is constant: Qcv is undefined'):
        qcv(torch.full_like(f, 3.), a, b)
    with pytest.raises(ValueError, match=r'`vis` \(image 0 of the batch\) is constant'):
        qcv(f, a, torch.full_like(b, 200.))
    with pytest.raises(ValueError, match='`ir` and `vis` are both constant'):
        qcv(f, torch.zeros_like(a), torch.zeros_like(b))
    # All-zero images pass normalize1 unchanged, so they are defined (as in the reference).
    expected = qcv_reference(b[0, 0].numpy(), np.zeros((32, 48)), f[0, 0].numpy())
    assert qcv(f, torch.zeros_like(a), b).item() == pytest.approx(expected, rel=1e-10)


@settings(max_examples=20, deadline=None)
@given(gray_triples(4, 40))
def test_properties(triple):
    f, a, b = triple
    if min(np.ptp(a), np.ptp(b), np.ptp(f)) == 0:
        return
    t = single(f, a, b)
    value = qcv(*t).item()
    assert value >= 0
    assert qcv(t[0], t[2], t[1]).item() == pytest.approx(value, rel=1e-12)          # symmetric in the sources
    assert qcv(2 * t[0] + 10, 3 * t[1], t[2]).item() == value                     # normalize1: gain/offset-free
    assert qcv(t[1], t[1], t[1]).item() == 0
