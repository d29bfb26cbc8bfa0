"""Seeded random weights and inputs for random-weight equality tests of ports whose official files are not here.

The official module and the port are filled with the same tensors, generated from the tensor's NAME by a seeded
numpy generator (independent of torch's initialisers, module order and version), so a test can regenerate exactly
the state that was written into the official module when its outputs were digested. Scales keep a deep network's
activations in a useful range: weights of fan-in n ~ N(0, gain^2/n); normalisation weights and attention
temperatures ~ 1 + N(0, 0.1^2); biases ~ N(0, 0.1^2). `gain` is chosen per network so that its output is neither
saturated nor a copy of an input.
"""
from __future__ import annotations

import zlib

import numpy as np
import torch

__all__ = ['seeded_tensor', 'seeded_state', 'seeded_levels', 'sample_index']

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
