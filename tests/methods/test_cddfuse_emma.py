"""CDDFuse and EMMA: random-weight equality with the official code, and the official checkpoint layouts.

The official weight files are not here, so each port was checked against the official modules and test scripts run
with the SAME seeded random weights (`tests.methods.random_weights`: every tensor generated from its name by a seeded
numpy generator, seed 16; gain 0.9 for CDDFuse, whose sigmoid output saturates at 1.0, and 1.0 for EMMA), on three
image sizes each, odd sizes included (IR gray, visible RGB, both from `seeded_levels`):

* CDDFuse, Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, `test_IVF.py` run as a script on 37x53, 48x64 and 61x40: the
  float image it hands to `img_save` and the PNG it writes equal the port's exactly (max abs diff 0 before
  quantisation, every pixel equal after);
* EMMA, Zhaozixiang1228/MMIF-EMMA @ 9983ca2, `test.py` run as a script on 64x96 (divisible by 32: one pass),
  45x71 (four tiles) and 70x64 (two tiles): the same, max abs diff 0 and every pixel equal.

The same scripts on five real pairs (TNO-42 05, 08, 37 (gray stored as RGB), MSRS 00004N and RoadScene FLIR_00006
(colour visible)), with those random weights, gave PNGs equal to the port's fused through the benchmark's image
reading: CDDFuse and EMMA every pixel equal on all five.

How they were run (outside the project, /work/scratch-cddfuse-emma): Python 3.11.7, torch 2.13.0+cpu, numpy 1.26.4,
opencv-python-headless 4.8.1.78 (IPP on), scikit-image 0.20.0 with imageio 2.22.4 (whose v2 `imsave` is what
scikit-image 0.19 calls; newer imageio refuses float PNGs), einops 0.8.2, timm 0.4.12 (CDDFuse's `net.py` imports
three unused names from `timm.models.layers`; they were imported without `timm/__init__`, which needs torchvision),
kornia 0.9.0 and h5py 3.16 (imported by EMMA's `utils.py`, unused at test time). Patches: CDDFuse `test_IVF.py`
`data_VIS.cuda(), data_IR.cuda()` -> `.to(device)` (device is 'cpu' there), and the metric evaluation that follows
the saving cut out (its SSIM call needs scikit-image <= 0.19; it only reads the saved images). EMMA's `test.py` ran
unpatched (its Windows paths `test_img\\ir`, `model\\EMMA.pth` are literal file names on Linux). Checkpoints were
written as the official code saves them: CDDFuse a dict of `nn.DataParallel(...).state_dict()` under
`DIDF_Encoder`, `DIDF_Decoder`, `BaseFuseLayer`, `DetailFuseLayer`; EMMA `model.state_dict()`. The recorded float
images are third-party output and are not committed: `random_weight_digests.json` holds, per image, 200 sampled
pixels of the float image / 255 (seeded positions), its mean and std (9 significant digits), and the sha256 of the
PNG's uint8 pixels.

This test regenerates the weights and inputs, writes them in the official layouts, loads them through the
registry's loader (`create_method(name, weights=path)`, as a user's file is loaded) and requires max abs diff
<= 1e-5 at the samples, mean and std within 1e-6, and the sampled uint8 levels equal wherever the official value is
not within 1e-3 of a rounding boundary.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from methods import create_method
from methods._zhao_io import cv_float_gray, imageio_uint8, minmax
from methods.cddfuse import PARTS
from methods.emma import tiles
from tests.methods.random_weights import sample_index, seeded_levels, seeded_state

pytestmark = pytest.mark.usefixtures('one_torch_thread')

DIGESTS = json.loads((Path(__file__).with_name('random_weight_digests.json')).read_text())


def write_official_checkpoint(name: str, method, path: Path) -> Path:
    """`method`'s weights in the file layout of the official code (`train.py` / `train_Fusion.py`)."""
    if name == 'cddfuse':
        torch.save({key: nn.DataParallel(getattr(method.net, attr)).state_dict() for key, attr in PARTS.items()},
                   path)
    else:
        torch.save(method.net.state_dict(), path)
    return path


def seeded_method(name: str, tmp_path: Path):
    spec = DIGESTS[name]
    template = create_method(name, pretrained=False)
    # tensors are seeded by their names in the official modules: CDDFuse's four parts are four modules
    modules = [getattr(template.net, attr) for attr in PARTS.values()] if name == 'cddfuse' else [template.net]
    for module in modules:
        module.load_state_dict(seeded_state(module, spec['seed'], spec['gain']))
    path = write_official_checkpoint(name, template, tmp_path / 'official.pth')
    return create_method(name, weights=str(path))


def inputs(k: int, h: int, w: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k-th pair of the digest run: IR gray and visible RGB, [0, 1] tensors."""
    ir = seeded_levels(seed * 100 + 2 * k, (h, w))
    vis = seeded_levels(seed * 100 + 2 * k + 1, (h, w, 3))
    return (torch.from_numpy(ir).float().div(255)[None, None],
            torch.from_numpy(vis).float().div(255).permute(2, 0, 1)[None])


@pytest.mark.slow
@pytest.mark.parametrize('name', ['cddfuse', 'emma'])
def test_port_equals_official_code_on_random_weights(name, tmp_path):
    spec = DIGESTS[name]
    method = seeded_method(name, tmp_path)
    worst, exact = 0.0, 0
    for k, (label, ref) in enumerate(sorted(spec['images'].items())):
        h, w = ref['shape']
        ir, vis = inputs(k, h, w, spec['seed'])
        with torch.inference_mode():
            flt = method.fused_float(ir, method.split_luminance(vis)[0])[0, 0].double() / 255
            fused = method.fuse(ir, vis)[0, 0].mul(255).round().to(torch.uint8).numpy()
        assert fused.shape == (h, w)
        idx = sample_index(spec['seed'], h * w, len(ref['samples']))
        samples = flt.flatten()[torch.from_numpy(idx)].numpy()
        expected = np.array(ref['samples'])
        diff = np.abs(samples - expected).max()
        worst = max(worst, diff)
        assert diff <= 1e-5, f'{name} {label}: max abs diff {diff:.3g} at the sampled pixels'
        assert abs(flt.mean().item() - ref['mean']) <= 1e-6 and abs(flt.std(unbiased=False).item() - ref['std']) <= 1e-6
        levels = expected * 255
        clear = np.abs(levels - np.floor(levels) - 0.5) > 1e-3
        assert (fused.ravel()[idx][clear] == np.floor(levels + 0.499999999)[clear]).all(), f'{name} {label}'
        exact += hashlib.sha256(np.ascontiguousarray(fused).tobytes()).hexdigest() == ref['uint8_sha256']
    print(f'\n{name}: max abs diff {worst:.3g} before quantisation at the samples; '
          f'{exact}/{len(spec["images"])} images equal the official PNG bit for bit')


def test_cddfuse_checkpoint_layout(tmp_path):
    method = create_method('cddfuse', pretrained=False)
    # the official file: four DataParallel state dicts (`module.` prefixes) under the names train.py saves
    path = write_official_checkpoint('cddfuse', method, tmp_path / 'CDDFuse_IVF.pth')
    saved = torch.load(path, weights_only=True)
    assert set(saved) == {'DIDF_Encoder', 'DIDF_Decoder', 'BaseFuseLayer', 'DetailFuseLayer'}
    assert all(k.startswith('module.') for part in saved.values() for k in part)
    assert len(saved['DIDF_Encoder']) == 89 and len(saved['DIDF_Decoder']) == 47
    assert len(saved['BaseFuseLayer']) == 11 and len(saved['DetailFuseLayer']) == 11
    assert sum(v.numel() for part in saved.values() for v in part.values()) == 1_188_272
    create_method('cddfuse', weights=str(path))
    torch.save({'DIDF_Encoder': saved['DIDF_Encoder']}, tmp_path / 'partial.pth')
    with pytest.raises(ValueError, match='DIDF_Decoder'):
        create_method('cddfuse', weights=str(tmp_path / 'partial.pth'))
    broken = dict(saved, BaseFuseLayer={k: v for k, v in saved['BaseFuseLayer'].items() if 'qkv2' not in k})
    torch.save(broken, tmp_path / 'broken.pth')
    with pytest.raises(ValueError, match='missing'):
        create_method('cddfuse', weights=str(tmp_path / 'broken.pth'))


def test_emma_checkpoint_layout(tmp_path):
    method = create_method('emma', pretrained=False)
    state = method.net.state_dict()
    assert len(state) == 347 and sum(v.numel() for v in state.values()) == 1_517_657
    assert {'V_en_1.GlobalFeature.attn.qkv2.weight', 'up4.0.weight', 'last.0.bias'} <= set(state)
    torch.save({'module.' + k: v for k, v in state.items()}, tmp_path / 'dp.pth')  # a DataParallel save loads too
    create_method('emma', weights=str(tmp_path / 'dp.pth'))
    torch.save({'model': state}, tmp_path / 'wrapped.pth')
    with pytest.raises(ValueError, match='Ufuser'):
        create_method('emma', weights=str(tmp_path / 'wrapped.pth'))


def test_emma_tiles_cover_every_pixel_once():
    for h, w in [(45, 71), (70, 64), (64, 97), (32, 33), (479, 641)]:
        count = torch.zeros(h, w)
        for rows, cols, keep_rows, keep_cols in tiles(h, w):
            assert rows.stop - rows.start == h - h % 32 and cols.stop - cols.start == w - w % 32
            assert rows.start <= keep_rows.start and keep_rows.stop <= rows.stop
            assert cols.start <= keep_cols.start and keep_cols.stop <= cols.stop
            count[keep_rows, keep_cols] += 1
        assert (count == 1).all(), (h, w)


def test_emma_rejects_images_without_a_tile():
    method = create_method('emma', pretrained=False)
    with pytest.raises(ValueError, match='at least 32x32'):
        method.fuse(torch.rand(1, 1, 31, 64), torch.rand(1, 1, 31, 64))


def test_opencv_float_gray():
    # cv2.cvtColor(float32 BGR, COLOR_BGR2GRAY), np.round, as opencv-python-headless 4.8.1.78 computes it with IPP
    # (x86-64, AVX-512) and without (`cv2.ipp.setUseIPP(False)`, `cv2.setUseOptimized(False)`); these colours are
    # among the 546 of 2**24 where the two differ (the port matched each on all 2**24 colours)
    rgb = torch.tensor([[188, 2, 1], [37, 97, 57], [12, 68, 114], [44, 134, 199], [48, 234, 235]], dtype=torch.float32)
    rgb = rgb.T.reshape(1, 3, 5, 1)
    assert cv_float_gray(rgb).flatten().tolist() == [58, 75, 56, 114, 178]
    assert cv_float_gray(rgb, ipp=False).flatten().tolist() == [57, 74, 57, 115, 179]
    gray = torch.arange(256.0).view(1, 1, 1, 256).expand(1, 3, 1, 256)
    for ipp in (True, False):  # three equal channels read as their level
        assert torch.equal(cv_float_gray(gray, ipp)[0, 0, 0], torch.arange(256.0))


def test_imageio_quantisation():
    # image_as_uint: [0, 1] floats scaled by 255; others stretched to min/max; + 0.499999999, truncated (float64)
    assert imageio_uint8(torch.tensor([0.0, 0.5, 1.0])).tolist() == [0, 127, 255]
    assert imageio_uint8(torch.tensor([0.0, 0.5, 1.0]) * 255).tolist() == [0, 127, 255]
    assert imageio_uint8(torch.tensor([10.0, 10.5 + 1e-6, 12.0])).tolist() == [0, 64, 255]
    assert minmax(torch.full((2, 2), 0.3)).eq(0).all()
