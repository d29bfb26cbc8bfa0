"""CDDFuse (Zhao et al., CVPR 2023): correlation-driven dual-branch feature decomposition; a Restormer encoder splits
each image into base (Lite Transformer) and detail (invertible network) features, fusion layers merge them, a
Restormer decoder reconstructs.

Port of Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f (`net.py`, `test_IVF.py`, `utils/img_read_save.py`), written from
the official code; it loads the official `models/CDDFuse_IVF.pth` as `test_IVF.py` does. That file is a dict of four
state dicts, `DIDF_Encoder`, `DIDF_Decoder`, `BaseFuseLayer`, `DetailFuseLayer`, each saved from an
`nn.DataParallel` wrapper (every key begins with `module.`); module and parameter names below follow `net.py`, so
the tensors load name for name.

Network (`Restormer_Encoder`, `Restormer_Decoder`, `BaseFeatureExtraction(64, 8)`,
`DetailFeatureExtraction(num_layers=1)`): conv 3x3 1->64 (no bias); four Restormer blocks (per-pixel LayerNorm over
channels with bias, eps 1e-5; transposed attention with 8 heads: 1x1 conv to q, k, v, depthwise 3x3, q and k
L2-normalised over the pixels, channel-by-channel attention times a learned temperature, softmax; gated feed-forward
with expansion 2, depthwise 3x3, GELU); then a base branch (LayerNorm, attention with a full 3x3 conv `qkv2` and
learned `scale`, LayerNorm, gated MLP of expansion 1 whose 3x3 conv has 2 channels a group) and a detail branch
(three invertible nodes in the encoder, one in the fusion layer: 1x1 conv with bias on the two halves,
`z2 += phi(z1)`, `z1 = z1 * exp(rho(z2)) + eta(z2)`, where phi, rho, eta are inverted residual blocks 32->64->32 with
ReLU6 and reflection padding). The decoder concatenates base and detail, 1x1 conv 128->64, four Restormer blocks,
conv 3x3 64->32, LeakyReLU(0.01), conv 3x3 32->1, adds the visible input and applies a sigmoid. Every conv is
bias-free unless said otherwise; zero padding unless said otherwise. No downsampling: any image size runs.

Protocol of `test_IVF.py` (the default; one image at a time):

* both images read by `image_read_cv2(path, 'GRAY')`: `cv2.imread` (BGR), float32 `COLOR_BGR2GRAY`, `np.round`,
  `/ 255.0` in float32 (`methods._zhao_io`). A colour visible image is fused as that gray level and the result is
  gray (colour mode 'gray'): the script writes gray images;
* `feature_V_B, feature_V_D, _ = Encoder(VIS)`, the same for IR; `base = BaseFuseLayer(V_B + I_B)`,
  `detail = DetailFuseLayer(V_D + I_D)`; `fused, _ = Decoder(VIS, base, detail)`;
* `fused = (fused - min) / (max - min)` in float32, `* 255`, and `skimage.io.imsave` of that float32 image, which
  imageio turns into `uint8(x / 255 * 255 + 0.499999999)` in float64 (`methods._zhao_io.imageio_uint8`): rounded.

Verification (`tests/methods/test_cddfuse_emma.py`): the official weights are not here, so `test_IVF.py` itself ran
(on a CPU) with seeded random weights saved in the official layout, on 37x53, 48x64 and 61x40 images (visible RGB)
and on five real pairs (TNO-42 05, 08, 37; MSRS 00004N; RoadScene FLIR_00006), and the port loaded the same file:
the float images handed to `imsave` are equal (max abs diff 0) and so is every pixel of every PNG.

Option `ipp` (default True): the float gray conversion of a colour visible image as opencv-python's wheels compute
it on x86-64 (Intel IPP); False for OpenCV's own arithmetic (one level apart on 546 of the 2**24 colours). An IR file
that stores colour is made gray by the benchmark (`bench.images.to_gray`), not by OpenCV.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._protocol import levels
from methods._registry import register_method
from methods._weights import official_weights
from methods._zhao_io import CVFloatGray, imageio_uint8, minmax

__all__ = ['CDDFuse', 'CDDFuseNet', 'LayerNorm', 'BaseAttention', 'GatedMlp', 'load_state_dicts', 'load_strict']

PAPER = ('Z. Zhao, H. Bai, J. Zhang, Y. Zhang, S. Xu, Z. Lin, R. Timofte, L. Van Gool, CDDFuse: Correlation-Driven '
         'Dual-Branch Feature Decomposition for Multi-Modality Image Fusion, CVPR 2023, 5906-5916')
LICENCE = 'none (Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f has no licence file)'
DIM, HEADS = 64, 8
#: checkpoint key -> attribute of `CDDFuseNet` holding that state dict
NOTE = ('slow on a CPU: about 550 GMAC per 640x480 pair (Restormer blocks and a full 3x3 conv over 192 channels at '
        'full resolution, three times); 240 s a pair measured on a loaded 2-core CPU, so prefer --device cuda')
PARTS = {'DIDF_Encoder': 'encoder', 'DIDF_Decoder': 'decoder', 'BaseFuseLayer': 'base_fuse',
         'DetailFuseLayer': 'detail_fuse'}


def _conv(cin: int, cout: int, k: int = 1, groups: int = 1, bias: bool = False, pad_mode: str = 'zeros') -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=bias, padding_mode=pad_mode)


def _heads(x: Tensor, heads: int) -> Tensor:
    """(b, heads * c, h, w) -> (b, heads, c, h * w)."""
    b, c, h, w = x.shape
    return x.reshape(b, heads, c // heads, h * w)


def channel_attention(q: Tensor, k: Tensor, v: Tensor, heads: int, temperature: Tensor) -> Tensor:
    """Transposed (channel-by-channel) attention of Restormer: q and k L2-normalised over the pixels."""
    b, c, h, w = q.shape
    q, k, v = (_heads(t, heads) for t in (q, k, v))
    q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    attn = ((q @ k.transpose(-2, -1)) * temperature).softmax(dim=-1)
    return (attn @ v).reshape(b, c, h, w)


class _Body(nn.Module):
    """LayerNorm with bias over the last dimension (`WithBias_LayerNorm`: biased variance, eps 1e-5)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: Tensor) -> Tensor:
        mu = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=False)
        return (x - mu) / torch.sqrt(var + 1e-5) * self.weight + self.bias


class LayerNorm(nn.Module):
    """Per-pixel LayerNorm over channels, computed on the (b, h * w, c) view as the official `LayerNorm` does."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.body = _Body(dim)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        y = self.body(x.permute(0, 2, 3, 1).reshape(b, h * w, c))
        return y.reshape(b, h, w, c).permute(0, 3, 1, 2)


class GatedMlp(nn.Module):
    """1x1 conv to 2 * hidden, grouped 3x3 conv, GELU(first half) * second half, 1x1 conv: `FeedForward`
    (`groups = 2 * hidden`, depthwise) and `Mlp` (`groups = hidden`, two channels a group)."""

    def __init__(self, dim: int, hidden: int, groups: int, out: int | None = None, pad_mode: str = 'zeros') -> None:
        super().__init__()
        self.project_in = _conv(dim, 2 * hidden)
        self.dwconv = _conv(2 * hidden, 2 * hidden, 3, groups=groups, pad_mode=pad_mode)
        self.project_out = _conv(hidden, out or dim)

    def forward(self, x: Tensor) -> Tensor:
        x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


class MDTA(nn.Module):
    """Restormer's attention (`Attention`): 1x1 conv, depthwise 3x3 conv, channel attention, 1x1 conv."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = _conv(dim, 3 * dim)
        self.qkv_dwconv = _conv(3 * dim, 3 * dim, 3, groups=3 * dim)
        self.project_out = _conv(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        return self.project_out(channel_attention(q, k, v, self.heads, self.temperature))


class BaseAttention(nn.Module):
    """`AttentionBase`: 1x1 conv, full 3x3 conv (zero padding), channel attention scaled by `scale`, 1x1 conv."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv1 = _conv(dim, 3 * dim)
        self.qkv2 = _conv(3 * dim, 3 * dim, 3)
        self.proj = _conv(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self.qkv2(self.qkv1(x)).chunk(3, dim=1)
        return self.proj(channel_attention(q, k, v, self.heads, self.scale))


class TransformerBlock(nn.Module):
    """Restormer block: `x + attn(norm1(x))`, then `x + ffn(norm2(x))`."""

    def __init__(self, dim: int = DIM, heads: int = HEADS) -> None:
        super().__init__()
        self.norm1, self.attn = LayerNorm(dim), MDTA(dim, heads)
        self.norm2, self.ffn = LayerNorm(dim), GatedMlp(dim, 2 * dim, groups=4 * dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class BaseFeature(nn.Module):
    """Lite Transformer (`BaseFeatureExtraction`; EMMA's `GlobalFeatureExtraction`): `x + attn(norm1(x))`, then
    `x + mlp(norm2(x))` with an expansion-1 gated MLP (its 3x3 conv padded with `pad_mode`)."""

    def __init__(self, dim: int = DIM, heads: int = HEADS, pad_mode: str = 'zeros') -> None:
        super().__init__()
        self.norm1, self.attn = LayerNorm(dim), BaseAttention(dim, heads)
        self.norm2, self.mlp = LayerNorm(dim), GatedMlp(dim, dim, groups=dim, pad_mode=pad_mode)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class InvertedResidual(nn.Module):
    """`InvertedResidualBlock(32, 32, 2)`: 1x1 conv, ReLU6, reflection pad, depthwise 3x3, ReLU6, 1x1 conv (indices
    0, 3, 5 of `bottleneckBlock`, as the state dict numbers them)."""

    def __init__(self, dim: int = 32, expand: int = 2) -> None:
        super().__init__()
        hidden = dim * expand
        self.bottleneckBlock = nn.Sequential(
            _conv(dim, hidden), nn.ReLU6(), nn.ReflectionPad2d(1),
            nn.Conv2d(hidden, hidden, 3, groups=hidden, bias=False), nn.ReLU6(), _conv(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.bottleneckBlock(x)


class DetailNode(nn.Module):
    """Invertible node: mix the halves by a 1x1 conv (with bias), `z2 += phi(z1)`,
    `z1 = z1 * exp(rho(z2)) + eta(z2)`."""

    def __init__(self) -> None:
        super().__init__()
        self.theta_phi, self.theta_rho, self.theta_eta = InvertedResidual(), InvertedResidual(), InvertedResidual()
        self.shffleconv = _conv(64, 64, bias=True)  # the official (misspelt) name

    def forward(self, z1: Tensor, z2: Tensor) -> tuple[Tensor, Tensor]:
        z1, z2 = self.shffleconv(torch.cat((z1, z2), dim=1)).chunk(2, dim=1)
        z2 = z2 + self.theta_phi(z1)
        z1 = z1 * torch.exp(self.theta_rho(z2)) + self.theta_eta(z2)
        return z1, z2


class DetailFeature(nn.Module):
    """`DetailFeatureExtraction(num_layers)`: invertible nodes on the two channel halves."""

    def __init__(self, num_layers: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(*[DetailNode() for _ in range(num_layers)])

    def forward(self, x: Tensor) -> Tensor:
        z1, z2 = x.chunk(2, dim=1)
        for node in self.net:
            z1, z2 = node(z1, z2)
        return torch.cat((z1, z2), dim=1)


class _PatchEmbed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = _conv(1, DIM, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


class Encoder(nn.Module):
    """`Restormer_Encoder`: (base features, detail features) of a one-channel image."""

    def __init__(self) -> None:
        super().__init__()
        self.patch_embed = _PatchEmbed()
        self.encoder_level1 = nn.Sequential(*[TransformerBlock() for _ in range(4)])
        self.baseFeature = BaseFeature()
        self.detailFeature = DetailFeature()

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.encoder_level1(self.patch_embed(x))
        return self.baseFeature(x), self.detailFeature(x)


class Decoder(nn.Module):
    """`Restormer_Decoder`: sigmoid(reconstruction + the visible input)."""

    def __init__(self) -> None:
        super().__init__()
        self.reduce_channel = _conv(2 * DIM, DIM)
        self.encoder_level2 = nn.Sequential(*[TransformerBlock() for _ in range(4)])
        self.output = nn.Sequential(_conv(DIM, DIM // 2, 3), nn.LeakyReLU(), _conv(DIM // 2, 1, 3))

    def forward(self, image: Tensor, base: Tensor, detail: Tensor) -> Tensor:
        x = self.encoder_level2(self.reduce_channel(torch.cat((base, detail), dim=1)))
        return torch.sigmoid(self.output(x) + image)


class CDDFuseNet(nn.Module):
    """The four trained parts and `test_IVF.py`'s two-stage forward: `forward(ir, vis)` on [0, 1] -> sigmoid output."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder, self.decoder = Encoder(), Decoder()
        self.base_fuse, self.detail_fuse = BaseFeature(), DetailFeature(num_layers=1)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        vis_base, vis_detail = self.encoder(vis)
        ir_base, ir_detail = self.encoder(ir)
        base = self.base_fuse(vis_base + ir_base)
        detail = self.detail_fuse(vis_detail + ir_detail)
        return self.decoder(vis, base, detail)


class CDDFuse(CVFloatGray, FusionMethod):
    """CDDFuse with `test_IVF.py`'s reading, normalisation and saving (module docstring)."""

    def __init__(self, ipp: bool = True) -> None:
        super().__init__()
        self.ipp = ipp
        self.net = CDDFuseNet()

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # min-max per image, then rounded: see methods/_per_image.py

    def fused_float(self, ir: Tensor, vis: Tensor) -> Tensor:
        """The float32 image `test_IVF.py` hands to `imsave` (levels in [0, 255], before quantisation)."""
        return minmax(self.net(*self.inputs(ir, vis))) * 255

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        return imageio_uint8(self.fused_float(ir, vis)) / 255

    @staticmethod
    def inputs(ir: Tensor, vis: Tensor) -> tuple[Tensor, Tensor]:
        """The script's float32 `level / 255.0` inputs."""
        return levels(ir, 1.0) / 255, levels(vis, 1.0) / 255

    def bare_network(self, ir: Tensor, vis: Tensor):
        ir, vis = self.inputs(ir, vis)
        return lambda: self.net(ir, vis)


def _unwrap(state: dict, label: str, path) -> dict:
    """A state dict saved from `nn.DataParallel` (`module.` prefixes, as the official files are) or a bare module."""
    if not isinstance(state, dict) or not state:
        raise ValueError(f'Expected {label} of {path} to be a state dict, but got {type(state).__name__}.')
    if all(k.startswith('module.') for k in state):
        return {k[len('module.'):]: v for k, v in state.items()}
    return state


def load_state_dicts(net: nn.Module, parts: dict, path, label: str) -> None:
    """Loads each `parts[key] -> attribute` state dict of the checkpoint at `path` into `net.<attribute>`, strictly.

    Raises:
        ValueError: when the file is not in the official layout (with the keys it holds).
    """
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(ckpt, dict) or set(parts) - set(ckpt):
        found = sorted(ckpt)[:6] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f'Expected {path} to hold the {label} checkpoint (a dict with keys {sorted(parts)}), '
                         f'but got {found}.')
    for key, attr in parts.items():
        load_strict(getattr(net, attr), _unwrap(ckpt[key], repr(key), path), f'{path}[{key!r}]')


def load_strict(module: nn.Module, state: dict, where: str) -> None:
    """`module.load_state_dict(state)` after checking that the names are exactly the module's.

    Raises:
        ValueError: naming a few missing and unexpected tensors.
    """
    expected = set(module.state_dict())
    if set(state) != expected:
        missing, unexpected = sorted(expected - set(state))[:3], sorted(set(state) - expected)[:3]
        raise ValueError(f'Expected {where} to hold the tensors of {type(module).__name__}, but got a state dict '
                         f'with missing {missing}, unexpected {unexpected}.')
    module.load_state_dict(state)


@register_method('cddfuse', paper=PAPER, licence=LICENCE, colour='gray', tags=('baseline', 'zoo'), year=2023,
                 note=NOTE,
                 weights=[official_weights('cddfuse/models/CDDFuse_IVF.pth')],
                 verification='random-weight equality with the official test_IVF.py: 3 sizes and 5 real pairs, '
                              'max abs diff 0 before quantisation, every pixel equal')
def cddfuse(weights=None, ipp: bool = True) -> CDDFuse:
    method = CDDFuse(ipp=ipp)
    if weights is not None:
        load_state_dicts(method.net, PARTS, weights[0], 'CDDFuse')
    return method
