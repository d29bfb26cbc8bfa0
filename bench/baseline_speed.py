"""Time, parameters and peak memory of the baseline ports on one 640x480 pair (a development script).

    python -m bench.baseline_speed [--device cpu] [--repeat 3] [--random-init] [NAME ...]

Each method runs in a fresh process (so peak memory is its own): one untimed warm-up call, then the median of
`--repeat` timed `fuse` calls, and the median of the same number of calls of its bare network (the convolution
stack on already prepared inputs, without the protocol's input conversion and min-max stretch) for comparison.
Peak memory is the growth of the process's peak RSS (CPU) or `torch.cuda.max_memory_allocated` (GPU) over the
fusion calls. The runner's timing rows (`timing.csv`) time the same `fuse` call. `--random-init` builds the methods
without their weight files (FusionGAN, GANMcC, RFN-Nest and UMF-CMGR, whose official files are not at hand here).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

NAMES = ['auifnet', 'caf', 'caf-seg', 'cddfuse', 'csf', 'cufd', 'datfuse', 'densefuse', 'densefuse-pytorch', 'didfuse',
         'emma', 'gifnet', 'ifcnn', 'lrrnet', 'metafusion', 'mfeif', 'mufusion', 'mufusion-roadscene', 'murf',
         'piafusion', 'pmgi', 'reconet', 'sdnet', 'seafusion', 'smoa', 'stdfusionnet', 'superfusion', 'swinfusion',
         'tardal', 'tardal-dt', 'tardal-plus', 'u2fusion', 'ydtr', 'dfecf']


def _pair(device: str):
    yy, xx = torch.meshgrid(torch.arange(480.0), torch.arange(640.0), indexing='ij')
    ir = (128 + 90 * torch.sin(xx / 23) * torch.cos(yy / 17)).round() / 255
    vis = (120 + 80 * torch.cos((xx + yy) / 31) + 30 * torch.sin(xx * yy / 4000)).round().clamp(0, 255) / 255
    return ir[None, None].to(device), vis[None, None].to(device)


def _bare(method, ir, vis):
    """The network alone, on inputs already converted the way the method's forward converts them."""
    own = method.bare_network(ir, vis)
    if own is not None:
        return own
    name = method.spec.name
    if name.startswith('densefuse'):
        x = torch.cat([ir, vis]) * 255
        return lambda: method.decode(method.fuse_features(*method.encode(x).chunk(2)))
    if name.startswith('u2fusion'):
        return lambda: method.net(ir, vis)
    if name in ('fusiongan', 'ganmcc'):
        from methods._tf_gan import network_input
        a, b = network_input(ir), network_input(vis)
        return lambda: method.generator(a, b)
    if name == 'rfn-nest':
        a, b = ir * 255, vis * 255
        return lambda: method.network(a, b)  # one pass over the whole image (the method tiles above 512 px)
    if name == 'umf-cmgr':
        return lambda: method.net(ir, vis)
    if name == 'sdnet':
        a, b = ir * 2 - 1, vis * 2 - 1

        def sdnet_bare():
            pairs = zip(method._features(a, method.ir_layers), method._features(b, method.vi_layers))
            return method.fuse_conv(torch.cat([t for p in pairs for t in p], 1))
        return sdnet_bare
    return lambda: method(ir, vis)  # csf: the forward is the network (encoder, classifier gradients, decoder)


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def measure(name: str, device: str, repeat: int, pretrained: bool = True) -> dict:
    import methods
    torch.manual_seed(0)
    method = methods.create_method(name, device=device, pretrained=pretrained)
    ir, vis = _pair(device)
    params = sum(p.numel() for p in method.parameters())
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    method.fuse(ir, vis)
    times = []
    for _ in range(repeat):
        _sync(device)
        start = time.perf_counter()
        method.fuse(ir, vis)
        _sync(device)
        times.append(time.perf_counter() - start)
    bare, call = [], _bare(method, ir, vis)
    with torch.inference_mode():
        for _ in range(repeat):
            _sync(device)
            start = time.perf_counter()
            call()
            _sync(device)
            bare.append(time.perf_counter() - start)
    peak = ((torch.cuda.max_memory_allocated() - base) / 2**20 if device.startswith('cuda')
            else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024)
    return {'method': name, 'device': device, 'threads': torch.get_num_threads(), 'params': params,
            'median_s': statistics.median(times), 'bare_median_s': statistics.median(bare), 'peak_mib': peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('names', nargs='*', default=NAMES)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--random-init', action='store_true', help='build the methods without their weight files')
    parser.add_argument('--one', action='store_true', help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.names[0], args.device, args.repeat, not args.random_init)))
        return
    print(f'{"method":18s} {"params":>9s} {"fuse s":>8s} {"bare s":>8s} {"ratio":>6s} {"peak MiB":>9s}')
    for name in args.names:
        extra = ['--random-init'] if args.random_init else []
        out = subprocess.run([sys.executable, '-m', 'bench.baseline_speed', name, '--one', '--device', args.device,
                              '--repeat', str(args.repeat), *extra], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f'{name:18s} {r["params"]:9d} {r["median_s"]:8.2f} {r["bare_median_s"]:8.2f} '
              f'{r["median_s"] / r["bare_median_s"]:6.2f} {r["peak_mib"]:9.0f}', flush=True)


if __name__ == '__main__':
    main()
