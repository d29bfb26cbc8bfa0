"""Locating and checking weight files. Local files only: `bench weights fetch` is the one place that downloads."""
from __future__ import annotations

import functools
import hashlib
import os
import tomllib
from pathlib import Path

__all__ = ['WeightsNotFound', 'default_weights_dir', 'official_weights', 'resolve_weights', 'weights_manifest']

WEIGHTS_ENV = 'BENCH_WEIGHTS_DIR'
MANIFEST = Path(__file__).with_name('weights.toml')


class WeightsNotFound(FileNotFoundError):
    """A method's weight file is missing or is not the official file."""


def default_weights_dir() -> Path:
    """`$BENCH_WEIGHTS_DIR`, else `~/.cache/ivif-bench/weights`."""
    env = os.environ.get(WEIGHTS_ENV)
    return Path(env).expanduser() if env else Path.home() / '.cache' / 'ivif-bench' / 'weights'


@functools.lru_cache(maxsize=1)
def weights_manifest() -> dict[str, dict]:
    """The project's manifest of official weight files (`methods/weights.toml`): {file: entry}."""
    with open(MANIFEST, 'rb') as fh:
        return {entry['file']: entry for entry in tomllib.load(fh)['weights']}


def official_weights(file: str):
    """The `Weights` of an official file listed in `methods/weights.toml` (sha256 or git blob id, URL).

    >>> official_weights('u2fusion/model/model.ckpt.index').sha256[:12]
    '15b7d283a1de'
    """
    from methods._registry import Weights
    try:
        entry = weights_manifest()[file]
    except KeyError:
        raise KeyError(f'{file!r} is not in the weights manifest {MANIFEST}.') from None
    url = entry.get('url', '')
    if entry.get('member'):
        url = f'{url} (zip member {entry["member"]})'
    return Weights(file, entry.get('sha256', ''), url, entry.get('git_blob', ''),
                   user_supplied=entry.get('download', '') == 'user')


_VERIFIED: dict[tuple[str, str, int, int], str] = {}


def _digest(path: Path, kind: str = 'sha256') -> str:
    # Hashing a checkpoint costs ~0.1 s per 100 MB; cache by (path, size, mtime) so a run hashes each file once.
    st = path.stat()
    key = (kind, str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        digest = hashlib.sha256() if kind == 'sha256' else hashlib.sha1(b'blob %d\0' % st.st_size)
        with open(path, 'rb') as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b''):
                digest.update(chunk)
        _VERIFIED[key] = digest.hexdigest()
    return _VERIFIED[key]


def _sha256(path: Path) -> str:
    return _digest(path, 'sha256')


def git_blob_id(path: Path) -> str:
    """git's object id of a file: sha1 of `b'blob <size>\\0'` followed by its bytes."""
    return _digest(Path(path), 'git_blob')


def resolve_weights(weights, weights_dir=None, *, method: str = '') -> Path:
    """Path of `weights.file` under `weights_dir`, after checking its sha256 (or git blob id when no sha256 is known).

    Raises:
        WeightsNotFound: naming the file, its sha256, where to download it and where to put it.
    """
    root = Path(weights_dir).expanduser() if weights_dir else default_weights_dir()
    path = root / weights.file
    checksum = f'sha256 {weights.sha256}' if weights.sha256 else f'git blob id {weights.git_blob}'
    fetch = f'Run `python -m bench weights fetch {method}`, or download' if method else 'Download'
    where = (f'{fetch} it from {weights.url or "the authors release page"} ({checksum}) and put it at '
             f'{path}, or point --weights-dir / ${WEIGHTS_ENV} at the folder that holds it.')
    if not path.is_file():
        raise WeightsNotFound(f'Method {method!r} needs the weight file {weights.file!r}, not found under {root}. '
                              f'{where}')
    kind, expected = ('sha256', weights.sha256) if weights.sha256 else ('git_blob', weights.git_blob)
    actual = _digest(path, kind)
    if actual != expected:
        label = 'sha256' if kind == 'sha256' else 'git blob id'
        raise WeightsNotFound(f'Method {method!r}: {path} has {label} {actual}, expected {expected} '
                              f'(not the official file). {where}')
    return path
