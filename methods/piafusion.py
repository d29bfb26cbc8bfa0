"""PIAFusion (Tang, Yuan, Zhang, Jiang & Ma, Information Fusion 2022): a progressive, illumination-aware fusion
network; at test time only its fusion network runs.

Port of Linfeng-Tang/PIAFusion @ 10b5c59 (`train_network.py`, `ops.py`, `utils.py`, `model.py`'s `test()`), which
loads the TF1 checkpoint `checkpoint/PIAFusion/IAFusion.model-29`. That checkpoint holds the fusion network
(`PIAFusion/...`) and the illumination classifier (`classifier/Classifier/...`). The classifier weighs the
training loss by day/night probability; the test script builds and restores it but the fused image does not depend
on it, so the port checks its tensors' names and shapes and leaves them unused.

Network (`PIAFusion/encoder`, `PIAFusion/decoder`; 3x3 convs with reflection padding; leaky ReLU `max(x, 0.2 x)`
after every conv but the last: `train_network.py` imports `ops` (whose `lrelu` has slope 0.1) and then `utils`,
whose `lrelu(x, leak=0.2)` replaces it):

* encoder: 1x1 conv 1->16 per modality (`conv5x5_vi`, `conv5x5_ir`), then four blocks `Conv1..Conv4/conv3x3`
  (16->16, 16->32, 32->64, 64->128) whose weights the two modalities share; after each of the first three, the
  cross-modality differential aware fusion (CMDAF): `F_vi += sigmoid(GAP(F_ir - F_vi)) * (F_vi - F_ir)` and
  `F_ir += sigmoid(GAP(F_vi - F_ir)) * (F_ir - F_vi)`, both from the features before the update;
* decoder on [visible, infrared] features (256 channels): `conv1..conv4` 256->256->128->64->32, `conv1x1` 32->1,
  `tanh / 2 + 0.5`: the fused luminance.

Protocol of `model.py`'s `test()` (`python main.py --is_train=False`): infrared read with `cv2.imread(path, 0)`,
visible with `cv2.imread(path, 1)` and BGR->RGB, both `/ 255` in float32; the network fuses the studio-swing
BT.601 luma of the visible image `Y = 0.257 R + 0.564 G + 0.098 B + 16/255` with the infrared image; the result
is recoloured with the visible `Cb = -0.148 R - 0.291 G + 0.439 B + 128/255`, `Cr = 0.439 R - 0.368 G - 0.071 B +
128/255` by `R = 1.164 (Y - 16/255) + 1.596 (Cr - 128/255)`, `G = 1.164 (Y - 16/255) - 0.392 (Cb - 128/255) -
0.813 (Cr - 128/255)`, `B = 1.164 (Y - 16/255) + 2.017 (Cb - 128/255)` (float32, not clipped), multiplied by 255
and written by `cv2.imwrite` of the float array, which converts to uint8 by rounding to nearest (ties to even) and
saturating. The method's colour mode is 'rgb'. A gray visible image is read by the script as three equal channels
(so is it here); the result's channels then agree to float rounding and the port returns the green one.

The official data shard (`IAFusion.model-29.data-00000-of-00001`, 4.8 MiB) could not be obtained here, so the port
was proven equal to the official TensorFlow graph on a synthetic checkpoint with exactly the official names, dtypes
and shapes: see `tests/methods/test_piafusion.py`. The five official results on MSRS (`Fusion_results/MSRS`, the
msrs data set's `[results.PIAFusion]`) cannot be reproduced without that file; `bench run --results PIAFusion`
scores them as published.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._protocol import unit_levels_rgb
from methods._registry import register_method
from methods._tf_port import check_tf_tensors, load_tf_convs, read_official_checkpoint
from methods._weights import official_weights

__all__ = ['PIAFusionNet', 'PIAFusion', 'OFFICIAL_TENSORS', 'cv_round_saturate']

PAPER = ('L. Tang, J. Yuan, H. Zhang, X. Jiang and J. Ma, PIAFusion: A progressive infrared and visible image fusion '
         'network based on illumination aware, Information Fusion 83-84, 2022')
LICENCE = 'MIT (Linfeng-Tang/PIAFusion)'
CHECKPOINT = 'piafusion/checkpoint/PIAFusion/IAFusion.model-29'
ENCODER = {'conv5x5_vi': (1, 1, 16), 'conv5x5_ir': (1, 1, 16), 'Conv1/conv3x3': (3, 16, 16),
           'Conv2/conv3x3': (3, 16, 32), 'Conv3/conv3x3': (3, 32, 64), 'Conv4/conv3x3': (3, 64, 128)}
DECODER = {'conv1': (3, 256, 256), 'conv2': (3, 256, 128), 'conv3': (3, 128, 64), 'conv4': (3, 64, 32),
           'conv1x1': (1, 32, 1)}
# The illumination classifier stored in the same checkpoint (not used at test time): 4x4 stride-2 convs and two
# dense layers.
CLASSIFIER = {'conv1/kernel': (4, 4, 3, 16), 'conv2/kernel': (4, 4, 16, 32), 'conv3/kernel': (4, 4, 32, 64),
              'conv4/kernel': (4, 4, 64, 128), 'dense/kernel': (128, 128), 'dense_1/kernel': (128, 2)}


def _official_tensors() -> dict[str, tuple[int, ...]]:
    shapes = {}
    for scope, table in (('PIAFusion/encoder', ENCODER), ('PIAFusion/decoder', DECODER)):
        for name, (k, cin, cout) in table.items():
            shapes[f'{scope}/{name}/kernel'], shapes[f'{scope}/{name}/bias'] = (k, k, cin, cout), (cout,)
    for name, shape in CLASSIFIER.items():
        shapes[f'classifier/Classifier/{name}'] = shape
        shapes[f'classifier/Classifier/{name.replace("kernel", "bias")}'] = (shape[-1],)
    return dict(sorted(shapes.items()))


#: Every tensor of the official checkpoint (`IAFusion.model-29.index`): name -> shape, all float32.
OFFICIAL_TENSORS = _official_tensors()


def _conv(k: int, cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, padding_mode='reflect' if k > 1 else 'zeros')


def _lrelu(x: Tensor) -> Tensor:
    return torch.maximum(x, 0.2 * x)


def _cmdaf(vi: Tensor, ir: Tensor) -> tuple[Tensor, Tensor]:
    """Cross-modality differential aware fusion (the official `CMDAF`)."""
    vi_minus_ir, ir_minus_vi = vi - ir, ir - vi
    w_vi = torch.sigmoid(vi_minus_ir.mean((2, 3), keepdim=True))
    w_ir = torch.sigmoid(ir_minus_vi.mean((2, 3), keepdim=True))
    return vi + w_ir * vi_minus_ir, ir + w_vi * ir_minus_vi


class PIAFusionNet(nn.Module):
    """`PIAFusion.PIAFusion(vi_y, ir)`: visible luminance and infrared (N, 1, H, W) on [0, 1] -> fused luminance."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.ModuleDict({k.replace('/', '_'): _conv(*v) for k, v in ENCODER.items()})
        self.decoder = nn.ModuleDict({k: _conv(*v) for k, v in DECODER.items()})

    def forward(self, vi: Tensor, ir: Tensor) -> Tensor:
        enc = self.encoder
        vi, ir = _lrelu(enc['conv5x5_vi'](vi)), _lrelu(enc['conv5x5_ir'](ir))
        for i in range(1, 5):
            conv = enc[f'Conv{i}_conv3x3']
            vi, ir = _lrelu(conv(vi)), _lrelu(conv(ir))
            if i < 4:
                vi, ir = _cmdaf(vi, ir)
        x = torch.cat([vi, ir], 1)
        for name in ('conv1', 'conv2', 'conv3', 'conv4'):
            x = _lrelu(self.decoder[name](x))
        return torch.tanh(self.decoder['conv1x1'](x)) / 2 + 0.5

    def tf_convs(self) -> dict[str, nn.Conv2d]:
        """{checkpoint scope: conv}."""
        convs = {f'PIAFusion/encoder/{k}': self.encoder[k.replace('/', '_')] for k in ENCODER}
        convs.update({f'PIAFusion/decoder/{k}': self.decoder[k] for k in DECODER})
        return convs


def rgb_to_ycbcr(rgb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The official `RGB2YCbCr` (studio-swing BT.601, float32, in TensorFlow's evaluation order)."""
    r, g, b = rgb.split(1, 1)
    y = 0.257 * r + 0.564 * g + 0.098 * b + 16.0 / 255.0
    cb = -0.148 * r - 0.291 * g + 0.439 * b + 128.0 / 255.0
    cr = 0.439 * r - 0.368 * g - 0.071 * b + 128.0 / 255.0
    return y, cb, cr


def ycbcr_to_rgb(y: Tensor, cb: Tensor, cr: Tensor) -> Tensor:
    """The official `YCbCr2RGB` (RGB order; the script asks for BGR only to hand it to cv2), not clipped."""
    t1, t2 = 16.0 / 255.0, 128.0 / 255.0
    r = 1.164 * (y - t1) + 1.596 * (cr - t2)
    g = 1.164 * (y - t1) - 0.392 * (cb - t2) - 0.813 * (cr - t2)
    b = 1.164 * (y - t1) + 2.017 * (cb - t2)
    return torch.cat([r, g, b], 1)


def cv_round_saturate(x: Tensor) -> Tensor:
    """OpenCV's float -> uint8 conversion in `imwrite` (`saturate_cast<uchar>`): round half to even, clip to 0..255."""
    return torch.round(x).clamp(0, 255)


class PIAFusion(FusionMethod):
    """PIAFusion's fusion network with the official test script's reading, colour and saving (module docstring)."""
    colour = 'rgb'  # the network takes the RGB visible image and colours its result itself

    def __init__(self) -> None:
        super().__init__()
        self.net = PIAFusionNet()

    def colour_output(self, ir: Tensor, vis: Tensor) -> Tensor:
        """The script's float RGB result on [0, 1] scale (before `* 255` and `cv2.imwrite`), (N, 3, H, W)."""
        ir, rgb = unit_levels_rgb(ir, vis)
        y, cb, cr = rgb_to_ycbcr(rgb)
        return ycbcr_to_rgb(self.net(y, ir), cb, cr)

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        out = cv_round_saturate(self.colour_output(ir, vis) * 255.0) / 255
        return out[:, 1:2] if vis.shape[1] == 1 else out

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # quantised output: see methods/_per_image.py

    def bare_network(self, ir: Tensor, vis: Tensor):
        ir, rgb = unit_levels_rgb(ir, vis)
        y = rgb_to_ycbcr(rgb)[0]
        return lambda: self.net(y, ir)


def load_piafusion(net: PIAFusionNet, weights) -> None:
    """Copies the fusion network of an official-format checkpoint into `net`.

    The checkpoint must hold exactly the official tensors (`OFFICIAL_TENSORS`, float32), classifier included, so
    another network's file fails with a message naming the differences.

    Raises:
        CheckpointError: missing, unexpected, mis-shaped or non-float32 tensors.
    """
    check_tf_tensors(weights, OFFICIAL_TENSORS, 'PIAFusion', float32=True)
    names = sorted(n for n in OFFICIAL_TENSORS if n.startswith('PIAFusion/'))
    load_tf_convs(net.tf_convs(), read_official_checkpoint(weights, names))


@register_method(
    'piafusion', paper=PAPER, licence=LICENCE, colour='rgb', year=2022, tags=('baseline',),
    weights=[official_weights(f'{CHECKPOINT}.index'), official_weights(f'{CHECKPOINT}.data-00000-of-00001')],
    verification='random-weight equality: official TF graph on a synthetic checkpoint in the official format, '
                 '3 sizes (odd included) + 7 real pairs, max |diff| 4.2e-7 before quantisation; uint8 identical '
                 'on the 3 sizes, <= 1 level at rounding ties (<= 27 values) on the real pairs',
    note='about 10 s of CPU time (21 s wall on a shared 2-core machine) per 640x480 pair: 256-channel '
         'convolutions at full resolution')
def piafusion(weights=None) -> PIAFusion:
    method = PIAFusion()
    if weights is not None:
        load_piafusion(method.net, weights)
    return method
