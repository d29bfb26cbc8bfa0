"""Training loop of `python -m bench train`: trains a DFECF variant on random patches and writes resumable checkpoints.

Protocol (the paper's Table 2 by default): 128x128 patches, batch 32, Adam with learning rate 1e-3, halved every
epoch after epoch 15, 30 epochs. An epoch is `--patches-per-epoch` random crops drawn from the training pairs with a
generator seeded by (seed, epoch), so the data of every step is fixed by the seed alone: an interrupted run resumes
from its checkpoint (written every `--checkpoint-minutes` and at the end of every epoch) and reproduces the
uninterrupted run exactly.

After the last epoch the batch-normalisation statistics are recomputed with the final weights over `bn_batches`
batches of fresh crops (`recalibrate_batch_norm`), then the weights are exported.

Outputs in `--out`: `checkpoint.pt` (model, optimiser, position, loss history), `losses.csv` (one row per step),
`losses.png`, `train.json` (configuration, versions, commit, wall time, final losses) and, once the last epoch is
done, `weights.pt` (the state dict as shipped, float16).
"""
from __future__ import annotations

import csv
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from bench.interrupts import Interrupted, Interrupts
from methods.dfecf.heap import large_blocks_on_heap

__all__ = ['TrainConfig', 'train', 'load_training_pairs', 'learning_rate', 'epoch_patches', 'steps_per_epoch',
           'target_level']

# Data sets the benchmark uses as test sets: never trained on (MSRS test pairs are caught by their split).
TEST_SETS = ('tno42', 'tno21')
LOSS_COLUMNS = ['epoch', 'step', 'lr', 'total', 'grad', 'pix', 'aux', 'seconds']


@dataclass
class TrainConfig:
    """What defines a training run; a checkpoint resumes only under the same values of these fields."""
    method: str = 'dfecf'
    data: list[str] = field(default_factory=lambda: ['msrs:train'])
    epochs: int = 30
    patches_per_epoch: int = 1504
    batch_size: int = 32
    patch_size: int = 128
    lr: float = 1e-3
    decay_after: int = 15
    seed: int = 0
    bn_batches: int = 4
    fast: bool = True   # the network's fast arithmetic (`DFECFNet.set_fast`); False: the reference one


def learning_rate(cfg: TrainConfig, epoch: int) -> float:
    """Learning rate of 0-based `epoch`: `lr` for the first `decay_after` epochs, then halved every epoch.

    >>> [learning_rate(TrainConfig(lr=1.0, decay_after=2), e) for e in range(4)]
    [1.0, 1.0, 0.5, 0.25]
    """
    return cfg.lr * 0.5 ** max(0, epoch + 1 - cfg.decay_after)


def steps_per_epoch(cfg: TrainConfig) -> int:
    return math.ceil(cfg.patches_per_epoch / cfg.batch_size)


def load_training_pairs(specs: list[str], data_root: Path) -> list[tuple[str, Tensor, Tensor]]:
    """Decodes the training pairs as (name, ir, vis_luminance), each (1, H, W) float32 in [0, 1].

    Args:
        specs: `dataset` or `dataset:split` entries (e.g. `msrs:train`, `roadscene`).
        data_root: the benchmark's data root.

    Raises:
        ValueError: for a test set (TNO, or pairs whose split is 'test'), an unknown split, or no pairs.
    """
    from bench.datasets import load_manifest, load_pair
    from methods._colour import rgb_to_ycbcr
    out = []
    for spec in specs:
        name, _, split = spec.partition(':')
        if name in TEST_SETS or split == 'test':
            raise ValueError(f'Refusing to train on {spec!r}: it is a test set of the benchmark.')
        manifest = load_manifest(name)
        pairs = [p for p in manifest.pairs if (p.split == split if split else p.split != 'test')]
        if not pairs:
            splits = sorted({p.split for p in manifest.pairs if p.split})
            raise ValueError(f'No training pairs in {spec!r} (splits of {name}: {", ".join(splits) or "none"}).')
        for pair in pairs:
            loaded = load_pair(manifest, pair, data_root)
            ir = torch.from_numpy(loaded.ir).float()[None] / 255
            vis = torch.from_numpy(loaded.vis).float() / 255
            vis = vis[None] if vis.ndim == 2 else rgb_to_ycbcr(vis.permute(2, 0, 1)[None])[0][0].clamp(0, 1)
            out.append((f'{name}/{pair.name}', ir, vis))
    return out


def target_level(pairs: list[tuple[str, Tensor, Tensor]]) -> float:
    """Mean over the training pairs of the pixel-loss target max(ir, vis): the level the output starts at."""
    return sum(torch.maximum(ir, vis).mean().item() for _, ir, vis in pairs) / len(pairs)


def epoch_patches(cfg: TrainConfig, epoch: int, sizes: list[tuple[int, int]], n: int | None = None) -> Tensor:
    """(n, 3) int64 rows (pair index, top, left) of the crops of `epoch`, fixed by (seed, epoch).

    Pairs are drawn uniformly, then a crop position uniformly inside the chosen image. `n` defaults to
    `patches_per_epoch`.
    """
    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
    n = cfg.patches_per_epoch if n is None else n
    index = torch.randint(len(sizes), (n,), generator=g)
    room = torch.tensor([[h - cfg.patch_size + 1, w - cfg.patch_size + 1] for h, w in sizes])[index]
    offsets = (torch.rand(n, 2, generator=g, dtype=torch.float64) * room).long()
    return torch.cat([index[:, None], offsets], 1)


def _crop_batch(pairs, rows: Tensor, size: int, device) -> tuple[Tensor, Tensor]:
    ir = torch.stack([pairs[i][1][:, y:y + size, x:x + size] for i, y, x in rows.tolist()])
    vis = torch.stack([pairs[i][2][:, y:y + size, x:x + size] for i, y, x in rows.tolist()])
    return ir.to(device), vis.to(device)


@torch.no_grad()
def recalibrate_batch_norm(net: torch.nn.Module, batches) -> None:
    """Recomputes every BatchNorm's running mean and variance as the plain average over `batches` of (ir, vis).

    After a short training the running statistics (an exponential average with momentum 0.1) still mix in the
    statistics of early, very different weights and of the initial (0, 1), so evaluation mode does not behave like
    the trained network; the final weights' own statistics fix that (as `torch.optim.swa_utils.update_bn` does).
    """
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    was_training = net.training
    net.train()
    for ir, vis in batches:
        net(ir, vis)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    net.train(was_training)


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(f'.{path.name}.tmp')
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _write_losses(out: Path, history: list[dict]) -> None:
    tmp = out / '.losses.csv.tmp'
    with open(tmp, 'w', newline='') as fh:
        writer = csv.DictWriter(fh, LOSS_COLUMNS)
        writer.writeheader()
        writer.writerows(history)
    os.replace(tmp, out / 'losses.csv')


def _plot_losses(out: Path, history: list[dict], cfg: TrainConfig) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    if not history:
        return
    per_epoch = steps_per_epoch(cfg)
    x = [(r['epoch'] - 1) + (r['step'] + 1) / per_epoch for r in history]
    fig, ax = plt.subplots(figsize=(7, 4))
    loss = build_loss_weights(cfg.method)
    ax.plot(x, [r['total'] for r in history], label='total', color='black')
    for term, weight in loss.items():
        if weight:
            ax.plot(x, [weight * r[term] for r in history], label=f'{weight:g} L_{term}')
    ax.set(xlabel='epoch', ylabel='loss', yscale='log', title=f'{cfg.method}: training loss per step')
    ax.legend(loc='upper right')
    fig.tight_layout()
    fig.savefig(out / 'losses.png', dpi=100)
    plt.close(fig)


def build_loss_weights(method: str) -> dict[str, float]:
    from methods.dfecf import build_loss
    loss = build_loss(method)
    return {'grad': loss.w_grad, 'pix': loss.w_pix, 'aux': loss.w_aux}


def _git_commit() -> str | None:
    import subprocess
    try:
        return subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=Path(__file__).resolve().parents[1],
                              capture_output=True, text=True, timeout=10, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _print_flushed(*args) -> None:
    print(*args, flush=True)


def train(cfg: TrainConfig, out: Path, *, data_root: Path, device: str = 'cpu', threads: int | None = None,
          checkpoint_minutes: float = 5.0, max_steps: int | None = None, fresh: bool = False,
          progress: bool = True, log=None) -> dict:
    """Trains (or resumes training of) `cfg.method`; returns the summary also written to `train.json`.

    Args:
        cfg: the run's definition.
        out: output folder; a `checkpoint.pt` there is resumed from unless `fresh`.
        data_root: where the training data sets live.
        device: torch device.
        threads: torch CPU threads (None: torch's default).
        checkpoint_minutes: wall time between checkpoints inside an epoch (one is also written after every epoch).
        max_steps: stop after this many optimiser steps in this call (a checkpoint is written first).
        fresh: ignore an existing checkpoint.
        progress: show a progress bar (on a terminal); without one, every step logs a line.
        log: where messages go (default: printed and flushed, so a log file follows the run).

    Raises:
        ValueError: when the checkpoint in `out` was written under another configuration, or the data is unusable.
        bench.interrupts.Interrupted: on SIGINT or SIGTERM (a KeyboardInterrupt), after the checkpoint of the last
            finished step is written.
    """
    log = log or _print_flushed
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with large_blocks_on_heap():
            return _train(cfg, out, data_root, device, checkpoint_minutes, max_steps, fresh, progress, log)
    finally:
        torch.set_num_threads(previous_threads)


def _train(cfg: TrainConfig, out: Path, data_root: Path, device, checkpoint_minutes: float, max_steps: int | None,
           fresh: bool, progress: bool, log) -> dict:
    from bench.progress import progress_bar
    from methods.dfecf import build_loss, build_network, export_state_dict

    out.mkdir(parents=True, exist_ok=True)
    pairs = load_training_pairs(cfg.data, data_root)
    sizes = [tuple(ir.shape[-2:]) for _, ir, _ in pairs]
    small = [name for (name, _, _), s in zip(pairs, sizes) if min(s) < cfg.patch_size]
    if small:
        raise ValueError(f'Training images smaller than the {cfg.patch_size}-pixel patch: {", ".join(small[:5])}.')

    torch.manual_seed(cfg.seed)
    net = build_network(cfg.method).set_fast(cfg.fast)
    net.init_output_level(target_level(pairs))
    net = net.to(device).train()
    loss_fn = build_loss(cfg.method)
    optimiser = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    epoch, step, history, elapsed, commits, recalibrated = 0, 0, [], 0.0, [], False
    ckpt_path = out / 'checkpoint.pt'
    if ckpt_path.is_file() and not fresh:
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
        # Fields added since the checkpoint take defaults, except `fast`: earlier versions had only the reference.
        saved = {**asdict(TrainConfig()), 'fast': False, **ckpt['config']}
        if saved != asdict(cfg):
            diff = {k: (saved.get(k), v) for k, v in asdict(cfg).items() if saved.get(k) != v}
            raise ValueError(f'{ckpt_path} was written by another configuration ({diff}, checkpoint vs now); '
                             'use the same options, another --out, or --fresh.')
        net.load_state_dict(ckpt['model'])
        optimiser.load_state_dict(ckpt['optimizer'])
        epoch, step, history, elapsed = ckpt['epoch'], ckpt['step'], ckpt['history'], ckpt['elapsed_s']
        commits, recalibrated = ckpt.get('commits', []), ckpt.get('bn_recalibrated', False)
        log(f'Resuming {cfg.method} from {ckpt_path}: epoch {epoch + 1}, step {step} ({len(history)} steps done).')

    commit = _git_commit()
    if commit not in commits:
        commits.append(commit)

    last_plot = [time.monotonic()]

    def save(final: bool = False) -> None:
        _save_atomic({'config': asdict(cfg), 'model': net.state_dict(), 'optimizer': optimiser.state_dict(),
                      'epoch': epoch, 'step': step, 'history': history, 'elapsed_s': elapsed, 'commits': commits,
                      'bn_recalibrated': recalibrated}, ckpt_path)
        _write_losses(out, history)
        if final or time.monotonic() - last_plot[0] > 60 * checkpoint_minutes:  # a plot costs about a second
            _plot_losses(out, history, cfg)
            last_plot[0] = time.monotonic()

    per_epoch = steps_per_epoch(cfg)
    total_steps = cfg.epochs * per_epoch
    done_here, last_save = 0, time.monotonic()
    bar = progress_bar(desc=f'train {cfg.method}', total=total_steps, unit='step', enable=progress)
    bar.update(len(history))
    stopped = False
    # SIGINT/SIGTERM interrupt a step's forward or backward pass at once; the update and checkpoint writes finish
    # first. Either way the checkpoint below holds the last finished step, which a rerun resumes from.
    with Interrupts() as interrupts:
        try:
            while epoch < cfg.epochs and not stopped:
                lr = learning_rate(cfg, epoch)
                for group in optimiser.param_groups:
                    group['lr'] = lr
                plan = epoch_patches(cfg, epoch, sizes)
                while step < per_epoch:
                    if max_steps is not None and done_here >= max_steps:
                        stopped = True
                        break
                    t0 = time.perf_counter()
                    ir, vis = _crop_batch(pairs, plan[step * cfg.batch_size:(step + 1) * cfg.batch_size],
                                          cfg.patch_size, device)
                    terms = loss_fn(net(ir, vis), ir, vis)
                    optimiser.zero_grad(set_to_none=True)
                    terms.total.backward()
                    with interrupts.deferred():
                        optimiser.step()
                        seconds = time.perf_counter() - t0
                        elapsed += seconds
                        total = terms.total.item()
                        history.append({'epoch': epoch + 1, 'step': step, 'lr': lr, 'total': total,
                                        'grad': terms.grad, 'pix': terms.pix, 'aux': terms.aux,
                                        'seconds': round(seconds, 3)})
                        step += 1
                        done_here += 1
                        bar.update(1)
                        bar.set_postfix(epoch=epoch + 1, loss=f'{total:.4f}', refresh=False)
                        if bar.disable:  # no bar (not a terminal, --no-progress): one line per step for logs
                            log(f'step {len(history)}/{total_steps} (epoch {epoch + 1}): loss {total:.4f}, '
                                f'{seconds:.1f} s')
                        if not math.isfinite(total):
                            save(final=True)
                            raise FloatingPointError(f'The loss became {total} at epoch {epoch + 1}, step {step}.')
                        if time.monotonic() - last_save > 60 * checkpoint_minutes:
                            save()
                            last_save = time.monotonic()
                with interrupts.deferred():
                    if step >= per_epoch:
                        epoch, step = epoch + 1, 0
                        save()
                        last_save = time.monotonic()
        except Interrupted as err:
            bar.close()
            with interrupts.deferred():
                save(final=True)
            log(f'{err.args[0]}: checkpoint of step {len(history)}/{total_steps} written to {ckpt_path}.')
            raise
    bar.close()
    finished = epoch >= cfg.epochs
    if finished and not recalibrated and cfg.bn_batches:
        plan = epoch_patches(cfg, cfg.epochs, sizes, cfg.bn_batches * cfg.batch_size)
        t0 = time.perf_counter()
        recalibrate_batch_norm(net, (_crop_batch(pairs, rows, cfg.patch_size, device)
                                     for rows in plan.split(cfg.batch_size)))
        elapsed += time.perf_counter() - t0
        recalibrated = True
    save(final=True)
    if finished:
        _save_atomic(export_state_dict(net), out / 'weights.pt')
    tail = history[-per_epoch:]
    summary = {
        'config': asdict(cfg), 'finished': finished, 'epochs_done': epoch, 'steps_done': len(history),
        'steps_total': total_steps, 'train_seconds': round(elapsed, 1),
        'final_losses': {k: sum(r[k] for r in tail) / len(tail) for k in ('total', 'grad', 'pix', 'aux')}
        if tail else {},
        'pairs': [name for name, _, _ in pairs], 'device': str(device), 'threads': torch.get_num_threads(),
        'bn_recalibrated': recalibrated, 'commits': commits, 'torch': torch.__version__,
        'python': sys.version.split()[0],
        'platform': platform.platform(), 'argv': sys.argv[1:],
    }
    (out / 'train.json').write_text(json.dumps(summary, indent=2) + '\n')
    return summary
