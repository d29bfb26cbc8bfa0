"""Registry of metrics: one frozen spec per (convention, metric), filled by the `register_metric` decorator."""
from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Callable, Sequence, TypeVar

from torch import Tensor

__all__ = ['MetricSpec', 'register_metric', 'list_metrics', 'get_metric', 'DEFAULT_CONVENTION']

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
    """
    name: str
    fn: Callable[..., Tensor] = field(repr=False, compare=False)
    higher_is_better: bool = True
    needs_sources: bool = True
    reference: str = ''
    convention: str = DEFAULT_CONVENTION
    label: str = ''

    def __call__(self, fused: Tensor, ir: Tensor | None = None, vis: Tensor | None = None) -> Tensor:
        if self.needs_sources:
            return self.fn(fused, ir, vis)
        return self.fn(fused)


_METRICS: dict[tuple[str, str], MetricSpec] = {}


def register_metric(name: str, *, higher_is_better: bool, needs_sources: bool, reference: str,
                    convention: str = DEFAULT_CONVENTION, label: str | None = None) -> Callable[[F], F]:
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
                                                 label or key.upper())
        return fn
    return decorate


def _conventions() -> list[str]:
    return sorted({c for c, _ in _METRICS})


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
