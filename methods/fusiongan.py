"""FusionGAN (Ma et al., Information Fusion 2019): a GAN generator on the concatenated IR and visible luminance.

Port of jiayi-ma/FusionGAN @ 15e7ea1 (`test_one_image.py`, epoch-3 checkpoint `checkpoint/CGAN_120/CGAN.model-3`)
as VIF-Benchmark runs it, written from ../shared/docs/baselines.md and the official code. The test-time quirks shared
with GANMcC (raw kernels without spectral normalisation, batch statistics with fresh gamma/beta, edge padding by 6
and VALID convs, min-max save) are described in `methods._tf_gan`.

Generator (`fusion_model/layerK/{wK,bK}`): on [IR, VIS], conv 5x5 2->256, 5x5 256->128, 3x3 128->64, 3x3 64->32,
each with batch-statistics normalisation and leaky ReLU 0.2, then conv 1x1 32->1 and tanh.

Protocol: the default is VIF-Benchmark's `FusionGAN.py`, the script behind the published comparison images: visible
luminance from `scipy.misc.imread(flatten=True, mode='YCbCr')` (PIL YCbCr -> RGB -> 'F'), min-max save, then PIL
YCbCr recolouring of an RGB visible image. The official `test_one_image.py` computes the same luminance image and
saves it without recolouring: `colour='gray'`. Gray images stored as 3-channel files (TNO-42) are
read as the official script reads them; see `methods._tf_gan.GANGenerator`.
"""
from __future__ import annotations

import torch
from torch import Tensor

from methods._registry import register_method
from methods._tf_gan import GANGenerator, GeneratorConv, load_generator
from methods._weights import official_weights

__all__ = ['FusionGAN']

CHECKPOINT = 'fusiongan/checkpoint/CGAN_120/CGAN.model-3'


class FusionGAN(GANGenerator):
    """FusionGAN's generator as the official test script runs it.

    Args:
        weights: the checkpoint's [.index, .data] files (TF1 V2), or None for random initialisation.
        gray_as_rgb: see `methods._tf_gan.GANGenerator`.
    """

    def __init__(self, weights=None, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> None:
        super().__init__(gray_as_rgb)
        self.layer1 = GeneratorConv(2, 256, 5)
        self.layer2 = GeneratorConv(256, 128, 5)
        self.layer3 = GeneratorConv(128, 64, 3)
        self.layer4 = GeneratorConv(64, 32, 3)
        self.layer5 = GeneratorConv(32, 1, 1, norm=False)
        if weights is not None:
            load_generator(self.tf_layers(), weights, what='FusionGAN generator')

    def generator(self, ir: Tensor, vis: Tensor) -> Tensor:
        x = torch.cat([ir, vis], 1)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4, self.layer5):
            x = layer(x)
        return torch.tanh(x)


@register_method(
    'fusiongan',
    paper='Ma, J., Yu, W., Liang, P., Li, C., Jiang, J. FusionGAN: A generative adversarial network for infrared '
          'and visible image fusion. Information Fusion 48 (2019) 11-26',
    licence='MIT (jiayi-ma/FusionGAN)',
    weights=[official_weights(f'{CHECKPOINT}.index'), official_weights(f'{CHECKPOINT}.data-00000-of-00001')],
    tags=('baseline',), year=2019,
    verification='synthetic checkpoint in the official format and tensor names (the official file was not at hand)')
def fusiongan(weights=None, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> FusionGAN:
    return FusionGAN(weights, gray_as_rgb=gray_as_rgb)
