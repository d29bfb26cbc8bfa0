"""DIDFuse (Zhao et al., IJCAI 2020): an autoencoder that splits each image into base and detail features.

Port of Zhaozixiang1228/IVIF-DIDFuse @ 5f28730 (`DIDFuse.py`: `AE_Encoder`, `AE_Decoder`; `utils_didfuse.py`:
`Test_fusion`; `test.py`), written from the official code. The layers are the official `Sequential`s, so the state
dicts in `Models/*_weight_IJCAI.pkl` (`{'weight': state_dict, 'epoch': ...}`) load key for key once the doubled
prefix of the official wrapper classes (`cov1.cov1.1.weight`) is dropped.

Test-time behaviour reproduced (`test.py` -> `Test_fusion`):

* inputs: `np.array(Image.open(path), dtype='float32') / 255`, gray BMP files on [0, 1] (the script has no colour
  path: an RGB file fails its reshape);
* both images through the one encoder (batch norm in eval mode), giving features (F1, F2, base, detail);
* fusion rule `Sum` (the default of `Test_fusion`; `test.py` sets `addition_mode` but never passes it): each of the
  four feature maps of IR and visible added; `Average` and `l1_norm` are the script's other rules (`rule=`);
* the decoder ends in a sigmoid; `skimage.io.imsave` writes the float image through imageio, which maps [0, 1] to
  `uint8(x * 255 + 0.499999999)` in float64, i.e. rounds to the nearest level, with no min-max stretch.

Colour: a colour visible image is fused by its luminance and recoloured (the benchmark's default), since the
official script reads gray files only.
"""
from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._registry import register_method
from methods._tf_port import load_torch_state
from methods._weights import official_weights

__all__ = ['DIDFuse', 'FEATURE_RULES', 'fuse_features', 'imageio_levels', 'load_zhao_state', 'l1_weighted']

CHANNELS = 64
FEATURE_RULES = ('sum', 'average', 'l1_norm')


def _stage(cin: int, cout: int, activation: nn.Module, reflect: bool = False) -> nn.Sequential:
    """3x3 conv, batch norm, activation: one official `Cov<k>` block. The reflect-padded ones keep the official
    layer indices (pad 0, conv 1, norm 2, activation 3)."""
    conv = [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)] if reflect else [nn.Conv2d(cin, cout, 3, padding=1)]
    return nn.Sequential(*conv, nn.BatchNorm2d(cout), activation)


class Encoder(nn.Module):
    """Official `AE_Encoder`: returns (F1, F2, base, detail), each with 64 channels."""

    def __init__(self) -> None:
        super().__init__()
        self.cov1 = _stage(1, CHANNELS, nn.PReLU(), reflect=True)
        self.cov2 = _stage(CHANNELS, CHANNELS, nn.PReLU())
        self.cov3 = _stage(CHANNELS, CHANNELS, nn.Tanh())  # base
        self.cov4 = _stage(CHANNELS, CHANNELS, nn.Tanh())  # detail

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        f1 = self.cov1(x)
        f2 = self.cov2(f1)
        return f1, f2, self.cov3(f2), self.cov4(f2)


class Decoder(nn.Module):
    """Official `AE_Decoder`: base + detail, then the two skip connections, then a sigmoid image."""

    def __init__(self) -> None:
        super().__init__()
        self.cov5 = _stage(2 * CHANNELS, CHANNELS, nn.PReLU())
        self.cov6 = _stage(2 * CHANNELS, CHANNELS, nn.PReLU())
        self.cov7 = _stage(2 * CHANNELS, 1, nn.Sigmoid(), reflect=True)

    def forward(self, f1: Tensor, f2: Tensor, base: Tensor, detail: Tensor) -> Tensor:
        x = self.cov5(torch.cat([base, detail], 1))
        x = self.cov6(torch.cat([x, f2], 1))
        return self.cov7(torch.cat([x, f1], 1))


def l1_weighted(a: Tensor, b: Tensor) -> Tensor:
    """The official `l1_addition` (window 1): weights from the 3x3 mean of |feature|, zero padded, summed over all
    channels (the official kernel is a (C, C, 3, 3) block of 1/9), so every channel shares one weight map."""
    kernel = a.new_full((1, a.shape[1], 3, 3), 1 / 9)
    act_a = F.conv2d(a.abs(), kernel, padding=1)
    act_b = F.conv2d(b.abs(), kernel, padding=1)
    total = act_a + act_b
    return act_a / total * a + act_b / total * b


def fuse_features(a: Tensor, b: Tensor, rule: str) -> Tensor:
    """One of the official rules of `Test_fusion` ('Sum', 'Average', 'l1_norm') on a pair of feature maps."""
    if rule == 'sum':
        return a + b
    if rule == 'average':
        return (a + b) / 2
    return l1_weighted(a, b)


def check_rule(rule: str) -> str:
    if rule not in FEATURE_RULES:
        raise ValueError(f'Expected `rule` in {FEATURE_RULES}, but got {rule!r}.')
    return rule


def imageio_levels(x: Tensor) -> Tensor:
    """What `skimage.io.imsave` (imageio plugin) writes for a float image in [0, 1]: `uint8(x * 255 + 0.499999999)`
    computed in float64 (imageio `image_as_uint`), returned as levels / 255."""
    return torch.floor(x.double() * 255 + 0.499999999).float() / 255


def load_zhao_state(module: nn.Module, path, unwrap: str | None = None) -> None:
    """An official state dict of Zhao's repositories (`weights_only=True`), optionally inside `{unwrap: ...}`, with
    batch-norm statistics; official keys repeat the wrapper's attribute (`cov1.cov1.1.weight` -> `cov1.1.weight`)."""
    state = torch.load(path, map_location='cpu', weights_only=True)
    if unwrap is not None:
        if not isinstance(state, dict) or not isinstance(state.get(unwrap), dict):
            raise ValueError(f'{path}: expected a dict holding the state dict under {unwrap!r}: not the official '
                             'file for this network.')
        state = state[unwrap]
    renamed = {re.sub(r'^(\w+)\.\1\.', r'\1.', k): v for k, v in state.items()}
    load_torch_state(module, renamed, {k: k for k in module.state_dict()})


class DIDFuse(FusionMethod):
    """DIDFuse with the official test protocol.

    Args:
        weights: [encoder file, decoder file] (`Models/Encoder_weight_IJCAI.pkl`, `Models/Decoder_weight_IJCAI.pkl`),
            or None for random initialisation.
        rule: feature fusion rule, 'sum' (official default), 'average' or 'l1_norm'.
    """

    def __init__(self, weights=None, rule: str = 'sum') -> None:
        super().__init__()
        self.rule = check_rule(rule)
        self.encoder = Encoder()
        self.decoder = Decoder()
        if weights is not None:
            load_zhao_state(self.encoder, weights[0], unwrap='weight')
            load_zhao_state(self.decoder, weights[1], unwrap='weight')

    def network(self, ir: Tensor, vis: Tensor) -> Tensor:
        """Encoder on both images, fusion rule on each of the four feature maps, decoder: sigmoid output."""
        fused = [fuse_features(a, b, self.rule) for a, b in zip(self.encoder(ir), self.encoder(vis))]
        return self.decoder(*fused)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(lambda i, v: imageio_levels(self.network(i, v)), ir, vis)

    def bare_network(self, ir: Tensor, vis: Tensor):
        return lambda: self.network(ir, vis)


PAPER = ('Zhao, Z., Xu, S., Zhang, C., Liu, J., Zhang, J., Li, P. DIDFuse: Deep Image Decomposition for Infrared and '
         'Visible Image Fusion. IJCAI 2020, 970-976')


@register_method(
    'didfuse', paper=PAPER, licence='no licence file in Zhaozixiang1228/IVIF-DIDFuse',
    weights=[official_weights('didfuse/Models/Encoder_weight_IJCAI.pkl'),
             official_weights('didfuse/Models/Decoder_weight_IJCAI.pkl')],
    tags=('baseline', 'zoo'), year=2020,
    verification='published images: zoo/zhao_tno40 (5 of the 40 official TNO results; all 40 checked outside CI): '
                 'min 89.3, median 93.7 dB, within 1 level')
def didfuse(weights=None, rule: str = 'sum') -> DIDFuse:
    return DIDFuse(weights, rule=rule)
