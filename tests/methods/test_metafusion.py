"""MetaFusion: random-weight equality with the official code, the official checkpoint layout, OpenCV's HSV.

The official weight file (`weight/model_weight.pth`) is not here, so the port was checked against the official
module and test script run with the SAME seeded random weights: `tests.methods.random_weights.seeded_state` (every
tensor generated from its name by a seeded numpy generator; seed 16, gain sqrt 2, the He scale: the two sigmoid
weights then spread over 0.44..0.74 instead of sitting at 0.5) written by `torch.save` as a bare state dict, the
layout `test.py` loads with `load_state_dict(torch.load(checkpoint), strict=True)`. Inputs from `seeded_levels`
(IR gray, visible RGB; the 4th pair has a gray visible file), saved as PNG, on 37x53, 64x48, 97x131 and 40x64
(widths with and without OpenCV's scalar row tail).

How it was run (outside the project, /work/scratch-metafusion): wdzhao123/MetaFusion @ a8c5eaf, `test.py`'s own
`test()` with its `get_test_loader` (num_workers 0), Python 3.11.7, torch 2.13.0+cpu, torchvision 0.28, numpy
1.26.4, opencv-python-headless 4.5.5 (the README's cv2), pillow 13.0. Patches: `device = 'cuda:0'` -> `'cpu'`, and
PIL `Image.resize` and `cv2.resize` replaced by identities (the loader's fixed 512x384 resize, which the benchmark
does not apply: see methods/metafusion.py). The float brightness `w0 * IR + w1 * V` was computed from the official
dataset's tensors and the official `FusionNet` as `test.py` computes it. Result: the port's equals it to the last
bit (max abs diff 0 before quantisation) and the PNGs `test.py` wrote equal the port's output pixel for pixel on all
four. The same weights on five real pairs (512x384 crops of TNO-42 01 and 17, VIFB 21, MSRS 00004N, VIF-Benchmark
00537D, the script unpatched but for the device), fused through the benchmark's reading: four PNGs equal to the
port's pixel for pixel; on 00537D one pixel one level apart in each channel (101.07 dB), where the port's brightness
is 54.999996 levels, truncated to 54, and the official one reached 55: float32 summation order in the convolutions
(the official run used torch's default threads, the port one), a few ulp on 196,608 pixels of which 42 lie within
1e-4 of a level. With the resize removed as above, on six pairs at their own sizes (TNO-42 06 575x475, TNO-21 1
360x270, VIF-Benchmark 175 371x331 and 049 537x306, MSRS 00004N 640x480, RoadScene FLIR_00006 500x329): the five
PNGs equal to the port's pixel for pixel; FLIR_00006 keeps its '.jpg' name, so test.py wrote a JPEG (48.66 dB against
the port's image before that encoding, which the method returns).

The recorded outputs are third-party output and are not committed: `random_weight_digests.json` ('metafusion') holds,
per image, the float brightness's mean and std and 100 sampled pixels (seeded positions, 9 significant digits), the
two weights' means, the sha256 of the PNG's pixels (one channel when the three are equal), and the saved pixels
where the official brightness * 255 lies within 1e-3 of a level (there a float32 ulp decides the truncation).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from methods import create_method
from methods._opencv_hsv import cv_hsv_to_rgb, cv_rgb_to_hsv
from methods.metafusion import FusionNet
from tests.methods.random_weights import sample_index, seeded_levels, seeded_state

pytestmark = pytest.mark.usefixtures('one_torch_thread')

SPEC = json.loads((Path(__file__).with_name('random_weight_digests.json')).read_text())['metafusion']


def seeded_file(path: Path) -> Path:
    """The digest run's random weights, saved as the official file is (a bare FusionNet state dict)."""
    torch.save(seeded_state(FusionNet(), SPEC['seed'], SPEC['gain']), path)
    return path


def seeded_inputs(k: int, h: int, w: int, rgb: bool) -> tuple[torch.Tensor, torch.Tensor]:
    ir = seeded_levels(SPEC['seed'] * 100 + 2 * k, (h, w))
    vis = seeded_levels(SPEC['seed'] * 100 + 2 * k + 1, (h, w, 3) if rgb else (h, w))
    vis_t = torch.from_numpy(vis).float().div(255)
    return (torch.from_numpy(ir).float().div(255)[None, None],
            vis_t.permute(2, 0, 1)[None] if rgb else vis_t[None, None])


def test_port_equals_official_code_on_random_weights(tmp_path):
    method = create_method('metafusion', weights=seeded_file(tmp_path / 'model_weight.pth'))
    worst = 0.0
    for k, (label, ref) in enumerate(SPEC['images'].items()):
        h, w = ref['shape']
        ir, vis = seeded_inputs(k, h, w, rgb='grayvis' not in label)
        with torch.inference_mode():
            weights = method.network_weights(ir, vis)[0].double()
            bright = method.fused_brightness(ir, vis)[0, 0].double()
            out = method.fuse(ir, vis)[0]
        idx = sample_index(SPEC['seed'], h * w, len(ref['samples']))
        diff = np.abs(bright.flatten().numpy()[idx] - np.array(ref['samples'])).max()
        worst = max(worst, diff)
        assert diff <= 1e-5, f'{label}: max abs diff {diff:.3g} at the sampled pixels'
        assert abs(bright.mean().item() - ref['mean']) <= 1e-6
        assert abs(bright.std(unbiased=False).item() - ref['std']) <= 1e-6
        assert np.allclose(weights.mean((1, 2)).numpy(), ref['weight_mean'], rtol=0, atol=1e-6)
        # the saved image: bit for bit, except where a float32 ulp of the brightness decides the level
        saved = out.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy().reshape(h * w, -1).copy()
        near = np.array(ref['near_level'], dtype=np.int64).reshape(-1, saved.shape[1] + 1)
        assert (np.abs(saved[near[:, 0]].astype(int) - near[:, 1:]) <= 1).all(), label
        saved[near[:, 0]] = near[:, 1:]
        assert hashlib.sha256(saved.tobytes()).hexdigest() == ref['uint8_sha256'], f'{label}: PNG pixels differ'
    print(f'\nmetafusion: max abs diff {worst:.3g} before quantisation at the samples (digits recorded: 9)')


def test_checkpoint_layout(tmp_path):
    path = seeded_file(tmp_path / 'model_weight.pth')
    state = torch.load(path, weights_only=True)
    assert len(state) == 36 and sum(v.numel() for v in state.values()) == 2_252_994
    assert {'block1.0.conv1_1.weight', 'block1.2.conv1_0_01.bias', 'block2.10.weight'} <= set(state)
    assert tuple(state['block2.10.weight'].shape) == (2, 64, 1, 1)
    torch.save({'module.' + k: v for k, v in state.items()}, tmp_path / 'dp.pth')  # test.py could not load this
    with pytest.raises(ValueError, match='misses'):
        create_method('metafusion', weights=tmp_path / 'dp.pth')
    torch.save({k: v for k, v in state.items() if k != 'block2.0.bias'}, tmp_path / 'partial.pth')
    with pytest.raises(ValueError, match='block2.0.bias'):
        create_method('metafusion', weights=tmp_path / 'partial.pth')
    torch.save(dict(state, **{'block2.10.weight': torch.zeros(2, 64, 3, 3)}), tmp_path / 'shape.pth')
    with pytest.raises(ValueError, match='block2.10.weight'):
        create_method('metafusion', weights=tmp_path / 'shape.pth')


def test_gray_visible_gives_gray_output_and_rgb_gives_rgb(tmp_path):
    method = create_method('metafusion', weights=seeded_file(tmp_path / 'model_weight.pth'))
    ir, vis = seeded_inputs(0, 21, 35, rgb=True)
    with torch.inference_mode():
        rgb = method.fuse(ir, vis)
        gray = method.fuse(ir, vis[:, :1])
        stretched = method.fuse(ir, vis[:, :1].expand(-1, 3, -1, -1))  # a gray image stored as RGB
    assert rgb.shape == (1, 3, 21, 35) and gray.shape == (1, 1, 21, 35)
    assert torch.equal(stretched, gray.expand(-1, 3, -1, -1))


# OpenCV's HSV conversions in the versions whose scalar row tail is known (methods/_opencv_hsv.py), where cv2
# dispatches 32-pixel AVX2 (FMA) blocks: x86-64 with AVX2, without AVX-512. Every colour / triple with
# BENCH_FULL_FIDELITY=1 (as checked when the port was written), 2**20 seeded ones otherwise.
_TAIL_FMA = {'4.5.5': False, '5.1.0': True}
_EVERY = os.environ.get('BENCH_FULL_FIDELITY') == '1'


def _opencv_hsv_kind() -> bool:
    if cv2.__version__ not in _TAIL_FMA:
        pytest.skip(f'OpenCV {cv2.__version__}: the scalar tail of HSV2RGB is characterised for {sorted(_TAIL_FMA)}')
    features = cv2.getCPUFeaturesLine().split()  # '*X': dispatched code for X, '?' where this CPU lacks it
    if '*AVX2' not in features or any(f.startswith('*AVX512') and not f.endswith('?') for f in features):
        pytest.skip(f'cv2 dispatches other vector code here ({cv2.getCPUFeaturesLine()})')
    return _TAIL_FMA[cv2.__version__]


def _as_rows(triples: np.ndarray, width: int) -> np.ndarray:
    """(n, 3) byte triples as an image of rows of `width` pixels (the last row padded with zeros)."""
    triples = np.concatenate([triples, np.zeros((-len(triples) % width, 3), triples.dtype)])
    return triples.reshape(-1, width, 3).astype(np.uint8)


def _triples(high: tuple[int, int, int], seed: int) -> np.ndarray:
    """Every byte triple below `high` (BENCH_FULL_FIDELITY=1) or 2**20 seeded ones, as (n, 3)."""
    if _EVERY:
        return np.stack(np.meshgrid(*(np.arange(n) for n in high), indexing='ij'), -1).reshape(-1, 3)
    return np.random.default_rng(seed).integers(0, high, (1 << 20, 3))


def test_rgb_to_hsv_matches_opencv():
    rgb = _as_rows(_triples((256, 256, 256), 0), 1024)
    got = cv_rgb_to_hsv(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())[0].permute(1, 2, 0)
    assert np.array_equal(got.to(torch.uint8).numpy(), cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV))


@pytest.mark.parametrize('width', [256, 31, 45])  # vector blocks only; scalar tail only; one block and a tail
def test_hsv_to_rgb_matches_opencv(width):
    tail_fma = _opencv_hsv_kind()
    hsv = _as_rows(_triples((181, 256, 256), width), width)
    got = cv_hsv_to_rgb(torch.from_numpy(hsv).permute(2, 0, 1)[None].float(), tail_fma=tail_fma)[0]
    assert np.array_equal(got.permute(1, 2, 0).to(torch.uint8).numpy(), cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))
