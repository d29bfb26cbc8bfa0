"""PSNR: the default against scikit-image, each variant against a transcription of its reference code."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import peak_signal_noise_ratio

from metrics import get_metric
from metrics.psnr import peak_signal_to_noise_ratio, psnr_max_fused, psnr_tang, psnr_vifb


def _triples(seed: int, shape=(3, 1, 12, 10)):
    rng = np.random.default_rng(seed)
    a, b = (rng.integers(0, 256, size=shape).astype(np.float64) for _ in range(2))
    f = np.clip(np.round((a + b) / 2 + rng.normal(0, 10, size=shape)), 0, 200)   # max(F) below 255
    f[0] = a[0]
    return f, a, b


def _mse(f, a, b):
    return (np.mean((a - f) ** 2) + np.mean((b - f) ** 2)) / 2


def _tensors(*arrays):
    return [torch.from_numpy(x) for x in arrays]


def test_default_matches_skimage_on_the_mean_mse():
    f, a, b = _triples(0)
    # skimage's PSNR of one pair whose MSE equals the two-source mean: compare against F and a stacked pair.
    expected = [peak_signal_noise_ratio(np.concatenate([x, z]), np.concatenate([y, y]), data_range=255)
                for y, x, z in zip(f, a, b)]
    np.testing.assert_allclose(peak_signal_to_noise_ratio(*_tensors(f, a, b)).numpy(), expected, rtol=1e-12)


def test_cddfuse_uses_max_of_fused():
    f, a, b = _triples(1)
    expected = [10 * math.log10(np.max(y) ** 2 / _mse(y, x, z)) for y, x, z in zip(f, a, b)]
    np.testing.assert_allclose(get_metric('psnr', 'cddfuse')(*_tensors(f, a, b)).numpy(), expected, rtol=1e-12)
    assert (psnr_max_fused(*_tensors(f, a, b)) < peak_signal_to_noise_ratio(*_tensors(f, a, b))).all()


@pytest.mark.parametrize('convention', ['tang2022', 'tang2023'])
def test_tang_adds_48_db(convention):
    f, a, b = _triples(2)
    # PSNR_evaluation.m (2023: divides by 255 itself; 2022: is given im2double images).
    expected = [20 * math.log10(255 / math.sqrt(_mse(y / 255, x / 255, z / 255))) for y, x, z in zip(f, a, b)]
    got = get_metric('psnr', convention)(*_tensors(f, a, b))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(got.numpy(), peak_signal_to_noise_ratio(*_tensors(f, a, b)).numpy()
                               + 20 * math.log10(255), rtol=1e-12)


@pytest.mark.parametrize('convention', ['vifb', 'mefb'])
def test_vifb_mefb(convention):
    f, a, b = _triples(3)

    def mse(x, y):   # the helper of metricsPsnr.m
        return np.sqrt(np.sum((x - y) ** 2)) / x.size
    expected = [20 * math.log10(255 / math.sqrt((mse(z, y) + mse(x, y)) / 2)) for y, x, z in zip(f, a, b)]
    np.testing.assert_allclose(get_metric('psnr', convention)(*_tensors(f, a, b)).numpy(), expected, rtol=1e-12)


def test_degenerate_inputs_raise():
    f, a, b = _tensors(*_triples(4))
    for fn in (peak_signal_to_noise_ratio, psnr_max_fused, psnr_tang, psnr_vifb):
        with pytest.raises(ValueError, match=r'PSNR is undefined for image 0 of the batch: `fused`, `ir` and `vis` '
                                             r'are the same image, so .* is 0'):
            fn(a, a, a)
        c = torch.full_like(a, 77.)
        with pytest.raises(ValueError, match=r'image 0 of the batch: `fused`, `ir` and `vis` are one constant image'):
            fn(c, c, c)
    with pytest.raises(ValueError, match=r'image 1 of the batch: `fused` is all zeros'):
        psnr_max_fused(torch.cat([f[:1], torch.zeros_like(f[:1])]), a[:2], b[:2])
    # Equal to one source only is fine: the other keeps the MSE positive.
    assert torch.isfinite(peak_signal_to_noise_ratio(a, a, b)).all()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 16))
def test_properties(seed):
    f, a, b = _tensors(*(x[:1] for x in _triples(seed, shape=(1, 1, 5, 7))))
    for fn in (peak_signal_to_noise_ratio, psnr_max_fused, psnr_tang, psnr_vifb):
        torch.testing.assert_close(fn(f, b, a), fn(f, a, b))
    # Errors twice as large: MSE x 4, so the PSNR drops by 10 log10(4) dB (Tang's too; VIFB's "mse" only doubles).
    a2, b2 = f + 2 * (a - f), f + 2 * (b - f)
    for fn, drop in ((peak_signal_to_noise_ratio, 10 * math.log10(4)), (psnr_tang, 10 * math.log10(4)),
                     (psnr_vifb, 10 * math.log10(2))):
        assert (fn(f, a, b) - fn(f, a2, b2)).item() == pytest.approx(drop, abs=1e-9)
