"""RMSE: the default against scikit-image, VIFB's variant against a transcription of metricsRmse.m."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import mean_squared_error as sk_mse

from metrics import get_metric
from metrics.rmse import rmse_vifb, root_mean_squared_error


def _triples(seed: int, shape=(3, 1, 9, 14)):
    rng = np.random.default_rng(seed)
    f, a, b = (rng.integers(0, 256, size=shape).astype(np.float64) for _ in range(3))
    f[0] = b[0]
    return f, a, b


def _vifb_rmse(vi, ir, fused) -> float:
    """metricsRmse.m, Rmse(img1 = VI, img2 = IR, fused) with its helper `mse` = sqrt(SSE) / (m n)."""
    def mse(x, y):
        m, n = x.shape
        return np.sqrt(np.sum((x - y) ** 2)) / (m * n)
    return (mse(vi, fused) + mse(ir, fused)) / 2


def test_default_is_sqrt_of_mse():
    f, a, b = _triples(0)
    expected = [np.sqrt((sk_mse(x, y) + sk_mse(z, y)) / 2) for y, x, z in zip(f, a, b)]
    got = get_metric('rmse')(*(torch.from_numpy(x) for x in (f, a, b)))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize('seed', [1, 2])
def test_vifb_matches_its_code(seed):
    f, a, b = _triples(seed)
    expected = [_vifb_rmse(z[0], x[0], y[0]) for y, x, z in zip(f, a, b)]
    got = get_metric('rmse', 'vifb')(*(torch.from_numpy(x) for x in (f, a, b)))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    # It equals the mean per-source RMSE divided by sqrt(M N).
    per_source = [(np.sqrt(sk_mse(x, y)) + np.sqrt(sk_mse(z, y))) / 2 / np.sqrt(y.size) for y, x, z in zip(f, a, b)]
    np.testing.assert_allclose(got.numpy(), per_source, rtol=1e-12)


def test_edge_cases():
    assert not get_metric('rmse').higher_is_better and not get_metric('rmse', 'vifb').higher_is_better
    z = torch.zeros(1, 1, 4, 4)
    assert root_mean_squared_error(z, z, z).item() == 0 and rmse_vifb(z, z, z).item() == 0
    assert root_mean_squared_error(z, z + 6, z + 8).item() == pytest.approx(np.sqrt(50))
    with pytest.raises(ValueError, match='Expected `ir` to be finite'):
        rmse_vifb(z, z / 0, z)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 16), st.floats(0.1, 10))
def test_properties(seed, scale):
    f, a, b = (torch.from_numpy(x[:1]) for x in _triples(seed, shape=(1, 1, 6, 5)))
    for fn in (root_mean_squared_error, rmse_vifb):
        value = fn(f, a, b)
        torch.testing.assert_close(fn(f, b, a), value)
        torch.testing.assert_close(fn(f * scale, a * scale, b * scale), value * scale)
