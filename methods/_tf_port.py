"""Loading official checkpoints into PyTorch ports: TF1 conv kernels, bias vectors and PyTorch state dicts."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from methods._tf_checkpoint import read_checkpoint

__all__ = ['checkpoint_prefix', 'load_tf_convs', 'load_torch_state', 'read_official_checkpoint']


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


def load_torch_state(module: nn.Module, path: Path, mapping: Mapping[str, str]) -> None:
    """Loads an official PyTorch file safely (`weights_only=True`): `{official key: parameter name of module}`.

    The file may be a bare state dict or a dict holding it under 'net' / 'state_dict' / 'model'.
    """
    state = torch.load(path, map_location='cpu', weights_only=True)
    for key in ('net', 'state_dict', 'model'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    params = dict(module.named_parameters())
    missing = sorted(set(mapping) - set(state))
    if missing:
        raise ValueError(f'{path} has no tensor {missing[0]!r}: not the official file for this network.')
    for key, target in mapping.items():
        _copy(params[target], state[key], key)
