"""Provenance keys: what produced each fused image and score, so a run folder never reuses stale results.

A fused image's key joins two digests: of its *inputs* (the IR and visible files' sha256, or size and mtime for
files no manifest lists) and of its *producer* (a method's name, options and weight files' sha256; for published
results, the result file's sha256). A score's key adds the version of the metric code. Keys are stored with the rows
(`key` column of timing.csv and scores.csv); on a rerun, work whose key differs is redone and its old rows replaced.

>>> k = fused_key(digest(['sha256:aa', 'sha256:bb']), digest({'method': 'average'}))
>>> describe_change(score_key(k, '0.1.0'), score_key(k, '0.2.0'))
'metric code version changed'
>>> describe_change(k, fused_key(digest(['sha256:aa', 'sha256:cc']), digest({'method': 'average'})))
'input files changed'
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ['describe_change', 'digest', 'file_identity', 'fused_key', 'method_identity', 'score_key', 'split_key']

_SEP = '-'


def digest(value: Any) -> str:
    """Short stable digest of a JSON-serialisable value (16 hex digits)."""
    text = json.dumps(value, sort_keys=True, separators=(',', ':'), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_identity(path: Path, sha256: str | None = None) -> str:
    """'sha256:<hex>' when the content's digest is known (a manifest lists it), else 'stat:<size>:<mtime_ns>', or
    'missing'. The stat form changes when a file is replaced or edited, without reading it."""
    if sha256:
        return f'sha256:{sha256}'
    try:
        st = Path(path).stat()
    except OSError:
        return 'missing'
    return f'stat:{st.st_size}:{st.st_mtime_ns}'


def fused_key(inputs: str, producer: str) -> str:
    """Key of a fused image: inputs digest and producer digest."""
    return f'{inputs}{_SEP}{producer}'


def score_key(fused: str, metrics_version: str) -> str:
    """Key of a score: the fused image's key and the metric code's version."""
    return f'{fused}{_SEP}{metrics_version}'


def split_key(key: str) -> tuple[str, str, str]:
    """(inputs, producer, metrics version) of a key; missing parts are ''."""
    parts = key.split(_SEP, 2) if key else []
    return tuple(parts + [''] * (3 - len(parts)))  # type: ignore[return-value]


def describe_change(old: str, new: str, producer: str = 'method, options or weights changed') -> str:
    """Why a stored key differs from the expected one, in words for the console (`producer`: what a change of the
    producer part means for this kind of result)."""
    if not old:
        return 'recorded without provenance keys (a run folder of an earlier version)'
    was, now = split_key(old), split_key(new)
    if was[0] != now[0]:
        return 'input files changed'
    if was[1] != now[1]:
        return producer
    return 'metric code version changed'


def _sha256(path: Path) -> str:
    from methods._weights import _sha256 as cached_sha256  # cached by path, size and mtime
    return cached_sha256(Path(path))


def method_identity(name: str, options: dict) -> dict:
    """What produces a registered method's fused images: its name, its options and every weight file it loads
    (official files by their manifest checksum, shipped files and a user's `--weights` files by their sha256).

    Recorded in run.json; its digest (without file locations, so moving a file changes nothing) is the producer
    part of the method's keys.
    """
    import methods
    spec = methods.get_method_spec(name)
    given = options.get('weights')
    if given is not None:
        paths = given if isinstance(given, (list, tuple)) else [given]
        files = [{'file': str(p), 'sha256': _sha256(p) if Path(p).is_file() else 'missing',
                  'source': 'user-supplied (--weights); checksum not checked'} for p in paths]
    else:
        files = [{'file': w.file, 'sha256': w.sha256 or None, 'git_blob': w.git_blob or None, 'source': 'official'}
                 for w in spec.weights]
        files += [{'file': p.name, 'sha256': _sha256(p) if p.is_file() else 'missing', 'source': 'shipped'}
                  for p in spec.shipped]
    rest = {k: v for k, v in options.items() if k != 'weights'}
    identity = {'method': name, 'options': {k: repr(v) for k, v in sorted(rest.items())}, 'weights': files}
    identity['key'] = digest({'method': name, 'options': identity['options'],
                              'weights': [f.get('sha256') or f.get('git_blob') for f in files]})
    return identity
