"""Synthetic (fused, ir, vis) test inputs shared by the metric tests, and their conversion to tensors."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays


def tensors(*arrays: np.ndarray) -> list[torch.Tensor]:
    """The arrays as tensors of the same shape (sharing memory where they are contiguous)."""
    return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]


def single(*images: np.ndarray) -> list[torch.Tensor]:
    """2-D arrays as (1, 1, H, W) tensors."""
    return [torch.from_numpy(x)[None, None] for x in images]


def stacked(triples) -> tuple[torch.Tensor, ...]:
    """A list of 2-D (fused, ir, vis) triples as three (N, 1, H, W) batches."""
    return tuple(torch.from_numpy(np.stack([t[k] for t in triples])[:, None]) for k in range(3))


def blended_triple(seed: int, shape, vis_gain: float, vis_noise: tuple[float, float], fused_noise: float,
                   vis_offset: float = 0., fused_weights: tuple[float, float] = (0.5, 0.5)) -> tuple[np.ndarray, ...]:
    """(fused, ir, vis) float64 arrays of 0..255 integers: ir uniform, vis = vis_offset + vis_gain * ir + normal
    noise (mean, sd), fused = a weighted sum of ir and vis plus normal noise (sd)."""
    rng = np.random.default_rng(seed)
    ir = rng.integers(0, 256, size=shape).astype(np.float64)
    vis = np.clip(vis_offset + vis_gain * ir + rng.normal(*vis_noise, size=shape), 0, 255).round()
    w_ir, w_vis = fused_weights
    fused = np.clip(w_ir * ir + w_vis * vis + rng.normal(0, fused_noise, size=shape), 0, 255).round()
    return fused, ir, vis


def wavy_triple(seed: int, shape, amplitude: float, periods: tuple[float, float], noise, smooth: bool = True,
                flat_corner: bool = False) -> tuple[torch.Tensor, ...]:
    """Three images 128 + amplitude * sin(x / a + y / b) (a, b uniform in `periods`; 128 when not `smooth`) plus
    normal noise of sd `noise` (a number, or a (low, high) range drawn per image), rounded and clipped to 0..255.
    `flat_corner` sets the top-left H/4 x W/3 to 200."""
    rng = np.random.default_rng(seed)
    h, w = shape[-2:]
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for _ in range(3):
        base = 128 + amplitude * np.sin(xx / rng.uniform(*periods) + yy / rng.uniform(*periods)) if smooth else 128
        sd = rng.uniform(*noise) if isinstance(noise, tuple) else noise
        img = np.clip(base + rng.normal(0, sd, shape), 0, 255).round()
        if flat_corner:
            img[..., : h // 4, : w // 3] = 200
        out.append(img)
    return tuple(torch.from_numpy(x) for x in out)


@st.composite
def gray_triples(draw, min_side: int, max_side: int) -> tuple[np.ndarray, ...]:
    """Hypothesis strategy: (fused, ir, vis), 2-D float64 images of one random shape and integer levels 0..255."""
    levels = st.integers(0, 255).map(float)
    a = draw(arrays(np.float64, st.tuples(st.integers(min_side, max_side), st.integers(min_side, max_side)),
                    elements=levels))
    b, f = (draw(arrays(np.float64, a.shape, elements=levels)) for _ in range(2))
    return f, a, b
