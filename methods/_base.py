"""`FusionMethod`: the one place where inputs are checked, colour is handled and sizes are padded."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods._colour import rgb_to_ycbcr, ycbcr_to_rgb
from methods._protocol import per_modality

__all__ = ['FusionMethod', 'check_pair']


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def check_pair(ir: Tensor, vis: Tensor) -> None:
    """Raises ValueError unless `ir` is (N, 1, H, W) and `vis` (N, 1 or 3, H, W), both floating point.

    Values must lie in [0, 1]; that is checked with one min/max reduction per tensor.
    """
    for label, t, channels in (('ir', ir, '1'), ('vis', vis, '1 or 3')):
        if not isinstance(t, Tensor):
            raise ValueError(f'Expected `{label}` to be a torch.Tensor, but got {type(t).__name__}.')
        if t.ndim != 4 or t.shape[1] not in ((1,) if label == 'ir' else (1, 3)):
            raise ValueError(f'Expected `{label}` of shape (N, {channels}, H, W), but got {_shape(t)}.')
        if not t.is_floating_point():
            raise ValueError(f'Expected `{label}` to be a floating-point tensor in [0, 1], but got {t.dtype}.')
        if t.numel() and (t.min() < 0 or t.max() > 1):
            raise ValueError(f'Expected `{label}` values in [0, 1], but got [{t.min():.4g}, {t.max():.4g}].')
    if ir.shape[0] != vis.shape[0] or ir.shape[2:] != vis.shape[2:]:
        raise ValueError(f'Expected `ir` and `vis` with the same N, H and W, but got {_shape(ir)} and {_shape(vis)}.')


class FusionMethod(nn.Module):
    """Base class of every method. Subclasses implement `forward`; callers use `fuse`.

    `forward(ir, vis)` receives (N, 1, H, W) tensors in [0, 1] with H and W multiples of `spec.input_multiple`
    (the visible image is the luminance unless the colour mode is 'rgb') and returns (N, 1, H, W).
    """
    spec = None
    colour = 'ycbcr'
    #: (ir, vis) flags of the current `fuse` call: was the image read from a file storing three channels? A gray
    #: image stored as three equal channels (TNO-42's PNGs) arrives as a 1-channel tensor, but official scripts that
    #: read files through PIL's YCbCr or as RGB see it differently; `stored_layout` gives those methods the fact.
    stored_rgb: tuple[bool, bool] = (False, False)

    def __init__(self) -> None:
        super().__init__()
        # Records the device for methods without parameters, so `.to(device)` works for every method.
        self.register_buffer('_device_anchor', torch.empty(0), persistent=False)

    @property
    def device(self) -> torch.device:
        return self._device_anchor.device

    @torch.inference_mode()
    def fuse(self, ir: Tensor, vis: Tensor, *, stored_rgb: bool | tuple[bool, bool] | None = None) -> Tensor:
        """Fuses a batch of pairs.

        Args:
            ir: infrared images, (N, 1, H, W) float in [0, 1].
            vis: visible images, (N, 1, H, W) or (N, 3, H, W) float in [0, 1].
            stored_rgb: whether the IR and visible files store three channels (one bool or an (ir, vis) pair; the
                runner passes what it read). Default: as the tensors are (IR 1-channel, visible by its channels).

        Returns:
            (N, 3, H, W) when `vis` is RGB and the colour mode is 'ycbcr' or 'rgb', else (N, 1, H, W); float32 in
            [0, 1] on the method's device.

        Raises:
            ValueError: for inputs of the wrong shape, type or range.
        """
        check_pair(ir, vis)
        self.stored_rgb = (False, vis.shape[1] == 3) if stored_rgb is None else per_modality(stored_rgb)
        ir = ir.to(self.device, torch.float32)
        vis = vis.to(self.device, torch.float32)
        chroma = None
        if vis.shape[1] == 3 and self.colour != 'rgb':
            vis, chroma = self.split_luminance(vis)
            chroma = chroma if self.colour == 'ycbcr' else None
        fused = self._padded_forward(ir, vis.clamp(0, 1)).clamp(0, 1)
        if chroma is not None:
            fused = self.recolour(fused, chroma)
        return fused

    def stored_layout(self, override: bool | tuple[bool, bool] | None = None) -> tuple[bool, bool]:
        """(ir, vis) stored-as-RGB flags for `forward`: a method option when given (`gray_as_rgb=...`), else what
        the current `fuse` call was told about the files."""
        return self.stored_rgb if override is None else per_modality(override)

    def bare_network(self, ir: Tensor, vis: Tensor):
        """For `python -m bench.baseline_speed`: a zero-argument callable that runs the network alone on inputs
        already prepared as `forward` prepares them (no input conversion, no output stretch), or None when the
        method has no such split. `ir`, `vis`: (1, 1, H, W) in [0, 1]."""
        return None

    def split_luminance(self, vis: Tensor) -> tuple[Tensor, object]:
        """Colour hook: (N, 3, H, W) RGB in [0, 1] -> (luminance (N, 1, H, W) in [0, 1], what `recolour` needs).

        Default: full-range BT.601 (JFIF) in float. Override (with `recolour`) to reproduce another library's
        conversion, e.g. `methods._protocol.PILColour`.
        """
        y, cb, cr = rgb_to_ycbcr(vis)
        return y, (cb, cr)

    def recolour(self, fused: Tensor, chroma) -> Tensor:
        """Colour hook: fused luminance (N, 1, H, W) in [0, 1] + `split_luminance`'s chroma -> (N, 3, H, W) RGB."""
        return ycbcr_to_rgb(fused, *chroma)

    def _padded_forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        multiple = self.spec.input_multiple if self.spec else 1
        h, w = ir.shape[-2:]
        pad_h, pad_w = -h % multiple, -w % multiple
        if pad_h or pad_w:
            pad = (0, pad_w, 0, pad_h)
            ir, vis = F.pad(ir, pad, mode='replicate'), F.pad(vis, pad, mode='replicate')
        fused = self(ir, vis)
        expected = (ir.shape[0], 1, *ir.shape[-2:])
        if fused.shape != expected and not (self.colour == 'rgb' and fused.shape[1] == 3):
            raise RuntimeError(f'{type(self).__name__}.forward returned {_shape(fused)}, expected {expected}.')
        return fused[..., :h, :w]
