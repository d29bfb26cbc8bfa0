"""Pieces shared by Wei Tang's transformer fusion networks (YDTR, DATFuse): the window-1 "Swin" block, the
replicate-padded convolution with batch norm, and the scripts' input and output conventions.

Facts from tthinking/YDTR @ b1f01b4 (`Networks/net.py`, `Test.py`) and tthinking/DATFuse @ 0cd93f1
(`Networks/network.py`, `Test.py`), which share this code:

* The transformer block is Swin's with `window_size=1` (the model default both test scripts use): every window
  holds one token, so the attention softmax runs over a single score and is exactly 1, the attention output is the
  token's value projection, and the query, key, relative position bias and shifted-window mask have no effect
  (with window 1 the shift `window_size // 2` is 0 in every block). No padding is needed for any image size.
* The block turns the (B, C, H, W) feature map into tokens with `x.view(B, H, W, C)`, a reinterpretation of
  memory, not a permute: token t holds the C consecutive values at flat positions C*t .. C*t + C - 1 of each image's
  channel-major (C, H, W) array, so a token straddles rows and channels. It is returned with the same `view`.
  `FlatTokenBlock` reproduces that with a reshape.
* Inputs: `PIL.Image.open(p).convert('L')`, `ToTensor()` (uint8 / 255 in float32); outputs:
  `(out * 255).astype(np.uint8)` on the float32 tanh output, saved as BMP (`uint8_cast`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._protocol import levels

__all__ = ['ReplicateConv', 'FlatTokenBlock', 'load_official_state', 'to_tensor', 'uint8_cast']


class ReplicateConv(nn.Module):
    """`F.pad(x, k // 2, 'replicate')`, a k x k convolution, batch norm (inference statistics), optional ReLU: the
    official `Convlutioanl` module (state-dict names `conv`, `bn`)."""

    def __init__(self, cin: int, cout: int, kernel: int, relu: bool = True) -> None:
        super().__init__()
        self.pad = (kernel // 2,) * 4
        self.relu = relu
        self.conv = nn.Conv2d(cin, cout, kernel)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(F.pad(x, self.pad, mode='replicate')))
        return F.relu(x) if self.relu else x


class _Value(nn.Module):
    """The attention of a one-token window: the value rows of `qkv` (the last `dim` outputs), then `proj`.

    The checkpoint's query/key rows are loaded with the rest of `qkv` (state-dict compatible) but never multiplied:
    their softmax over one score is 1 whatever they hold."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        value = F.linear(x, self.qkv.weight[2 * self.dim:], self.qkv.bias[2 * self.dim:])
        return self.proj(value)


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class FlatTokenBlock(nn.Module):
    """One official transformer block (window 1, MLP ratio 4, exact GELU, LayerNorm eps 1e-5) on (B, C, H, W).

    Tokens are the consecutive `dim`-value runs of each image's flat (C, H, W) memory (the official `view`); the
    state-dict names (`norm1`, `attn.qkv`, `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2`) are the official ones.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = _Value(dim)
        self.mlp = _Mlp(dim, 4 * dim)

    def forward(self, x: Tensor) -> Tensor:
        tokens = x.reshape(x.shape[0], -1, x.shape[1])  # x.view(B, H, W, C), flattened over H, W
        tokens = tokens + self.attn(self.norm1(tokens))
        tokens = tokens + self.mlp(self.norm2(tokens))
        return tokens.reshape(x.shape)


def to_tensor(x: Tensor) -> Tensor:
    """torchvision `ToTensor()` of the 'L' image: grey levels / 255 in float32 (`x` in [0, 1], as `forward` gets
    it; a colour visible image arrives as PIL's `convert('L')` luminance, see `PILColour`)."""
    return levels(x, 1.0) / 255


def uint8_cast(out: Tensor) -> Tensor:
    """numpy's `(out * 255).astype(np.uint8)` on float32, as grey levels 0..255 (float32).

    The cast truncates toward zero; values at or below -1 wrap around modulo 256 (C's float -> int -> uint8 on
    x86), so a tanh output below -1/255 turns bright. Official scripts save exactly that.
    """
    return torch.remainder(torch.trunc(out.float() * 255), 256)


_SKIP = ('.attn.relative_position_bias_table', '.attn.relative_position_index')


def _official_name(name: str, prefixes: dict[str, str]) -> str:
    for ours, theirs in prefixes.items():
        if name.startswith(ours):
            return theirs + name[len(ours):]
    raise KeyError(f'No official name for {name!r}.')


def load_official_state(net: nn.Module, state: dict[str, Tensor], prefixes: dict[str, str],
                        unused: tuple[str, ...]) -> None:
    """Copies the official `state` into `net` (the port's key prefixes mapped to the official ones by `prefixes`),
    checking that every official tensor is
    used, skipped for a stated reason (`unused` prefixes: modules the forward never calls; the attention's position
    bias, which a one-token window cannot use), or missing from neither side."""
    own = net.state_dict()
    wanted = {_official_name(k, prefixes): k for k in own}
    leftover = [k for k in state if k not in wanted and not k.startswith(unused) and not k.endswith(_SKIP)
                and not k.endswith('num_batches_tracked')]
    missing = [theirs for theirs in wanted if theirs not in state]
    if leftover or missing:
        raise ValueError(f'Checkpoint does not match the port: unexpected {leftover}, missing {missing}.')
    with torch.no_grad():
        for theirs, ours in wanted.items():
            value = state[theirs]
            if value.shape != own[ours].shape:
                raise ValueError(f'Checkpoint tensor {theirs} has shape {tuple(value.shape)}, the port expects '
                                 f'{tuple(own[ours].shape)}.')
            own[ours].copy_(value)
