"""EN and SD against independent references (numpy histogram + scipy entropy; numpy std)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

from metrics.en import entropy
from metrics.sd import standard_deviation

# Every test runs through the CPU kernels (histograms, rounding) and through the torch forms.
pytestmark = pytest.mark.usefixtures('cpu_backend')


@pytest.mark.parametrize('seed, shape, levels', [(0, (2, 1, 16, 16), 256), (1, (3, 1, 37, 53), 7),
                                                 (2, (1, 1, 5, 300), 2)])
def test_entropy_matches_scipy(seed, shape, levels):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, levels, size=shape) * (255 // max(levels - 1, 1))
    expected = [scipy.stats.entropy(np.bincount(img.ravel(), minlength=256), base=2) for img in images]
    np.testing.assert_allclose(entropy(torch.from_numpy(images).double()).numpy(), expected, rtol=1e-12)


def test_entropy_edge_cases():
    assert entropy(torch.full((1, 1, 8, 8), 42.)).item() == 0          # one grey level
    ramp = torch.arange(256.).view(1, 1, 16, 16)
    assert entropy(ramp).item() == pytest.approx(8.0, abs=1e-12)       # all 256 levels equally often
    # Non-integer values are rounded to the nearest level; out-of-range values are clipped to 0 and 255.
    torch.testing.assert_close(entropy(ramp + 0.3), entropy(ramp))
    assert entropy(torch.tensor([-5., 0., 260., 255.]).view(1, 1, 2, 2)).item() == pytest.approx(1.0)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_sd_matches_numpy(seed):
    images = np.random.default_rng(seed).uniform(0, 255, size=(3, 1, 29, 41))
    np.testing.assert_allclose(standard_deviation(torch.from_numpy(images)).numpy(),
                               images.reshape(3, -1).std(axis=1), rtol=1e-12)


def test_sd_of_float32_is_computed_in_float64():
    img = torch.full((1, 1, 64, 64), 200., dtype=torch.float32)
    img[..., ::2, :] += 1
    assert standard_deviation(img).dtype == torch.float64
    assert standard_deviation(img).item() == pytest.approx(0.5, abs=1e-12)
