"""STDFusionNet (Ma et al., IEEE TIM 2021): salient-target-detection fusion network, residual blocks per modality.

Port of the official TensorFlow model (jiayi-ma/STDFusionNet @ 8b4a513, `checkpoint/Fusion.model-29`, tensors
under `STMFusion_model/`). Linfeng-Tang/VIF-Benchmark ships a different checkpoint under the same file name (scope
`STDFusion_model`, other values): it does not reproduce the authors' published images and is not used here.

Protocol of the official `test_one_image.py` + `test_network.py` (its last pass, epoch 29, writes the published
`STDFusionNet_Results`):

* input: `scipy.misc.imread(path, flatten=True, mode='YCbCr')` (PIL's float luminance after a YCbCr round trip;
  the published test set's visible files are colour JPEGs named `.bmp`), then `x / 127.5 - 1.0` in float64, fed
  as float32; no padding (`padding = 0`);
* network: each branch is a 5x5 conv (zero 'SAME' padding) and three residual blocks [1x1, 3x3, 1x1] with a 1x1
  identity conv (no bias) where the width changes, leaky ReLU 0.2; the reconstruction network takes
  cat[visible, infrared] features through four such blocks closed by ELU, ELU, leaky ReLU and tanh;
* output: `(y + 1) * 127.5` in float32, saved with `scipy.misc.imsave` (min-max stretch, +0.5, truncated) as a
  gray BMP.

Colour: the official script fuses the visible luminance and saves gray, so does this method (colour 'gray'). A gray
image read from a file storing three equal channels goes through PIL's YCbCr round trip as in SDNet (22 of the
256 levels one lower); `gray_as_rgb` overrides the per-file layout (see `methods/sdnet.py`).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._protocol import PILColour, bytescale, imread_flatten_ycbcr, layout_option
from methods._registry import register_method
from methods._tf_port import load_tf_convs, read_official_checkpoint
from methods._weights import official_weights

PAPER = ('J. Ma, L. Tang, M. Xu, H. Zhang and G. Xiao, STDFusionNet: An Infrared and Visible Image Fusion Network '
         'Based on Salient Target Detection, IEEE Transactions on Instrumentation and Measurement 70, 2021')
LICENCE = 'MIT (jiayi-ma/STDFusionNet)'
SCOPE = 'STMFusion_model'


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2)  # tf.nn.leaky_relu's default slope


class ResidualBlock(nn.Module):
    """1x1 -> 3x3 (zero padding) -> 1x1 convs, plus the input (through a 1x1 conv without bias when the width
    changes), then `act`."""

    def __init__(self, cin: int, cout: int, act: Callable[[Tensor], Tensor], identity_conv: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin, 1)
        self.conv2 = nn.Conv2d(cin, cin, 3, padding=1)
        self.conv3 = nn.Conv2d(cin, cout, 1)
        self.identity_conv = nn.Conv2d(cin, cout, 1, bias=False) if identity_conv else None
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv3(_lrelu(self.conv2(_lrelu(self.conv1(x)))))
        return self.act(y + (x if self.identity_conv is None else self.identity_conv(x)))


class Extraction(nn.Module):
    """One modality's feature extraction network: 1 -> 16 -> 16 -> 32 -> 64 channels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.blocks = nn.ModuleList([ResidualBlock(16, 16, _lrelu, identity_conv=False),
                                     ResidualBlock(16, 32, _lrelu), ResidualBlock(32, 64, _lrelu)])

    def forward(self, x: Tensor) -> Tensor:
        x = _lrelu(self.conv1(x))
        for block in self.blocks:
            x = block(x)
        return x


class STDFusionNetwork(nn.Module):
    """Both extraction networks and the reconstruction network 128 -> 64 -> 32 -> 16 -> 1 (tanh output)."""

    def __init__(self) -> None:
        super().__init__()
        self.vi, self.ir = Extraction(), Extraction()
        self.reconstruction = nn.ModuleList([ResidualBlock(128, 64, F.elu), ResidualBlock(64, 32, F.elu),
                                             ResidualBlock(32, 16, _lrelu), ResidualBlock(16, 1, torch.tanh)])

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        x = torch.cat([self.vi(vis), self.ir(ir)], 1)
        for block in self.reconstruction:
            x = block(x)
        return x


class STDFusionNet(PILColour, FusionMethod):
    """STDFusionNet with the official test protocol. `gray_as_rgb`: see the module docstring."""
    colour = 'gray'
    pil_luminance = 'F'

    def __init__(self, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> None:
        super().__init__()
        self.gray_as_rgb = layout_option(gray_as_rgb)
        self.net = STDFusionNetwork()

    @staticmethod
    def _input(x: Tensor, stored_rgb: bool) -> Tensor:
        return (imread_flatten_ycbcr(x, stored_rgb).double() / 127.5 - 1.0).float()

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        ir_rgb, vis_rgb = self.stored_layout(self.gray_as_rgb)
        out = self.net(self._input(ir, ir_rgb), self._input(vis, vis_rgb))
        return bytescale((out + 1) * 127.5) / 255

    def bare_network(self, ir: Tensor, vis: Tensor):
        a, b = ir * 2 - 1, vis * 2 - 1
        return lambda: self.net(a, b)


def _block_scopes(prefix: str, blocks: nn.ModuleList) -> dict[str, nn.Conv2d]:
    convs = {}
    for i, block in enumerate(blocks, 1):
        for name in ('conv1', 'conv2', 'conv3', 'identity_conv'):
            if getattr(block, name) is not None:
                convs[f'{prefix}/block{i}/{name}'] = getattr(block, name)
    return convs


def _load(method: STDFusionNet, weights) -> STDFusionNet:
    if weights is not None:
        ckpt = read_official_checkpoint(weights)
        net = method.net
        convs = {}
        for branch, extraction in (('vi', net.vi), ('ir', net.ir)):
            convs[f'{SCOPE}/{branch}_extraction_network/conv1'] = extraction.conv1
            convs.update(_block_scopes(f'{SCOPE}/{branch}_extraction_network', extraction.blocks))
        convs.update(_block_scopes(f'{SCOPE}/reconstruction_network', net.reconstruction))
        load_tf_convs(convs, ckpt, 'w', 'b')
    return method


_PREFIX = 'stdfusionnet/checkpoint/Fusion.model-29'


@register_method('stdfusionnet', paper=PAPER, licence=LICENCE, colour='gray', tags=('baseline', 'zoo'), year=2021,
                 weights=[official_weights(_PREFIX + '.index'), official_weights(_PREFIX + '.data-00000-of-00001')],
                 verification='published images: zoo/stdfusionnet_tno9 (4 of the 9 official results; all 9 checked '
                              'outside CI): min 93.0, median 96.4 dB, within 1 level')
def stdfusionnet(weights=None, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> STDFusionNet:
    return _load(STDFusionNet(gray_as_rgb=gray_as_rgb), weights)
