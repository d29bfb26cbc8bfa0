"""EMMA (Zhao et al., CVPR 2024): equivariant multi-modality image fusion; at test time only its fusion network
`Ufuser` runs (the equivariance prior and the `Unet5` imaging modules are for training).

Port of Zhaozixiang1228/MMIF-EMMA @ 9983ca2 (`nets/Ufuser.py`, `test.py`, `utils.py`), written from the official
code; it loads the official `model/EMMA.pth`, a bare `Ufuser` state dict (`model.state_dict()` of
`train_Fusion.py`, no `nn.DataParallel` prefix; a `module.` prefix is accepted too). Module and parameter names follow
`Ufuser.py`, so the tensors load name for name.

Network (`Ufuser`): a U-Net over channels 8, 16, 32, 32 whose every block is a `Restormer_CNN_block`: conv 3x3 (no
bias) to the block's width, then in parallel a Lite Transformer (`GlobalFeature`: per-pixel LayerNorm, 8-head
channel attention whose 3x3 `qkv2` conv is zero-padded, LayerNorm, gated MLP of expansion 1; see
`methods.cddfuse.BaseFeature`) and two residual blocks (conv 3x3 + ReLU + conv 3x3, with bias), concatenated and
merged by a conv 3x3 (no bias). IR and visible encoders (`I_en_k`, `V_en_k`), each level after the first entered
through a stride-2 conv 3x3 (`I_down`, `V_down`, no bias); fusion blocks `f_k` on the concatenated levels; decoder
`de_4`, transposed conv 4x4 stride 2 + ReLU (`up4`, `up3`, `up2`, no bias) and `de_k` on the concatenation with
`f_k`; conv 3x3 8->1 (with bias) and a sigmoid. Every 3x3 conv pads by reflection except `qkv2` (zero padding).

Protocol of `test.py` (the default; one image at a time):

* both images read by `image_read_cv2(path, 'GRAY')`: `cv2.imread`, float32 `COLOR_BGR2GRAY`, `np.round`, `/ 255`
  in float32 (`methods._zhao_io`); a colour visible image is fused as that gray level and the result is gray
  (colour mode 'gray');
* height and width divisible by 32: `fused = model(ir, vi)`, `(fused - min) / (max - min)` in float32, `* 255`;
* otherwise four overlapping tiles of `h1 x w1 = (h - h % 32) x (w - w % 32)`: top-left `[:h1, :w1]`, top-right
  `[:h1, -w1:]`, bottom-left `[-h1:, :w1]`, bottom-right `[-h1:, -w1:]` (those that exist), each fused alone
  (`model(...) * 255`, no normalisation); pixel (y, x) is taken from the tile at its corner (y < h1 -> top, x < w1
  -> left), and the stitched float32 image is min-max normalised and `* 255` as a whole. Images under 32 pixels in
  either dimension have no tile: the script fails, and so does the port (ValueError);
* `skimage.io.imsave` of the float32 image: imageio's `uint8(x / 255 * 255 + 0.499999999)` in float64
  (`methods._zhao_io.imageio_uint8`), i.e. rounded.

Verification (`tests/methods/test_cddfuse_emma.py`): the official weights are not here, so `test.py` itself ran (on
a CPU) with a seeded random state dict, on 64x96 (one pass), 45x71 (four tiles) and 70x64 (two tiles) images
(visible RGB) and on five real pairs (TNO-42 05, 08, 37; MSRS 00004N; RoadScene FLIR_00006), and the port loaded the
same file: the float images handed to `imsave` are equal (max abs diff 0) and so is every pixel of every PNG.

Option `ipp` as in `methods.cddfuse` (OpenCV's float gray conversion of a colour visible image).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._protocol import levels
from methods._registry import register_method
from methods._weights import official_weights
from methods._zhao_io import CVFloatGray, imageio_uint8, minmax
from methods.cddfuse import BaseFeature, _unwrap, load_strict

__all__ = ['EMMA', 'Ufuser', 'TILE']

PAPER = ('Z. Zhao, H. Bai, J. Zhang, Y. Zhang, K. Zhang, S. Xu, D. Chen, R. Timofte, L. Van Gool, Equivariant '
         'Multi-Modality Image Fusion, CVPR 2024, 25912-25921')
LICENCE = 'none (Zhaozixiang1228/MMIF-EMMA @ 9983ca2 has no licence file)'
CHANNELS = (8, 16, 32, 32)
NOTE = ('slow on a CPU: about 40 GMAC per 640x480 pair, up to four tiles a pair; 26 s a pair measured on a loaded '
        '2-core CPU, so prefer --device cuda for whole data sets')
TILE = 32  # test.py fuses tiles whose sides are multiples of 32


def _conv3(cin: int, cout: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=bias, padding_mode='reflect')


class ResBlock(nn.Module):
    """`x + conv(relu(conv(x)))`, convs 3x3 with bias, reflection padding."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv3(dim, dim, bias=True), nn.ReLU(), _conv3(dim, dim, bias=True))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x) + x


class LocalFeature(nn.Module):
    """`LocalFeatureExtraction`: two residual blocks."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.Extraction = nn.Sequential(ResBlock(dim), ResBlock(dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.Extraction(x)


class RestormerCNNBlock(nn.Module):
    """`Restormer_CNN_block`: embed, Lite Transformer and residual CNN in parallel, merged by a 3x3 conv."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.embed = _conv3(cin, cout)
        self.GlobalFeature = BaseFeature(cout, heads=8, pad_mode='reflect')
        self.LocalFeature = LocalFeature(cout)
        self.FFN = _conv3(2 * cout, cout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.embed(x)
        return self.FFN(torch.cat((self.GlobalFeature(x), self.LocalFeature(x)), 1))


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.ReLU())


class Ufuser(nn.Module):
    """The official `Ufuser`: `forward(ir, vis)` on [0, 1] (sides divisible by 8) -> sigmoid output."""

    def __init__(self) -> None:
        super().__init__()
        c = CHANNELS
        for side in 'IV':
            for k, (cin, cout) in enumerate(zip((1,) + c[:3], c), start=1):
                setattr(self, f'{side}_en_{k}', RestormerCNNBlock(cin, cout))
            for k in range(1, 4):
                setattr(self, f'{side}_down{k}', _conv3(c[k - 1], c[k - 1], stride=2))
        for k in range(1, 5):
            setattr(self, f'f_{k}', RestormerCNNBlock(2 * c[k - 1], c[k - 1]))
        self.up4, self.up3, self.up2 = _up(c[3], c[2]), _up(c[2], c[1]), _up(c[1], c[0])
        self.de_1, self.de_2, self.de_3 = (RestormerCNNBlock(2 * c[k], c[k]) for k in range(3))
        self.de_4 = RestormerCNNBlock(c[3], c[3])
        self.last = nn.Sequential(nn.Conv2d(c[0], 1, 3, padding=1, padding_mode='reflect'), nn.Sigmoid())

    def _encode(self, x: Tensor, side: str) -> list[Tensor]:
        feats = [getattr(self, f'{side}_en_1')(x)]
        for k in range(2, 5):
            feats.append(getattr(self, f'{side}_en_{k}')(getattr(self, f'{side}_down{k - 1}')(feats[-1])))
        return feats

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        fused = [getattr(self, f'f_{k}')(torch.cat(pair, 1))
                 for k, pair in enumerate(zip(self._encode(ir, 'I'), self._encode(vis, 'V')), start=1)]
        out = self.up4(self.de_4(fused[3]))
        out = self.up3(self.de_3(torch.cat((out, fused[2]), 1)))
        out = self.up2(self.de_2(torch.cat((out, fused[1]), 1)))
        return self.last(self.de_1(torch.cat((out, fused[0]), 1)))


def tiles(h: int, w: int) -> list[tuple[slice, slice, slice, slice]]:
    """`test.py`'s tiles of an h x w image not divisible by 32, in the script's order: the (rows, cols) each tile
    covers and the (rows, cols) of the stitched image it supplies, all in image coordinates."""
    h1, w1 = h - h % TILE, w - w % TILE
    top, bottom, left, right = slice(0, h1), slice(h - h1, h), slice(0, w1), slice(w - w1, w)
    out = [(top, left, slice(0, h1), slice(0, w1))]
    if w1 != w:
        out.append((top, right, slice(0, h1), slice(w1, w)))
    if h1 != h:
        out.append((bottom, left, slice(h1, h), slice(0, w1)))
    if h1 != h and w1 != w:
        out.append((bottom, right, slice(h1, h), slice(w1, w)))
    return out


class EMMA(CVFloatGray, FusionMethod):
    """EMMA's `Ufuser` with `test.py`'s reading, tiling, normalisation and saving (module docstring)."""

    def __init__(self, ipp: bool = True) -> None:
        super().__init__()
        self.ipp = ipp
        self.net = Ufuser()

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # min-max per image, then rounded: see methods/_per_image.py

    @staticmethod
    def inputs(ir: Tensor, vis: Tensor) -> tuple[Tensor, Tensor]:
        """The script's float32 `level / 255` inputs."""
        return levels(ir, 1.0) / 255, levels(vis, 1.0) / 255

    def fused_float(self, ir: Tensor, vis: Tensor) -> Tensor:
        """The float32 image `test.py` hands to `imsave` (levels in [0, 255], before quantisation)."""
        h, w = ir.shape[-2:]
        if h < TILE or w < TILE:
            raise ValueError(f'Expected images of at least {TILE}x{TILE} pixels for EMMA (its test script fuses '
                             f'tiles whose sides are multiples of {TILE}), but got {h}x{w}.')
        ir, vis = self.inputs(ir, vis)
        if h % TILE == 0 and w % TILE == 0:
            return minmax(self.net(ir, vis)) * 255
        stitched = torch.zeros_like(ir)
        for rows, cols, keep_rows, keep_cols in tiles(h, w):
            tile = self.net(ir[..., rows, cols], vis[..., rows, cols]) * 255
            stitched[..., keep_rows, keep_cols] = tile[..., _shift(keep_rows, rows), _shift(keep_cols, cols)]
        return minmax(stitched) * 255

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        return imageio_uint8(self.fused_float(ir, vis)) / 255

    def bare_network(self, ir: Tensor, vis: Tensor):
        h, w = ir.shape[-2:]
        ir, vis = self.inputs(ir, vis)
        ir, vis = ir[..., :h - h % TILE, :w - w % TILE], vis[..., :h - h % TILE, :w - w % TILE]
        return lambda: self.net(ir, vis)


def _shift(keep: slice, span: slice) -> slice:
    """`keep` (image coordinates) in the coordinates of a tile that starts at `span.start`."""
    return slice(keep.start - span.start, keep.stop - span.start)


@register_method('emma', paper=PAPER, licence=LICENCE, colour='gray', tags=('baseline', 'zoo'), year=2024,
                 note=NOTE,
                 weights=[official_weights('emma/model/EMMA.pth')],
                 verification='random-weight equality with the official test.py: 3 sizes (tiled and not) and 5 '
                              'real pairs, max abs diff 0 before quantisation, every pixel equal')
def emma(weights=None, ipp: bool = True) -> EMMA:
    method = EMMA(ipp=ipp)
    if weights is not None:
        state = _unwrap(torch.load(weights[0], map_location='cpu', weights_only=True), 'the state dict', weights[0])
        load_strict(method.net, state, str(weights[0]))
    return method
