"""MUFusion and MUFusion-RoadScene, run by the benchmark with their default protocol, give exactly the images of the
official scripts (issue 16: verified against the official code).

How the reference images were made (outside the project; they are not committed, only their digests below):

* code: AWCXV/MUFusion @ 223134e6317081bbf57cf51d175e93b386bb7602, `ir_vis/test_image.py` (gray visible image) and
  `ir_vis/test_image_rgb.py` (colour visible image), their own `run_demo` called once per pair with
  `load_model('./models/TNO.model' or './models/RoadScene.model', 2, 1)` (README: "modify related variables in
  test_image.py"; its `main()` loops over `test_images/IR1.png` only);
* patches: `args.cuda = 0` (device selection); `scipy.misc` (removed from scipy >= 1.2) replaced by a stand-in
  with scipy 1.1's semantics for the two calls the scripts make: `imread(path, mode='L')` = PIL
  `Image.open(path).convert('L')`, `imsave(path, float array)` = `bytescale` (min-max to 0..255, + 0.5, truncated)
  then PIL save, `imsave` of the RGB script's PIL image = saved unchanged. Nothing else changed;
* environment: Python 3.11.7, torch 2.13.0+cpu (one thread), numpy 2.4.6, Pillow 13.0.0, CPU;
* inputs: tno42 05, 08, 34, 37, 41 (gray stored as RGB PNG), msrs 00004N, roadscene FLIR_00006 and vifb21
  walking (colour visible images), the shared files themselves (RoadScene's JPEGs decoded by PIL and stored as PNG
  for the other methods' scripts, VIFB's read as they are: PIL and OpenCV decode both to the same pixels). Gray
  pairs through `test_image.py`, colour pairs through both scripts, with each checkpoint.

Both checkpoints reproduce all 8 images exactly, and `colour='gray'` reproduces `test_image.py` on the three colour
pairs; the digests are sha256 of `read_image` of the official PNGs.
"""
from __future__ import annotations

import pytest
import torch

from tests.methods.official_digest import check_official

pytestmark = pytest.mark.usefixtures('one_torch_thread')

OFFICIAL = {
    'mufusion': {
        'tno42/05': '08318e150f976941c9a5b500f4aaaf3ec890429dfa0a9de1897c70f2e69bd65d',
        'tno42/08': 'd345b5c58a8ced319125f01627968f27e73cc969e67da84cb12e157ec9d9147d',
        'tno42/34': 'f2e2258514c4c3f4c297c23f4981bc9de90dbd69230425478146b6a679caa622',
        'tno42/37': '52c13beb0a6dd19f1771374f6344515cd22ff143388e2d7f42e0e7646115e053',
        'tno42/41': '4c71694e88782396c60492178f5cbf44105e4765742aa4bc3df6ee3a2d313c05',
        'msrs/00004N': 'c14190dc071ef072a0148b868d8c492d22cd9c7f8cd17e33e4dd18aff93b18ad',  # test_image_rgb.py
        'roadscene/FLIR_00006': '357f13bb7fe4959042defb1e06901ae8ef9e2e0e651a6a3270e16dc345bd5bdb',
        'vifb21/walking': '14f671cc5d44398f1b09ec1f09a61a2cd2c8ea12046d241e1a5f92a9d642a956',
    },
    'mufusion-roadscene': {
        'tno42/05': '77fe870d2af8db381d5f13a8f049e1214dae05f5fdb2a0074930ba8cbc7565d6',
        'tno42/08': 'e1d7e7b820fe4d3900d289fe266f76135702719947372598f693bb11ecfe99a0',
        'tno42/34': '61f1daca612fd1f2bcb227552c8d03524b76416a94e0808941349ca89627c0c5',
        'tno42/37': 'd4135a479268bd185cd0f1643b69ed85c558970334e5b84763d54eb684889cdd',
        'tno42/41': '97aa2ae6f18fadec311663929328d5fe29e1e39c3f5d9626912569d6f36c7622',
        'msrs/00004N': '493e9f4774a4bd335abdfb6ae25032d720f93000b1f8071f9f5dbb3bac8b633c',
        'roadscene/FLIR_00006': '76a3d9964e7b176e267f2fae73a06b2503595f2d48223ce2f684351cc978c2d4',
        'vifb21/walking': '19f9552a7fcfb793f02d0f8c241540da540be8c95b70195e9c78b2437791252f',
    },
}
# test_image.py on the colour pairs (what `colour='gray'` reproduces)
GRAY_SCRIPT_ON_COLOUR = {
    'mufusion': {'msrs/00004N': '9a527b7d6ae37628f0c1bc3177e5ab81efb1539d62820688c50311951bcc3c02',
                 'roadscene/FLIR_00006': 'ec3edb5ae9b1fa74cf66ed71ac8dd641346d9ce44eebe57e3d1be96e97ca2774',
                 'vifb21/walking': '61ed057f285697e870e6dc284245147ac5eded20f8aaad3dfae9a0b234d7392a'},
    'mufusion-roadscene': {'msrs/00004N': 'a54a0e7a0ab6fb5ebcc2ee35a5dc818f753701475552ce6d7bf94f57a41900d9',
                           'roadscene/FLIR_00006': '0461d742a12725e7a2f096b6cd5c73359cca09b3c73fa46a7a46a5399047de48',
                           'vifb21/walking': 'bea7ee1b0e514682e7444d5052ef5e81970222326ee1a41a217b63b4e27f70eb'},
}
# what the suite fuses (BENCH_FULL_FIDELITY=1: all 8 pairs): each script once, on the smallest pairs
SUBSET = {'mufusion': {'tno42': ['37']}, 'mufusion-roadscene': {'vifb21': ['walking']}}


@pytest.mark.slow
@pytest.mark.calibration
@pytest.mark.parametrize('name', ['mufusion', 'mufusion-roadscene'])
def test_reproduces_official_scripts(name, tmp_path, data_root, weights_dir):
    check_official(tmp_path, name, OFFICIAL[name], SUBSET[name], data_root, weights_dir)


@pytest.mark.slow
@pytest.mark.calibration
def test_gray_colour_mode_is_test_image_py(data_root, weights_dir):
    """`colour='gray'` on a colour pair runs test_image.py (PIL 'L' luminance, stretched output)."""
    import hashlib

    import methods
    from bench.images import read_image
    method = methods.create_method('mufusion', weights_dir=weights_dir, colour='gray')
    ir, vis = (read_image(data_root / 'vifb' / d / 'walking.jpg') for d in ('ir', 'vi'))
    fused = method.fuse(torch.from_numpy(ir)[None, None] / 255., torch.from_numpy(vis).permute(2, 0, 1)[None] / 255.)
    gray = (fused[0, 0] * 255).round().to(torch.uint8).contiguous().numpy()
    assert hashlib.sha256(gray.tobytes()).hexdigest() == GRAY_SCRIPT_ON_COLOUR['mufusion']['vifb21/walking']


def test_tiles_cover_the_image_as_the_script():
    """The official tiling: a 124-step grid of 128x128 patches, then the right column, the bottom row, the corner."""
    from methods.mufusion import tile_origins, tile_size
    assert [tile_size(n) for n in (33, 34, 127, 128, 500)] == [34, 34, 128, 128, 128]  # under 128: one even tile
    assert tile_origins(34, 48, 34, 48) == [(0, 0)] * 4
    origins = tile_origins(247, 359)  # tno42/37: rows range(0, 120, 124), columns range(0, 232, 124)
    assert origins == [(0, 0), (0, 124)] + [(0, 231)] + [(119, 0), (119, 124)] + [(119, 231)]
    covered = torch.zeros(247, 359)
    for i, j in origins:
        covered[i:i + 128, j:j + 128] += 1
    assert covered.min() >= 1


def test_checkpoints_load_by_official_names(weights_dir):
    """Each variant loads its own official state dict (every tensor by name), into a float64 network."""
    import methods
    for name, file in (('mufusion', 'TNO.model'), ('mufusion-roadscene', 'RoadScene.model')):
        method = methods.create_method(name, weights_dir=weights_dir)
        state = torch.load(weights_dir / 'mufusion' / 'ir_vis' / 'models' / file, weights_only=True)
        assert set(state) == set(method.net.state_dict())
        assert all(p.dtype == torch.float64 for p in method.net.parameters())
        assert torch.equal(method.net.conv11[1].weight, state['conv11.1.weight'].double())
