"""`methods._resize` against the libraries it reproduces: Pillow's bilinear resize of 8-bit images (what
`scipy.misc.imresize` calls) and OpenCV's INTER_LINEAR resize of float32 images."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from methods._resize import cv_resize_linear, pil_resize_bilinear

# (input size, output size) as (h, w). Pillow resizes horizontally first; recent Pillow (12.x) does the vertical pass
# first when the height shrinks much more than the width, so the cases here keep Pillow's long-standing order.
PIL_CASES = [((480, 640), (1240, 1240)), ((306, 537), (1240, 1240)), ((576, 768), (1240, 1240)),
             ((37, 51), (90, 20)), ((50, 40), (30, 20)), ((5, 7), (3, 2)), ((1, 9), (1, 4))]


@pytest.mark.parametrize('src, dst', PIL_CASES)
@pytest.mark.parametrize('channels', [1, 3])
def test_pil_bilinear_is_exact(src, dst, channels):
    rng = np.random.default_rng(sum(src) + sum(dst) + channels)
    a = rng.integers(0, 256, (*src, channels), dtype=np.uint8)
    image = Image.fromarray(a[:, :, 0] if channels == 1 else a)
    expected = np.array(image.resize(dst[::-1], Image.BILINEAR)).reshape(*dst, channels)
    out = pil_resize_bilinear(torch.from_numpy(a).permute(2, 0, 1)[None].float(), dst)
    assert torch.equal(out[0].permute(1, 2, 0), torch.from_numpy(expected).float())


@pytest.mark.parametrize('src, dst', [((1240, 1240), (480, 640)), ((1240, 1240), (306, 537)),
                                      ((480, 640), (1240, 1240)), ((8, 640), (8, 1240)), ((31, 17), (31, 17))])
def test_cv_linear_within_float_rounding(src, dst):
    rng = np.random.default_rng(sum(src) + sum(dst))
    a = rng.normal(0.5, 0.3, (*src, 3)).astype(np.float32)
    expected = cv2.resize(a, dst[::-1])
    out = cv_resize_linear(torch.from_numpy(a).permute(2, 0, 1)[None], dst)[0].permute(1, 2, 0).numpy()
    # OpenCV's vectorised loops round some sums differently: 2 ulps at most, most values equal
    np.testing.assert_allclose(out, expected, rtol=0, atol=2.5e-7)
    assert np.mean(out == expected) > 0.5
