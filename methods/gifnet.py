"""GIFNet (Cheng et al., CVPR 2025): one model for many fusion tasks, here its infrared-visible path.

Port of AWCXV/GIFNet @ c8ad04a (no licence file), `GIFNet_model.py` (`TwoBranchesFusionNet`) and `test.py`,
written from the official code, with the single released checkpoint `model/Final.model` (a state dict, loaded with
`weights_only=True`).

What `test.py` runs for every task (`forward_encoder`, `forward_MultiTask_branch` with its default
`trainingTag=2`, `forward_mixed_decoder`):

* shared features: on [IR, VIS] (2 channels), three reflection-padded 3x3 convolutions with ReLU, each on the
  concatenation of the input and the previous outputs (2->32, 34->32, 66->32); the features are that concatenation,
  98 channels;
* a two-stream window transformer (`TransformerNet`): the features are reflection-padded to a multiple of 4 and
  embedded twice by 3x3 reflection-padded convolutions, an "IVIF" stream and an "MFIF" stream; two blocks (window
  8, 2 heads; the second shifted by 4 through reflection padding, not a cyclic roll). Each block normalises each
  stream with `RLN` (mean and std over C, H, W; `meta1(std)`, `meta2(mean)` rescale the attention output), runs
  window attention with a learnt relative-position bias (an MLP on log-spaced offsets, the checkpoint's
  `relative_positions` buffer) plus a 5x5 depthwise convolution of V, a projection, a residual, a 1x1 MLP and a
  residual. With `trainingTag=2` the MFIF stream is the result: in the unshifted block the IVIF stream attends
  with the MFIF queries, and the MFIF stream gets `weights_mfif[0]` times the IVIF stream after it; the IVIF stream
  of the second block feeds nothing and is not computed here. The result passes a 3x3 convolution and is cropped;
* decoder: [shared features, transformer output] (196 channels) through two bias-free 1x1 convolutions (->98,
  ReLU, ->128), then four reflection-padded 3x3 convolutions 128->64->32->16->1 (ReLU, last tanh), `x / 2 + 0.5`.
  The reconstruction decoder (`decoder_rec`) and `layer1.weights` are not used by this path.

Input and output conventions of the README's infrared-visible command (`python test.py ... --VIS_IS_RGB`), which
this port reproduces whatever the visible file stores:

* IR `cv2.imread(path, IMREAD_GRAYSCALE)`; visible `Image.open(path).convert("RGB")`, the script's
  `Y = 0.299 R + 0.587 G + 0.114 B` in float64 (numpy's order, left to right), clipped to 0..255 and **truncated**
  (`astype(np.uint8)`): where the exact Y is an integer the float sum can fall just below it, so a gray visible image
  (R = G = B) loses one level on 65 of the 256 levels (1, 2, 4, 8, 11, 13, ...). Both `ToTensor()` (level / 255,
  float32);
* output `Y' = 255 x out` (float32), recoloured with the visible image's Cb/Cr from the script's own matrix
  (`Cb = -0.169 R - 0.331 G + 0.5 B`, `Cr = 0.5 R - 0.419 G - 0.081 B`, centred on 0): `R = Y' + 1.402 Cr`,
  `G = Y' - 0.344136 Cb - 0.714136 Cr`, `B = Y' + 1.772 Cb` in float64, clipped, rounded half to even, saved as an
  RGB PNG. A gray visible image gives a gray result (its Cb/Cr are zero up to float rounding, which the port
  reproduces); it is returned as one channel.
* `colour='gray'` with a colour visible image returns the fused luminance `out` before recolouring.

Option `vis_is_rgb=False`: `test.py` without `--VIS_IS_RGB` (the README uses that for the remote-sensing bands): the
visible image read by `cv2.imread(path, IMREAD_GRAYSCALE)` (a gray image as itself, a colour PNG by libpng's
conversion, `png_gray`; of a colour JPEG libjpeg returns its luma plane, which the decoded RGB pixels the benchmark
gets cannot reproduce exactly), the output saved as `(out * 255).astype(uint8)`, i.e. truncated, and gray (three
equal channels for a colour visible image).

Fidelity (`tests/methods/test_gifnet.py`): the official `test.py` itself, run outside the project on 5 TNO pairs of
`tno42`, MSRS `00004N` and RoadScene `FLIR_00006` (CPU, float32), with and without `--VIS_IS_RGB`; the port gives
the same 8-bit images in both modes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._awcxv_colour import script_chroma, script_luminance, script_recolour
from methods._base import FusionMethod
from methods._flat_tokens import load_official_state
from methods._per_image import per_image
from methods._protocol import levels
from methods._registry import register_method
from methods._weights import official_weights

__all__ = ['GIFNet', 'GIFNetNet', 'png_gray', 'truncated_luminance']

PAPER = ('C. Cheng, T. Xu, Z. Feng, X. Wu, Z. Tang, H. Li, Z. Zhang, S. Atito, M. Awais and J. Kittler, One Model '
         'for ALL: Low-Level Task Interaction Is a Key to Task-Agnostic Image Fusion, CVPR 2025, 28102-28112')
LICENCE = 'no licence file in AWCXV/GIFNet'
DIM = 98  # 2 input channels + 3 x 32 shared features
WINDOW = 8
HEADS = 2
VERIFIED = ('official code: test.py --VIS_IS_RGB on 7 pairs (5 TNO, MSRS, RoadScene): identical 8-bit images '
            '(inf dB, max diff 0)')
NOTE = ('slow on a CPU: about 210 GMAC per 640x480 pair (98-channel full-resolution convolutions and window '
        'attention); 11.5 s for a 768x576 TNO pair on an idle 2-core CPU (87 s at 640x480 on a loaded one), so prefer '
        '--device cuda for whole data sets')
_PREFIXES = {'shared.0.': 'getSharedFeatures.conv_1.conv2d.', 'shared.1.': 'getSharedFeatures.conv_2.conv2d.',
             'shared.2.': 'getSharedFeatures.conv_3.conv2d.',
             'embed_ivif.': 'extractor_multask.SwinTransformerSpecific.patch_embed_ivif.proj.',
             'embed_mfif.': 'extractor_multask.SwinTransformerSpecific.patch_embed_mfif.proj.',
             'blocks.': 'extractor_multask.SwinTransformerSpecific.layer1.blocks.',
             'mix.': 'extractor_multask.SwinTransformerSpecific.layer1.weights_mfif.',
             'unembed.': 'extractor_multask.SwinTransformerSpecific.patch_unembed.proj.0.',
             'mix_mlp.': 'cnnDecoder.fuseComplementFeatures.mlp.', 'decoder.': 'cnnDecoder.decoder.'}
_UNUSED = ('decoder_rec.', 'extractor_multask.SwinTransformerSpecific.layer1.weights.')


class RLN(nn.Module):
    """The official revised LayerNorm: normalised input, and the 1x1 maps of its std and mean."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, dim, 1, 1))
        self.meta1 = nn.Conv2d(1, dim, 1)
        self.meta2 = nn.Conv2d(1, dim, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mean = torch.mean(x, dim=(1, 2, 3), keepdim=True)
        std = torch.sqrt((x - mean).pow(2).mean(dim=(1, 2, 3), keepdim=True) + self.eps)
        return (x - mean) / std * self.weight + self.bias, self.meta1(std), self.meta2(mean)


def _relative_positions(window: int) -> Tensor:
    """log-spaced (dy, dx) between the tokens of a window: (window**2, window**2, 2); the checkpoint holds it too."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    return torch.sign(rel) * torch.log(1. + rel.abs())


class WindowAttention(nn.Module):
    """Multi-head attention inside each window, with an MLP position bias (`trainingTag=2`)."""

    def __init__(self, dim: int, shift: int) -> None:
        super().__init__()
        self.dim, self.shift, self.scale = dim, shift, (dim // HEADS) ** -0.5
        self.register_buffer('relative_positions', _relative_positions(WINDOW))
        self.meta = nn.Sequential(nn.Linear(2, 256), nn.ReLU(True), nn.Linear(256, HEADS))

    def _split(self, qkv: Tensor) -> Tensor:
        b, n, _ = qkv.shape
        return qkv.reshape(b, n, 3, HEADS, self.dim // HEADS).permute(2, 0, 3, 1, 4)

    def _mix(self, attn: Tensor, v: Tensor, bias: Tensor) -> Tensor:
        attn = torch.softmax(attn + bias.unsqueeze(0), dim=-1)
        return (attn @ v).transpose(1, 2).reshape(v.shape[0], v.shape[2], self.dim)

    def forward(self, qkv: Tensor | None, qkv_mfif: Tensor) -> tuple[Tensor | None, Tensor]:
        q_m, k_m, v_m = self._split(qkv_mfif)
        q_m = q_m * self.scale
        bias = self.meta(self.relative_positions).permute(2, 0, 1).contiguous()
        out_mfif = self._mix(q_m @ k_m.transpose(-2, -1), v_m, bias)
        if qkv is None:
            return None, out_mfif
        q, k, v = self._split(qkv)
        # the unshifted block lets the IVIF stream attend with the MFIF queries
        query = q_m if self.shift == 0 else q * self.scale
        return self._mix(query @ k.transpose(-2, -1), v, bias), out_mfif


def _windows(x: Tensor) -> Tensor:
    b, h, w, c = x.shape
    x = x.view(b, h // WINDOW, WINDOW, w // WINDOW, WINDOW, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, WINDOW ** 2, c)


def _unwindows(windows: Tensor, h: int, w: int) -> Tensor:
    b = int(windows.shape[0] / (h * w / WINDOW / WINDOW))
    x = windows.view(b, h // WINDOW, w // WINDOW, WINDOW, WINDOW, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, -1)


class Attention(nn.Module):
    """The official `Attention` with `conv_type='DWConv'`, `use_attn=True`: window attention plus a depthwise 5x5
    convolution of V, then a 1x1 projection; one set of layers per stream."""

    def __init__(self, dim: int, shift: int) -> None:
        super().__init__()
        self.shift = shift
        for suffix in ('', '_mfif'):
            setattr(self, 'conv' + suffix, nn.Conv2d(dim, dim, 5, padding=2, groups=dim, padding_mode='reflect'))
            setattr(self, 'V' + suffix, nn.Conv2d(dim, dim, 1))
            setattr(self, 'proj' + suffix, nn.Conv2d(dim, dim, 1))
            setattr(self, 'QK' + suffix, nn.Conv2d(dim, 2 * dim, 1))
        self.attn = WindowAttention(dim, shift)

    def _pad(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = -h % WINDOW, -w % WINDOW
        if self.shift:
            s = self.shift
            return F.pad(x, (s, (WINDOW - s + pad_w) % WINDOW, s, (WINDOW - s + pad_h) % WINDOW), mode='reflect')
        return F.pad(x, (0, pad_w, 0, pad_h), 'reflect')

    def _attend(self, qkv: Tensor) -> tuple[Tensor, torch.Size]:
        """Windows (nW * N, WINDOW**2, C) of the padded (shifted) map, and its padded size."""
        padded = self._pad(qkv)
        return _windows(padded.permute(0, 2, 3, 1)), padded.shape[2:]

    def _back(self, windows: Tensor, size, h: int, w: int) -> Tensor:
        s = self.shift
        return _unwindows(windows, *size)[:, s:s + h, s:s + w, :].permute(0, 3, 1, 2)

    def forward(self, x: Tensor | None, x_mfif: Tensor) -> tuple[Tensor | None, Tensor]:
        h, w = x_mfif.shape[-2:]
        v_m = self.V_mfif(x_mfif)
        win_m, size = self._attend(torch.cat([self.QK_mfif(x_mfif), v_m], 1))
        win = None
        if x is not None:
            v = self.V(x)
            win, _ = self._attend(torch.cat([self.QK(x), v], 1))
        out, out_m = self.attn(win, win_m)
        out_mfif = self.proj_mfif(self.conv_mfif(v_m) + self._back(out_m, size, h, w))
        if x is None:
            return None, out_mfif
        return self.proj(self.conv(v) + self._back(out, size, h, w)), out_mfif


class Mlp(nn.Module):
    """1x1 convolutions dim -> 2 dim, ReLU, -> dim (official key `mlp.mlp.0.weight`)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Conv2d(dim, 2 * dim, 1), nn.ReLU(True), nn.Conv2d(2 * dim, dim, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(x)


class TransformerBlock(nn.Module):
    """Norm, attention (rescaled by the norm's maps), residual, 1x1 MLP, residual; for both streams."""

    def __init__(self, dim: int, shift: int) -> None:
        super().__init__()
        self.norm1, self.norm1_mfif = RLN(dim), RLN(dim)
        self.attn = Attention(dim, shift)
        self.mlp, self.mlp_mfif = Mlp(dim), Mlp(dim)

    def forward(self, x: Tensor | None, x_mfif: Tensor) -> tuple[Tensor | None, Tensor]:
        n_m, scale_m, shift_m = self.norm1_mfif(x_mfif)
        n = scale = shift = None
        if x is not None:
            n, scale, shift = self.norm1(x)
        a, a_m = self.attn(n, n_m)
        x_mfif = x_mfif + (a_m * scale_m + shift_m)
        x_mfif = x_mfif + self.mlp_mfif(x_mfif)
        if x is None:
            return None, x_mfif
        x = x + (a * scale + shift)
        return x + self.mlp(x), x_mfif


def _decoder(cin: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for k, cout in enumerate((64, 32, 16, 1)):
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3), nn.Tanh() if k == 3 else nn.ReLU(True)]
        cin = cout
    return nn.Sequential(*layers)


class GIFNetNet(nn.Module):
    """The infrared-visible path of `TwoBranchesFusionNet` on (N, 1, H, W) IR and visible luminance in [0, 1];
    returns `tanh(...) / 2 + 0.5` (N, 1, H, W)."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.ModuleList(nn.Conv2d(cin, 32, 3) for cin in (2, 34, 66))
        self.embed_ivif = nn.Conv2d(DIM, DIM, 3, padding=1, padding_mode='reflect')
        self.embed_mfif = nn.Conv2d(DIM, DIM, 3, padding=1, padding_mode='reflect')
        self.blocks = nn.ModuleList([TransformerBlock(DIM, 0), TransformerBlock(DIM, WINDOW // 2)])
        self.mix = nn.ParameterList([nn.Parameter(torch.zeros(1)) for _ in range(2)])
        self.unembed = nn.Conv2d(DIM, DIM, 3, padding=1, padding_mode='reflect')
        self.mix_mlp = nn.Sequential(nn.Conv2d(2 * DIM, DIM, 1, bias=False), nn.ReLU(),
                                     nn.Conv2d(DIM, 128, 1, bias=False))
        self.decoder = _decoder(128)

    def features(self, ir: Tensor, vis: Tensor) -> Tensor:
        x = torch.cat((ir, vis), 1)
        for conv in self.shared:
            x = torch.cat((x, F.relu(conv(F.pad(x, (1, 1, 1, 1), 'reflect')))), 1)
        return x

    def transformer(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        x = F.pad(x, (0, -w % 4, 0, -h % 4), 'reflect')
        x_ivif, x_mfif = self.embed_ivif(x), self.embed_mfif(x)
        x_ivif, x_mfif = self.blocks[0](x_ivif, x_mfif)
        x_mfif = x_mfif + self.mix[0] * x_ivif
        _, x_mfif = self.blocks[1](None, x_mfif)  # the second block's IVIF stream feeds nothing
        return self.unembed(x_mfif)[:, :, :h, :w]

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        shared = self.features(ir, vis)
        x = self.mix_mlp(torch.cat([shared, self.transformer(shared)], dim=1))
        return self.decoder(x) / 2 + 0.5


def png_gray(rgb: Tensor) -> Tensor:
    """`cv2.imread(path, IMREAD_GRAYSCALE)` of a colour PNG (RGB levels (N, 3, H, W) -> (N, 1, H, W) float32):
    OpenCV lets libpng convert, `png_set_rgb_to_gray(.., 0.299, 0.587)`, whose 15-bit coefficients are truncated
    and whose shift does not round: `(9797 R + 19234 G + 3737 B) >> 15` (checked against OpenCV 5.1.0 on all 2**24
    colours; not `cvtColor`'s formula, which differs by one level on about half the pixels of an MSRS image)."""
    r, g, b = rgb.round().to(torch.int64).unbind(1)
    return torch.div(r * 9797 + g * 19234 + b * 3737, 1 << 15, rounding_mode='floor').unsqueeze(1).float()


def truncated_luminance(rgb: Tensor) -> Tensor:
    """test.py's visible luminance of RGB levels (N, 3, H, W): the script's float64 Y, truncated to uint8
    (`astype(np.uint8)`) -> float32 levels (N, 1, H, W)."""
    return torch.trunc(script_luminance(rgb)).float()


class GIFNet(FusionMethod):
    """GIFNet with `test.py`'s input and output conventions: `--VIS_IS_RGB` (the README's infrared-visible command)
    by default, the script without that flag for `vis_is_rgb=False`."""

    def __init__(self, vis_is_rgb: bool = True) -> None:
        super().__init__()
        self.net = GIFNetNet()
        self.vis_is_rgb = vis_is_rgb

    def split_luminance(self, vis: Tensor):
        rgb = levels(vis, step=1.0)
        if not self.vis_is_rgb:  # cv2.imread(IMREAD_GRAYSCALE) of a colour PNG; the result stays gray
            return png_gray(rgb).double() / 255, ()
        return truncated_luminance(rgb).double() / 255, script_chroma(rgb)  # float64: already the script's Y

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        ir = levels(ir, step=1.0) / 255
        if not self.vis_is_rgb:  # gray read, output `(out * 255).astype(np.uint8)`: truncated (out is in [0, 1])
            return torch.trunc(self.net(ir, levels(vis, step=1.0) / 255) * 255) / 255
        if vis.dtype == torch.float64:  # a colour visible image: `recolour` finishes the script's output
            return self.net(ir, levels(vis, step=1.0) / 255)
        gray = levels(vis, step=1.0).expand(-1, 3, -1, -1)  # read as RGB by the script
        out = self.net(ir, truncated_luminance(gray) / 255)
        return script_recolour(out * 255, *script_chroma(gray))[:, :1] / 255

    def recolour(self, fused: Tensor, chroma) -> Tensor:
        if not chroma:  # vis_is_rgb=False: the script writes the gray result
            return fused.expand(-1, 3, -1, -1)
        return script_recolour(fused * 255, *chroma) / 255  # out * 255 in float32, as the script

    def bare_network(self, ir: Tensor, vis: Tensor):
        return lambda: self.net(ir, vis)


@register_method('gifnet', paper=PAPER, licence=LICENCE, year=2025, tags=('baseline', 'zoo'),
                 weights=[official_weights('gifnet/model/Final.model')], verification=VERIFIED, note=NOTE)
def gifnet(weights=None, vis_is_rgb: bool = True) -> GIFNet:
    """`vis_is_rgb`: test.py's `--VIS_IS_RGB` flag (the README's infrared-visible command sets it)."""
    method = GIFNet(vis_is_rgb)
    if weights is not None:
        state = torch.load(weights[0], map_location='cpu', weights_only=True)
        load_official_state(method.net, state, _PREFIXES, _UNUSED)
    return method
