"""FusionGAN and GANMcC: official checkpoint names and shapes, loading synthetic official-format checkpoints, and the
test-time quirks of the official scripts (batch statistics, raw kernels, edge padding, min-max save)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from methods import create_method, get_method_spec
from methods._tf_checkpoint import CheckpointError, read_index, write_checkpoint
from methods._tf_gan import CLUTTER, tf_names
from methods.fusiongan import FusionGAN
from methods.ganmcc import GANMcC


pytestmark = pytest.mark.usefixtures('one_torch_thread')


# name: (class, checkpoint path under the weights directory, size of the official data file in bytes)
PORTS = {
    'fusiongan': (FusionGAN, 'fusiongan/checkpoint/CGAN_120/CGAN.model-3', 5_305_616),
    'ganmcc': (GANMcC, 'ganmcc/checkpoint/CGAN_120/CGAN.model-4', 9_102_232),
}


def _official_entries(weights_dir, name):
    index = weights_dir / f'{PORTS[name][1]}.index'
    if not index.is_file():
        pytest.skip(f'needs the official index file {index}')
    return read_index(str(index)[:-len('.index')])[1]


def _synthetic_checkpoint(tmp_path, entries, seed=0, extra=None):
    """Writes a checkpoint with exactly the official names, dtypes and shapes (random values), plus `extra`."""
    rng = np.random.default_rng(seed)
    tensors = {n: rng.normal(0, 0.05, e.shape).astype(e.numpy_dtype) for n, e in entries.items()}
    tensors.update(extra or {})
    prefix = tmp_path / f'ckpt{seed}' / 'CGAN.model'
    write_checkpoint(prefix, tensors)
    return [f'{prefix}.index', f'{prefix}.data-00000-of-00001'], tensors


def _pair(h=21, w=26, n=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    ir = torch.randint(0, 256, (n, 1, h, w), generator=g) / 255.
    return ir, torch.randint(0, 256, (n, 1, h, w), generator=g) / 255.


@pytest.mark.parametrize('name', PORTS)
def test_official_index_matches_port(name, weights_dir):
    """Every tensor of the official index is either clutter or a kernel/bias of the port, with the port's shape."""
    cls, _, data_size = PORTS[name]
    entries = _official_entries(weights_dir, name)
    layers = cls().tf_layers()
    wanted = {}
    for scope, conv in layers.items():
        w, b = tf_names(scope)
        wanted[w], wanted[b] = tuple(conv.weight.permute(2, 3, 1, 0).shape), tuple(conv.bias.shape)
    generator = {n: tuple(e.shape) for n, e in entries.items() if not CLUTTER.search(n)}
    assert generator == wanted
    assert all(e.dtype == 1 for e in entries.values())  # float32
    # The index accounts for every byte of the official data file (known from its git tree entry).
    assert sum(e.size for e in entries.values()) == data_size
    # Clutter the loader skips: BN variables, spectral-norm vectors, the discriminator.
    clutter = {n for n in entries if CLUTTER.search(n)}
    assert {n.rsplit('/', 1)[1] for n in clutter if n.startswith('fusion_model/')} == {
        'beta', 'gamma', 'moving_mean', 'moving_variance', 'u'}
    assert any(n.startswith('discriminator/') for n in clutter)


@pytest.mark.parametrize('name', PORTS)
def test_loads_synthetic_official_checkpoint(name, weights_dir, tmp_path):
    cls = PORTS[name][0]
    entries = _official_entries(weights_dir, name)
    adam = {f'{n}/Adam{s}': np.zeros(e.shape, np.float32) for n, e in entries.items() for s in ('', '_1')
            if n.startswith('fusion_model/') and not CLUTTER.search(n)}
    files, tensors = _synthetic_checkpoint(tmp_path, entries, extra={
        **adam, 'beta1_power': np.float32(0.9), 'beta2_power': np.float32(0.999)})
    net = cls(weights=files, gray_as_rgb=False).eval()  # inputs as 1-channel files: levels unchanged
    for scope, conv in net.tf_layers().items():
        w, b = tf_names(scope)
        torch.testing.assert_close(conv.weight, torch.from_numpy(tensors[w]).permute(3, 2, 0, 1), rtol=0, atol=0)
        torch.testing.assert_close(conv.bias, torch.from_numpy(tensors[b]), rtol=0, atol=0)
    ir, vis = _pair()
    ours, ref = net(ir, vis), _reference(name, tensors, ir, vis)
    # identical here; a different conv kernel could move a value across a rounding boundary: 1 level, rarely
    torch.testing.assert_close(ours, ref, rtol=0, atol=1 / 255)
    assert float((ours != ref).float().mean()) <= 0.01
    # The checkpoint's BatchNorm variables, spectral-norm vectors and optimiser slots are never used.
    other, _ = _synthetic_checkpoint(tmp_path, entries, seed=1, extra={
        n: v for n, v in tensors.items() if n.startswith('fusion_model/') and not CLUTTER.search(n)})
    assert torch.equal(cls(weights=other, gray_as_rgb=False).eval()(ir, vis), net(ir, vis))


def _reference(name, tensors, ir, vis):
    """The official graph written independently: NHWC numpy edge padding, TF batch norm in training mode on a batch
    of one (batch statistics over N, H, W), maximum(x, 0.2x), tanh, scipy bytescale."""
    def conv(x, scope, norm=True):
        w, b = tf_names(scope)
        k = torch.from_numpy(tensors[w]).permute(3, 2, 0, 1)
        y = F.conv2d(x, k) + torch.from_numpy(tensors[b]).view(1, -1, 1, 1)
        if not norm:
            return y
        y = F.batch_norm(y, None, None, training=True, eps=1e-5)
        return torch.maximum(y, 0.2 * y)

    def padded(x):
        return torch.from_numpy(np.pad((x[0, 0].double().numpy() * 255 - 127.5) / 127.5, 6, 'edge')).float()[None, None]

    a, b = padded(ir), padded(vis)
    if name == 'fusiongan':
        x = torch.cat([a, b], 1)
        for k in range(1, 5):
            x = conv(x, f'layer{k}')
    else:
        xi, xv = torch.cat([a, a, b], 1), torch.cat([b, b, a], 1)
        for k in range(1, 5):
            xi, xv = conv(xi, f'layer{k}'), conv(xv, f'layer{k}_vi')
        x = torch.cat([xi, xv, xi, xv], 1)
    out = (torch.tanh(conv(x, 'layer5', norm=False)) * 127.5 + 127.5).numpy()
    scaled = (out - out.min()) * np.float32(255 / (out.max() - out.min()))
    return torch.from_numpy(np.floor(np.clip(scaled, 0, 255) + 0.5) / 255).float()


def test_wrong_checkpoint_is_refused(weights_dir, tmp_path):
    files, _ = _synthetic_checkpoint(tmp_path, _official_entries(weights_dir, 'ganmcc'))
    with pytest.raises(CheckpointError, match=r'not a FusionGAN generator checkpoint: unexpected '
                                              r'fusion_model/layer1_vi/b1_vi.*wrong shape fusion_model/layer1/w1'):
        FusionGAN(weights=files)


@pytest.mark.parametrize('cls', [FusionGAN, GANMcC])
def test_batch_statistics_cancel_the_conv_bias(cls):
    """Batch-statistics normalisation with gamma 1, beta 0 subtracts each channel's mean: the biases of layers 1-4
    cannot change the output; layer 5 (no normalisation) is the only bias that matters."""
    torch.manual_seed(0)
    net = cls().eval()
    ir, vis = _pair(seed=1)
    inputs = [F.pad(x.double() * 2 - 1, (6,) * 4, mode='replicate') for x in (ir, vis)]
    with torch.no_grad():
        net.double()  # float64, so that only the algebra is tested, not float32 rounding
        tanh = net.generator(*inputs)
        for scope, conv in net.tf_layers().items():
            if scope != 'layer5':
                conv.bias.add_(torch.randn_like(conv.bias))
        torch.testing.assert_close(net.generator(*inputs), tanh, atol=1e-12, rtol=0)
        net.layer5.bias.add_(0.5)
        assert (net.generator(*inputs) - tanh).abs().max() > 0.01
    net.float()
    # and each image is normalised with its own statistics: a pair fused alone or next to another gives the same
    other = _pair(seed=2)
    both = net(torch.cat([ir, other[0]]), torch.cat([vis, other[1]]))
    assert torch.equal(both[:1], net(ir, vis))


@pytest.mark.parametrize('cls', [FusionGAN, GANMcC])
def test_valid_convs_and_edge_padding_keep_odd_sizes(cls):
    torch.manual_seed(0)
    ir, vis = _pair(h=23, w=30, n=2)
    out = cls().eval()(ir, vis)
    assert out.shape == (2, 1, 23, 30)
    # min-max save: every image spans 0..255 exactly, in whole grey levels
    assert out.amin(dim=(1, 2, 3)).eq(0).all() and out.amax(dim=(1, 2, 3)).eq(1).all()
    assert torch.equal(out * 255, (out * 255).round())


def test_network_input_scaling_and_edge_padding():
    from methods._tf_gan import network_input
    x = torch.tensor([[0., 51, 255], [127.5, 255, 0]]).view(1, 1, 2, 3) / 255
    net_in = network_input(x)
    assert net_in.shape == (1, 1, 14, 15)
    inner = net_in[..., 6:-6, 6:-6]
    torch.testing.assert_close(inner, torch.tensor([[-1., -0.6, 1], [0, 1, -1]]).view(1, 1, 2, 3))
    # np.pad(..., 'edge'): the 6-px border repeats the nearest image pixel
    assert torch.equal(net_in[..., :7, :7], inner[..., :1, :1].expand(-1, -1, 7, 7))
    assert torch.equal(net_in[..., 6, 8:], inner[..., 0, 2:].expand(-1, -1, 7))


def test_gray_as_rgb_lowers_the_levels_pil_changes():
    """PIL's YCbCr round trip on a gray image stored as RGB changes 22 of the 256 levels by one; the methods
follow each file's stored layout by default (TNO-42: RGB) and take an (ir, vis) pair that overrides it."""
    from methods._tf_gan import network_input
    levels = torch.arange(256.).view(1, 1, 16, 16) / 255
    plain = network_input(levels)[..., 6:-6, 6:-6]
    rgb = network_input(levels, stored_rgb=True)[..., 6:-6, 6:-6]
    diff = ((plain - rgb) * 127.5).round()
    assert diff.abs().max() == 1 and int(diff.ne(0).sum()) == 22
    assert FusionGAN().gray_as_rgb is None and GANMcC(gray_as_rgb=(False, True)).gray_as_rgb == (False, True)
    gan = FusionGAN()
    for stored in ((True, True), (False, True)):
        gan.fuse(levels, levels, stored_rgb=stored)
        assert gan.stored_layout(gan.gray_as_rgb) == stored
    assert GANMcC(gray_as_rgb=(False, True)).stored_layout(GANMcC(gray_as_rgb=(False, True)).gray_as_rgb) == (
        False, True)


@pytest.mark.parametrize('name', PORTS)
def test_missing_data_file_message_names_its_git_blob(name, weights_dir, tmp_path):
    """Only the index is at hand: the message names the data file, its git blob id, URL and destination."""
    import shutil
    index = weights_dir / f'{PORTS[name][1]}.index'
    if not index.is_file():
        pytest.skip(f'needs the official index file {index}')
    (tmp_path / index.relative_to(weights_dir)).parent.mkdir(parents=True)
    shutil.copy(index, tmp_path / index.relative_to(weights_dir))
    data = get_method_spec(name).weights[1]
    assert data.git_blob and not data.sha256
    with pytest.raises(FileNotFoundError) as err:
        create_method(name, weights_dir=tmp_path)
    msg = str(err.value)
    for part in (repr(data.file), f'git blob id {data.git_blob}', data.url, str(tmp_path / data.file)):
        assert part in msg
