"""Large tensors from glibc's heap instead of fresh mmaps, while DFECF trains or fuses.

glibc serves every block above its mmap threshold (at most 32 MiB, even under `bench.runtime.tune`) with a fresh
mmap and unmaps it on free, so each such tensor pays its page faults again. DFECF's feature maps are far above that
(128 channels of 128x128 patches, batch 32: 256 MiB; of a 640x480 image: 157 MiB): measured on this project's
2-core CPU, system time was 4 s of a 12.5 s training step (batch 8) and 3.6 s of a 9.7 s fusion of one 640x480 pair.
With mmap off (mallopt M_MMAP_MAX = 0) the blocks come from the heap, freed ones are reused, and the system time is
gone (a freed chunk is reused when it fits the next 64-byte-aligned request: in a probe of one 48 MiB block
allocated again and again, about one run in four got a fresh block each time, as the heap's layout varies).
The setting is process-wide, so it is switched on only inside `large_blocks_on_heap()`. It pays off with
`bench.runtime.tune()` applied (as `python -m bench` and the tests do): the heap then keeps up to 1 GiB of freed
memory instead of giving it back at once (the peak is not raised). Nothing happens where the user set
glibc's malloc environment, or where there is no glibc.
"""
from __future__ import annotations

import ctypes
import os
import sys
from contextlib import contextmanager

__all__ = ['large_blocks_on_heap', 'set_mmap']

_M_MMAP_MAX = -4          # mallopt parameter (malloc.h)
DEFAULT_MMAP_MAX = 65536  # glibc's default (DEFAULT_MMAP_MAX)
_depth = 0


def _mallopt():
    if not sys.platform.startswith('linux') or any(k.startswith('MALLOC_') for k in os.environ) \
            or 'GLIBC_TUNABLES' in os.environ:
        return None
    try:
        return ctypes.CDLL('libc.so.6').mallopt
    except (OSError, AttributeError):   # not glibc
        return None


def set_mmap(allowed: bool) -> bool:
    """Lets glibc mmap large blocks (its default) or not; False where this cannot be set."""
    mallopt = _mallopt()
    return bool(mallopt and mallopt(_M_MMAP_MAX, DEFAULT_MMAP_MAX if allowed else 0))


@contextmanager
def large_blocks_on_heap():
    """Serves large blocks from the heap inside the block (nestable); glibc's default is back afterwards."""
    global _depth
    if not _depth:
        set_mmap(False)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth:
            set_mmap(True)
