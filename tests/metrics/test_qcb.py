"""Qcb against a numpy transcription of VIFB/MEFB metricsQcb.m (complex FFTs, direct 31 x 31 filter2)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given, settings

from metrics import get_metric
from metrics.qcb import _normalize1, qcb, qcb_mefb
from tests.metrics.mefb_reference import freqspace, normalize1
from tests.metrics.metric_inputs import gray_triples, single, stacked

pytestmark = pytest.mark.usefixtures('cpu_backend')


def qcb_reference(im1, im2, fused) -> float:
    """Qcb(im1, im2, fused) of metricsQcb.m, VIFB argument order (vi, ir, fused), on 0-255 doubles."""
    im1, im2, fused = normalize1(im1), normalize1(im2), normalize1(fused)
    hang, lie = im1.shape
    u, v = freqspace(hang, lie)
    u, v = (lie / 30) * u, (hang / 30) * v
    r = np.sqrt(u ** 2 + v ** 2)
    sd = np.exp(-(r / 15.3870) ** 2) - 0.7622 * np.exp(-(r / 1.3456) ** 2)

    def csf(x):
        return np.fft.ifft2(np.fft.ifftshift(np.fft.fftshift(np.fft.fft2(x)) * sd))

    x, y = np.meshgrid(np.arange(-15, 16), np.arange(-15, 16))
    g1, g2 = (np.exp(-(x * x + y * y) / (2 * s * s)) / (2 * math.pi * s * s) for s in (2, 4))

    def contrast_p(im):
        c = np.abs(scipy.signal.correlate2d(im, g1, mode='same') / scipy.signal.correlate2d(im, g2, mode='same') - 1)
        return c ** 3 / (c ** 2 + 0.0001)

    c1p, c2p, cfp = contrast_p(csf(im1)), contrast_p(csf(im2)), contrast_p(csf(fused))
    mask = (c1p < cfp).astype(float)
    q1f = (c1p / cfp) * mask + (cfp / c1p) * (1 - mask)
    mask = (c2p < cfp).astype(float)
    q2f = (c2p / cfp) * mask + (cfp / c2p) * (1 - mask)
    ramda1 = (c1p * c1p) / (c1p * c1p + c2p * c2p)
    ramda2 = (c2p * c2p) / (c1p * c1p + c2p * c2p)
    return float(np.mean(ramda1 * q1f + ramda2 * q2f))


def _triples():
    rng = np.random.default_rng(5)
    yield [tuple(rng.integers(0, 256, (24, 30)).astype(float) for _ in range(3)) for _ in range(2)]
    yy, xx = np.mgrid[:33, :45]                                     # odd sizes: freqspace's other branch
    ir = np.where((xx - 20) ** 2 + (yy - 15) ** 2 < 80, 220., 40.) + rng.integers(0, 5, yy.shape)
    vis = np.clip(5 * xx + 2 * yy + rng.normal(0, 4, yy.shape), 0, 255).round()
    yield [(np.maximum(ir, vis), ir, vis), ((ir + vis) / 2, ir, vis)]


@pytest.mark.parametrize('triples', list(_triples()), ids=['random', 'structured-odd'])
def test_matches_reference(triples):
    f, a, b = stacked(triples)
    expected = [qcb_reference(t[2], t[1], t[0]) for t in triples]
    np.testing.assert_allclose(qcb(f, a, b).numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(get_metric('qcb', 'vifb')(f, a, b).numpy(), expected, rtol=1e-10)
    mefb = [qcb_reference(t[2] / 255, t[1] / 255, t[0] / 255) for t in triples]   # im2double(uint8)
    np.testing.assert_allclose(get_metric('qcb', 'mefb')(f, a, b).numpy(), mefb, rtol=1e-10)


def test_normalize1_rounding_and_the_mefb_scale():
    x = torch.tensor([0., 55., 66., 10.], dtype=torch.float64).view(1, 1, 2, 2)
    # (55 - 0) / 66 * 255 = 212.5 exactly: MATLAB rounds the half away from zero (torch.round would give 212).
    assert _normalize1(x, ['x'], 'Qcb', False).flatten().tolist() == [0., 213., 255., 39.]
    # MEFB normalises im2double images: 55/255 / (66/255) * 255 = 212.49999999999997 -> 212.
    assert _normalize1(x / 255, ['x'], 'Qcb', False).flatten().tolist() == [0., 212., 255., 39.]
    zeros = torch.zeros(1, 1, 2, 2)
    assert _normalize1(zeros, ['x'], 'Qcv', True).flatten().tolist() == [0.] * 4
    # Only max == min == 0 is left alone: max == 0 with negative values is normalised.
    negative = torch.tensor([-10., 0., -5., -2.5], dtype=torch.float64).view(1, 1, 2, 2)
    assert _normalize1(negative, ['x'], 'Qcv', True).flatten().tolist() == [0., 255., 128., 191.]


@pytest.mark.parametrize('constant, name', [(0., 'ir'), (42., 'ir'), (42., 'vis'), (42., 'fused')])
def test_constant_image_raises(constant, name):
    f, a, b = single(*next(_triples())[0])
    args = dict(fused=f, ir=a, vis=b)
    args[name] = torch.full_like(f, constant)
    with pytest.raises(ValueError, match=rf'`{name}` \(image 0 of the batch\) is constant: Qcb is undefined'):
        qcb(**args)
    with pytest.raises(ValueError, match=rf'`{name}` \(image 0 of the batch\) is constant'):
        qcb_mefb(**args)


@settings(max_examples=15, deadline=None)
@given(gray_triples(4, 12))
def test_properties(triple):
    f, a, b = triple
    if min(np.ptp(a), np.ptp(b), np.ptp(f)) == 0:
        return
    t = single(f, a, b)
    try:
        value = qcb(*t).item()
    except ValueError as err:          # a local contrast of exactly 0 (0 * inf in the reference)
        assert 'local contrast of exactly 0' in str(err)
        return
    assert 0 <= value <= 1 + 1e-12
    assert qcb(t[0], t[2], t[1]).item() == pytest.approx(value, rel=1e-12)        # symmetric in the sources
    # normalize1 makes it invariant to a gain and offset of each image (2x + 10 normalises to the same levels).
    assert qcb(2 * t[0] + 10, t[1], 3 * t[2]).item() == value
