"""CSF (Xu, Zhang & Ma, IEEE TCI 2021): fusion weights from the saliency of a modality classifier.

Port of the official TensorFlow code and weights (hanna-xu/CSF @ 0eb2b07: encoder and decoder from `models_ED/4`,
classifier from `models_EC/4`), reproducing `generate.py` as coded (VIF-Benchmark runs the same file):

1. luminance `imread(flatten=True, mode='YCbCr') / 255.0 - 0.5) * 2` (float32), encoder features of both images;
2. `shift = vis - mean(vis) + mean(ir)`; the classifier (batch norm in inference mode) sees the encoder features of
   interpolation sample 0, `shift + (ir - shift) / samples` for IR and `ir + (shift - ir) / samples` for VIS;
3. the gradients of its logits (index 1 = IR, 0 = VIS) w.r.t. those features, `|g| / samples`: the official
   "integrated gradients" take the gradient of batch element 0's logit only, so the other samples contribute zeros
   to the mean;
4. `d_ir += mean(d_vis) - mean(d_ir)`, weights `softmax(d_vis / c, d_ir / c)` per feature element, c = 1.5e-4, in
   float64 (written as a sigmoid, which equals the official `exp` quotient wherever that does not overflow);
5. decode the weighted features, `tanh / 2 + 0.5`, scipy `imsave` min-max stretch.

The classifier gradients need autograd at test time: `forward` computes them under `torch.inference_mode(False)` and
`torch.enable_grad()` on a fresh copy of the features, so `fuse` (inference mode) works unchanged and no parameter
gradient is ever computed.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._protocol import PILColour, bytescale, imread_flatten_ycbcr, layout_option
from methods._registry import register_method
from methods._tf_port import load_tf_convs, read_official_checkpoint
from methods._weights import official_weights
from methods._per_image import per_image

PAPER = ('H. Xu, H. Zhang and J. Ma, Classification Saliency-Based Rule for Visible and Infrared Image Fusion, '
         'IEEE Transactions on Computational Imaging 7, 2021')
LICENCE = 'no licence file in hanna-xu/CSF'
C = 0.00015
BN_EPS = 1e-3  # tf.layers.batch_normalization's default


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 5, padding=2, padding_mode='reflect')


class Classifier(nn.Module):
    """4 x [conv 5x5 (reflect), batch norm (inference), lrelu 0.2, max-pool 2 'SAME'], then the spatial mean."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList([_conv(24, 32), _conv(32, 64), _conv(64, 32), _conv(32, 2)])
        self.norms = nn.ModuleList([nn.BatchNorm2d(c, eps=BN_EPS) for c in (32, 64, 32, 2)])

    def forward(self, x: Tensor) -> Tensor:
        for conv, norm in zip(self.convs, self.norms):
            x = F.max_pool2d(F.leaky_relu(norm(conv(x)), 0.2), 2, 2, ceil_mode=True)
        return x.mean((2, 3))


class CSF(PILColour, FusionMethod):
    """CSF with `samples` interpolation steps (official: 10).

    `gray_as_rgb` (bool or (ir, vis) pair) as in `methods.sdnet`; by default each image is read as its file stores
    it (the official RoadScene results come from 1-channel JPEGs; TNO-42's PNGs store gray as RGB).
    """
    pil_luminance = 'F'

    def __init__(self, samples: int = 10, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> None:
        super().__init__()
        if samples < 1:
            raise ValueError(f'Expected `samples` >= 1, but got {samples}.')
        self.samples, self.gray_as_rgb = samples, layout_option(gray_as_rgb)
        self.encoder = nn.ModuleList([_conv(1, 16), _conv(16, 24), _conv(24, 24), _conv(24, 24)])
        self.decoder = nn.ModuleList([_conv(24, 16), _conv(16, 16), _conv(16, 16), _conv(16, 1)])
        self.classifier = Classifier()
        self.requires_grad_(False)

    def encode(self, x: Tensor) -> Tensor:
        for conv in self.encoder:
            x = F.leaky_relu(conv(x), 0.2)
        return x

    def decode(self, f: Tensor) -> Tensor:
        for conv in self.decoder[:-1]:
            f = F.leaky_relu(conv(f), 0.2)
        return torch.tanh(self.decoder[-1](f))

    def saliency(self, feats: Tensor, logit: Tensor) -> Tensor:
        """|d logit / d feats| per image (`logit`: (N,) class index per image), with autograd even when called in
        inference mode: on a fresh copy of the features, with no parameter gradients."""
        with torch.inference_mode(False), torch.enable_grad():
            x, index = feats.clone().requires_grad_(True), logit[:, None].clone()  # clones: normal tensors
            (grad,) = torch.autograd.grad(self.classifier(x).gather(1, index).sum(), x)
        return grad.abs()

    @staticmethod
    def _input(x: Tensor, stored_rgb: bool) -> Tensor:
        return (imread_flatten_ycbcr(x, stored_rgb) / 255.0 - 0.5) * 2  # float32, as numpy computes it

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        ir_rgb, vis_rgb = self.stored_layout(self.gray_as_rgb)
        ir, vis = self._input(ir, ir_rgb), self._input(vis, vis_rgb)
        mean = lambda t: t.double().mean((1, 2, 3), keepdim=True).float()  # noqa: E731
        shift = vis - mean(vis) + mean(ir)
        ir_path = shift + (ir - shift) / self.samples          # var_ir[0]
        vis_path = ir + (1 / self.samples) * (shift - ir)      # var_vis[0]
        f_ir, f_vis, e_ir, e_vis = self.encode(torch.cat([ir, vis, ir_path, vis_path])).chunk(4)
        n = ir.shape[0]
        which = torch.tensor([1] * n + [0] * n, device=ir.device)  # logit 1 = IR on the IR path, 0 = VIS
        d_ir, d_vis = (self.saliency(torch.cat([e_ir, e_vis]), which).double() / self.samples).chunk(2)
        d_ir = d_ir + d_vis.mean((1, 2, 3), keepdim=True) - d_ir.mean((1, 2, 3), keepdim=True)
        w_vis = torch.sigmoid((d_vis - d_ir) / C)
        fused = (w_vis * f_vis.double() + (1 - w_vis) * f_ir.double()).float()
        return bytescale(self.decode(fused) / 2 + 0.5) / 255


_ED, _EC = 'csf/models_ED/4/4.ckpt', 'csf/models_EC/4/4.ckpt'
_WEIGHTS = [official_weights(p + s) for p in (_ED, _EC) for s in ('.index', '.data-00000-of-00001')]


def _load(net: CSF, weights) -> CSF:
    if weights is None:
        return net
    ed, ec = read_official_checkpoint(weights[:2]), read_official_checkpoint(weights[2:])
    names = ('conv1_1', 'conv1_4', 'conv1_6', 'conv1_8')
    load_tf_convs({f'Encoder/encoder/{n}': c for n, c in zip(names, net.encoder)}, ed)
    load_tf_convs({f'Decoder/decoder/conv1_{i + 1}': c for i, c in enumerate(net.decoder)}, ed)
    cls = net.classifier
    load_tf_convs({f'Classification/classification/{n}': c
                   for n, c in zip(('conv1_6', 'conv1_8', 'conv1_9', 'conv1_11'), cls.convs)}, ec)
    with torch.no_grad():
        for i, norm in enumerate(cls.norms):
            scope = f'Classification/classification/b{i}/batch_normalization'
            for tf_name, tensor in (('gamma', norm.weight), ('beta', norm.bias), ('moving_mean', norm.running_mean),
                                    ('moving_variance', norm.running_var)):
                value = torch.from_numpy(ec[f'{scope}/{tf_name}'])
                if value.shape != tensor.shape:
                    raise ValueError(f'Checkpoint tensor {scope}/{tf_name} has shape {tuple(value.shape)}, the port '
                                     f'expects {tuple(tensor.shape)}.')
                tensor.copy_(value)
    return net


@register_method('csf', paper=PAPER, licence=LICENCE, tags=('baseline',), weights=_WEIGHTS, year=2021,
                 verification='published images: roadscene44_csf (44 official JPEGs): ours re-saved as JPEG q75, '
                              'median >= 43 dB (the released code\'s ceiling)')
def csf(weights=None, samples: int = 10, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> CSF:
    return _load(CSF(samples=samples, gray_as_rgb=gray_as_rgb), weights)
