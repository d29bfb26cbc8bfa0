"""CC against numpy.corrcoef and a transcription of Tang's CC_evaluation.m (default and every variant)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.cc import correlation_coefficient, correlation_coefficient_tang


def _corrcoef_cc(f, a, b) -> float:
    return float((np.corrcoef(a.ravel(), f.ravel())[0, 1] + np.corrcoef(b.ravel(), f.ravel())[0, 1]) / 2)


def _tang_cc(f, a, b) -> float:
    """CC_evaluation.m, restated with its rBF numerator centred by mean(A)."""
    fc = f - f.mean()
    r_af = np.sum((a - a.mean()) * fc) / np.sqrt(np.sum((a - a.mean()) ** 2) * np.sum(fc ** 2))
    r_bf = np.sum((b - a.mean()) * fc) / np.sqrt(np.sum((b - b.mean()) ** 2) * np.sum(fc ** 2))
    return float(np.mean([r_af, r_bf]))


def _triples(seed: int, shape=(3, 1, 12, 15)):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 256, size=shape).astype(np.float64), rng.integers(0, 256, size=shape).astype(np.float64)
    f = np.clip(np.round(0.5 * a + 0.4 * b + rng.normal(0, 20, size=shape)), 0, 255)
    f[0] = np.round((a[0] + b[0]) / 2)                  # structured: the average fusion
    f[-1] = 255 - a[-1]                                  # negatively correlated with IR
    return f, a, b


@pytest.mark.parametrize('seed', [0, 1])
def test_default_and_cddfuse_match_corrcoef(seed):
    f, a, b = _triples(seed)
    expected = [_corrcoef_cc(*x) for x in zip(f, a, b)]
    tensors = [torch.from_numpy(x) for x in (f, a, b)]
    np.testing.assert_allclose(correlation_coefficient(*tensors).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(get_metric('cc', 'cddfuse')(*tensors).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize('convention, scale', [('tang2022', 1 / 255), ('tang2023', 1.0)])
def test_tang_matches_its_code(convention, scale):
    f, a, b = _triples(2)
    expected = [_tang_cc(*(x * scale for x in t)) for t in zip(f, a, b)]
    tensors = [torch.from_numpy(x) for x in (f, a, b)]
    np.testing.assert_allclose(get_metric('cc', convention)(*tensors).numpy(), expected, rtol=1e-12)
    # The mean(A) centring cancels: the value is the textbook CC.
    np.testing.assert_allclose(correlation_coefficient_tang(*tensors).numpy(),
                               correlation_coefficient(*tensors).numpy(), rtol=1e-12)


@pytest.mark.parametrize('convention', ['default', 'cddfuse', 'tang2022', 'tang2023'])
def test_constant_images_raise(convention):
    spec = get_metric('cc', convention)
    f, a, b = (torch.from_numpy(x) for x in _triples(3))
    for pos, label in enumerate(['fused', 'ir', 'vis']):
        args = [f, a, b]
        args[pos] = args[pos].clone()
        args[pos][1] = 42.0
        with pytest.raises(ValueError, match=rf'`{label}` is constant \(image 1 of the batch\): CC is undefined'):
            spec(*args)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.floats(0.1, 10), st.floats(-50, 50))
def test_properties(seed, scale, offset):
    f, a, b = (torch.from_numpy(x[:1]) for x in _triples(seed % 1000, shape=(1, 1, 6, 7)))
    if any(float(t.max() - t.min()) == 0 for t in (f, a, b)):
        return
    cc = correlation_coefficient(f, a, b)
    assert -1 - 1e-12 <= cc.item() <= 1 + 1e-12
    torch.testing.assert_close(correlation_coefficient(f, b, a), cc)                          # symmetric in sources
    torch.testing.assert_close(correlation_coefficient(f * scale + offset, a, b * scale), cc)  # affine invariant
    torch.testing.assert_close(correlation_coefficient(a, a, a), torch.ones(1, dtype=torch.float64))
