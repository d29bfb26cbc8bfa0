"""SDNet (Zhang & Ma, IJCV 2021): squeeze-and-decomposition network, fused image from its squeeze branch.

Port of the official TensorFlow model (HaoZhang1018/SDNet @ bf6a2ee, `IR_VIS/checkpoint/IRVIS.model-10`). Only
the squeeze (fusion) branch runs at test time; the decomposition layers 6-9 of the checkpoint are not needed.

Protocol (VIF-Benchmark's `SDNet.py`, identical to the official test script for gray images): luminance as
`scipy.misc.imread(flatten=True, mode='YCbCr')` (PIL float), `(x - 127.5) / 127.5` in float64, fed as float32;
output `tanh * 127.5 + 127.5`, scipy `imsave` min-max stretch; colour by PIL YCbCr recolouring. (The official README
converts colour images with MATLAB's studio-swing BT.601 instead; that MATLAB pre-processing is not reproduced.)

A gray image read from a file that stores it as three equal channels goes through PIL's YCbCr round trip, which
lowers 22 of the 256 grey levels by one before the network sees them. The benchmark decodes such files to gray and
tells the method how each file was stored (`FusionMethod.stored_layout`), so the default is right per image: the
published TNO-42 results need it (TNO-42 stores gray as RGB: 55 dB without, 96-101 dB with), and VIF-Benchmark's
own images (IR 1-channel, visible RGB) need the opposite. `gray_as_rgb` (one bool, or an (ir, vis) pair) overrides
it for tensors that did not come from files.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._protocol import PILColour, bytescale, imread_flatten_ycbcr, layout_option
from methods._registry import register_method
from methods._tf_port import load_tf_convs, read_official_checkpoint
from methods._weights import official_weights
from methods._per_image import per_image

PAPER = ('H. Zhang and J. Ma, SDNet: A Versatile Squeeze-and-Decomposition Network for Real-Time Image Fusion, '
         'International Journal of Computer Vision 129, 2021')
LICENCE = 'MIT (HaoZhang1018/SDNet)'
VERIFIED = ('published images: tno42 (Tang, 42 pairs) and vifbench12 (colour, 12): every pixel within 1 level, '
            '>= 80 dB')


def _branch() -> nn.ModuleList:
    # zero 'SAME' padding; layer 3 sees cat[c1, c2], layer 4 cat[c1, c2, c3]
    return nn.ModuleList([nn.Conv2d(1, 16, 5, padding=2), nn.Conv2d(16, 16, 3, padding=1),
                          nn.Conv2d(32, 16, 3, padding=1), nn.Conv2d(48, 16, 3, padding=1)])


class SDNet(PILColour, FusionMethod):
    """SDNet's squeeze branch. `gray_as_rgb`: see the module docstring."""
    pil_luminance = 'F'

    def __init__(self, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> None:
        super().__init__()
        self.gray_as_rgb = layout_option(gray_as_rgb)
        self.ir_layers, self.vi_layers = _branch(), _branch()
        self.fuse_conv = nn.Conv2d(128, 1, 1)

    @staticmethod
    def _features(x: Tensor, layers: nn.ModuleList) -> list[Tensor]:
        c1 = F.leaky_relu(layers[0](x), 0.2)
        c2 = F.leaky_relu(layers[1](c1), 0.2)
        c3 = F.leaky_relu(layers[2](torch.cat([c1, c2], 1)), 0.2)
        c4 = F.leaky_relu(layers[3](torch.cat([c1, c2, c3], 1)), 0.2)
        return [c1, c2, c3, c4]

    @staticmethod
    def _input(x: Tensor, stored_rgb: bool) -> Tensor:
        return ((imread_flatten_ycbcr(x, stored_rgb).double() - 127.5) / 127.5).float()

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        ir_rgb, vis_rgb = self.stored_layout(self.gray_as_rgb)
        fi = self._features(self._input(ir, ir_rgb), self.ir_layers)
        fv = self._features(self._input(vis, vis_rgb), self.vi_layers)
        out = torch.tanh(self.fuse_conv(torch.cat([t for pair in zip(fi, fv) for t in pair], 1)))
        return bytescale(out * 127.5 + 127.5) / 255


def _load(net: SDNet, weights) -> SDNet:
    if weights is not None:
        ckpt = read_official_checkpoint(weights)
        for branch, layers in (('ir', net.ir_layers), ('vi', net.vi_layers)):
            for i, conv in enumerate(layers, 1):
                load_tf_convs({f'fusion_model/layer{i}_{branch}': conv}, ckpt, f'w{i}_{branch}', f'b{i}_{branch}')
        load_tf_convs({'fusion_model/layer5_fuse': net.fuse_conv}, ckpt, 'w5_fuse', 'b5_fuse')
    return net


_PREFIX = 'sdnet/IR_VIS/checkpoint/IRVIS.model-10'


@register_method('sdnet', paper=PAPER, licence=LICENCE, tags=('baseline',), year=2021,
                 verification=VERIFIED,
                 weights=[official_weights(_PREFIX + '.index'), official_weights(_PREFIX + '.data-00000-of-00001')])
def sdnet(weights=None, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> SDNet:
    return _load(SDNet(gray_as_rgb=gray_as_rgb), weights)
