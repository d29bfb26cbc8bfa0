"""Progress bars (tqdm, on stderr): off when asked, or when stderr is not a terminal and not forced."""
from __future__ import annotations

from tqdm.auto import tqdm


def progress_bar(iterable=None, *, desc: str = '', total: int | None = None, unit: str = 'it', enable: bool = True):
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=not enable, dynamic_ncols=True, leave=False)
