"""ReCoNet (Huang et al., ECCV 2022): a recurrent correction network; the ECCV release ("ReCo v0") is its fusion
network alone (no micro-registration module).

Port of dlut-dimt/ReCoNet @ 0870f5f (MIT), `archive/model.py: Fuser(loop_num=3, feather_num=64)` with the weights
`archive/params.pth` and the test script `archive/fuse.py`, the release its README recommends for the paper's
results. Module and parameter names follow the official class, so the state dict loads key for key.

Network: the fused image starts as `max(ir, vis)` and is corrected three times by the same sub-network: for each
input, spatial attention `sigmoid(conv3x3_2->1([channel max, channel mean] of [input, current fusion]))` (no bias;
zero padding) weights the input; `[ir * att_ir, current fusion, vis * att_vis]` goes through three parallel
conv3x3 3->64 + BatchNorm + ReLU branches with dilations 1, 2 and 3 (padding = dilation), and their concatenation
through conv3x3 192->1 + BatchNorm + tanh gives the next fusion. BatchNorm uses its running statistics
(`net.eval()`). The result is the last correction.

Protocol (`archive/fuse.py`): both images read by `cv2.imread(path, IMREAD_GRAYSCALE)`, divided by 255 in float64,
then float32; the output (tanh, in [-1, 1]) times 255 written by `cv2.imwrite` of a float32 image: rounded half to
even and saturated to [0, 255], so negative values become 0. No min-max stretch.

Colour: the official script fuses gray images only. For a colour visible image the network gets what
`cv2.imread(path, IMREAD_GRAYSCALE)` returns for an RGB PNG (`umf_cmgr.cv2_png_gray`; for a JPEG cv2 decodes the
JPEG's own Y plane instead, within a level of it), so `colour='gray'` is the official script's output; the default
'ycbcr' recolours that result with the visible image's BT.601 chroma, as the benchmark does for every gray method.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._colour import rgb_to_ycbcr
from methods._per_image import per_image
from methods._protocol import levels
from methods._registry import register_method
from methods._weights import official_weights
from methods.umf_cmgr import cv2_float_to_uint8, cv2_png_gray

__all__ = ['Cv2GrayNetwork', 'Fuser', 'ReCoNet', 'cv2_gray_input']

PAPER = ('Z. Huang, J. Liu, X. Fan, R. Liu, W. Zhong, Z. Luo, Reconet: Recurrent correction network for fast and '
         'efficient multi-modality image fusion, ECCV 2022, 539-555')
VERIFIED = 'official code: archive/fuse.py on 7 pairs (5 TNO, 2 MSRS): identical 8-bit images (inf dB, max diff 0)'


def _branch(cin: int, cout: int, dilation: int, activation: nn.Module) -> nn.Sequential:
    """conv3x3 (padding = dilation) + BatchNorm + activation, named `0`, `1`, `2` as the official Sequential."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation), nn.BatchNorm2d(cout),
                         activation)


class Fuser(nn.Module):
    """The official `archive/model.py: Fuser`: `forward(ir, vis)` on [0, 1] returns the last correction (tanh)."""

    def __init__(self, loop_num: int = 3, feather_num: int = 64) -> None:
        super().__init__()
        self.loop_num = loop_num
        self.att_a_conv = nn.Conv2d(2, 1, 3, padding=1, bias=False)
        self.att_b_conv = nn.Conv2d(2, 1, 3, padding=1, bias=False)
        self.dil_conv_1 = _branch(3, feather_num, 1, nn.ReLU())
        self.dil_conv_2 = _branch(3, feather_num, 2, nn.ReLU())
        self.dil_conv_3 = _branch(3, feather_num, 3, nn.ReLU())
        self.fus_conv = _branch(3 * feather_num, 1, 1, nn.Tanh())

    @staticmethod
    def _attention(conv: nn.Conv2d, x: Tensor, fused: Tensor) -> Tensor:
        both = torch.cat([x, fused], 1)
        return torch.sigmoid(conv(torch.cat([both.amax(1, keepdim=True), both.mean(1, keepdim=True)], 1)))

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        fused = torch.max(ir, vis)
        for _ in range(self.loop_num):
            stacked = torch.cat([ir * self._attention(self.att_a_conv, ir, fused), fused,
                                 vis * self._attention(self.att_b_conv, vis, fused)], 1)
            features = torch.cat([self.dil_conv_1(stacked), self.dil_conv_2(stacked), self.dil_conv_3(stacked)], 1)
            fused = self.fus_conv(features)
        return fused


def cv2_gray_input(x: Tensor) -> Tensor:
    """`cv2.imread(path, IMREAD_GRAYSCALE) / 255.0` (float64), then `.type(torch.FloatTensor)`, from [0, 1] input."""
    return (levels(x, step=1.0).double() / 255).float()


class Cv2GrayNetwork(FusionMethod):
    """A network on `cv2_gray_input` images whose float output the script writes with `cv2.imwrite(x * 255)` (round
    half to even, saturate); a colour visible image is read as cv2's gray of its PNG (`cv2_png_gray`). ReCoNet's
    `archive/fuse.py` and MFEIF's `fuse.py` both do this; subclasses set `self.net`."""

    net: nn.Module

    def split_luminance(self, vis: Tensor):
        return cv2_png_gray(levels(vis, step=1.0)) / 255, rgb_to_ycbcr(vis)[1:]

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        # the output is quantised: see methods/_per_image.py
        return per_image(lambda i, v: cv2_float_to_uint8(self.net(i, v) * 255) / 255,
                         cv2_gray_input(ir), cv2_gray_input(vis))

    def bare_network(self, ir: Tensor, vis: Tensor):
        ir, vis = cv2_gray_input(ir), cv2_gray_input(vis)
        return lambda: self.net(ir, vis)


class ReCoNet(Cv2GrayNetwork):
    """ReCoNet's fusion network with `archive/fuse.py`'s input reading and saving (module docstring).

    Args:
        weights: [`params.pth`] (the official state dict), or None for random initialisation.
    """

    def __init__(self, weights=None) -> None:
        super().__init__()
        self.net = Fuser()
        if weights is not None:
            _load_state(self.net, weights[0])


def _load_state(module: nn.Module, path) -> None:
    """The official file: a bare state dict with BatchNorm statistics, loaded key for key (`weights_only`)."""
    state = torch.load(path, map_location='cpu', weights_only=True)
    expected = module.state_dict()
    if not isinstance(state, dict) or set(state) != set(expected):
        keys = set(state) if isinstance(state, dict) else set()
        raise ValueError(f'{path} does not hold the ReCoNet state dict: missing {sorted(set(expected) - keys)[:3]}, '
                         f'unexpected {sorted(keys - set(expected))[:3]}.')
    for key, value in state.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ValueError(f'{path}: tensor {key!r} has shape {tuple(value.shape)}, the port expects '
                             f'{tuple(expected[key].shape)}: not the official file for this network.')
    module.load_state_dict(state)


@register_method('reconet', paper=PAPER, licence='MIT (dlut-dimt/ReCoNet)', year=2022, tags=('baseline', 'zoo'),
                 weights=[official_weights('reconet/archive/params.pth')],
                 verification=VERIFIED)
def reconet(weights=None) -> ReCoNet:
    return ReCoNet(weights)
