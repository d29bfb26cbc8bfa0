"""SwinFusion: official tensor names and file layout, the test script's padding, and equality with the official module
on random weights.

How the digest below was made (outside the project, never committed: third-party code's output):
`/work/scratch-swinfusion-superfusion/oracle/run_swinfusion.py` copied Linfeng-Tang/SwinFusion @ ceeec3f, built
`models.network_swinfusion1.SwinFusion` with exactly `test_swinfusion.py`'s `define_model` arguments under
`torch.manual_seed(0)`, replaced its parameters by `random_weights.seeded_state_like(state_dict, seed=0)` (buffers as
the constructor made them), wrote `10000_E.pth` with the official `ModelBase.save_network` (the bare state dict, buffers
included), and ran the official `test_swinfusion.py --iter_number 10000 --dataset RW --A_dir IR --B_dir VI_Y` (its
`define_model` loading, `Dataset`, padding, `tensor2uint`, `imsave`) on `random_weights.seeded_pair` images of the
three sizes below (the visible file RGB, read by the script with `cv2.imread(path, 0)`) plus five real pairs (TNO-42
05, 08, 37; RoadScene FLIR_00006; MSRS 00004N), then VIF-Benchmark's `img2RGB` (Linfeng-Tang/VIF-Benchmark @
23f2e51, `SwinFusion/utils/utils_image.py`) on each output. Environment: Python 3.11.7, torch 2.13.0+cpu, timm 0.4.12
(`timm.models.layers` imported without `timm/__init__`), opencv-python-headless 5.1.0.95, numpy 2.4.6, Pillow 13.0.0.
Patches: none to what is computed; `Tensor.cuda`/`Module.cuda` return the CPU object (the script already picks the
CPU when CUDA is absent); torchvision (imported for `make_grid`, unused) stubbed. The port, loading that file through
`create_method('swinfusion', weights=...)`, matched every float image before quantisation bit for bit (max abs diff
0 on all 8) and every written PNG, gray and recoloured, exactly. `DIGEST` keeps, per synthetic size,
`random_weights.digest` of the official float image and of its PNG (the test regenerates
the same weights and inputs).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from methods import create_method
from methods.swinfusion import SwinFusion, SwinFusionNet, _stored_buffers, shift_mask, symmetric_pad
from methods.umf_cmgr import cv2_png_gray
from tests.methods.random_weights import digest, seeded_pair, seeded_state_like

pytestmark = pytest.mark.usefixtures('one_torch_thread')

# random_weights.digest of the official outputs (see the module docstring), per (h, w) of seeded_pair(h, w); most
# of the float image is negative with these weights (clamped to 0 in the PNG): the float values are what is compared.
# 121 x 127 pads to 128 x 128, where the official blocks use the attention masks stored in the file.
DIGEST = {
    (37, 53): {'mean': -0.19600102, 'std': 0.15947938, 'probe': [
        -0.43456313, -0.44034642, -0.27109203, -0.29660645, -0.88981766, -0.12783939, -0.19087003, 0.02650507,
        -0.90127248, -0.12770656, -0.15312758, 0.01459578, -0.89605552, -0.23265192, -0.1351563, 0.15709677],
        'sha256': 'c9e008329ff7b96e6152a08e073de6c8275a8db5cf782dbc2ae60bd6e0c40422',
        'rgb_sha256': '73171ba7e650805f0fef1b1176ffbddd41489d007fa3f674d1e75bf7d1675d46'},
    (64, 48): {'mean': -0.20881006, 'std': 0.15509645, 'probe': [
        -0.43624309, -0.43078682, -0.31156486, -0.33390501, -0.85768723, -0.08615662, -0.15832569, -0.24876031,
        -0.90943366, -0.12332231, -0.17159227, -0.22887035, -0.86316437, -0.26034993, -0.1588853, -0.16390437],
        'sha256': 'd99878011f32b46522e1395376c11ad1d487fbf9d6b6cf2b4dfab8281069d61d',
        'rgb_sha256': 'd7e063f205e29d42473fedd02ad1dd8776fe3d5e0f561dddcb4aab275b8b4f75'},
    (121, 127): {'mean': -0.175273, 'std': 0.12740092, 'probe': [
        -0.43279088, -0.29980621, -0.39100802, -0.15947582, -0.84022188, -0.12124076, -0.20347585, 0.389375,
        -0.91327715, -0.24683183, -0.14794125, 0.44465134, -0.86221331, -0.19320425, -0.28900647, 0.44037655],
        'sha256': '756f99b9d1d42b8f60cb769459731682ab5e56b6336f38da4a37760209465b2a',
        'rgb_sha256': '7122b98a7fb83b3f4d3124faa8912fe7a36769731657384978dda5c9370713b8'},
}


def _official_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """The layout `ModelBase.save_network` writes: the bare state dict of the official network, its buffers
    (`relative_position_index` of every attention, `attn_mask` of every shifted block for 128 x 128 tokens)
    included, parameters drawn by `seeded_state_like`."""
    net = SwinFusionNet()
    state = seeded_state_like(net.state_dict(), seed)
    state.update(_stored_buffers(net))
    return state


def test_state_dict_matches_the_official_format():
    state = _official_state()
    assert len(state) == 448  # 408 parameters, 28 relative position indices, 12 shifted-window masks
    assert sum(k.endswith('attn_mask') for k in state) == 12
    assert state['layers_Fusion.1.residual_group.blocks.1.attn_mask'].shape == (256, 64, 64)
    assert state['layers_Ex_A.0.residual_group.blocks.0.attn.relative_position_bias_table'].shape == (225, 6)
    assert state['layers_Fusion.0.residual_group.blocks.0.attn_B.kv.weight'].shape == (120, 60)
    assert state['conv_first2_B.weight'].shape == (30, 30, 3, 3)
    assert sum(p.numel() for p in SwinFusionNet().parameters()) == 973_681


def test_shift_mask_is_swins():
    mask = shift_mask(16, 24, 8, 4)
    assert mask.shape == (6, 64, 64)
    assert set(mask.unique().tolist()) == {-100.0, 0.0}
    assert not mask[0].any()  # a window away from the bottom and right edges sees one region
    # the last window holds four regions of 4 x 4 tokens: each token attends to the 16 tokens of its own region
    assert ((mask[-1] == 0).sum(1) == 16).all()


@pytest.mark.parametrize('layout', ['bare', 'params'])
def test_loads_the_official_file_layouts(tmp_path, layout):
    state = _official_state(seed=5)
    torch.save(state if layout == 'bare' else {'params': state}, tmp_path / '10000_E.pth')
    method = create_method('swinfusion', weights=tmp_path / '10000_E.pth')
    for key, value in method.net.state_dict().items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize('change', ['missing', 'module_prefix', 'mask'])
def test_refuses_a_file_that_is_not_the_official_model(tmp_path, change):
    state = _official_state()
    if change == 'missing':
        state.pop('conv_last3.bias')
    elif change == 'module_prefix':
        state = {f'module.{k}': v for k, v in state.items()}
    else:
        state['layers_Re.0.residual_group.blocks.3.attn_mask'] = torch.zeros(256, 64, 64)
    torch.save(state, tmp_path / 'bad.pth')
    with pytest.raises(ValueError, match='SwinFusion'):
        create_method('swinfusion', weights=tmp_path / 'bad.pth')


def test_padding_is_the_scripts():
    x = torch.arange(5 * 7, dtype=torch.float32).view(1, 1, 5, 7)
    padded = symmetric_pad(x)
    assert padded.shape == (1, 1, 8, 8)
    assert torch.equal(padded[0, 0, 5:, :7], x[0, 0].flip(0)[:3])  # the edge row repeated, then the rows above it
    assert torch.equal(padded[0, 0, :5, 7], x[0, 0, :, 6])
    assert symmetric_pad(torch.zeros(1, 1, 16, 24)).shape == (1, 1, 24, 32)  # a multiple still gets 8 more
    # shorter than its padding: the script's cat/flip gives 2 h rows; the network reflects up to 8 inside
    assert symmetric_pad(torch.zeros(1, 1, 3, 5)).shape == (1, 1, 6, 8)
    net = SwinFusionNet().eval()
    with torch.inference_mode():
        assert net(torch.rand(1, 1, 6, 8), torch.rand(1, 1, 6, 8)).shape == (1, 1, 6, 8)


def test_input_levels_are_the_scripts_float32():
    # np.float32(level / 255.) (float64 division, then rounding) equals the float32 division the port does
    level = np.arange(256)
    assert np.array_equal(np.float32(level / 255.), (torch.arange(256).float() / 255).numpy())


def test_visible_luminance_and_recolouring():
    method = SwinFusion()
    rgb = torch.tensor([[[[10.0]], [[200.0]], [[90.0]]]]) / 255
    y, chroma = method.split_luminance(rgb)
    assert y.item() * 255 == pytest.approx(cv2_png_gray(rgb * 255).item())
    assert method.recolour(y.float(), chroma).shape == (1, 3, 1, 1)


@pytest.mark.parametrize('size', list(DIGEST))
def test_matches_the_official_module_on_random_weights(tmp_path, size):
    torch.save(_official_state(seed=0), tmp_path / '10000_E.pth')  # save_network's layout
    method = create_method('swinfusion', weights=tmp_path / '10000_E.pth')
    ir, vis = seeded_pair(*size)
    ir_t = torch.from_numpy(ir).float().div(255)[None, None]
    vis_t = torch.from_numpy(vis).float().div(255).permute(2, 0, 1)[None]
    gray, chroma = method.split_luminance(vis_t)  # cv2.imread(visible, 0)
    with torch.inference_mode():
        out = method.network_output(ir_t, gray.float())[0].numpy()
        fused_gray = method.fuse(ir_t, gray.float())
        fused_rgb = method.recolour(fused_gray, chroma)  # fuse(ir, vis) would run the network again
    got, want = digest(out, _u8(fused_gray)), DIGEST[size]
    np.testing.assert_allclose([got['mean'], got['std'], *got['probe']],
                               [want['mean'], want['std'], *want['probe']], rtol=0, atol=1e-5)
    assert got['sha256'] == want['sha256']
    assert digest(out, _u8(fused_rgb))['sha256'] == want['rgb_sha256']


def _u8(t: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) in [0, 1] -> the uint8 image as written: (H, W) gray or (H, W, 3) RGB."""
    image = (t[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return image[..., 0] if image.shape[-1] == 1 else image
