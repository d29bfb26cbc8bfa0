"""GIFNet, run by the benchmark with its default protocol, gives exactly the images of the official test script
(issue 16: verified against the official code).

How the reference images were made (outside the project; they are not committed, only their digests below):

* code: AWCXV/GIFNet @ c8ad04ae3bfefcebfa9abe94d1d5895c8db56a44, `test.py` itself (run with `runpy`), with the
  README's infrared-visible arguments: `--test_ir_root <ir> --test_vis_root <vi> --save_path <out> --VIS_IS_RGB`
  and the default `--checkpoint model/Final.model`;
* patch: `args.Args.cuda = 0` (device selection). Nothing else changed. (torchvision 0.28.0's CUDA build was
  imported with its C-operator registration skipped, since no CPU build matches torch 2.13 here: `test.py` only
  uses its pure-Python `transforms.ToTensor`.);
* environment: Python 3.11.7, torch 2.13.0+cpu (one thread), numpy 2.4.6, opencv-python-headless 5.1.0,
  Pillow 13.0.0, timm 1.0.31, CPU;
* inputs: tno42 05, 08, 34, 37, 41 (gray stored as RGB PNG), msrs 00004N and roadscene FLIR_00006 (colour
  visible images) under one folder per modality, the shared files themselves except RoadScene's JPEGs, decoded by
  PIL and stored as PNG (the script names its output after the input; PIL and OpenCV decode them to the same
  pixels).

All 7 images are reproduced exactly; so are the 7 images of the same test.py without `--VIS_IS_RGB` (OpenCV's gray
reading and a truncated gray output: `create_method('gifnet', vis_is_rgb=False)`). The digests are sha256 of
`read_image` of the official PNGs (the TNO results are RGB PNGs with three equal channels, read as gray).
"""
from __future__ import annotations

import pytest
import torch

from tests.methods.official_digest import check_official

pytestmark = pytest.mark.usefixtures('one_torch_thread')

OFFICIAL = {
    'tno42/05': 'da283ff02743f6186693813d6d6e42923438f3587bf53acab197207c6c06485c',
    'tno42/08': '3ddc90a46bf53850f10206cf630c6724a011cf5d2beac3e27c7d7a02b8e7582c',
    'tno42/34': '977febbefac58208ed29d90b27f464306becfdfddb484a0f82eb5e7a1b29a699',
    'tno42/37': 'b2670de0a7beb3a312f87a3f1497ac445d04a82c4126ebdde96718e2d40262b2',
    'tno42/41': 'e7f4d3fbd51a825779244beb4e574fe1565d25bbb287354146e8fa3aeaedbbc0',
    'msrs/00004N': 'd2ce8dadfe5211b099db2036426d47624c1a834f3fc9df78ed8dbb697396c4d3',
    'roadscene/FLIR_00006': 'd90b7a2f2004bfade1a4b32689daac4f584ee3594e85bb3a887abfbfb62a0b76',
}
# test.py without --VIS_IS_RGB (`vis_is_rgb=False`), the same pairs (the colour ones read from the PNG copies)
OFFICIAL_GRAY_READ = {
    'tno42/05': 'd12cdd68ba151f3201fd295fa4415c549a29f313ebc7b5d0c76f56ac23b16439',
    'tno42/08': 'aabe64bb8240974695c0631d3a6cce16a71c86db083759adefcc251ef35c6989',
    'tno42/34': 'ae2a7b8da48e84b47da571ff91c863f99c4b79392f7f022fa42c1b0831fa3876',
    'tno42/37': '62e8ef7efef491cf81c30e304e1823a38a167c127b99ed132ee75ecdf51ce75f',
    'tno42/41': 'a375283da677b34a61c36ef3df75899d2b8645bf39b6c4951f48bbb34e490e92',
    'msrs/00004N': '9b3009cc3c423fb2b4d202d94725ca71137f6ecedb2f0c25a667e2860a140a53',
    'roadscene/FLIR_00006': 'c41379481beb4dc1c8d2b98c81d571870aca5cbcbe5108794075bed6b47d81fa',
}
SUBSET = {'tno42': ['08']}  # BENCH_FULL_FIDELITY=1: all 7; the colour path is checked below on the same pair


@pytest.mark.slow
@pytest.mark.calibration
def test_reproduces_official_test_script(tmp_path, data_root, weights_dir):
    check_official(tmp_path, 'gifnet', OFFICIAL, SUBSET, data_root, weights_dir)


@pytest.mark.slow
@pytest.mark.calibration
def test_reproduces_official_test_script_without_vis_is_rgb(tmp_path, data_root, weights_dir):
    from tests.methods.zoo_fidelity import FULL
    if not FULL:
        pytest.skip('BENCH_FULL_FIDELITY=1 runs it (png_gray is checked against OpenCV below)')
    check_official(tmp_path, 'gifnet', OFFICIAL_GRAY_READ, {}, data_root, weights_dir, vis_is_rgb=False)


def test_png_gray_is_opencvs_gray_reading_of_a_png(tmp_path):
    """`cv2.imread(path, IMREAD_GRAYSCALE)` of a colour PNG, on 2**20 colours (every gray among them)."""
    import cv2
    import numpy as np

    from methods.gifnet import png_gray
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (1024, 1024, 3)).astype(np.uint8)
    rgb[0, :256] = np.arange(256)[:, None]
    cv2.imwrite(str(tmp_path / 'c.png'), rgb[..., ::-1])
    theirs = cv2.imread(str(tmp_path / 'c.png'), cv2.IMREAD_GRAYSCALE)
    ours = png_gray(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())[0, 0].numpy()
    assert np.array_equal(ours, theirs)
    assert not np.array_equal(theirs, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)), 'not cvtColor: the case guarded'


def test_gray_visible_loses_a_level_where_the_script_truncates():
    """`--VIS_IS_RGB` on a gray visible image: the float sum 0.299 v + 0.587 v + 0.114 v falls below v for 65 of
    the 256 levels, and `astype(uint8)` truncates it (numpy does the same: see test_awcxv_colour.py)."""
    from methods.gifnet import truncated_luminance
    v = torch.arange(256.).view(1, 1, 16, 16).expand(1, 3, 16, 16)
    lost = (v[:, :1] - truncated_luminance(v)).flatten()
    assert set(lost.unique().tolist()) == {0.0, 1.0}
    assert int(lost.sum()) == 65
    assert lost[[1, 2, 4, 8, 11, 13, 16]].eq(1).all() and lost[[0, 3, 5, 255]].eq(0).all()


def test_checkpoint_loads_every_used_tensor(weights_dir):
    """Every tensor of the official state dict lands in the port, except the reconstruction decoder and the IVIF
    mixing weights that `trainingTag=2` never uses; the position table is the checkpoint's (equal to its formula)."""
    import methods
    from methods.gifnet import _relative_positions
    method = methods.create_method('gifnet', weights_dir=weights_dir)
    state = torch.load(weights_dir / 'gifnet' / 'model' / 'Final.model', weights_only=True)
    used = [k for k in state if not k.startswith(('decoder_rec.', 'extractor_multask.SwinTransformerSpecific.'
                                                  'layer1.weights.'))]
    assert len(used) == len(method.net.state_dict()) == 106
    assert torch.equal(method.net.mix[0], state['extractor_multask.SwinTransformerSpecific.layer1.weights_mfif.0'])
    table = state['extractor_multask.SwinTransformerSpecific.layer1.blocks.1.attn.attn.relative_positions']
    assert torch.equal(method.net.blocks[1].attn.attn.relative_positions, table)
    torch.testing.assert_close(_relative_positions(8), table)


@pytest.mark.slow
@pytest.mark.calibration
def test_colour_path_recolours_the_luminance_output(data_root, weights_dir):
    """A colour visible image: the network sees the truncated script Y; the result is the script's recolouring of
    `255 * out` with the visible Cb/Cr (unit-checked against numpy in test_awcxv_colour.py), and its gray output
    (`colour='gray'`) is `out` itself."""
    import methods
    from bench.images import read_image
    from methods._awcxv_colour import script_chroma, script_recolour
    from methods.gifnet import truncated_luminance
    ir = torch.from_numpy(read_image(data_root / 'tno42' / 'ir' / '08.png')[:128, :160].copy())[None, None].float()
    rgb = torch.from_numpy(read_image(data_root / 'roadscene' / 'vi' / 'FLIR_00006.jpg')[:128, :160].copy())
    rgb = rgb.permute(2, 0, 1)[None].float()
    colour = methods.create_method('gifnet', weights_dir=weights_dir)
    fused = colour.fuse(ir / 255, rgb / 255)
    with torch.no_grad():
        out = colour.net(ir / 255, truncated_luminance(rgb) / 255)
    assert torch.equal(fused * 255, script_recolour(out * 255, *script_chroma(rgb)))
    gray = methods.create_method('gifnet', weights_dir=weights_dir, colour='gray').fuse(ir / 255, rgb / 255)
    assert torch.equal(gray, out)
