"""`python -m bench speed`: how long each metric takes and how much memory scoring needs.

Timings follow pytest-benchmark / timm practice: untimed warm-up, the device synchronised around every timed call,
median and inter-quartile range over repeats. Memory is the peak resident-set growth of a fresh process while it
scores (torch allocations included, which tracemalloc would miss).
"""
from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys

import numpy as np
import torch

PAPER_METRICS = ['en', 'sd', 'mi', 'ag', 'sf', 'vif', 'qabf']


def test_triple(height: int = 480, width: int = 640, batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """A structured (N, 1, H, W) uint8 triple: smooth scene, edges, noise; fused = a blend of the sources."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    ir = 60 + 120 * np.exp(-((yy - 0.5) ** 2 + (xx - 0.4) ** 2) * 30) + rng.normal(0, 4, (batch, height, width))
    vi = 100 + 60 * np.sin(xx * 40) * (yy > 0.3) + rng.normal(0, 6, (batch, height, width))
    fused = 0.5 * ir + 0.5 * vi
    return tuple(torch.from_numpy(np.clip(np.rint(a), 0, 255).astype(np.uint8))[:, None] for a in (fused, ir, vi))


def time_call(fn, *, device: torch.device, repeats: int = 20, warmup: int = 2) -> tuple[float, float]:
    """(median, IQR) in seconds of `fn()`, after `warmup` untimed calls."""
    from bench.timing import timed, warm_up
    warm_up(fn, device=device, rounds=warmup)
    times = [timed(fn, device=device)[1] for _ in range(repeats)]
    q1, _, q3 = statistics.quantiles(times, n=4)
    return statistics.median(times), q3 - q1


def _peak_rss_mb() -> float:
    """Peak resident set of this process in MB: /proc's VmHWM where there is one (Linux; resettable, see
    `_reset_peak`), else getrusage's maximum (which a child process can inherit from its parent)."""
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> float:
    """Sets the peak to the current resident set (Linux >= 4.0: `5 > /proc/self/clear_refs`) after returning the
    heap's free memory to the system; returns the current resident set in MB (the peak where no reset is
    possible, which then also holds import-time peaks)."""
    from bench import runtime
    runtime.release_free_memory()
    try:
        with open('/proc/self/clear_refs', 'w') as refs:
            refs.write('5')
    except OSError:
        pass
    return _peak_rss_mb()


def fitting_metrics(convention: str, height: int, width: int) -> list[str]:
    """The metrics of `convention` defined on an image of this size (MS-SSIM needs 176 px, VIF 17, ...)."""
    import metrics
    return [m for m in metrics.list_metrics(convention=convention)
            if metrics.get_metric(m, convention).min_size <= min(height, width)]


def memory_probe(convention: str, metrics_: list[str], height: int, width: int) -> dict:
    """Runs in a fresh process: peak RSS growth over the resident set before scoring for one triple, and the
    running peak after each of 40 more triples."""
    import metrics
    f, a, b = test_triple(height, width)
    # a small image every metric takes (64 px at least: Qp finds no features on a tiny one)
    k = min(height, width, max(64, *(metrics.get_metric(m, convention).min_size for m in metrics_)))
    metrics.score_images(f[:, :, :k, :k].clone(), a[:, :, :k, :k].clone(), b[:, :, :k, :k].clone(),
                         metrics_, convention)   # import-time and first-call allocations are not the metric's
    base = _reset_peak()
    metrics.score_images(f, a, b, metrics_, convention)
    first = _peak_rss_mb() - base
    trail = []
    for i in range(40):
        f, a, b = test_triple(height, width, seed=i)
        metrics.score_images(f, a, b, metrics_, convention)
        trail.append(round(_peak_rss_mb() - base, 1))
    return {'first_triple_mb': round(first, 1), 'after_each_of_40_mb': trail}


def main(argv: list[str] | None = None) -> int:
    import argparse
    import metrics
    parser = argparse.ArgumentParser(prog='python -m bench speed', description=__doc__)
    parser.add_argument('--size', default='640x480', help='WIDTHxHEIGHT (default %(default)s)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch default)')
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--batches', default='1,8', help='batch sizes for the throughput table')
    parser.add_argument('--no-memory', action='store_true', help='skip the memory probes (subprocesses)')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        width, height = (int(v) for v in args.size.lower().split('x'))
        assert width > 0 and height > 0
    except (ValueError, AssertionError):
        parser.error(f'--size: expected WIDTHxHEIGHT such as 640x480, but got {args.size!r}')
    device = torch.device(args.device)
    f, a, b = (t.to(device) for t in test_triple(height, width))
    print(f'{width}x{height} triple, device {device}, {torch.get_num_threads()} CPU threads, torch {torch.__version__}')
    print(f'\n{"convention":10s} {"metric":10s} {"median ms":>10s} {"IQR ms":>8s}')
    totals, skipped = {}, []
    for conv in metrics.list_conventions():
        names = fitting_metrics(conv, height, width)
        skipped += [f'{conv}/{m}' for m in metrics.list_metrics(convention=conv) if m not in names]
        for name in names:
            med, iqr = time_call(lambda: metrics.score_images(f, a, b, [name], conv), device=device,
                                 repeats=args.repeats)
            print(f'{conv:10s} {name:10s} {med * 1e3:10.2f} {iqr * 1e3:8.2f}')
        paper = [m for m in PAPER_METRICS if m in names]
        totals[conv] = (time_call(lambda: metrics.score_images(f, a, b, names, conv), device=device,
                                  repeats=args.repeats)[0],
                        time_call(lambda: metrics.score_images(f, a, b, paper, conv), device=device,
                                  repeats=args.repeats)[0] if paper else float('nan'), len(names), len(paper))
    if skipped:
        print(f'skipped (image smaller than the metric\'s min_size): {", ".join(skipped)}')
    print(f'\n{"convention":10s} {"all metrics ms":>15s} {"n":>3s} {"paper metrics ms":>17s} {"n":>3s}')
    for conv, (whole, paper, n, n_paper) in totals.items():
        print(f'{conv:10s} {whole * 1e3:15.1f} {n:3d} {paper * 1e3:17.1f} {n_paper:3d}')
    print(f'\n{"convention":10s} {"batch":>5s} {"triples/s":>10s}')
    for conv in metrics.list_conventions():
        names = fitting_metrics(conv, height, width)
        for batch in (int(x) for x in args.batches.split(',')):
            fb, ab, bb = (t.to(device) for t in test_triple(height, width, batch=batch))
            med, _ = time_call(lambda: metrics.score_images(fb, ab, bb, names, conv), device=device,
                               repeats=max(3, args.repeats // batch))
            print(f'{conv:10s} {batch:5d} {batch / med:10.1f}')
    if not args.no_memory and device.type == 'cpu':
        print('\npeak extra memory (fresh process): one triple, then the running peak over 40 more')
        for conv in metrics.list_conventions():
            code = ('from bench import runtime; runtime.tune(); '   # as `python -m bench` runs
                    'import json, metrics; from bench.speed import memory_probe; '
                    f'print(json.dumps(memory_probe({conv!r}, {fitting_metrics(conv, height, width)!r}, '
                    f'{height}, {width})))')
            out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
            probe = json.loads(out.stdout)
            trail = probe['after_each_of_40_mb']
            print(f'{conv:10s} first triple {probe["first_triple_mb"]:7.1f} MB; after 1/10/40 more: '
                  f'{trail[0]:.1f} / {trail[9]:.1f} / {trail[-1]:.1f} MB')
    return 0


if __name__ == '__main__':
    sys.exit(main())
