"""The Ray executor: a run's chunks on the actors of a Ray cluster.

Each worker is a Ray actor running `Worker` (bench/executors/work.py) with `cpus_per_task` CPUs and, when the
device is CUDA, `gpus_per_task` GPUs; it keeps the method it built, so weights load once per worker. The driver
keeps every worker busy -- a free worker gets the next chunk of the method it already holds, else the next chunk in
plan order -- and hands each chunk's results to the caller as `ray.wait` returns them (the caller writes them).

A worker that dies is restarted and its chunk retried by Ray (`retries` times each). When that is spent, the chunk
is split into single pairs that go back to the queue, so one pair that kills its worker loses only itself; a single
pair that still fails becomes an error row (stage 'worker'), done again by the next run. Closing the executor (at
the end, or on Ctrl-C) kills its workers, which stops their work at once.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import Callable, Iterable, Iterator

try:
    import ray
except ImportError:  # the package's modules are imported by pytest's doctest collection; open_executor checks first
    ray = None

from bench.executors import ExecutorConfig, ExecutorUnavailable
from bench.executors.work import Chunk, Failure, PairResult, RemoteFailure, Settings
from bench.images import read_bytes
from bench.timing import node_name

__all__ = ['RayExecutor']

_WAIT_S = 0.5               # ray.wait returns this often, so Ctrl-C reaches the driver promptly
_WORKER_CACHE_PAIRS = 64    # decoded pairs a worker keeps (the in-process run keeps a whole data set)


class RayExecutor:
    name = 'ray'
    remote = True           # workers may be on other machines: files of the run folder go as bytes

    def __init__(self, cfg: ExecutorConfig) -> None:
        self.cfg = cfg
        self.chunk_size = cfg.chunk_size
        self._actors: list = []
        start = time.perf_counter()
        self._owned = not ray.is_initialized()
        if self._owned:
            try:  # no address: $RAY_ADDRESS, else a cluster `ray start` began on this machine, else a new local one
                ray.init(address=cfg.address, include_dashboard=False, logging_level='warning')
            except (ConnectionError, ValueError, RuntimeError) as err:
                where = cfg.address or os.environ.get('RAY_ADDRESS') or 'a new local instance'
                hint = ('' if os.environ.get('RAY_AUTH_MODE') else ' If the cluster uses token authentication '
                        '(the default of recent Ray), set RAY_AUTH_MODE=token here and give its token '
                        '(~/.ray/auth_token or RAY_AUTH_TOKEN).')
                raise ExecutorUnavailable(f'Cannot join the Ray cluster ({where}): {err}.{hint}') from None
        self.startup_s = time.perf_counter() - start
        self.nodes = _nodes()

    # -- the cluster ------------------------------------------------------------------------------------------
    def __enter__(self) -> 'RayExecutor':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Kills this run's workers (stopping their chunks) and leaves a Ray instance this executor started."""
        for actor in self._actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # already gone, or the cluster went away first (Ctrl-C reaches its processes too)
                pass
        self._actors.clear()
        if self._owned and ray.is_initialized():
            ray.shutdown()

    def totals(self) -> dict[str, float]:
        return {'cpus': sum(n['cpus'] for n in self.nodes), 'gpus': sum(n['gpus'] for n in self.nodes)}

    def describe(self) -> dict:
        """For run.json: the executor's options and the cluster it ran on."""
        return {'name': self.name, 'ray': ray.__version__, 'address': self.cfg.address or os.environ.get('RAY_ADDRESS'),
                'started_here': self._owned, 'startup_s': round(self.startup_s, 3), **self.totals(),
                'nodes': self.nodes, 'chunk_size': self.cfg.chunk_size, 'cpus_per_task': self.cfg.cpus_per_task,
                'gpus_per_task': self.cfg.gpus_per_task, 'retries': self.cfg.retries,
                'ship_images': self.cfg.ship_images, 'workers': self.cfg.workers}

    def summary(self) -> str:
        t = self.totals()
        return f'ray {ray.__version__}: {len(self.nodes)} node(s), {t["cpus"]:g} CPUs, {t["gpus"]:g} GPUs'

    def resolve_device(self, device: str) -> str:
        """'auto' is CUDA when the cluster has GPUs; Ray gives each worker its GPU, so 'cuda' names no index."""
        gpus = self.totals()['gpus']
        if device == 'auto':
            return 'cuda' if gpus else 'cpu'
        if device.startswith('cuda'):
            if device != 'cuda':
                raise ExecutorUnavailable(f"Expected --device cuda or auto with --executor ray (Ray gives each worker "
                                          f"its GPU), but got {device!r}.")
            if not gpus:
                raise ExecutorUnavailable(f'--device cuda was asked for, but the Ray cluster has no GPUs '
                                          f'({self.summary()}).')
        return device

    # -- work -------------------------------------------------------------------------------------------------
    def run(self, chunks: Iterable[Chunk], settings: Settings) -> Iterator[tuple[Chunk, PairResult]]:
        """Each chunk's pair results, chunk by chunk as they finish (not in plan order)."""
        settings = dataclasses.replace(
            settings, fetch=False, driver_node=node_name(),
            data_root=Path(settings.data_root).resolve() if settings.data_root else None,
            weights_dir=Path(settings.weights_dir).resolve() if settings.weights_dir else None,
            method_options={m: _absolute_weights(o) for m, o in settings.method_options.items()})
        self._settings = settings
        queue = deque(chunks)
        pool = _Pool(self, settings, len(queue))
        held: dict[int, str] = {}  # worker -> the method it holds

        def take(actor) -> Chunk:
            want = held.get(id(actor))
            for i, chunk in enumerate(queue):
                if chunk.registered and chunk.method == want:
                    del queue[i]
                    return chunk
            return queue.popleft()

        def submit(actor, chunk: Chunk):
            if chunk.registered:
                held[id(actor)] = chunk.method
            return actor.run_chunk.remote(self._prepare(chunk))

        for chunk, out in pool.map(queue, take, submit):
            if isinstance(out, ray.exceptions.RayActorError) and len(chunk) > 1:
                queue.extendleft(reversed(_singles(chunk)))   # isolate the pair that kills its worker
                continue
            if isinstance(out, Exception):
                out = [PairResult(item.pair.name, failure=self._lost(out)) for item in chunk.items]
            for result in out:
                yield chunk, result

    def score(self, triples: list, metric_names: list[str], convention: str, device: str,
              progress: bool = False) -> Iterator[tuple]:
        """`bench score`'s (triple, values or exception) in the order of `triples`."""
        from bench.progress import progress_bar
        settings = Settings(device=device, convention=convention, driver_node=node_name())
        size = self.cfg.chunk_size
        queue = deque((i, triples[i:i + size]) for i in range(0, len(triples), size))
        pool = _Pool(self, settings, len(queue))
        done: dict[int, list] = {}
        following = 0
        with progress_bar(total=len(triples), desc='score', unit='triple', enable=progress) as bar:
            for (start, part), out in pool.map(queue, lambda actor: queue.popleft(),
                                               lambda actor, task: actor.score_chunk.remote(
                                                   task[1], metric_names, convention)):
                if isinstance(out, ray.exceptions.RayActorError) and len(part) > 1:
                    queue.extendleft((start + k, [t]) for k, t in reversed(list(enumerate(part))))
                    continue
                if isinstance(out, Exception):
                    failure = self._lost(out)
                    out = [(t, failure) for t in part]
                done[start] = [(t, RemoteFailure(r) if isinstance(r, Failure) else r) for t, r in out]
                bar.update(len(part))
                while following in done:  # the output's order is the triples' order, whatever finished first
                    block = done.pop(following)
                    yield from block
                    following += len(block)

    # -- helpers ----------------------------------------------------------------------------------------------
    def _prepare(self, chunk: Chunk) -> Chunk:
        """What a worker gets: the manifest cut to the chunk's files, and bytes of the files it may not see (the
        run folder's fused images always; the sources and published results with --ship-images)."""
        manifest = slim_manifest(chunk.manifest, chunk.items)
        items = []
        for item in chunk.items:
            item = dataclasses.replace(item)
            if item.fused is not None and item.fused_data is None and (chunk.registered or self.cfg.ship_images):
                item.fused_data = _read(item.fused, 'read-fused' if chunk.registered else 'result')
            elif item.fused is not None:  # a --results folder given relative to this driver's directory
                item.fused = Path(os.path.abspath(item.fused))
            if self.cfg.ship_images:
                path = functools.partial(chunk.manifest.path, self._settings.data_root)
                try:
                    item.data = (read_bytes(path(item.pair.ir)), read_bytes(path(item.pair.vi)))
                except Exception as err:
                    item.data = Failure.of('load', err)
            items.append(item)
        return dataclasses.replace(chunk, manifest=manifest, items=items)

    def _lost(self, err: Exception) -> Failure:
        """The error row of work whose worker died (after Ray's retries) or whose task failed as a whole."""
        if isinstance(err, ray.exceptions.RayActorError):
            detail = str(err)
            cause = next((line.strip() for line in detail.splitlines()
                          if 'exit detail' in line.lower() or 'error raised in its creation task' in line), '')
            return Failure('worker', type(err).__name__,
                           f'its worker died {self.cfg.retries + 1} time(s) running it; run again to retry it'
                           + (f' ({cause[:300]})' if cause else ''))
        cause = getattr(err, 'cause', None) or err
        return Failure('worker', type(cause).__name__, str(cause).strip().splitlines()[-1][:500] if str(cause) else '')

    def _track(self, actor) -> None:
        self._actors.append(actor)

    def _untrack(self, actor) -> None:
        if actor in self._actors:
            self._actors.remove(actor)


class _Pool:
    """The run's workers: as many as the cluster's resources hold (at most one per chunk), replaced when one dies."""

    def __init__(self, executor: RayExecutor, settings: Settings, tasks: int) -> None:
        from bench.executors._actor import ClusterWorker
        cfg = executor.cfg
        self.executor = executor
        gpus = cfg.gpus_per_task if settings.device.startswith('cuda') else 0
        threads = max(1, int(cfg.cpus_per_task))
        # A worker's CPUs and GPUs come from one node: count the workers each node holds.
        room = sum(min(math.floor(n['cpus'] / cfg.cpus_per_task + 1e-9),
                       math.floor(n['gpus'] / gpus + 1e-9) if gpus else math.inf) for n in executor.nodes)
        if room < 1 and tasks:
            need = f'{cfg.cpus_per_task:g} CPU(s)' + (f' and {gpus:g} GPU(s)' if gpus else '')
            raise ExecutorUnavailable(f'No node of the Ray cluster has {need} for a worker ({executor.summary()}); '
                                      f'lower --cpus-per-task or --gpus-per-task.')
        self.size = max(1, min(room, tasks, cfg.workers or room))
        if tasks:
            print(f'Ray: {executor.summary()}; {self.size} worker(s) of {cfg.cpus_per_task:g} CPU(s)'
                  + (f' and {gpus:g} GPU(s)' if gpus else '') + f', {tasks} task(s).', file=sys.stderr)
        # torch, OpenMP and numba threads as many as the worker's CPUs: several workers share a machine
        env = {'OMP_NUM_THREADS': str(threads), 'NUMBA_NUM_THREADS': str(threads)}
        self.cls = ray.remote(ClusterWorker).options(
            num_cpus=cfg.cpus_per_task, num_gpus=gpus, max_restarts=cfg.retries, max_task_retries=cfg.retries,
            runtime_env={'env_vars': env})
        self.args = (settings, threads, _WORKER_CACHE_PAIRS)

    def new(self):
        actor = self.cls.remote(*self.args)
        self.executor._track(actor)
        return actor

    def map(self, queue: deque, take: Callable, submit: Callable) -> Iterator[tuple[object, object]]:
        """(task, result or exception) for every task of `queue` (which may grow meanwhile), as they finish."""
        idle = [self.new() for _ in range(min(self.size, len(queue)))]
        running: dict = {}
        while queue or running:
            while idle and queue:
                actor = idle.pop()
                task = take(actor)
                running[submit(actor, task)] = (actor, task)
            done, _ = ray.wait(list(running), num_returns=1, timeout=_WAIT_S)
            for ref in done:
                actor, task = running.pop(ref)
                try:
                    out = ray.get(ref)
                except ray.exceptions.RayActorError as err:  # dead after its restarts: a fresh worker takes over
                    self.executor._untrack(actor)
                    ray.kill(actor, no_restart=True)  # should it only be unreachable, it must not hold its resources
                    actor, out = self.new(), err
                except ray.exceptions.RayError as err:
                    out = err
                idle.append(actor)
                yield task, out


def slim_manifest(manifest, items: list) -> object:
    """The manifest with only what a worker reads for `items` (their files' checksums, the root): a data set's
    full manifest (a thousand pairs' checksums and URLs) would travel with every task."""
    files = {f for item in items for f in (item.pair.ir, item.pair.vi)}
    return dataclasses.replace(manifest, pairs=(), sources=(), urls={}, results={}, official_splits={},
                               checksums={f: s for f, s in manifest.checksums.items() if f in files})


def _singles(chunk: Chunk) -> list[Chunk]:
    return [dataclasses.replace(chunk, items=[item]) for item in chunk.items]


def _read(path: Path, stage: str) -> bytes | Failure:
    try:
        return read_bytes(path)
    except Exception as err:
        return Failure.of(stage, err)


def _absolute_weights(options: dict) -> dict:
    """--weights paths as absolute paths: a worker's working directory may not be the driver's."""
    given = options.get('weights')
    if given is None:
        return options
    paths = [str(Path(p).resolve()) for p in (given if isinstance(given, (list, tuple)) else [given])]
    return {**options, 'weights': paths if isinstance(given, (list, tuple)) else paths[0]}


def _nodes() -> list[dict]:
    """The cluster's live nodes: host, id, CPUs, GPUs and GPU types."""
    out = []
    for n in ray.nodes():
        if not n.get('Alive'):
            continue
        res = n.get('Resources', {})
        out.append({'host': n.get('NodeManagerHostname', ''), 'address': n.get('NodeManagerAddress', ''),
                    'node_id': n.get('NodeID', ''), 'cpus': res.get('CPU', 0), 'gpus': res.get('GPU', 0),
                    'gpu_types': sorted(k.split(':', 1)[1] for k in res if k.startswith('accelerator_type:'))})
    return out
