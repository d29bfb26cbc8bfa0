"""FMI_edge (fast-FMI on MATLAB edge maps; Tang's "FMI_pixel", MEFB's "FMI") against transcriptions and Octave."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric
from metrics.fmi_edge import fmi_edge, matlab_edge
from tests.metrics.fmi_reference import fmi, tno10_crop
from tests.metrics.fmi_reference import matlab_edge as matlab_edge_reference

# Every test runs through the fused CPU kernel and through the torch form.
pytestmark = pytest.mark.usefixtures('cpu_backend')

# GNU Octave 7.3.0 running analysis_fmi.m (Linfeng-Tang/Image-Fusion @ 53f5542f) as analysis_fmi(ea, eb, ef, 'none')
# on edge maps of the 48 x 48 crops of TNO #10 in fmi_reference.CROPS (SeAFusion; 0-255 gray, and '1' = / 255).
# Octave's own `edge` is not MATLAB's (different thinning; it rejects 0-255 doubles), so the maps were made in
# Octave by a transcription of MATLAB edge.m's portable code (the same rules as fmi_reference.matlab_edge); the
# FMI itself is the original file. Printed with %.17g. Edge pixel counts (ir, vis, fused) are Octave's too.
OCTAVE_EDGE = {('c1', 255): 0.82194988759968735, ('c1', 1): 0.82194988759968735,
               ('c2', 255): 0.90957695916452996, ('c2', 1): 0.90981325406056024}
OCTAVE_EDGE_PIXELS = {('c1', 255): (69, 87, 91), ('c1', 1): (69, 87, 91),
                      ('c2', 255): (76, 23, 76), ('c2', 1): (76, 22, 76)}


def _images(seed, shape=(2, 1, 12, 14)):
    """Blocky images with noise: strong edges, flat regions, ties in the gradient magnitude."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(3):
        blocks = np.kron(rng.integers(0, 5, size=(shape[0], 1, shape[2] // 2, shape[3] // 2)) * 50,
                         np.ones((1, 1, 2, 2)))
        out.append(np.clip(blocks + rng.integers(-3, 4, size=shape) * (rng.random(shape) < 0.3), 0, 255))
    return [a.astype(np.float64) for a in out]


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_edge_map_matches_matlab_transcription(seed):
    for img in _images(seed):
        t = torch.from_numpy(img)
        ours = matlab_edge(t).numpy()
        for i in range(img.shape[0]):
            np.testing.assert_array_equal(ours[i, 0], matlab_edge_reference(img[i, 0]))


def test_edge_map_rules():
    step = torch.zeros(1, 1, 6, 9, dtype=torch.float64)
    step[..., 5:] = 255.
    e = matlab_edge(step)[0, 0]
    # |bx| ties on columns 4 and 5; thinning keeps the right one (b(r, c-1) <= b(r, c) and b(r, c) > b(r, c+1)),
    # but b must exceed 4 * mean(b): 2 of 9 columns carry the edge, 2 * 4 / 9 < 1, so it does.
    assert e.sum(dim=0).tolist() == [0, 0, 0, 0, 0, 6, 0, 0, 0]
    assert matlab_edge(torch.full((1, 1, 5, 5), 9.)).sum() == 0          # flat: b == cutoff == 0, no edge
    torch.testing.assert_close(matlab_edge(step / 255), e[None, None])   # relative threshold: scale-free


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_matches_fmi_m_transcription(seed):
    fused, ir, vis = _images(seed)
    expected = [fmi(a[0], b[0], f[0], 'edge') for f, a, b in zip(fused, ir, vis)]
    np.testing.assert_allclose(fmi_edge(*map(torch.from_numpy, (fused, ir, vis))).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize('crop', ['c1', 'c2'])
@pytest.mark.parametrize('scale', [255, 1])
def test_matches_octave_on_tno10_crops(data_root, crop, scale):
    fused, ir, vis = (t * (scale / 255) for t in tno10_crop(data_root, crop))
    counts = tuple(int(matlab_edge(t).sum()) for t in (ir, vis, fused))
    assert counts == OCTAVE_EDGE_PIXELS[crop, scale]
    assert fmi_edge(fused, ir, vis).item() == pytest.approx(OCTAVE_EDGE[crop, scale], rel=1e-12)


@pytest.mark.parametrize('crop', ['c1', 'c2'])
def test_conventions_on_tno10_crops(data_root, crop):
    """Tang's FMI_pixel is FMI_edge: tang2022 on [0, 1] data (scale 1/255), tang2023 and MEFB on 0-255."""
    fused, ir, vis = tno10_crop(data_root, crop)
    assert get_metric('fmi_pixel', 'tang2022').scale == pytest.approx(1 / 255)
    assert get_metric('fmi_pixel', 'tang2022')(fused, ir, vis).item() == pytest.approx(
        fmi_edge(fused / 255, ir / 255, vis / 255).item(), rel=1e-12)
    for convention in ('tang2023',):
        assert get_metric('fmi_pixel', convention)(fused, ir, vis).item() == pytest.approx(
            OCTAVE_EDGE[crop, 255], rel=1e-12)
    assert get_metric('fmi_edge', 'mefb')(fused, ir, vis).item() == pytest.approx(OCTAVE_EDGE[crop, 255], rel=1e-12)
    assert get_metric('fmi_edge')(fused, ir, vis).item() == pytest.approx(OCTAVE_EDGE[crop, 255], rel=1e-12)


def test_equal_and_constant_images():
    img = torch.from_numpy(_images(5)[0])
    assert torch.equal(fmi_edge(img, img, img), torch.ones(2, dtype=torch.float64))
    flat = torch.full((1, 1, 10, 10), 50.)
    assert fmi_edge(flat, flat, flat).item() == 1.0                       # no edges anywhere
    noisy = torch.rand(1, 1, 10, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 255
    for images in ((flat, noisy, noisy), (noisy, flat, flat)):
        assert torch.isfinite(fmi_edge(*images)).all()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2 ** 31))
def test_symmetric_in_sources(seed):
    fused, ir, vis = map(torch.from_numpy, _images(seed, shape=(1, 1, 10, 12)))
    torch.testing.assert_close(fmi_edge(fused, ir, vis), fmi_edge(fused, vis, ir), rtol=1e-12, atol=0)


def test_rejects_small_images():
    img = torch.rand(1, 1, 8, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r'Expected `fused` with N >= 1 and H, W >= 3'):
        fmi_edge(img, img, img)
