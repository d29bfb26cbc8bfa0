"""DFECF's fast path against the reference one, side by side in one run (a development script).

    python -m bench.train_speed [--steps 3] [--batch-size 32] [--patch-size 128] [--threads N] [--inference]

Each path runs in a process of its own, started as `python -m bench` starts (so glibc's allocator state of one
cannot help the other), and the two take turns: every round runs one training step (or one `fuse`) in each, in an
order that alternates between rounds, so both see the same machine load; round 0 is a warm-up. Both start from the
same initialisation and train on the same batches of random crops of `--data`.

"reference" is what `bench train` and `fuse` ran before the fast path: the reference arithmetic
(`DFECFNet.set_fast(False)`) with glibc mmapping large blocks; "fast" is today's default (fast arithmetic, large
blocks from the heap, `methods.dfecf.heap`). Prints each round, then the median wall and CPU (user + system) seconds
of each path and the ratios, and each process's peak RSS. On a shared machine the CPU time is the steadier measure;
the load average is printed. Two processes hold a step's memory each: batch 32 of 128x128 needs about 2 x 12 GiB.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import time

PATHS = ('reference', 'fast')


def _timed(fn) -> dict:
    t0, w0 = os.times(), time.perf_counter()
    fn()
    t1, w1 = os.times(), time.perf_counter()
    return {'wall': w1 - w0, 'user': t1.user - t0.user, 'sys': t1.system - t0.system}


def _training_step(args: dict, path: str):
    import torch
    from bench.config import data_root
    from bench.training import TrainConfig, _crop_batch, epoch_patches, load_training_pairs, target_level
    from methods.dfecf import build_loss, build_network
    cfg = TrainConfig(method=args['method'], data=args['data'], batch_size=args['batch_size'],
                      patch_size=args['patch_size'], fast=path == 'fast')
    pairs = load_training_pairs(cfg.data, data_root(args['data_root']))
    plan = epoch_patches(cfg, 0, [tuple(ir.shape[-2:]) for _, ir, _ in pairs])
    torch.manual_seed(cfg.seed)   # as `bench train` initialises
    net = build_network(cfg.method).set_fast(cfg.fast)
    net.init_output_level(target_level(pairs))
    net.train()
    optimiser = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    loss_fn = build_loss(cfg.method)
    batches = len(plan) // cfg.batch_size

    def step(i: int) -> float:
        rows = plan[(i % batches) * cfg.batch_size:(i % batches + 1) * cfg.batch_size]
        ir, vis = _crop_batch(pairs, rows, cfg.patch_size, 'cpu')
        terms = loss_fn(net(ir, vis), ir, vis)
        optimiser.zero_grad(set_to_none=True)
        terms.total.backward()
        optimiser.step()
        return terms.total.item()
    return step


def _fusion(args: dict, path: str):
    from bench.baseline_speed import _pair
    from methods import create_method
    method = create_method(args['method']).set_fast(path == 'fast')
    ir, vis = _pair('cpu')
    return lambda i: method.fuse(ir, vis)


def _worker(conn, path: str, kind: str, args: dict) -> None:
    from bench import runtime
    runtime.tune()   # before torch loads, as `python -m bench` runs
    import torch
    if args['threads']:
        torch.set_num_threads(args['threads'])
    from methods.dfecf.heap import large_blocks_on_heap, set_mmap
    set_mmap(True)   # glibc's default; the fast path switches it off around its work, as `bench train` does
    work = (_training_step if kind == 'train' else _fusion)(args, path)
    conn.send(torch.get_num_threads())
    while (i := conn.recv()) is not None:
        if path == 'fast':
            with large_blocks_on_heap():
                timing = _timed(lambda: work(i))
        else:
            timing = _timed(lambda: work(i))
        timing['peak_gib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20   # the process's peak RSS
        conn.send(timing)


def _side_by_side(kind: str, args: dict, rounds: int) -> dict:
    ctx = multiprocessing.get_context('spawn')
    workers = {}
    for path in PATHS:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, path, kind, args), daemon=True)
        proc.start()
        workers[path] = (proc, parent)
    threads = {path: conn.recv() for path, (_, conn) in workers.items()}
    print(f'  torch threads per process: {threads}', flush=True)
    times = {p: [] for p in PATHS}
    try:
        for r in range(rounds + 1):
            for path in (PATHS if r % 2 == 0 else PATHS[::-1]):
                workers[path][1].send(r)
                t = workers[path][1].recv()
                if r:
                    times[path].append(t)
                print(f'  round {r}{" (warm-up)" if not r else ""} {path:9s}: wall {t["wall"]:6.2f} s, '
                      f'user {t["user"]:6.2f} s, sys {t["sys"]:5.2f} s, peak RSS {t["peak_gib"]:.1f} GiB '
                      f'(load {os.getloadavg()[0]:.1f})', flush=True)
    finally:
        for proc, conn in workers.values():
            conn.send(None)
            proc.join(timeout=60)
    return times


def _report(title: str, times: dict) -> None:
    med = {p: {k: statistics.median(t[k] for t in ts) for k in ('wall', 'user', 'sys')} for p, ts in times.items()}
    print(f'{title}: medians of {len(times["fast"])} rounds after the warm-up')
    for p, m in med.items():
        print(f'  {p:9s} wall {m["wall"]:7.2f} s   cpu {m["user"] + m["sys"]:7.2f} s (user {m["user"]:.2f}, '
              f'sys {m["sys"]:.2f})')
    r, f = med['reference'], med['fast']
    print(f'  fast is {r["wall"] / f["wall"]:.2f}x faster in wall time, '
          f'{(r["user"] + r["sys"]) / (f["user"] + f["sys"]):.2f}x in CPU time', flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog='python -m bench.train_speed', description=__doc__.split('\n\n')[0])
    p.add_argument('--method', default='dfecf')
    p.add_argument('--data', nargs='+', default=['msrs:train'])
    p.add_argument('--data-root', help='default $BENCH_DATA_ROOT or the user cache')
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--patch-size', type=int, default=128)
    p.add_argument('--steps', type=int, default=3, help='timed rounds per path after the warm-up (default 3)')
    p.add_argument('--threads', type=int, help='torch CPU threads of each process (default: torch chooses)')
    p.add_argument('--inference', action='store_true', help='also time fuse on one 640x480 pair')
    p.add_argument('--no-training', action='store_true', help='skip the training steps')
    args = p.parse_args(argv)
    from bench import runtime
    runtime.tune()   # GOMP_SPINCOUNT into the environment the workers inherit (torch is not loaded here)
    options = {k: getattr(args, k) for k in ('method', 'data', 'data_root', 'batch_size', 'patch_size', 'threads')}
    print(f'load average before: {" ".join(f"{x:.1f}" for x in os.getloadavg())}', flush=True)
    if not args.no_training:
        print(f'training step of {args.method}: batch {args.batch_size} of {args.patch_size}x{args.patch_size}',
              flush=True)
        _report('training step', _side_by_side('train', options, args.steps))
    if args.inference:
        print(f'fuse of {args.method} on one 640x480 pair', flush=True)
        _report('inference', _side_by_side('fuse', options, args.steps))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
