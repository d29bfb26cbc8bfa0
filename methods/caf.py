"""CAF (Liu et al., IJCAI 2024): a compact fusion network whose loss weights were searched automatically.

Port of RollingPlain/CAF_IVIF @ bf12f26 (no licence file), `model/models.py` (`Ours`), `eval.py`,
`datasets/dataset.py` and `model/Getcolor_many.py`, written from the official code, with its two checkpoints
`cache/Det_final.pth` (`caf`, `eval.py`'s default) and `cache/Seg_final.pth` (`caf-seg`).

The checkpoints are pickled whole modules (`{'fuse': models.Ours}`, saved by `Fuse.save_ckpt`), which `eval.py`
reads with `torch.load(weights_only=False)`, i.e. plain pickle, able to run any code. Here they are read by
PyTorch's restricted (`weights_only`) unpickler, allowed to build exactly the classes such a pickle names: the
pickled name `models.Ours` is mapped onto this port's `CAFNet`, and `Sequential`, `ModuleList`, `Conv2d`,
`BatchNorm2d`, `ReLU`, `Tanh` onto PyTorch's own (besides tensors, storages, `OrderedDict` and `set`, which that
unpickler allows anyway). A file naming any other global is refused. Only the unpickled module's state dict is
used, loaded strictly into a freshly built `CAFNet`.

Network (`Ours(dim=32, depth=3)`, every convolution zero-padded, with bias; batch norm with running statistics, as
`Fuse.eval` sets `network.eval()`): IR and visible luminance each through conv 3x3 1->16 + BN + ReLU; three dense
blocks (conv 3x3 + BN + ReLU to 32 channels on the concatenation of everything before: 32, 64, 96 in); then conv 3x3
128->64 + ReLU, conv 3x3 64->32 + BN + ReLU, conv 1x1 32->1 + tanh.

Protocol of `python eval.py` (default flags, no `--color`):

* IR `cv2.imread(path, IMREAD_GRAYSCALE) / 255` (float32); visible `cv2.imread(path, IMREAD_COLOR) / 255`
  (float32), `kornia.color.rgb_to_ycbcr(bgr_to_rgb(...))`'s Y: `0.299 r + 0.587 g + 0.114 b` in float32, not
  rounded to a level; a gray visible image is read as three equal channels, so its Y is that sum too;
* output: `fus * 255.` written into the Y plane of the visible image's `cv2.cvtColor(BGR2YCrCb)` (uint8), i.e.
  **truncated**, values at or below -1 wrapping around modulo 256 (numpy's float -> uint8 cast); back through
  `cv2.cvtColor(YCrCb2BGR)`, both conversions OpenCV's 8-bit fixed point (`methods._opencv`). A gray visible image
  keeps Cr = Cb = 128 and comes back gray; it is returned as one channel;
* `colour='gray'` returns the truncated output before recolouring.

`eval.py --color` puts kornia's YCbCr -> RGB result into `Get_color`, which then takes its blue channel as Y (the
first channel of an RGB image read as BGR): not reproduced.

Fidelity (`tests/methods/test_caf.py`): the official `eval.py` itself, run outside the project on 5 TNO pairs of
`tno42`, MSRS `00004N` and RoadScene `FLIR_00006` with both checkpoints, and on the 3 pairs of its `data/`: the port
gives the same 8-bit images. The repository's 3 published results (`result/`, the authors' GPU run on `data/`): 92.8,
94.8 and 95.0 dB, every pixel within one level; the 16-27 pixels (of 786,432) that differ lie within 6e-5 levels of
the truncation boundary in our float32 output (our CPU run of `eval.py` gives the port's images).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._flat_tokens import uint8_cast
from methods._opencv import cv_recolour
from methods._per_image import per_image
from methods._protocol import levels
from methods._registry import register_method
from methods._weights import official_weights

__all__ = ['CAF', 'CAFNet', 'PICKLED_CLASSES', 'load_pickled_module']

PAPER = ('J. Liu, G. Wu, Z. Liu, L. Ma, R. Liu and X. Fan, Where Elegance Meets Precision: Towards a Compact, '
         'Automatic, and Flexible Framework for Multi-modality Image Fusion and Applications, IJCAI 2024')
LICENCE = 'no licence file in RollingPlain/CAF_IVIF'
VERIFIED = ('official code: eval.py on 10 pairs (5 TNO, MSRS, RoadScene, its data/): identical 8-bit images (inf dB, '
            'max diff 0); published images: result/ (3, checked outside CI) min 92.8, median 94.8 dB, within 1 level')


def _conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.ReLU())


class CAFNet(nn.Module):
    """The official `Ours` on (N, 1, H, W) IR and visible luminance; returns the tanh output. Attribute names are
    the official ones, so the pickled module's state dict loads strictly."""

    def __init__(self, dim: int = 32, depth: int = 3) -> None:
        super().__init__()
        self.encoder1 = _conv_bn(1, dim // 2)
        self.encoder2 = _conv_bn(1, dim // 2)
        self.dense = nn.ModuleList(_conv_bn(dim * (i + 1), dim) for i in range(depth))
        self.fuse = nn.Sequential(nn.Sequential(nn.Conv2d(dim * (depth + 1), dim * 2, 3, 1, 1), nn.ReLU()),
                                  _conv_bn(dim * 2, dim),
                                  nn.Sequential(nn.Conv2d(dim, 1, 1), nn.Tanh()))

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        x = torch.cat([self.encoder1(ir), self.encoder2(vis)], dim=1)
        for block in self.dense:
            x = torch.cat([x, block(x)], dim=1)
        return self.fuse(x)


# Every global the official pickle names, as `{pickled name: class}`; nothing else may be built.
PICKLED_CLASSES = {'models.Ours': CAFNet, 'torch.nn.modules.container.Sequential': nn.Sequential,
                   'torch.nn.modules.container.ModuleList': nn.ModuleList,
                   'torch.nn.modules.conv.Conv2d': nn.Conv2d, 'torch.nn.modules.batchnorm.BatchNorm2d': nn.BatchNorm2d,
                   'torch.nn.modules.activation.ReLU': nn.ReLU, 'torch.nn.modules.activation.Tanh': nn.Tanh}


def load_pickled_module(path: Path | str, key: str = 'fuse') -> dict[str, Tensor]:
    """The state dict of the module pickled under `key` in an official CAF checkpoint, read by PyTorch's
    `weights_only` unpickler with `PICKLED_CLASSES` as the only extra globals.

    Raises:
        pickle.UnpicklingError: when the file names any other global (arbitrary code is never run).
        ValueError: when the file holds no module under `key`.
    """
    allowed = [(cls, name) for name, cls in PICKLED_CLASSES.items()]
    with torch.serialization.safe_globals(allowed):
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    module = checkpoint.get(key) if isinstance(checkpoint, dict) else None
    if not isinstance(module, CAFNet):
        raise ValueError(f"Expected a CAF checkpoint holding a `models.Ours` module under {key!r}, but got "
                         f"{type(module).__name__ if module is not None else type(checkpoint).__name__} in {path}.")
    return module.state_dict()


def kornia_luminance(rgb: Tensor) -> Tensor:
    """kornia's `rgb_to_ycbcr` Y of RGB levels (N, 3, H, W) read as `uint8 / 255` in float32: (N, 1, H, W)."""
    r, g, b = (rgb.float() / 255).unbind(1)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


class CAF(FusionMethod):
    """CAF with `eval.py`'s input and output conventions."""

    def __init__(self) -> None:
        super().__init__()
        self.net = CAFNet()

    def split_luminance(self, vis: Tensor):
        rgb = levels(vis, step=1.0)
        return kornia_luminance(rgb).double(), rgb  # float64: already the script's Y (exactly a float32)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)  # the output is quantised: see methods/_per_image.py

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        y = vis.float() if vis.dtype == torch.float64 else kornia_luminance(levels(vis, 1.0).expand(-1, 3, -1, -1))
        return uint8_cast(self.net(levels(ir, step=1.0) / 255, y)) / 255

    def recolour(self, fused: Tensor, chroma) -> Tensor:
        return cv_recolour(levels(fused, step=1.0), chroma) / 255

    def bare_network(self, ir: Tensor, vis: Tensor):
        return lambda: self.net(ir, vis)


def _load(weights) -> CAF:
    method = CAF()
    if weights is not None:
        method.net.load_state_dict(load_pickled_module(weights[0]))
    return method


@register_method('caf', paper=PAPER, licence=LICENCE, year=2024, tags=('baseline', 'zoo'),
                 weights=[official_weights('caf/cache/Det_final.pth')], verification=VERIFIED)
def caf(weights=None) -> CAF:
    """`cache/Det_final.pth`, the checkpoint `eval.py` loads by default."""
    return _load(weights)


@register_method('caf-seg', paper=PAPER, licence=LICENCE, year=2024, tags=('baseline', 'zoo'),
                 weights=[official_weights('caf/cache/Seg_final.pth')],
                 verification=('official code: eval.py --model_path cache/Seg_final.pth on 7 pairs (5 TNO, MSRS, '
                               'RoadScene): identical 8-bit images (inf dB, max diff 0)'))
def caf_seg(weights=None) -> CAF:
    """`cache/Seg_final.pth` (the segmentation-oriented search), same protocol."""
    return _load(weights)
