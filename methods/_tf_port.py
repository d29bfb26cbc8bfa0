"""Loading official checkpoints into PyTorch ports: TF1 conv kernels, bias vectors and PyTorch state dicts."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._tf_checkpoint import read_checkpoint

__all__ = ['CentredConv2d', 'checkpoint_prefix', 'load_tf_convs', 'load_torch_state', 'read_official_checkpoint']


class CentredConv2d(nn.Conv2d):
    """A reflect-padded `nn.Conv2d` evaluated as `conv(x - mean) + (bias + mean * sum(kernel))`: the same function,
    with less float32 rounding error.

    Features with a large mean (ReLU outputs of unnormalised 0-255 inputs, as in DenseFuse) make float32 convolution
    sums large; subtracting each channel's mean per image first keeps the partial sums small, and the mean's
    contribution is added back exactly as a per-channel constant (reflection padding reflects the constant too). On
    TNO-42 this brings DenseFuse to within TensorFlow's own rounding of the published images (image 34: 100 pixels
    one level off with a plain float32 convolution, 31 with this one, 30 when the whole network runs in float64).
    """

    def __init__(self, cin: int, cout: int, kernel_size: int) -> None:
        super().__init__(cin, cout, kernel_size, padding=kernel_size // 2, padding_mode='reflect')

    def forward(self, x: Tensor) -> Tensor:
        centre = x.mean((2, 3), keepdim=True)  # any value near the mean will do: it is added back exactly below
        padded = F.pad(x, self._reversed_padding_repeated_twice, mode='reflect').sub_(centre)
        shift = torch.einsum('oc,nc->no', self.weight.double().sum((2, 3)), centre[:, :, 0, 0].double())
        shift = (shift + self.bias.double()).to(x.dtype)
        return F.conv2d(padded, self.weight, None).add_(shift[:, :, None, None])


def checkpoint_prefix(paths: Sequence[Path]) -> Path:
    """The TF checkpoint prefix of a method's resolved weight files (the `.index` file without its suffix)."""
    for p in paths:
        if str(p).endswith('.index'):
            return Path(str(p)[:-len('.index')])
    raise ValueError(f'Expected a TensorFlow `.index` file among the weights, but got {[str(p) for p in paths]}.')


def read_official_checkpoint(paths: Sequence[Path], names=None) -> dict[str, np.ndarray]:
    """The tensors of the checkpoint whose `.index` and `.data-*` files are in `paths` (already sha256-checked)."""
    return read_checkpoint(checkpoint_prefix(paths), names)


def _copy(param: torch.Tensor, value: np.ndarray | torch.Tensor, name: str) -> None:
    value = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value)
    if tuple(value.shape) != tuple(param.shape):
        raise ValueError(f'Checkpoint tensor {name!r} has shape {tuple(value.shape)}, the port expects '
                         f'{tuple(param.shape)}: not the official file for this network.')
    with torch.no_grad():
        param.copy_(value.to(param.dtype))


def load_tf_convs(convs: Mapping[str, nn.Conv2d], ckpt: Mapping[str, np.ndarray], kernel: str = 'kernel',
                  bias: str = 'bias') -> None:
    """Copies TF conv variables into `nn.Conv2d`s: `{scope: conv}` reads `scope/kernel` (HWIO -> OIHW) and
    `scope/bias`; `kernel`/`bias` may be templates with `{scope}`-relative names such as 'w1_ir'.

    Raises:
        ValueError: a missing tensor or a shape that differs from the port's layer.
    """
    for scope, conv in convs.items():
        for suffix, param, transpose in ((kernel, conv.weight, True), (bias, conv.bias, False)):
            if param is None:
                continue
            name = f'{scope}/{suffix}'
            if name not in ckpt:
                raise ValueError(f'Checkpoint has no tensor {name!r}: not the official file for this network.')
            value = ckpt[name].transpose(3, 2, 0, 1) if transpose else ckpt[name]
            _copy(param, np.ascontiguousarray(value), name)


def load_torch_state(module: nn.Module, path: Path | Mapping[str, Tensor], mapping: Mapping[str, str]) -> None:
    """Loads an official PyTorch file safely (`weights_only=True`): `{official key: parameter or buffer name of
    module}` (buffers: batch-norm statistics).

    The file may be a bare state dict or a dict holding it under 'net' / 'state_dict' / 'model'; `path` may also be
    a state dict already read (with its keys renamed, say).
    """
    state = path if isinstance(path, Mapping) else torch.load(path, map_location='cpu', weights_only=True)
    for key in ('net', 'state_dict', 'model'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    params = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    missing = sorted(set(mapping) - set(state))
    if missing:
        where = 'The state dict' if isinstance(path, Mapping) else path
        raise ValueError(f'{where} has no tensor {missing[0]!r}: not the official file for this network.')
    for key, target in mapping.items():
        _copy(params[target], state[key], key)
