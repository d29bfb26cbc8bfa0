"""ReCoNet: the port against the official test script's outputs, the official file format, and the script's input and
output handling (cv2 gray input, tanh * 255 written by cv2.imwrite: round half to even and clip, no stretch).

Official outputs (not committed; their digests below, see `official_digest`): dlut-dimt/ReCoNet @ 0870f5f, run
outside the project with its own script, unpatched (it picks the CPU itself when CUDA is absent):

    cd archive && OMP_NUM_THREADS=1 PYTHONPATH=.. python fuse.py --ir IR --vi VI --dst OUT --cp params.pth

on 7 pairs: TNO-42 02, 10, 17, 37, 41 (768x576, 640x480, 620x450, 359x247, 472x371; gray stored as 3-channel PNG)
and MSRS test 00004N, 00055D (640x480, RGB visible PNG, which the script reads as cv2's gray), copied under the
pair's name to IR/ and VI/. Environment: Python 3.11.7, torch 2.13.0+cpu, kornia 0.9.0, opencv-python-headless
5.1.0.95, numpy 2.4.6 (x86-64 AMD EPYC). The port reproduced all 7 images exactly (every pixel, max |diff| 0).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from methods import create_method, get_method_spec
from methods.reconet import Fuser, ReCoNet
from methods.umf_cmgr import cv2_png_gray
from tests.methods.official_digest import check_official

pytestmark = pytest.mark.usefixtures('one_torch_thread')

# '<data set>/<pair>' -> sha256 of the gray image archive/fuse.py wrote (as bench.images.read_image decodes it)
OFFICIAL_TNO42 = {
    'tno42/02': '8b5ffa1be550668a6ad9964c5f5bbd26d0e0eaadb9d2c58db54513d60bc01286',
    'tno42/10': '5b4e2cf0d4f49b100599ec8bbc8ae10b4d3d82717b57708d550a039196822a23',
    'tno42/17': '82c1e6649c4f3a00e3b9c09e2dd408bc095d8a3ebfa11ad267477a35efcf1ff8',
    'tno42/37': 'eb80acfa31ef6d080c01d9eafb6990c96add41b26a59f761c1b0726045a536fb',
    'tno42/41': '8389dfb756244c3aa7b5c1c0e956bd57890f3a2d2a5abce345a32fdcb2af4315',
}
OFFICIAL_MSRS = {
    'msrs/00004N': 'e682a3ac185e5ad285afbcc0402e6456cabadda7c7a5f77c590aa8ebe88b5dbd',
    'msrs/00055D': '1d19399cada5ddb170d7d80ea56a6e8302601b0612c29312208e10005e57c815',
}


@pytest.mark.slow
@pytest.mark.calibration
def test_reconet_reproduces_official_outputs(tmp_path, data_root, weights_dir):
    check_official(tmp_path, 'reconet', OFFICIAL_TNO42, {'tno42': ['37']}, data_root, weights_dir)
    check_official(tmp_path, 'reconet', OFFICIAL_MSRS, {'msrs': ['00055D']}, data_root, weights_dir, colour='gray')


def test_state_dict_matches_the_official_file(weights_dir):
    official = torch.load(weights_dir / 'reconet' / 'archive' / 'params.pth', map_location='cpu', weights_only=True)
    ours = Fuser().state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in official.items()}
    assert sum(p.numel() for p in Fuser().parameters()) == 7527


def test_refuses_a_different_file(tmp_path):
    state = Fuser().state_dict()
    del state['att_a_conv.weight']
    torch.save(state, tmp_path / 'other.pth')
    with pytest.raises(ValueError, match='does not hold the ReCoNet state dict: missing'):
        ReCoNet(weights=[tmp_path / 'other.pth'])


def test_output_is_tanh_times_255_rounded_and_clipped():
    torch.manual_seed(0)
    method = ReCoNet().eval()
    ir, vis = torch.randint(0, 256, (2, 1, 19, 23)) / 255., torch.randint(0, 256, (2, 1, 19, 23)) / 255.
    with torch.no_grad():
        method.net.fus_conv[1].bias.fill_(-0.3)  # some outputs negative -> 0
        tanh = method.net(ir, vis)
    out = method(ir, vis)
    assert torch.equal(out, (tanh * 255).round().clamp(0, 255) / 255) and out.shape == (2, 1, 19, 23)
    assert out.eq(0).any() and out.max() < 1  # clipped at 0, not stretched


def test_colour_visible_is_read_as_cv2_gray_and_recoloured():
    rng = np.random.default_rng(0)
    rgb = torch.from_numpy(rng.integers(0, 256, (1, 3, 16, 20))).float() / 255
    ir = torch.from_numpy(rng.integers(0, 256, (1, 1, 16, 20))).float() / 255
    gray, colour = (create_method('reconet', pretrained=False, colour=c) for c in ('gray', 'ycbcr'))
    colour.load_state_dict(gray.state_dict())
    seen = []
    gray.net.forward = lambda i, v: seen.append(v) or i * 0 + 0.5
    out = gray.fuse(ir, rgb)
    torch.testing.assert_close(seen[0] * 255, cv2_png_gray(rgb * 255), atol=1e-4, rtol=0)
    assert out.shape == (1, 1, 16, 20) and colour.fuse(ir, rgb).shape == (1, 3, 16, 20)


def test_registered_weights():
    (weights,) = get_method_spec('reconet').weights
    assert weights.sha256 == 'd4f013c85e48d10d4f6c8b6574f16e4fe9cb5df48c77fc17c1e524f04bb3c290'
    assert '0870f5f37852ace85850d9fd2d4570eb57682d22/archive/params.pth' in weights.url
