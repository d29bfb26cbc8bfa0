"""Timing a fusion call: untimed warm-up, GPU synchronised around the timed call, `perf_counter` clock."""
from __future__ import annotations

import time
from typing import Callable

import torch


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
