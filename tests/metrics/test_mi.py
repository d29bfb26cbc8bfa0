"""MI against independent references: scikit-learn, scipy entropies, and numpy transcriptions of Tang's
MI_evaluation.m/Hab.m and VIFB's metricsMutinf.m (per-pixel histogram loops as in the MATLAB code)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.stats
import sklearn.metrics
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.en import entropy
from metrics.mi import (mutual_information, mutual_information_sklearn, mutual_information_tang,
                        mutual_information_vifb)

# Every test runs through the CPU kernels (histograms, rounding) and through the torch forms.
pytestmark = pytest.mark.usefixtures('cpu_backend')


def _images(seed: int, shape=(3, 1, 23, 37), levels=256, lo=0) -> tuple[torch.Tensor, ...]:
    rng = np.random.default_rng(seed)
    f = rng.integers(lo, levels, size=shape)
    # Sources correlated with the fused image, so MI is far from 0.
    a = np.clip(f + rng.integers(-20, 21, size=shape), 0, 255)
    b = np.clip(255 - f + rng.integers(-60, 61, size=shape), 0, 255)
    return tuple(torch.from_numpy(x).double() for x in (f, a, b))


def _sk(x, y) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')     # sklearn warns about continuous labels
        return sklearn.metrics.mutual_info_score(np.asarray(x).ravel(), np.asarray(y).ravel())


def _scipy_mi_bits(x: np.ndarray, y: np.ndarray) -> float:
    joint = np.histogram2d(x.ravel(), y.ravel(), bins=256, range=[[-0.5, 255.5]] * 2)[0]
    h = scipy.stats.entropy
    return h(joint.sum(1), base=2) + h(joint.sum(0), base=2) - h(joint.ravel(), base=2)


def tang_transcription(f: np.ndarray, a: np.ndarray) -> float:
    """MI_evaluation.m's MIFA = HA + HF - Hab(F, A) with MATLAB uint8 semantics (x + 1 saturates at 255)."""
    def matlab_entropy(img):
        p = np.bincount(img.ravel(), minlength=256).astype(float)
        p = p[p != 0] / img.size
        return -np.sum(p * np.log2(p))

    counter = np.zeros((256, 256))
    ix = np.minimum(f.astype(np.int64) + 1, 255)       # uint8 arithmetic
    iy = np.minimum(a.astype(np.int64) + 1, 255)
    np.add.at(counter, (ix.ravel() - 1, iy.ravel() - 1), 1)
    p = counter / counter.sum()
    nz = p[counter != 0]
    hab = np.sum(-nz * np.log2(nz))
    return matlab_entropy(a) + matlab_entropy(f) - hab


def vifb_transcription(a: np.ndarray, b: np.ndarray) -> float:
    """metricsMutinf.m's mutinf(a, b): min-max stretch, int16(x*255)+1 bins, natural log."""
    def stretch(x):
        x = x.astype(float)
        if x.max() != x.min():
            x = (x - x.min()) / (x.max() - x.min())
        else:
            x = np.zeros_like(x)
        v = x * 255
        return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)   # int16(): round half away

    ia, ib = stretch(a), stretch(b)
    hab, ha, hb = np.zeros((256, 256)), np.zeros(256), np.zeros(256)
    np.add.at(hab, (ia.ravel(), ib.ravel()), 1)
    np.add.at(ha, ia.ravel(), 1)
    np.add.at(hb, ib.ravel(), 1)

    def ent(h):
        p = h / h.sum()
        p = p[h != 0]
        return np.sum(-p * np.log(p))
    return ent(ha) + ent(hb) - ent(hab)


@pytest.mark.parametrize('seed, levels', [(0, 256), (1, 7), (2, 40)])
def test_default_matches_scipy_and_sklearn(seed, levels):
    f, a, b = _images(seed, levels=levels)
    ours = mutual_information(f, a, b).numpy()
    scipy_ref = [_scipy_mi_bits(f[i].numpy(), a[i].numpy()) + _scipy_mi_bits(f[i].numpy(), b[i].numpy())
                 for i in range(3)]
    np.testing.assert_allclose(ours, scipy_ref, rtol=1e-12)
    sk_bits = [(_sk(f[i], a[i]) + _sk(f[i], b[i])) / math.log(2) for i in range(3)]
    np.testing.assert_allclose(ours, sk_bits, rtol=1e-10)


def test_default_bins_rounded_clipped_levels():
    f, a, b = _images(3)
    torch.testing.assert_close(mutual_information(f + 0.3, a - 0.2, b), mutual_information(f, a, b))
    torch.testing.assert_close(mutual_information(f * 1.5 - 100, a, b),
                               mutual_information((f * 1.5 - 100).round().clamp(0, 255), a, b))


@pytest.mark.parametrize('seed', [0, 1])
def test_cddfuse_is_sklearn_on_levels_and_on_floats(seed):
    f, a, b = _images(seed)
    expected = [_sk(f[i], a[i]) + _sk(f[i], b[i]) for i in range(3)]
    np.testing.assert_allclose(mutual_information_sklearn(f, a, b).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(get_metric('mi', 'cddfuse')(f, a, b).numpy(), expected, rtol=1e-12)
    # Non-integer values: every distinct value is its own label, as in sklearn (no binning).
    g = torch.Generator().manual_seed(seed)
    ff = f + torch.rand(f.shape, generator=g, dtype=torch.float64).round() * 0.25
    aa = a / 3
    expected = [_sk(ff[i], aa[i]) + _sk(ff[i], b[i]) for i in range(3)]
    np.testing.assert_allclose(mutual_information_sklearn(ff, aa, b).numpy(), expected, rtol=1e-12)


def test_cddfuse_constant_image_is_zero_as_sklearn():
    f, a, b = _images(4)
    const = torch.full_like(a, 77.)
    ours = mutual_information_sklearn(f, const, b)
    assert _sk(f[0], const[0]) == 0.0
    np.testing.assert_allclose(ours.numpy(), [_sk(f[i], b[i]) for i in range(3)], rtol=1e-12)
    assert mutual_information_sklearn(const, const, const + 0.5).tolist() == [0.0] * 3


@pytest.mark.parametrize('seed, lo', [(0, 0), (5, 200), (6, 250)])
def test_tang_matches_transcription(seed, lo):
    f, a, b = _images(seed, lo=lo)
    expected = [tang_transcription(f[i].numpy().astype(np.uint8), a[i].numpy().astype(np.uint8))
                + tang_transcription(f[i].numpy().astype(np.uint8), b[i].numpy().astype(np.uint8))
                for i in range(3)]
    np.testing.assert_allclose(mutual_information_tang(f, a, b).numpy(), expected, rtol=1e-12)
    for convention in ('tang2022', 'tang2023'):
        np.testing.assert_allclose(get_metric('mi', convention)(f, a, b).numpy(), expected, rtol=1e-12)


def test_tang_merges_254_and_255_in_the_joint_histogram_only():
    f, a, b = _images(7)
    # Without 255 anywhere the saturation never happens: Tang's MI is the textbook MI.
    f, a, b = (t.clamp(max=254) for t in (f, a, b))
    torch.testing.assert_close(mutual_information_tang(f, a, b), mutual_information(f, a, b))
    # A constant fused image: textbook MI 0, but H(A) counts 254 and 255 apart while H(F, A) merges them.
    ir = torch.tensor([254., 255.]).repeat(8).view(1, 1, 4, 4)
    const = torch.full_like(ir, 9.)
    assert mutual_information(const, ir, ir).item() == 0
    assert mutual_information_tang(const, ir, ir).item() == pytest.approx(2.0)


@pytest.mark.parametrize('seed, levels, lo', [(0, 256, 0), (1, 100, 20), (2, 256, 240), (3, 3, 1)])
def test_vifb_matches_transcription(seed, levels, lo):
    f, a, b = _images(seed, levels=levels, lo=lo)
    a, b = a * 0.5 + 10, b.clamp(30, 200)       # narrow ranges: the stretch matters
    expected = [vifb_transcription(b[i].numpy(), f[i].numpy()) + vifb_transcription(a[i].numpy(), f[i].numpy())
                for i in range(3)]
    np.testing.assert_allclose(mutual_information_vifb(f, a, b).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(get_metric('mi', 'vifb')(f, a, b).numpy(), expected, rtol=1e-12)


def test_vifb_equals_cddfuse_on_full_range_images_and_handles_constants():
    f, a, b = _images(8)
    f[:, :, 0, 0], a[:, :, 0, 0], b[:, :, 0, 0] = 0, 0, 0
    f[:, :, 0, 1], a[:, :, 0, 1], b[:, :, 0, 1] = 255, 255, 255
    torch.testing.assert_close(mutual_information_vifb(f, a, b), mutual_information_sklearn(f, a, b))
    const = torch.full_like(a, 3.)
    assert vifb_transcription(const[0].numpy(), f[0].numpy()) == 0
    torch.testing.assert_close(mutual_information_vifb(f, const, b), mutual_information_vifb(f, b, b) / 2)


def test_identity_is_twice_the_entropy():
    f, _, _ = _images(9)
    torch.testing.assert_close(mutual_information(f, f, f), 2 * entropy(f))
    torch.testing.assert_close(mutual_information_sklearn(f, f, f), 2 * entropy(f) * math.log(2))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2 ** 31), perm_seed=st.integers(0, 2 ** 31))
def test_property_invariant_to_relabelling_grey_levels(seed, perm_seed):
    """MI depends only on which pixels share a level: a bijective remap of F's grey levels leaves it unchanged,
    and MI(X, F) <= H(F)."""
    f, a, b = _images(seed % 10_000, shape=(1, 1, 16, 20))
    perm = torch.from_numpy(np.random.default_rng(perm_seed).permutation(256)).double()
    remapped = perm[f.long()]
    torch.testing.assert_close(mutual_information(remapped, a, b), mutual_information(f, a, b), rtol=1e-12,
                               atol=1e-12)
    torch.testing.assert_close(mutual_information_sklearn(remapped, a, b), mutual_information_sklearn(f, a, b),
                               rtol=1e-12, atol=1e-12)
    assert mutual_information(f, a, b).item() <= 2 * entropy(f).item() + 1e-12
