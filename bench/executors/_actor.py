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
    def process(self) -> dict:
        """Where this worker runs and with what (tests, run.json)."""
        import os
        import torch
        return {**self.describe(), 'tuned': TUNED, 'torch_threads': torch.get_num_threads(),
                'gomp_spincount': os.environ.get('GOMP_SPINCOUNT')}
