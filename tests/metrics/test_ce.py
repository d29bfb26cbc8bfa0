"""CE against a literal transcription of VIFB's metricsCross_entropy.m (default and every variant)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.ce import cross_entropy

# Every test runs through the CPU kernels (histograms, rounding) and through the torch forms.
pytestmark = pytest.mark.usefixtures('cpu_backend')


def _vifb_cross_entropy(img1: np.ndarray, fused: np.ndarray) -> float:
    """cross_entropy(img1, fused): 256-bin histograms, sum over bins where both are nonzero of P1 log2(P1 / P2)."""
    x1 = np.zeros(256)
    x2 = np.zeros(256)
    for g1, g2 in zip(img1.astype(int).ravel(), fused.astype(int).ravel()):
        x1[g1] += 1
        x2[g2] += 1
    result = 0.0
    for k in range(256):
        p1, p2 = x1[k] / img1.size, x2[k] / img1.size
        if p1 != 0 and p2 != 0:
            result = p1 * math.log2(p1 / p2) + result
    return result


def _reference(fused, ir, vis) -> float:
    """cross_entropy_single(img1 = VI, img2 = IR, fused)."""
    return (_vifb_cross_entropy(vis, fused) + _vifb_cross_entropy(ir, fused)) / 2


def _triples(seed: int, shape=(3, 1, 16, 12)):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, size=shape).astype(np.float64)
    b = np.clip(rng.normal(100, 30, size=shape).round(), 0, 255)
    f = np.clip(np.round((a + b) / 2), 0, 255)
    f[0] = b[0]                                       # structured: F equals VIS
    f[-1] = rng.integers(0, 4, size=shape[1:]) * 85   # four levels only: most source bins skipped
    return f, a, b


@pytest.mark.parametrize('seed', [0, 1])
@pytest.mark.parametrize('convention', ['default', 'vifb', 'mefb'])
def test_matches_vifb_code(seed, convention):
    f, a, b = _triples(seed)
    expected = [_reference(y[0], x[0], z[0]) for y, x, z in zip(f, a, b)]
    got = get_metric('ce', convention)(*(torch.from_numpy(t) for t in (f, a, b)))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-15)


def test_edge_cases():
    assert not get_metric('ce').higher_is_better
    img = torch.arange(64.).view(1, 1, 8, 8) * 4
    assert cross_entropy(img, img, img).item() == 0                        # equal histograms
    assert cross_entropy(img, img.flip(-1), img.transpose(-1, -2)).item() == 0   # only histograms matter
    # No shared level at all: every bin is skipped, the value is 0 rather than infinite.
    assert cross_entropy(torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 9.), torch.ones(1, 1, 2, 2)).item() == 0
    # Skipped bins can make it negative: p = (0.5, 0.5) against q = (1, 0) keeps 0.5 log2(0.5 / 1) only.
    half = torch.tensor([0., 9., 0., 9.]).view(1, 1, 2, 2)
    assert cross_entropy(torch.zeros(1, 1, 2, 2), half, half).item() == -0.5
    # Non-integer values are rounded to the nearest grey level, out-of-range ones clipped.
    torch.testing.assert_close(cross_entropy(img + 0.3, img - 0.4, img), cross_entropy(img, img, img))
    with pytest.raises(ValueError, match='Expected `vis` of shape'):
        cross_entropy(img, img, img[0])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 16))
def test_properties(seed):
    f, a, b = (torch.from_numpy(t[:1]) for t in _triples(seed, shape=(1, 1, 9, 9)))
    torch.testing.assert_close(cross_entropy(f, b, a), cross_entropy(f, a, b))
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(81))
    shuffled = [t.flatten()[perm].view(1, 1, 9, 9) for t in (f, a, b)]
    torch.testing.assert_close(cross_entropy(*shuffled), cross_entropy(f, a, b))
