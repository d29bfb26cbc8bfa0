"""`python -m bench train METHOD`: the command-line side of `bench.training` (which holds the loop and protocol)."""
from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ['add_parser', 'cmd_train', 'weights_options']


DESCRIPTION = (
    'Trains a DFECF variant with the paper\'s protocol (Table 2 defaults: 128x128 patches, batch 32, Adam, learning '
    'rate 1e-3 halved every epoch after epoch 15, 30 epochs). Each epoch draws --patches-per-epoch random crops with '
    'a generator seeded by (seed, epoch). Checkpoints are written every --checkpoint-minutes, after every epoch and '
    'on Ctrl-C or SIGTERM (the last finished step; exit 130 or 143); '
    'running the same command again resumes and reproduces the uninterrupted run exactly. After the last epoch the '
    'batch-norm statistics are recomputed with the final weights (--bn-batches). The network runs its fast float32 '
    'arithmetic unless --exact-fp32. Without a progress bar every step logs a line. Writes checkpoint.pt, '
    'losses.csv, losses.png, train.json and, when finished, weights.pt (load it with `bench run --weights '
    'METHOD=PATH`).')


def cmd_train(args: argparse.Namespace) -> int:
    from bench.cli import UsageError, _device
    from bench.training import TrainConfig, train
    from bench.config import data_root
    from methods.dfecf import VARIANTS
    if args.method not in VARIANTS:
        from methods._registry import suggest
        raise UsageError(suggest(args.method, list(VARIANTS), 'trainable method'))
    for option in ('epochs', 'patches_per_epoch', 'batch_size', 'patch_size', 'decay_after', 'checkpoint_minutes',
                   'bn_batches'):
        value = getattr(args, option)
        if value < 0 or (value == 0 and option not in ('decay_after', 'bn_batches')):
            raise UsageError(f'--{option.replace("_", "-")} must be positive, but got {value}.')
    cfg = TrainConfig(method=args.method, data=[d.strip() for item in args.data for d in item.split(',') if d.strip()],
                      epochs=args.epochs, patches_per_epoch=args.patches_per_epoch, batch_size=args.batch_size,
                      patch_size=args.patch_size, lr=args.lr, decay_after=args.decay_after, seed=args.seed,
                      bn_batches=args.bn_batches, fast=not args.exact_fp32)
    out = Path(args.out or f'runs/train/{args.method}')
    try:
        summary = train(cfg, out, data_root=data_root(args.data_root), device=_device(args.device),
                        threads=args.threads, checkpoint_minutes=args.checkpoint_minutes, max_steps=args.max_steps,
                        fresh=args.fresh, progress=not args.no_progress)
    except ValueError as err:
        raise UsageError(str(err)) from None
    losses = ', '.join(f'{k} {v:.4f}' for k, v in summary['final_losses'].items())
    state = 'finished' if summary['finished'] else 'stopped (run the same command again to resume)'
    print(f"{cfg.method}: {state} after {summary['steps_done']}/{summary['steps_total']} steps, "
          f"{summary['epochs_done']}/{cfg.epochs} epochs, {summary['train_seconds']:.0f} s of training; "
          f'mean losses over the last epoch: {losses}. Outputs in {out}/')
    return 0


def add_parser(subparsers) -> None:
    """Registers `train` on the CLI's subparsers."""
    d = {'data': ['msrs:train'], 'epochs': 30, 'patches_per_epoch': 1504, 'batch_size': 32, 'patch_size': 128,
         'lr': 1e-3, 'decay_after': 15, 'seed': 0, 'bn_batches': 4}  # = bench.training.TrainConfig(); no torch here
    p = subparsers.add_parser('train', help='train a DFECF variant (resumable; see `train --help`)',
                              description=DESCRIPTION)
    p.add_argument('method', help='dfecf, dfecf-no-de, dfecf-no-fusion, dfecf-no-aux or dfecf-no-transformer')
    p.add_argument('--out', help='output folder; an existing checkpoint there is resumed (default runs/train/METHOD)')
    p.add_argument('--data', nargs='+', default=d['data'],
                   help="training data: DATASET or DATASET:SPLIT, comma/space separated (default msrs:train); "
                        'TNO and test splits are refused')
    p.add_argument('--epochs', type=int, default=d['epochs'], help='default %(default)s')
    p.add_argument('--patches-per-epoch', type=int, default=d['patches_per_epoch'],
                   help='random crops per epoch (default %(default)s: about the 128x128 tiles of 100 640x480 pairs, '
                        'the paper\'s training set)')
    p.add_argument('--batch-size', type=int, default=d['batch_size'], help='default %(default)s')
    p.add_argument('--patch-size', type=int, default=d['patch_size'], help='default %(default)s')
    p.add_argument('--lr', type=float, default=d['lr'], help='initial learning rate (default %(default)s)')
    p.add_argument('--decay-after', type=int, default=d['decay_after'],
                   help='halve the learning rate every epoch after this many (default %(default)s)')
    p.add_argument('--seed', type=int, default=d['seed'], help='default %(default)s')
    p.add_argument('--bn-batches', type=int, default=d['bn_batches'],
                   help='batches of fresh crops over which the batch-norm statistics are recomputed with the final '
                        'weights after the last epoch (default %(default)s; 0: keep the running averages)')
    p.add_argument('--exact-fp32', action='store_true',
                   help="the network's reference arithmetic, every equation as written (what versions before the "
                        'fast one computed); default: the fast arithmetic, the same float32 function up to rounding '
                        '(see methods/dfecf/MODEL_CARD.md)')
    p.add_argument('--device', default='auto', help="'auto' (default), 'cpu', 'cuda:0'")
    p.add_argument('--threads', type=int, help='torch CPU threads (default: torch chooses)')
    p.add_argument('--checkpoint-minutes', type=float, default=5.0, help='default %(default)s')
    p.add_argument('--max-steps', type=int, help='stop after this many steps (checkpointed; rerun to continue)')
    p.add_argument('--data-root', help='folder holding the data sets (default $BENCH_DATA_ROOT or the user cache)')
    p.add_argument('--fresh', action='store_true', help='ignore an existing checkpoint in --out')
    p.add_argument('--no-progress', action='store_true')
    p.set_defaults(func=cmd_train)


def weights_options(values: list[str], method_names: list[str]) -> dict[str, dict]:
    """`bench run --weights NAME=PATH[,PATH...]` -> {NAME: {'weights': PATH or [PATH, ...]}}, the keywords
    `create_method` passes to NAME.

    For a method trained by this project (`dfecf*`) one file replaces the shipped weights; for a method with official
    files (or a plug-in's), one path per file it lists (`bench weights list NAME`), in that order, replaces them:
    such files are used as given, their checksums are not checked (run.json records their sha256 and says so).

    Raises:
        UsageError: for a malformed value, a method not in the run, a method without weights, a missing file or the
            wrong number of files.
    """
    import inspect
    import methods
    from bench.cli import UsageError
    out: dict[str, dict] = {}
    for text in values:
        name, sep, path = text.partition('=')
        name = name.strip().lower()
        if not sep or not name or not path:
            raise UsageError(f'Expected --weights NAME=PATH, but got {text!r}.')
        if name not in method_names:
            raise UsageError(f'--weights {name}: not among the methods of this run ({", ".join(method_names)}).')
        spec = methods.get_method_spec(name)
        if not spec.weights and 'weights' not in inspect.signature(spec.build).parameters:
            raise UsageError(f'--weights does not apply to {name!r}: it has no weight files.')
        paths = [Path(p.strip()) for p in path.split(',') if p.strip()]
        for p in paths:
            if not p.is_file():
                raise UsageError(f'--weights {name}: file not found: {p}')
        if spec.weights:
            try:
                out[name] = {'weights': methods.user_weight_files(spec, paths)}
            except ValueError as err:
                raise UsageError(f'--weights {name}: {err}') from None
        elif len(paths) != 1:
            raise UsageError(f'--weights {name}: expected one file, but got {len(paths)}.')
        else:
            out[name] = {'weights': paths[0]}
    return out
