"""Where data, weights and caches live: CLI option, else environment variable, else a per-user cache folder."""
from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = 'BENCH_DATA_ROOT'
MIRROR_ENV = 'BENCH_DATA_MIRROR'


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/ivif-bench`, else `~/.cache/ivif-bench`."""
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base).expanduser() / 'ivif-bench'


def data_root(option: str | os.PathLike | None = None) -> Path:
    """The data root: `--data-root`, else `$BENCH_DATA_ROOT`, else `<cache>/data`."""
    value = option or os.environ.get(DATA_ENV)
    return Path(value).expanduser() if value else cache_dir() / 'data'


def data_mirror(option: str | None = None) -> str | None:
    """A base URL that replaces every manifest URL (`<mirror>/<directory>/<path>`), e.g. a lab's local copy."""
    return option or os.environ.get(MIRROR_ENV) or None
