"""IFCNN (Zhang et al., Information Fusion 2020): a general fusion CNN; features of each image fused element-wise.

Port of uzeful/IFCNN @ 8fe59c2 (`Code/model.py`, `Code/IFCNN_Main.py`, `Code/utils/myTransforms.py`), loading the
official snapshots `Code/snapshots/IFCNN-{MAX,MEAN,SUM}.pth`. Module and parameter names follow the official classes,
so each state dict loads key for key (ResNet-101's conv1 is stored in the snapshot; nothing else of ResNet is used;
the PyTorch 0.4 files have no BatchNorm `num_batches_tracked` counters).

Network: replicate-pad 3, conv1 7x7 3->64 without bias (ResNet's conv1, stride 1), then ConvBlock (replicate-pad 1,
conv 3x3 without bias, batch norm with running statistics, ReLU), one image at a time; the two feature maps fused by
the rule (MAX: element-wise maximum; SUM; MEAN); ConvBlock, conv 1x1 64->3.

Test-time protocol of the official infrared-visible run (`IFCNN_Main.py`, dataset 'IV'), the default:

* each gray file read by PIL as 'RGB' (three equal channels), `ToTensor` (x / 255 in float32), `Normalize` with mean
  0 and std 1 (the identity); `model(vis, ir)`;
* output de-normalised per channel (`x * std + mean`), clamped to [0, 1], `* 255` in float32, `astype('uint8')`
  (truncation), then `cv2.cvtColor(RGB2GRAY)`. The three output channels differ, so the gray weights and their
  rounding matter. The authors' images were made by OpenCV 3 (14-bit fixed point; pixels off by one on their 14 IV
  pairs, network in float64: 77 with OpenCV 3's rounding, 97 with OpenCV 4's 15 bits; on `Results/IV` MAX in float32:
  67 against 139), Tang's TNO-42 images by OpenCV 4 (7 pairs, float64: 22 against 74).

Options (every registered name): `normalisation` 'none' (mean 0, std 1) or 'imagenet' (mean (0.485, 0.456, 0.406),
std (0.229, 0.224, 0.225), what the official script uses for colour multi-focus images), and `opencv` (3 or 4), the
RGB2GRAY rounding.

Registered names:

* `ifcnn`: IFCNN-MAX, the official IV protocol (OpenCV 3); reproduces the official `Code/results/IFCNN-MAX-IV-*.png`
  (all 14 pairs: 87.8-92.0 dB, within 1 grey level).
* `ifcnn-mean`, `ifcnn-sum`: the IFCNN-MEAN and IFCNN-SUM snapshots with their rules, same protocol.
* `ifcnn-tang`: IFCNN-MAX with ImageNet normalisation and OpenCV 4: reproduces Tang's published TNO-42 IFCNN images
  (Linfeng-Tang/Image-Fusion @ dba5bf3, `IFCNN_TNO`; all 42: 88.0 dB or more, within 1 grey level), which the
  official protocol misses by 24-33 dB.
* `ifcnn-vifbench`: VIF-Benchmark's `IFCNN/IFCNN.py` @ 23f2e51 as coded: ImageNet normalisation, inputs read by
  `cv2.imread(path, 0)` and replicated as BGR, so the output's channel 0 (de-normalised with the red statistics) is
  taken as blue by `COLOR_BGR2GRAY` (52-56 dB from Tang's TNO-42 images, which were not made by this version).

The authors' other published IV folder, `Results/IV` (MAX, MEAN and SUM), was made with ImageNet normalisation and
OpenCV 3: `create_method('ifcnn', normalisation='imagenet')` and `create_method('ifcnn-sum', normalisation='imagenet')`
reproduce its MAX and SUM images (90-103 dB); its MEAN images match no snapshot and rule (32.6 dB with IFCNN-MEAN, at
most 42-47 dB with any combination tried), so they come from weights that were not released.

Colour: the official IV images are all gray. A colour visible image is handled as VIF-Benchmark does: its luminance
is what `cv2.imread(path, IMREAD_GRAYSCALE)` returns for an RGB PNG, and the fused gray image is recoloured with the
visible image's PIL Cb/Cr (`img2RGB`). A gray image stored as three equal channels reads the same either way.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._protocol import PILColour, levels
from methods._registry import register_method
from methods._weights import official_weights
from methods.umf_cmgr import cv2_png_gray

__all__ = ['IFCNN', 'IFCNNNet', 'cv2_rgb_to_gray']

PAPER = ('Y. Zhang, Y. Liu, P. Sun, H. Yan, X. Zhao and L. Zhang, IFCNN: A General Image Fusion Framework Based on '
         'Convolutional Neural Network, Information Fusion 54, 2020')
LICENCE = 'no licence file in uzeful/IFCNN'
RULES = ('max', 'sum', 'mean')
NORMALISATION = {'none': ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
                 'imagenet': ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))}


# cv2.cvtColor(COLOR_RGB2GRAY) on uint8: fixed-point BT.601 weights, rounded. OpenCV 3 used 14 bits, OpenCV 4 uses 15
# bits; the two disagree by one level on 0.26 % of all colours, and the published images tell which one made them.
CV2_GRAY = {3: ((4899, 9617, 1868), 14), 4: ((9798, 19235, 3735), 15)}


def cv2_rgb_to_gray(rgb: Tensor, opencv: int = 4) -> Tensor:
    """`cv2.cvtColor(img, COLOR_RGB2GRAY)` of uint8 RGB levels (N, 3, H, W) -> (N, 1, H, W) levels, as OpenCV
    `opencv` (3 or 4) computes it. `tests/methods/test_ifcnn.py` checks version 4 against the installed cv2 on all
    2**24 colours."""
    (cr, cg, cb), bits = CV2_GRAY[opencv]
    r, g, b = rgb.round().to(torch.int32).unbind(1)
    return torch.div(r * cr + g * cg + b * cb + (1 << bits - 1), 1 << bits, rounding_mode='floor').unsqueeze(1).float()


class ConvBlock(nn.Module):
    """Replicate-pad 1, conv 3x3 without bias, batch norm (running statistics), ReLU (official `ConvBlock`)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(F.pad(x, (1, 1, 1, 1), mode='replicate'))
        return F.relu(F.batch_norm(x, self.bn.running_mean, self.bn.running_var, self.bn.weight, self.bn.bias,
                                   False, 0.0, self.bn.eps))


class IFCNNNet(nn.Module):
    """The official `IFCNN` network for two images: `forward(a, b)` on normalised (N, 3, H, W) returns (N, 3, H, W)."""

    def __init__(self, rule: str = 'max') -> None:
        super().__init__()
        if rule not in RULES:
            raise ValueError(f'Expected `rule` in {RULES}, but got {rule!r}.')
        self.rule = rule
        self.conv1 = nn.Conv2d(3, 64, 7, bias=False)
        self.conv2 = ConvBlock(64, 64)
        self.conv3 = ConvBlock(64, 64)
        self.conv4 = nn.Conv2d(64, 3, 1)

    def features(self, x: Tensor) -> Tensor:
        return self.conv2(self.conv1(F.pad(x, (3, 3, 3, 3), mode='replicate')))

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        fa, fb = self.features(a), self.features(b)  # one image at a time, as the official `operate`
        if self.rule == 'max':
            fused = torch.maximum(fa, fb)
        elif self.rule == 'sum':
            fused = fa + fb
        else:
            fused = (fa + fb) / 2
        return self.conv4(self.conv3(fused))


class IFCNN(PILColour, FusionMethod):
    """IFCNN with one official script's input normalisation and gray conversion.

    Args:
        rule: 'max', 'sum' or 'mean' (must match the snapshot).
        normalisation: 'none' (official IV run) or 'imagenet'.
        channel_order: 'rgb' (the output's channel 0 is red for the gray conversion) or 'bgr' (VIF-Benchmark).
        opencv: 3 or 4, the OpenCV version whose RGB2GRAY rounding to reproduce.
    """

    def __init__(self, rule: str = 'max', normalisation: str = 'none', channel_order: str = 'rgb',
                 opencv: int = 4) -> None:
        super().__init__()
        if normalisation not in NORMALISATION:
            raise ValueError(f'Expected `normalisation` in {tuple(NORMALISATION)}, but got {normalisation!r}.')
        if channel_order not in ('rgb', 'bgr'):
            raise ValueError(f"Expected `channel_order` 'rgb' or 'bgr', but got {channel_order!r}.")
        if opencv not in CV2_GRAY:
            raise ValueError(f'Expected `opencv` in {tuple(CV2_GRAY)}, but got {opencv!r}.')
        self.normalisation, self.channel_order, self.opencv = normalisation, channel_order, opencv
        self.net = IFCNNNet(rule)
        mean, std = NORMALISATION[normalisation]
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def split_luminance(self, vis: Tensor):
        rgb = levels(vis, step=1.0)
        return cv2_png_gray(rgb) / 255, rgb

    def network_input(self, x: Tensor) -> Tensor:
        """Gray (N, 1, H, W) in [0, 1] -> the normalised 3-channel tensor the official script feeds (float32)."""
        return (levels(x, 1.0).expand(-1, 3, -1, -1) / 255 - self.mean) / self.std

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        out = self.net(self.network_input(vis), self.network_input(ir))
        rgb = torch.floor((out * self.std + self.mean).clamp(0, 1) * 255)
        if self.channel_order == 'bgr':
            rgb = rgb.flip(1)
        return cv2_rgb_to_gray(rgb, self.opencv) / 255

    def bare_network(self, ir: Tensor, vis: Tensor):
        a, b = self.network_input(vis), self.network_input(ir)
        return lambda: self.net(a, b)


def _load(method: IFCNN, weights) -> IFCNN:
    if weights is not None:
        state = torch.load(weights[0], map_location='cpu', weights_only=True)
        # PyTorch 0.4 snapshots: no BatchNorm `num_batches_tracked` counters (unused at test time)
        expected = {k for k in method.net.state_dict() if not k.endswith('num_batches_tracked')}
        if set(state) != expected:
            raise ValueError(f'{weights[0]} does not hold the IFCNN state dict: missing '
                             f'{sorted(expected - set(state))[:3]}, unexpected {sorted(set(state) - expected)[:3]}.')
        method.net.load_state_dict(state, strict=False)
    return method


def _snapshot(rule: str):
    return [official_weights(f'ifcnn/Code/snapshots/IFCNN-{rule.upper()}.pth')]


_COMMON = dict(paper=PAPER, licence=LICENCE, tags=('baseline',), year=2020)
_VERIFIED = {
    'ifcnn': 'published images: zoo/ifcnn_iv14 (6 of the 14 official IV results): min 87.8, median 91.2 dB, '
             'within 1 level',
    'ifcnn-mean': 'network as ifcnn (published images); the MEAN snapshot has no published IV images: contract '
                  'and rule tests only',
    'ifcnn-sum': 'network as ifcnn (published images); its published Results/IV need normalisation=imagenet '
                 '(92-103 dB, checked outside CI)',
    'ifcnn-tang': "published images: Tang's TNO-42 IFCNN results (42): min 88.0, median 94.4 dB, within 1 level",
    'ifcnn-vifbench': 'published images: a VIF-Benchmark run (12, checked when present): min 93.0, median 94.6 dB',
}


def _register(name: str, rule: str, normalisation: str, channel_order: str, opencv: int) -> None:
    def factory(weights=None, normalisation: str = normalisation, opencv: int = opencv) -> IFCNN:
        return _load(IFCNN(rule, normalisation=normalisation, channel_order=channel_order, opencv=opencv), weights)
    factory.__name__ = name.replace('-', '_')
    register_method(name, weights=_snapshot(rule), verification=_VERIFIED[name], **_COMMON)(factory)


_register('ifcnn', 'max', 'none', 'rgb', 3)
_register('ifcnn-mean', 'mean', 'none', 'rgb', 3)
_register('ifcnn-sum', 'sum', 'none', 'rgb', 3)
_register('ifcnn-tang', 'max', 'imagenet', 'rgb', 4)
_register('ifcnn-vifbench', 'max', 'imagenet', 'bgr', 4)
