"""Progress bars: tqdm on stderr, so stdout keeps only the results a user may pipe elsewhere."""
from __future__ import annotations

from tqdm import tqdm


def progress_bar(iterable=None, *, desc: str = '', total: int | None = None, unit: str = 'it', enable: bool = True):
    """A tqdm bar that disappears when done; `enable=False` (`--no-progress`) turns it off."""
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=not enable, dynamic_ncols=True, leave=False)
