"""UMF-CMGR: official state dict names and shapes, both official checkpoint layouts, and the official test script's
input and output handling (cv2 gray input, tanh * 255 written by cv2.imwrite: round and clip, no stretch)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from methods import create_method, get_method_spec
from methods.umf_cmgr import UMFCMGR, FusionNet, cv2_float_to_uint8, cv2_png_gray


pytestmark = pytest.mark.usefixtures('one_torch_thread')


# models/fusion_net.py: FusionNet(nfeats=64), key by key
OFFICIAL = {
    'conv1_1.0.weight': (64, 1, 3, 3), 'conv1_1.0.bias': (64,),
    'conv2_1.0.weight': (64, 1, 3, 3), 'conv2_1.0.bias': (64,),
    **{f'{path}.0.dense_layers.{i}.conv.weight': (64, 64 * (i + 1), 3, 3)
       for path in ('ir_path', 'vi_path') for i in range(3)},
    'ir_path.0.conv_1x1.weight': (64, 256, 1, 1), 'vi_path.0.conv_1x1.weight': (64, 256, 1, 1),
    'fuse.query_conv.weight': (64, 64, 3, 3), 'fuse.query_conv.bias': (64,),
    'fuse.key_conv.weight': (64, 64, 3, 3), 'fuse.key_conv.bias': (64,),
    'fuse.gamma1.weight': (2, 128, 3, 3), 'fuse.gamma1.bias': (2,),
    'fuse.gamma2.weight': (2, 128, 3, 3), 'fuse.gamma2.bias': (2,),
    'fuse_res.weight': (64, 128, 3, 3), 'fuse_res.bias': (64,),
    'out_conv.weight': (1, 64, 3, 3), 'out_conv.bias': (1,),
}


def test_state_dict_matches_the_official_format():
    net = FusionNet()
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == OFFICIAL
    assert sum(p.numel() for p in net.parameters()) == 629_253


def _state(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=g) * 0.05 for k, s in OFFICIAL.items()}


@pytest.mark.parametrize('layout', ['official', 'bare', 'legacy'])
def test_loads_both_official_layouts(tmp_path, layout):
    """`Test/test_fuse.py` loads `torch.load(ckpt)['net']`; the training script saves the bare state dict."""
    state = _state()
    path = tmp_path / 'UMF_CMGR.pth'
    if layout == 'official':
        torch.save({'net': state, 'epoch': 200}, path)
    else:
        torch.save(state, path, _use_new_zipfile_serialization=layout != 'legacy')
    method = UMFCMGR(weights=[path])
    for key, value in method.net.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_refuses_wrong_file(tmp_path):
    path = tmp_path / 'other.pth'
    torch.save({'net': {k: v for k, v in _state().items() if not k.startswith('fuse.')}}, path)
    with pytest.raises(ValueError, match="no tensor 'fuse.*not the official file"):
        UMFCMGR(weights=[path])


def test_output_is_tanh_times_255_rounded_and_clipped():
    torch.manual_seed(0)
    method = UMFCMGR().eval()
    ir, vis = torch.randint(0, 256, (2, 1, 19, 23)) / 255., torch.randint(0, 256, (2, 1, 19, 23)) / 255.
    with torch.no_grad():
        method.net.out_conv.bias.fill_(-0.05)  # some outputs negative -> 0, no stretch
        tanh = method.net(ir, vis)
    out = method(ir, vis)
    expected = (tanh * 255).round().clamp(0, 255) / 255
    assert torch.equal(out, expected) and out.shape == (2, 1, 19, 23)
    assert out.eq(0).any() and out.max() < 1  # clipped at 0, and not stretched to 255


def test_cv2_float_to_uint8_is_what_imwrite_writes(tmp_path):
    values = np.array([[-3.2, 0.5, 1.5, 2.5, 127.49, 127.5, 254.6, 300.0]], np.float32)
    cv2.imwrite(str(tmp_path / 'f.png'), values)
    written = cv2.imread(str(tmp_path / 'f.png'), cv2.IMREAD_UNCHANGED)
    assert written.tolist() == [[0, 0, 2, 2, 127, 128, 255, 255]]  # round half to even, saturate
    assert cv2_float_to_uint8(torch.from_numpy(values)).tolist() == written.tolist()


def test_cv2_png_gray_is_what_imread_reads(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    rgb[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [7, 7, 7], [1, 2, 3],
                  [90, 200, 30]]
    cv2.imwrite(str(tmp_path / 'vi.png'), rgb[..., ::-1])
    gray = cv2.imread(str(tmp_path / 'vi.png'), cv2.IMREAD_GRAYSCALE)
    ours = cv2_png_gray(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())
    assert ours[0, 0].numpy().astype(np.uint8).tolist() == gray.tolist()
    # and the method feeds exactly that luminance to the network for a colour visible image
    method = create_method('umf-cmgr', pretrained=False, colour='gray')
    seen = []
    method.net.forward = lambda ir, vi: seen.append(vi) or ir * 0
    method.fuse(torch.zeros(1, 1, 64, 96), torch.from_numpy(rgb).permute(2, 0, 1)[None] / 255.)
    torch.testing.assert_close(seen[0][0, 0] * 255, torch.from_numpy(gray).float(), atol=1e-4, rtol=0)


def test_registered_weights():
    (weights,) = get_method_spec('umf-cmgr').weights
    assert weights.git_blob == '7cd235858341328e4cf19ed81bc1e87986183229' and weights.url.startswith('https://')
