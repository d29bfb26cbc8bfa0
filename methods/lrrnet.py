"""LRRNet (Li et al., IEEE TPAMI 2023): a fusion network unrolled from low-rank representation (LLRR blocks).

Port of hli1221/imagefusion-LRRNet @ e489fc3 (`net_lista.py`: `LRR_NET(s=3, n=128, channel=1, stride=1,
num_block=4, fusion_type='cat')` with `GetLS_Net` and `Decoder_simple`; `testing_fusion_lrr.py`; `utils.py`;
`args.py`), written from the official code. Parameter names follow the official classes, so the official state dict
`model/final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model` loads key for key.

Test-time behaviour reproduced (`testing_fusion_lrr.py`):

* inputs: `cv2.imread(path, IMREAD_GRAYSCALE)` as float32 levels 0..255, then `utils.normalize_tensor`: each image
  min-max normalised on its own, `(x - min) / (max - min + 1e-5)` in float32;
* each image through its own LLRR decomposition net (`get_ls1` for IR, `get_ls2` for visible): a reflect-padded
  3x3 conv to 256 channels, soft threshold `sign(r) * max(|r| - lambda_c, 0)`, then 4 unrolled blocks
  `Z <- soft(lam_z * Z + conv_Wdtz(x - conv_Wdz(Z)), lambda)`; channels 0..127 are the low-rank part, 128..255 the
  sparse part;
* decoder: a reflect-padded 3x3 conv per part and image (to one channel), the two low-rank maps concatenated and
  convolved, the two sparse maps likewise, the results added (no activation anywhere);
* `utils.save_image` (CUDA run, so no clamping): `(x - min) / (max - min + 1e-5) * 255` with numpy's float32
  image and float64 scalar, then `astype('uint8')` (truncation), written by `cv2.imwrite` (see
  `methods.rfn_nest.stretch_truncate`, the same function in the same author's RFN-Nest).

Colour: the official script reads a colour visible image as cv2's gray conversion and writes a gray image; here a
colour visible image is fused by its luminance and recoloured (the benchmark's default), `colour='gray'` keeps the
gray result.

Speed: the network is 3x3 convolutions from one channel to 256 and back, and element-wise work on the 256-channel
code, which oneDNN's direct convolution and fresh temporaries make slow on a CPU. The same functions are computed as
matrix products (`conv_to_one`, `conv_from_one_`), in place, in buffers with a padded channel stride (`code_buffer`):
2.5x faster than the literal layers at 640x480 (more at 768x576), within float32 rounding of them
(tests/methods/test_lrrnet.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._protocol import levels
from methods._registry import register_method
from methods._tf_port import load_torch_state
from methods._weights import official_weights
from methods.rfn_nest import stretch_truncate

__all__ = ['LRRNet', 'code_buffer', 'conv_from_one_', 'conv_to_one', 'normalize_input', 'soft_threshold_']

FILTERS = 128  # n: filters of each part (low rank, sparse)
BLOCKS = 4
EPSILON = 1e-5  # utils.EPSILON (net_lista.py's own EPSILON = 1e-4 is not used at test time)


def _pad1(x: Tensor) -> Tensor:
    return F.pad(x, (1, 1, 1, 1), mode='reflect')


def conv_to_one(x: Tensor, conv: nn.Conv2d) -> Tensor:
    """Reflect-padded 3x3 convolution of C channels to one, as a matrix product: the 9 taps' channel sums first
    (9 x C times C x HW), then the 9 one-channel maps padded and shifted into place. The same function as
    `conv(pad(x))` (padding commutes with the channel sums) without padding the C-channel input; oneDNN's direct
    convolution is several times slower for a single output channel."""
    n, c, h, w = x.shape
    taps = torch.matmul(conv.weight[0].permute(1, 2, 0).reshape(9, c), x.reshape(n, c, h * w))
    taps = _pad1(taps.view(n, 9, h, w))
    out = conv.bias.view(1, 1, 1, 1).expand(n, 1, h, w).clone()
    for k in range(9):
        dy, dx = divmod(k, 3)
        out += taps[:, k:k + 1, dy:dy + h, dx:dx + w]
    return out


def conv_from_one_(out: Tensor, x: Tensor, conv: nn.Conv2d, beta: float) -> Tensor:
    """`out = beta * out + conv(pad(x))` in place, for a reflect-padded 3x3 convolution of one channel to C: one
    matrix product of [kernel | bias] (C x 10) and the padded image's 3x3 patches with a row of ones (10 x HW),
    accumulated onto `out` (beta = 0: `out` is only written). The C-channel result needs no new memory and no
    separate passes for the bias and the scaled previous value."""
    n, _, h, w = x.shape
    c = conv.out_channels
    patches = torch.cat([F.unfold(_pad1(x), 3), x.new_ones(n, 1, h * w)], 1)
    weight = torch.cat([conv.weight.view(c, 9), conv.bias.view(c, 1)], 1).expand(n, c, 10)
    out.view(n, c, h * w).baddbmm_(weight, patches, beta=beta)
    return out


class ConvLayer(nn.Module):
    """Reflection pad 1, 3x3 conv, no activation (official `ConvLayer`, key `conv2d`)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv2d = nn.Conv2d(cin, cout, 3)

    def forward(self, x: Tensor) -> Tensor:
        if self.conv2d.out_channels == 1 and x.shape[1] > 2:
            return conv_to_one(x, self.conv2d)
        return self.conv2d(_pad1(x))


def soft_threshold_(r: Tensor, lam: Tensor, scratch: Tensor) -> Tensor:
    """Official `eta_l1`, `sign(r) * clamp(|r| - lambda_c, 0)` with one threshold per channel (`lam`: (1, C)),
    computed in place in `r`; `scratch` (same shape) receives sign(r)."""
    sign = torch.sign(r, out=scratch)
    return r.abs_().sub_(lam.view(1, -1, 1, 1)).clamp_(min=0).mul_(sign)


def code_buffer(x: Tensor) -> Tensor:
    """An uninitialised (N, 2n, H, W) tensor for the code of `x`, its channels H*W + 16 elements apart rather than
    H*W: when H*W is a multiple of a large power of two (768 x 576 = 2^14 x 27) the matrix products otherwise touch
    the 256 channels at addresses that compete for the same cache sets (measured 1.6x slower at 768 x 576)."""
    n, _, h, w = x.shape
    return x.new_empty(n, 2 * FILTERS, h * w + 16)[..., :h * w].view(n, 2 * FILTERS, h, w)


class LRRBlock(nn.Module):
    """Official `LRR_Block_lista`: one unrolled update of the code Z (2n channels) of the image x."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_Wdz = ConvLayer(2 * FILTERS, 1)
        self.conv_Wdtz = ConvLayer(1, 2 * FILTERS)

    def forward(self, x: Tensor, z: Tensor, lam_theta: Tensor, lam_z: Tensor, scratch: Tensor) -> Tensor:
        """`soft(lam_z * z + conv_Wdtz(x - conv_Wdz(z)), lam_theta)`, computed in place in `z`."""
        conv_from_one_(z, x - self.conv_Wdz(z), self.conv_Wdtz.conv2d, beta=lam_z.item())
        return soft_threshold_(z, lam_theta, scratch)


class Decomposition(nn.Module):
    """Official `GetLS_Net`: the low-rank (L) and sparse (S) feature maps of one image.

    Inference only: the blocks update the 256-channel code in place (each full-size temporary would cost more in
    fresh memory than its arithmetic), with one scratch buffer for the signs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv_W00 = ConvLayer(1, 2 * FILTERS)
        self.lamj = nn.Parameter(torch.zeros(1, 2 * FILTERS))
        self.lamz = nn.Parameter(torch.zeros(1, 1))
        for i in range(BLOCKS):
            self.add_module(f'lrrblock{i}', LRRBlock())

    @torch.inference_mode()
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = conv_from_one_(code_buffer(x), x, self.conv_W00.conv2d, beta=0.0)
        scratch = code_buffer(x)
        z = soft_threshold_(z, self.lamj, scratch)
        for i in range(BLOCKS):
            z = getattr(self, f'lrrblock{i}')(x, z, self.lamj, self.lamz, scratch)
        return z[:, :FILTERS], z[:, FILTERS:]


class Decoder(nn.Module):
    """Official `Decoder_simple` with fusion type 'cat'."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_ReZx = ConvLayer(FILTERS, 1)
        self.conv_ReUx = ConvLayer(FILTERS, 1)
        self.conv_ReZy = ConvLayer(FILTERS, 1)
        self.conv_ReUy = ConvLayer(FILTERS, 1)
        self.conv_ReL = ConvLayer(2, 1)
        self.conv_ReH = ConvLayer(2, 1)

    def forward(self, low_x: Tensor, sparse_x: Tensor, low_y: Tensor, sparse_y: Tensor) -> Tensor:
        low = self.conv_ReL(torch.cat([self.conv_ReZx(low_x), self.conv_ReZy(low_y)], 1))
        high = self.conv_ReH(torch.cat([self.conv_ReUx(sparse_x), self.conv_ReUy(sparse_y)], 1))
        return low + high


def normalize_input(x: Tensor) -> Tensor:
    """Official `utils.normalize_tensor` of float32 grey levels: per image `(x - min) / (max - min + 1e-5)`."""
    lo = x.amin(dim=(1, 2, 3), keepdim=True)
    hi = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x - lo) / (hi - lo + EPSILON)


class LRRNet(FusionMethod):
    """LRRNet with the official test protocol.

    Args:
        weights: [the official `.model` state dict], or None for random initialisation.
    """

    def __init__(self, weights=None) -> None:
        super().__init__()
        self.get_ls1 = Decomposition()  # infrared
        self.get_ls2 = Decomposition()  # visible
        self.decoder = Decoder()
        if weights is not None:
            load_torch_state(self, weights[0], {k: k for k in self.state_dict()})

    def network(self, ir: Tensor, vis: Tensor) -> Tensor:
        """The official `LRR_NET.forward(...)['fuse']` on normalised inputs (unbounded output)."""
        return self.decoder(*self.get_ls1(ir), *self.get_ls2(vis))

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        # The network sees (levels - min) / (max - min + 1e-5), whatever the levels' own scale.
        ir, vis = normalize_input(levels(ir)), normalize_input(levels(vis))
        return per_image(lambda i, v: stretch_truncate(self.network(i, v)), ir, vis)

    def bare_network(self, ir: Tensor, vis: Tensor):
        a, b = normalize_input(ir * 255), normalize_input(vis * 255)
        return lambda: self.network(a, b)


@register_method(
    'lrrnet',
    paper='Li, H., Xu, T., Wu, X.-J., Lu, J., Kittler, J. LRRNet: A Novel Representation Learning Guided Fusion '
          'Framework for Infrared and Visible Images. IEEE TPAMI 45(9) (2023) 11040-11052',
    licence='no licence file in hli1221/imagefusion-LRRNet',
    weights=[official_weights('lrrnet/model/final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model')],
    tags=('baseline', 'zoo'), year=2023,
    verification='published images: tno21 (5 of the 21 official results, in zoo/lrrnet_tno21; all 21 checked '
                 'outside CI): min 87.8, median 90.1 dB, within 1 level')
def lrrnet(weights=None) -> LRRNet:
    return LRRNet(weights)
