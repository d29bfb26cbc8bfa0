"""Contract tests over every registered method, plus the registry's own behaviour."""
from __future__ import annotations

import hashlib
import sys
import textwrap

import pytest
import torch

import methods
from methods import FusionMethod, Weights, WeightsNotFound, create_method, list_methods, register_method
from methods._colour import rgb_to_ycbcr, ycbcr_to_rgb
from methods._registry import _METHODS


def _pair(n=2, channels=1, h=33, w=47, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, h, w, generator=g), torch.rand(n, channels, h, w, generator=g)


@pytest.fixture
def scratch_registry():
    """Removes whatever a test registers."""
    before = set(_METHODS)
    yield
    for name in set(_METHODS) - before:
        del _METHODS[name]


# options that keep a contract test quick without changing what it checks: MURF fuses every pair at 1240 x 1240
# (its test.py's N, ~10 s of CPU), and the contract holds at any size
QUICK = {'murf': {'size': 64}}


@pytest.mark.parametrize('name', list_methods())
def test_fuse_contract(name):
    method = create_method(name, pretrained=False, **QUICK.get(name, {}))
    spec = methods.get_method_spec(name)
    assert spec.name == name == name.lower() and spec.paper and spec.licence
    ir, vis = _pair()
    ir0, vis0 = ir.clone(), vis.clone()
    fused = method.fuse(ir, vis)
    assert fused.shape == (2, 1, 33, 47) and fused.dtype == torch.float32
    assert torch.isfinite(fused).all() and fused.min() >= 0 and fused.max() <= 1
    assert torch.equal(ir, ir0) and torch.equal(vis, vis0), 'fuse must not modify its inputs'
    single = method.fuse(ir[1:], vis[1:])
    torch.testing.assert_close(fused[1:], single, atol=1e-5, rtol=0)
    assert torch.equal(method.fuse(ir[1:], vis[1:]), single), 'fuse must be deterministic'


@pytest.mark.parametrize('name', list_methods())
def test_fuse_colour_visible(name):
    method = create_method(name, pretrained=False, **QUICK.get(name, {}))
    ir, vis = _pair(n=1, channels=3)
    fused = method.fuse(ir, vis)
    expected = 1 if method.colour == 'gray' else 3
    assert fused.shape == (1, expected, 33, 47)
    assert fused.min() >= 0 and fused.max() <= 1


@pytest.mark.parametrize('name', list_methods())
@pytest.mark.parametrize('ir_shape, vis_shape, match', [
    ((2, 3, 8, 8), (2, 1, 8, 8), r'Expected `ir` of shape \(N, 1, H, W\), but got \(2, 3, 8, 8\)'),
    ((2, 1, 8, 8), (2, 2, 8, 8), r'Expected `vis` of shape \(N, 1 or 3, H, W\), but got \(2, 2, 8, 8\)'),
    ((2, 1, 8, 8), (2, 1, 8, 9), r'same N, H and W'),
    ((1, 8, 8), (1, 1, 8, 8), r'Expected `ir` of shape'),
])
def test_fuse_rejects_bad_shapes(name, ir_shape, vis_shape, match):
    with pytest.raises(ValueError, match=match):
        create_method(name, pretrained=False).fuse(torch.rand(ir_shape), torch.rand(vis_shape))


def test_fuse_rejects_bad_values():
    method = create_method('average')
    with pytest.raises(ValueError, match=r'Expected `vis` values in \[0, 1\], but got \[0, 255\]'):
        method.fuse(torch.rand(1, 1, 4, 4), torch.tensor([0., 255.]).repeat(8).view(1, 1, 4, 4))
    with pytest.raises(ValueError, match='floating-point'):
        method.fuse(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), torch.zeros(1, 1, 4, 4))


def test_pixel_rules_exact():
    ir, vis = _pair()
    torch.testing.assert_close(create_method('average').fuse(ir, vis), (ir + vis) / 2)
    torch.testing.assert_close(create_method('maximum').fuse(ir, vis), torch.maximum(ir, vis))


def test_colour_mode_fuses_luminance_and_keeps_chroma():
    # Mid-range values with weak colour, so recolouring never clips and the identity can be checked exactly.
    ir, vis = _pair(channels=3)
    ir, vis = 0.2 + 0.6 * ir, 0.3 + 0.4 * vis.mean(1, keepdim=True) + 0.05 * (vis - 0.5)
    fused = create_method('maximum').fuse(ir, vis)
    y_vis, cb, cr = rgb_to_ycbcr(vis)
    y_fused, cb_fused, cr_fused = rgb_to_ycbcr(fused)
    torch.testing.assert_close(y_fused, torch.maximum(ir, y_vis), atol=1e-5, rtol=0)
    torch.testing.assert_close((cb_fused, cr_fused), (cb, cr), atol=1e-5, rtol=0)
    gray = create_method('maximum', colour='gray').fuse(ir, vis)
    torch.testing.assert_close(gray, torch.maximum(ir, y_vis), atol=1e-6, rtol=0)


def test_gray_stored_as_rgb_gives_gray_result():
    ir, vis = _pair()
    fused = create_method('average').fuse(ir, vis.expand(-1, 3, -1, -1))
    torch.testing.assert_close(fused, ((ir + vis) / 2).expand(-1, 3, -1, -1), atol=1e-5, rtol=0)


def test_ycbcr_matches_pil_definition():
    # JFIF / PIL: Y = .299R + .587G + .114B, Cb = 128 - .168736R - .331264G + .5B (on 0-255).
    rgb = torch.tensor([255., 128., 0.]).view(1, 3, 1, 1) / 255
    y, cb, cr = rgb_to_ycbcr(rgb)
    assert y.item() * 255 == pytest.approx(.299 * 255 + .587 * 128, abs=1e-4)
    assert cb.item() * 255 == pytest.approx(128 - .168736 * 255 - .331264 * 128, abs=1e-4)
    assert cr.item() * 255 == pytest.approx(128 + .5 * 255 - .418688 * 128, abs=1e-4)
    back = ycbcr_to_rgb(y, cb, cr)
    torch.testing.assert_close(back, rgb, atol=1e-6, rtol=0)


def test_input_multiple_pads_and_crops(scratch_registry):
    seen = []

    class Probe(FusionMethod):
        def forward(self, ir, vis):
            seen.append(tuple(ir.shape))
            return ir

    register_method('probe_multiple', paper='test', licence='test', input_multiple=8)(lambda: Probe())
    ir, vis = _pair(h=33, w=47)
    out = create_method('probe_multiple').fuse(ir, vis)
    assert seen == [(2, 1, 40, 48)]
    torch.testing.assert_close(out, ir)


def test_unknown_name_suggests():
    with pytest.raises(KeyError, match="Unknown method 'averge'. Did you mean 'average'"):
        create_method('averge')


def test_duplicate_registration_fails(scratch_registry):
    with pytest.raises(ValueError, match="'average' is already registered"):
        register_method('average', paper='x', licence='x')(lambda: None)


def test_bad_spec_options_fail():
    with pytest.raises(ValueError, match='Expected `colour`'):
        register_method('bad_colour', colour='hsv')
    with pytest.raises(ValueError, match='Expected `colour`'):
        create_method('average', colour='hsv')


def test_list_methods_patterns():
    assert list_methods('av*') == ['average']
    assert list_methods(['av*', 'max*']) == ['average', 'maximum']
    assert list_methods('*', exclude='max*') == [m for m in list_methods() if m != 'maximum']


class _Const(FusionMethod):
    def __init__(self, weights):
        super().__init__()
        self.value = float(weights[0].read_text()) if weights else 0.5

    def forward(self, ir, vis):
        return torch.full_like(ir, self.value)


def test_weights_missing_message(tmp_path, scratch_registry):
    w = Weights('const/value.txt', sha256='ab' * 32, url='https://example.org/value.txt')
    register_method('const_missing', paper='t', licence='t', weights=[w])(lambda weights: _Const(weights))
    with pytest.raises(WeightsNotFound) as err:
        create_method('const_missing', weights_dir=tmp_path)
    msg = str(err.value)
    assert "'const/value.txt'" in msg and 'ab' * 32 in msg and 'https://example.org/value.txt' in msg
    assert str(tmp_path / 'const' / 'value.txt') in msg
    assert create_method('const_missing', pretrained=False).fuse(*_pair()).eq(0.5).all()


def test_weights_checked_and_loaded(tmp_path, scratch_registry):
    (tmp_path / 'const').mkdir()
    (tmp_path / 'const' / 'value.txt').write_text('0.25')
    good = hashlib.sha256(b'0.25').hexdigest()
    register_method('const_ok', paper='t', licence='t',
                    weights=[Weights('const/value.txt', good)])(lambda weights: _Const(weights))
    register_method('const_bad', paper='t', licence='t',
                    weights=[Weights('const/value.txt', '0' * 64)])(lambda weights: _Const(weights))
    assert create_method('const_ok', weights_dir=tmp_path).fuse(*_pair()).eq(0.25).all()
    with pytest.raises(WeightsNotFound, match='not the official file'):
        create_method('const_bad', weights_dir=tmp_path)
    # The environment variable is the default weights directory.
    import os
    os.environ['BENCH_WEIGHTS_DIR'] = str(tmp_path)
    try:
        assert create_method('const_ok').fuse(*_pair()).eq(0.25).all()
    finally:
        del os.environ['BENCH_WEIGHTS_DIR']


def test_user_weight_files_replace_the_official_ones_unchecked(tmp_path, scratch_registry):
    """`create_method(name, weights=...)`: a user's files, one per official file, used as given (any checksum)."""
    register_method('const_user', paper='t', licence='t',
                    weights=[Weights('const/value.txt', '0' * 64)])(lambda weights: _Const(weights))
    mine = tmp_path / 'mine.txt'
    mine.write_text('0.75')
    assert create_method('const_user', weights=mine).fuse(*_pair()).eq(0.75).all()
    assert create_method('const_user', weights=[str(mine)]).fuse(*_pair()).eq(0.75).all()
    with pytest.raises(ValueError, match=r"Expected 1 weight file\(s\) for 'const_user'.*const/value.txt"):
        create_method('const_user', weights=[mine, mine])
    with pytest.raises(FileNotFoundError, match='not found'):
        create_method('const_user', weights=tmp_path / 'nothing.txt')


@pytest.mark.parametrize('kwargs, match', [
    ({'sha256': '<hex>'}, "`sha256` of 'x.pth' to be 64 hexadecimal digits, but got '<hex>'"),
    ({'sha256': 'ab' * 31}, '64 hexadecimal digits'),
    ({'sha256': '', 'git_blob': 'zz' * 20}, '`git_blob` of .* 40 hexadecimal digits'),
    ({'sha256': ''}, 'Expected a `sha256`'),
])
def test_weights_checksums_are_validated_at_registration(kwargs, match):
    """A placeholder digest fails where the method is declared, not when a user first fetches or loads it."""
    with pytest.raises(ValueError, match=match):
        Weights('x.pth', **kwargs)
    assert Weights('x.pth', 'AB' * 32).sha256 == 'AB' * 32 and Weights('x.pth', '', git_blob='a' * 40)


def _install_plugin(tmp_path, module: str, body: str, dist: str):
    (tmp_path / f'{module}.py').write_text(textwrap.dedent(body))
    info = tmp_path / f'{dist}-0.1.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n')
    (info / 'entry_points.txt').write_text(f'[ivif_bench.methods]\n{module} = {module}\n')


def test_entry_point_plugin_registers_method(tmp_path, monkeypatch, scratch_registry):
    _install_plugin(tmp_path, 'ivif_test_plugin', '''
        import torch
        from methods import FusionMethod, register_method

        class Minimum(FusionMethod):
            def forward(self, ir, vis):
                return torch.minimum(ir, vis)

        @register_method(paper='plug-in test', licence='MIT')
        def plugin_minimum():
            return Minimum()
        ''', 'ivif-test-plugin')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert 'plugin_minimum' in list_methods()
    spec = methods.get_method_spec('plugin_minimum')
    assert spec.module == 'ivif_test_plugin'
    ir, vis = _pair()
    torch.testing.assert_close(create_method('plugin_minimum').fuse(ir, vis), torch.minimum(ir, vis))
    sys.modules.pop('ivif_test_plugin', None)


def test_broken_plugin_warns_and_is_skipped(tmp_path, monkeypatch):
    _install_plugin(tmp_path, 'ivif_broken_plugin', 'raise ImportError("boom")\n', 'ivif-broken-plugin')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(RuntimeWarning, match="plug-in 'ivif_broken_plugin'.*boom"):
        names = list_methods()
    assert 'average' in names
