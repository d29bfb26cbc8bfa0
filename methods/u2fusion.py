"""U2Fusion (Xu et al., IEEE TPAMI 2022): a densely connected generator on the concatenated sources.

Port of the official TensorFlow model (hanna-xu/U2Fusion @ 0a58821, `model/model.ckpt`).

Registered names:

* `u2fusion`: VIF-Benchmark's protocol, behind the published comparison images: PIL 'L' luminance of both images
  scaled to [0, 1], **IR first**, output saved with scipy `imsave` (min-max stretch), PIL YCbCr recolouring.
* `u2fusion-official`: the official `test_main.py`: **visible first** (SOURCE1 = VIS), output saved with
  `scipy.misc.toimage(out, cmin=0, cmax=out.max())` (x / max, no minimum subtraction); colour through full-range
  BT.601 in float, as the official code converts RGB.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._protocol import PILColour, bytescale, levels, toimage_max
from methods._registry import register_method
from methods._tf_port import load_tf_convs, read_official_checkpoint
from methods._weights import official_weights
from methods._per_image import per_image

PAPER = ('H. Xu, J. Ma, J. Jiang, X. Guo and H. Ling, U2Fusion: A Unified Unsupervised Image Fusion Network, '
         'IEEE Transactions on Pattern Analysis and Machine Intelligence 44(1), 2022')
LICENCE = 'no licence file in hanna-xu/U2Fusion'
GROWTH = 44
VERIFIED = ('published images: tno42 (Tang, 42 pairs) and vifbench12 (colour, 12): every pixel within 1 level, '
            '>= 80 dB')
SAME_NETWORK = ('network and weights loading as u2fusion (published images); this protocol: golden regression '
                'only')


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, padding_mode='reflect')


class U2FusionNet(nn.Module):
    """Encoder (conv 2->44 + 5 dense layers, new features first) and decoder 264->128->64->32->1, tanh/2 + 0.5."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _conv(2, GROWTH)
        self.dense = nn.ModuleList([_conv(GROWTH * k, GROWTH) for k in range(1, 6)])
        self.decoder = nn.ModuleList([_conv(6 * GROWTH, 128), _conv(128, 64), _conv(64, 32), _conv(32, 1)])

    def forward(self, first: Tensor, second: Tensor) -> Tensor:
        x = F.leaky_relu(self.conv1(torch.cat([first, second], 1)), 0.2)
        for conv in self.dense:
            x = torch.cat([F.leaky_relu(conv(x), 0.2), x], 1)
        for conv in self.decoder[:-1]:
            x = F.leaky_relu(conv(x), 0.2)
        return torch.tanh(self.decoder[-1](x)) / 2 + 0.5


class U2Fusion(FusionMethod):
    """U2Fusion with the official script's input order and output convention (`official=True`)."""

    def __init__(self, official: bool = False) -> None:
        super().__init__()
        self.official = official
        self.net = U2FusionNet()

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        # imread(mode='L') / 255.0 in float64, fed to a float32 placeholder
        a, b = ((levels(t, 1.0).double() / 255).float() for t in (ir, vis))
        if self.official:
            return toimage_max(self.net(b, a)) / 255
        return bytescale(self.net(a, b)) / 255


class U2FusionVIF(PILColour, U2Fusion):
    """`U2Fusion` with VIF-Benchmark's PIL luminance and recolouring."""


def _load(method: U2Fusion, weights) -> U2Fusion:
    if weights is not None:
        ckpt = read_official_checkpoint(weights)
        net = method.net
        convs = {'Generator/encoder/conv1_1': net.conv1}
        convs.update({f'Generator/encoder/dense_block_conv{i + 1}': c for i, c in enumerate(net.dense)})
        convs.update({f'Generator_1/decoder/conv2_{i + 1}': c for i, c in enumerate(net.decoder)})
        load_tf_convs(convs, ckpt)
    return method


_WEIGHTS = [official_weights('u2fusion/model/model.ckpt.index'),
            official_weights('u2fusion/model/model.ckpt.data-00000-of-00001')]
_COMMON = dict(paper=PAPER, licence=LICENCE, tags=('baseline',), weights=_WEIGHTS, year=2022)


@register_method('u2fusion', verification=VERIFIED, **_COMMON)
def u2fusion(weights=None) -> U2Fusion:
    return _load(U2FusionVIF(), weights)


@register_method('u2fusion-official', verification=SAME_NETWORK, **_COMMON)
def u2fusion_official(weights=None) -> U2Fusion:
    return _load(U2Fusion(official=True), weights)
