"""MSE against scikit-image's mean_squared_error (default and every variant)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import mean_squared_error as sk_mse

from metrics import get_metric
from metrics.mse import mean_squared_error


def _triples(seed: int, shape=(3, 1, 10, 13)):
    rng = np.random.default_rng(seed)
    f, a, b = (rng.integers(0, 256, size=shape).astype(np.float64) for _ in range(3))
    f[0] = a[0]                                           # structured: F equals IR
    f[-1] = 255 - b[-1]
    return f, a, b


def _reference(f, a, b, scale=1.0) -> list[float]:
    return [(sk_mse(x * scale, y * scale) + sk_mse(z * scale, y * scale)) / 2 for y, x, z in zip(f, a, b)]


@pytest.mark.parametrize('convention, scale', [('default', 1.0), ('cddfuse', 1.0), ('tang2022', 1 / 255),
                                               ('tang2023', 1 / 255)])
def test_matches_skimage(convention, scale):
    f, a, b = _triples(0)
    got = get_metric('mse', convention)(*(torch.from_numpy(x) for x in (f, a, b)))
    np.testing.assert_allclose(got.numpy(), _reference(f, a, b, scale), rtol=1e-12)


def test_direction_and_edge_cases():
    assert not get_metric('mse').higher_is_better
    z = torch.zeros(2, 1, 3, 3)
    assert mean_squared_error(z, z, z).tolist() == [0, 0]                 # identical images: 0, no error
    assert mean_squared_error(z, z + 255, z).tolist() == [255 ** 2 / 2] * 2
    with pytest.raises(ValueError, match='Expected `vis` of the same shape'):
        mean_squared_error(z, z, z[..., :2])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 16), st.floats(-50, 50))
def test_properties(seed, offset):
    f, a, b = (torch.from_numpy(x[:1]) for x in _triples(seed, shape=(1, 1, 5, 8)))
    value = mean_squared_error(f, a, b)
    assert value.item() >= 0
    torch.testing.assert_close(mean_squared_error(f, b, a), value)
    torch.testing.assert_close(mean_squared_error(f + offset, a + offset, b + offset), value)
