"""PMGI (Zhang et al., AAAI 2020): proportional maintenance of gradient and intensity, a two-path GAN generator.

Port of HaoZhang1018/PMGI_AAAI2020 @ 61a85e4 (`Code_PMGI/IR_VI/test_one_image.py`, checkpoint
`Code_PMGI/IR_VI/checkpoint/CGAN_120/CGAN.model-1`) as VIF-Benchmark runs it (Linfeng-Tang/VIF-Benchmark @ 23f2e51,
`PMGI/PMGI.py`, the same network and checkpoint), written from the official code. The test-time quirks shared with
FusionGAN and GANMcC (batch normalisation in training mode with fresh gamma = 1, beta = 0, i.e. per-image
statistics; luminance `(x - 127.5) / 127.5` from `scipy.misc.imread(flatten=True, mode='YCbCr')`; output
`tanh * 127.5 + 127.5` saved by `scipy.misc.imsave`'s min-max stretch) are described in `methods._tf_gan`.

Generator (`fusion_model/<layer>/{w,b}<suffix>`, every conv SAME-padded with zeros): the intensity path sees
[IR, IR, VIS], the gradient path [VIS, VIS, IR]. Each path: layer1 5x5 3->16, layer2 3x3 16->16; both paths'
layer2 outputs are concatenated and each path squeezes them back (layer2_3, 1x1 32->16); layer3 3x3 on
[c1, c2, c2_3] (48->16); again a 1x1 exchange of both layer3 outputs (layer3_4, 32->16); layer4 3x3 on
[c1, c2, c3, c3_4] (64->16). The `_vi` layers are the gradient path's. Every one of these convs is followed by
batch-statistics normalisation and leaky ReLU 0.2. layer5: 1x1 conv on [c1, c1_vi, c2, c2_vi, c3, c3_vi, c4, c4_vi]
(128->1) and tanh.

Protocol: the default is VIF-Benchmark's script (the one behind the published comparison images): the fused
luminance recoloured with the visible image's PIL Cb/Cr (`img2RGB`). The official `test_one_image.py` saves the
same luminance as a gray BMP: `colour='gray'`. VIF-Benchmark's script pairs files by index of two unsorted `glob`
listings (its `natsorted(data)` result is discarded); that only matters when the two folders list differently.
Gray images stored as 3-channel files (TNO-42) are read as the script reads them; see `methods._tf_gan`.

Against the VIF-Benchmark run published in Nonex111/vif_benchmark @ 71558c9 (`Results/PMGI`) this gives 84-95 dB,
every pixel within one grey level, on all 12 of its images.
"""
from __future__ import annotations

import torch
from torch import Tensor

from methods._registry import register_method
from methods._tf_gan import GANGenerator, GeneratorConv, load_generator
from methods._weights import official_weights

__all__ = ['PMGI']

CHECKPOINT = 'pmgi/Code_PMGI/IR_VI/checkpoint/CGAN_120/CGAN.model-1'
PATHS = ('', '_vi')  # intensity path (IR first), gradient path (VIS first)


class PMGI(GANGenerator):
    """PMGI's generator as the official test script runs it.

    Args:
        weights: the checkpoint's [.index, .data] files (TF1 V2), or None for random initialisation.
        gray_as_rgb: see `methods._tf_gan.GANGenerator`.
    """
    input_pad = 0

    def __init__(self, weights=None, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> None:
        super().__init__(gray_as_rgb)
        for p in PATHS:
            self.add_module(f'layer1{p}', GeneratorConv(3, 16, 5, same=True))
            self.add_module(f'layer2{p}', GeneratorConv(16, 16, 3, same=True))
            self.add_module(f'layer2_3{p}', GeneratorConv(32, 16, 1))
            self.add_module(f'layer3{p}', GeneratorConv(48, 16, 3, same=True))
            self.add_module(f'layer3_4{p}', GeneratorConv(32, 16, 1))
            self.add_module(f'layer4{p}', GeneratorConv(64, 16, 3, same=True))
        self.layer5 = GeneratorConv(128, 1, 1, norm=False)
        if weights is not None:
            load_generator(self.tf_layers(), weights, what='PMGI generator')

    def _both(self, layer: str, inputs: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """Layer `layer` of each path on that path's input."""
        return tuple(getattr(self, f'{layer}{p}')(x) for p, x in zip(PATHS, inputs))

    def generator(self, ir: Tensor, vis: Tensor) -> Tensor:
        c1 = self._both('layer1', (torch.cat([ir, ir, vis], 1), torch.cat([vis, vis, ir], 1)))
        c2 = self._both('layer2', c1)
        mixed = torch.cat(c2, 1)
        c23 = self._both('layer2_3', (mixed, mixed))
        c3 = self._both('layer3', tuple(torch.cat(t, 1) for t in zip(c1, c2, c23)))
        mixed = torch.cat(c3, 1)
        c34 = self._both('layer3_4', (mixed, mixed))
        c4 = self._both('layer4', tuple(torch.cat(t, 1) for t in zip(c1, c2, c3, c34)))
        return torch.tanh(self.layer5(torch.cat([*c1, *c2, *c3, *c4], 1)))

    def bare_network(self, ir: Tensor, vis: Tensor):
        a, b = ir * 2 - 1, vis * 2 - 1
        return lambda: self.generator(a, b)


@register_method(
    'pmgi',
    paper='Zhang, H., Xu, H., Xiao, Y., Guo, X., Ma, J. Rethinking the Image Fusion: A Fast Unified Image Fusion '
          'Network based on Proportional Maintenance of Gradient and Intensity. AAAI 2020, 12797-12804',
    licence='MIT (HaoZhang1018/PMGI_AAAI2020)',
    weights=[official_weights(f'{CHECKPOINT}.index'), official_weights(f'{CHECKPOINT}.data-00000-of-00001')],
    tags=('baseline',), year=2020,
    verification='published images: a VIF-Benchmark run on vifbench12 (4 here; all 12 checked outside CI): min '
                 '86.7, median 90.6 dB, within 1 level')
def pmgi(weights=None, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> PMGI:
    return PMGI(weights, gray_as_rgb=gray_as_rgb)
