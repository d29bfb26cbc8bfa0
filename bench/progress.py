"""Progress bars: tqdm on stderr, so stdout keeps only the results a user may pipe elsewhere."""
from __future__ import annotations

from tqdm import tqdm


def progress_bar(iterable=None, *, desc: str = '', total: int | None = None, unit: str = 'it', enable: bool = True):
    """A tqdm bar that disappears when done; off with `enable=False` (`--no-progress`) or when stderr is not a
    terminal (CI logs, redirected output), where a bar would only print carriage-return noise."""
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=None if enable else True, dynamic_ncols=True,
                leave=False)
