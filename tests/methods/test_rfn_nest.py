"""RFN-Nest: official state dict names and shapes, loading the official file formats safely, and the test-time
behaviour of the official script (tiling above 512 px, ReLU on every layer, upsample-and-pad, stretch + truncate)."""
from __future__ import annotations

import pickle
import zipfile

import pytest
import torch

from methods import create_method, get_method_spec
from methods.rfn_nest import (NEST_MEMBER, RFN_MEMBER, NestFuse, RFN, RFNNest, fuse_tiled, quadrant_tiles,
                              stretch_truncate, upsample_to)


pytestmark = pytest.mark.usefixtures('one_torch_thread')


NB = (64, 112, 160, 208)


def _conv(name, cin, cout, k):
    return {f'{name}.conv2d.weight': (cout, cin, k, k), f'{name}.conv2d.bias': (cout,)}


def _dense(name, cin, cout):
    # official DenseBlock_light: conv3x3 cin -> cin // 2, conv1x1 -> cout
    return {**_conv(f'{name}.denseblock.0', cin, cin // 2, 3), **_conv(f'{name}.denseblock.1', cin // 2, cout, 1)}


# The official state dicts, key by key, from net.py's NestFuse_light2_nodense(nb_filter, 1, 1, False) and
# Fusion_network(nb_filter, 'res') with nb_filter = [64, 112, 160, 208, 256].
OFFICIAL_NEST = {
    **_conv('conv0', 1, 16, 1), **_dense('DB1_0', 16, NB[0]), **_dense('DB2_0', NB[0], NB[1]),
    **_dense('DB3_0', NB[1], NB[2]), **_dense('DB4_0', NB[2], NB[3]),
    **_dense('DB1_1', NB[0] + NB[1], NB[0]), **_dense('DB2_1', NB[1] + NB[2], NB[1]),
    **_dense('DB3_1', NB[2] + NB[3], NB[2]), **_dense('DB1_2', 2 * NB[0] + NB[1], NB[0]),
    **_dense('DB2_2', 2 * NB[1] + NB[2], NB[1]), **_dense('DB1_3', 3 * NB[0] + NB[1], NB[0]),
    **_conv('conv_out', NB[0], 1, 1),
}
OFFICIAL_RFN = {
    k: v for i, c in enumerate(NB, 1) for k, v in {
        **_conv(f'fusion_block{i}.conv_fusion', 2 * c, c, 3), **_conv(f'fusion_block{i}.conv_ir', c, c, 3),
        **_conv(f'fusion_block{i}.conv_vi', c, c, 3), **_conv(f'fusion_block{i}.bottelblock.0', 2 * c, c, 1),
        **_conv(f'fusion_block{i}.bottelblock.1', c, c, 3), **_conv(f'fusion_block{i}.bottelblock.2', c, c, 3),
    }.items()
}


def _shapes(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_state_dicts_match_the_official_format():
    assert _shapes(NestFuse()) == OFFICIAL_NEST
    assert _shapes(RFN()) == OFFICIAL_RFN
    method = RFNNest()
    assert sum(p.numel() for p in method.nest.parameters()) == 2_732_761
    assert sum(p.numel() for p in method.rfn.parameters()) == 4_791_488


def _random_state(shapes, seed):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=g) * 0.05 for k, s in shapes.items()}


def _official_files(tmp_path, legacy=False, zipped=True):
    """The official formats: `torch.save(model.state_dict())`, published inside zip archives."""
    files, states = [], []
    for name, shapes, member, seed in (('nestfuse', OFFICIAL_NEST, f'nestfuse/{NEST_MEMBER}', 0),
                                       ('rfn_twostage', OFFICIAL_RFN, f'rfn_twostage/{RFN_MEMBER}', 1)):
        state = _random_state(shapes, seed)
        raw = tmp_path / f'{name}.model'
        torch.save(state, raw, _use_new_zipfile_serialization=not legacy)
        if zipped:
            archive = tmp_path / f'{name}.zip'
            with zipfile.ZipFile(archive, 'w') as zf:
                zf.write(raw, member)
                zf.writestr(f'__MACOSX/{member}', b'resource fork')
            raw = archive
        files.append(raw)
        states.append(state)
    return files, states


@pytest.mark.parametrize('legacy, zipped', [(False, True), (True, True), (False, False)])
def test_loads_official_files(tmp_path, legacy, zipped):
    files, (nest, rfn) = _official_files(tmp_path, legacy, zipped)
    method = RFNNest(weights=files)
    for module, state in ((method.nest, nest), (method.rfn, rfn)):
        for key, value in module.state_dict().items():
            assert torch.equal(value, state[key]), key


def test_refuses_unsafe_or_wrong_files(tmp_path):
    files, (nest, rfn) = _official_files(tmp_path, zipped=False)
    # weights_only=True: a pickle that would build arbitrary objects is refused
    evil = tmp_path / 'evil.model'
    torch.save({**nest, 'extra': _Unsafe()}, evil)
    with pytest.raises(pickle.UnpicklingError):
        RFNNest(weights=[evil, files[1]])
    # the fusion network's file where the autoencoder's belongs
    with pytest.raises(ValueError, match='not the official file'):
        RFNNest(weights=[files[1], files[0]])


class _Unsafe:
    pass


def test_quadrant_tiles_overlap_by_five_pixels():
    tiles = quadrant_tiles(600, 401)
    assert [(r.start, r.stop, c.start, c.stop) for r, c in tiles] == [
        (0, 303, 0, 203), (0, 303, 198, 401), (298, 600, 0, 203), (298, 600, 198, 401)]


def test_fuse_tiled_averages_the_overlap():
    h, w = 600, 401
    ir = torch.rand(2, 1, h, w)
    # a pixel-wise function is unaffected by tiling
    torch.testing.assert_close(fuse_tiled(lambda a, b: a * b + 1, ir, ir.flip(-1)), ir * ir.flip(-1) + 1)
    # a function that marks each tile with its index: overlaps get the mean of the tiles covering them
    calls = iter(range(4))
    marked = fuse_tiled(lambda a, b: torch.full_like(a, float(next(calls))), ir, ir)
    assert marked[0, 0, 0, 0] == 0 and marked[0, 0, 0, 400] == 1 and marked[0, 0, 599, 0] == 2
    assert marked[0, 0, 300, 0] == 1     # rows 298-302: tiles 0 and 2
    assert marked[0, 0, 0, 200] == 0.5   # columns 198-202: tiles 0 and 1
    assert marked[0, 0, 300, 200] == 1.5  # all four
    assert marked[0, 0, 303, 200] == 2.5 and marked[0, 0, 297, 197] == 0 and marked[0, 0, 297, 203] == 1


def test_tiles_only_above_512(monkeypatch):
    method = RFNNest().eval()
    shapes = []
    # a cheap pixel-wise stand-in for the network: records the tile sizes it is given
    monkeypatch.setattr(method, 'network', lambda a, b: shapes.append(tuple(a.shape[-2:])) or a + b)
    ir, vis = torch.rand(1, 1, 513, 40), torch.rand(1, 1, 513, 40)
    method(ir[..., :512, :], vis[..., :512, :])
    assert shapes == [(512, 40)]
    shapes.clear()
    tiled = method(ir, vis)
    assert shapes == [(259, 23), (259, 22), (259, 23), (259, 22)] and tiled.shape == (1, 1, 513, 40)
    shapes.clear()
    method.tile = False
    method(ir, vis)
    assert shapes == [(513, 40)]
    with pytest.raises(ValueError, match=r'at least 16x16 px for RFN-Nest.*got \(15, 40\)'):
        method(ir[..., :15, :], vis[..., :15, :])


def test_tiled_equals_untiled_on_constant_images():
    """Constant inputs give a constant network output at any size (reflection padding keeps every feature map
    constant), so averaging the tiles must give the untiled result; any other image shows the tile seams."""
    torch.manual_seed(0)
    method = RFNNest().eval()
    with torch.no_grad():
        for p in method.parameters():
            if p.ndim == 1:
                p.fill_(0.02)  # positive biases: ReLUs open, output not trivially zero
        ir, vis = torch.full((1, 1, 32, 32), 100.), torch.full((1, 1, 32, 32), 180.)
        whole = method.network(ir, vis)
        assert float(whole.min()) > 0 and float(whole.std()) <= 1e-5 * float(whole.mean())
        torch.testing.assert_close(fuse_tiled(method.network, ir, vis), whole, rtol=1e-5, atol=0)
        ir = ir + torch.linspace(0, 50, 32)
        assert not torch.allclose(fuse_tiled(method.network, ir, vis), method.network(ir, vis), rtol=1e-3)


def test_every_layer_ends_with_relu():
    torch.manual_seed(0)
    method = RFNNest().eval()
    ir, vis = torch.rand(1, 1, 40, 36) * 255, torch.rand(1, 1, 40, 36) * 255
    with torch.no_grad():
        assert method.network(ir, vis).min() >= 0
        method.nest.conv_out.conv2d.bias.fill_(-1e3)  # the 1x1 output conv is followed by ReLU too
        assert method.network(ir, vis).eq(0).all()
        assert method(ir / 255, vis / 255).eq(0).all()  # a flat output stretches to 0: (0 - 0) / (0 + 1e-5)


def test_upsample_then_reflect_pad_to_the_skip_size():
    x = torch.tensor([[1., 2.], [3., 4.]]).view(1, 1, 2, 2)
    up = upsample_to(torch.zeros(1, 1, 5, 4), x)  # odd height: 4 rows upsampled, 1 reflected at the bottom
    assert up[0, 0].tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4], [3, 3, 4, 4]]


def test_stretch_then_truncate():
    x = torch.tensor([0., 0.5, 1.0, 0.25]).view(1, 1, 2, 2)
    # (x - 0) / (1 + 1e-5) * 255 = [0, 127.4994, 254.9975, 63.7497], truncated: the maximum lands on 254, not 255
    assert (stretch_truncate(x) * 255).flatten().tolist() == [0, 127, 254, 63]


def test_output_shape_odd_size_and_protocol():
    torch.manual_seed(0)
    method = create_method('rfn-nest', pretrained=False)
    out = method.fuse(torch.rand(2, 1, 37, 29), torch.rand(2, 3, 37, 29))
    assert out.shape == (2, 3, 37, 29)
    gray = create_method('rfn-nest', pretrained=False, colour='gray')
    gray.load_state_dict(method.state_dict())
    g = gray.fuse(torch.rand(1, 1, 37, 29), torch.rand(1, 1, 37, 29))
    assert torch.equal(g * 255, (g * 255).round())


def test_registered_weights_are_the_official_zips():
    nest, rfn = get_method_spec('rfn-nest').weights
    assert nest.file.endswith('nestfuse.zip') and nest.git_blob.startswith('25848abd')
    assert rfn.file.endswith('rfn_twostage.zip') and rfn.git_blob.startswith('9e36a34e')
