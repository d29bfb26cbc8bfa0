"""TE (Tsallis MI) against a numpy transcription of MEFB metricsTE.m and a direct textbook computation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.te import tsallis_entropy, tsallis_entropy_mefb
from tests.metrics.mefb_reference import joint_histogram, normalize1
from tests.metrics.metric_inputs import tensors

# Every test runs through the CPU kernels (histograms, rounding) and through the torch forms.
pytestmark = pytest.mark.usefixtures('cpu_backend')


def _mefb_tsallis(im1, im2, q):
    """MEFB metricsTE.m tsallis(): note im1_marg = sum(h) are the column (im2) sums, indexed by the row level."""
    h = joint_histogram(im1, im2)
    im1_marg, im2_marg = h.sum(axis=0), h.sum(axis=1)
    result = 0.0
    for i in range(256):
        for j in np.nonzero(im2_marg)[0]:
            buff = im1_marg[i] * im2_marg[j]
            if buff != 0:
                result += h[i, j] ** q / buff ** (q - 1)
    return (1 - result) / (1 - q)


def mefb_te(im1, im2, fused):
    im1, im2, fused = normalize1(im1), normalize1(im2), normalize1(fused)
    return _mefb_tsallis(im1, fused, 1.85) + _mefb_tsallis(im2, fused, 1.85)


def textbook_te(fused, ir, vis, q=1.85):
    """Cvejic: sum over sources of (1 - sum p(x,f)^q / (p(x) p(f))^(q-1)) / (1 - q), from label co-occurrences."""
    total = 0.0
    f = fused.astype(int).ravel()
    for src in (ir, vis):
        s = src.astype(int).ravel()
        pairs, counts = np.unique(np.stack([s, f]), axis=1, return_counts=True)
        p = counts / s.size
        ps = {v: c / s.size for v, c in zip(*np.unique(s, return_counts=True))}
        pf = {v: c / s.size for v, c in zip(*np.unique(f, return_counts=True))}
        acc = sum(pk ** q / (ps[a] * pf[b]) ** (q - 1) for (a, b), pk in zip(pairs.T, p))
        total += (1 - acc) / (1 - q)
    return total


def _images(seed, shape=(2, 1, 17, 21), levels=256):
    rng = np.random.default_rng(seed)
    ir = rng.integers(0, levels, size=shape)
    vis = np.clip(ir // 2 + rng.integers(0, levels // 2 + 1, size=shape), 0, levels - 1)
    fused = np.clip((ir + vis) // 2 + rng.integers(-2, 3, size=shape), 0, levels - 1)
    return [a.astype(np.float64) for a in (fused, ir, vis)]


@pytest.mark.parametrize('seed, levels', [(0, 256), (1, 12), (2, 3)])
def test_mefb_variant_matches_transcription(seed, levels):
    fused, ir, vis = _images(seed, levels=levels)
    expected = [mefb_te(a[0], b[0], f[0]) for f, a, b in zip(fused, ir, vis)]
    np.testing.assert_allclose(tsallis_entropy_mefb(*tensors(fused, ir, vis)).numpy(), expected, rtol=1e-11)
    np.testing.assert_allclose(get_metric('te', 'mefb')(*tensors(fused, ir, vis)).numpy(), expected, rtol=1e-11)


@pytest.mark.parametrize('seed, levels, q', [(3, 256, 1.85), (4, 7, 1.85), (5, 50, 0.43137), (6, 256, 3.0)])
def test_default_matches_textbook(seed, levels, q):
    fused, ir, vis = _images(seed, levels=levels)
    expected = [textbook_te(f[0], a[0], b[0], q) for f, a, b in zip(fused, ir, vis)]
    np.testing.assert_allclose(tsallis_entropy(*tensors(fused, ir, vis), q=q).numpy(), expected, rtol=1e-11)


def test_mefb_marginal_mixup_differs_from_textbook():
    img = torch.tensor([0., 0., 0., 255.]).repeat(4).reshape(1, 1, 4, 4)
    # Identical images: the swapped marginals coincide, both give 2 (1 - sum p^(2-q)) / (1 - q).
    p = np.array([0.75, 0.25])
    expected = 2 * (1 - np.sum(p ** (2 - 1.85))) / (1 - 1.85)
    assert tsallis_entropy(img, img, img).item() == pytest.approx(expected, rel=1e-12)
    assert tsallis_entropy_mefb(img, img, img).item() == pytest.approx(expected, rel=1e-12)
    # Flipped levels: MEFB divides p(0, 255) = 3/4 by p_f(0) p_s(255) = 1/16 instead of 9/16.
    assert tsallis_entropy(255 - img, img, img).item() == pytest.approx(expected, rel=1e-12)
    mixed = 2 * ((0.75 ** 1.85 / (0.25 * 0.25) ** 0.85 + 0.25 ** 1.85 / (0.75 * 0.75) ** 0.85) - 1) / 0.85
    assert tsallis_entropy_mefb(255 - img, img, img).item() == pytest.approx(mixed, rel=1e-12)


def test_degenerate_inputs():
    fused, ir, vis = tensors(*_images(7, shape=(1, 1, 12, 12)))
    const = torch.full_like(fused, 200.)
    # A constant image carries no information: I_q = 0 exactly (sum of p(f) = 1).
    assert tsallis_entropy(fused, const, const).abs().item() < 1e-12
    assert tsallis_entropy(const, ir, vis).abs().item() < 1e-12
    with pytest.raises(ValueError, match='`fused` is constant \\(200\\) in image 0: MEFB normalize1'):
        tsallis_entropy_mefb(const, ir, vis)
    zero = torch.zeros_like(fused)
    assert tsallis_entropy_mefb(zero, zero, zero).abs().item() < 1e-12
    with pytest.raises(ValueError, match='Expected `q` != 1'):
        tsallis_entropy(fused, ir, vis, q=1)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16))
def test_symmetric_in_sources_and_invariant_to_relabelling(seed):
    fused, ir, vis = tensors(*_images(seed, shape=(1, 1, 9, 10)))
    value = tsallis_entropy(fused, ir, vis)
    torch.testing.assert_close(tsallis_entropy(fused, vis, ir), value, rtol=1e-12, atol=0)
    torch.testing.assert_close(tsallis_entropy_mefb(fused, vis, ir), tsallis_entropy_mefb(fused, ir, vis),
                               rtol=1e-12, atol=0)
    # The textbook value depends only on the co-occurrence counts: any bijective relabelling leaves it unchanged.
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(256)).double()
    torch.testing.assert_close(tsallis_entropy(perm[fused.long()], 255 - ir, perm[vis.long()]), value,
                               rtol=1e-10, atol=1e-12)
