"""Seeded random weights and inputs for random-weight equality tests of ports whose official files are not at hand.

Every tensor is drawn from its own numpy generator seeded by (seed, crc32 of its name), so the values depend only on
the name and shape, not on the order in which a network lists its tensors: the official module and the port get the
same numbers whatever their construction order. Scales keep activations of order one through deep stacks:
convolution and linear weights N(0, 1 / fan_in), LayerNorm weights 1 + N(0, 0.1^2), biases and relative position
biases N(0, 0.1^2) and N(0, 0.5^2), recurrence weights (shape (C, 1, 1, 1) of an IRNN) 0.2 + N(0, 0.1^2).

Only numpy and torch are imported here: the scripts that ran the official code outside the project import this file
too, so both sides draw the same weights.
"""
from __future__ import annotations

import zlib

import numpy as np
import torch


def _draw(name: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    z = rng.standard_normal(shape)
    leaf = name.rsplit('.', 1)[-1]
    if leaf == 'relative_position_bias_table':
        return 0.5 * z
    if leaf == 'bias':
        return 0.1 * z
    if len(shape) == 1:  # LayerNorm weight
        return 1 + 0.1 * z
    if len(shape) == 4 and shape[1:] == (1, 1, 1):  # IRNN direction weights
        return 0.2 + 0.1 * z
    fan_in = int(np.prod(shape[1:]))
    return z / np.sqrt(fan_in)


def seeded_state(template: dict[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """A random value for every floating-point tensor of `template` (a state dict); other tensors are copied."""
    return {k: torch.from_numpy(_draw(k, tuple(v.shape), seed).astype(np.float32)) if v.is_floating_point()
            else v.clone() for k, v in template.items()}


def seeded_pair(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 infrared image (h, w) and an RGB visible image (h, w, 3): smooth structure plus noise, so the
    networks see edges and flat regions alike."""
    rng = np.random.default_rng([seed, h, w])
    yy, xx = np.mgrid[0:h, 0:w]
    ir = 128 + 80 * np.sin(xx / 7.0) * np.cos(yy / 5.0) + rng.normal(0, 12, (h, w))
    base = 120 + 70 * np.cos((xx + 2 * yy) / 9.0)
    vis = base[..., None] + np.array([25.0, 0.0, -25.0]) * np.sin(xx / 11.0)[..., None] + rng.normal(0, 10, (h, w, 3))
    return np.clip(ir, 0, 255).round().astype(np.uint8), np.clip(vis, 0, 255).round().astype(np.uint8)


def digest(image: np.ndarray, quantised: np.ndarray) -> dict:
    """What a committed test keeps of an official output: mean and standard deviation of the float image (C, H, W)
    before quantisation, its first channel at a 4 x 4 grid of pixels, and the sha256 of the uint8 image the script
    writes (H, W) or (H, W, C)."""
    import hashlib
    image = np.asarray(image, np.float64).reshape(-1, *image.shape[-2:])
    ys = np.linspace(0, image.shape[1] - 1, 4).round().astype(int)
    xs = np.linspace(0, image.shape[2] - 1, 4).round().astype(int)
    return {'mean': round(float(image.mean()), 8), 'std': round(float(image.std()), 8),
            'probe': [round(float(v), 8) for v in image[0][np.ix_(ys, xs)].ravel()],
            'sha256': hashlib.sha256(np.ascontiguousarray(quantised, np.uint8).tobytes()).hexdigest()}
