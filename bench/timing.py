"""Timing a fusion call: untimed warm-up, GPU synchronised around the timed call, `perf_counter` clock.

Also the facts the timing table reports next to the times: FLOPs and peak memory (measured on one extra untimed call
after the warm-up), parameters, threads and the device's name. Nothing but the call itself is inside the timed region.
"""
from __future__ import annotations

import ctypes
import os
import platform
import socket
import time
from pathlib import Path
from typing import Callable

import torch

__all__ = ['synchronize', 'warm_up', 'timed', 'profile', 'count_flops', 'count_parameters', 'device_name',
           'gpu_id', 'node_name', 'MemoryProbe']

_PROC_STATUS = Path('/proc/self/status')
_CLEAR_REFS = Path('/proc/self/clear_refs')


def synchronize(device: torch.device | str) -> None:
    """Waits for queued GPU work, so a timer measures the kernels and not just their launch."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def warm_up(fn: Callable, *args, device: torch.device | str, rounds: int = 1) -> None:
    """Runs `fn` `rounds` times untimed (CUDA context, cuDNN autotuning and caches settle on the first calls)."""
    for _ in range(rounds):
        fn(*args)
    synchronize(device)


def timed(fn: Callable, *args, device: torch.device | str):
    """Returns (fn(*args), seconds), synchronising the device before starting and before stopping the clock."""
    synchronize(device)
    start = time.perf_counter()
    out = fn(*args)
    synchronize(device)
    return out, time.perf_counter() - start


def _status_kib(field: str) -> int | None:
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith(field + ':'):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _release_free_heap() -> None:
    """Returns freed heap memory to the OS (glibc `malloc_trim`), so the resident set shows what is really in use."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the measured growth may then be smaller than the true peak
        pass


class MemoryProbe:
    """Peak memory a call adds over what was in use just before it, in bytes.

    GPU: `torch.cuda.max_memory_allocated` after resetting the peak (tensors held by the caching allocator).
    CPU (Linux): the process's resident-set high-water mark (VmHWM), reset by writing 5 to /proc/self/clear_refs
    after freed heap memory has been handed back, minus the resident set before the call. Where neither is
    available `stop()` returns None. The probe itself costs milliseconds and makes the next call fault its memory in
    again, so it belongs on an untimed call.

    Example:
        >>> probe = MemoryProbe('cpu')
        >>> probe.start(); block = bytearray(64 << 20); extra = probe.stop()
        >>> extra is None or extra >= 60 << 20
        True
    """

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self._base: int | None = None

    def start(self) -> None:
        if self.device.type == 'cuda':
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return
        self._base = None
        _release_free_heap()
        try:
            _CLEAR_REFS.write_text('5')  # resets VmHWM to the current resident set
        except OSError:
            return
        rss = _status_kib('VmRSS')
        self._base = None if rss is None else rss * 1024

    def stop(self) -> int | None:
        if self._base is None:
            return None
        synchronize(self.device)
        if self.device.type == 'cuda':
            return max(0, torch.cuda.max_memory_allocated(self.device) - self._base)
        peak = _status_kib('VmHWM')
        return None if peak is None else max(0, peak * 1024 - self._base)


def profile(fn: Callable, *args, device: torch.device | str) -> tuple[int | None, int | None]:
    """One untimed call of `fn(*args)` that counts its FLOPs and its peak extra memory: (flops, bytes), None where
    unknown. Run it after the warm-up, so one-time initialisation is not counted as the call's memory."""
    count_flops(torch.mul, torch.ones(1), torch.ones(1))  # the counter's first use imports modules: not the call's
    probe = MemoryProbe(device)
    probe.start()
    flops = count_flops(fn, *args)
    return flops, probe.stop()


def count_flops(fn: Callable, *args) -> int | None:
    """FLOPs of one call of `fn(*args)` by `torch.utils.flop_counter` (a multiply-add counts 2; convolutions, matrix
    products and attention are counted, element-wise operations are not). None if counting fails.

    Example:
        >>> conv = torch.nn.Conv2d(1, 4, 3, padding=1, bias=False)
        >>> count_flops(conv, torch.zeros(1, 1, 8, 8)) == 2 * 4 * 9 * 64
        True
    """
    from torch.utils.flop_counter import FlopCounterMode
    try:
        with FlopCounterMode(display=False) as counter:
            fn(*args)
    except Exception:  # a method the counter cannot trace still gets timed; its FLOPs stay unknown
        return None
    return int(counter.get_total_flops())


def count_parameters(module) -> int | None:
    """Number of parameters of a torch module (None for anything else)."""
    if not isinstance(module, torch.nn.Module):
        return None
    return sum(p.numel() for p in module.parameters())


def device_name(device: torch.device | str) -> str:
    """'NVIDIA H200' for a GPU, the CPU's model name for the CPU."""
    device = torch.device(device)
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or 'cpu'


def node_name() -> str:
    """The host name of the machine running this process (a timing row says where its call ran)."""
    return socket.gethostname()


def gpu_id(device: torch.device | str) -> str:
    """The physical GPU behind a CUDA device ('' for the CPU): its index among all the machine's GPUs, read through
    `CUDA_VISIBLE_DEVICES` (which Ray sets to the GPUs it gives a worker), so rows of different workers on one
    machine name different GPUs."""
    device = torch.device(device)
    if device.type != 'cuda':
        return ''
    index = device.index if device.index is not None else torch.cuda.current_device()
    visible = [v.strip() for v in os.environ.get('CUDA_VISIBLE_DEVICES', '').split(',') if v.strip()]
    return visible[index] if index < len(visible) else str(index)
