"""Properties every registered metric must have, checked with hypothesis over random images.

- Bad input (NaN, inf, a 1-pixel or empty image) is a ValueError naming the argument, or a finite value.
- Constant images give the reference's defined value (finite) or a ValueError that says the image is constant.
- A batch of N gives the N single-image scores.
- Default-convention metrics that combine the two sources symmetrically do not change when IR and visible swap.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics import get_metric, list_conventions, list_metrics

ALL = [(c, m) for c in list_conventions() for m in list_metrics(convention=c)]
# Metrics whose definition treats the two sources differently.
ASYMMETRIC: set[str] = {'qc', 'viff'}  # MEFB's Qc and Han's VIFF treat the first source differently
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def triples(draw, n_max=3, min_size=1):
    n = draw(st.integers(1, n_max))
    h, w = draw(st.integers(24, 48)), draw(st.integers(24, 48))
    h, w = max(h, min_size), max(w, min_size)
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    # Smooth structure plus noise, so gradients, edges and histograms are all non-trivial.
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = [rng.uniform(0, 255) * np.sin(rng.uniform(1, 12) * xx + rng.uniform(1, 12) * yy) for _ in range(3)]
    ir, vis = (np.clip(128 + b + rng.normal(0, rng.uniform(1, 40), (n, 1, h, w)), 0, 255) for b in base[:2])
    weight = rng.uniform(0, 1)    # a fused image is mostly a mix of its sources, plus its own structure
    fused = np.clip(weight * ir + (1 - weight) * vis + 0.3 * base[2] + rng.normal(0, 5, (n, 1, h, w)), 0, 255)
    return tuple(torch.from_numpy(i.round()) for i in (fused, ir, vis))


@pytest.mark.parametrize('convention, name', ALL, ids=[f'{c}-{m}' for c, m in ALL])
@SETTINGS
@given(data=st.data())
def test_batch_equals_singles(convention, name, data):
    spec = get_metric(name, convention)
    fused, ir, vis = data.draw(triples(min_size=spec.min_size))
    try:
        batch = spec(fused, ir, vis)
    except ValueError:  # undefined for this input (e.g. MEF-MS-SSIM of a negative SSIM): some single must say so
        with pytest.raises(ValueError):
            for i in range(fused.shape[0]):
                spec(fused[i:i + 1], ir[i:i + 1], vis[i:i + 1])
        return
    singles = torch.cat([spec(fused[i:i + 1], ir[i:i + 1], vis[i:i + 1]) for i in range(fused.shape[0])])
    torch.testing.assert_close(batch, singles, rtol=1e-9, atol=1e-12)
    assert torch.isfinite(batch).all()


SYMMETRIC = [m for m in list_metrics() if get_metric(m).needs_sources and m not in ASYMMETRIC]


@pytest.mark.parametrize('name', SYMMETRIC)
@SETTINGS
@given(data=st.data())
def test_default_metrics_symmetric_in_sources(name, data):
    spec = get_metric(name)
    fused, ir, vis = data.draw(triples(n_max=1, min_size=spec.min_size))
    torch.testing.assert_close(spec(fused, ir, vis), spec(fused, vis, ir), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('convention, name', ALL, ids=[f'{c}-{m}' for c, m in ALL])
@pytest.mark.parametrize('bad, label', [(float('nan'), 'fused'), (float('inf'), 'ir'), (-float('inf'), 'vis')])
def test_non_finite_input_is_a_value_error(convention, name, bad, label):
    spec = get_metric(name, convention)
    size = max(32, spec.min_size)
    images = dict(zip(('fused', 'ir', 'vis'), (torch.rand(1, 1, size, size, dtype=torch.float64) * 255
                                               for _ in range(3))))
    if label != 'fused' and not spec.needs_sources:
        label = 'fused'
    images[label][0, 0, 3, 4] = bad
    with pytest.raises(ValueError, match=f'`{label}`'):
        spec(images['fused'], images['ir'], images['vis'])


@pytest.mark.parametrize('convention, name', ALL, ids=[f'{c}-{m}' for c, m in ALL])
@pytest.mark.parametrize('shape', [(1, 1, 1, 1), (1, 1, 0, 5), (0, 1, 8, 8)])
def test_tiny_or_empty_images(convention, name, shape):
    spec = get_metric(name, convention)
    images = [torch.full(shape, 100., dtype=torch.float64) for _ in range(3)]
    try:
        out = spec(*images)
    except ValueError as err:
        assert '`fused`' in str(err) or '`ir`' in str(err) or '`vis`' in str(err)
    else:
        assert out.shape == (shape[0],) and torch.isfinite(out).all()


@pytest.mark.parametrize('convention, name', ALL, ids=[f'{c}-{m}' for c, m in ALL])
@pytest.mark.parametrize('which', ['all', 'fused', 'ir'])
def test_constant_images(convention, name, which):
    spec = get_metric(name, convention)
    rng = torch.Generator().manual_seed(0)
    size = max(40, spec.min_size)
    images = {k: torch.randint(0, 256, (1, 1, size, size), generator=rng).double() for k in ('fused', 'ir', 'vis')}
    for k in images:
        if which in ('all', k):
            images[k] = torch.full_like(images[k], 77.)
    try:
        out = spec(images['fused'], images['ir'], images['vis'])
    except ValueError as err:
        assert 'constant' in str(err), err
    else:
        assert torch.isfinite(out).all(), f'{convention}/{name} returned {out} for constant {which}'
