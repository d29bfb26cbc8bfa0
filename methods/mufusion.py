"""MUFusion (Cheng, Xu & Wu, Information Fusion 2023): an unsupervised fusion network trained with a memory unit.

Port of AWCXV/MUFusion @ 223134e (MIT), `ir_vis/net.py` (`TwoFusion_net`), written from the official code, with
its two infrared-visible checkpoints `ir_vis/models/TNO.model` (`mufusion`) and `ir_vis/models/RoadScene.model`
(`mufusion-roadscene`); both are plain state dicts loaded with `weights_only=True`.

Network (`TwoFusion_net(2, 1)`): every convolution is 3x3 after a reflection pad of 1, with bias. Encoder on
[IR, VIS] (2 channels): conv1 2->32, conv2 32->32, conv3 on [conv1, conv2] 64->64 with stride 2, conv4 64->64,
conv5 on [conv3, conv4] 128->64, conv6 on [conv3, conv4, conv5] 192->64, each followed by ReLU. Decoder: conv66
64->64 on conv6, conv55 on [conv5, conv66], conv44 on [conv4, conv55], conv33 on [conv3, conv44] (128->64 each),
then bicubic 2x upsampling (`nn.Upsample(scale_factor=2, mode='bicubic')`), conv22 on [conv2, up] 96->32, ReLU
after each; conv11 on [conv1, conv22] 64->1 and tanh.

Protocol of the official scripts (`ir_vis/test_image.py` for gray visible images, `ir_vis/test_image_rgb.py` for
colour ones, added by the authors on 2023-05-25), which this port reproduces:

* the whole script runs in float64 (`torch.set_default_tensor_type(torch.DoubleTensor)`): the float32 checkpoint
  is loaded into a float64 network, inputs are `uint8 / 255.0` in float64;
* tiling: the image is cut into 128x128 patches with a step of 124 (4 pixels of overlap) -- a grid from the top
  left, then a column of patches flush with the right border, a row flush with the bottom border and the bottom
  right corner --, all patches run as one batch (here 8 at a time, which gives every patch the same float64 output
  bit for bit and a quarter of the memory at 640x480), and the outputs are averaged where they overlap (summed in
  that order, divided by the count). A side shorter than 128 pixels crashes the official script; here the patch
  spans that whole side (an odd one padded by one replicated row or column, as the network halves and doubles the
  resolution);
* gray visible image (`test_image.py`): both images read with `scipy.misc.imread(path, mode='L')` (PIL
  `convert('L')`; a gray image stored as three equal channels reads as itself), the averaged output saved with
  `scipy.misc.imsave`, i.e. min-max stretched to 0..255 in float64 (`bytescale`: `(x - min) * 255 / (max - min)`,
  + 0.5, truncated);
* colour visible image (`test_image_rgb.py`): the network sees `Y = clip(0.299 R + 0.587 G + 0.114 B, 0, 255)` in
  float64 (not rounded), the script's own `Cb = -0.169 R - 0.331 G + 0.5 B`, `Cr = 0.5 R - 0.419 G - 0.081 B`
  (centred on 0) are kept, and the output is not stretched: `Y' = 255 x output` (unclipped) goes back through
  `R = Y' + 1.402 Cr`, `G = Y' - 0.344136 Cb - 0.714136 Cr`, `B = Y' + 1.772 Cb`, clipped to 0..255 and rounded
  (half to even). The sums are evaluated in numpy's order, left to right, which decides the rare ties;
* `colour='gray'` with a colour visible image runs `test_image.py` on it (PIL `convert('L')`, stretched output),
  which is what that script does with a colour file.

The IR image is expected gray (the benchmark makes a colour IR file gray, `bench.images.to_gray`).

Fidelity (`tests/methods/test_mufusion.py`): the official scripts themselves, run outside the project on 5 TNO pairs
of `tno42` and the colour pairs MSRS `00004N`, RoadScene `FLIR_00006` and VIFB `walking`, with both checkpoints; the
port gives the same 8-bit images (the test compares sha256 digests of them), `colour='gray'` too.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._awcxv_colour import script_chroma, script_luminance, script_recolour
from methods._base import FusionMethod
from methods._per_image import per_image
from methods._protocol import levels, pil_convert_l
from methods._registry import register_method
from methods._weights import official_weights

__all__ = ['MUFusion', 'MUFusionNet', 'tile_origins', 'tile_size']

PAPER = ('C. Cheng, T. Xu and X.-J. Wu, MUFusion: A general unsupervised image fusion network based on memory unit, '
         'Information Fusion 92, 80-92, 2023')
LICENCE = 'MIT (AWCXV/MUFusion)'
PATCH = 128
STEP = PATCH - 4
TILE_BATCH = 8  # patches per network call: the script runs them all at once; each patch's output is the same
NOTE = ('slow on a CPU: about 66 GMAC in float64 per 640x480 pair (24 overlapping 128x128 tiles, as the official '
        'script computes); 6 s for a 768x576 TNO pair on an idle 2-core CPU (46-52 s at 640x480 on a loaded one)')
VERIFIED = ('official code: test_image.py / test_image_rgb.py on 8 pairs (5 TNO, MSRS, RoadScene, VIFB): identical '
            '8-bit images (inf dB, max diff 0)')


def _block(cin: int, cout: int, stride: int = 1, act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    # The official layout (reflection pad, conv, activation): state dict keys `convN.1.weight` / `.bias`.
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3, stride), act())


class MUFusionNet(nn.Module):
    """The official `TwoFusion_net` on (N, 2, H, W) [IR, VIS]; returns the tanh output (N, 1, H, W)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2, self.conv3 = _block(2, 32), _block(32, 32), _block(64, 64, stride=2)
        self.conv4, self.conv5, self.conv6 = _block(64, 64), _block(128, 64), _block(192, 64)
        self.conv66, self.conv55, self.conv44 = _block(64, 64), _block(128, 64), _block(128, 64)
        self.conv33, self.conv22, self.conv11 = _block(128, 64), _block(96, 32), _block(64, 1, act=nn.Tanh)
        self.up = nn.Upsample(scale_factor=2, mode='bicubic')

    def forward(self, x: Tensor) -> Tensor:
        g1 = self.conv1(x)
        g2 = self.conv2(g1)
        g3 = self.conv3(torch.cat([g1, g2], 1))
        g4 = self.conv4(g3)
        g5 = self.conv5(torch.cat([g3, g4], 1))
        g6 = self.conv6(torch.cat([g3, g4, g5], 1))
        d5 = self.conv55(torch.cat([g5, self.conv66(g6)], 1))
        d4 = self.conv44(torch.cat([g4, d5], 1))
        d3 = self.conv33(torch.cat([g3, d4], 1))
        d2 = self.conv22(torch.cat([g2, self.up(d3)], 1))
        return self.conv11(torch.cat([g1, d2], 1))


def tile_size(n: int) -> int:
    """The patch side along an image side of `n` pixels: 128, or for a shorter side (where the script crashes) the
    side itself rounded up to even (the network halves and doubles the resolution)."""
    return PATCH if n >= PATCH else n + n % 2


def tile_origins(h: int, w: int, ph: int = PATCH, pw: int = PATCH) -> list[tuple[int, int]]:
    """Top-left corners of the official patches (`ph` x `pw`, step 4 pixels less), in the script's order: the grid,
    the column flush with the right border, the row flush with the bottom border, the corner (h >= ph, w >= pw)."""
    rows, cols = range(0, h - ph + 1, max(ph - 4, 1)), range(0, w - pw + 1, max(pw - 4, 1))
    return ([(i, j) for i in rows for j in cols] + [(i, w - pw) for i in rows]
            + [(h - ph, j) for j in cols] + [(h - ph, w - pw)])


def bytescale64(x: Tensor) -> Tensor:
    """scipy <= 1.1 `bytescale` of one float64 image (what `scipy.misc.imsave` does): levels 0..255 (float64)."""
    lo, hi = x.min(), x.max()
    span = hi - lo if hi > lo else torch.ones_like(hi)
    return torch.floor(((x - lo) * (255.0 / span)).clamp(0, 255) + 0.5)


class MUFusion(FusionMethod):
    """MUFusion with the official scripts' tiling, float64 arithmetic and output conventions."""

    def __init__(self) -> None:
        super().__init__()
        self.net = MUFusionNet().double()
        # test_image_rgb.py clips after adding the chroma; the base class clips the luminance first, so `forward`
        # keeps its unclipped luminance (float64 levels) for `recolour`, within one `fuse` call.
        self._luminance: Tensor | None = None

    def tiled(self, ir: Tensor, vis: Tensor) -> Tensor:
        """The network over the official tiles of one pair, (1, 1, H, W) float64 in [0, 1] each -> the averaged
        tanh output (1, 1, H, W) float64."""
        h, w = ir.shape[-2:]
        ph, pw = tile_size(h), tile_size(w)
        x = torch.cat([ir, vis], 1)
        if (ph, pw) != (PATCH, PATCH):  # a side under 128 (the script crashes): one tile, an odd side padded by 1
            x = F.pad(x, (0, max(pw - w, 0), 0, max(ph - h, 0)), mode='replicate')
        hp, wp = x.shape[-2:]
        origins = tile_origins(hp, wp, ph, pw)
        patches = torch.cat([x[..., i:i + ph, j:j + pw] for i, j in origins])
        out = torch.cat([self.net(chunk) for chunk in patches.split(TILE_BATCH)])
        total = x.new_zeros(hp, wp)
        count = x.new_zeros(hp, wp)
        for (i, j), patch in zip(origins, out[:, 0]):
            total[i:i + ph, j:j + pw] += patch
            count[i:i + ph, j:j + pw] += 1
        return (total / count)[:h, :w].view(1, 1, h, w)

    def split_luminance(self, vis: Tensor):
        rgb = levels(vis, step=1.0)
        if self.colour == 'gray':  # test_image.py on a colour file: PIL convert('L')
            return pil_convert_l(rgb) / 255, None
        # float64 marks test_image_rgb.py's luminance (not rounded) for `forward`
        return script_luminance(rgb) / 255.0, script_chroma(rgb)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        ir64 = levels(ir, step=1.0).double() / 255.0
        if vis.dtype == torch.float64:  # test_image_rgb.py: output * 255, recoloured unclipped
            luminance = per_image(self.tiled, ir64, vis) * 255
            self._luminance = luminance
            return luminance.clamp(0, 255) / 255
        vis64 = levels(vis, step=1.0).double() / 255.0
        return per_image(lambda i, v: bytescale64(self.tiled(i, v)), ir64, vis64).float() / 255

    def recolour(self, fused: Tensor, chroma) -> Tensor:
        luminance, self._luminance = self._luminance, None
        return script_recolour(luminance, *chroma) / 255

    def bare_network(self, ir: Tensor, vis: Tensor):
        ir64, vis64 = ir.double(), vis.double()
        return lambda: self.tiled(ir64, vis64)


def _load(weights) -> MUFusion:
    method = MUFusion()
    if weights is not None:
        state = torch.load(weights[0], map_location='cpu', weights_only=True)
        method.net.load_state_dict(state)  # strict: every official tensor by name and shape
        method.net.double()
    return method


@register_method('mufusion', paper=PAPER, licence=LICENCE, year=2023, tags=('baseline', 'zoo'),
                 weights=[official_weights('mufusion/ir_vis/models/TNO.model')], verification=VERIFIED, note=NOTE)
def mufusion(weights=None) -> MUFusion:
    """The TNO checkpoint (`args_fusion.py`'s default `path = "TNO"`)."""
    return _load(weights)


@register_method('mufusion-roadscene', paper=PAPER, licence=LICENCE, year=2023, tags=('baseline', 'zoo'),
                 weights=[official_weights('mufusion/ir_vis/models/RoadScene.model')], verification=VERIFIED,
                 note=NOTE)
def mufusion_roadscene(weights=None) -> MUFusion:
    """The RoadScene checkpoint (`path = "RoadScene"` in `args_fusion.py`)."""
    return _load(weights)
