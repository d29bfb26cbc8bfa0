"""Executors: where a run's chunks of work run.

`local` (the default) runs them in this process, one after another; `ray` spreads them over the actors of a Ray
cluster. Both run `bench.executors.work.Worker` on the same chunks, so they compute the same values; the driver
alone plans the work (what is missing, which metrics) and alone writes the run folder, as results come back.

Importing this package imports neither torch nor Ray: `--executor local` needs nothing new.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

__all__ = ['EXECUTORS', 'ExecutorConfig', 'ExecutorUnavailable', 'open_executor', 'ray_installed']

EXECUTORS = ('local', 'ray')
RAY_INSTALL = 'pip install -e ".[ray]"'


class ExecutorUnavailable(RuntimeError):
    """The executor asked for cannot run here (Ray not installed, cluster unreachable)."""


@dataclass
class ExecutorConfig:
    """How to execute a run. The cluster options matter only for `ray`."""
    name: str = 'local'
    address: str | None = None      # Ray cluster to join; None: $RAY_ADDRESS, a `ray start` instance, else a new one
    gpus_per_task: float = 1.0      # GPUs each worker holds when the device is CUDA (a fraction shares a GPU)
    cpus_per_task: float = 1.0      # CPUs each worker holds (its torch threads: at least 1)
    chunk_size: int = 8             # pairs per task
    retries: int = 2                # restarts of a dead worker and retries of its task, then an error row
    ship_images: bool = False       # the driver reads the images and sends their bytes (workers without the data)
    workers: int | None = None      # at most this many workers (default: as many as the cluster's resources allow)

    def __post_init__(self) -> None:
        if self.name not in EXECUTORS:
            raise ValueError(f'Expected executor {" or ".join(map(repr, EXECUTORS))}, but got {self.name!r}.')
        if self.chunk_size < 1:
            raise ValueError(f'Expected a chunk size >= 1, but got {self.chunk_size}.')
        if not 0 < self.gpus_per_task:
            raise ValueError(f'Expected GPUs per task > 0, but got {self.gpus_per_task}.')
        if self.gpus_per_task > 1 and self.gpus_per_task != int(self.gpus_per_task):
            raise ValueError(f'Expected GPUs per task <= 1 or a whole number, but got {self.gpus_per_task}.')
        if not 0 < self.cpus_per_task:
            raise ValueError(f'Expected CPUs per task > 0, but got {self.cpus_per_task}.')
        if self.retries < 0:
            raise ValueError(f'Expected retries >= 0, but got {self.retries}.')
        if self.workers is not None and self.workers < 1:
            raise ValueError(f'Expected workers >= 1, but got {self.workers}.')


def ray_installed() -> bool:
    """Whether Ray can be imported (looked up without importing it)."""
    try:
        return importlib.util.find_spec('ray') is not None
    except (ImportError, ValueError, AttributeError):  # a module entry set to None (blocked) or without a spec
        return False


def open_executor(cfg: ExecutorConfig | None = None):
    """The executor `cfg` names, connected (for Ray: joined or started). Use it as a context manager.

    Raises:
        ExecutorUnavailable: Ray is not installed, or the cluster cannot be reached.
    """
    cfg = cfg or ExecutorConfig()
    if cfg.name == 'local':
        from bench.executors.local import LocalExecutor
        return LocalExecutor()
    if not ray_installed():
        raise ExecutorUnavailable(f'--executor ray needs Ray, which is not installed: {RAY_INSTALL} '
                                  f'(or pip install "ray>=2.9").')
    from bench.executors.ray import RayExecutor
    return RayExecutor(cfg)
