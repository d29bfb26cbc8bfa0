"""SMoA (Liu et al., IEEE Signal Processing Letters 2021): a searched modality-oriented encoder-decoder with a
visual-saliency fusion rule.

Port of JinyuanLiu-CV/SMoA @ 25c8191 (no licence file): `model.py` (`Encoder(16, 2, genotype)`,
`Decoder(16, 2, genotype_de)`), `operations.py`, `genotypes.py` and the test script `test.py`, with the weights the
repository holds (`trainJT/encoder1_epoch50.pt`, `encoder2_epoch50.pt`, `decoder_epoch50.pt`; `test.py` names
`*_epoch6.pt` files in a local folder of the authors, which were never published). Module and parameter names follow
the official classes, so each state dict loads key for key.

Network (DARTS-style cells; every convolution without bias and with reflection padding, PReLU with one parameter):

* infrared encoder (`genotype_en1`) and visible encoder (`genotype_en2`): a 3x3 stem 1->8, then two cells of four
  nodes (16 channels each, concatenated to 64); each returns the outputs of both cells;
* decoder (`genotype_de`): two cells on the two fused feature maps, then a 3x3 conv 64->1 with bias;
* operations: separable convs (ReLU, depthwise kxk, 1x1, twice), dilated convs (ReLU, depthwise 3x3 dilation 2,
  1x1), a spatial-attention block and a residual dense block (`operations.py`); a cell's inputs pass through
  ReLU + 1x1 conv first.

Fusion rule (`test.py: vsf3`, visual saliency map): for each of the two feature pairs, each map is quantised as
`int(x / max(x) * 255)` (truncation, over the whole tensor); the saliency of level `i` is
`sum_j |i - j| * hist[j]` over that map's histogram of levels 0..255 (each product in int32, as the CUDA `histc` of
an int32 tensor gives int32 counts, summed in int64), divided by its maximum in float32; levels outside 0..255
(negative features) get saliency 0. Fused: `(0.5 + 0.5 (s1 - s2)) x1 + (0.5 + 0.5 (s2 - s1)) x2`.

Protocol (`test.py`): the network works on grey levels 0..255 (no division by 255). Pairs whose name starts with
'A' (its TNO test images) go through `fuse_L`: both images read by imageio with `pilmode='L'`, the output saved by
PIL (`Image.fromarray(float32).convert('L')`: clipped to [0, 255] and truncated). Other pairs go through `fuse_RGB`:
the infrared image is channel 0 of `cv2.imread` (blue), the visible image the Y of `cv2.cvtColor(BGR2YCrCb)`; the
output clamped to [0, 255] and truncated (`np.asarray(dtype=int)`), and recoloured with the visible Cr/Cb by
`cv2.cvtColor(YCrCb2BGR)`. Both write JPEG files (quality 75 and 95); the port returns the image before that lossy
step. The port takes `fuse_L` for a gray visible image and `fuse_RGB` for a colour one: on a gray image (R = G = B)
cv2's Y is the grey level itself, and both paths truncate the same output, so they agree there. For a colour visible
image, colour mode 'ycbcr' (the default) is `fuse_RGB`'s colour result (cv2's integer YCrCb, `methods._opencv`'s
`cv_rgb_to_ycrcb` and `cv_ycrcb_to_rgb`), 'gray' its `_L` image. (The infrared image reaches the method as one gray
channel; for an infrared file stored as RGB with unequal channels, `fuse_RGB` would take its blue channel.)
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._opencv import cv_rgb_to_ycrcb, cv_ycrcb_to_rgb
from methods._per_image import per_image
from methods._protocol import levels
from methods._registry import register_method
from methods._weights import official_weights

__all__ = ['Decoder', 'Encoder', 'SMoA', 'SMoANet', 'saliency_fuse']

PAPER = ('J. Liu, Y. Wu, Z. Huang, R. Liu, X. Fan, SMoA: Searching a modality-oriented architecture for infrared and '
         'visible image fusion, IEEE Signal Processing Letters 28, 2021, 1818-1822')
VERIFIED = ('official code: test.py (CPU) on 7 pairs (5 TNO, 2 MSRS, gray and colour): identical 8-bit images before '
            'its JPEG writer (inf dB, max diff 0); published images: Strategy_vsm (37, checked outside CI) not '
            'reproduced by the released epoch-50 weights, 19.8-32.6 dB (median 27.3): another model state')
NOTE = ('slow on a CPU: 10.5 CPU s per 640x480 pair on one thread (15.3 s wall on a loaded 2-core machine): prefer '
        '--device cuda for whole data sets')

# genotypes.py @ 25c8191: (operation, input state) per edge, two edges per node, four nodes
GENOTYPE_EN1 = (('sep_conv_3x3', 0), ('Spatialattention', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 2),
                ('sep_conv_5x5', 0), ('sep_conv_5x5', 3), ('Denseblocks', 4), ('Denseblocks', 3))
GENOTYPE_EN2 = (('Spatialattention', 1), ('dil_conv_3x3', 0), ('dil_conv_3x3', 0), ('sep_conv_3x3', 2),
                ('sep_conv_3x3', 0), ('Spatialattention', 2), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1))
GENOTYPE_DE = (('sep_conv_3x3', 0), ('Denseblocks', 1), ('sep_conv_3x3', 2), ('sep_conv_3x3', 0),
               ('sep_conv_5x5', 2), ('sep_conv_3x3', 0), ('Denseblocks', 4), ('sep_conv_3x3', 0))


def _conv(cin: int, cout: int, k: int, dilation: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=dilation * (k // 2), dilation=dilation, groups=groups, bias=False,
                     padding_mode='reflect')


def _sep_conv(c: int, k: int) -> nn.Module:
    """`SepConv`: (ReLU, depthwise kxk, 1x1) twice, as `op.0`..`op.5`."""
    return _Op(nn.ReLU(), _conv(c, c, k, groups=c), _conv(c, c, 1), nn.ReLU(), _conv(c, c, k, groups=c),
               _conv(c, c, 1))


def _dil_conv(c: int) -> nn.Module:
    """`DilConv(3x3, dilation 2)`: ReLU, depthwise 3x3 dilation 2, 1x1."""
    return _Op(nn.ReLU(), _conv(c, c, 3, dilation=2, groups=c), _conv(c, c, 1))


class _Op(nn.Module):
    """A sequence stored under `op` (the official `SepConv` / `DilConv` / `ReLUConvBN` layout)."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.op = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class _BasicConv(nn.Module):
    """`BasicConv(relu=False)`: a 3x3 conv under the name `conv`."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = _conv(cin, cout, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class _SpatialAttention(nn.Module):
    """`spatial_attn_layer`: `x * sigmoid(conv3x3([channel max, channel mean]))`."""

    def __init__(self) -> None:
        super().__init__()
        self.spatial = _BasicConv(2, 1)

    def forward(self, x: Tensor) -> Tensor:
        pooled = torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.spatial(pooled))


class SpatialBlock(nn.Module):
    """`Spatial_BasicBlock`: y = conv1(x); prelu(attention(conv2(prelu(y))) + y), one PReLU used twice."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = _conv(c, c, 3)
        self.conv2 = _BasicConv(c, c)
        self.se = _SpatialAttention()
        self.relu = nn.PReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        return self.relu(self.se(self.conv2(self.relu(x))) + x)


class DenseBlock(nn.Module):
    """`ResidualDenseBlock`: three 3x3 convs on growing concatenations, PReLU, `x3 * 0.333333 + x`."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.conv2, self.conv3 = _BasicConv(c, c), _BasicConv(2 * c, c), _BasicConv(3 * c, c)
        self.lrelu = nn.PReLU()

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat([x, x1], 1)))
        x3 = self.lrelu(self.conv3(torch.cat([x, x1, x2], 1)))
        return x3 * 0.333333 + x


_OPS = {'sep_conv_3x3': lambda c: _sep_conv(c, 3), 'sep_conv_5x5': lambda c: _sep_conv(c, 5),
        'dil_conv_3x3': _dil_conv, 'Spatialattention': SpatialBlock, 'Denseblocks': DenseBlock}


class Cell(nn.Module):
    """`model.py: Cell`: ReLU + 1x1 on both inputs, four nodes each summing two operations, the nodes concatenated."""

    def __init__(self, genotype: Sequence[tuple[str, int]], c_prev_prev: int, c_prev: int, c: int) -> None:
        super().__init__()
        self.preprocess0 = _Op(nn.ReLU(), _conv(c_prev_prev, c, 1))
        self.preprocess1 = _Op(nn.ReLU(), _conv(c_prev, c, 1))
        self._ops = nn.ModuleList(_OPS[name](c) for name, _ in genotype)
        self._indices = tuple(index for _, index in genotype)

    def forward(self, s0: Tensor, s1: Tensor) -> Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(len(self._ops) // 2):
            a, b = 2 * node, 2 * node + 1
            states.append(self._ops[a](states[self._indices[a]]) + self._ops[b](states[self._indices[b]]))
        return torch.cat(states[2:], 1)


class Encoder(nn.Module):
    """`Encoder(16, 2, genotype)`: reflection-padded 3x3 stem 1->8, two cells; returns both cells' outputs."""

    def __init__(self, genotype: Sequence[tuple[str, int]]) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(1, 8, 3, bias=False))
        self.cells = nn.ModuleList([Cell(genotype, 8, 8, 16), Cell(genotype, 8, 64, 16)])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        stem = self.stem(x)
        first = self.cells[0](stem, stem)
        return first, self.cells[1](stem, first)


class Decoder(nn.Module):
    """`Decoder(16, 2, genotype_de)`: two cells on the fused maps, then a reflection-padded 3x3 conv 64->1."""

    def __init__(self, genotype: Sequence[tuple[str, int]] = GENOTYPE_DE) -> None:
        super().__init__()
        self.cells = nn.ModuleList([Cell(genotype, 64, 64, 16), Cell(genotype, 64, 64, 16)])
        self.pad = nn.ReflectionPad2d(1)
        self.ConvLayer = nn.Conv2d(64, 1, 3)

    def forward(self, s0: Tensor, s1: Tensor) -> Tensor:
        first = self.cells[0](s0, s1)
        return self.ConvLayer(self.pad(self.cells[1](s1, first)))


def _saliency(x: Tensor) -> Tensor:
    """`vsm2(int(x / max(x) * 255))`: the saliency weight of every element of one feature tensor (float32)."""
    q = (x / x.max() * 255).to(torch.int32)  # truncation toward zero, as `.to(torch.int)`
    inside = (q >= 0) & (q <= 255)
    hist = torch.bincount(q[inside].long(), minlength=256)
    distance = (torch.arange(256, device=x.device)[:, None] - torch.arange(256, device=x.device)).abs()
    terms = distance * hist  # (level i, level j): |i - j| hist[j], wrapped to int32 as the CUDA script computes it
    terms = (terms + 2 ** 31) % 2 ** 32 - 2 ** 31
    sal = terms.sum(1).float()  # the int64 sums, then `div` in float32
    sal = sal / sal.max()
    return torch.where(inside, sal[q.clamp(0, 255).long()], torch.zeros((), device=x.device))


def saliency_fuse(a: Tensor, b: Tensor) -> Tensor:
    """`test.py: vsf3`: saliency-weighted average of two feature tensors (module docstring)."""
    wa, wb = _saliency(a), _saliency(b)
    return (0.5 + 0.5 * (wa - wb)) * a + (0.5 + 0.5 * (wb - wa)) * b


class SMoANet(nn.Module):
    """Both encoders, the saliency rule on both feature pairs and the decoder; grey levels in, grey levels out."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder1, self.encoder2 = Encoder(GENOTYPE_EN1), Encoder(GENOTYPE_EN2)
        self.decoder = Decoder()

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        ir_1, ir_2 = self.encoder1(ir)
        vis_1, vis_2 = self.encoder2(vis)
        return self.decoder(saliency_fuse(ir_1, vis_1), saliency_fuse(ir_2, vis_2))


class SMoA(FusionMethod):
    """SMoA with `test.py`'s reading and saving (module docstring).

    A colour visible image is split by cv2's integer YCrCb and the fused Y recoloured the same way, so colour mode
    'ycbcr' gives `fuse_RGB`'s colour result and 'gray' its `_L` image.

    Args:
        weights: [decoder, encoder1, encoder2] state dict files (`trainJT/*_epoch50.pt`), or None for random
            initialisation.
    """

    def __init__(self, weights=None) -> None:
        super().__init__()
        self.net = SMoANet()
        if weights is not None:
            for part, path in zip(('decoder', 'encoder1', 'encoder2'), weights):
                _load_part(getattr(self.net, part), path, part)

    def split_luminance(self, vis: Tensor):
        ycrcb = cv_rgb_to_ycrcb(levels(vis, step=1.0))
        return ycrcb[:, :1] / 255, ycrcb[:, 1:]

    def recolour(self, fused: Tensor, chroma) -> Tensor:
        return cv_ycrcb_to_rgb(torch.cat([levels(fused, step=1.0), chroma], 1)) / 255

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        # grey levels in, the output clipped to [0, 255] and truncated; quantised: see methods/_per_image.py
        return per_image(lambda i, v: self.net(i, v).clamp(0, 255).trunc() / 255,
                         levels(ir, step=1.0), levels(vis, step=1.0))

    def bare_network(self, ir: Tensor, vis: Tensor):
        ir, vis = levels(ir, step=1.0), levels(vis, step=1.0)
        return lambda: self.net(ir, vis)


def _load_part(module: nn.Module, path, part: str) -> None:
    state = torch.load(path, map_location='cpu', weights_only=True)
    expected = module.state_dict()
    if not isinstance(state, dict) or set(state) != set(expected) or any(
            tuple(state[k].shape) != tuple(v.shape) for k, v in expected.items()):
        keys = set(state) if isinstance(state, dict) else set()
        raise ValueError(f'{path} does not hold the official SMoA {part} state dict (missing '
                         f'{sorted(set(expected) - keys)[:3]}, unexpected {sorted(keys - set(expected))[:3]}, or '
                         'other shapes).')
    module.load_state_dict(state)


_WEIGHTS = [official_weights(f'smoa/trainJT/{part}_epoch50.pt') for part in ('decoder', 'encoder1', 'encoder2')]


@register_method('smoa', paper=PAPER, licence='none stated (JinyuanLiu-CV/SMoA has no licence file)', year=2021,
                 tags=('baseline', 'zoo'), weights=_WEIGHTS, verification=VERIFIED, note=NOTE)
def smoa(weights=None) -> SMoA:
    return SMoA(weights)
