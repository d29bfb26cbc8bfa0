"""YDTR (Tang, He & Liu, IEEE TMM 2023): a Y-shaped network of dynamic filters and window transformers.

Port of the official PyTorch model and weights (tthinking/YDTR @ b1f01b4, `Networks/net.py`, `models/model_10.pth`),
reproducing `Test.py`:

1. both images read with PIL `convert('L')`, `ToTensor()` (levels / 255, float32), IR first;
2. one shared branch per image: `convInput` (replicate-padded 3x3 convolution, batch norm in inference mode as
   `model.eval()` sets it, ReLU), the dynamic filter `DDF` (x times a per-pixel spatial map plus x times a
   per-channel map, both linear: no sigmoid), then two transformer blocks (`methods._flat_tokens`: window 1, tokens
   of 64 consecutive values of the flat feature memory);
3. the two branches are added and pass the same `DDF` and transformer blocks once more, then a 1x1 convolution and
   tanh;
4. saved as `(out * 255).astype(np.uint8)`: truncated, values below -1/255 wrapping around (`uint8_cast`).

Any size runs as is: the official script neither pads nor tiles (window 1 needs neither). The checkpoint's
`conv64`, `conv` and `patch_embed.norm` tensors belong to modules the forward pass never calls and are dropped;
every other tensor must match the port by name and shape. A gray image stored as three equal channels reads as
itself through `convert('L')`, so how a file stores it does not matter.

Colour: the official script reads both images as 'L' and writes a gray image; a colour visible image is fused on
its PIL 'L' luminance (integer ITU-R 601-2, as `convert('L')` computes it) and recoloured with PIL's YCbCr tables
(mode 'ycbcr', the field's protocol); `colour='gray'` returns the gray result the script writes.

Fidelity (`tests/methods/test_ydtr.py`): the official sample (`fusion result/002.bmp`) at 72.6 dB, every pixel
within one level; the 0.36 % of pixels that differ lie within 0.04 levels of the truncation boundary in our output
(the authors' GPU arithmetic: our float32 is within 4e-4 levels of float64). VIFB's published YDTR JPEGs were made
from this gray output by a different recolouring (the fused image taken as BT.601 studio-range Y, so stretched by
255/219) and two JPEG encodings; reproducing that chain gives 48.2-55.8 dB on all 21 pairs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._flat_tokens import FlatTokenBlock, ReplicateConv, load_official_state, to_tensor, uint8_cast
from methods._per_image import per_image
from methods._protocol import PILColour
from methods._registry import register_method
from methods._weights import official_weights

PAPER = ('W. Tang, F. He and Y. Liu, YDTR: Infrared and Visible Image Fusion via Y-Shape Dynamic Transformer, '
         'IEEE Transactions on Multimedia 25, 2023')
LICENCE = 'no licence file in tthinking/YDTR'
WIDTH = 64
UNUSED = ('conv64.', 'conv.', 'patch_embed.')


class DynamicFilter(nn.Module):
    """The official `DDFPack`: `x * spatial(x) + x * channel(x)`, spatial = two zero-padded 3x3 convolutions
    64 -> 8 -> 1 without activation, channel = global mean, 1x1 convolutions 64 -> 8, ReLU, 8 -> 64."""

    def __init__(self, width: int = WIDTH) -> None:
        super().__init__()
        self.spatial = nn.ModuleList([nn.Conv2d(width, 8, 3, padding=1), nn.Conv2d(8, 1, 3, padding=1)])
        self.channel = nn.ModuleList([nn.Conv2d(width, 8, 1), nn.Conv2d(8, width, 1)])

    def forward(self, x: Tensor) -> Tensor:
        c = self.channel[1](F.relu(self.channel[0](F.adaptive_avg_pool2d(x, 1))))
        s = self.spatial[1](self.spatial[0](x))
        return x * s + x * c


class YDTRNet(nn.Module):
    """The network on (N, 1, H, W) float32 inputs in [0, 1] (IR, visible); returns the tanh output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_input = ReplicateConv(1, WIDTH, 3)
        self.ddf = DynamicFilter()
        self.blocks = nn.ModuleList([FlatTokenBlock(WIDTH) for _ in range(2)])
        self.conv_out = nn.Conv2d(WIDTH, 1, 1)

    def dynamic_transformer(self, x: Tensor) -> Tensor:
        x = self.ddf(x)
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        fused = self.dynamic_transformer(self.conv_input(ir)) + self.dynamic_transformer(self.conv_input(vis))
        return torch.tanh(self.conv_out(self.dynamic_transformer(fused)))


class YDTR(PILColour, FusionMethod):
    """YDTR with the official test script's input and output conventions."""

    def __init__(self) -> None:
        super().__init__()
        self.net = YDTRNet()

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        return uint8_cast(self.net(to_tensor(ir), to_tensor(vis))) / 255

    def bare_network(self, ir: Tensor, vis: Tensor):
        return lambda: self.net(ir, vis)


_NAMES = {'conv_input.': 'convInput.', 'ddf.spatial.0.': 'DDF.spatial_branch.body.0.',
          'ddf.spatial.1.': 'DDF.spatial_branch.body.1.', 'ddf.channel.0.': 'DDF.channel_branch.fc.0.',
          'ddf.channel.1.': 'DDF.channel_branch.fc.2.', 'blocks.': 'basicLayer.blocks.',
          'conv_out.': 'convolutional_out.conv.'}


_WEIGHTS = [official_weights('ydtr/models/model_10.pth')]


VERIFIED = ('published images: zoo/ydtr_tno1 (1 official result): 72.6 dB, within 1 level, below the 80 dB floor '
            'because of the authors\' GPU float noise (every differing pixel lies within 0.04 levels of a truncation '
            'boundary); VIFB\'s YDTR JPEGs 48.2-55.8 dB through VIFB\'s saving chain')
NOTE = ('slow on a CPU: about 80 GMAC per 640x480 pair (six transformer passes over one 64-value token per pixel); '
        '4.7 s for a 768x576 TNO pair on an idle 2-core CPU (37 s at 640x480 on a loaded one), so prefer --device cuda '
        'for whole data sets')


@register_method('ydtr', paper=PAPER, licence=LICENCE, weights=_WEIGHTS, tags=('baseline', 'zoo'), note=NOTE, year=2023,
                 verification=VERIFIED)
def ydtr(weights=None) -> YDTR:
    method = YDTR()
    if weights is not None:
        state = torch.load(weights[0], map_location='cpu', weights_only=True)
        load_official_state(method.net, state, _NAMES, UNUSED)
    return method
