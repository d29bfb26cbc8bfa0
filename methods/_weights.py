"""Locating and checking weight files. Local files only: `bench weights fetch` is the one place that downloads."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ['WeightsNotFound', 'default_weights_dir', 'resolve_weights']

WEIGHTS_ENV = 'BENCH_WEIGHTS_DIR'


class WeightsNotFound(FileNotFoundError):
    """A method's weight file is missing or is not the official file."""


def default_weights_dir() -> Path:
    """`$BENCH_WEIGHTS_DIR`, else `~/.cache/ivif-bench/weights`."""
    env = os.environ.get(WEIGHTS_ENV)
    return Path(env).expanduser() if env else Path.home() / '.cache' / 'ivif-bench' / 'weights'


_VERIFIED: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    # Hashing a checkpoint costs ~0.1 s per 100 MB; cache by (path, size, mtime) so a run hashes each file once.
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        digest = hashlib.sha256()
        with open(path, 'rb') as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b''):
                digest.update(chunk)
        _VERIFIED[key] = digest.hexdigest()
    return _VERIFIED[key]


def resolve_weights(weights, weights_dir=None, *, method: str = '') -> Path:
    """Path of `weights.file` under `weights_dir`, after checking its sha256.

    Raises:
        WeightsNotFound: naming the file, its sha256, where to download it and where to put it.
    """
    root = Path(weights_dir).expanduser() if weights_dir else default_weights_dir()
    path = root / weights.file
    where = (f'Download it from {weights.url or "the authors release page"} (sha256 {weights.sha256}) and put it at '
             f'{path}, or point --weights-dir / ${WEIGHTS_ENV} at the folder that holds it.')
    if not path.is_file():
        raise WeightsNotFound(f'Method {method!r} needs the weight file {weights.file!r}, not found under {root}. '
                              f'{where}')
    actual = _sha256(path)
    if actual != weights.sha256:
        raise WeightsNotFound(f'Method {method!r}: {path} has sha256 {actual}, expected {weights.sha256} '
                              f'(not the official file). {where}')
    return path
