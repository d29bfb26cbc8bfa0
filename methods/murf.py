"""MURF (Xu, Yuan & Ma, IEEE TPAMI 2023): its fine registration and fusion network, the stage that fuses.

MURF is three networks: shared information extraction, multi-scale coarse (affine) registration, and fine
registration and fusion (`F2M`). For aligned image pairs, which is what this benchmark fuses, the third is the one
that produces the fused image, and it is what `RGB-IR/fine_registration_and_fusion/test.py` runs. Port of
hanna-xu/MURF @ 79b270a (`RGB-IR/fine_registration_and_fusion/f2m_model.py`, `utils.py`, `test.py`) with the
checkpoint that script loads, `models/finetuning/0000.ckpt` (TF1 V2; no licence file in the repository).

Network (`f2m_net/...`), on the RGB visible image and the infrared image:

* offset branch `conv1_offset/offset_conv/convK/conv2d`: on [RGB, IR], 3x3 convs with reflection padding, 32
  channels: conv1 (+BN), max-pool 4/2 SAME, conv2 (no BN), pool, conv3 (+BN), pool, conv5 (+BN), then three
  decoder steps on [nearest-upsampled x2, skip] (conv6, conv7, conv8, each +BN), conv10 (16, +BN) and conv11 (2),
  `tanh * 0.2`: a deformation field in normalised coordinates. Every BN is TF1 `tf.contrib.layers.batch_norm`
  **in training mode** (`is_training=BN=True` in test.py): the image's own statistics (biased variance), epsilon
  1e-3, no scale, the checkpoint's beta; its moving averages are never used. Leaky ReLU `max(x, 0.2 x)`;
* the RGB image is resampled with that field by the official `grid_sample`: corner weights of bilinear
  interpolation turned into `softmax(w / 0.05)` over the four corners (a sharpened bilinear), coordinates
  `(g + 1) / 2 * (size - 1)`, samples outside the image set to 0;
* fusion: 1x1 convs RGB->8 (`w_a1`) and IR->8 (`w_b1`), 3x3 8->16 and 16->32 per stream (zero padding, leaky
  ReLU); channel attention on both streams from the mean and the max of |Laplacian| through two linear layers each
  (`dense`/`dense_1` on the means, `dense_2`/`dense_3` on the maxima, no activation between them), one sigmoid scale
  for both; `wf1` on the concatenation: its kernel is 3x3x32x32 on 64 input channels, which TensorFlow runs as a
  **grouped convolution** (2 groups: each stream makes 16 of the 32 outputs); then `wf2` 32->16, `wf3` 16->1,
  `tanh / 2 + 0.5`: the fused luminance;
* colour: the fused luminance with the Cb/Cr of the *resampled* RGB image (full-range BT.601 in float32,
  `0.299 R + 0.587 G + 0.114 B`, `Cb = -0.1687 R - 0.3313 G + 0.5 B + 128/255`, inverse 1.402 / 0.34414 / 0.71414 /
  1.772), not clipped.

Protocol of test.py (N = 1240):

* both images read with `scipy.misc.imread` (visible RGB, infrared gray) and resized to N x N with
  `scipy.misc.imresize` (PIL bilinear on uint8: `methods._resize.pil_resize_bilinear`, horizontal pass first as in
  Pillow 3.3-12), then `/ 255` in float32;
* the N x N colour result is resized back with `cv2.resize` (INTER_LINEAR, float32) and saved with
  `scipy.misc.toimage(x, cmin=0, cmax=x.max())`: `x * 255 / max` over all three channels, clipped at 0, +0.5,
  truncated.

The method's colour mode is 'rgb' (the network takes the RGB image and colours the result itself). A gray visible
image is fed as three equal channels (what test.py reads from a gray image stored as RGB); the result's three
channels are then equal up to float rounding (one pixel of one level on vifbench12's TNO pairs) and the port
returns the green one. test.py cannot read a gray image stored as one channel as the
visible input, nor an infrared image stored as three channels; the port takes both (the infrared grey levels as they
are).

Verification: the official test.py, run under TensorFlow 2 (compat.v1, patched only where TF 2 and a modern scipy
need it) on the 12 vifbench12 pairs, against the port fusing the same files: PSNR min 81.7, median 90.3 dB; every
value within one grey level (float32 summation order) except four pixels of pair 049, up to 7 levels off: there
one sample of the official resampler lies on the image border, at x = 1239.0 in TensorFlow (kept) and 1239.0001
here (outside, set to 0), a discontinuity of the official sampler that a one-ulp difference in the deformation
field decides. Details in `tests/methods/test_murf.py`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._protocol import levels, toimage_max
from methods._registry import register_method
from methods._resize import cv_resize_linear, pil_resize_bilinear
from methods._tf_port import check_tf_tensors, read_official_checkpoint
from methods._weights import official_weights

__all__ = ['F2MNet', 'MURF', 'soft_grid_sample', 'tf_linspace']

PAPER = ('H. Xu, J. Yuan and J. Ma, MURF: Mutually Reinforcing Multi-modal Image Registration and Fusion, IEEE '
         'Transactions on Pattern Analysis and Machine Intelligence 45(10), 2023')
LICENCE = 'none (no licence file in hanna-xu/MURF)'
CHECKPOINT = 'murf/RGB-IR/fine_registration_and_fusion/models/finetuning/0000.ckpt'
SIZE = 1240  # test.py's N: every pair is fused at N x N
SCOPE = 'f2m_net'
OFFSET = f'{SCOPE}/conv1_offset/offset_conv'
# offset convs in creation order, with (input, output) channels and whether a batch norm follows (BatchNorm, _1 ...)
OFFSET_CONVS = {'conv1': (4, 32, True), 'conv2': (32, 32, False), 'conv3': (32, 32, True), 'conv5': (32, 32, True),
                'conv6': (64, 32, True), 'conv7': (64, 32, True), 'conv8': (64, 32, True),
                'conv10': (32, 16, True), 'conv11': (16, 2, False)}
# fusion convs: TF name -> (kernel size, input channels, output channels, groups)
FUSION_CONVS = {'a1': (1, 3, 8, 1), 'b1': (1, 1, 8, 1), 'a2': (3, 8, 16, 1), 'b2': (3, 8, 16, 1),
                'a3': (3, 16, 32, 1), 'b3': (3, 16, 32, 1), 'f1': (3, 64, 32, 2), 'f2': (3, 32, 16, 1),
                'f3': (3, 16, 1, 1)}
# batch norms in creation order: TF scopes BatchNorm, BatchNorm_1, ... (ModuleDict/ParameterDict may reorder keys)
BATCH_NORMS = [k for k, (_, _, bn) in OFFSET_CONVS.items() if bn]
DENSE = {'dense': (32, 4), 'dense_1': (4, 32), 'dense_2': (32, 4), 'dense_3': (4, 32)}
_LAPLACIAN = ((0., 1., 0.), (1., -4., 1.), (0., 1., 0.))


def _lrelu(x: Tensor) -> Tensor:
    return torch.maximum(x, 0.2 * x)


def tf_linspace(n: int, device=None) -> Tensor:
    """`tf.linspace(-1.0, 1.0, n)` in float32: `-1 + i * float32(2 / (n - 1))`, the last value exactly 1."""
    step = torch.tensor(2.0, dtype=torch.float32) / (n - 1)
    out = -1.0 + torch.arange(n, dtype=torch.float32) * step
    out[-1] = 1.0
    return out.to(device)


def _max_pool_same(x: Tensor) -> Tensor:
    """`tf.nn.max_pool(ksize 4, stride 2, 'SAME')`: padding split top/left first, padded values never win."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((-(-size // 2) - 1) * 2 + 4 - size, 0)
        pads += [total // 2, total - total // 2]
    return F.max_pool2d(F.pad(x, pads, value=float('-inf')), 4, 2)


def _batch_stat_norm(x: Tensor, beta: Tensor) -> Tensor:
    """TF batch norm in training mode on a batch of one: the image's statistics, eps 1e-3, no scale, `beta`."""
    return F.batch_norm(x, None, None, training=True, eps=1e-3) + beta.view(1, -1, 1, 1)


def soft_grid_sample(img: Tensor, grid: Tensor) -> Tensor:
    """The official `grid_sample` / `bilinear_sampler`: (N, C, H, W) sampled at `grid` (N, 2, H', W'), x then y, in
    normalised coordinates [-1, 1].

    The four corner weights of bilinear interpolation (computed from the corner indices *after* clipping them to
    the image) go through `softmax(w / 0.05)`; samples whose coordinate lies outside [0, size - 1] are zero.
    """
    n, c, h, w = img.shape
    x = (grid[:, 0] + 1) / 2 * (w - 1)
    y = (grid[:, 1] + 1) / 2 * (h - 1)
    inside = ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).to(img.dtype).unsqueeze(1)
    x0, y0 = torch.floor(x).long(), torch.floor(y).long()
    x1, y1 = (x0 + 1).clamp(0, w - 1), (y0 + 1).clamp(0, h - 1)
    x0, y0 = x0.clamp(0, w - 1), y0.clamp(0, h - 1)
    fx0, fx1, fy0, fy1 = x0.to(x.dtype), x1.to(x.dtype), y0.to(x.dtype), y1.to(x.dtype)
    weights = torch.stack([(fx1 - x) * (fy1 - y), (fx1 - x) * (y - fy0), (x - fx0) * (fy1 - y),
                           (x - fx0) * (y - fy0)], 1)
    weights = torch.softmax(weights / 0.05, dim=1)
    flat = img.flatten(2)

    def pick(yy: Tensor, xx: Tensor) -> Tensor:
        index = (yy * w + xx).flatten(1).unsqueeze(1).expand(-1, c, -1)
        return flat.gather(2, index).view(n, c, *yy.shape[1:])

    corners = (pick(y0, x0), pick(y1, x0), pick(y0, x1), pick(y1, x1))  # Ia, Ib, Ic, Id
    out = weights[:, 0:1] * corners[0] + weights[:, 1:2] * corners[1]
    out = out + weights[:, 2:3] * corners[2]
    out = out + weights[:, 3:4] * corners[3]
    return out * inside


def rgb_to_ycbcr(rgb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The official `rgb2ycbcr` (float32, in the order TensorFlow evaluates it)."""
    r, g, b = rgb.split(1, 1)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.1687 * r - 0.3313 * g + 0.5 * b + 128 / 255.0
    cr = 0.5 * r - 0.4187 * g - 0.0813 * b + 128 / 255.0
    return y, cb, cr


def ycbcr_to_rgb(y: Tensor, cb: Tensor, cr: Tensor) -> Tensor:
    """The official `ycbcr2rgb`, not clipped."""
    r = y + 1.402 * (cr - 128 / 255.0)
    g = y - 0.34414 * (cb - 128 / 255.0) - 0.71414 * (cr - 128 / 255.0)
    b = y + 1.772 * (cb - 128 / 255.0)
    return torch.cat([r, g, b], 1)


class F2MNet(nn.Module):
    """`F2M_network.fuse` with the test-time offset branch: (RGB (N, 3, H, W), IR (N, 1, H, W)) on [0, 1] ->
    fused RGB (N, 3, H, W), not clipped. H and W must be multiples of 8 (three poolings, three upsamplings)."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = nn.ModuleDict({k: nn.Conv2d(cin, cout, 3) for k, (cin, cout, _) in OFFSET_CONVS.items()})
        self.offset_beta = nn.ParameterDict({k: nn.Parameter(torch.zeros(cout))
                                             for k, (_, cout, bn) in OFFSET_CONVS.items() if bn})
        self.fusion = nn.ModuleDict({k: nn.Conv2d(cin, cout, ks, padding=ks // 2, groups=g)
                                     for k, (ks, cin, cout, g) in FUSION_CONVS.items()})
        self.dense = nn.ModuleDict({k: nn.Linear(cin, cout) for k, (cin, cout) in DENSE.items()})
        self.register_buffer('laplacian', torch.tensor(_LAPLACIAN).view(1, 1, 3, 3), persistent=False)

    def _offset_conv(self, name: str, x: Tensor) -> Tensor:
        x = self.offset[name](F.pad(x, (1, 1, 1, 1), mode='reflect'))
        if name in self.offset_beta:
            x = _batch_stat_norm(x, self.offset_beta[name])
        return x if name == 'conv11' else _lrelu(x)

    def deformation(self, rgb: Tensor, ir: Tensor) -> Tensor:
        """The offset branch: (N, 2, H, W) displacement (x, y) in normalised coordinates."""
        def up(x: Tensor) -> Tensor:
            return x.repeat_interleave(2, 2).repeat_interleave(2, 3)  # resize_images(method=NEAREST), x2

        o1 = self._offset_conv('conv1', torch.cat([rgb, ir], 1))
        o2 = self._offset_conv('conv2', _max_pool_same(o1))
        o3 = self._offset_conv('conv3', _max_pool_same(o2))
        o5 = self._offset_conv('conv5', _max_pool_same(o3))
        o6 = self._offset_conv('conv6', torch.cat([up(o5), o3], 1))
        o7 = self._offset_conv('conv7', torch.cat([up(o6), o2], 1))
        o8 = self._offset_conv('conv8', torch.cat([up(o7), o1], 1))
        return torch.tanh(self._offset_conv('conv11', self._offset_conv('conv10', o8))) * 0.2

    def _attention(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        c = a.shape[1]
        kernel = self.laplacian.expand(c, 1, 3, 3)
        ga, gb = (F.conv2d(t, kernel, padding=1, groups=c).abs() for t in (a, b))
        avg = ga.mean((2, 3)) + gb.mean((2, 3))
        peak = ga.amax((2, 3)) + gb.amax((2, 3))
        avg = self.dense['dense_1'](self.dense['dense'](avg))
        peak = self.dense['dense_3'](self.dense['dense_2'](peak))
        scale = torch.sigmoid(avg + peak)[:, :, None, None]
        return a * scale, b * scale

    def fused_luminance(self, warped: Tensor, ir: Tensor) -> Tensor:
        conv = self.fusion
        a = _lrelu(conv['a3'](_lrelu(conv['a2'](_lrelu(conv['a1'](warped))))))
        b = _lrelu(conv['b3'](_lrelu(conv['b2'](_lrelu(conv['b1'](ir))))))
        a, b = self._attention(a, b)
        x = _lrelu(conv['f2'](_lrelu(conv['f1'](torch.cat([a, b], 1)))))
        return torch.tanh(conv['f3'](x)) / 2 + 0.5

    def forward(self, rgb: Tensor, ir: Tensor) -> Tensor:
        n, _, h, w = rgb.shape
        identity = torch.stack(torch.broadcast_tensors(tf_linspace(w, rgb.device).view(1, w),
                                                       tf_linspace(h, rgb.device).view(h, 1)))
        warped = soft_grid_sample(rgb, self.deformation(rgb, ir) + identity)
        _, cb, cr = rgb_to_ycbcr(warped)
        return ycbcr_to_rgb(self.fused_luminance(warped, ir), cb, cr)


class MURF(FusionMethod):
    """MURF's fusion stage with test.py's resizing and saving (module docstring).

    Args:
        size: the square size every pair is fused at (test.py's N = 1240; its comment says to set it to the source
            resolution); a multiple of 8.
    """
    colour = 'rgb'  # the network takes the RGB visible image and colours its result itself

    def __init__(self, size: int = SIZE) -> None:
        super().__init__()
        if size < 8 or size % 8:
            raise ValueError(f'Expected `size` to be a positive multiple of 8, but got {size}.')
        self.size = size
        self.net = F2MNet()

    def _inputs(self, ir: Tensor, vis: Tensor) -> tuple[Tensor, Tensor]:
        """uint8 levels resized to size x size by scipy.misc.imresize, / 255 in float32."""
        rgb = levels(vis, 1.0).expand(-1, 3, -1, -1)
        square = (self.size, self.size)
        return pil_resize_bilinear(rgb, square) / 255.0, pil_resize_bilinear(levels(ir, 1.0), square) / 255.0

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        rgb, ir_in = self._inputs(ir, vis)
        out = cv_resize_linear(self.net(rgb, ir_in), tuple(ir.shape[-2:]))
        out = toimage_max(out) / 255
        return out[:, 1:2] if vis.shape[1] == 1 else out

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # per-image maximum and batch statistics

    def bare_network(self, ir: Tensor, vis: Tensor):
        rgb, ir_in = self._inputs(ir, vis)
        return lambda: self.net(rgb, ir_in)


def _bn_scope(i: int) -> str:
    return f'{OFFSET}/BatchNorm' + (f'_{i}' if i else '')


def _expected_shapes(net: F2MNet) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for k, conv in net.offset.items():
        shapes[f'{OFFSET}/{k}/conv2d/kernel'] = tuple(conv.weight.permute(2, 3, 1, 0).shape)
        shapes[f'{OFFSET}/{k}/conv2d/bias'] = tuple(conv.bias.shape)
    for i, k in enumerate(BATCH_NORMS):
        for var in ('beta', 'moving_mean', 'moving_variance'):
            shapes[f'{_bn_scope(i)}/{var}'] = tuple(net.offset_beta[k].shape)
    for k, conv in net.fusion.items():
        shapes[f'{SCOPE}/w{"_" if k[0] != "f" else ""}{k}'] = tuple(conv.weight.permute(2, 3, 1, 0).shape)
        shapes[f'{SCOPE}/b{"_" if k[0] != "f" else ""}{k}'] = tuple(conv.bias.shape)
    for k, lin in net.dense.items():
        shapes[f'{SCOPE}/{k}/kernel'] = tuple(lin.weight.T.shape)
        shapes[f'{SCOPE}/{k}/bias'] = tuple(lin.bias.shape)
    return shapes


def load_f2m(net: F2MNet, weights) -> None:
    """Copies the `f2m_net` tensors of the official checkpoint into `net`.

    The checkpoint must hold exactly the port's tensors (names and shapes), so another network's file fails with a
    message naming the differences. The batch norms' moving averages are checked but not used (training-mode
    statistics at test time).

    Raises:
        CheckpointError: missing, unexpected or mis-shaped tensors.
    """
    expected = _expected_shapes(net)
    check_tf_tensors(weights, expected, 'MURF F2M')
    ckpt = {k: torch.from_numpy(v) for k, v in read_official_checkpoint(weights, sorted(expected)).items()}
    with torch.no_grad():
        for k, conv in net.offset.items():
            conv.weight.copy_(ckpt[f'{OFFSET}/{k}/conv2d/kernel'].permute(3, 2, 0, 1))
            conv.bias.copy_(ckpt[f'{OFFSET}/{k}/conv2d/bias'])
        for i, k in enumerate(BATCH_NORMS):
            net.offset_beta[k].copy_(ckpt[f'{_bn_scope(i)}/beta'])
        for k, conv in net.fusion.items():
            sep = '_' if k[0] != 'f' else ''
            conv.weight.copy_(ckpt[f'{SCOPE}/w{sep}{k}'].permute(3, 2, 0, 1))
            conv.bias.copy_(ckpt[f'{SCOPE}/b{sep}{k}'])
        for k, lin in net.dense.items():
            lin.weight.copy_(ckpt[f'{SCOPE}/{k}/kernel'].T)
            lin.bias.copy_(ckpt[f'{SCOPE}/{k}/bias'])


@register_method(
    'murf', paper=PAPER, licence=LICENCE, colour='rgb', year=2023, tags=('baseline',),
    weights=[official_weights(f'{CHECKPOINT}.index'), official_weights(f'{CHECKPOINT}.data-00000-of-00001')],
    verification='official code: vifbench12 (12 pairs), min 81.7, median 90.3 dB; within 1 level '
                 'except 4 border pixels of one pair (7 levels, a resampler discontinuity)',
    note='every pair is fused at 1240x1240 (test.py\'s N): about 10 s of CPU time (17 s wall on a shared 2-core '
         'machine) per pair, whatever its size')
def murf(weights=None, size: int = SIZE) -> MURF:
    method = MURF(size)
    if weights is not None:
        load_f2m(method.net, weights)
    return method
