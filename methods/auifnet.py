"""AUIF-Net (Zhao et al., IEEE TCSVT 2021): algorithm unrolling of a base/detail decomposition model.

Port of Zhaozixiang1228/IVIF-AUIF-Net @ 8f54650 (`AUIFNet.py`: `BCL`, `DCL`, `Encoder_Base`, `Encoder_Detail`,
`Decoder`; `utils_AUIFNet.py`: `Test_fusion`; `test.py`; `args.py`: 10 layers, 64 filters), written from the
official code. Parameter names follow the official classes, so the three state dicts in `Models/TCSVT_*.model`
load key for key.

Test-time behaviour reproduced (`test.py` -> `Test_fusion`, the same script as DIDFuse's):

* inputs: `np.array(Image.open(path), dtype='float32') / 255`, gray files on [0, 1] (no colour path);
* base encoder: kornia `BoxBlur((11, 11))` of the image (reflect border, normalised kernel), then 10 unrolled
  layers; detail encoder: kornia `Laplacian(19)` (kernel of ones with centre 1 - 19^2, divided by the sum of its
  absolute values, 720; reflect border), then 10 unrolled layers;
* one unrolled layer: `x - eta * (PReLU(BN(conv_adj(conv(x)))) - theta * (img - x))` with a 64-filter 3x3
  kernel `k` (64 x 1 x 3 x 3), the second convolution using `k` rotated by 180 degrees and transposed, both
  reflect-padded; batch norm in eval mode (the two convolutions are evaluated as one 5x5 one, see
  `conv_and_adjoint`);
* fusion rule `Sum` (the default of `Test_fusion`): base maps added, detail maps added; the decoder adds the two
  and applies a reflect-padded 3x3 conv, batch norm and a sigmoid. `Average` and `l1_norm` are the script's other
  rules (`rule=`);
* `skimage.io.imsave` of the float image: rounded to the nearest level (see `methods.didfuse.imageio_levels`).

Colour: a colour visible image is fused by its luminance and recoloured (the benchmark's default).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._registry import register_method
from methods._weights import official_weights
from methods.didfuse import check_rule, fuse_features, imageio_levels, load_zhao_state

__all__ = ['AUIFNet', 'box_blur', 'conv_and_adjoint', 'conv_and_adjoint_literal', 'laplacian']

LAYERS = 10
FILTERS = 64
BLUR_SIZE = 11
LAPLACE_SIZE = 19
MIN_SIZE = LAPLACE_SIZE // 2 + 1  # reflection padding by 9 needs more than 9 pixels a side


def _normalised(kernel: Tensor) -> Tensor:
    """kornia `normalize_kernel2d`: divided by the sum of absolute values (two sums, as kornia takes them)."""
    return kernel / kernel.abs().sum(-1).sum(-1)


def _filter(x: Tensor, kernel: Tensor) -> Tensor:
    """kornia `filter2d` with border 'reflect' on one channel: reflect pad by k // 2, then correlation."""
    k = kernel.shape[-1]
    return F.conv2d(F.pad(x, (k // 2,) * 4, mode='reflect'), kernel[None, None].to(x))


def box_blur(x: Tensor, size: int = BLUR_SIZE) -> Tensor:
    """kornia `BoxBlur((size, size))`: ones * float32(1 / size^2), normalised again by `normalize_kernel2d`."""
    kernel = torch.ones(size, size) * (torch.tensor(1.0) / torch.tensor(float(size * size)))
    return _filter(x, _normalised(kernel))


def laplacian(x: Tensor, size: int = LAPLACE_SIZE) -> Tensor:
    """kornia `Laplacian(size)`: ones with centre 1 - size^2, normalised by the sum of absolute values."""
    kernel = torch.ones(size, size)
    kernel[size // 2, size // 2] = 1 - size ** 2
    return _filter(x, _normalised(kernel))


def _pad1(x: Tensor) -> Tensor:
    return F.pad(x, (1, 1, 1, 1), mode='reflect')


def conv_and_adjoint_literal(x: Tensor, kernel: Tensor) -> Tensor:
    """The official two steps: reflect pad, conv to 64 channels with `kernel` (64, 1, 3, 3); reflect pad, conv back
    to one channel with `kernel` rotated by 180 degrees and transposed."""
    adjoint = torch.rot90(kernel, 2, [-1, -2]).transpose(0, 1)
    return F.conv2d(_pad1(F.conv2d(_pad1(x), kernel)), adjoint)


def conv_and_adjoint(x: Tensor, kernel: Tensor) -> Tensor:
    """`conv_and_adjoint_literal` without its 64-channel intermediate (20x faster on a CPU, same function).

    Away from the border the two linear steps are one 5x5 correlation of the reflect-padded image with
    sum_c rot180(k_c) * k_c (their full convolution, computed in float64). The reflection of the intermediate
    features makes the outermost ring different, so the four one-pixel edges are computed the official way on
    4-pixel strips (an edge pixel depends on image rows/columns 0..2 only).
    """
    adjoint = torch.rot90(kernel, 2, [-1, -2]).transpose(0, 1)
    combined = F.conv_transpose2d(adjoint.double(), kernel.double()).to(x.dtype)  # (1, 1, 5, 5)
    inner = F.conv2d(_pad1(x), combined)  # pixels 1..H-2, 1..W-2
    top = conv_and_adjoint_literal(x[..., :4, :], kernel)[..., :1, :]
    bottom = conv_and_adjoint_literal(x[..., -4:, :], kernel)[..., -1:, :]
    left = conv_and_adjoint_literal(x[..., :, :4], kernel)[..., 1:-1, :1]
    right = conv_and_adjoint_literal(x[..., :, -4:], kernel)[..., 1:-1, -1:]
    return torch.cat([top, torch.cat([left, inner, right], -1), bottom], -2)


class UnrolledLayer(nn.Module):
    """One official `BCL` / `DCL` layer (identical classes): a gradient step on the decomposition model."""

    def __init__(self) -> None:
        super().__init__()
        self.kernel = nn.Parameter(torch.zeros(FILTERS, 1, 3, 3))
        self.eta = nn.Parameter(torch.zeros(1))
        self.theta = nn.Parameter(torch.zeros(1))
        self.rest = nn.Sequential(nn.BatchNorm2d(1), nn.PReLU())

    def forward(self, x: Tensor, img: Tensor) -> Tensor:
        return x - self.eta * (self.rest(conv_and_adjoint(x, self.kernel)) - self.theta * (img - x))


class Encoder(nn.Module):
    """Official `Encoder_Base` (`attr='conv1'`, starts from the box blur) or `Encoder_Detail` (`attr='conv2'`, from
    the Laplacian): 10 unrolled layers on the filtered image."""

    def __init__(self, attr: str, start) -> None:
        super().__init__()
        self.attr = attr
        self.start = start
        setattr(self, attr, nn.ModuleList(UnrolledLayer() for _ in range(LAYERS)))

    def forward(self, img: Tensor) -> Tensor:
        x = self.start(img)
        for layer in getattr(self, self.attr):
            x = layer(x, img)
        return x


class Decoder(nn.Module):
    """Official `Decoder`: base + detail, reflect-padded 3x3 conv (no bias), batch norm, sigmoid."""

    def __init__(self) -> None:
        super().__init__()
        self.decoder = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(1, 1, 3, bias=False), nn.BatchNorm2d(1),
                                     nn.Sigmoid())

    def forward(self, base: Tensor, detail: Tensor) -> Tensor:
        return self.decoder(base + detail)


class AUIFNet(FusionMethod):
    """AUIF-Net with the official test protocol.

    Args:
        weights: [base encoder, detail encoder, decoder] (`Models/TCSVT_Encoder_Base.model`,
            `Models/TCSVT_Encoder_Detail.model`, `Models/TCSVT_Decoder.model`), or None for random initialisation.
        rule: fusion rule, 'sum' (official default), 'average' or 'l1_norm'.
    """

    def __init__(self, weights=None, rule: str = 'sum') -> None:
        super().__init__()
        self.rule = check_rule(rule)
        self.base = Encoder('conv1', box_blur)
        self.detail = Encoder('conv2', laplacian)
        self.decoder = Decoder()
        if weights is not None:
            for module, path in zip((self.base, self.detail, self.decoder), weights):
                load_zhao_state(module, path)

    def network(self, ir: Tensor, vis: Tensor) -> Tensor:
        """Both encoders on both images, fusion rule, decoder: sigmoid output."""
        base = fuse_features(self.base(ir), self.base(vis), self.rule)
        detail = fuse_features(self.detail(ir), self.detail(vis), self.rule)
        return self.decoder(base, detail)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        if min(ir.shape[-2:]) < MIN_SIZE:
            raise ValueError(f'Expected `ir` and `vis` of at least {MIN_SIZE}x{MIN_SIZE} px for AUIF-Net (its '
                             f'19x19 Laplacian is reflect-padded), but got {tuple(ir.shape[-2:])}.')
        return per_image(lambda i, v: imageio_levels(self.network(i, v)), ir, vis)

    def bare_network(self, ir: Tensor, vis: Tensor):
        return lambda: self.network(ir, vis)


@register_method(
    'auifnet',
    paper='Zhao, Z., Xu, S., Zhang, J., Liang, C., Zhang, C., Liu, J. Efficient and Model-Based Infrared and '
          'Visible Image Fusion via Algorithm Unrolling. IEEE TCSVT 32(3) (2022) 1186-1196 (online 2021)',
    licence='no licence file in Zhaozixiang1228/IVIF-AUIF-Net',
    weights=[official_weights('auifnet/Models/TCSVT_Encoder_Base.model'),
             official_weights('auifnet/Models/TCSVT_Encoder_Detail.model'),
             official_weights('auifnet/Models/TCSVT_Decoder.model')],
    tags=('baseline', 'zoo'), year=2021,
    verification='published images: zoo/zhao_tno40 (5 of the 40 official TNO results; all 40 checked outside CI): '
                 'min 89.3, median 92.1 dB, within 1 level')
def auifnet(weights=None, rule: str = 'sum') -> AUIFNet:
    return AUIFNet(weights, rule=rule)
