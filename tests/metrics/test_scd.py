"""SCD against numpy.corrcoef restatements of analysis_SCD.m / CDDFuse's SCD (default and every variant)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.scd import sum_of_correlations_of_differences as scd


def _reference(f, a, b) -> float:
    """r = corr2(fus - img2, img1) + corr2(fus - img1, img2), img1 = IR, img2 = VIS."""
    return float(np.corrcoef((f - b).ravel(), a.ravel())[0, 1] + np.corrcoef((f - a).ravel(), b.ravel())[0, 1])


def _triples(seed: int, shape=(3, 1, 11, 16)):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 256, size=shape).astype(np.float64), rng.integers(0, 256, size=shape).astype(np.float64)
    f = np.clip(np.round(0.6 * a + 0.5 * b + rng.normal(0, 15, size=shape)), 0, 255)
    f[0] = np.maximum(a[0], b[0])                        # structured: max fusion
    f[-1] = np.round((a[-1] + b[-1]) / 2)                # average fusion
    return f, a, b


@pytest.mark.parametrize('seed', [0, 1])
@pytest.mark.parametrize('convention', ['default', 'cddfuse', 'tang2022', 'tang2023'])
def test_matches_reference(seed, convention):
    f, a, b = _triples(seed)
    expected = [_reference(*x) for x in zip(f, a, b)]
    got = get_metric('scd', convention)(*(torch.from_numpy(x) for x in (f, a, b)))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_degenerate_inputs_raise():
    f, a, b = (torch.from_numpy(x) for x in _triples(2))
    const = a.clone()
    const[2] = 7.
    with pytest.raises(ValueError, match=r'`ir` is constant \(image 2 of the batch\): SCD is undefined'):
        scd(f, const, b)
    with pytest.raises(ValueError, match=r'`vis` is constant \(image 2 of the batch\)'):
        scd(f, a, const)
    with pytest.raises(ValueError, match=r'`fused` - `vis` is constant \(image 0 of the batch\)'):
        scd(b + 3, a, b)
    with pytest.raises(ValueError, match=r'`fused` - `ir` is constant \(image 0 of the batch\)'):
        get_metric('scd', 'tang2022')(a, a, b)
    assert scd(a + b, a, b).tolist() == pytest.approx([2, 2, 2], abs=1e-12)   # F = A + B: both kept entirely


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 16), st.floats(0.1, 10), st.floats(-50, 50))
def test_properties(seed, scale, offset):
    f, a, b = (torch.from_numpy(x[:1]) for x in _triples(seed, shape=(1, 1, 7, 6)))
    value = scd(f, a, b)
    assert -2 - 1e-12 <= value.item() <= 2 + 1e-12
    torch.testing.assert_close(scd(f, b, a), value)                                           # symmetric
    torch.testing.assert_close(scd(*(t * scale + offset for t in (f, a, b))), value)         # affine invariant
