"""SuperFusion's fusion network: official tensor names and checkpoint layout, the IRNN kernel's recurrence, and
equality with the official module on random weights.

How the digest below was made (outside the project, never committed: third-party code's output):
`/work/scratch-swinfusion-superfusion/oracle/run_superfusion.py` copied Linfeng-Tang/SuperFusion @ b0fbb86, built
`model.SuperFusion()` under `torch.manual_seed(0)`, loaded `random_weights.seeded_state_like(FN.state_dict(), seed=0)`
into its `FN`, wrote the checkpoint with the official `SuperFusion.save` (`{'DM', 'FN', 'DM_opt', 'FN_opt', 'ep',
'total_it'}`), then ran the official `test.py --mode Fusion --dataset_name MSRS` (its `resume`, `TestData`,
`fusion_forward`, `imsave`) on `random_weights.seeded_pair` images of the three sizes below plus five real pairs
(TNO-42 01, 07, 13; MSRS 00004N; RoadScene FLIR_00006). Environment: Python 3.11.7, torch 2.13.0+cpu, kornia 0.6.12,
opencv-python-headless 5.1.0.95, numpy 2.4.6, natsort 8.4.0. Patches (runtime, device selection only, plus the IRNN
kernel on the CPU): `Tensor.cuda`/`Module.cuda` return the CPU object; `torch.cuda.current_stream()` a dummy stream;
`irnn.py`'s forward takes its kernel branch for CPU tensors (`if input_feature.is_cuda == True:` -> `if True:`); the
cupy launch is replaced by the kernel SOURCE `modules/IRNN_Forward_cuda.cu`, unchanged, compiled with g++ -O2
-ffp-contract=off for one CPU thread (`__global__` empty, blockIdx = threadIdx = 0, blockDim = gridDim = 1);
torchvision (training imports only) stubbed. The port, loading that checkpoint file through
`create_method('superfusion', weights=...)`, matched every float image bit for bit (max abs diff 0 on all 8) and
every written PNG exactly. `DIGEST` keeps, per synthetic size, `random_weights.digest` of the official float RGB image
and of its PNG (the test regenerates the same weights and inputs).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from methods import create_method
from methods.superfusion import FusionNet, SuperFusion, irnn
from tests.methods.random_weights import digest, seeded_pair, seeded_state_like

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def _conv(prefix, cout, cin, k=3):
    return {f'{prefix}.weight': (cout, cin, k, k), f'{prefix}.bias': (cout,)}


# modules/modules.py: FusionNet(), key by key
OFFICIAL = {
    **{k: v for i, (cin, cout) in enumerate([(1, 8), (8, 16), (16, 16), (16, 32)]) for enc in ('ir', 'vi')
       for k, v in _conv(f'encoder_{enc}.{i}.model.0', cout, cin).items()},
    **{k: v for i, (cin, cout) in enumerate([(32, 16), (16, 16), (16, 8), (8, 1)])
       for k, v in _conv(f'decoder.{i}.model.0', cout, cin).items()},
    **{k: v for n in (1, 2) for d in ('left', 'right', 'up', 'down')
       for k, v in _conv(f'SAM.irnn{n}.{d}_weight', 32, 1, 1).items()},
    **_conv('SAM.conv_in.model.0', 32, 64), **_conv('SAM.conv2.model.0', 32, 128),
    **_conv('SAM.conv3.model.0', 32, 128), **_conv('SAM.attention_layer.model.0.model.0', 16, 64),
    **_conv('SAM.attention_layer.model.1.model.0', 16, 16), **_conv('SAM.attention_layer.model.2.model.0', 4, 16),
    **_conv('SAM.conv_out.model.0', 32, 32),
}

# random_weights.digest of the official outputs (see the module docstring), per (h, w) of seeded_pair(h, w)
DIGEST = {
    (37, 53): {'mean': 0.42450833, 'std': 0.06862172, 'probe': [
        0.42170995, 0.53240371, 0.43832463, 0.3385253, 0.48456919, 0.49230617, 0.41826513, 0.31026295,
        0.47198647, 0.59849274, 0.45650083, 0.33856922, 0.43289456, 0.49692523, 0.36704236, 0.36210537],
        'sha256': 'f7a5ac98030c22d5acd86a7c42a7d8417f87a793f4574df4c6dbbe89aaec3766'},
    (64, 48): {'mean': 0.4230842, 'std': 0.06636823, 'probe': [
        0.42343915, 0.50226229, 0.43910277, 0.41403568, 0.50974953, 0.46651557, 0.41879657, 0.28978279,
        0.46273634, 0.4704363, 0.41692299, 0.38846204, 0.39243057, 0.49209255, 0.33505401, 0.30583826],
        'sha256': '631d2335a40c728d29e731048da8f3f4cc31dc8dd15c1135543c5fdfbc58c123'},
    (97, 131): {'mean': 0.42869039, 'std': 0.06901335, 'probe': [
        0.46157739, 0.38931876, 0.53691262, 0.31671095, 0.45478883, 0.39484847, 0.4519819, 0.2733658,
        0.53452313, 0.40264019, 0.46366572, 0.36580285, 0.39483047, 0.30911642, 0.48224235, 0.34115034],
        'sha256': '751e35db0a39180c97188fa940006fbbb9c78523486fab6127fe8b56b3d768a5'},
}


def test_state_dict_matches_the_official_format():
    net = FusionNet()
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == OFFICIAL
    assert sum(p.numel() for p in net.parameters()) == 138_741


def _official_checkpoint(path, fn_state):
    """The layout of `model.py: SuperFusion.save`: both networks, both Adam states, epoch and iteration."""
    adam = {'state': {}, 'param_groups': [{'lr': 0.001, 'betas': (0.9, 0.999), 'eps': 1e-08, 'weight_decay': 1e-05,
                                           'amsgrad': False, 'initial_lr': 0.001, 'params': list(range(4))}]}
    dm = {'feature_extractor.conv.weight': torch.zeros(16, 3, 3, 3)}  # stands in for the registration network
    torch.save({'DM': dm, 'FN': fn_state, 'DM_opt': adam, 'FN_opt': adam, 'ep': 1999, 'total_it': 123456}, path)


def test_loads_the_official_checkpoint_layout(tmp_path):
    state = seeded_state_like(FusionNet().state_dict(), seed=3)
    _official_checkpoint(tmp_path / 'MSRS.pth', state)
    torch.save(state, tmp_path / 'bare.pth')
    for name in ('MSRS.pth', 'bare.pth'):
        method = create_method('superfusion', weights=tmp_path / name)
        for key, value in method.net.state_dict().items():
            assert torch.equal(value, state[key]), (name, key)


@pytest.mark.parametrize('change', ['missing', 'module_prefix'])
def test_refuses_a_file_without_the_official_keys(tmp_path, change):
    # The official `resume` would silently keep random weights here; the port refuses.
    state = seeded_state_like(FusionNet().state_dict())
    if change == 'missing':
        state.pop('SAM.conv_out.model.0.bias')
    else:
        state = {f'module.{k}': v for k, v in state.items()}
    _official_checkpoint(tmp_path / 'bad.pth', state)
    with pytest.raises(ValueError, match='does not hold the SuperFusion fusion network'):
        create_method('superfusion', weights=tmp_path / 'bad.pth')


def _kernel_reference(x, w, b):
    """`IRNN_Forward_cuda.cu` written out per output position (numpy float32), for a small tensor."""
    n, c, h, wd = x.shape
    relu = lambda v: np.float32(v) if v > 0 else np.float32(0)  # noqa: E731
    outs = {d: np.zeros_like(x) for d in ('up', 'right', 'down', 'left')}
    for bi, ci, hi, wi in np.ndindex(n, c, h, wd):
        step = lambda o, d, v: relu(np.float32(np.float32(o * w[d][ci]) + b[d][ci]) + v)  # noqa: E731
        o = relu(x[bi, ci, hi, wd - 1])
        for i in range(wd - 2, wi - 1, -1):
            o = step(o, 'left', x[bi, ci, hi, i])
        outs['left'][bi, ci, hi, wi] = o
        o = relu(x[bi, ci, hi, 0])
        for i in range(1, wi + 1):
            o = step(o, 'right', x[bi, ci, hi, i])
        outs['right'][bi, ci, hi, wi] = o
        o = relu(x[bi, ci, h - 1, wi])
        for i in range(h - 2, hi - 1, -1):
            o = step(o, 'up', x[bi, ci, i, wi])
        outs['up'][bi, ci, hi, wi] = o
        o = relu(x[bi, ci, 0, wi])
        for i in range(1, hi + 1):
            o = step(o, 'down', x[bi, ci, i, wi])
        outs['down'][bi, ci, hi, wi] = o
    return [outs[d] for d in ('up', 'right', 'down', 'left')]


def test_irnn_is_the_kernels_recurrence():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 7, generator=g)
    weights = {d: (torch.rand(3, 1, 1, 1, generator=g) * 1.5 - 0.5, torch.randn(3, generator=g) * 0.3)
               for d in ('up', 'right', 'down', 'left')}
    expected = _kernel_reference(x.numpy(), {d: v[0].flatten().numpy() for d, v in weights.items()},
                                 {d: v[1].numpy() for d, v in weights.items()})
    for got, want in zip(irnn(x, weights), expected):
        np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize('size', list(DIGEST))
def test_matches_the_official_module_on_random_weights(tmp_path, size):
    _official_checkpoint(tmp_path / 'MSRS.pth', seeded_state_like(FusionNet().state_dict(), seed=0))
    method = create_method('superfusion', weights=tmp_path / 'MSRS.pth')
    ir, vis = seeded_pair(*size)
    ir_t = torch.from_numpy(ir).float().div(255)[None, None]
    vis_t = torch.from_numpy(vis).float().div(255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        out = method.network_output(ir_t, vis_t)[0].numpy()
    fused = (method.fuse(ir_t, vis_t)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    got, want = digest(out, fused), DIGEST[size]
    np.testing.assert_allclose([got['mean'], got['std'], *got['probe']],
                               [want['mean'], want['std'], *want['probe']], rtol=0, atol=1e-5)
    assert got['sha256'] == want['sha256']


def test_gray_visible_gives_the_green_channel_of_the_scripts_rgb():
    method = SuperFusion().eval()
    ir = torch.from_numpy(seeded_pair(20, 30)[0]).float().div(255)[None, None]
    vis = ir.flip(-1)
    with torch.inference_mode():
        rgb = method.network_output(ir, vis)
        gray = method.fuse(ir, vis)
    assert gray.shape == (1, 1, 20, 30)
    torch.testing.assert_close(gray, (rgb[:, 1:2] * 255).round() / 255, atol=0, rtol=0)
