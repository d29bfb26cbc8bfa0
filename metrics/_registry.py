"""Registry of metrics: one frozen spec per (convention, metric), filled by the `register_metric` decorator."""
from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Callable, Sequence, TypeVar

import torch
from torch import Tensor

__all__ = ['MetricSpec', 'register_metric', 'register_variant', 'list_metrics', 'get_metric', 'DEFAULT_CONVENTION',
           'PRESETS', 'preset_metrics']

F = TypeVar('F', bound=Callable)
DEFAULT_CONVENTION = 'default'


@dataclass(frozen=True)
class MetricSpec:
    """The facts about one metric under one convention.

    Attributes:
        name: registry key, lower case (`en`); `label` is how tables print it (`EN`).
        fn: the function; takes (fused, ir, vis) tensors of shape (N, 1, H, W) on the convention's scale, returns (N,).
        higher_is_better: direction used to rank methods.
        needs_sources: False when only the fused image is read (EN, SD, AG, SF).
        reference: the implementation (repository @ commit, file) or textbook definition this reproduces.
        convention: the convention the function belongs to.
        scale: factor applied (see `rescale`) to the convention's 0-255 images before `fn` sees them (1/255 where a
            reference computes on [0, 1] data).
        min_size: smallest height and width the metric is defined for (its windows and scales need them).
        colour: for conventions that keep colour (VIFB, MEFB), a function that scores the stored (N, 1 or 3, H, W)
            images as a whole, for references that do not simply average per-channel scores (VIFB's SF reads a
            colour image as its channels side by side). None: per-channel scores are averaged.
    """
    name: str
    fn: Callable[..., Tensor] = field(repr=False, compare=False)
    higher_is_better: bool = True
    needs_sources: bool = True
    reference: str = ''
    convention: str = DEFAULT_CONVENTION
    label: str = ''
    scale: float = 1.0
    min_size: int = 1
    colour: Callable[..., Tensor] | None = field(default=None, repr=False, compare=False)

    def __call__(self, fused: Tensor, ir: Tensor | None = None, vis: Tensor | None = None) -> Tensor:
        if self.scale != 1.0:  # only floating tensors: the function's own checks must still see a wrong dtype
            fused, ir, vis = (rescale(t, self.scale) if isinstance(t, Tensor) and t.is_floating_point() else t
                              for t in (fused, ir, vis))
        return self.on_scale(fused, ir, vis)

    def on_scale(self, fused: Tensor, ir: Tensor | None = None, vis: Tensor | None = None) -> Tensor:
        """`fn` on images already on this metric's scale (`scale` applied), e.g. shared by several metrics."""
        if self.needs_sources:
            return self.fn(fused, ir, vis)
        return self.fn(fused)


def rescale(t: Tensor, scale: float) -> Tensor:
    """`t * scale`, computed as a division where `scale` is 1 / k for an integer k.

    MATLAB's `im2double` divides (k / 255); k * (1 / 255) differs from that in the last bit for 24 of the 256 grey
    levels, which is enough to flip exact comparisons in references that test equality (Qabf's gX == gF).

    Example:
        >>> import torch
        >>> levels = torch.arange(256, dtype=torch.float64)
        >>> bool((rescale(levels, 1 / 255) == levels / 255).all()), int((levels * (1 / 255) != levels / 255).sum())
        (True, 24)
    """
    t = t.to(torch.float64)      # the metrics compute in float64; scaling first in float32 would round twice
    inverse = 1 / scale
    return t / inverse if inverse == round(inverse) else t * scale


_METRICS: dict[tuple[str, str], MetricSpec] = {}


def register_metric(name: str, *, higher_is_better: bool, needs_sources: bool, reference: str,
                    convention: str = DEFAULT_CONVENTION, label: str | None = None,
                    scale: float = 1.0, min_size: int = 1, colour: Callable | None = None) -> Callable[[F], F]:
    """Decorator that registers a metric function under (`convention`, `name`).

    Raises:
        ValueError: on a duplicate registration, or when the facts disagree with another convention's registration
            of the same metric (a metric's direction does not depend on who computes it).
    """
    key = name.lower()

    def decorate(fn: F) -> F:
        if (convention, key) in _METRICS:
            raise ValueError(f'Metric {key!r} is already registered for convention {convention!r}.')
        for (_, other), spec in _METRICS.items():
            if other == key and (spec.higher_is_better, spec.needs_sources) != (higher_is_better, needs_sources):
                raise ValueError(f'Metric {key!r} registered with facts that differ from convention '
                                 f'{spec.convention!r}.')
        _METRICS[(convention, key)] = MetricSpec(key, fn, higher_is_better, needs_sources, reference, convention,
                                                 label or key.upper(), scale, min_size, colour)
        return fn
    return decorate


def register_variant(name: str, convention: str, reference: str, fn: Callable | None = None, *, scale: float = 1.0,
                     min_size: int | None = None, colour: Callable | None = None, **fn_kwargs) -> MetricSpec:
    """Registers metric `name` for another convention, reusing the facts of its first registration.

    Args:
        name: a metric already registered (normally under the default convention).
        convention: the convention this variant reproduces.
        reference: file and lines of the reference implementation it reproduces.
        fn: the function (default: the first registration's); `fn_kwargs` are bound to it with `functools.partial`.
        scale: see `MetricSpec.scale`.
        min_size: see `MetricSpec.min_size` (default: the first registration's).
        colour: see `MetricSpec.colour`.

    Example:
        >>> spec = register_variant('sd', 'doc-example', 'same as default', scale=1.0)
        >>> spec.convention, spec.higher_is_better
        ('doc-example', True)
        >>> _ = _METRICS.pop(('doc-example', 'sd'))
    """
    import functools
    import importlib
    if not any(n == name for _, n in _METRICS):  # metric file == registry key: load the base registration first
        importlib.import_module(f'metrics.{name}')
    base = next((s for (c, n), s in sorted(_METRICS.items(), key=lambda kv: kv[0][0] != DEFAULT_CONVENTION)
                 if n == name), None)
    if base is None:
        raise KeyError(f'Metric {name!r} has no registration to take the facts from.')
    fn = fn or base.fn
    if fn_kwargs:
        fn = functools.wraps(fn)(functools.partial(fn, **fn_kwargs))
    register_metric(name, higher_is_better=base.higher_is_better, needs_sources=base.needs_sources,
                    reference=reference, convention=convention, label=base.label, scale=scale,
                    min_size=base.min_size if min_size is None else min_size, colour=colour)(fn)
    return _METRICS[(convention, name)]


def _conventions() -> list[str]:
    return sorted({c for c, _ in _METRICS})


# Named selections for `--metrics`: the DFECF paper's Table 3 columns in the paper's order, and the metric sets of
# the VIFB and MEFB benchmarks (as their conventions register them).
PRESETS: dict[str, tuple[str, ...]] = {
    'paper': ('sd', 'mi', 'vif', 'ag', 'en', 'sf', 'qabf'),
    'vifb': ('ag', 'ce', 'ei', 'en', 'mi', 'psnr', 'qabf', 'qcb', 'qcv', 'rmse', 'sd', 'sf', 'ssim'),
    'mefb': ('ag', 'ce', 'ei', 'en', 'fmi_edge', 'nmi', 'psnr', 'qabf', 'qc', 'qcb', 'qcv', 'qncie', 'qp', 'qw', 'qy',
             'sd', 'sf', 'te', 'viff'),
}


def preset_metrics(preset: str, convention: str = DEFAULT_CONVENTION) -> list[str]:
    """The metrics of `preset` ('paper', 'vifb', 'mefb' or 'all') that `convention` computes, in the preset's order.

    >>> preset_metrics('paper')
    ['sd', 'mi', 'vif', 'ag', 'en', 'sf', 'qabf']

    Raises:
        KeyError: for an unknown preset.
    """
    available = list_metrics(convention=convention)
    if preset == 'all':
        return available
    if preset not in PRESETS:
        raise KeyError(_unknown('metric preset', preset, sorted(PRESETS) + ['all']))
    return [m for m in PRESETS[preset] if m in available]


def list_metrics(pattern: str | Sequence[str] = '*', convention: str = DEFAULT_CONVENTION,
                 exclude: str | Sequence[str] = ()) -> list[str]:
    """Names of the metrics of `convention` matching any glob in `pattern` and none in `exclude`, sorted."""
    keep = [pattern] if isinstance(pattern, str) else list(pattern)
    drop = [exclude] if isinstance(exclude, str) else list(exclude)
    return sorted(n for c, n in _METRICS if c == convention
                  and any(fnmatch.fnmatch(n, p.lower()) for p in keep)
                  and not any(fnmatch.fnmatch(n, p.lower()) for p in drop))


def get_metric(name: str, convention: str = DEFAULT_CONVENTION) -> MetricSpec:
    """The spec of `name` under `convention`.

    Raises:
        KeyError: for an unknown metric or convention, with close matches.
    """
    try:
        return _METRICS[(convention, name.lower())]
    except KeyError:
        if convention not in _conventions():
            raise KeyError(_unknown('convention', convention, _conventions())) from None
        raise KeyError(_unknown(f'metric (convention {convention!r})', name,
                                list_metrics(convention=convention))) from None


def _unknown(kind: str, name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name.lower(), choices, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ''
    return f'Unknown {kind} {name!r}.{hint} Available: {", ".join(choices)}.'
