"""Process-wide settings under which scoring is fast; `python -m bench` and the tests apply them before torch loads.

On a small CPU two costs outside the metrics' own arithmetic show (measured on this project's 2-core machine):

* glibc gives large freed blocks back to the system and maps them afresh, so every full-size temporary pays its
  page faults again: EN alone on a 640 x 480 triple 5.5 -> 1.9 ms; the tang2023 calibration tests 31 -> 22 s
  (system time 24 -> 9 s). Keeping freed memory in the process (trim and mmap thresholds fixed high) does not
  raise the peak, which is what the memory target measures.
* After each parallel op OpenMP threads spin, waiting for more work (libgomp's `GOMP_SPINCOUNT`, 300,000 by
  default), next to the numba kernels that follow: with numba's work-queue layer this took the paper's seven
  metrics from 33 to 57 ms; with its OpenMP layer (now used) the difference is within this machine's noise, and
  30,000 still keeps back-to-back torch ops from going to sleep between them.

A value the user has set (`GOMP_SPINCOUNT`, `OMP_WAIT_POLICY`, `MALLOC_*`, `GLIBC_TUNABLES`) is left alone. In your
own process, call `tune()` before importing torch for the same effect.
"""
from __future__ import annotations

import ctypes
import os
import sys

SPIN_COUNT = '30000'
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3    # mallopt parameters (malloc.h)
TRIM_THRESHOLD = 1 << 30                          # keep up to 1 GiB of freed memory
MMAP_THRESHOLD = 32 << 20                         # glibc's maximum: blocks up to 32 MiB come from the heap


def tune() -> dict[str, bool]:
    """Applies both settings where the user has not; says which were applied."""
    applied = {'spin_count': False, 'malloc': False}
    # libgomp reads its environment once, when torch loads it: after that, setting it changes nothing.
    if not {'GOMP_SPINCOUNT', 'OMP_WAIT_POLICY'} & set(os.environ) and 'torch' not in sys.modules:
        os.environ['GOMP_SPINCOUNT'] = SPIN_COUNT
        applied['spin_count'] = True
    if not any(k.startswith('MALLOC_') for k in os.environ) and 'GLIBC_TUNABLES' not in os.environ:
        applied['malloc'] = _keep_freed_memory()
    return applied


def _keep_freed_memory() -> bool:
    if not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL('libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):   # not glibc (musl, ...)
        return False
    return bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def release_free_memory() -> bool:
    """Returns the heap's free memory to the system (glibc `malloc_trim`), e.g. before measuring what an operation
    adds to the resident set. False where there is no glibc."""
    if not sys.platform.startswith('linux'):
        return False
    try:
        return bool(ctypes.CDLL('libc.so.6').malloc_trim(0) or True)
    except (OSError, AttributeError):
        return False
