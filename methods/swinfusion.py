"""SwinFusion (Ma, Tang, Fan, Huang, Mei & Ma, IEEE/CAA JAS 2022): cross-domain long-range learning with Swin
Transformer blocks; the infrared-visible model.

Port of Linfeng-Tang/SwinFusion @ ceeec3f (`models/network_swinfusion1.py`, `test_swinfusion.py`, `utils/
utils_image.py`, `data/dataloder.py`). Module and parameter names follow the official classes, so the official file
loads key for key.

Network as the official test script builds it: `SwinFusion(upscale=1, in_chans=1, img_size=128, window_size=8,
img_range=1., depths=[6, 6, 6, 6], embed_dim=60, num_heads=[6, 6, 6, 6], mlp_ratio=2, upsampler=None,
resi_connection='1conv')`. The constructor has no `depths`/`num_heads` arguments (they fall into `**kwargs` and are
ignored), so its defaults hold: one extraction stage of 4 Swin blocks per modality (`Ex_depths=[4]`), two fusion
stages (`Fusion_depths=[2, 2]`, each 2 self-attention blocks per modality then 2 cross-attention blocks) and one
reconstruction stage of 4 blocks (`Re_depths=[4]`), 6 heads everywhere, windows of 8 x 8 tokens, every second block
shifted by 4 (attention mask -100 across the shifted regions), GELU MLPs of width 120, LayerNorm (eps 1e-5). The
RSTB/CRSTB stages have no residual connection and no convolution (commented out in the official code). Quirks kept:

* both modalities go through `conv_first1_A`/`conv_first2_A` (3x3 1->30->60, LeakyReLU 0.2):
  `forward_features_Ex_B` uses the A convolutions; `conv_first1_B`/`conv_first2_B` are trained-but-unused parameters
  (loaded, never applied);
* one `patch_embed` LayerNorm is shared by all four token embeddings (both extraction inputs, both fusion inputs,
  reconstruction input);
* fusion: both token streams cross-attend (queries of one, keys/values of the other), are normalised separately,
  concatenated (120 channels) and reduced by `conv_after_body_Fusion` (3x3, LeakyReLU 0.2); reconstruction ends with
  3x3 convolutions 60->30->15->1 (LeakyReLU 0.2 between, none at the end);
* `mean` is zero and `img_range` 1 for one input channel, so the input and output scaling are identities.

The official file stores the buffers `relative_position_index` of every attention and `attn_mask` of every shifted
block (computed for 128 x 128 tokens); the loader checks that they equal the ones this port computes and leaves them
out. The test script loads `{iter}_E.pth` (the exponential moving average of the weights), although it checks that
`{iter}_G.pth` exists first; `torch.load(...)['params']` if that key is present, else the bare state dict
(`models/model_base.py` saves the bare state dict of the unwrapped network: no `module.` prefixes).

Test protocol of `test_swinfusion.py` (the default, `swinfusion`):

* infrared and visible luminance files read by `cv2.imread(path, 0)` (uint8), `np.float32(img / 255.)`;
* each input padded to `(h // 8 + 1) * 8` rows and `(w // 8 + 1) * 8` columns by appending its mirror image
  (`torch.cat([x, torch.flip(x, [2])], 2)[:, :, :h_new]`: symmetric padding, the edge row repeated; always at least
  one row and one column, 8 when the size is already a multiple of 8); `model(ir, vis)`; cropped back to h x w;
* saved as `np.uint8((x.clamp(0, 1) * 255.).round())` (`tensor2uint`, round half to even) by `cv2.imwrite`.

Colour: the official script takes a prepared luminance folder (`--B_dir=VI_Y`) and writes the fused luminance; it does
not say how the luminance was made. The port does what the authors' VIF-Benchmark wrapper of the same network does
(Linfeng-Tang/VIF-Benchmark @ 23f2e51, `SwinFusion/SwinFusion.py`, `utils/utils_image.py: img2RGB`): the visible
luminance is `cv2.imread(visible, 0)` of the RGB file (libpng's fixed-point 0.299/0.587 gray for a PNG; for a JPEG,
OpenCV takes the decoder's luma plane instead, which can differ by a level from the gray of the decoded RGB that the
port sees), and the fused gray image is recoloured with the visible image's PIL Cb/Cr (`Image.merge('YCbCr', ...)
.convert('RGB')`). A gray image stored as three equal channels reads the same either way.

Registered names:

* `swinfusion`: `Model/Infrared_Visible_Fusion/Infrared_Visible_Fusion/models/10000_E.pth`, the file
  `test_swinfusion.py` loads (its README's VIF command: `--iter_number=10000`);
* `swinfusion-vifbench`: the same protocol with `10000_G.pth`, the raw generator weights, which VIF-Benchmark ships as
  `Checkpoint/SwinFusion/SwinFusion.pth` (identical git blob).

Verification: the official `test_swinfusion.py` (run on a CPU) with random weights written in the official layout,
and this port loading that file through the same loader as a user's file: bit-identical float outputs before
quantisation (max abs diff 0) and identical PNGs, gray and recoloured as VIF-Benchmark does, on 3 synthetic sizes (37
x 53, 64 x 48, 121 x 127) and 5 real pairs (TNO-42 05, 08, 37; RoadScene FLIR_00006; MSRS 00004N);
`tests/methods/test_swinfusion.py` keeps a digest and says how it was made. The official weight files (>= 4 MiB)
were not available here, so no output of the trained model was compared.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._protocol import PILColour, levels
from methods._registry import register_method
from methods._weights import official_weights
from methods.umf_cmgr import cv2_png_gray

__all__ = ['SwinFusion', 'SwinFusionNet', 'load_swinfusion_state', 'symmetric_pad']

PAPER = ('J. Ma, L. Tang, F. Fan, J. Huang, X. Mei and Y. Ma, SwinFusion: Cross-domain long-range learning for '
         'general image fusion via Swin Transformer, IEEE/CAA Journal of Automatica Sinica 9(7), 2022')
LICENCE = ('no licence file in Linfeng-Tang/SwinFusion (code based on SwinIR, Apache-2.0); Linfeng-Tang/VIF-Benchmark '
           '(MIT) ships the G file')
WINDOW = 8
EMBED = 60
HEADS = 6
TRAIN_TOKENS = 128  # img_size: the token grid the stored attention masks were computed for


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


def relative_position_index(window: int) -> Tensor:
    """(window**2, window**2) index into the (2 window - 1)**2 bias table (Swin's layout)."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[..., 0] * (2 * window - 1) + rel[..., 1]


def window_partition(x: Tensor, window: int) -> Tensor:
    """(B, H, W, C) -> (B * windows, window * window, C), windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, c)


def window_reverse(windows: Tensor, window: int, h: int, w: int) -> Tensor:
    c = windows.shape[-1]
    x = windows.view(-1, h // window, w // window, window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


def shift_mask(h: int, w: int, window: int, shift: int) -> Tensor:
    """Attention mask of shifted windows on an h x w token grid: 0 within a region, -100 across regions."""
    def regions(n: int) -> Tensor:
        idx = torch.arange(n)
        return (idx >= n - window).long() + (idx >= n - shift).long()
    label = (regions(h)[:, None] * 3 + regions(w)[None, :]).float()
    windows = window_partition(label[None, :, :, None], window).squeeze(-1)
    diff = windows.unsqueeze(1) - windows.unsqueeze(2)
    return torch.where(diff != 0, torch.tensor(-100.0), torch.tensor(0.0))


class WindowAttention(nn.Module):
    """Multi-head attention inside each window with Swin's relative position bias; `cross` takes the queries from
    one stream and keys/values from the other (`Cross_WindowAttention`: `q` and `kv` projections)."""

    def __init__(self, dim: int, heads: int, window: int, cross: bool = False) -> None:
        super().__init__()
        self.heads, self.window, self.cross = heads, window, cross
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        self.register_buffer('relative_position_index', relative_position_index(window), persistent=False)
        if cross:
            self.q = nn.Linear(dim, dim)
            self.kv = nn.Linear(dim, 2 * dim)
        else:
            self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor | None, y: Tensor | None = None) -> Tensor:
        b, n, c = x.shape
        split = (b, n, -1, self.heads, c // self.heads)
        if self.cross:
            q = self.q(x).reshape(split).permute(2, 0, 3, 1, 4)[0]
            k, v = self.kv(y).reshape(split).permute(2, 0, 3, 1, 4).unbind(0)
        else:
            q, k, v = self.qkv(x).reshape(split).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            windows = mask.shape[0]
            attn = (attn.view(b // windows, windows, self.heads, n, n) + mask[None, :, None]).view(-1, self.heads, n, n)
        return self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c))


class _Shifted(nn.Module):
    """What Swin blocks share: the shift of odd blocks and its attention mask (cached per token grid)."""

    def __init__(self, shift: int) -> None:
        super().__init__()
        self.shift = shift
        self._masks: dict[tuple, Tensor] = {}

    def mask(self, size: tuple[int, int], device: torch.device) -> Tensor | None:
        if not self.shift:
            return None
        key = (*size, device)
        if key not in self._masks:
            self._masks[key] = shift_mask(*size, WINDOW, self.shift).to(device)
        return self._masks[key]

    def to_windows(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        x = x.view(x.shape[0], *size, -1)
        if self.shift:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        return window_partition(x, WINDOW)

    def from_windows(self, windows: Tensor, size: tuple[int, int]) -> Tensor:
        x = window_reverse(windows, WINDOW, *size)
        if self.shift:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        return x.reshape(x.shape[0], size[0] * size[1], -1)


class SwinBlock(_Shifted):
    """`SwinTransformerBlock`: (shifted) window self-attention and an MLP, each pre-normed with a residual."""

    def __init__(self, dim: int, heads: int, shift: int, mlp_ratio: float = 2.0) -> None:
        super().__init__(shift)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, WINDOW)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        attn = self.attn(self.to_windows(self.norm1(x), size), self.mask(size, x.device))
        x = x + self.from_windows(attn, size)
        return x + self.mlp(self.norm2(x))


class CrossSwinBlock(_Shifted):
    """`Cross_SwinTransformerBlock`: each stream attends to the other (queries from itself), then its own MLP."""

    def __init__(self, dim: int, heads: int, shift: int, mlp_ratio: float = 2.0) -> None:
        super().__init__(shift)
        self.norm1_A, self.norm1_B = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn_A = WindowAttention(dim, heads, WINDOW, cross=True)
        self.attn_B = WindowAttention(dim, heads, WINDOW, cross=True)
        self.norm2_A, self.norm2_B = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.mlp_A, self.mlp_B = Mlp(dim, int(dim * mlp_ratio)), Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor, y: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        mask = self.mask(size, x.device)
        xw, yw = self.to_windows(self.norm1_A(x), size), self.to_windows(self.norm1_B(y), size)
        x = x + self.from_windows(self.attn_A(xw, mask, yw), size)
        y = y + self.from_windows(self.attn_B(yw, mask, xw), size)
        return x + self.mlp_A(self.norm2_A(x)), y + self.mlp_B(self.norm2_B(y))


class _Blocks(nn.Module):
    """`BasicLayer` / `Cross_BasicLayer`: a list of blocks, every second one shifted by half a window."""

    def __init__(self, block: type, depth: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(block(EMBED, HEADS, 0 if i % 2 == 0 else WINDOW // 2) for i in range(depth))

    def forward(self, *streams_and_size):
        *streams, size = streams_and_size
        for blk in self.blocks:
            streams = blk(*streams, size)
            streams = streams if isinstance(streams, tuple) else (streams,)
        return streams if len(streams) > 1 else streams[0]


class RSTB(nn.Module):
    """Self-attention stage (`RSTB` without its commented-out residual and convolution)."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.residual_group = _Blocks(SwinBlock, depth)

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        return self.residual_group(x, size)


class CRSTB(nn.Module):
    """Fusion stage: self-attention per modality (`residual_group_A`/`_B`), then cross-attention
    (`residual_group`); no residual connections."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.residual_group = _Blocks(CrossSwinBlock, depth)
        self.residual_group_A = _Blocks(SwinBlock, depth)
        self.residual_group_B = _Blocks(SwinBlock, depth)

    def forward(self, x: Tensor, y: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        return self.residual_group(self.residual_group_A(x, size), self.residual_group_B(y, size), size)


class _PatchEmbed(nn.Module):
    """Feature map (B, C, H, W) -> tokens (B, H W, C), LayerNorm'd (`PatchEmbed` with patch size 1)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.flatten(2).transpose(1, 2))


def _unembed(x: Tensor, size: tuple[int, int]) -> Tensor:
    return x.transpose(1, 2).reshape(x.shape[0], -1, *size)


class SwinFusionNet(nn.Module):
    """The official `SwinFusion` network with the infrared-visible settings (module docstring): (N, 1, H, W) inputs,
    reflection-padded to multiples of 8 inside and cropped back, as the official `forward` does."""

    def __init__(self, ex_depth: int = 4, fusion_depths: tuple[int, ...] = (2, 2), re_depth: int = 4) -> None:
        super().__init__()
        half = EMBED // 2
        self.conv_first1_A = nn.Conv2d(1, half, 3, 1, 1)
        self.conv_first1_B = nn.Conv2d(1, half, 3, 1, 1)  # unused by the official forward
        self.conv_first2_A = nn.Conv2d(half, EMBED, 3, 1, 1)
        self.conv_first2_B = nn.Conv2d(half, half, 3, 1, 1)  # unused by the official forward
        self.patch_embed = _PatchEmbed(EMBED)
        self.layers_Ex_A = nn.ModuleList([RSTB(ex_depth)])
        self.norm_Ex_A = nn.LayerNorm(EMBED)
        self.layers_Ex_B = nn.ModuleList([RSTB(ex_depth)])
        self.norm_Ex_B = nn.LayerNorm(EMBED)
        self.layers_Fusion = nn.ModuleList(CRSTB(d) for d in fusion_depths)
        self.norm_Fusion_A = nn.LayerNorm(EMBED)
        self.norm_Fusion_B = nn.LayerNorm(EMBED)
        self.layers_Re = nn.ModuleList([RSTB(re_depth)])
        self.norm_Re = nn.LayerNorm(EMBED)
        self.conv_after_body_Fusion = nn.Conv2d(2 * EMBED, EMBED, 3, 1, 1)
        self.conv_last1 = nn.Conv2d(EMBED, half, 3, 1, 1)
        self.conv_last2 = nn.Conv2d(half, half // 2, 3, 1, 1)
        self.conv_last3 = nn.Conv2d(half // 2, 1, 3, 1, 1)

    @staticmethod
    def _lrelu(x: Tensor) -> Tensor:
        return F.leaky_relu(x, 0.2)

    def _extract(self, x: Tensor, layers: nn.ModuleList, norm: nn.LayerNorm) -> Tensor:
        x = self._lrelu(self.conv_first2_A(self._lrelu(self.conv_first1_A(x))))  # A convolutions for both
        size = (x.shape[2], x.shape[3])
        t = self.patch_embed(x)
        for layer in layers:
            t = layer(t, size)
        return _unembed(norm(t), size)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        h, w = ir.shape[-2:]
        pad = (0, -w % WINDOW, 0, -h % WINDOW)  # `check_image_size`: reflection to a multiple of the window
        if any(pad):
            ir, vis = F.pad(ir, pad, mode='reflect'), F.pad(vis, pad, mode='reflect')
        x = self._extract(ir, self.layers_Ex_A, self.norm_Ex_A)
        y = self._extract(vis, self.layers_Ex_B, self.norm_Ex_B)
        size = (x.shape[2], x.shape[3])
        tx, ty = self.patch_embed(x), self.patch_embed(y)
        for layer in self.layers_Fusion:
            tx, ty = layer(tx, ty, size)
        fused = torch.cat([_unembed(self.norm_Fusion_A(tx), size), _unembed(self.norm_Fusion_B(ty), size)], 1)
        t = self.patch_embed(self._lrelu(self.conv_after_body_Fusion(fused)))
        for layer in self.layers_Re:
            t = layer(t, size)
        x = _unembed(self.norm_Re(t), size)
        return self.conv_last3(self._lrelu(self.conv_last2(self._lrelu(self.conv_last1(x)))))[..., :h, :w]


def _stored_buffers(net: SwinFusionNet) -> dict[str, Tensor]:
    """The buffers the official file holds besides the parameters, as the official constructor computes them."""
    out = {}
    for name, module in net.named_modules():
        if isinstance(module, WindowAttention):
            out[f'{name}.relative_position_index'] = module.relative_position_index
        elif isinstance(module, _Shifted) and module.shift:
            out[f'{name}.attn_mask'] = shift_mask(TRAIN_TOKENS, TRAIN_TOKENS, WINDOW, module.shift)
    return out


def load_swinfusion_state(net: SwinFusionNet, path) -> None:
    """Loads an official SwinFusion file (`{iter}_E.pth` / `{iter}_G.pth`: the bare state dict, or `{'params':
    state}` as the test script also accepts) into `net`.

    Raises:
        ValueError: for a file that is not the infrared-visible SwinFusion state dict, or whose stored attention
            buffers differ from the official constructor's.
    """
    state = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(state, dict) and 'params' in state:
        state = state['params']
    if not isinstance(state, dict):
        raise ValueError(f'Expected a state dict in {path}, but got {type(state).__name__}.')
    buffers = _stored_buffers(net)
    expected = set(net.state_dict()) | set(buffers)
    if set(state) != expected:
        raise ValueError(f'{path} does not hold the SwinFusion infrared-visible state dict: missing '
                         f'{sorted(expected - set(state))[:3]}, unexpected {sorted(set(state) - expected)[:3]}.')
    for key, value in buffers.items():
        if not torch.equal(state[key].to(value.dtype), value):
            raise ValueError(f'{path}: buffer {key!r} differs from the one the official SwinFusion constructor '
                             'computes.')
    net.load_state_dict({k: v for k, v in state.items() if k not in buffers})


def symmetric_pad(x: Tensor, multiple: int = WINDOW) -> Tensor:
    """`test_swinfusion.py`'s padding: to `(h // multiple + 1) * multiple` rows and columns (one more multiple when
    already divisible) by appending the flipped image (symmetric: the edge row repeated). An image shorter than its
    padding (h < 4) gets only 2 h rows here; the network's own reflection padding completes it."""
    h, w = x.shape[-2:]
    x = torch.cat([x, x.flip(-2)], -2)[..., :(h // multiple + 1) * multiple, :]
    return torch.cat([x, x.flip(-1)], -1)[..., :(w // multiple + 1) * multiple]


class SwinFusion(PILColour, FusionMethod):
    """SwinFusion with the official test script's padding and saving (module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = SwinFusionNet()

    def split_luminance(self, vis: Tensor):
        rgb = levels(vis, step=1.0)
        return cv2_png_gray(rgb) / 255, rgb  # cv2.imread(visible, 0); recoloured by PILColour.recolour

    @staticmethod
    def _inputs(ir: Tensor, vis: Tensor) -> tuple[Tensor, Tensor]:
        # uint8 levels / 255 (float32), padded as the script pads
        return symmetric_pad(levels(ir, 1.0) / 255), symmetric_pad(levels(vis, 1.0) / 255)

    def network_output(self, ir: Tensor, vis: Tensor) -> Tensor:
        """The float output the script quantises: padded, fused, cropped (no clamp)."""
        h, w = ir.shape[-2:]
        return self.net(*self._inputs(ir, vis))[..., :h, :w]

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        return (self.network_output(ir, vis).clamp(0, 1) * 255).round() / 255  # tensor2uint

    def bare_network(self, ir: Tensor, vis: Tensor):
        a, b = self._inputs(ir, vis)
        return lambda: self.net(a, b)


_COMMON = dict(paper=PAPER, licence=LICENCE, year=2022, tags=('baseline', 'zoo'),
               note='slow on a CPU: 42 s a 640x480 pair on an idle 2-core CPU (window attention at full '
                    'resolution), so prefer --device cuda for whole data sets')
_MODELS = 'swinfusion/Model/Infrared_Visible_Fusion/Infrared_Visible_Fusion/models'


def _build(weights) -> SwinFusion:
    method = SwinFusion()
    if weights is not None:
        load_swinfusion_state(method.net, weights[0])
    return method


@register_method('swinfusion', weights=[official_weights(f'{_MODELS}/10000_E.pth')], **_COMMON,
                 verification='random-weight equality with the official test_swinfusion.py: 3 sizes and 5 real '
                              'pairs, max abs diff 0 before quantisation, identical PNGs')
def swinfusion(weights=None) -> SwinFusion:
    return _build(weights)


@register_method('swinfusion-vifbench', weights=[official_weights(f'{_MODELS}/10000_G.pth')], **_COMMON,
                 verification='network and protocol as swinfusion (random-weight equality: max abs diff 0); '
                              "VIF-Benchmark's G file")
def swinfusion_vifbench(weights=None) -> SwinFusion:
    return _build(weights)
