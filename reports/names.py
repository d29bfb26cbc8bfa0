"""Choosing and naming what a report shows: method and metric selections, and the labels methods appear under.

Names given by the user are checked against what the run holds, so a typo is an error that suggests the closest
names instead of a table that silently lacks a column.
"""
from __future__ import annotations

import difflib
import fnmatch

__all__ = ['choose', 'method_labels', 'parse_labels', 'PUBLISHED_SUFFIX']

PUBLISHED_SUFFIX = ' (published)'


def _unknown(name: str, available: list[str], kind: str) -> KeyError:
    close = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
    close += [a for a in available if a.lower() == name.lower() and a not in close]  # DenseFuse vs densefuse
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ''
    return KeyError(f"Unknown {kind} {name!r}: the run has no such {kind}.{hint} Available: {', '.join(available)}.")


def choose(requested: list[str], available: list[str], kind: str,
           presets: dict[str, list[str]] | None = None, case_sensitive: bool = True) -> list[str]:
    """The names of `available` that `requested` asks for, in the requested order, each once.

    A request is a name, a glob (`dfecf*`), `all`, or a preset name mapping to a list (a preset's members the run
    lacks are left out). Method names are matched exactly, since names that differ only by case are different
    methods (`DenseFuse`, `densefuse`); metric names are not (`--metrics SD,MI` means `sd,mi`).

    Raises:
        KeyError: a name or glob matches nothing; the message suggests close names.

    Example:
        >>> choose(['b', 'a*'], ['a1', 'b', 'a2'], 'method')
        ['b', 'a1', 'a2']
    """
    presets = presets or {}
    fold = (lambda text: text) if case_sensitive else str.lower
    out: list[str] = []
    for name in requested:
        exact = [a for a in available if fold(a) == fold(name)]
        if name == 'all':
            hits = list(available)
        elif exact:
            hits = exact
        elif fold(name) in {fold(p) for p in presets}:
            members = next(v for p, v in presets.items() if fold(p) == fold(name))
            hits = [a for m in members for a in available if fold(a) == fold(m)]
        elif any(ch in name for ch in '*?['):
            hits = [a for a in available if fnmatch.fnmatchcase(fold(a), fold(name))]
        else:
            hits = []
        if not hits:
            raise _unknown(name, available + [p for p in presets if p not in available], kind)
        out += [h for h in hits if h not in out]
    return out


def parse_labels(texts: list[str]) -> dict[str, str]:
    """`['OLD=NEW', ...]` -> {OLD: NEW}.

    Raises:
        ValueError: an item is not OLD=NEW with both sides non-empty.
    """
    labels = {}
    for text in texts:
        old, sep, new = text.partition('=')
        if not sep or not old.strip() or not new.strip():
            raise ValueError(f'Expected --label OLD=NEW (a method name and its label), but got {text!r}.')
        labels[old.strip()] = new.strip()
    return labels


def method_labels(methods: list[str], meta: dict, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """{method: label shown in tables and figures}.

    A published result folder is labelled `NAME (published)`: VIF-Benchmark's `DenseFuse` images and this
    project's `densefuse` port differ only by case otherwise. `overrides` ({name: label}) win over that.

    Raises:
        KeyError: an override names a method the run does not have.
        ValueError: two methods would get the same label.

    Example:
        >>> meta = {'methods': {'DenseFuse': {'kind': 'published'}, 'densefuse': {'kind': 'baseline'}}}
        >>> method_labels(['densefuse', 'DenseFuse'], meta, {'densefuse': 'DenseFuse (port)'})
        {'densefuse': 'DenseFuse (port)', 'DenseFuse': 'DenseFuse (published)'}
    """
    overrides = overrides or {}
    for name in overrides:
        if name not in methods:
            raise _unknown(name, methods, 'method')
    facts = meta.get('methods', {}) if isinstance(meta.get('methods'), dict) else {}
    labels = {}
    for method in methods:
        published = (facts.get(method) or {}).get('kind') == 'published'
        labels[method] = overrides.get(method, method + PUBLISHED_SUFFIX if published else method)
    seen: dict[str, str] = {}
    for method, label in labels.items():
        if label in seen:
            raise ValueError(f'Expected a different label for each method, but {seen[label]!r} and {method!r} are '
                             f'both labelled {label!r}.')
        seen[label] = method
    return labels
