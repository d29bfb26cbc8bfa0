"""DATFuse (Tang, He, Liu, Duan & Si, IEEE TCSVT 2023): a dual attention residual module around window
transformers.

Port of the official PyTorch model and weights (tthinking/DATFuse @ 0cd93f1, `Networks/network.py`, `model_10.pth`),
reproducing `Test.py`:

1. both images read with PIL `convert('L')`, `ToTensor()` (levels / 255, float32), concatenated IR first;
2. `convolutional`: replicate-padded 5x5 convolution 2 -> 16, batch norm (inference statistics, `model.eval()`),
   ReLU;
3. the dual attention residual module: `fem` runs its one 3x3 convolution and batch norm twice (replicate padding,
   ReLU between, none after); channel attention `cam` (global mean, 1x1 convolutions 16 -> 4 -> 16, sigmoid) and
   spatial attention `sam` (zero-padded 3x3 convolutions 16 -> 4 -> 1 with batch norm, ReLU, sigmoid) weight it:
   `relu(f * cam(f) + f * sam(f) + x)`;
4. two transformer blocks (`methods._flat_tokens`: window 1, tokens of 16 consecutive values of the flat feature
   memory);
5. the same `fem`, `cam`, `sam` again, `f * cam(f) + f * sam(f) + f` (the residual is `f` itself here, no ReLU),
   1x1 convolution 16 -> 1, tanh;
6. saved as `(out * 255).astype(np.uint8)`: truncated, values below -1/255 wrapping around (`uint8_cast`).

Any size runs as is: the official script neither pads nor tiles (window 1 needs neither). The checkpoint's
`patch_embed.norm` belongs to a module the forward pass never calls and is dropped; every other tensor must match
the port by name and shape.

Colour: as `methods.ydtr` (the same authors' script): the network sees PIL 'L' luminance, a colour visible image is
recoloured with PIL's YCbCr tables; `colour='gray'` returns the gray result the script writes.

Fidelity (`tests/methods/test_datfuse.py`): both official results (`fusion results/001.bmp`, `2.bmp`) at 81.2 and
81.9 dB, every pixel within one level (about 0.04 % off by one: the authors' GPU arithmetic).
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

PAPER = ('W. Tang, F. He, Y. Liu, Y. Duan and T. Si, DATFuse: Infrared and Visible Image Fusion via Dual Attention '
         'Transformer, IEEE Transactions on Circuits and Systems for Video Technology 33(7), 2023')
LICENCE = 'no licence file in tthinking/DATFuse'
WIDTH = 16


class DualAttention(nn.Module):
    """`fem` (one conv + batch norm applied twice), channel attention `cam` and spatial attention `sam`;
    returns `f * cam(f) + f * sam(f)` and `f`."""

    def __init__(self, width: int = WIDTH) -> None:
        super().__init__()
        self.fem = ReplicateConv(width, width, 3)
        self.cam = nn.ModuleList([nn.Conv2d(width, width // 4, 1), nn.Conv2d(width // 4, width, 1)])
        self.sam = nn.ModuleList([nn.Conv2d(width, width // 4, 3, padding=1), nn.BatchNorm2d(width // 4),
                                  nn.Conv2d(width // 4, 1, 3, padding=1), nn.BatchNorm2d(1)])

    def features(self, x: Tensor) -> Tensor:
        fem = self.fem
        x = fem(x)
        return fem.bn(fem.conv(F.pad(x, fem.pad, mode='replicate')))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f = self.features(x)
        channel = torch.sigmoid(self.cam[1](F.relu(self.cam[0](F.adaptive_avg_pool2d(f, 1)))))
        conv1, bn1, conv2, bn2 = self.sam
        spatial = torch.sigmoid(bn2(conv2(F.relu(bn1(conv1(f))))))
        return f * channel + f * spatial, f


class DATFuseNet(nn.Module):
    """The network on the (N, 2, H, W) float32 input (IR, visible) in [0, 1]; returns the tanh output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_input = ReplicateConv(2, WIDTH, 5)
        self.attention = DualAttention()
        self.blocks = nn.ModuleList([FlatTokenBlock(WIDTH) for _ in range(2)])
        self.conv_out = nn.Conv2d(WIDTH, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv_input(x)
        weighted, _ = self.attention(x)
        x = F.relu(weighted + x)
        for block in self.blocks:
            x = block(x)
        weighted, f = self.attention(x)
        return torch.tanh(self.conv_out(weighted + f))


class DATFuse(PILColour, FusionMethod):
    """DATFuse with the official test script's input and output conventions."""

    def __init__(self) -> None:
        super().__init__()
        self.net = DATFuseNet()

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        return uint8_cast(self.net(torch.cat([to_tensor(ir), to_tensor(vis)], 1))) / 255

    def bare_network(self, ir: Tensor, vis: Tensor):
        x = torch.cat([ir, vis], 1)
        return lambda: self.net(x)


_NAMES = {'conv_input.': 'convolutional.', 'attention.fem.': 'fem.', 'attention.cam.0.': 'cam.fc.0.',
          'attention.cam.1.': 'cam.fc.2.', 'attention.sam.0.': 'sam.body.0.', 'attention.sam.1.': 'sam.body.1.',
          'attention.sam.2.': 'sam.body.3.', 'attention.sam.3.': 'sam.body.4.', 'blocks.': 'basicLayer.blocks.',
          'conv_out.': 'convolutional_out.conv.'}
_WEIGHTS = [official_weights('datfuse/model_10.pth')]


@register_method('datfuse', paper=PAPER, licence=LICENCE, weights=_WEIGHTS, tags=('baseline', 'zoo'), year=2023,
                 verification='published images: zoo/datfuse_tno2 (2 official results): 81.2-81.5 dB, within 1 level')
def datfuse(weights=None) -> DATFuse:
    method = DATFuse()
    if weights is not None:
        state = torch.load(weights[0], map_location='cpu', weights_only=True)
        load_official_state(method.net, state, _NAMES, ('patch_embed.',))
    return method
