"""`read_image_layout`: what each kind of stored file decodes to, and whether it stored three channels."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.images import read_image_layout

RNG = np.random.default_rng(7)
GRAY = RNG.integers(0, 256, (6, 9), dtype=np.uint8)
RGB = RNG.integers(0, 256, (6, 9, 3), dtype=np.uint8)
GRAY_FIRST_ROW = RGB.copy()
GRAY_FIRST_ROW[0] = GRAY[0, :, None]     # a colour image whose first row is gray (a black border, say)


@pytest.mark.parametrize('stored, expected, three_channels', [
    (GRAY, GRAY, False),
    (np.repeat(GRAY[..., None], 3, axis=2), GRAY, True),
    (RGB, RGB, True),
    (GRAY_FIRST_ROW, GRAY_FIRST_ROW, True),
    (np.concatenate([RGB, np.full((6, 9, 1), 200, np.uint8)], axis=2), RGB, True),   # RGBA: alpha dropped
], ids=['gray', 'gray-as-rgb', 'rgb', 'rgb-with-gray-first-row', 'rgba'])
def test_decoded_array_and_layout(tmp_path, stored, expected, three_channels):
    path = tmp_path / 'image.png'
    bgr = cv2.cvtColor(stored, cv2.COLOR_RGBA2BGRA if stored.ndim == 3 and stored.shape[2] == 4 else
                       cv2.COLOR_RGB2BGR) if stored.ndim == 3 else stored
    assert cv2.imwrite(str(path), bgr)
    image, stored_rgb = read_image_layout(path)
    assert stored_rgb is three_channels
    assert image.flags.c_contiguous and np.array_equal(image, expected)
