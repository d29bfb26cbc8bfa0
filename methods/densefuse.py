"""DenseFuse (Li & Wu, IEEE TIP 2019): a dense-block autoencoder; features of the two images fused by a fixed rule.

Ports of the official TensorFlow code (hli1221/imagefusion_densefuse @ ef23f0f) and of the official PyTorch code
(hli1221/densefuse-pytorch @ 4394b63), loading the authors' files.

Registered names:

* `densefuse`: TF weights with SSIM weight 1e2 and the addition rule, VIF-Benchmark's protocol (PIL 'L' luminance,
  full resolution, scipy `imsave` min-max stretch, PIL YCbCr recolouring). Reproduces the published TNO results.
* `densefuse-l1`: the same with the l1-norm rule (`fusion_l1norm.L1_norm`: per-pixel weights from the channel
  l1-norms, without the paper's block averaging, as coded).
* `densefuse-1e0`, `densefuse-1e1`, `densefuse-1e3`: the other official TF weights, addition rule.
* `densefuse-official`: the official demo script's behaviour: inputs resized to 256x256 (nearest) and transposed
  (H <-> W) before fusing; the 256x256 result is transposed back and resized (nearest) to the input size so that it
  can be scored.
* `densefuse-pytorch`: the official PyTorch weights (`densefuse_gray.model`, a different training run): dense
  concatenation old-first, ReLU after every decoder layer, average rule, output clamped to [0, 255] and truncated.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._protocol import PILColour, bytescale, levels
from methods._registry import register_method
from methods._tf_port import CentredConv2d, load_tf_convs, load_torch_state, read_official_checkpoint
from methods._weights import official_weights
from methods._per_image import per_image

PAPER = ('H. Li and X.-J. Wu, DenseFuse: A Fusion Approach to Infrared and Visible Images, IEEE Transactions on '
         'Image Processing 28(5), 2019')
LICENCE = 'no licence file in the official repositories (hli1221/imagefusion_densefuse, hli1221/densefuse-pytorch)'
RULES = ('addition', 'l1', 'average')


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return CentredConv2d(cin, cout, 3)  # reflect-padded 3x3; see CentredConv2d for why centred


class DenseFuse(PILColour, FusionMethod):
    """DenseFuse network with a fusion rule and the output convention of one official script.

    Args:
        rule: 'addition' (TF default), 'l1' (TF l1-norm) or 'average' (PyTorch code).
        new_first: dense-block concatenation order: new features first (TF) or last (PyTorch).
        relu_out: ReLU after the last decoder layer (PyTorch code: yes; TF: no).
        output: 'imsave' (scipy min-max stretch) or 'clamp' (clamp to [0, 255], truncate to uint8).
        demo_resize: reproduce the official TF demo (256x256 nearest resize and H/W transpose).
    """

    def __init__(self, rule: str = 'addition', new_first: bool = True, relu_out: bool = False,
                 output: str = 'imsave', demo_resize: bool = False) -> None:
        super().__init__()
        if rule not in RULES:
            raise ValueError(f'Expected `rule` in {RULES}, but got {rule!r}.')
        if output not in ('imsave', 'clamp'):
            raise ValueError(f"Expected `output` 'imsave' or 'clamp', but got {output!r}.")
        self.rule, self.new_first, self.relu_out, self.output, self.demo_resize = (
            rule, new_first, relu_out, output, demo_resize)
        self.conv1 = _conv(1, 16)
        self.dense = nn.ModuleList([_conv(16, 16), _conv(32, 16), _conv(48, 16)])
        self.decoder = nn.ModuleList([_conv(64, 64), _conv(64, 32), _conv(32, 16), _conv(16, 1)])

    def encode(self, x: Tensor) -> Tensor:
        x = F.relu(self.conv1(x))
        for conv in self.dense:
            new = F.relu(conv(x))
            x = torch.cat([new, x] if self.new_first else [x, new], 1)
        return x

    def decode(self, f: Tensor) -> Tensor:
        for i, conv in enumerate(self.decoder):
            f = conv(f)
            if i < len(self.decoder) - 1 or self.relu_out:
                f = F.relu(f)
        return f

    def fuse_features(self, a: Tensor, b: Tensor) -> Tensor:
        if self.rule == 'addition':
            return a + b
        if self.rule == 'average':
            return (a + b) / 2
        # l1-norm: activity = sum over channels of |phi| per pixel; the official code divides 0/0 where both are
        # zero (NaN); there the port weighs the (all-zero) features equally instead.
        la, lb = a.abs().sum(1, keepdim=True), b.abs().sum(1, keepdim=True)
        total = la + lb
        safe = torch.where(total > 0, total, torch.ones_like(total))
        wa = torch.where(total > 0, la / safe, torch.full_like(la, 0.5))
        wb = torch.where(total > 0, lb / safe, torch.full_like(lb, 0.5))
        return wa * a + wb * b

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        # Both inputs as the scripts read them: PIL 'L' grey levels 0..255, unnormalised.
        a, b = levels(ir, 1.0), levels(vis, 1.0)
        h, w = a.shape[-2:]
        if self.demo_resize:
            a, b = (_nearest(t, 256, 256).transpose(-1, -2) for t in (a, b))
        fa, fb = self.encode(torch.cat([a, b])).chunk(2)
        out = self.decode(self.fuse_features(fa, fb))
        out = bytescale(out) if self.output == 'imsave' else out.clamp(0, 255).floor()
        if self.demo_resize:
            out = _nearest(out.transpose(-1, -2), h, w)
        return out / 255


def _pil_nearest_index(n_in: int, n_out: int) -> np.ndarray:
    """Source indices of PIL's nearest-neighbour resize (`ImagingScaleAffine`): start at scale / 2, add scale per
    output pixel in float64 (accumulating, as the C loop does; `np.cumsum` is sequential) and truncate."""
    scale = n_in / n_out
    coords = np.cumsum(np.concatenate([[scale * 0.5], np.full(n_out - 1, scale)]))
    return np.minimum(coords.astype(np.int64), n_in - 1)


def _nearest(x: Tensor, h: int, w: int) -> Tensor:
    """PIL's nearest-neighbour resize of (N, C, H, W) to (h, w): what `scipy.misc.imresize(interp='nearest')` does."""
    rows = torch.from_numpy(_pil_nearest_index(x.shape[-2], h)).to(x.device)
    cols = torch.from_numpy(_pil_nearest_index(x.shape[-1], w)).to(x.device)
    return x[..., rows, :][..., cols]


_TF_DIR = 'densefuse/tf/densefuse_gray/densefuse_model_bs2_epoch4_all_weight_{}.ckpt'


def _tf_weights(ssim: str):
    prefix = _TF_DIR.format(ssim)
    return [official_weights(prefix + '.index'), official_weights(prefix + '.data-00000-of-00001')]


def _load_tf(net: DenseFuse, weights) -> DenseFuse:
    if weights is not None:
        ckpt = read_official_checkpoint(weights)
        convs = {'encoder/conv1_1': net.conv1}
        convs.update({f'encoder/dense_block_conv{i + 1}': c for i, c in enumerate(net.dense)})
        convs.update({f'decoder/conv2_{i + 1}': c for i, c in enumerate(net.decoder)})
        load_tf_convs(convs, ckpt)
    return net


_COMMON = dict(paper=PAPER, licence=LICENCE, tags=('baseline',), year=2019)
_VERIFIED = 'published images: tno42 (Tang, 42 pairs) and vifbench12 (colour, 12): every pixel within 1 level, >= 80 dB'
_SAME = 'network and weights loading as densefuse (published images); this {what}: golden regression only'


@register_method('densefuse', weights=_tf_weights('1e2'), verification=_VERIFIED, **_COMMON)
def densefuse(weights=None, rule: str = 'addition', demo_resize: bool = False) -> DenseFuse:
    return _load_tf(DenseFuse(rule=rule, demo_resize=demo_resize), weights)


@register_method('densefuse-l1', weights=_tf_weights('1e2'), verification=_SAME.format(what='fusion rule'),
                 **_COMMON)
def densefuse_l1(weights=None) -> DenseFuse:
    return _load_tf(DenseFuse(rule='l1'), weights)


@register_method('densefuse-official', weights=_tf_weights('1e2'),
                 verification=_SAME.format(what='resize protocol'), **_COMMON)
def densefuse_official(weights=None, rule: str = 'addition') -> DenseFuse:
    return _load_tf(DenseFuse(rule=rule, demo_resize=True), weights)


def _register_ssim_variant(ssim: str) -> None:
    def factory(weights=None, rule: str = 'addition') -> DenseFuse:
        return _load_tf(DenseFuse(rule=rule), weights)
    factory.__name__ = f'densefuse_{ssim}'
    register_method(f'densefuse-{ssim}', weights=_tf_weights(ssim), verification=_SAME.format(what='checkpoint'),
                    **_COMMON)(factory)


for _ssim in ('1e0', '1e1', '1e3'):
    _register_ssim_variant(_ssim)


@register_method('densefuse-pytorch', weights=[official_weights('densefuse/pytorch/models/densefuse_gray.model')],
                 verification=_SAME.format(what='PyTorch checkpoint and output rule'), **_COMMON)
def densefuse_pytorch(weights=None) -> DenseFuse:
    net = DenseFuse(rule='average', new_first=False, relu_out=True, output='clamp')
    if weights is not None:
        mapping = {'conv1.conv2d.weight': 'conv1.weight', 'conv1.conv2d.bias': 'conv1.bias'}
        for i in range(3):
            for p in ('weight', 'bias'):
                mapping[f'DB1.denseblock.{i}.dense_conv.conv2d.{p}'] = f'dense.{i}.{p}'
        for i in range(4):
            for p in ('weight', 'bias'):
                mapping[f'conv{i + 2}.conv2d.{p}'] = f'decoder.{i}.{p}'
        load_torch_state(net, weights[0], mapping)
    return net
