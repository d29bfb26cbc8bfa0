"""MetaFusion (Zhao, Xie, Zhao, He & Lu, CVPR 2023): infrared-visible fusion whose network learns from
meta-features of an object detector; only the fusion network runs at test time.

Port of wdzhao123/MetaFusion @ a8c5eaf (`models/metafusion_net.py`, `test.py`, `utils/dataloader.py`; the detection
network is not in that repository and is not needed). The official weight file `weight/model_weight.pth` (a git blob
of at least 4 MiB, 2,252,994 float32 parameters) was not at hand here: `bench weights fetch metafusion` downloads it
from the repository at that commit and checks its git blob id (or put it at `<weights
dir>/metafusion/weight/model_weight.pth`). The port was checked against the official module
and `test.py` on seeded random weights (`tests/methods/test_metafusion.py`: max abs diff 0 before quantisation on
37x53, 64x48, 97x131 and 40x64, every saved pixel equal; on five real 512x384 pairs every pixel equal but one
whose brightness lies 4e-6 of a level below a truncation boundary, one level apart: 101.07 dB; with the script's
resize removed, on five PNG pairs at their own odd sizes every pixel equal). CPU: about 690 GMAC per 640x480 pair.

Network (`FusionNet(block_num=3, feature_out=False)`, as `test.py` builds it): three `FusionBlock`s, each conv 3x3
in->c, ReLU, conv 3x3 c->c, ReLU, then two parallel conv 3x3 c->c + ReLU concatenated (2c channels), with (in, c) =
(4, 64), (128, 128), (256, 128); then `block2`: conv 3x3 256->128, three conv 3x3 128->128, conv 3x3 128->64 (each
+ ReLU), conv 1x1 64->2 and a sigmoid: two per-pixel weights. Zero padding, biases everywhere. The official
convolutions are `MetaConv2d` (meta-learning wrappers that keep weight and bias as buffers): their state dict keys are
those of `nn.Conv2d`, so the official file loads key for key.

Checkpoint: `test.py` calls `model.load_state_dict(torch.load(checkpoint), strict=True)` on the bare network, so the
file is a plain state dict with exactly the 36 keys `block1.{0,1,2}.conv1_{1,2,0_00,0_01}.{weight,bias}` and
`block2.{0,2,4,6,8,10}.{weight,bias}` (no `module.` prefix, no wrapping dict: the official script could load
nothing else). The loader reads it with `torch.load(weights_only=True, map_location='cpu')` and refuses other key
sets, naming the missing and unexpected keys.

Protocol (`test.py` with `get_test_loader`, batch size 1):

* the network sees `cat([IR, RGB])`: the infrared image read by PIL as 'L', the visible image as 'RGB' (a gray file
  becomes three equal channels), both `ToTensor` (levels / 255, float32);
* the visible brightness is OpenCV's HSV value: `cv2.imread` (BGR), `cv2.cvtColor(img, COLOR_RGB2HSV)` -- the BGR
  array converted as if it were RGB, so the hue is that of the colour with red and blue swapped --, V (= max of the
  channels) / 255; the hue and saturation are kept (through `ToPILImage` 'LA' and `ToTensor`, exact for every level);
* fused brightness `w0 * IR + w1 * V` (float32), times 255, clipped to [0, 255] and TRUNCATED to uint8;
* recoloured by `cv2.cvtColor([H, S, fused], COLOR_HSV2RGB)` (returning BGR, since the hue came from BGR) and saved
  by `cv2.imwrite`: reproduced bit for bit by `methods._opencv_hsv`, including OpenCV's vector blocks of 32 pixels
  per row (truncating) and its scalar row tail (rounding) for widths that are not multiples of 32;
* a gray visible image has S = 0, so the output is gray: the method returns one channel.

Two steps of the script are not the default, because they change what is being compared:

* `utils/dataloader.py` resizes EVERY input to 512x384 (PIL bilinear for the network inputs, `cv2.resize`
  INTER_LINEAR for the brightness and colour), whatever its size and aspect ratio, and the results stay 512x384; the
  benchmark fuses each pair at its own size, as the network (fully convolutional) allows. On 512x384 inputs the
  script's resizes are identities and the method is exactly the script;
* results whose IR path lacks 'TNO' are written as `.jpg` (`cv2.imwrite` quality 95); the method returns the image
  before that encoding (what the script writes as PNG for TNO).

A colour infrared file is read by the benchmark as BT.601 luma rounded to the nearest level; PIL 'L' differs from it
by one level on a few colours (the benchmark's shared reading, not this method's).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._opencv_hsv import cv_hsv_to_rgb, cv_rgb_to_hsv
from methods._per_image import per_image
from methods._protocol import levels
from methods._registry import register_method
from methods._weights import official_weights

__all__ = ['FusionBlock', 'FusionNet', 'MetaFusion', 'load_official_state']

PAPER = ('W. Zhao, S. Xie, F. Zhao, Y. He and H. Lu, MetaFusion: Infrared and visible image fusion via '
         'meta-feature embedding from object detection, CVPR 2023')
LICENCE = 'none (no licence file in wdzhao123/MetaFusion)'
WEIGHT_FILE = 'metafusion/weight/model_weight.pth'


def _conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class FusionBlock(nn.Module):
    """Official `FusionBlock`: two convolutions, then two parallel ones whose outputs are concatenated."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1_1 = _conv3(cin, cout)
        self.conv1_2 = _conv3(cout, cout)
        self.conv1_0_00 = _conv3(cout, cout)
        self.conv1_0_01 = _conv3(cout, cout)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.conv1_2(torch.relu(self.conv1_1(x))))
        return torch.cat([torch.relu(self.conv1_0_00(x)), torch.relu(self.conv1_0_01(x))], 1)


class FusionNet(nn.Module):
    """Official `FusionNet(block_num=3)`: (N, 4, H, W) infrared + RGB in [0, 1] -> (N, 2, H, W) sigmoid weights."""

    def __init__(self) -> None:
        super().__init__()
        self.block1 = nn.Sequential(FusionBlock(4, 64), FusionBlock(128, 128), FusionBlock(256, 128))
        layers: list[nn.Module] = []
        for cin, cout in ((256, 128), (128, 128), (128, 128), (128, 128), (128, 64)):
            layers += [_conv3(cin, cout), nn.ReLU(inplace=True)]
        self.block2 = nn.Sequential(*layers, nn.Conv2d(64, 2, 1), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return self.block2(self.block1(x))


class MetaFusion(FusionMethod):
    """MetaFusion's fusion network with the official test script's inputs, HSV colour handling and saving (module
    docstring). Colour mode 'rgb': the network needs the visible RGB image, and the method recolours itself."""

    def __init__(self, tail_fma: bool = False) -> None:
        super().__init__()
        self.net = FusionNet()
        self.tail_fma = tail_fma

    @staticmethod
    def _inputs(ir: Tensor, vis: Tensor) -> tuple[Tensor, Tensor]:
        """Infrared and visible RGB levels (a gray visible image as three equal channels)."""
        return levels(ir, 1.0), levels(vis, 1.0).expand(-1, 3, -1, -1)

    def network_weights(self, ir: Tensor, vis: Tensor) -> Tensor:
        """The network's two per-pixel weights (N, 2, H, W) for [0, 1] inputs, before any quantisation."""
        ir8, rgb8 = self._inputs(ir, vis)
        return self.net(torch.cat([ir8 / 255, rgb8 / 255], 1))

    def fused_brightness(self, ir: Tensor, vis: Tensor) -> Tensor:
        """`w0 * IR + w1 * V` (N, 1, H, W) in [0, 1] as the script computes it, before it is quantised."""
        ir8, rgb8 = self._inputs(ir, vis)
        weights = self.net(torch.cat([ir8 / 255, rgb8 / 255], 1))
        value = rgb8.amax(1, keepdim=True)
        return weights[:, :1] * (ir8 / 255) + weights[:, 1:] * (value / 255)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        gray = vis.shape[1] == 1
        bgr = levels(vis, 1.0).expand(-1, 3, -1, -1).flip(1)  # cv2.imread's channel order
        hsv = cv_rgb_to_hsv(bgr)  # COLOR_RGB2HSV on the BGR array, as the script does
        brightness = torch.trunc((self.fused_brightness(ir, vis) * 255).clamp(0, 255))
        out = cv_hsv_to_rgb(torch.cat([hsv[:, :2], brightness], 1), tail_fma=self.tail_fma).flip(1) / 255
        return out[:, :1] if gray else out  # S = 0 for gray: three equal channels

    def bare_network(self, ir: Tensor, vis: Tensor):
        ir8, rgb8 = self._inputs(ir, vis)
        x = torch.cat([ir8 / 255, rgb8 / 255], 1)
        return lambda: self.net(x)


def load_official_state(net: FusionNet, path) -> FusionNet:
    """Loads the official `weight/model_weight.pth` layout (a bare state dict, see the module docstring) into `net`.

    Raises:
        ValueError: when the file holds other keys or shapes, naming them.
    """
    state = torch.load(path, map_location='cpu', weights_only=True)
    expected = net.state_dict()
    if not isinstance(state, dict) or set(state) != set(expected):
        keys = set(state) if isinstance(state, dict) else set()
        raise ValueError(f'Expected {path} to hold the MetaFusion FusionNet state dict (the 36 keys of '
                         f'`weight/model_weight.pth`, as the official test.py loads it), but it misses '
                         f'{sorted(set(expected) - keys)[:3]} and has unexpected {sorted(keys - set(expected))[:3]}.')
    wrong = [k for k, v in expected.items() if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise ValueError(f'Expected {path} to hold MetaFusion FusionNet(block_num=3) tensors, but {wrong[0]} has '
                         f'shape {tuple(state[wrong[0]].shape)} instead of {tuple(expected[wrong[0]].shape)}.')
    net.load_state_dict(state)
    return net


@register_method('metafusion', paper=PAPER, licence=LICENCE, colour='rgb', year=2023,
                 weights=[official_weights(WEIGHT_FILE)],
                 verification='random-weight equality with the official test.py: 4 sizes, max abs diff 0 before '
                              'quantisation, every saved pixel equal; 5 real pairs: >= 101.07 dB, max diff 1 (one '
                              'pixel at a truncation boundary)',
                 note='slow on a CPU: about 690 GMAC per 640x480 pair (18 convolutions of up to 256 channels at full '
                      'resolution); 47 s a pair measured on a loaded 2-core CPU')
def metafusion(weights=None) -> MetaFusion:
    method = MetaFusion()
    if weights is not None:
        load_official_state(method.net, weights[0])
    return method
