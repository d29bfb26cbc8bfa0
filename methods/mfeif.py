"""MFEIF (Liu et al., IEEE TCSVT 2021): a multi-scale feature ensemble with edge-attention guidance.

Port of JinyuanLiu-CV/MFEIF @ 07906ad (no licence file): `models/extractor.py`, `models/attention.py`,
`models/constructor.py`, `functions/edge_detect.py`, `functions/feather_fuse.py` and the test script `fuse.py` with
the weights `weights/default.pth` (a dict of three state dicts, 'ext', 'att' and 'con'). Module and parameter names
follow the official classes, so each state dict loads key for key.

Network (every convolution 3x3 with zero padding unless said; "block" = conv + BatchNorm (running statistics) +
ReLU):

* extractor, applied to each image: block 1->16, then three branches of three blocks 16->32->48->64 whose first
  convolution has dilation 1, 2 or 3 (branches A, B, C; padding = dilation); it returns the features
  `0.1 a3 + 0.1 b3 + c3` and the skip sums `a2 + b2 + c2` (48 channels) and `a1 + b1 + c1` (32 channels);
* edge attention, applied to each image: `x + maxpool3x3(|grad x|)`, with the gradient of kornia's
  `SpatialGradient('diff')` (central differences / 2, replicated border) and max pooling of stride 1, then three
  pairs "conv + ReLU, conv with dilation 2" 1->32->32, 32->64->128, 128->64->32 (no activation between pairs) and
  a 1x1 conv 32->1: one unbounded map per image;
* fusion: `softmax over channels(f_ir * att_ir + f_vis * att_vis)`; each skip pair fused as
  `(s_ir + s_vis + min(s_ir, s_vis)) / 3` (the official 'min-mean' mode);
* constructor: block 64->16, concatenated with the fused 48-channel skip, block 64->32, concatenated with the fused
  32-channel skip, blocks 64->16->1: the output is >= 0 (ReLU) and unbounded above.

Protocol (`fuse.py`): both images read by `cv2.imread(path, IMREAD_GRAYSCALE)`, divided by 255 in float64, then
float32; the output times 255 written by `cv2.imwrite` of a float32 image: rounded half to even and saturated to
[0, 255]. No min-max stretch.

Colour: as `methods.reconet`: a colour visible image is read as cv2's gray (`umf_cmgr.cv2_png_gray`); `colour='gray'`
is the official script's output, the default 'ycbcr' recolours it with the visible image's BT.601 chroma.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._registry import register_method
from methods._weights import official_weights
from methods.reconet import Cv2GrayNetwork

__all__ = ['Attention', 'Constructor', 'Extractor', 'MFEIF', 'MFEIFNet', 'edge_magnitude']

PAPER = ('J. Liu, X. Fan, J. Jiang, R. Liu, Z. Luo, Learning a deep multi-scale feature ensemble and an '
         'edge-attention guidance for image fusion, IEEE Transactions on Circuits and Systems for Video Technology, '
         '2021, doi:10.1109/TCSVT.2021.3056725')
VERIFIED = 'official code: fuse.py on 7 pairs (5 TNO, 2 MSRS): identical 8-bit images (inf dB, max diff 0)'
NOTE = ('slow on a CPU: 9.5 CPU s per 640x480 pair on one thread (13.8 s wall on a loaded 2-core machine): prefer '
        '--device cuda for whole data sets')


class ConvBlock(nn.Module):
    """conv (zero padding) + BatchNorm + ReLU (official `models/conv_block.py: ConvBlock`)."""

    def __init__(self, cin: int, cout: int, padding: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=padding, dilation=dilation)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


class Extractor(nn.Module):
    """Official `Extractor`: (features 64, skip 48, skip 32) of one image."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_1 = ConvBlock(1, 16)
        for branch, dilation in (('a', 1), ('b', 2), ('c', 3)):
            setattr(self, f'conv_{branch}1', ConvBlock(16, 32, dilation, dilation))
            setattr(self, f'conv_{branch}2', ConvBlock(32, 48))
            setattr(self, f'conv_{branch}3', ConvBlock(48, 64))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.conv_1(x)
        outs = []
        for branch in 'abc':
            first = getattr(self, f'conv_{branch}1')(x)
            second = getattr(self, f'conv_{branch}2')(first)
            outs.append((first, second, getattr(self, f'conv_{branch}3')(second)))
        (a1, a2, a3), (b1, b2, b3), (c1, c2, c3) = outs
        return 0.1 * a3 + 0.1 * b3 + 1 * c3, a2 + b2 + c2, a1 + b1 + c1


def edge_magnitude(x: Tensor) -> Tensor:
    """`sqrt(dx^2 + dy^2)` of kornia's `SpatialGradient('diff')` (central differences / 2, replicated border)."""
    padded = F.pad(x, (1, 1, 1, 1), mode='replicate')
    dx = padded[..., 1:-1, 2:] * 0.5 - padded[..., 1:-1, :-2] * 0.5
    dy = padded[..., 2:, 1:-1] * 0.5 - padded[..., :-2, 1:-1] * 0.5
    return torch.sqrt(dx.pow(2) + dy.pow(2))


class ConvConv(nn.Module):
    """conv 3x3 + ReLU, then conv 3x3 with dilation 2 and no activation (official `ConvConv`)."""

    def __init__(self, cin: int, mid: int, cout: int) -> None:
        super().__init__()
        self.conv_1 = nn.Conv2d(cin, mid, 3, padding=1)
        self.conv_2 = nn.Conv2d(mid, cout, 3, padding=2, dilation=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_2(F.relu(self.conv_1(x)))


class Attention(nn.Module):
    """Official `Attention`: an unbounded 1-channel map from the image plus its max-pooled edge magnitude."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_1 = ConvConv(1, 32, 32)
        self.conv_2 = ConvConv(32, 64, 128)
        self.conv_3 = ConvConv(128, 64, 32)
        self.conv_4 = nn.Conv2d(32, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = x + F.max_pool2d(edge_magnitude(x), 3, 1, 1)
        return self.conv_4(self.conv_3(self.conv_2(self.conv_1(x))))


class Constructor(nn.Module):
    """Official `Constructor`: fused features and the two fused skips -> the fused image (>= 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_1 = ConvBlock(64, 16)
        self.conv_2 = ConvBlock(64, 32)
        self.conv_3 = ConvBlock(64, 16)
        self.conv_4 = ConvBlock(16, 1)

    def forward(self, x: Tensor, skip_48: Tensor, skip_32: Tensor) -> Tensor:
        x = self.conv_2(torch.cat([self.conv_1(x), skip_48], 1))
        return self.conv_4(self.conv_3(torch.cat([x, skip_32], 1)))


def _min_mean(a: Tensor, b: Tensor) -> Tensor:
    return (a + b + torch.min(a, b)) / 3


class MFEIFNet(nn.Module):
    """The three official networks as `fuse.py: Fuse._forward` combines them: (ir, vis) in [0, 1] -> fused."""

    def __init__(self) -> None:
        super().__init__()
        self.ext, self.att, self.con = Extractor(), Attention(), Constructor()

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        f_ir, s48_ir, s32_ir = self.ext(ir)
        f_vis, s48_vis, s32_vis = self.ext(vis)
        features = torch.softmax(f_ir * self.att(ir) + f_vis * self.att(vis), dim=1)
        return self.con(features, _min_mean(s48_ir, s48_vis), _min_mean(s32_ir, s32_vis))


class MFEIF(Cv2GrayNetwork):
    """MFEIF with `fuse.py`'s input reading and saving (module docstring).

    Args:
        weights: [`default.pth`] (`{'ext': ..., 'att': ..., 'con': ...}` state dicts), or None for random
            initialisation.
    """

    def __init__(self, weights=None) -> None:
        super().__init__()
        self.net = MFEIFNet()
        if weights is not None:
            _load(self.net, weights[0])


def _load(net: MFEIFNet, path) -> None:
    """`default.pth`: {'ext', 'att', 'con'} -> the three sub-networks, key for key (`weights_only`)."""
    state = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(state, dict) or set(state) != {'ext', 'att', 'con'}:
        found = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"Expected {path} to hold the MFEIF state dicts 'ext', 'att' and 'con', but got {found}.")
    for part in ('ext', 'att', 'con'):
        module, given = getattr(net, part), state[part]
        expected = module.state_dict()
        if set(given) != set(expected) or any(given[k].shape != expected[k].shape for k in expected):
            missing, unexpected = sorted(set(expected) - set(given))[:3], sorted(set(given) - set(expected))[:3]
            raise ValueError(f"{path}: '{part}' does not match the official {type(module).__name__} (missing "
                             f'{missing}, unexpected {unexpected}, or other shapes): not the official file.')
        module.load_state_dict(given)


@register_method('mfeif', paper=PAPER, licence='none stated (JinyuanLiu-CV/MFEIF has no licence file)', year=2021,
                 tags=('baseline', 'zoo'), weights=[official_weights('mfeif/weights/default.pth')], note=NOTE,
                 verification=VERIFIED)
def mfeif(weights=None) -> MFEIF:
    return MFEIF(weights)
