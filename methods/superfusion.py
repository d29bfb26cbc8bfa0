"""SuperFusion (Tang, Deng, Xiang, Ma et al., IEEE/CAA JAS 2022): registration, fusion and segmentation in one
framework; this port is its fusion network only (`FusionNet`), as the official test runs it with `--mode=Fusion` on
aligned pairs. The registration network (`DenseMatcher`) is not ported.

Port of Linfeng-Tang/SuperFusion @ b0fbb86 (`modules/modules.py: FusionNet, SAM, Spacial_IRNN`, `modules/layers.py:
ConvLeakyRelu2d`, `modules/IRNN_Forward_cuda.cu`, `model.py: fusion_forward, resume`, `dataset.py: TestData, imsave`,
`utils/utils.py: RGB2YCrCb, YCbCr2RGB`, `test.py`). Module and parameter names follow the official classes, so the
`FN` state dict loads key for key.

Network: two encoders (3x3 convolutions 1->8->16->16->32, each followed by LeakyReLU with PyTorch's default slope
0.01), a spatial attention module on their concatenation, `f_ir * m + f_vi * (1 - m)`, and a decoder 32->16->16->8->1
(LeakyReLU 0.01, tanh last), output `(tanh + 1) / 2`. The attention module (`SAM`): `conv_in` 3x3 64->32 (no
activation), a four-direction IRNN (`irnn1`), `conv2` 3x3 128->32 (no activation), `irnn2`, `conv3` 3x3 128->32 with
LeakyReLU, `conv_out` 3x3 32->32. Quirks of the official code kept as they are:

* `conv_out` and the last layer of `attention_layer` ask for `activation='Sigmod'`, which `ConvLeakyRelu2d` does not
  know: they apply no activation, so the mask m is not limited to [0, 1];
* the direction attention (`attention_layer`, 3 convolutions) is computed but its weights only enter
  `top_up.mul(weight[:, 0:1])` and the like, whose results are discarded: the output does not depend on it, and the
  port loads its parameters without computing it.

IRNN (`Spacial_IRNN`, a cupy CUDA kernel): per channel c and direction, a recurrence along rows or columns that starts
at the far edge, `o = relu(x_edge)`, then `o = relu(o * w[c] + b[c] + x)` towards each position (`left` runs from
the last column towards column 0, `right` from column 0, `up` from the last row, `down` from row 0); the weights and
biases are those of the depthwise 1x1 convolutions `{up,right,down,left}_weight` (never applied as convolutions). The
kernel evaluates `o * w + b + x` left to right in float32; the port does the same, one column (or row) at a time. A
GPU's kernel may contract `o * w + b` into a fused multiply-add: differences of order 1e-7.

Test protocol of `test.py --mode=Fusion` (the default, `superfusion`, with `checkpoint/MSRS.pth`):

* both images read by `cv2.imread(path, IMREAD_COLOR)`, converted to RGB, divided by 255 (float64, then float32);
  the infrared input is its first channel;
* the visible image to Y, Cr, Cb in float32: `Y = 0.299 R + 0.587 G + 0.114 B`, `Cr = (R - Y) * 0.713 + 0.5`,
  `Cb = (B - Y) * 0.564 + 0.5`, each clamped to [0, 1]; `FN(ir, Y)`;
* back to RGB: `[Y_f, Cr, Cb] + (0, -0.5, -0.5)` times `[[1, 1, 1], [1.403, -0.714, 0], [0, -0.344, 1.773]]`,
  clamped to [0, 1];
* saved by `cv2.imwrite` of the float32 image times 255: rounded to nearest (ties to even), no stretch.

The method's colour mode is 'rgb': the network receives the visible RGB image and does its own colour handling. For a
gray visible image the script still writes three channels, which can differ by one level where Y_f * 255 is close to
a half (the float chroma of a gray pixel is 0.5 only up to rounding); the port returns the green channel.

Registered names: `superfusion` (`checkpoint/MSRS.pth`, the test script's default `--dataset_name=MSRS`),
`superfusion-roadscene` (`checkpoint/RoadScene.pth`). Both files hold `{'DM', 'FN', 'DM_opt', 'FN_opt', 'ep',
'total_it'}` (`model.py: save`); `resume` loads the `FN` entries whose keys the network has and silently keeps the
random initialisation when that fails: the port's loader insists on the exact key set instead.

Verification: the official `test.py --mode Fusion` (run on a CPU, its IRNN kernel source compiled for the CPU) with
a random-weight checkpoint written by the official `save`, and this port loading that file through the same loader
as a user's file: bit-identical float outputs before quantisation (max abs diff 0) and identical PNGs on 3 synthetic
sizes (37 x 53, 64 x 48, 97 x 131) and 5 real pairs (TNO-42 01, 07, 13; MSRS 00004N; RoadScene FLIR_00006);
`tests/methods/test_superfusion.py` keeps a digest and says how it was made. The official weight files (>= 4 MiB)
were not available here, so no output of the trained model was compared.
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
from methods.seafusion import rgb_to_ycrcb, ycrcb_to_rgb

__all__ = ['FusionNet', 'SuperFusion', 'irnn', 'load_superfusion_state']

PAPER = ('L. Tang, Y. Deng, Y. Ma, J. Huang and J. Ma, SuperFusion: A versatile image registration and fusion network '
         'with semantic awareness, IEEE/CAA Journal of Automatica Sinica 9(12), 2022')
LICENCE = 'MIT (Linfeng-Tang/SuperFusion)'
CHANNELS = (8, 16, 16, 32)


class ConvLeakyRelu2d(nn.Module):
    """`modules/layers.py: ConvLeakyRelu2d`: a convolution (`model.0`) and an optional activation."""

    def __init__(self, cin: int, cout: int, activation: str | None = 'lrelu') -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1))
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        x = self.model(x)
        if self.activation == 'lrelu':
            return F.leaky_relu(x)  # slope 0.01
        return torch.tanh(x) if self.activation == 'tanh' else x


def _scan(x: Tensor, weight: Tensor, bias: Tensor, dim: int, reverse: bool) -> Tensor:
    """One IRNN direction: `o = relu(x_edge)`, then `o = relu(o * w + b + x)` along `dim` (from the end when
    `reverse`), computed as the CUDA kernel does for every position."""
    steps = x.unbind(dim)
    if reverse:
        steps = steps[::-1]
    shape = [1, -1] + [1] * (x.ndim - 3)  # per channel, broadcast over the remaining spatial axis
    w, b = weight.reshape(shape), bias.reshape(shape)
    out = [torch.relu(steps[0])]
    for step in steps[1:]:
        out.append(torch.relu(out[-1] * w + b + step))
    if reverse:
        out = out[::-1]
    return torch.stack(out, dim)


def irnn(x: Tensor, weights: dict[str, tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The IRNN kernel's (up, right, down, left) outputs for x (N, C, H, W); `weights[direction] = (w, b)`."""
    return (_scan(x, *weights['up'], dim=2, reverse=True), _scan(x, *weights['right'], dim=3, reverse=False),
            _scan(x, *weights['down'], dim=2, reverse=False), _scan(x, *weights['left'], dim=3, reverse=True))


class SpacialIRNN(nn.Module):
    """`Spacial_IRNN`: holds the per-channel weight and bias of each direction as depthwise 1x1 convolutions."""

    def __init__(self, channels: int, alpha: float = 0.2) -> None:
        super().__init__()
        for direction in ('left', 'right', 'up', 'down'):
            conv = nn.Conv2d(channels, channels, 1, groups=channels)
            nn.init.constant_(conv.weight, alpha)
            setattr(self, f'{direction}_weight', conv)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        weights = {d: (getattr(self, f'{d}_weight').weight, getattr(self, f'{d}_weight').bias)
                   for d in ('up', 'right', 'down', 'left')}
        return irnn(x, weights)


class Attention(nn.Module):
    """`Attention`: the direction weights. Its output never reaches the fused image (module docstring)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        half = channels // 2
        self.model = nn.Sequential(ConvLeakyRelu2d(2 * channels, half), ConvLeakyRelu2d(half, half),
                                   ConvLeakyRelu2d(half, 4, activation=None))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class SAM(nn.Module):
    """`SAM(32, 32, attention=1)`: the fusion mask from the concatenated features."""

    def __init__(self, channels: int = CHANNELS[-1]) -> None:
        super().__init__()
        self.irnn1 = SpacialIRNN(channels)
        self.irnn2 = SpacialIRNN(channels)
        self.conv_in = ConvLeakyRelu2d(2 * channels, channels, activation=None)
        self.conv2 = ConvLeakyRelu2d(4 * channels, channels, activation=None)
        self.conv3 = ConvLeakyRelu2d(4 * channels, channels)
        self.attention_layer = Attention(channels)  # loaded, not computed: its result is discarded officially
        self.conv_out = ConvLeakyRelu2d(channels, channels, activation=None)  # 'Sigmod': no activation

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(torch.cat(self.irnn1(self.conv_in(x)), 1))
        out = self.conv3(torch.cat(self.irnn2(out), 1))
        return self.conv_out(out)


class FusionNet(nn.Module):
    """`modules/modules.py: FusionNet`: (ir, vis luminance) (N, 1, H, W) in [0, 1] -> fused (N, 1, H, W)."""

    def __init__(self) -> None:
        super().__init__()
        c = CHANNELS
        self.encoder_ir = nn.Sequential(*(ConvLeakyRelu2d(a, b) for a, b in zip((1,) + c[:-1], c)))
        self.encoder_vi = nn.Sequential(*(ConvLeakyRelu2d(a, b) for a, b in zip((1,) + c[:-1], c)))
        self.decoder = nn.Sequential(ConvLeakyRelu2d(c[3], c[2]), ConvLeakyRelu2d(c[2], c[1]),
                                     ConvLeakyRelu2d(c[1], c[0]), ConvLeakyRelu2d(c[0], 1, activation='tanh'))
        self.SAM = SAM(c[3])

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        f_ir, f_vi = self.encoder_ir(ir), self.encoder_vi(vis)
        mask = self.SAM(torch.cat([f_ir, f_vi], 1))
        return (self.decoder(f_ir.mul(mask) + f_vi.mul(1 - mask)) + 1) / 2


def load_superfusion_state(net: FusionNet, path) -> None:
    """Loads the fusion network from an official SuperFusion checkpoint (`{'FN': state_dict, 'DM': ..., ...}`), or
    from a bare `FN` state dict.

    Raises:
        ValueError: for a file without exactly the official `FN` keys.
    """
    state = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(state, dict) and 'FN' in state:
        state = state['FN']
    if not isinstance(state, dict):
        raise ValueError(f'Expected a SuperFusion checkpoint with an `FN` state dict in {path}, but got '
                         f'{type(state).__name__}.')
    expected = set(net.state_dict())
    if set(state) != expected:
        raise ValueError(f'{path} does not hold the SuperFusion fusion network (FN): missing '
                         f'{sorted(expected - set(state))[:3]}, unexpected {sorted(set(state) - expected)[:3]}.')
    net.load_state_dict(state)


def cv2_float_to_uint8(x: Tensor) -> Tensor:
    """`cv2.imwrite` of a float image: rounded to nearest, ties to even, saturated to [0, 255]."""
    return torch.round(x).clamp_(0, 255)


class SuperFusion(FusionMethod):
    """SuperFusion's fusion network with the official test script's reading, colour handling and saving."""

    def __init__(self) -> None:
        super().__init__()
        self.net = FusionNet()

    def network_output(self, ir: Tensor, vis: Tensor) -> Tensor:
        """The float RGB image in [0, 1] the script writes (`fusion_forward`)."""
        ir, rgb = unit_levels_rgb(ir, vis)
        y, cb, cr = rgb_to_ycrcb(rgb)
        return ycrcb_to_rgb(self.net(ir, y), cb, cr)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        out = cv2_float_to_uint8(self.network_output(ir, vis) * 255) / 255
        return out[:, 1:2] if vis.shape[1] == 1 else out

    def bare_network(self, ir: Tensor, vis: Tensor):
        ir, rgb = unit_levels_rgb(ir, vis)
        y = rgb_to_ycrcb(rgb)[0]
        return lambda: self.net(ir, y)


_COMMON = dict(paper=PAPER, licence=LICENCE, colour='rgb', year=2022, tags=('baseline', 'zoo'))


def _build(weights) -> SuperFusion:
    method = SuperFusion()
    if weights is not None:
        load_superfusion_state(method.net, weights[0])
    return method


@register_method('superfusion', weights=[official_weights('superfusion/checkpoint/MSRS.pth')], **_COMMON,
                 verification='random-weight equality with the official test.py --mode Fusion: 3 sizes and 5 real '
                              'pairs, max abs diff 0 before quantisation, identical PNGs')
def superfusion(weights=None) -> SuperFusion:
    return _build(weights)


@register_method('superfusion-roadscene', weights=[official_weights('superfusion/checkpoint/RoadScene.pth')],
                 **_COMMON, verification='network and protocol as superfusion (random-weight equality: max abs '
                                         'diff 0); the RoadScene checkpoint')
def superfusion_roadscene(weights=None) -> SuperFusion:
    return _build(weights)
