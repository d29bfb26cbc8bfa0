"""UMF-CMGR (Wang et al., IJCAI 2022): the fusion network DIFN, used alone on registered pairs.

Port of wdhudiekou/UMF-CMGR @ 17a7af5 (`models/fusion_net.py: FusionNet(nfeats=64)`, `Test/test_fuse.py`), written
from ../shared/docs/baselines.md and the official code; module and parameter names follow the official classes so
the official state dict loads key for key. The registration network (MRRN) and CPSTN are for misaligned pairs and
are not part of this method.

Test-time behaviour reproduced: both inputs gray on [0, 1] (`cv2.imread(GRAYSCALE) / 255`), `net(ir, vi)`, output
`tanh * 255` written by `cv2.imwrite` of a float image: rounded to the nearest integer (ties to even, as cvRound)
and saturated to [0, 255], so negative outputs become 0. There is no min-max stretch.

Protocol: the default is VIF-Benchmark's `UMFCMGR.py`, the script behind the published comparison images: the
visible luminance is what `cv2.imread(path, IMREAD_GRAYSCALE)` returns for an RGB PNG (libpng's fixed-point
`rgb_to_gray`, see `cv2_png_gray`), and the fused image is recoloured with the visible image's PIL Cb/Cr. The
official `Test/test_fuse.py` computes the same gray image without recolouring: `colour='gray'`. (For a JPEG visible
image cv2 decodes the JPEG's own Y plane instead, which cannot be recovered from decoded RGB.)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._protocol import PILColour, levels
from methods._registry import register_method
from methods._tf_port import load_torch_state
from methods._weights import official_weights

__all__ = ['FusionNet', 'UMFCMGR']


class DenseLayer(nn.Module):
    """conv3x3 without bias, ReLU, concatenated after its input (official `make_dense`)."""

    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, growth, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, F.relu(self.conv(x))], 1)


class RDB(nn.Module):
    """Residual dense block: 3 dense layers, conv1x1 back to `c` channels (no bias), plus the input."""

    def __init__(self, c: int, layers: int = 3, growth: int = 64) -> None:
        super().__init__()
        self.dense_layers = nn.Sequential(*(DenseLayer(c + i * growth, growth) for i in range(layers)))
        self.conv_1x1 = nn.Conv2d(c + layers * growth, c, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_1x1(self.dense_layers(x)) + x


class FuseModule(nn.Module):
    """Interactive fusion: a shared sigmoid attention from query(x) * key(p), then per-pixel gates gamma1/gamma2."""

    def __init__(self, c: int = 64) -> None:
        super().__init__()
        self.query_conv = nn.Conv2d(c, c, 3, padding=1)
        self.key_conv = nn.Conv2d(c, c, 3, padding=1)
        self.gamma1 = nn.Conv2d(2 * c, 2, 3, padding=1)
        self.gamma2 = nn.Conv2d(2 * c, 2, 3, padding=1)

    def forward(self, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        att = torch.sigmoid(self.query_conv(x) * self.key_conv(p))
        ax, ap = x * att, p * att
        gx = self.gamma1(torch.cat([x, ax], 1))
        gp = self.gamma2(torch.cat([p, ap], 1))
        return x * gx[:, :1] + ax * gx[:, 1:], p * gp[:, :1] + ap * gp[:, 1:]


class FusionNet(nn.Module):
    """The official `FusionNet(nfeats=64)`; `forward(ir, vi)` on [0, 1] returns tanh output in [-1, 1]."""

    def __init__(self, nfeats: int = 64) -> None:
        super().__init__()
        self.conv1_1 = nn.Sequential(nn.Conv2d(1, nfeats, 3, padding=1), nn.LeakyReLU(0.2))
        self.conv2_1 = nn.Sequential(nn.Conv2d(1, nfeats, 3, padding=1), nn.LeakyReLU(0.2))
        self.ir_path = nn.Sequential(RDB(nfeats, 3, nfeats))
        self.vi_path = nn.Sequential(RDB(nfeats, 3, nfeats))
        self.fuse = FuseModule(64)  # the official FuseModule's in_dim is fixed at 64
        self.fuse_res = nn.Conv2d(2 * nfeats, nfeats, 3, padding=1)  # no activation after it
        self.out_conv = nn.Conv2d(nfeats, 1, 3, padding=1)

    def forward(self, ir: Tensor, vi: Tensor) -> Tensor:
        f_ir, f_vi = self.fuse(self.ir_path(self.conv1_1(ir)), self.vi_path(self.conv2_1(vi)))
        return torch.tanh(self.out_conv(self.fuse_res(torch.cat([f_ir, f_vi], 1))))


def cv2_png_gray(rgb: Tensor) -> Tensor:
    """`cv2.imread(path, cv2.IMREAD_GRAYSCALE)` of an RGB PNG, from its RGB levels (N, 3, H, W) -> (N, 1, H, W).

    OpenCV lets libpng convert (`png_set_rgb_to_gray(png, 1, 0.299, 0.587)`): coefficients 0.299 and 0.587 in
    1/32768 units, truncated (9797, 19234; blue gets the rest, 3737), and the weighted sum shifted right by 15 without
    rounding. Gray images (R = G = B) map to themselves.
    """
    r, g, b = rgb.round().to(torch.int32).unbind(1)
    return torch.div(r * 9797 + g * 19234 + b * 3737, 1 << 15, rounding_mode='floor').unsqueeze(1).float()


def cv2_float_to_uint8(x: Tensor) -> Tensor:
    """What `cv2.imwrite` does to a float image: round half to even, saturate to [0, 255]."""
    return torch.round(x).clamp_(0, 255)


class UMFCMGR(PILColour, FusionMethod):
    """UMF-CMGR's fusion network with the official test script's input and output handling.

    Args:
        weights: [checkpoint file] (`{'net': state_dict}` as the official test loads it, or a bare state dict), or
            None for random initialisation.
    """

    def __init__(self, weights=None) -> None:
        super().__init__()
        self.net = FusionNet(64)
        if weights is not None:
            load_torch_state(self.net, weights[0], {k: k for k in self.net.state_dict()})

    def split_luminance(self, vis: Tensor):
        rgb = levels(vis, step=1.0)
        return cv2_png_gray(rgb) / 255, rgb

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        # cv2 gray levels / 255. in float64, then .type(torch.FloatTensor)
        ir, vis = ((levels(x, step=1.0).double() / 255).float() for x in (ir, vis))
        return per_image(lambda i, v: cv2_float_to_uint8(self.net(i, v) * 255) / 255, ir, vis)


@register_method(
    'umf-cmgr',
    paper='Wang, D., Liu, J., Fan, X., Liu, R. Unsupervised Misaligned Infrared and Visible Image Fusion via '
          'Cross-Modality Image Generation and Registration. IJCAI 2022, 3508-3515',
    licence='MIT (wdhudiekou/UMF-CMGR)',
    weights=[official_weights('umf-cmgr/UMF_CMGR.pth')],
    tags=('baseline',), year=2022,
    verification='synthetic checkpoint in the official format and tensor names (the official file was not at hand)')
def umf_cmgr(weights=None) -> UMFCMGR:
    return UMFCMGR(weights)
