"""DFECF (Zhang et al., differential feature enhancement and cross-modal fusion) and its four Table 4 ablations.

Five registered methods share one network class with flags:

| method | network | loss |
|---|---|---|
| `dfecf` | full | 50 L_grad + 7 L_pix + 1 L_aux |
| `dfecf-no-de` | encoder without the DE modules | full |
| `dfecf-no-fusion` | fusion module replaced by concatenation and a 1x1 convolution | full |
| `dfecf-no-aux` | full | without L_aux |
| `dfecf-no-transformer` | without the transformer block | full |

No code or weights of the authors exist; the network follows the paper (see `network.py`, `loss.py`) and the weights
in `methods/dfecf/weights/` were trained by this project with `python -m bench train` (see `MODEL_CARD.md`); a variant
is registered when its weights file is there.
`create_method('dfecf', weights=PATH)` (CLI: `bench run --weights dfecf=PATH`) loads other weights: a file written
by `bench train` (`weights.pt` or `checkpoint.pt`) or a plain state dict.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch
from torch import Tensor

from methods._base import FusionMethod
from methods._registry import register_method
from methods.dfecf.heap import large_blocks_on_heap
from methods.dfecf.loss import JointLoss
from methods.dfecf.network import DFECFNet

__all__ = ['VARIANTS', 'Variant', 'DFECF', 'build_network', 'build_loss', 'load_weights', 'shipped_weights',
           'export_state_dict']

PAPER = ('Zhang, H., Xu, L., Zhou, Q., Zhou, T., Liu, S., Chang, X., Li, H. Infrared-Visible Image Fusion Method '
         'Based on Differential Feature Enhancement and Cross-Modal Attention (DFECF); weights trained by ivif-bench')
LICENCE = 'MIT (this project: code written from the paper, weights trained here)'


@dataclass(frozen=True)
class Variant:
    """One registered DFECF method: keyword arguments of `DFECFNet` and of `JointLoss`."""
    name: str
    network: dict = field(default_factory=dict)
    loss: dict = field(default_factory=dict)
    removes: str = ''


VARIANTS = {v.name: v for v in (
    Variant('dfecf'),
    Variant('dfecf-no-de', network={'use_de': False}, removes='the DE modules of the encoder'),
    Variant('dfecf-no-fusion', network={'use_fusion': False},
            removes='the cross-modal fusion module (concatenation and a 1x1 convolution instead)'),
    Variant('dfecf-no-aux', loss={'w_aux': 0.0}, removes='the auxiliary loss (trained with 50 L_grad + 7 L_pix)'),
    Variant('dfecf-no-transformer', network={'use_transformer': False}, removes='the transformer block'),
)}


def build_network(variant: str) -> DFECFNet:
    """A freshly initialised network of `variant` (a key of `VARIANTS`)."""
    return DFECFNet(**_variant(variant).network)


def build_loss(variant: str) -> JointLoss:
    """The training loss of `variant`."""
    return JointLoss(**_variant(variant).loss)


def _variant(name: str) -> Variant:
    if name not in VARIANTS:
        from methods._registry import suggest
        raise KeyError(suggest(name, list(VARIANTS), 'DFECF variant'))
    return VARIANTS[name]


def shipped_weights(variant: str) -> Path:
    """Path of the weights this project trained for `variant`, shipped inside the package."""
    return Path(str(resources.files('methods.dfecf') / 'weights' / f'{_variant(variant).name}.pt'))


def export_state_dict(net: torch.nn.Module) -> dict[str, Tensor]:
    """The state dict as shipped: floating tensors stored as float16 (half the file; loaded back as float32)."""
    return {k: v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()
            for k, v in net.state_dict().items()}


def load_weights(net: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """Loads a state dict, a `bench train` checkpoint (its 'model' entry) or an exported weights file into `net`.

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: when the file does not hold this network's parameters (e.g. another variant's weights).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'DFECF weights file not found: {path}')
    state = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(state, dict) and isinstance(state.get('model'), dict):
        state = state['model']
    try:
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (RuntimeError, AttributeError) as err:
        first = str(err).strip().splitlines()[0]
        raise ValueError(f'{path} does not hold the weights of this DFECF variant: {first}') from None
    return net


class DFECF(FusionMethod):
    """A trained `DFECFNet` as a fusion method: (N, 1, H, W) luminance pairs in [0, 1] -> fused luminance."""

    def __init__(self, variant: str = 'dfecf', weights: str | Path | None = None) -> None:
        super().__init__()
        self.net = load_weights(build_network(variant), weights or shipped_weights(variant)).eval()

    fast = True

    def set_fast(self, fast: bool) -> DFECF:
        """The fast path (default: `DFECFNet.set_fast` and large blocks from the heap) or the reference one."""
        self.fast = fast
        self.net.set_fast(fast)
        return self

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        if not self.fast:
            return self.net(ir, vis)
        with large_blocks_on_heap():   # feature maps of 100+ MiB: no fresh mmap (and page faults) for each
            return self.net(ir, vis)


def _register(variant: Variant) -> None:
    doc = f'DFECF without {variant.removes}.' if variant.removes else 'DFECF, the full network.'

    def factory(weights: str | Path | None = None) -> DFECF:
        return DFECF(variant.name, weights)

    factory.__doc__ = doc + ' `weights`: another weights file (default: the shipped one).'
    factory.__name__ = factory.__qualname__ = variant.name.replace('-', '_')
    register_method(variant.name, paper=PAPER, licence=LICENCE, colour='ycbcr',
                    tags=('learned', 'dfecf') + (('ablation',) if variant.removes else ()),
                    shipped=[shipped_weights(variant.name)], year=2025,
                    verification='no official code or weights: trained here (see MODEL_CARD.md)')(factory)


# A variant is registered once its trained weights are shipped (training the five takes hours on a CPU; see the model
# card for which are done). `bench train` trains every variant, registered or not.
for _v in VARIANTS.values():
    if shipped_weights(_v.name).is_file():
        _register(_v)
