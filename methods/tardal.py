"""TarDAL (Liu et al., CVPR 2022): target-aware dual adversarial fusion; the generator alone runs at test time.

Port of JinyuanLiu-CV/TarDAL @ 1d1d1e9 (the CVPR 2022 release, `fuse.py`, `pipeline/eval.py`,
`utils/image_pair.py`, `modules/generator.py`), written from the official code; its three checkpoints
`weights/tardal.pt`, `tardal+.pt`, `tardal++.pt` (state dicts; removed from the repository at v1.0, 875a4e5).

Generator (`Generator(dim=32, depth=3)`): on [IR, VIS] conv 3x3 2->32 + BN + ReLU (`encoder`); three dense blocks,
each conv 3x3 + BN + ReLU to 32 channels on the concatenation of everything before (`dense.0..2`, 32/64/96 in);
then `fuse`: conv 128->128 + ReLU, conv 128->64 + BN + ReLU, conv 64->32 + BN + ReLU, conv 32->1 + tanh. Every conv
is 3x3, zero padding 1, with bias.

Protocol shared by every variant (`ImagePair`, `Eval`):

* IR `cv2.imread(path, IMREAD_GRAYSCALE)`, visible `cv2.imread(path, IMREAD_COLOR)` then
  `cv2.cvtColor(BGR2GRAY)` (OpenCV >= 4 fixed point, `methods._opencv.cv_gray`; OpenCV 3.4's older coefficients
  fit the published run worse); both `uint8 / 255.` in float64, fed as float32. A gray image stored as three equal
  channels reads as its grey level either way; an IR file that stores colour is made gray by the benchmark
  (`bench.images.to_gray`), not by OpenCV;
* output `.clip(0, 1)`, `* 255.` and `astype(uint8)`: **truncated**, not rounded;
* with `--color` (every documented command): the fused level as Y under the visible image's OpenCV Cr/Cb,
  `COLOR_YCrCb2BGR` (`methods._opencv.cv_recolour`). A gray visible image comes back gray.

Variants (registered names):

* `tardal` (default): `tardal++.pt`, BN in eval mode (running statistics), run as VIF-Benchmark's `TarDAL/TarDAL.py`
  (Linfeng-Tang/VIF-Benchmark @ 23f2e51) runs it: `Eval(net, half=True, eval=True)`, i.e. the whole network in
  float16 on a GPU. `half=True` reproduces that arithmetic on any device: weights, BN statistics and inputs are
  rounded to float16, every layer computes in float32 and rounds its result to float16 -- the convolution before
  its bias is added, then the sum (PyTorch 1.10's cuDNN path adds the bias separately), the BN output, tanh --,
  and `out * 255.` is a float16 product before truncation. Against the VIF-Benchmark run published in
  Nonex111/vif_benchmark @ 71558c9 this gives 72-88 dB (every pixel within one level) on its 12 images, where plain
  float32 gives 55-74 dB with up to 3 levels off. `half=False` is the official README's `tardal++` command
  (float32, `--eval`).
* `tardal-dt`: `tardal.pt` as the official README runs it (`--color` without `--eval`): BN in training mode, i.e.
  normalised by the current image's own statistics (biased variance, eps 1e-5) with the checkpoint's affine
  weights; float32.
* `tardal-plus`: `tardal+.pt` as the official README runs it (`--color --eval`); float32.

Fused one image at a time (`methods._per_image`): the output is truncated to grey levels.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._opencv import CVColour
from methods._per_image import per_image
from methods._protocol import levels
from methods._registry import register_method
from methods._weights import official_weights

__all__ = ['TarDAL', 'TarDALGenerator']

PAPER = ('Liu, J., Fan, X., Huang, Z., Wu, G., Liu, R., Zhong, W., Luo, Z. Target-aware Dual Adversarial Learning '
         'and a Multi-scenario Multi-Modality Benchmark to Fuse Infrared and Visible for Object Detection. '
         'CVPR 2022, 5802-5811')
LICENCE = ('none at the pinned commit (JinyuanLiu-CV/TarDAL @ 1d1d1e9 has no licence file; GPL-3.0 was added with '
           'v1.0, which no longer ships these weights)')
DIM, DEPTH = 32, 3


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class TarDALGenerator(nn.Module):
    """The generator's layers, named as the official state dict names them (`encoder.0.weight`, ...).

    The activations are not modules here: `TarDAL.forward` walks the layers itself so that it can round between
    them (float16) and choose the BN statistics.
    """

    def __init__(self, dim: int = DIM, depth: int = DEPTH) -> None:
        super().__init__()
        self.encoder = nn.Sequential(_conv(2, dim), nn.BatchNorm2d(dim))
        self.dense = nn.ModuleList(nn.Sequential(_conv(dim * (i + 1), dim), nn.BatchNorm2d(dim))
                                   for i in range(depth))
        width = dim * (depth + 1)
        self.fuse = nn.Sequential(nn.Sequential(_conv(width, dim * 4)),
                                  nn.Sequential(_conv(dim * 4, dim * 2), nn.BatchNorm2d(dim * 2)),
                                  nn.Sequential(_conv(dim * 2, dim), nn.BatchNorm2d(dim)),
                                  nn.Sequential(_conv(dim, 1)))


def _identity(x: Tensor) -> Tensor:
    return x


def _float16(x: Tensor) -> Tensor:
    """Rounds to the nearest float16 (ties to even) and back to float32."""
    return x.half().float()


class TarDAL(CVColour, FusionMethod):
    """TarDAL's generator with the official input and output handling.

    Args:
        weights: [the `.pt` state dict], or None for random initialisation.
        half: emulate VIF-Benchmark's float16 run (see the module docstring).
        batch_stats: normalise by each image's own statistics (BN in training mode, as `fuse.py` without `--eval`).
    """

    def __init__(self, weights=None, half: bool = False, batch_stats: bool = False) -> None:
        super().__init__()
        self.net = TarDALGenerator()
        self.float16, self.batch_stats = bool(half), bool(batch_stats)
        if weights is not None:
            state = torch.load(Path(weights[0]), map_location='cpu', weights_only=True)
            self.net.load_state_dict(state)
        if self.float16:  # what `net.half()` does to the parameters and the running statistics
            with torch.no_grad():
                for t in [*self.net.parameters(), *self.net.buffers()]:
                    if t.is_floating_point():
                        t.copy_(_float16(t))
        self._round = _float16 if self.float16 else _identity

    def _layer(self, block: nn.Sequential, x: Tensor) -> Tensor:
        conv = block[0]
        x = self._round(F.conv2d(x, conv.weight, None, 1, 1))
        x = self._round(x + conv.bias.view(1, -1, 1, 1))
        if len(block) > 1:
            bn = block[1]
            if self.batch_stats:
                x = F.instance_norm(x, weight=bn.weight, bias=bn.bias, eps=bn.eps)
            else:
                x = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
            x = self._round(x)
        return x

    def network(self, ir: Tensor, vis: Tensor) -> Tensor:
        """The generator on float32 inputs in [0, 1] (float16 values when `half`): tanh output, (N, 1, H, W)."""
        net = self.net
        x = F.relu(self._layer(net.encoder, torch.cat([ir, vis], 1)))
        for block in net.dense:
            x = torch.cat([x, F.relu(self._layer(block, x))], 1)
        for block in net.fuse[:-1]:
            x = F.relu(self._layer(block, x))
        return self._round(torch.tanh(self._layer(net.fuse[-1], x)))

    def network_input(self, x: Tensor) -> Tensor:
        """Grey levels as the script feeds them: `uint8 / 255.` (float64) as float32, then float16 when `half`."""
        return self._round((levels(x, step=1.0).double() / 255).float())

    def save_levels(self, out: Tensor) -> Tensor:
        """`(clip(out, 0, 1) * 255.).astype(uint8)`: a float16 product when `half`, truncated."""
        return torch.floor(self._round(out.clamp(0, 1) * 255))

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        out = self.network(self.network_input(ir), self.network_input(vis))
        return self.save_levels(out) / 255

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)

    def bare_network(self, ir: Tensor, vis: Tensor):
        a, b = self.network_input(ir), self.network_input(vis)
        return lambda: self.network(a, b)


_DIR = 'tardal/weights'


@register_method('tardal', paper=PAPER, licence=LICENCE, weights=[official_weights(f'{_DIR}/tardal++.pt')],
                 tags=('baseline',), year=2022,
                 verification='published images: a VIF-Benchmark run (float16 on a GPU) on vifbench12 (4 here; all '
                              '12 checked outside CI): min 72.1, median 76.7 dB, within 1 level')
def tardal(weights=None, half: bool = True, batch_stats: bool = False) -> TarDAL:
    """`tardal++.pt`, eval-mode BN, float16 arithmetic as VIF-Benchmark runs it (`half=False`: float32)."""
    return TarDAL(weights, half=half, batch_stats=batch_stats)


@register_method('tardal-dt', paper=PAPER, licence=LICENCE, weights=[official_weights(f'{_DIR}/tardal.pt')],
                 tags=('baseline',), year=2022,
                 verification='network as tardal (published images); no published images of this checkpoint and '
                              'protocol: loading and protocol tests only')
def tardal_dt(weights=None, half: bool = False, batch_stats: bool = True) -> TarDAL:
    """`tardal.pt` with batch statistics at test time (the official README's command, without `--eval`)."""
    return TarDAL(weights, half=half, batch_stats=batch_stats)


@register_method('tardal-plus', paper=PAPER, licence=LICENCE, weights=[official_weights(f'{_DIR}/tardal+.pt')],
                 tags=('baseline',), year=2022,
                 verification='network as tardal (published images); no published images of this checkpoint: '
                              'loading and protocol tests only')
def tardal_plus(weights=None, half: bool = False, batch_stats: bool = False) -> TarDAL:
    """`tardal+.pt`, eval-mode BN, float32 (the official README's command)."""
    return TarDAL(weights, half=half, batch_stats=batch_stats)
