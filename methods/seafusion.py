"""SeAFusion (Tang, Yuan & Ma, Information Fusion 2022): a gradient residual dense fusion network trained with a
segmentation loss; only the fusion network runs at test time.

Port of Linfeng-Tang/SeAFusion (`FusionNet.py`) with the checkpoint VIF-Benchmark ships
(Linfeng-Tang/VIF-Benchmark @ 23f2e51, `Checkpoint/SeAFusion/SeAFusion.pth`; the official repository's
`model/Fusion/fusionmodel_final.pth` could not be obtained to compare). Module and parameter names follow the official
classes, so the state dict loads key for key. The checkpoint also holds BatchNorm tensors for the four decoder layers
(`decode*.bn.*`): the official `ConvBnLeakyRelu2d` / `ConvBnTanh2d` create them but their forward never applies them,
so they are checked and left out.

Network: per modality conv 3x3 1->16 + LeakyReLU(0.2), two gradient residual dense blocks (RGBD: a 2-layer dense
block and a 1x1 conv, plus |Sobel x| + |Sobel y| of the input through a 1x1 conv, summed, LeakyReLU(0.1)), 16->32->48;
decoder on the concatenation 96->64->32->16 (conv 3x3 + LeakyReLU(0.2)) and 16->1 (`tanh / 2 + 0.5`). Zero padding.

Protocol (VIF-Benchmark's `SeAFusion/SeAFusion.py` @ 23f2e51, the script behind Tang's published TNO-42 images; the
official `test.py` computes the same for batch size 1, without the Y/Cb/Cr clamps, which change nothing on images
read from 8-bit files):

* visible read by PIL as 'RGB' (a gray file becomes three equal channels), infrared as 'L', `to_tensor` (x / 255,
  float32);
* `Y = 0.299 R + 0.587 G + 0.114 B`, `Cr = (R - Y) * 0.713 + 0.5`, `Cb = (B - Y) * 0.564 + 0.5` in float32 (each
  clamped to [0, 1]); the network fuses Y with the infrared image;
* recolouring `[Y_f, Cr, Cb] + (0, -0.5, -0.5)` times `[[1, 1, 1], [1.403, -0.714, 0], [0, -0.344, 1.773]]`,
  clamped to [0, 1];
* saved as `uint8(255 * (x - min) / (max - min))`: a min-max stretch over the whole RGB image, truncated.

The method's colour mode is 'rgb': the network receives the visible RGB image and does its own colour handling. For a
gray visible image the script still writes three channels, which differ by one grey level at a few pixels (float
rounding in the YCbCr round trip: 0-4 pixels per TNO-42 image); the port returns the green channel, which is what
BT.601 luma of that RGB image rounds to (and what the benchmark scores for it).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._protocol import unit_levels_rgb
from methods._registry import register_method
from methods._weights import official_weights

__all__ = ['FusionNet', 'SeAFusion', 'rgb_to_ycrcb', 'ycrcb_to_rgb']

PAPER = ('L. Tang, J. Yuan and J. Ma, Image fusion in the loop of high-level vision tasks: A semantic-aware '
         'real-time infrared and visible image fusion network, Information Fusion 82, 2022')
LICENCE = 'MIT (Linfeng-Tang/VIF-Benchmark, which ships this checkpoint); no licence file in Linfeng-Tang/SeAFusion'
# YCbCr -> RGB of the official YCbCr2RGB: rows are the Y, Cr, Cb coefficients of R, G, B.
_TO_RGB = ((1.0, 1.0, 1.0), (1.403, -0.714, 0.0), (0.0, -0.344, 1.773))


class ConvLeaky(nn.Module):
    """conv 3x3 (zero padding) + LeakyReLU(0.2): official `ConvLeakyRelu2d`, and `ConvBnLeakyRelu2d`, whose BatchNorm
    is never applied."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(self.conv(x), 0.2)


class Conv1(nn.Module):
    """conv 1x1 without activation (official `Conv1`)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class ConvTanh(nn.Module):
    """conv 3x3 (zero padding) + `tanh / 2 + 0.5`: official `ConvBnTanh2d`, whose BatchNorm is never applied."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.conv(x)) / 2 + 0.5


class DenseBlock(nn.Module):
    """Two conv + LeakyReLU layers, each output concatenated after its input: c -> 3c channels."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = ConvLeaky(c, c), ConvLeaky(2 * c, c)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.cat([x, self.conv1(x)], 1)
        return torch.cat([x, self.conv2(x)], 1)


class Sobelxy(nn.Module):
    """|Sobel x| + |Sobel y| per channel (depthwise, zero padding); the filters are stored in the checkpoint."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.convx = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.convy = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.convx(x).abs() + self.convy(x).abs()


class RGBD(nn.Module):
    """Gradient residual dense block: LeakyReLU_0.1(conv1x1(dense(x)) + conv1x1(sobel(x)))."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.dense = DenseBlock(cin)
        self.convdown = Conv1(3 * cin, cout)
        self.sobelconv = Sobelxy(cin)
        self.convup = Conv1(cin, cout)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(self.convdown(self.dense(x)) + self.convup(self.sobelconv(x)), 0.1)


class FusionNet(nn.Module):
    """The official `FusionNet(output=1)`: `forward(vis_y, ir)` on [0, 1] returns the fused luminance in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.vis_conv, self.inf_conv = ConvLeaky(1, 16), ConvLeaky(1, 16)
        self.vis_rgbd1, self.vis_rgbd2 = RGBD(16, 32), RGBD(32, 48)
        self.inf_rgbd1, self.inf_rgbd2 = RGBD(16, 32), RGBD(32, 48)
        self.decode4, self.decode3, self.decode2 = ConvLeaky(96, 64), ConvLeaky(64, 32), ConvLeaky(32, 16)
        self.decode1 = ConvTanh(16, 1)

    def forward(self, vis_y: Tensor, ir: Tensor) -> Tensor:
        v = self.vis_rgbd2(self.vis_rgbd1(self.vis_conv(vis_y)))
        i = self.inf_rgbd2(self.inf_rgbd1(self.inf_conv(ir)))
        x = self.decode2(self.decode3(self.decode4(torch.cat([v, i], 1))))
        return self.decode1(x)


def rgb_to_ycrcb(rgb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The script's `RGB2YCrCb` (float32, clamped): (N, 3, H, W) RGB in [0, 1] -> Y, Cb, Cr planes (N, 1, H, W)."""
    r, g, b = rgb.split(1, 1)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cr = (r - y) * 0.713 + 0.5
    cb = (b - y) * 0.564 + 0.5
    return y.clamp(0, 1), cb.clamp(0, 1), cr.clamp(0, 1)


def ycrcb_to_rgb(y: Tensor, cb: Tensor, cr: Tensor) -> Tensor:
    """The script's `YCbCr2RGB`: `([Y, Cr, Cb] + (0, -0.5, -0.5)) @ _TO_RGB`, clamped to [0, 1], (N, 3, H, W)."""
    ycrcb = torch.cat([y, cr - 0.5, cb - 0.5], 1)
    mat = torch.tensor(_TO_RGB, dtype=ycrcb.dtype, device=ycrcb.device)
    return torch.einsum('nkhw,kc->nchw', ycrcb, mat).clamp(0, 1)


def stretch_truncate(x: Tensor) -> Tensor:
    """`uint8(255 * (x - min) / (max - min))` over each image of a batch (all channels), float32 as numpy computes
    it; a flat image maps to 0. Returns levels 0..255 as float32."""
    flat = x.flatten(1)
    lo, hi = flat.amin(1).view(-1, 1, 1, 1), flat.amax(1).view(-1, 1, 1, 1)
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    return torch.floor((x - lo) / span * 255.0) * (hi > lo)


class SeAFusion(FusionMethod):
    """SeAFusion's fusion network with VIF-Benchmark's input reading, recolouring and saving (module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = FusionNet()

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        gray = vis.shape[1] == 1
        ir, rgb = unit_levels_rgb(ir, vis)
        y, cb, cr = rgb_to_ycrcb(rgb)
        out = stretch_truncate(ycrcb_to_rgb(self.net(y, ir), cb, cr)) / 255
        return out[:, 1:2] if gray else out

    def bare_network(self, ir: Tensor, vis: Tensor):
        ir, rgb = unit_levels_rgb(ir, vis)
        y = rgb_to_ycrcb(rgb)[0]
        return lambda: self.net(y, ir)


def _load(method: SeAFusion, weights) -> SeAFusion:
    if weights is not None:
        state = torch.load(weights[0], map_location='cpu', weights_only=True)
        unused = {k for k in state if k.split('.')[1:2] == ['bn']}  # decode*.bn.*: never applied
        expected = set(method.net.state_dict())
        if set(state) - unused != expected or len(unused) != 4 * 5:
            extra = sorted(set(state) - unused - expected)
            raise ValueError(f'{weights[0]} does not hold the SeAFusion state dict: missing '
                             f'{sorted(expected - set(state))[:3]}, unexpected {extra[:3]}.')
        method.net.load_state_dict({k: v for k, v in state.items() if k not in unused})
    return method


@register_method('seafusion', paper=PAPER, licence=LICENCE, colour='rgb', tags=('baseline',), year=2022,
                 weights=[official_weights('seafusion/Checkpoint/SeAFusion/SeAFusion.pth')],
                 verification="published images: Tang's TNO-42 SeAFusion results (42): min 88.1, median 91.5 dB, "
                              'within 1 level')
def seafusion(weights=None) -> SeAFusion:
    return _load(SeAFusion(), weights)
