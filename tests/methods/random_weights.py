"""Seeded random weights and inputs for random-weight equality tests of ports whose official files are not here.

The official module and the port are filled with the same tensors, generated from the tensor's NAME by a seeded
numpy generator (independent of torch's initialisers, module order and version), so a test can regenerate exactly
the state that was written into the official module when its outputs were digested. Scales keep a deep network's
activations in a useful range: weights of fan-in n ~ N(0, gain^2/n); normalisation weights and attention
temperatures ~ 1 + N(0, 0.1^2); biases ~ N(0, 0.1^2). `gain` is chosen per network so that its output is neither
saturated nor a copy of an input.

SwinFusion and SuperFusion were digested with a second scheme, `seeded_state_like` (its scales below), which also
draws relative position bias tables N(0, 0.5^2) and the IRNN's (C, 1, 1, 1) direction weights 0.2 + N(0, 0.1^2);
`seeded_pair` and `digest` belong to it. Both schemes stay: each is what its official outputs were computed with.
"""
from __future__ import annotations

import hashlib
import zlib

import numpy as np
import torch

__all__ = ['seeded_tensor', 'seeded_state', 'seeded_levels', 'sample_index', 'seeded_state_like', 'seeded_pair',
           'digest']

#: parameter names (last component) filled around 1 rather than around 0
_AROUND_ONE = ('temperature', 'scale')


def seeded_tensor(name: str, shape: tuple[int, ...], seed: int, gain: float = 1.0) -> torch.Tensor:
    """The float32 tensor of parameter `name` (its name inside its module, without any `module.` prefix)."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    noise = rng.standard_normal(shape)
    last = name.rsplit('.', 1)[-1]
    if last in _AROUND_ONE or (last == 'weight' and len(shape) == 1):
        values = 1 + 0.1 * noise
    elif len(shape) == 1:
        values = 0.1 * noise
    else:
        values = noise * (gain / np.sqrt(np.prod(shape[1:])))
    return torch.from_numpy(values.astype(np.float32))


def seeded_state(module: torch.nn.Module, seed: int, gain: float = 1.0) -> dict[str, torch.Tensor]:
    """A seeded state dict with `module`'s names and shapes."""
    return {k: seeded_tensor(k, tuple(v.shape), seed, gain) for k, v in module.state_dict().items()}


def seeded_levels(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """uint8 test image: smooth gradients plus noise (a network's min-max output is then not dominated by noise)."""
    rng = np.random.default_rng(seed)
    h, w = shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    base = 127.5 + 90 * np.sin(x / (3 + 5 * rng.random()) + rng.random() * 6) * np.cos(y / (4 + 5 * rng.random()))
    base = base.reshape(h, w, *([1] * (len(shape) - 2)))
    noise = rng.normal(0, 25, shape)
    return np.clip(np.round(base + noise), 0, 255).astype(np.uint8)


def sample_index(seed: int, size: int, count: int) -> np.ndarray:
    """`count` distinct flat pixel indices of an image of `size` pixels, sorted."""
    rng = np.random.default_rng([seed, size])
    return np.sort(rng.choice(size, size=min(count, size), replace=False))


def _draw_like(name: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
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


def seeded_state_like(template: dict[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """A random value for every floating-point tensor of `template` (a state dict); other tensors are copied."""
    return {k: torch.from_numpy(_draw_like(k, tuple(v.shape), seed).astype(np.float32)) if v.is_floating_point()
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
    image = np.asarray(image, np.float64).reshape(-1, *image.shape[-2:])
    ys = np.linspace(0, image.shape[1] - 1, 4).round().astype(int)
    xs = np.linspace(0, image.shape[2] - 1, 4).round().astype(int)
    return {'mean': round(float(image.mean()), 8), 'std': round(float(image.std()), 8),
            'probe': [round(float(v), 8) for v in image[0][np.ix_(ys, xs)].ravel()],
            'sha256': hashlib.sha256(np.ascontiguousarray(quantised, np.uint8).tobytes()).hexdigest()}
