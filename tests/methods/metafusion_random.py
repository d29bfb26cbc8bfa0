"""Seeded weights and inputs for MetaFusion's random-weight equality test.

The official weight file is not at hand, so the port is compared with the official module on weights both sides draw
from the same seeds. Every tensor gets its own numpy generator seeded by (seed, crc32 of its name): the values depend
on the name and shape only, not on the order in which a network lists its tensors. Convolution weights are
N(0, 2 / fan_in) (He, the init the official `_weights_init` names), biases N(0, 0.05^2), so activations stay of order
one through the 18 convolutions; the last (1x1) convolution's weights are N(0, 1), so that the two sigmoid weights
spread over (0.08, 0.9) instead of staying near 0.5.

Only numpy and torch are imported: the script that ran the official code outside the project imported this file too.
"""
from __future__ import annotations

import zlib

import numpy as np
import torch


def _draw(name: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    z = rng.standard_normal(shape)
    if name.endswith('bias'):
        return 0.05 * z
    if shape[2:] == (1, 1):
        return z
    return z * np.sqrt(2.0 / int(np.prod(shape[1:])))


def seeded_state(template: dict[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """A float32 random value for every tensor of `template` (a state dict), keyed as in `template`."""
    return {k: torch.from_numpy(_draw(k, tuple(v.shape), seed).astype(np.float32)) for k, v in template.items()}


def seeded_pair(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 infrared image (h, w) and a colourful RGB visible image (h, w, 3): smooth structure plus noise, so
    the network sees edges and flat regions and every hue sector occurs."""
    rng = np.random.default_rng([seed, h, w])
    yy, xx = np.mgrid[0:h, 0:w]
    ir = 128 + 90 * np.sin(xx / 7.0) * np.cos(yy / 5.0) + rng.normal(0, 12, (h, w))
    phase = (xx + 2 * yy) / 9.0
    vis = np.stack([120 + 90 * np.cos(phase + k * 2.1) for k in range(3)], -1) + rng.normal(0, 10, (h, w, 3))
    return np.clip(ir, 0, 255).round().astype(np.uint8), np.clip(vis, 0, 255).round().astype(np.uint8)
