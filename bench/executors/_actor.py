"""The class each Ray worker process runs: `Worker`, under the process settings `python -m bench` applies.

A worker process starts bare (it never runs `python -m bench`), so the settings must be applied here, before this
module imports torch.
"""
from __future__ import annotations

from bench import runtime

TUNED = runtime.tune()

from bench.executors.work import Worker  # noqa: E402

__all__ = ['ClusterWorker']


class ClusterWorker(Worker):
    def run_chunk_timed(self, chunk) -> tuple[list, float]:
        """`run_chunk` and the seconds it took inside the worker (the rest of a round trip is Ray's)."""
        import time
        start = time.perf_counter()
        out = self.run_chunk(chunk)
        return out, time.perf_counter() - start

    def process(self) -> dict:
        """Where this worker runs and with what (tests, run.json)."""
        import os
        import torch
        return {**self.describe(), 'tuned': TUNED, 'torch_threads': torch.get_num_threads(),
                'gomp_spincount': os.environ.get('GOMP_SPINCOUNT')}
