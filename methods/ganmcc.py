"""GANMcC (Ma et al., IEEE TIM 2021): a GAN with multi-classification constraints; a two-stream generator.

Port of HaoZhang1018/GANMcC @ 77f8cb4 (`demo.py`, epoch-4 checkpoint `checkpoint/CGAN_120/CGAN.model-4`) as
VIF-Benchmark runs it, written from ../shared/docs/baselines.md and the official code. The test-time quirks shared
with FusionGAN (raw kernels without spectral normalisation, batch statistics with fresh gamma/beta, edge padding by 6
and VALID convs, min-max save) are described in `methods._tf_gan`.

Generator: an IR stream `layer1..4` on [IR, IR, VIS] and a visible stream `layer1_vi..4_vi` on [VIS, VIS, IR], each
conv 5x5 3->256, 5x5 256->128, 3x3 128->64, 3x3 64->32 with batch-statistics normalisation and leaky ReLU 0.2; then
`layer5` conv 1x1 on [ir4, vi4, ir4, vi4] (128 channels) -> 1 and tanh.

Protocol: the default is VIF-Benchmark's `GANMcC.py` (luminance as `imread(flatten=True, mode='YCbCr')`, min-max
save, PIL YCbCr recolouring); the official `demo.py` computes the same luminance image without recolouring:
`colour='gray'`. Gray images stored as 3-channel files (TNO-42) are read as the official script reads them;
see `methods._tf_gan.GANGenerator`.
"""
from __future__ import annotations

import torch
from torch import Tensor

from methods._registry import register_method
from methods._tf_gan import GANGenerator, GeneratorConv, load_generator
from methods._weights import official_weights

__all__ = ['GANMcC']

CHECKPOINT = 'ganmcc/checkpoint/CGAN_120/CGAN.model-4'
STREAM = ((3, 256, 5), (256, 128, 5), (128, 64, 3), (64, 32, 3))  # (in, out, kernel) of layers 1-4


class GANMcC(GANGenerator):
    """GANMcC's generator as the official test script runs it.

    Args:
        weights: the checkpoint's [.index, .data] files (TF1 V2), or None for random initialisation.
        gray_as_rgb: see `methods._tf_gan.GANGenerator`.
    """

    def __init__(self, weights=None, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> None:
        super().__init__(gray_as_rgb)
        for k, (cin, cout, size) in enumerate(STREAM, 1):
            self.add_module(f'layer{k}', GeneratorConv(cin, cout, size))
            self.add_module(f'layer{k}_vi', GeneratorConv(cin, cout, size))
        self.layer5 = GeneratorConv(128, 1, 1, norm=False)
        if weights is not None:
            load_generator(self.tf_layers(), weights, what='GANMcC generator')

    def generator(self, ir: Tensor, vis: Tensor) -> Tensor:
        x_ir, x_vi = torch.cat([ir, ir, vis], 1), torch.cat([vis, vis, ir], 1)
        for k in range(1, len(STREAM) + 1):
            x_ir = getattr(self, f'layer{k}')(x_ir)
            x_vi = getattr(self, f'layer{k}_vi')(x_vi)
        return torch.tanh(self.layer5(torch.cat([x_ir, x_vi, x_ir, x_vi], 1)))


@register_method(
    'ganmcc',
    paper='Ma, J., Zhang, H., Shao, Z., Liang, P., Xu, H. GANMcC: A Generative Adversarial Network With '
          'Multiclassification Constraints for Infrared and Visible Image Fusion. IEEE TIM 70 (2021) 5005014',
    licence='MIT (HaoZhang1018/GANMcC)',
    weights=[official_weights(f'{CHECKPOINT}.index'), official_weights(f'{CHECKPOINT}.data-00000-of-00001')],
    tags=('baseline',), year=2021,
    verification='synthetic checkpoint in the official format and tensor names (the official file was not at hand)')
def ganmcc(weights=None, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> GANMcC:
    return GANMcC(weights, gray_as_rgb=gray_as_rgb)
