"""MFEIF: the port against the official test script's outputs, the official file format, the edge operator and the
script's output handling (x * 255 written by cv2.imwrite: round half to even and clip, no stretch).

Official outputs (not committed; their digests below, see `official_digest`): JinyuanLiu-CV/MFEIF @ 07906ad, run
outside the project with the script's own `Fuse` class (`fuse.py`, unpatched: it picks the CPU itself when CUDA is
absent); only the folders of its `__main__` differ:

    cd MFEIF && OMP_NUM_THREADS=1 python -c "from fuse import Fuse; Fuse('weights/default.pth')(IR, VI, OUT)"

on 7 pairs: TNO-42 02, 10, 17, 37, 41 (768x576, 640x480, 620x450, 359x247, 472x371; gray stored as 3-channel PNG)
and MSRS test 00004N, 00055D (640x480, RGB visible PNG, which the script reads as cv2's gray), copied under the
pair's name to IR/ and VI/. Environment: Python 3.11.7, torch 2.13.0+cpu, kornia 0.9.0, opencv-python-headless
5.1.0.95, numpy 2.4.6, tqdm 4.70.1 (x86-64 AMD EPYC). The port reproduced all 7 images exactly (max |diff| 0).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from methods import get_method_spec
from methods.mfeif import MFEIF, MFEIFNet, edge_magnitude
from tests.methods.official_digest import check_official
from tests.methods.zoo_fidelity import FULL

pytestmark = pytest.mark.usefixtures('one_torch_thread')

# '<data set>/<pair>' -> sha256 of the gray image fuse.py wrote (as bench.images.read_image decodes it)
OFFICIAL_TNO42 = {
    'tno42/02': '6efdfc0ae7f0c90759c0995a24ae15d3480f86331cf1fb532b15daa2024ca88f',
    'tno42/10': 'b1014d61d2f1bd187cdee17bbc3fe9456d60b5a21b408e3b9c6b6a669b0bccb8',
    'tno42/17': '599f851985947951e5b15b62478b0b19a50929701a4f6572c78644655f79c9b9',
    'tno42/37': '0aaec57333bce160b513ce918f39ab0cb8e0866b177e528efcdd21b0bcebb430',
    'tno42/41': '7395b560a240125c41664c939859e078d12d10f6696ac471bebe477d7546c4cc',
}
OFFICIAL_MSRS = {
    'msrs/00004N': 'd9a8bdfe20e16f0f92f45daa2d2b25a00a2f2b18f74dab5894d1a176c656aa37',
    'msrs/00055D': 'eaf38a5a9fed6d99682743584e307e6d8ad01dcc2c2eb5d516d3b6e573ce49ba',
}


@pytest.mark.slow
@pytest.mark.calibration
def test_mfeif_reproduces_official_outputs(tmp_path, data_root, weights_dir):
    check_official(tmp_path, 'mfeif', OFFICIAL_TNO42, {'tno42': ['37']}, data_root, weights_dir)


@pytest.mark.slow
@pytest.mark.calibration
@pytest.mark.skipif(not FULL, reason='BENCH_FULL_FIDELITY=1 runs it (the suite checks the colour reading on ReCoNet, '
                    'which shares it: methods.reconet.Cv2GrayNetwork)')
def test_mfeif_reproduces_official_colour_outputs(tmp_path, data_root, weights_dir):
    check_official(tmp_path, 'mfeif', OFFICIAL_MSRS, {}, data_root, weights_dir, colour='gray')


def test_state_dicts_match_the_official_file(weights_dir):
    official = torch.load(weights_dir / 'mfeif' / 'weights' / 'default.pth', map_location='cpu', weights_only=True)
    net = MFEIFNet()
    for part in ('ext', 'att', 'con'):
        ours = getattr(net, part).state_dict()
        assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in official[part].items()}
    assert sum(p.numel() for p in net.parameters()) == 371_140


def test_refuses_a_different_file(tmp_path):
    net = MFEIFNet()
    torch.save({'ext': net.ext.state_dict(), 'att': net.att.state_dict()}, tmp_path / 'two.pth')
    with pytest.raises(ValueError, match="'ext', 'att' and 'con'"):
        MFEIF(weights=[tmp_path / 'two.pth'])
    state = {part: getattr(net, part).state_dict() for part in ('ext', 'att', 'con')}
    state['con']['conv_4.conv.weight'] = torch.zeros(1, 16, 5, 5)
    torch.save(state, tmp_path / 'shape.pth')
    with pytest.raises(ValueError, match="'con' does not match the official Constructor"):
        MFEIF(weights=[tmp_path / 'shape.pth'])


def test_edge_magnitude_is_kornia_diff_gradient():
    """kornia `SpatialGradient('diff')`: (x[j+1] - x[j-1]) / 2 along each axis, border replicated."""
    rng = np.random.default_rng(0)
    x = rng.random((2, 1, 7, 9)).astype(np.float32)
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode='edge')
    dx = (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) / 2
    dy = (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) / 2
    expected = np.sqrt(dx ** 2 + dy ** 2)
    np.testing.assert_allclose(edge_magnitude(torch.from_numpy(x)).numpy(), expected, rtol=1e-6, atol=1e-7)


def test_output_is_times_255_rounded_and_clipped():
    torch.manual_seed(0)
    method = MFEIF().eval()
    ir, vis = torch.randint(0, 256, (2, 1, 19, 23)) / 255., torch.randint(0, 256, (2, 1, 19, 23)) / 255.
    with torch.no_grad():
        method.net.con.conv_4.bn.bias.fill_(1.05)  # output around 1: above it -> 255
        raw = method.net(ir, vis)
    out = method(ir, vis)
    assert torch.equal(out, (raw * 255).round().clamp(0, 255) / 255) and out.shape == (2, 1, 19, 23)
    assert raw.max() > 1 and raw.min() < 1 and out.max() == 1


def test_registered_weights():
    (weights,) = get_method_spec('mfeif').weights
    assert weights.sha256 == 'de730170d4e7c794c476bdf1ace00b3f949ce12fe332dec4d83aa0a961d809b6'
    assert '07906adf34beb3de396aaf76a858a16887d547a4/weights/default.pth' in weights.url
