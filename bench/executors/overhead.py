"""What Ray adds to a run, measured side by side with the in-process executor (a development script).

    python -m bench.executors.overhead [--pairs 42] [--methods average,maximum] [--metrics en,sd,sf]
                                       [--chunk-sizes 1,8] [--calls 30] [--out overhead.json]

Parts, all in this one process, on the same TNO-42 pairs (the shared data root):

* start-up: `ray.init` of a local instance sized to this machine; a new worker's first call (its process starts,
  imports torch and the benchmark), and a second worker started next to a warm one;
* per task: on a warm worker, the round trip of a chunk (empty, and of each chunk size) minus the time the worker
  spent inside it, median of `--calls`: scheduling, sending the chunk, returning its fused images and scores;
* end to end: `run_benchmark` in-process, then with Ray (a new local instance each time, its start-up reported
  apart) for each chunk size, each into a fresh run folder.

The machine's load averages before and after are printed with the numbers: on a shared machine they decide them.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _load() -> str:
    return ', '.join(f'{x:.2f}' for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    from bench import runtime
    runtime.tune()
    parser = argparse.ArgumentParser(prog='python -m bench.executors.overhead', description=__doc__.split('\n')[0])
    parser.add_argument('--pairs', type=int, default=42)
    parser.add_argument('--methods', default='average,maximum')
    parser.add_argument('--metrics', default='en,sd,sf')
    parser.add_argument('--chunk-sizes', default='1,8')
    parser.add_argument('--calls', type=int, default=30)
    parser.add_argument('--out', help='write the numbers as JSON')
    args = parser.parse_args(argv)

    import ray

    from bench.config import data_root
    from bench.datasets import load_manifest
    from bench.executors import ExecutorConfig
    from bench.executors._actor import ClusterWorker
    from bench.executors.ray import slim_manifest
    from bench.executors.work import Chunk, Item, Settings
    from bench.provenance import digest
    from bench.runner import RunConfig, run_benchmark

    methods, metric_names = args.methods.split(','), args.metrics.split(',')
    sizes = [int(s) for s in args.chunk_sizes.split(',')]
    facts: dict = {'load_before': _load(), 'cpus': os.cpu_count(), 'pairs': args.pairs, 'methods': methods,
                   'metrics': metric_names}
    print(f'load averages before: {facts["load_before"]} ({os.cpu_count()} CPUs)', flush=True)

    # -- start-up and per task, on warm workers ---------------------------------------------------------------
    start = time.perf_counter()
    ray.init(include_dashboard=False, logging_level='warning')
    facts['ray_init_s'] = time.perf_counter() - start
    manifest = load_manifest('tno42')
    root = data_root()
    settings = Settings(data_root=root, device='cpu')
    actor_cls = ray.remote(ClusterWorker).options(num_cpus=1, runtime_env={'env_vars': {
        'OMP_NUM_THREADS': '1', 'NUMBA_NUM_THREADS': '1'}})
    start = time.perf_counter()
    first = actor_cls.remote(settings, 1, 64)
    ray.get(first.process.remote())
    facts['first_worker_s'] = time.perf_counter() - start
    start = time.perf_counter()
    second = actor_cls.remote(settings, 1, 64)
    ray.get(second.process.remote())
    facts['second_worker_s'] = time.perf_counter() - start

    # A task's overhead: its round trip minus the time the worker spent inside it, on the same call (the
    # machine's load changes the work's own time from call to call; this difference is what Ray adds).
    for size in [0] + sizes:
        items = [Item(p, digest(p.name), tuple(metric_names)) for p in manifest.pairs[:size]]
        chunk = Chunk('tno42', slim_manifest(manifest, items), methods[0], items)
        ray.get(first.run_chunk_timed.remote(chunk))  # warm: method built and warmed up, pairs decoded
        trips, inside = [], []
        for _ in range(args.calls if size <= 1 else max(5, args.calls // 4)):
            start = time.perf_counter()
            _, seconds = ray.get(first.run_chunk_timed.remote(chunk))
            trips.append(time.perf_counter() - start)
            inside.append(seconds)
        extra = [t - i for t, i in zip(trips, inside)]
        facts[f'chunk{size}_roundtrip_ms'] = 1000 * statistics.median(trips)
        facts[f'chunk{size}_inside_ms'] = 1000 * statistics.median(inside)
        facts[f'chunk{size}_overhead_ms'] = 1000 * statistics.median(extra)
    ray.kill(first)
    ray.kill(second)
    ray.shutdown()

    # -- end to end ---------------------------------------------------------------------------------------------
    work = dict(methods=methods, datasets=['tno42'], metrics=metric_names, device='cpu', fetch=False,
                fallback=False, progress=False, limit=args.pairs)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_benchmark(RunConfig(out=Path(tmp) / 'local', **work))
        facts['run_local_s'] = time.perf_counter() - start
        for size in sizes:
            start = time.perf_counter()
            run_benchmark(RunConfig(out=Path(tmp) / f'ray{size}', executor=ExecutorConfig('ray', chunk_size=size),
                                    **work))
            facts[f'run_ray_chunk{size}_s'] = time.perf_counter() - start
            meta = json.loads((Path(tmp) / f'ray{size}' / 'run.json').read_text())
            facts[f'run_ray_chunk{size}_startup_s'] = meta['invocations'][-1]['executor']['startup_s']
    facts['tasks'] = {s: len(methods) * -(-args.pairs // s) for s in sizes}
    facts['load_after'] = _load()

    for key, value in facts.items():
        print(f'{key:24s} {value:.3f}' if isinstance(value, float) else f'{key:24s} {value}')
    if args.out:
        Path(args.out).write_text(json.dumps(facts, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
