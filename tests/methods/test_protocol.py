"""The scipy/PIL image conventions of the official test scripts, checked against Pillow on every possible input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from methods._protocol import (bytescale, levels, pil_convert_f, pil_convert_l, pil_recolour, pil_rgb_to_ycbcr,
                               pil_ycbcr_luminance, pil_ycbcr_to_rgb, toimage_max)


def _all_triples(first: int, count: int) -> np.ndarray:
    """Every (a, b, c) byte triple with a in [first, first + count), as an (count*256, 256, 3) uint8 image."""
    a, b, c = np.meshgrid(np.arange(first, first + count), np.arange(256), np.arange(256), indexing='ij')
    return np.stack([a, b, c], -1).reshape(count * 256, 256, 3).astype(np.uint8)


def _nchw(image: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(image))
    return (t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]).float()


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).numpy() if t.shape[1] > 1 else t[0, 0].numpy()


@pytest.mark.parametrize('first', range(0, 256, 64))
def test_rgb_conversions_match_pillow_on_every_colour(first):
    rgb = _all_triples(first, 64)  # a quarter of all 2**24 colours per case
    im = Image.fromarray(rgb, 'RGB')
    t = _nchw(rgb)
    assert np.array_equal(_hwc(pil_convert_l(t)), np.asarray(im.convert('L')))
    assert np.array_equal(_hwc(pil_rgb_to_ycbcr(t)), np.asarray(im.convert('YCbCr')))
    assert np.array_equal(_hwc(pil_convert_f(t)), np.asarray(im.convert('F')))


@pytest.mark.parametrize('first', range(0, 256, 64))
def test_ycbcr_to_rgb_matches_pillow_on_every_triple(first):
    ycc = _all_triples(first, 64)
    expected = np.asarray(Image.fromarray(ycc, 'YCbCr').convert('RGB'))
    assert np.array_equal(_hwc(pil_ycbcr_to_rgb(_nchw(ycc))), expected)


def test_float_luminance_and_recolouring_match_pillow():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
    im = Image.fromarray(rgb, 'RGB')
    # scipy.misc.imread(flatten=True, mode='YCbCr') == convert('YCbCr') then convert('F') (via RGB).
    assert np.array_equal(_hwc(pil_ycbcr_luminance(_nchw(rgb))), np.asarray(im.convert('YCbCr').convert('F')))
    fused = rng.integers(0, 256, (97, 131), dtype=np.uint8)
    _, cb, cr = im.convert('YCbCr').split()
    expected = np.asarray(Image.merge('YCbCr', (Image.fromarray(fused, 'L'), cb, cr)).convert('RGB'))
    assert np.array_equal(_hwc(pil_recolour(_nchw(fused), _nchw(rgb))), expected)
    # A gray image stored as RGB does not survive PIL's YCbCr round trip: 22 of the 256 levels come back one lower
    # (an 'L' file would: l2ycbcr sets Cb = Cr = 128). Scripts reading TNO's 3-channel PNGs see the shifted values.
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, -1)
    expected = np.asarray(Image.fromarray(ramp, 'RGB').convert('YCbCr').convert('F'))
    assert np.array_equal(_hwc(pil_ycbcr_luminance(_nchw(ramp))), expected)
    assert (expected != np.arange(256)).sum() == 22
    assert np.array_equal(np.asarray(Image.fromarray(ramp[..., 0], 'L').convert('YCbCr').convert('F')), ramp[..., 0])


def _scipy_bytescale(data: np.ndarray, cmin=None, cmax=None) -> np.ndarray:
    """scipy 1.1 `bytescale` with numpy 1.x scalar promotion (`255.0 / float32` is float64, then cast to float32)."""
    cmin = data.min() if cmin is None else np.float32(cmin)
    cmax = data.max() if cmax is None else np.float32(cmax)
    cscale = cmax - cmin
    scale = np.float32(255.0 / float(cscale if cscale != 0 else 1))
    return ((data - cmin) * scale).clip(0, 255).astype(np.float32).__add__(np.float32(0.5)).astype(np.uint8)


def test_bytescale_is_scipy_imsave_per_image():
    rng = np.random.default_rng(1)
    batch = (rng.normal(0.3, 0.4, (3, 1, 40, 50)) ** 3).astype(np.float32)
    out = bytescale(torch.from_numpy(batch))
    for i in range(3):
        assert np.array_equal(out[i, 0].numpy(), _scipy_bytescale(batch[i, 0]).astype(np.float32))
        assert out[i].min() == 0 and out[i].max() == 255
    flat = bytescale(torch.full((1, 1, 4, 4), 0.7))
    assert flat.eq(0).all()
    out = toimage_max(torch.from_numpy(batch[:1]).abs())
    assert np.array_equal(out[0, 0].numpy(), _scipy_bytescale(np.abs(batch[0, 0]), 0, np.abs(batch[0, 0]).max()))


def test_bytescale_rounds_half_up_like_scipy():
    # 0.5 levels: 127.5 -> 128 (add 0.5, truncate), unlike round-half-even; negative inputs clip to 0.
    x = torch.tensor([0.0, 127.5, 255.0, 2.5]).view(1, 1, 1, 4)
    assert bytescale(x).flatten().tolist() == [0.0, 128.0, 255.0, 3.0]
    assert bytescale(x, cmin=10.0, cmax=265.0).flatten().tolist() == [0.0, 118.0, 245.0, 0.0]


def test_levels_undo_division_by_255():
    k = torch.arange(256, dtype=torch.float32)
    assert torch.equal(levels(k / 255), k)
    thousandths = torch.arange(0, 255001, 7, dtype=torch.int64).float() / 1000  # PIL 'F' values are L / 1000
    assert torch.equal(levels(thousandths.double() / 255), thousandths)


def test_pil_colour_mixin_reproduces_vif_benchmark_recolouring():
    from methods import FusionMethod
    from methods._protocol import PILColour

    class PassVisible(PILColour, FusionMethod):
        def forward(self, ir, vis):
            return vis.float()

    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (2, 23, 31, 3), dtype=np.uint8)
    vis = torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 255
    fused = PassVisible().eval().fuse(torch.zeros(2, 1, 23, 31), vis)
    for i in range(2):
        im = Image.fromarray(rgb[i], 'RGB')
        _, cb, cr = im.convert('YCbCr').split()
        expected = np.asarray(Image.merge('YCbCr', (im.convert('L'), cb, cr)).convert('RGB'))
        assert np.array_equal((fused[i] * 255).round().permute(1, 2, 0).numpy().astype(np.uint8), expected)
    gray = PassVisible().eval()
    gray.colour = 'gray'
    y = gray.fuse(torch.zeros(2, 1, 23, 31), vis)
    assert np.array_equal((y[0, 0] * 255).round().numpy(), np.asarray(Image.fromarray(rgb[0]).convert('L')))


def test_imread_flatten_ycbcr_depends_on_how_gray_is_stored():
    from methods._protocol import imread_flatten_ycbcr, per_modality
    k = torch.arange(256, dtype=torch.float32).view(1, 1, 1, 256)
    assert torch.equal(imread_flatten_ycbcr(k / 255, stored_rgb=False), k)
    shifted = imread_flatten_ycbcr(k / 255, stored_rgb=True)
    assert (shifted != k).sum() == 22 and (k - shifted).max() == 1
    lum = torch.tensor([77.123, 12.5], dtype=torch.float64).view(1, 1, 1, 2)  # PIL float luminance of RGB pixels
    assert torch.equal(imread_flatten_ycbcr(lum / 255, stored_rgb=True), lum.float())
    assert per_modality(True) == (True, True) and per_modality((False, True)) == (False, True)
    with pytest.raises(ValueError, match=r'Expected a bool or an \(ir, vis\) pair of bools, but got 1'):
        per_modality(1)


def test_csf_and_sdnet_option_errors():
    import methods
    with pytest.raises(ValueError, match='Expected `samples` >= 1, but got 0'):
        methods.create_method('csf', pretrained=False, samples=0)
    with pytest.raises(ValueError, match=r'pair of bools'):
        methods.create_method('sdnet', pretrained=False, gray_as_rgb='yes')
    with pytest.raises(ValueError, match="Expected `rule` in"):
        methods.create_method('densefuse', pretrained=False, rule='max')


@pytest.mark.parametrize('h, w', [(270, 360), (576, 768), (200, 150), (256, 256)])
def test_densefuse_demo_resize_is_pil_nearest(h, w):
    from methods.densefuse import _nearest
    img = np.random.default_rng(h).integers(0, 256, (h, w), dtype=np.uint8)
    down = _nearest(_nchw(img), 256, 256)[0, 0].numpy()
    assert np.array_equal(down, np.asarray(Image.fromarray(img).resize((256, 256), Image.NEAREST)))
    back = _nearest(torch.from_numpy(down)[None, None], h, w)[0, 0].numpy()
    assert np.array_equal(back, np.asarray(Image.fromarray(down.astype(np.uint8)).resize((w, h), Image.NEAREST)))
