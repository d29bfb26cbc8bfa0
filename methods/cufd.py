"""CUFD (Xu et al., CVIU 2022): encoder-decoder fusion by common and unique feature decomposition.

Port of the official TensorFlow model (Meiqi-Gong/CUFD @ 7539bd3): stage 1 (`model/1part1_model.ckpt`, a multi-scale
encoder `m_encoder` and decoder `m_decoder`) and stage 2 (`model/feature/epoch3/part2_model.ckpt`, the feature
encoder `s_encoder` and decoder `s_decoder`), each restored from its own file as `generate.py` does.

Protocol of the official `main.py` + `generate.py` (the published `results/RoadScene` BMPs):

* input: `scipy.misc.imread(path) / 255.0` (float64), `skimage.color.rgb2gray` (a 1-channel image unchanged; RGB
  as 0.2125 R + 0.7154 G + 0.0721 B, BT.709 weights), cast to float32, then min-max normalised per image in the
  graph, `(x - min) / (max - min)` in float32;
* `m_encoder` on the visible and the infrared image: four 32-channel features (3x3 reflect-padded convs and 1x1
  convs, batch normalisation in inference mode with TensorFlow's eps 1e-3, ReLU);
* per scale, `s_encoder` on cat[visible, infrared] gives 128 channels (c1, c2, u1, u2); common parts are fused
  by `w = |c1| / (|c1| + |c2| + 1e-9)`, unique parts by absolute maximum, `s_decoder` maps cat[c, u] back to 32
  channels, and the larger-magnitude stage-1 feature of the two images is added;
* `m_decoder` on the four fused features, `tanh / 2 + 0.5`, saved with `scipy.misc.imsave` (min-max stretch,
  +0.5, truncated) as a gray BMP.

The stage-2 "dense" blocks apply a 1x1 and a 3x3 convolution with no activation in between (the official loop
pairs each 1x1 kernel with the following 3x3 one); they run here as one 3x3 conv with the composed kernel: the same
function in half the time of the whole network, reproducing the published images as closely (84-88 dB on the
official RoadScene results either way). Colour: the official script converts a colour visible image to gray with
`rgb2gray` and saves the fused image gray; so does this method (colour 'gray'). A gray image read from a file that
stores three equal channels goes through the same weighted sum (float64 rounding only); `gray_as_rgb` overrides the
per-file layout. A constant input image (max == min) is normalised to zeros instead
of the official script's NaN.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._colour import rgb_to_ycbcr
from methods._per_image import per_image
from methods._protocol import bytescale, layout_option, levels
from methods._registry import register_method
from methods._tf_port import load_tf_convs, read_official_checkpoint
from methods._weights import official_weights

PAPER = ('H. Xu, M. Gong, X. Tian, J. Huang and J. Ma, CUFD: An encoder-decoder network for visible and infrared '
         'image fusion based on common and unique feature decomposition, Computer Vision and Image Understanding '
         '218, 2022')
LICENCE = 'no licence file in Meiqi-Gong/CUFD'
BN_EPS = 1e-3  # tf.layers.batch_normalization's default
EPS = 1e-9     # fusion.py's Strategy
RGB2GRAY = (0.2125, 0.7154, 0.0721)  # skimage.color.rgb2gray


class ConvUnit(nn.Module):
    """Conv (reflect padding k // 2), then optional inference-mode batch norm and ReLU. `pre` is a 1x1 conv applied
    first with nothing in between (the official `conv2d_2`, which pads before the 1x1 conv: the same thing, as a 1x1
    conv commutes with reflect padding)."""

    def __init__(self, cin: int, cout: int, k: int, bn: bool = True, relu: bool = True, pre: int = 0) -> None:
        super().__init__()
        self.pre = nn.Conv2d(cin, pre, 1) if pre else None
        self.conv = nn.Conv2d(pre or cin, cout, k, padding=k // 2, padding_mode='reflect')
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS) if bn else None
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x) if self.pre is None else self._composed(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x

    def _composed(self, x: Tensor) -> Tensor:
        # 1x1 then 3x3 with nothing in between is one 3x3 conv with the product kernel (composed in float64): the
        # same function at 2.4-4.4x fewer multiply-adds; the 1x1 bias reaches every tap of the window (reflect padding
        # copies it), so it adds sum(kernel) * bias.
        pre, conv = self.pre.weight[:, :, 0, 0].double(), self.conv.weight.double()
        weight = torch.einsum('omhw,mi->oihw', conv, pre)
        bias = self.conv.bias.double() + torch.einsum('omhw,m->o', conv, self.pre.bias.double())
        return F.conv2d(F.pad(x, [self.conv.padding[0]] * 4, mode='reflect'), weight.float(), bias.float())


class MEncoder(nn.Module):
    """Stage 1 encoder: conv1_1 (3x3, 1 -> 32), then three [1x1 32 -> 128, 3x3 128 -> 32]; returns the 4 outputs."""

    def __init__(self) -> None:
        super().__init__()
        pairs = [ConvUnit(c, o, k) for _ in range(3) for c, o, k in ((32, 128, 1), (128, 32, 3))]
        self.units = nn.ModuleList([ConvUnit(1, 32, 3), *pairs])

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.units[0](x)
        features = [x]
        for i in (1, 3, 5):
            x = self.units[i + 1](self.units[i](x))
            features.append(x)
        return features


class MDecoder(nn.Module):
    """Stage 1 decoder: 3x3 convs 128 -> 64 -> 32 -> 16 -> 1 (BN + ReLU except the last), tanh / 2 + 0.5."""

    def __init__(self) -> None:
        super().__init__()
        widths = (128, 64, 32, 16, 1)
        self.units = nn.ModuleList([ConvUnit(a, b, 3, bn=b > 1, relu=b > 1) for a, b in zip(widths, widths[1:])])

    def forward(self, x: Tensor) -> Tensor:
        for unit in self.units:
            x = unit(x)
        return torch.tanh(x) / 2 + 0.5


class SNetwork(nn.Module):
    """Stage 2 encoder or decoder: 5x5 conv 64 -> 32, two dense blocks of three [1x1, 3x3] pairs around a 1x1
    transfer layer (the 2nd and 3rd pair outputs are concatenated in front of their input), then the output layer
    (3x3 96 -> 128 for `s_encoder`, 1x1 96 -> 32 for `s_decoder`), tanh / 2 + 0.5."""

    def __init__(self, out_channels: int, out_kernel: int) -> None:
        super().__init__()
        self.conv1 = ConvUnit(64, 32, 5)
        self.blocks = nn.ModuleList([nn.ModuleList([ConvUnit(c, 32, 3, pre=128) for c in (32, 32, 64)])
                                     for _ in range(2)])
        self.transfer = ConvUnit(96, 32, 1)
        self.output = ConvUnit(96, out_channels, out_kernel, bn=False, relu=False)

    @staticmethod
    def _dense(block: nn.ModuleList, x: Tensor) -> Tensor:
        x = block[0](x)
        for unit in block[1:]:
            x = torch.cat([unit(x), x], 1)
        return x

    def forward(self, x: Tensor) -> Tensor:
        x = self._dense(self.blocks[0], self.conv1(x))
        x = self._dense(self.blocks[1], self.transfer(x))
        return torch.tanh(self.output(x)) / 2 + 0.5


def _abs_max(a: Tensor, b: Tensor) -> Tensor:
    return torch.where(a.abs() > b.abs(), a, b)


class CUFDNetwork(nn.Module):
    """Both stages and the fusion rules, on min-max normalised float32 images."""

    def __init__(self) -> None:
        super().__init__()
        self.m_encoder, self.m_decoder = MEncoder(), MDecoder()
        self.s_encoder, self.s_decoder = SNetwork(128, 3), SNetwork(32, 1)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        fused = []
        for fv, fi in zip(self.m_encoder(vis), self.m_encoder(ir)):
            c1, c2, u1, u2 = self.s_encoder(torch.cat([fv, fi], 1)).chunk(4, 1)
            w = c1.abs() / (c1.abs() + c2.abs() + EPS)
            common = w * c1 + (1 - w) * c2
            fused.append(self.s_decoder(torch.cat([common, _abs_max(u1, u2)], 1)) + _abs_max(fv, fi))
        return self.m_decoder(torch.cat(fused, 1))


def _minmax(x: Tensor) -> Tensor:
    lo, hi = x.amin((1, 2, 3), keepdim=True), x.amax((1, 2, 3), keepdim=True)
    span = hi - lo
    return (x - lo) / torch.where(span == 0, torch.ones_like(span), span)


class CUFD(FusionMethod):
    """CUFD with the official test protocol. `gray_as_rgb`: see the module docstring."""
    colour = 'gray'

    def __init__(self, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> None:
        super().__init__()
        self.gray_as_rgb = layout_option(gray_as_rgb)
        self.net = CUFDNetwork()

    def split_luminance(self, vis: Tensor):
        """`rgb2gray(imread(path) / 255.0)` in float64 (BT.709 weights); the chroma is the base class's, for
        a user who asks for colour 'ycbcr'."""
        _, cb, cr = rgb_to_ycbcr(vis)
        return _rgb2gray(levels(vis, 1.0).double() / 255), (cb, cr)

    @staticmethod
    def _input(x: Tensor, stored_rgb: bool) -> Tensor:
        if x.dtype == torch.float64:  # split_luminance's float64 gray
            return _minmax(x.float())
        gray = levels(x, 1.0).double() / 255
        if stored_rgb:
            gray = _rgb2gray(gray.expand(-1, 3, -1, -1))
        return _minmax(gray.float())

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        ir_rgb, vis_rgb = self.stored_layout(self.gray_as_rgb)
        return bytescale(self.net(self._input(ir, ir_rgb), self._input(vis, vis_rgb))) / 255

    def bare_network(self, ir: Tensor, vis: Tensor):
        return lambda: self.net(ir, vis)


def _rgb2gray(rgb: Tensor) -> Tensor:
    """skimage's `rgb2gray` on float64 RGB (N, 3, H, W), summed in its order."""
    r, g, b = rgb.unbind(1)
    return (RGB2GRAY[0] * r + RGB2GRAY[1] * g + RGB2GRAY[2] * b).unsqueeze(1)


def _load_bn(units, ckpt, scope: str, indices) -> None:
    for unit, i in zip(units, indices):
        prefix = f'{scope}/b{i}/batch_normalization'
        for tf_name, tensor in (('gamma', unit.bn.weight), ('beta', unit.bn.bias),
                                ('moving_mean', unit.bn.running_mean), ('moving_variance', unit.bn.running_var)):
            name = f'{prefix}/{tf_name}'
            if name not in ckpt or ckpt[name].shape != tuple(tensor.shape):
                raise ValueError(f'Checkpoint has no tensor {name!r} of shape {tuple(tensor.shape)}: not the '
                                 'official file for this network.')
            with torch.no_grad():
                tensor.copy_(torch.from_numpy(ckpt[name]))


_M_ENCODER = ('conv1_1', 'conv2_1', 'conv2_2', 'conv3_1', 'conv3_2', 'conv4_1', 'conv4_2')


def _load_stage1(net: CUFDNetwork, ckpt) -> None:
    load_tf_convs({f'm_encoder/{n}': u.conv for n, u in zip(_M_ENCODER, net.m_encoder.units)}, ckpt)
    _load_bn(net.m_encoder.units, ckpt, 'DenseFuseNet/m_encoder', range(7))
    load_tf_convs({f'm_decoder/conv2_{i}': u.conv for i, u in enumerate(net.m_decoder.units, 1)}, ckpt)
    _load_bn(net.m_decoder.units[:3], ckpt, 'DenseFuseNet/m_decoder', range(3))


def _load_stage2(s: SNetwork, ckpt, scope: str) -> None:
    convs = {f'{scope}/conv1_1': s.conv1.conv, f'{scope}/transfer_layer1': s.transfer.conv,
             f'{scope}/output_layer': s.output.conv}
    for b, block in enumerate(s.blocks, 1):
        for p, unit in enumerate(block, 1):
            convs[f'{scope}/dense_block{b}_conv{p}_1'] = unit.pre
            convs[f'{scope}/dense_block{b}_conv{p}_2'] = unit.conv
    load_tf_convs(convs, ckpt)
    units = [s.conv1, *s.blocks[0], s.transfer, *s.blocks[1]]
    # BN scopes are numbered by the official layer loop: 0 conv1_1, 2/4/6 block 1, 7 transfer, 9/11/13 block 2
    _load_bn(units, ckpt, f'DenseFuseNet/{scope}', (0, 2, 4, 6, 7, 9, 11, 13))


def _load(method: CUFD, weights) -> CUFD:
    if weights is not None:
        stage1 = read_official_checkpoint([p for p in weights if 'part1_model' in str(p)])
        stage2 = read_official_checkpoint([p for p in weights if 'part2_model' in str(p)])
        _load_stage1(method.net, stage1)
        _load_stage2(method.net.s_encoder, stage2, 's_encoder')
        _load_stage2(method.net.s_decoder, stage2, 's_decoder')
    return method


_STAGE1 = 'cufd/model/1part1_model.ckpt'
_STAGE2 = 'cufd/model/feature/epoch3/part2_model.ckpt'


@register_method('cufd', paper=PAPER, licence=LICENCE, colour='gray', tags=('baseline',), year=2022,
                 verification='published images: zoo/cufd_roadscene10 (4 of the 10 official RoadScene results; all '
                              '10 checked outside CI): min 86.3, median 86.9 dB, within 1 level',
                 note='slow on a CPU: about 27 s of one core per 640x480 pair (stage 2 runs at four scales)',
                 weights=[official_weights(p + s) for p in (_STAGE1, _STAGE2)
                          for s in ('.index', '.data-00000-of-00001')])
def cufd(weights=None, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> CUFD:
    return _load(CUFD(gray_as_rgb=gray_as_rgb), weights)
