"""What FusionGAN, GANMcC and PMGI share: their TF1 checkpoints and the test-time generator their scripts run.

The official test scripts (FusionGAN `test_one_image.py`, GANMcC `demo.py`, PMGI `test_one_image.py`, and
VIF-Benchmark's copies of them) build the generator from raw checkpoint tensors, and that decides what the published
images are:

* conv weights are read with `reader.get_tensor('fusion_model/layerK/wK')`: the raw kernels, **without** the
  spectral normalisation used in training (the `weights_SN/u` vectors are ignored);
* every conv but the last is followed by `tf.contrib.layers.batch_norm(..., epsilon=1e-5, scale=True)` with no
  `is_training`, which defaults to training mode: the current image's own statistics (biased variance), and fresh
  gamma = 1, beta = 0 from `global_variables_initializer`; the checkpoint's `BatchNorm/*` variables are never read.
  On one image that is instance normalisation, and the conv bias cancels out;
* FusionGAN and GANMcC: all convs are VALID and the input is edge-padded by 6 px so the output has the input's size;
  PMGI: SAME convs (zero padding), no input padding;
* inputs are the luminance `(x - 127.5) / 127.5`, outputs `tanh * 127.5 + 127.5`, saved by `scipy.misc.imsave`
  (per-image min-max stretch, +0.5, truncation).
"""
from __future__ import annotations

import re

import torch.nn.functional as F
from torch import Tensor, nn

from methods._base import FusionMethod
from methods._per_image import per_image
from methods._protocol import PILColour, bytescale, imread_flatten_ycbcr, layout_option
from methods._tf_checkpoint import CheckpointError, read_index
from methods._tf_port import checkpoint_prefix, load_tf_convs, read_official_checkpoint

__all__ = ['SCOPE', 'PAD', 'CLUTTER', 'tf_names', 'GeneratorConv', 'GANGenerator', 'load_generator', 'network_input',
           'save_levels']

SCOPE = 'fusion_model'
PAD = 6
# Checkpoint entries the test-time generator never reads: the discriminator, batch-norm variables, spectral-norm
# power-iteration vectors, optimiser slots and counters.
CLUTTER = re.compile(r'^discriminator/|/BatchNorm/(beta|gamma|moving_mean|moving_variance)$|/weights_SN/u$'
                     r'|/Adam(_1)?$|^beta[12]_power$|^global_step$|^Variable$')


def tf_names(layer: str) -> tuple[str, str]:
    """Checkpoint names of a generator layer's kernel and bias: 'layer3_vi' -> fusion_model/layer3_vi/w3_vi, b3_vi.

    >>> tf_names('layer1')
    ('fusion_model/layer1/w1', 'fusion_model/layer1/b1')
    """
    suffix = layer.removeprefix('layer')
    return f'{SCOPE}/{layer}/w{suffix}', f'{SCOPE}/{layer}/b{suffix}'


class GeneratorConv(nn.Conv2d):
    """A conv of the generator (VALID; `same=True`: TF's SAME zero padding, odd `k`); with `norm`, followed by
    batch-statistics normalisation and leaky ReLU 0.2.

    The normalisation is per image (`F.instance_norm`, biased variance, eps 1e-5, gamma 1, beta 0): what TF's batch
    norm in training mode computes on the official scripts' batches of one, kept per image when batching here.
    """

    def __init__(self, cin: int, cout: int, k: int, norm: bool = True, same: bool = False) -> None:
        super().__init__(cin, cout, k, padding=k // 2 if same else 0)
        self.norm = norm

    def forward(self, x: Tensor) -> Tensor:
        x = super().forward(x)
        if self.norm:
            x = F.leaky_relu(F.instance_norm(x, eps=1e-5), 0.2)
        return x


def load_generator(layers: dict[str, GeneratorConv], weights, *, what: str) -> None:
    """Copies the generator tensors of a TF1 checkpoint into `layers` ({TF layer scope: conv}).

    Kernels are HWIO in TF and become OIHW. Every tensor outside the clutter (see `CLUTTER`) must be one of the
    layers' kernels or biases, and each of those must be present with the right shape, so a checkpoint of another
    network fails with a message naming the differences.

    Args:
        weights: the checkpoint's files (`.index` and `.data-*` paths).

    Raises:
        CheckpointError: for a malformed checkpoint, missing, unexpected or mis-shaped generator tensors.
    """
    prefix = checkpoint_prefix(weights)
    _, entries = read_index(prefix)
    expected = {}
    for layer, conv in layers.items():
        w, b = tf_names(layer)
        expected[w] = tuple(conv.weight.shape[i] for i in (2, 3, 1, 0))
        expected[b] = tuple(conv.bias.shape)
    found = {n for n in entries if not CLUTTER.search(n)}
    missing, unexpected = sorted(set(expected) - found), sorted(found - set(expected))
    wrong = [f'{n}: {entries[n].shape} instead of {expected[n]}' for n in sorted(found & set(expected))
             if tuple(entries[n].shape) != expected[n]]
    if missing or unexpected or wrong:
        parts = [f'{label} {", ".join(items[:6])}{" ..." if len(items) > 6 else ""}'
                 for label, items in (('missing', missing), ('unexpected', unexpected), ('wrong shape', wrong))
                 if items]
        raise CheckpointError(f'{prefix} is not a {what} checkpoint: {"; ".join(parts)}.')
    ckpt = read_official_checkpoint(weights, sorted(expected))
    for layer, conv in layers.items():
        w, b = tf_names(layer)
        load_tf_convs({f'{SCOPE}/{layer}': conv}, ckpt, w.rsplit('/', 1)[1], b.rsplit('/', 1)[1])


def network_input(x: Tensor, stored_rgb: bool = False, pad: int = PAD) -> Tensor:
    """An image on [0, 1] -> what the official scripts feed: `(lum - 127.5) / 127.5` (float64, fed as float32),
    edge-padded by `pad` (6 for the VALID generators of FusionGAN and GANMcC).

    `lum` is `scipy.misc.imread(path, flatten=True, mode='YCbCr')` (`methods._protocol.imread_flatten_ycbcr`): PIL's
    float luminance for a colour image, the grey level for a gray one, except that a gray image *stored as three
    equal channels* (`stored_rgb`; TNO-42's PNGs) goes through PIL's integer YCbCr round trip first.
    """
    lum = imread_flatten_ycbcr(x, stored_rgb)
    x = ((lum.double() - 127.5) / 127.5).float()
    return F.pad(x, (pad,) * 4, mode='replicate') if pad else x


def save_levels(tanh_out: Tensor) -> Tensor:
    """`scipy.misc.imsave(result * 127.5 + 127.5)` (float32) as grey levels 0..255."""
    return bytescale(tanh_out * 127.5 + 127.5)


class GANGenerator(PILColour, FusionMethod):
    """Base of the FusionGAN and GANMcC ports: input and output handling of their official test scripts.

    Subclasses create their `GeneratorConv` children (named after the checkpoint's layer scopes) and `generator`.

    Args:
        gray_as_rgb: a bool or an (ir, vis) pair: whether a gray image was stored as three equal channels (see
            `network_input`). Default None: as the benchmark read each file (`FusionMethod.stored_layout`); TNO-42
            stores gray as RGB (what its published results went through), VIF-Benchmark's test images store IR as
            1-channel.
    """
    pil_luminance = 'F'  # imread(flatten=True, mode='YCbCr')
    input_pad = PAD      # edge padding of the network inputs

    def __init__(self, gray_as_rgb: bool | tuple[bool, bool] | None = None) -> None:
        super().__init__()
        self.gray_as_rgb = layout_option(gray_as_rgb)

    def tf_layers(self) -> dict[str, GeneratorConv]:
        """{checkpoint layer scope: conv}."""
        return {name: m for name, m in self.named_children() if isinstance(m, GeneratorConv)}

    def generator(self, ir: Tensor, vis: Tensor) -> Tensor:
        """The generator on network inputs (see `network_input`): tanh output of the unpadded size."""
        raise NotImplementedError

    def _fuse_one(self, ir: Tensor, vis: Tensor) -> Tensor:
        ir_rgb, vis_rgb = self.stored_layout(self.gray_as_rgb)
        out = self.generator(network_input(ir, ir_rgb, self.input_pad), network_input(vis, vis_rgb, self.input_pad))
        return save_levels(out) / 255

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return per_image(self._fuse_one, ir, vis)
