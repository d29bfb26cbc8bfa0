"""FMI_pixel (fast-FMI on raw pixels) against a plain-Python transcription of fmi.m and GNU Octave values."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import get_metric, list_conventions, list_metrics
from metrics.fmi_pixel import fmi_of_features, fmi_pixel, windows_column_major
from tests.metrics.fmi_reference import fmi, tno10_crop

# Every test runs through the fused CPU kernel and through the torch form.
pytestmark = pytest.mark.usefixtures('cpu_backend')

# GNU Octave 7.3.0 running analysis_fmi.m (Linfeng-Tang/Image-Fusion @ 53f5542f, identical at dba5bf3d) as
# analysis_fmi(ir, vis, fused, 'none') on the 48 x 48 crops of TNO #10 named in fmi_reference.CROPS (SeAFusion
# fused, images read as gray 0-255 doubles; '01' = the same images / 255), printed with %.17g.
OCTAVE_NONE = {('c1', 255): 0.35640684402020195, ('c1', 1): 0.35640684402020184,
               ('c2', 255): 0.28246844144748939, ('c2', 1): 0.28246844144748906}


def _images(seed, shape=(2, 1, 11, 13), levels=256):
    rng = np.random.default_rng(seed)
    step = 255 // max(levels - 1, 1)
    ir = rng.integers(0, levels, size=shape) * step
    vis = rng.integers(0, levels, size=shape) * step
    fused = np.where(rng.random(shape) < 0.5, ir, vis)
    return [a.astype(np.float64) for a in (fused, ir, vis)]


def _flat_patches(seed, shape=(1, 1, 12, 12)):
    """Piecewise-constant images: many constant and equal 3x3 windows."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(3):
        img = np.kron(rng.integers(0, 4, size=(shape[2] // 4, shape[3] // 4)) * 60, np.ones((4, 4)))
        out.append(img.reshape(shape).astype(np.float64))
    out[0][..., :6, :] = out[1][..., :6, :]                 # fused equal to IR on the top half
    return out


@pytest.mark.parametrize('seed, levels', [(0, 256), (1, 4), (2, 2)])
def test_matches_fmi_m_transcription(seed, levels):
    fused, ir, vis = _images(seed, levels=levels)
    expected = [fmi(a[0], b[0], f[0], 'none') for f, a, b in zip(fused, ir, vis)]
    got = fmi_pixel(*map(torch.from_numpy, (fused, ir, vis)))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize('seed', [0, 1])
def test_constant_and_equal_windows_match_transcription(seed):
    fused, ir, vis = _flat_patches(seed)
    expected = fmi(ir[0, 0], vis[0, 0], fused[0, 0], 'none')
    assert fmi_pixel(*map(torch.from_numpy, (fused, ir, vis))).item() == pytest.approx(expected, rel=1e-12)


def test_windows_are_column_major():
    x = torch.arange(12.).view(1, 1, 3, 4)
    assert windows_column_major(x)[0, 0].tolist() == [0., 4., 8., 1., 5., 9., 2., 6., 10.]


@pytest.mark.parametrize('crop', ['c1', 'c2'])
@pytest.mark.parametrize('scale', [255, 1])
def test_matches_octave_on_tno10_crops(data_root, crop, scale):
    fused, ir, vis = (t * (scale / 255) for t in tno10_crop(data_root, crop))
    assert fmi_pixel(fused, ir, vis).item() == pytest.approx(OCTAVE_NONE[crop, scale], rel=1e-12)


def test_equal_windows_score_one():
    img = torch.rand(2, 1, 9, 10, dtype=torch.float64) * 255
    assert torch.equal(fmi_pixel(img, img, img), torch.ones(2, dtype=torch.float64))
    # Two constant windows with different values are as similar as equal ones (see fmi_of_features).
    a, b = torch.full((1, 1, 5, 5), 3.), torch.full((1, 1, 5, 5), 200.)
    assert fmi_pixel(a, b, b).item() == pytest.approx(1.0, abs=1e-12)


def test_constant_images_are_finite():
    rng = torch.Generator().manual_seed(0)
    noise = torch.randint(0, 256, (1, 1, 16, 16), generator=rng).double()
    flat = torch.full_like(noise, 128.)
    for images in ((flat, noise, noise), (noise, flat, flat), (flat, flat, flat)):
        out = fmi_pixel(*images)
        assert torch.isfinite(out).all() and -1e-15 <= out.item() <= 1 + 1e-12
        # A flat window against a noisy one has no mutual information: 0 up to rounding, of either sign
        # (the transcription gives 1.0e-16 and 1.4e-16 for the first two, the kernel -1.1e-16 and -1.6e-16).
        f, a, b = (x[0, 0].numpy() for x in images)
        assert out.item() == pytest.approx(fmi(a, b, f, 'none'), abs=1e-15)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2 ** 31), scale=st.sampled_from([1 / 255, 2.0, 0.5]))
def test_symmetric_and_scale_invariant(seed, scale):
    fused, ir, vis = map(torch.from_numpy, _images(seed, shape=(1, 1, 8, 9), levels=16))
    value = fmi_pixel(fused, ir, vis)
    torch.testing.assert_close(fmi_pixel(fused, vis, ir), value, rtol=1e-12, atol=0)
    torch.testing.assert_close(fmi_pixel(fused * scale, ir * scale, vis * scale), value, rtol=1e-9, atol=1e-12)


def test_batch_of_feature_maps_and_dtype():
    fused, ir, vis = map(torch.from_numpy, _images(3, shape=(3, 1, 7, 8)))
    batch = fmi_of_features(fused, ir, vis)
    singles = torch.cat([fmi_of_features(fused[i:i + 1], ir[i:i + 1], vis[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(batch, singles, rtol=1e-14, atol=0)
    assert fmi_pixel(fused.float(), ir.float(), vis.float()).dtype == torch.float64


def test_rejects_small_or_mismatched_images():
    img = torch.rand(1, 1, 2, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match=r'H, W >= 3'):
        fmi_pixel(img, img, img)
    big = torch.rand(1, 1, 5, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match='Expected `vis` of the same shape'):
        fmi_pixel(big, big, big[..., :4])


def test_registered_only_for_default():
    assert [c for c in list_conventions() if 'fmi_pixel' in list_metrics(convention=c)
            and get_metric('fmi_pixel', c).fn is fmi_pixel] == ['default']


def test_kernels_vectorised_log_matches_the_c_library(cpu_backend):
    """The FMI kernel's own log (fdlibm's, written so that it vectorises) against numpy's, special values included."""
    if cpu_backend != 'kernel':
        pytest.skip("checks the kernel's function")
    from metrics._numba_math import log_abs

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.random(100_000), np.exp(rng.uniform(-700, 700, 100_000)), -rng.random(1000),
                        1 + rng.normal(0, 1e-9, 1000), [1., 2., 0.5, np.sqrt(2), np.nextafter(np.sqrt(2), 3)],
                        [0., -0., 5e-324, 1e-310, -1e-310, np.inf, -np.inf, np.nan, 1.7976931348623157e308]])
    got = np.empty_like(x)
    log_abs(x, got, np.empty_like(x))
    with np.errstate(divide='ignore'):
        want = np.where(x == 0, 0., np.log(np.abs(x)))
    finite = np.isfinite(want)
    assert np.all(np.abs(got[finite] - want[finite]) <= np.spacing(np.abs(want[finite])))   # 1 ulp
    np.testing.assert_array_equal(got[~finite], want[~finite])      # inf -> inf, NaN -> NaN
    assert got[x == 1.].tolist() == [0.] * int((x == 1.).sum())      # exactly 0: spike PDFs have no entropy


@pytest.mark.parametrize('maps', ['pixels', 'flat', 'edges'])
def test_kernels_vectorised_and_window_by_window_paths_agree(cpu_backend, maps):
    """The kernel scores blocks of windows in phases along the row, or window by window where few windows differ,
    or, for 0/1 maps, by a table of window scores per pattern pair; each path forced in turn gives the same
    scores (the pattern table exactly those of the window-by-window form)."""
    if cpu_backend != 'kernel':
        pytest.skip('checks the kernel')
    from metrics import _cpu_kernels
    from metrics.fmi_edge import matlab_edge

    arrays = _flat_patches(4, shape=(1, 1, 40, 200)) if maps == 'flat' else _images(5, shape=(2, 1, 30, 300))
    images = [torch.from_numpy(x) for x in arrays]
    if maps == 'edges':
        images = [matlab_edge(x) for x in images]
    vectorised = _cpu_kernels.fmi_of_features(*images, scalar_below=0.0, patterns=False)
    window_by_window = _cpu_kernels.fmi_of_features(*images, scalar_below=3.0, patterns=False)
    torch.testing.assert_close(vectorised, window_by_window, rtol=1e-13, atol=0)
    if maps == 'edges':   # 0/1 maps: window scores memoised by pattern, the same arithmetic window by window
        _cpu_kernels._BINARY_SCORES[:] = np.nan
        for _ in range(2):   # filling the table, then reading it
            assert torch.equal(_cpu_kernels.fmi_of_features(*images), window_by_window)
        assert 0 < np.isfinite(_cpu_kernels._BINARY_SCORES).sum() < 512 * 512
    expected = [fmi(a[0].numpy(), b[0].numpy(), f[0].numpy(), 'none') for f, a, b in zip(*images)]
    np.testing.assert_allclose(vectorised.numpy(), expected, rtol=1e-12)
