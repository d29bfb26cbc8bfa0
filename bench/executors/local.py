"""The in-process executor: every chunk in this process, in plan order, each pair's result as soon as it is done."""
from __future__ import annotations

from typing import Iterable, Iterator

from bench.executors.work import Chunk, PairResult, Settings, Worker

__all__ = ['LocalExecutor']


class LocalExecutor:
    name = 'local'
    remote = False          # workers share this process's files: the run folder's images go by path
    chunk_size = None       # one chunk per (data set, method): the whole of it, as one process would do it

    def __enter__(self) -> 'LocalExecutor':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass

    def describe(self) -> dict:
        return {'name': self.name}

    def summary(self) -> str:
        return 'local (this process)'

    def resolve_device(self, device: str) -> str:
        return device

    def run(self, chunks: Iterable[Chunk], settings: Settings) -> Iterator[tuple[Chunk, PairResult]]:
        worker = Worker(settings)
        try:
            for chunk in chunks:
                for result in worker.iter_chunk(chunk):
                    yield chunk, result
        finally:
            worker.close()

    def score(self, triples: list, metric_names: list[str], convention: str, device: str,
              progress: bool = False) -> Iterator[tuple]:
        from bench.score import score_triples
        yield from score_triples(triples, metric_names, convention, device, progress=progress)
