"""Contract tests over every registered metric of every convention."""
from __future__ import annotations

import pytest
import torch

import metrics
from metrics import get_metric, list_conventions, list_metrics

ALL = [(c, m) for c in list_conventions() for m in list_metrics(convention=c)]


def _images(n=3, h=24, w=31, seed=0, min_size=1):
    from tests.conftest import realistic_triple
    return realistic_triple(n, max(h, min_size), max(w, min_size + 7), seed)


@pytest.mark.parametrize('convention, name', ALL)
def test_declared_min_size_is_accepted(convention, name):
    # `min_size` is what callers (bench speed's warm-up, tests) rely on: an image of exactly that size must pass the
    # size check. Content can still make a metric undefined on tiny images (Qp: no phase congruency), a separate error.
    spec = get_metric(name, convention)
    k = spec.min_size
    fused, ir, vis = (t[:1, :, :k, :k].clone() for t in _images(h=k + 40, w=k + 40))
    try:
        spec(fused, ir, vis)
    except ValueError as err:
        assert 'H, W >=' not in str(err), err


@pytest.mark.parametrize('convention, name', ALL)
def test_metric_contract(convention, name):
    spec = get_metric(name, convention)
    assert spec.name == name and spec.convention == convention and spec.label
    assert isinstance(spec.higher_is_better, bool) and isinstance(spec.needs_sources, bool)
    assert spec.reference.strip()
    fused, ir, vis = _images(min_size=spec.min_size)
    scores = spec(fused, ir, vis)
    assert scores.shape == (3,) and scores.dtype == torch.float64 and torch.isfinite(scores).all()
    singles = torch.cat([spec(fused[i:i + 1], ir[i:i + 1], vis[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(scores, singles, rtol=1e-12, atol=0)
    torch.testing.assert_close(spec(fused.float(), ir.float(), vis.float()), scores, rtol=1e-5, atol=1e-6,
                               check_dtype=False)


@pytest.mark.parametrize('convention, name', ALL)
def test_metric_rejects_bad_shapes(convention, name):
    spec = get_metric(name, convention)
    fused, ir, vis = _images(min_size=spec.min_size)
    with pytest.raises(ValueError, match=r'Expected `fused` of shape \(N, 1, H, W\), but got \(3, 3, \d+, \d+\)'):
        spec(fused.expand(-1, 3, -1, -1), ir, vis)
    with pytest.raises(ValueError, match='Expected `fused` to be floating point'):
        spec(fused.long(), ir, vis)
    if spec.needs_sources:
        with pytest.raises(ValueError, match='Expected `ir` of the same shape'):
            spec(fused, ir[..., :-1], vis)


def test_unknown_names_suggest():
    with pytest.raises(KeyError, match="Unknown metric .*'enn'. Did you mean 'en'"):
        get_metric('enn')
    with pytest.raises(KeyError, match="Unknown convention 'defualt'. Did you mean 'default'"):
        get_metric('en', 'defualt')


def test_duplicate_and_inconsistent_registration_fail():
    with pytest.raises(ValueError, match="'en' is already registered for convention 'default'"):
        metrics.register_metric('en', higher_is_better=True, needs_sources=False, reference='x')(lambda f: f)
    with pytest.raises(ValueError, match="facts that differ"):
        metrics.register_metric('en', higher_is_better=False, needs_sources=False, reference='x',
                                convention='test-only')(lambda f: f)


def test_score_images_uses_convention_gray_and_checks_sizes():
    rgb = torch.tensor([[200, 10, 10]], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    gray = torch.full((1, 1, 4, 4), 77, dtype=torch.uint8)   # round(.299*200 + .587*10 + .114*10) = 67
    out = metrics.score_images(rgb, gray, rgb, ['sd', 'en'])
    assert out['sd'].item() == 0 and out['en'].item() == 0
    mixed = torch.cat([rgb[..., :2], torch.zeros(1, 3, 4, 2, dtype=torch.uint8)], dim=3)
    assert metrics.score_images(mixed, gray, rgb, ['sd'])['sd'].item() == pytest.approx(67 / 2)
    with pytest.raises(ValueError, match='of one size'):
        metrics.score_images(rgb, gray[..., :3], rgb, ['sd'])


def test_per_channel_convention_averages_channels_unless_the_metric_reads_colour_whole():
    g = torch.Generator().manual_seed(3)
    rgb = torch.randint(0, 256, (2, 3, 20, 30), generator=g).double()
    gray = torch.randint(0, 256, (2, 1, 20, 30), generator=g).double()
    per_channel = metrics.score_images(rgb, gray, rgb, ['en'], 'vifb')['en']
    expected = torch.stack([get_metric('en', 'vifb')(rgb[:, c:c + 1]) for c in range(3)]).mean(dim=0)
    torch.testing.assert_close(per_channel, expected, rtol=1e-15, atol=0)
    from metrics.sf import spatial_frequency_vifb_colour
    whole = metrics.score_images(rgb, gray, rgb, ['sf'], 'vifb')['sf']
    torch.testing.assert_close(whole, spatial_frequency_vifb_colour(rgb), rtol=1e-15, atol=0)
    assert get_metric('sf', 'vifb').colour is not None and get_metric('en', 'vifb').colour is None


def test_columns_of_one_function_are_computed_once(monkeypatch):
    """Tang 2022's "SSIM" is its MEF-SSIM: scoring both columns computes MEF-SSIM once, and both carry it."""
    import metrics.mef_ssim as module
    calls = []
    original = module.mef_ssim_scores
    monkeypatch.setattr(module, 'mef_ssim_scores', lambda *args: calls.append(1) or original(*args))
    f, a, b = (t.round() for t in _images(n=2, h=24, w=24))
    out = metrics.score_images(f, a, b, ['ssim', 'mef_ssim', 'en'], 'tang2022')
    assert len(calls) == 1 and torch.equal(out['ssim'], out['mef_ssim'])
    torch.testing.assert_close(out['ssim'], get_metric('mef_ssim', 'tang2022')(f, a, b), rtol=0, atol=0)
    assert len(calls) == 2


def test_finite_check_is_remembered_until_the_tensor_changes():
    from metrics._checks import _FINITE, check_images
    x = torch.rand(1, 1, 5, 5, dtype=torch.float64)
    check_images(x)
    check_images(x)                                  # remembered: no second pass
    x[0, 0, 0, 0] = float('nan')                     # an in-place write bumps the version counter
    with pytest.raises(ValueError, match='finite'):
        check_images(x)
    key = id(x)
    del x
    assert key not in _FINITE                        # forgotten with the tensor
    with torch.inference_mode():                     # no version counter: checked every time
        y = torch.rand(1, 1, 5, 5, dtype=torch.float64)
        check_images(y)
        y[0, 0, 0, 0] = float('inf')
        with pytest.raises(ValueError, match='finite'):
            check_images(y)
