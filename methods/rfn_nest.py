"""RFN-Nest (Li, Wu, Kittler, Information Fusion 2021): NestFuse autoencoder with a residual fusion network (RFN).

Port of hli1221/imagefusion-rfn-nest @ 76e4e05 (`net.py`: `NestFuse_light2_nodense`, `Fusion_network`;
`test_21pairs.py`, `utils.py`), written from ../shared/docs/baselines.md and the official code. The module and
parameter names follow the official classes, so the official state dicts load key for key.

Test-time behaviour reproduced:

* gray input on [0, 255] (`scipy.misc.imread(mode='L')`: PIL `convert('L')` of a colour image);
* every `ConvLayer` ends with ReLU, the 1x1 output conv included (`is_last` is never set);
* the eval decoder upsamples by nearest x2 and reflect-pads to the skip tensor's size (odd sizes: 1 px right/bottom);
* images with a side above 512 px are fused as 4 overlapping quadrant tiles (5 px overlap), averaged where they
  overlap;
* saving: per-image min-max stretch `(x - min) / (max - min + 1e-5) * 255`, then `astype(uint8)` (truncation).

Protocol: the default is VIF-Benchmark's `RFNNest.py` (the official test code, plus PIL YCbCr recolouring of an RGB
visible image with its Cb/Cr), the script behind the published comparison images; the official `test_21pairs.py`
computes the same gray image without recolouring: `colour='gray'`.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._protocol import PILColour, levels
from methods._registry import register_method
from methods._tf_port import load_torch_state
from methods._weights import official_weights

__all__ = ['NestFuse', 'RFN', 'RFNNest', 'fuse_tiled', 'quadrant_tiles', 'stretch_truncate', 'upsample_to']

# The official state dicts are published inside zips (kept as downloaded, verified by git blob id): these members.
NEST_MEMBER = 'nestfuse_gray_1e2.model'
RFN_MEMBER = '6.0/Final_epoch_2_alpha_700_wir_6.0_wvi_3.0_ssim_vi.model'
NB_FILTER = (64, 112, 160, 208)
MIN_SIZE = 16  # the coarsest scale (1/8) must be 2 px wide for its reflection padding
TILE_ABOVE = 512  # official `get_test_image`: base_size = 512, tiles when h or w exceeds it


class ConvLayer(nn.Module):
    """Reflection pad k//2, convolution, ReLU (official `ConvLayer`; the state dict key is `conv2d`)."""

    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__()
        self.pad = k // 2
        self.conv2d = nn.Conv2d(cin, cout, k)

    def forward(self, x: Tensor) -> Tensor:
        if self.pad:
            x = F.pad(x, (self.pad,) * 4, mode='reflect')
        return F.relu(self.conv2d(x))


class DenseBlockLight(nn.Module):
    """conv3x3 cin -> cin/2, then conv1x1 cin/2 -> cout (official `DenseBlock_light`, key `denseblock.{0,1}`)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.denseblock = nn.Sequential(ConvLayer(cin, cin // 2, 3), ConvLayer(cin // 2, cout, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.denseblock(x)


def upsample_to(skip: Tensor, x: Tensor) -> Tensor:
    """Nearest x2 upsampling of `x`, reflect-padded right/bottom to `skip`'s size (official `UpsampleReshape_eval`).

    Max pooling floors odd sizes, so the upsampled tensor is at most 1 px short per side; the official code splits
    the difference as (d // 2 before, d - d // 2 after).
    """
    x = F.interpolate(x, scale_factor=2, mode='nearest')
    dh, dw = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
    if dh or dw:
        x = F.pad(x, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2), mode='reflect')
    return x


class NestFuse(nn.Module):
    """The autoencoder `NestFuse_light2_nodense(nb_filter, 1, 1, deepsupervision=False)`: encoder and eval decoder."""

    def __init__(self, nb: tuple[int, ...] = NB_FILTER) -> None:
        super().__init__()
        self.conv0 = ConvLayer(1, 16, 1)
        self.DB1_0 = DenseBlockLight(16, nb[0])
        self.DB2_0 = DenseBlockLight(nb[0], nb[1])
        self.DB3_0 = DenseBlockLight(nb[1], nb[2])
        self.DB4_0 = DenseBlockLight(nb[2], nb[3])
        self.DB1_1 = DenseBlockLight(nb[0] + nb[1], nb[0])
        self.DB2_1 = DenseBlockLight(nb[1] + nb[2], nb[1])
        self.DB3_1 = DenseBlockLight(nb[2] + nb[3], nb[2])
        self.DB1_2 = DenseBlockLight(nb[0] * 2 + nb[1], nb[0])
        self.DB2_2 = DenseBlockLight(nb[1] * 2 + nb[2], nb[1])
        self.DB1_3 = DenseBlockLight(nb[0] * 3 + nb[1], nb[0])
        self.conv_out = ConvLayer(nb[0], 1, 1)

    def encoder(self, x: Tensor) -> list[Tensor]:
        x1 = self.DB1_0(self.conv0(x))
        x2 = self.DB2_0(F.max_pool2d(x1, 2))  # nn.MaxPool2d(2, 2): floor mode
        x3 = self.DB3_0(F.max_pool2d(x2, 2))
        x4 = self.DB4_0(F.max_pool2d(x3, 2))
        return [x1, x2, x3, x4]

    def decoder(self, f: list[Tensor]) -> Tensor:
        x1_1 = self.DB1_1(torch.cat([f[0], upsample_to(f[0], f[1])], 1))
        x2_1 = self.DB2_1(torch.cat([f[1], upsample_to(f[1], f[2])], 1))
        x1_2 = self.DB1_2(torch.cat([f[0], x1_1, upsample_to(f[0], x2_1)], 1))
        x3_1 = self.DB3_1(torch.cat([f[2], upsample_to(f[2], f[3])], 1))
        x2_2 = self.DB2_2(torch.cat([f[1], x2_1, upsample_to(f[1], x3_1)], 1))
        x1_3 = self.DB1_3(torch.cat([f[0], x1_1, x1_2, upsample_to(f[0], x2_2)], 1))
        return self.conv_out(x1_3)


class FusionBlockRes(nn.Module):
    """One RFN block (official `FusionBlock_res`): f_init(cat) + bottleneck(cat(conv_ir(ir), conv_vi(vi)))."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv_fusion = ConvLayer(2 * c, c, 3)
        self.conv_ir = ConvLayer(c, c, 3)
        self.conv_vi = ConvLayer(c, c, 3)
        # "bottelblock" is the official spelling of the state dict key.
        self.bottelblock = nn.Sequential(ConvLayer(2 * c, c, 1), ConvLayer(c, c, 3), ConvLayer(c, c, 3))

    def forward(self, ir: Tensor, vi: Tensor) -> Tensor:
        f_init = self.conv_fusion(torch.cat([ir, vi], 1))
        return f_init + self.bottelblock(torch.cat([self.conv_ir(ir), self.conv_vi(vi)], 1))


class RFN(nn.Module):
    """The residual fusion network (official `Fusion_network(nb_filter, 'res')`): one block per scale."""

    def __init__(self, nb: tuple[int, ...] = NB_FILTER) -> None:
        super().__init__()
        self.fusion_block1 = FusionBlockRes(nb[0])
        self.fusion_block2 = FusionBlockRes(nb[1])
        self.fusion_block3 = FusionBlockRes(nb[2])
        self.fusion_block4 = FusionBlockRes(nb[3])

    def forward(self, en_ir: list[Tensor], en_vi: list[Tensor]) -> list[Tensor]:
        blocks = (self.fusion_block1, self.fusion_block2, self.fusion_block3, self.fusion_block4)
        return [block(a, b) for block, a, b in zip(blocks, en_ir, en_vi)]


def quadrant_tiles(h: int, w: int) -> list[tuple[slice, slice]]:
    """The official 4 overlapping tiles of an h x w image (`get_img_parts`): quadrants overlapping by 5 px.

    >>> [(r.start, r.stop, c.start, c.stop) for r, c in quadrant_tiles(600, 401)]
    [(0, 303, 0, 203), (0, 303, 198, 401), (298, 600, 0, 203), (298, 600, 198, 401)]
    """
    hc, wc = h // 2, w // 2
    rows = (slice(0, hc + 3), slice(hc - 2, h))
    cols = (slice(0, wc + 3), slice(wc - 2, w))
    return [(r, c) for r in rows for c in cols]


def fuse_tiled(fn, ir: Tensor, vis: Tensor) -> Tensor:
    """`fn(ir_tile, vis_tile)` on each quadrant tile, summed into place and divided by the number of tiles covering
    each pixel (official `recons_fusion_images`)."""
    h, w = ir.shape[-2:]
    out = ir.new_zeros(ir.shape[0], 1, h, w)
    count = ir.new_zeros(1, 1, h, w)
    for rows, cols in quadrant_tiles(h, w):
        out[..., rows, cols] += fn(ir[..., rows, cols], vis[..., rows, cols])
        count[..., rows, cols] += 1
    return out / count


def stretch_truncate(x: Tensor, eps: float = 1e-5) -> Tensor:
    """Official `save_image_test`: per-image `(x - min) / (max - min + eps) * 255`, then `astype(uint8)`; as k/255.

    Float32 as numpy computes it: `max - min + eps` is a float64 scalar (numpy 1.x scalar promotion), rounded to
    float32 when it divides the float32 image.
    """
    x = x.float()
    lo = x.amin(dim=(1, 2, 3), keepdim=True)
    hi = x.amax(dim=(1, 2, 3), keepdim=True)
    span = ((hi - lo).double() + eps).float()
    return torch.floor((x - lo) / span * 255) / 255


def open_state_file(path, member: str):
    """The official state dict file: the zip member whose path ends with `member` when `path` is the official zip,
    else `path` itself (an extracted copy; a `torch.save` zip holds no such member)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if (n == member or n.endswith('/' + member)) and '__MACOSX' not in n]
            if names:
                return io.BytesIO(zf.read(names[0]))
    return Path(path)


def load_state(module: nn.Module, path, member: str) -> None:
    """Loads an official state dict (keys as the official classes name them) into `module`, `weights_only=True`."""
    load_torch_state(module, open_state_file(path, member), {k: k for k in module.state_dict()})


class RFNNest(PILColour, FusionMethod):
    """RFN-Nest on gray [0, 255] inputs, with the official tiling above 512 px and the official save.

    Args:
        weights: [autoencoder file, RFN file]: the official zips `models/nestfuse.zip` and
            `models/rfn_twostage.zip`, or the state dict files extracted from them; None for random initialisation.
        tile: fuse images with a side above 512 px as 4 quadrant tiles (official behaviour; False fuses whole).
    """

    def __init__(self, weights=None, tile: bool = True) -> None:
        super().__init__()
        self.nest = NestFuse()
        self.rfn = RFN()
        self.tile = tile
        if weights is not None:
            load_state(self.nest, weights[0], NEST_MEMBER)
            load_state(self.rfn, weights[1], RFN_MEMBER)

    def network(self, ir: Tensor, vis: Tensor) -> Tensor:
        """The official network on [0, 255] gray inputs: fused image before saving (ReLU output, >= 0)."""
        return self.nest.decoder(self.rfn(self.nest.encoder(ir), self.nest.encoder(vis)))

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        if min(ir.shape[-2:]) < MIN_SIZE:
            raise ValueError(f'Expected `ir` and `vis` of at least {MIN_SIZE}x{MIN_SIZE} px for RFN-Nest (three 2x2 '
                             f'poolings, then reflection-padded 3x3 convs), but got {tuple(ir.shape[-2:])}.')
        return per_image(self._fuse_one, levels(ir, step=1.0), levels(vis, step=1.0))

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        h, w = ir.shape[-2:]
        if self.tile and (h > TILE_ABOVE or w > TILE_ABOVE):
            fused = fuse_tiled(self.network, ir, vis)
        else:
            fused = self.network(ir, vis)
        return stretch_truncate(fused)


@register_method(
    'rfn-nest',
    paper='Li, H., Wu, X.-J., Kittler, J. RFN-Nest: An end-to-end residual fusion network for infrared and visible '
          'images. Information Fusion 73 (2021) 72-86',
    licence='no licence file in hli1221/imagefusion-rfn-nest',
    weights=[official_weights('rfn-nest/models/nestfuse.zip'), official_weights('rfn-nest/models/rfn_twostage.zip')],
    tags=('baseline',), year=2021,
    verification='synthetic checkpoint in the official format and tensor names (the official file was not at hand)')
def rfn_nest(weights=None, tile: bool = True) -> RFNNest:
    return RFNNest(weights, tile=tile)
