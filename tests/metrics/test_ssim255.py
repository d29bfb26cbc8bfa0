"""SSIM255 (IF-FILM's copy of CDDFuse's evaluator) against scikit-image with data_range=255 on float32 images."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from metrics import get_metric, list_conventions, list_metrics
from metrics.ssim255 import ssim255


@pytest.mark.parametrize('seed, shape', [(0, (2, 1, 40, 52)), (1, (1, 1, 7, 9))])
def test_matches_skimage_float32(seed, shape):
    rng = np.random.default_rng(seed)
    f, a, b = (rng.integers(0, 256, size=shape).astype(np.float64) for _ in range(3))
    a[..., :5, :5] = f[..., :5, :5] = 40.
    expected = [sum(structural_similarity(f[i, 0].astype(np.float32), x[i, 0].astype(np.float32), data_range=255)
                    for x in (a, b)) for i in range(shape[0])]
    ours = ssim255(*(torch.from_numpy(x) for x in (f, a, b)))
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(get_metric('ssim255', 'cddfuse')(*(torch.from_numpy(x) for x in (f, a, b))).numpy(),
                               expected, rtol=1e-12)


def test_registered_for_cddfuse_only_and_differs_from_data_range_2():
    assert [c for c in list_conventions() if 'ssim255' in list_metrics(convention=c)] == ['cddfuse']
    rng = np.random.default_rng(2)
    f, a, b = (torch.from_numpy(rng.integers(0, 256, size=(1, 1, 32, 32)).astype(np.float64)) for _ in range(3))
    assert ssim255(f, a, b).item() != pytest.approx(get_metric('ssim', 'cddfuse')(f, a, b).item(), rel=1e-3)
    const = torch.full_like(f, 5.)
    assert ssim255(const, const, const).item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match='`ir` of the same shape'):
        ssim255(f, a[..., :-1], b)
