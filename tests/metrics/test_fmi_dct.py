"""FMI_dct (fast-FMI on whole-image dct2 coefficients) against scipy's DCT, a transcription of fmi.m and Octave."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import torch

from metrics import get_metric
from metrics.fmi_dct import dct2, dct2_fft, fmi_dct
from tests.metrics.fmi_reference import fmi, tno10_crop

# Every test runs through the fused CPU kernel and through the torch form.
pytestmark = pytest.mark.usefixtures('cpu_backend')

# Every test runs through the fused CPU kernel and through the torch form.
pytestmark = pytest.mark.usefixtures('cpu_backend')

# GNU Octave 7.3.0 (signal 1.4.3 dct2) running analysis_fmi.m (Linfeng-Tang/Image-Fusion @ 53f5542f) as
# analysis_fmi(ir, vis, fused, 'dct') on the 48 x 48 crops of TNO #10 in fmi_reference.CROPS (SeAFusion; 0-255
# gray doubles, and '1' = the same / 255 as Tang 2022 passes), printed with %.17g.
OCTAVE_DCT = {('c1', 255): 0.30489645271156501, ('c1', 1): 0.30489645271156496,
              ('c2', 255): 0.31112028801625685, ('c2', 1): 0.31112028801625724}


@pytest.mark.parametrize('shape', [(1, 1, 1, 1), (2, 1, 7, 10), (1, 1, 16, 9), (3, 1, 5, 5)])
def test_dct2_matches_scipy(shape):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 255
    expected = scipy.fft.dctn(x.numpy(), type=2, norm='ortho', axes=(2, 3))
    np.testing.assert_allclose(dct2_fft(x).numpy(), expected, rtol=1e-12, atol=1e-10)   # the form for GPUs
    np.testing.assert_allclose(dct2(x).numpy(), expected, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize('seed', [0, 1])
def test_matches_fmi_m_transcription(seed):
    rng = np.random.default_rng(seed)
    ir, vis = rng.integers(0, 256, size=(2, 2, 1, 9, 11)).astype(np.float64)
    fused = np.round((ir + vis) / 2)
    expected = [fmi(a[0], b[0], f[0], 'dct') for f, a, b in zip(fused, ir, vis)]
    np.testing.assert_allclose(fmi_dct(*map(torch.from_numpy, (fused, ir, vis))).numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize('crop', ['c1', 'c2'])
def test_matches_octave_on_tno10_crops(data_root, crop):
    fused, ir, vis = tno10_crop(data_root, crop)
    assert fmi_dct(fused, ir, vis).item() == pytest.approx(OCTAVE_DCT[crop, 255], rel=1e-12)
    # Tang 2022 passes im2double ([0, 1]) images, Tang 2023 0-255 doubles; the windows are min-max normalised.
    assert get_metric('fmi_dct', 'tang2022').scale == pytest.approx(1 / 255)
    assert get_metric('fmi_dct', 'tang2022')(fused, ir, vis).item() == pytest.approx(OCTAVE_DCT[crop, 1], rel=1e-12)
    assert get_metric('fmi_dct', 'tang2023')(fused, ir, vis).item() == pytest.approx(OCTAVE_DCT[crop, 255], rel=1e-12)


def test_equal_constant_and_symmetric():
    g = torch.Generator().manual_seed(2)
    fused, ir, vis = (torch.randint(0, 256, (2, 1, 8, 9), generator=g).double() for _ in range(3))
    assert torch.equal(fmi_dct(fused, fused, fused), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(fmi_dct(fused, ir, vis), fmi_dct(fused, vis, ir), rtol=1e-12, atol=0)
    flat = torch.full_like(fused, 30.)
    for images in ((flat, ir, vis), (fused, flat, flat), (flat, flat, flat)):
        assert torch.isfinite(fmi_dct(*images)).all()


def test_rejects_small_images():
    img = torch.rand(1, 1, 2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r'H, W >= 3'):
        fmi_dct(img, img, img)
