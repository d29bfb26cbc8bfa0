"""`python -m bench`: maps command-line arguments to calls; no benchmark logic lives here."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2, no traceback."""


def _names(values: list[str] | None) -> list[str]:
    """`['a,b', 'c']` -> `['a', 'b', 'c']`."""
    return [v.strip() for item in values or [] for v in item.split(',') if v.strip()]


def _expand(requested: list[str], available: list[str], kind: str) -> list[str]:
    """Expands 'all' and globs against `available`; an unmatched name is a UsageError with close matches."""
    import difflib
    import fnmatch
    out: list[str] = []
    for name in requested:
        pattern = '*' if name.lower() == 'all' else name.lower()
        hits = [a for a in available if fnmatch.fnmatch(a.lower(), pattern)]
        if not hits:
            close = difflib.get_close_matches(name.lower(), available, n=3, cutoff=0.5)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ''
            raise UsageError(f"Unknown {kind} {name!r}.{hint} Available: {', '.join(available)}.")
        out.extend(h for h in hits if h not in out)
    return out


def _metric_names(values: list[str] | None, convention: str) -> list[str]:
    """`--metrics`: names, globs and presets ('paper', 'vifb', 'mefb', 'all') of `convention`, in the order given."""
    import metrics
    available = metrics.list_metrics(convention=convention)
    out: list[str] = []
    for name in _names(values):
        low = name.lower()
        if low in metrics.PRESETS or low == 'all':
            chosen = metrics.preset_metrics(low, convention)
            left = [m for m in metrics.PRESETS.get(low, ()) if m not in chosen]
            if left:
                print(f'note: --metrics {low}: convention {convention} does not compute {", ".join(left)}; '
                      f'left out.', file=sys.stderr)
        else:
            try:
                chosen = _expand([name], available, 'metric')
            except UsageError as err:
                raise UsageError(f'{err} Presets: {", ".join(sorted(metrics.PRESETS))}, all.') from None
        out += [m for m in chosen if m not in out]
    if not out:
        raise UsageError(f'No metrics selected (convention {convention}).')
    return out


def _dataset_specs(values: list[str] | None) -> list[str]:
    """`--datasets`: names (globs), `NAME:SPLIT` and .toml paths; an unknown name or split is a usage error."""
    from bench.datasets import list_datasets, load_manifest, parse_dataset_spec, select_pairs
    out: list[str] = []
    for spec in _names(values):
        name, split = parse_dataset_spec(spec)
        for found in [name] if name.endswith('.toml') else _expand([name], list_datasets(), 'dataset'):
            if split is not None:
                select_pairs(load_manifest(found), split)  # KeyError naming the splits it has
            out.append(f'{found}:{split}' if split else found)
    return out


def _device(value: str) -> str:
    import torch
    if value == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    try:
        device = torch.device(value)
    except RuntimeError:
        raise UsageError(f"Expected --device 'auto', 'cpu' or 'cuda[:N]', but got {value!r}.") from None
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise UsageError('--device cuda was asked for, but torch sees no CUDA GPU on this machine.')
    return str(device)


_CLUSTER_OPTIONS = ('ray_address', 'chunk_size', 'cpus_per_task', 'gpus_per_task', 'retries', 'workers',
                    'ship_images')


def _executor_config(args: argparse.Namespace):
    """`--executor` and its cluster options; Ray missing is a usage error (one line, exit 2)."""
    from bench.executors import ExecutorConfig, ExecutorUnavailable, ray_installed, RAY_INSTALL
    given = [name for name in _CLUSTER_OPTIONS if getattr(args, name) not in (None, False)]
    if args.executor == 'local':
        if given:
            flag = '--' + given[0].replace('_', '-')
            raise UsageError(f'Expected --executor ray with {flag}, but got --executor local.')
        return ExecutorConfig()
    if not ray_installed():
        raise UsageError(str(ExecutorUnavailable(f'--executor ray needs Ray, which is not installed: {RAY_INSTALL}.')))
    if args.device.startswith('cuda:'):  # before a cluster is started or joined
        raise UsageError(f"Expected --device cuda or auto with --executor ray (Ray gives each worker its GPU), but "
                         f"got {args.device!r}.")
    options = {k: getattr(args, k) for k in given if k != 'ray_address'}
    try:
        return ExecutorConfig('ray', address=args.ray_address, **options)
    except ValueError as err:
        raise UsageError(str(err)) from None


def cmd_run(args: argparse.Namespace) -> int:
    import methods
    from bench.config import data_mirror
    from bench.published import parse_results_option
    from bench.runner import RunConfig, run_benchmark
    from metrics import list_conventions
    from reports import write_report

    if args.convention not in list_conventions():
        _expand([args.convention], list_conventions(), 'convention')
    results = []
    for text in args.results or []:
        try:
            name, folder, pattern = parse_results_option(text)
        except ValueError as err:
            raise UsageError(str(err)) from None
        if folder is not None and not folder.is_dir():
            raise UsageError(f'--results {name}: folder not found: {folder}')
        results.append((name, folder, pattern))
    requested_methods = _names(args.methods) or ([] if results else ['all'])
    method_names = _expand(requested_methods, methods.list_methods(), 'method') if requested_methods else []
    # `all` and globs mean every method that can run here: those waiting for a user-supplied weight file are
    # skipped with one line each; a method named explicitly without its file stays an error row.
    explicit = {n.lower() for n in requested_methods if n.lower() != 'all' and not set(n) & set('*?[')}
    given = {text.partition('=')[0].strip().lower() for text in args.weights or []}
    skipped = {}
    for name in method_names:
        if name not in explicit and name not in given:
            waiting = methods.waiting_for_user_files(name, args.weights_dir)
            if waiting:
                skipped[name] = [w.file for w in waiting]
                print(f'Skipping {name}: it needs {", ".join(skipped[name])}, a file its authors publish only where a '
                      f'program cannot download it (`python -m bench weights list {name}` says where). Put it in the '
                      f'weights directory to include {name}.', file=sys.stderr)
    method_names = [n for n in method_names if n not in skipped]
    clash = sorted({n for n, _, _ in results} & set(method_names))
    if clash:
        raise UsageError(f'--results name {clash[0]!r} is also a registered method; give the results another name.')
    datasets = _dataset_specs(args.datasets)
    from bench.train import weights_options
    method_options = weights_options(args.weights or [], method_names)
    if args.limit is not None and args.limit < 1:
        raise UsageError(f'Expected --limit >= 1, but got {args.limit}.')
    executor = _executor_config(args)
    cfg = RunConfig(
        methods=method_names, datasets=datasets, metrics=_metric_names(args.metrics, args.convention),
        out=Path(args.out), results=results, convention=args.convention, data_root=args.data_root,
        weights_dir=args.weights_dir, device=_device(args.device) if executor.name == 'local' else args.device,
        warmup=args.warmup, fetch=not args.no_fetch,
        fallback=not args.no_fallback, mirror=data_mirror(args.mirror), progress=not args.no_progress,
        fresh=args.fresh, argv=getattr(args, 'argv', sys.argv[1:]), method_options=method_options,
        pairs=_names(args.pairs) or None, limit=args.limit, skipped_methods=skipped, executor=executor)
    if not cfg.methods and not cfg.results:
        raise UsageError('Nothing to run: give --methods and/or --results.')
    summary = run_benchmark(cfg)
    report = write_report(cfg.out)
    _print_summary(summary, cfg, report)
    return EXIT_FAILURES if summary.errors else EXIT_OK


def _print_summary(summary, cfg, report: Path) -> None:
    import pandas as pd
    from reports.tables import mean_table
    scores = pd.read_csv(cfg.out / 'scores.csv', dtype={'pair': str})
    for ds in summary.datasets:
        table = mean_table(scores, ds, cfg.convention, cfg.metrics)
        table = table[table.index.isin(summary.methods[ds])]
        if not table.empty:
            print(f'\n{ds} (convention {cfg.convention}), mean over pairs:')
            print(wrapped_table(table))
    redone = ''.join(f'; redone {n} ({why})' for why, n in summary.redone.items())
    print(f'\nFused {summary.fused} pairs, reused {summary.reused} fused images from an earlier run, '
          f'{summary.complete} (data set, pair, method) already complete{redone}; wrote {summary.scored} scores.')
    for note in summary.notes:
        print(f'Note: {note}')
    print(f'Results: {cfg.out}/ (scores.csv, timing.csv, errors.csv, run.json, fused/); report: {report}')
    if summary.errors:
        print(f'{summary.errors} error(s): see {cfg.out / "errors.csv"}', file=sys.stderr)


def wrapped_table(table, width: int = 120, decimals: int = 4) -> str:
    """A wide methods x metrics table as blocks of columns that fit `width` characters, each with the row labels."""
    text = table.to_string(float_format=f'{{:.{decimals}f}}'.format)
    if max(map(len, text.splitlines()), default=0) <= width or table.shape[1] <= 1:
        return text
    blocks, start = [], 0
    while start < table.shape[1]:
        stop = start + 1
        while stop < table.shape[1] and max(map(len, table.iloc[:, start:stop + 1].to_string(
                float_format=f'{{:.{decimals}f}}'.format).splitlines())) <= width:
            stop += 1
        blocks.append(table.iloc[:, start:stop].to_string(float_format=f'{{:.{decimals}f}}'.format))
        start = stop
    return '\n\n'.join(blocks)


def cmd_score(args: argparse.Namespace) -> int:
    import pandas as pd
    import metrics
    from bench.results import write_atomic
    from bench.score import match_triples, natural_key, score_triples
    if args.convention not in metrics.list_conventions():
        _expand([args.convention], metrics.list_conventions(), 'convention')
    names = _metric_names(args.metrics, args.convention)
    try:
        triples, problems = match_triples(Path(args.ir), Path(args.vi), Path(args.fused))
    except FileNotFoundError as err:
        raise UsageError(str(err)) from None
    if not triples:
        raise UsageError('No image names are common to --ir, --vi and --fused'
                         + (f' ({len(problems)} name(s) lack an image somewhere, e.g. {problems[0]})' if problems
                            else '') + '; see `python -m bench score --help`.')
    for problem in problems:
        print(f'skipped {problem}', file=sys.stderr)
    rows, failures = [], 0
    executor = _executor_config(args)
    if executor.name == 'local':
        scored = score_triples(triples, names, args.convention, _device(args.device), progress=not args.no_progress)
    else:
        scored = _score_on_cluster(executor, triples, names, args)
    for triple, result in scored:
        if isinstance(result, Exception):
            failures += 1
            print(f'error: {triple.name}: {result}', file=sys.stderr)
            continue
        rows += [(str(triple.ir), str(triple.vi), str(triple.fused), args.convention, m, v, triple.name)
                 for m, v in result.items()]
    long = pd.DataFrame(rows, columns=['ir', 'vi', 'fused', 'convention', 'metric', 'value', 'name'])
    if not long.empty:
        wide = long.pivot_table(index='name', columns='metric', values='value', sort=False)[
            [m for m in names if m in set(long['metric'])]]
        wide = wide.loc[sorted(wide.index, key=natural_key)]
        wide.loc['mean'] = wide.mean()
        wide.index.name, wide.columns.name = 'image', 'metric'
        print(f'convention {args.convention}, {len(wide) - 1} fused image(s):')
        print(wrapped_table(wide))
    if args.out:
        write_atomic(Path(args.out), long.drop(columns='name').to_csv(index=False, float_format='%.17g'))
        print(f'wrote {len(long)} rows to {args.out}')
    return EXIT_FAILURES if failures or problems else EXIT_OK


def _score_on_cluster(cfg, triples: list, names: list[str], args: argparse.Namespace):
    """`bench score`'s results from Ray workers, in the order of `triples`."""
    from bench.executors import open_executor
    with open_executor(cfg) as executor:
        device = executor.resolve_device(args.device)
        yield from executor.score(triples, names, args.convention, device, progress=not args.no_progress)


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """--executor and the options of a Ray cluster (for `run` and `score`)."""
    group = parser.add_argument_group('where the work runs')
    group.add_argument('--executor', choices=['local', 'ray'], default='local',
                       help="'local' (default): this process; 'ray': the workers of a Ray cluster "
                            '(pip install -e ".[ray]")')
    group.add_argument('--ray-address', metavar='ADDR',
                       help='Ray cluster to join (default $RAY_ADDRESS, else a cluster `ray start` began on this '
                            'machine, else a new local one sized to this machine)')
    group.add_argument('--chunk-size', type=int, metavar='N',
                       help='pairs (or triples) per Ray task (default 8)')
    group.add_argument('--gpus-per-task', type=float, metavar='F',
                       help='GPUs each Ray worker holds with --device cuda/auto on GPUs (default 1; 0.5 puts two '
                            'workers on a GPU)')
    group.add_argument('--cpus-per-task', type=float, metavar='F',
                       help="CPUs each Ray worker holds, and its threads (default 1)")
    group.add_argument('--workers', type=int, metavar='N',
                       help='at most N Ray workers (default: as many as the cluster has CPUs or GPUs for)')
    group.add_argument('--retries', type=int, metavar='N',
                       help='restarts of a dead Ray worker and retries of its task before its pairs become error '
                            'rows (default 2)')
    group.add_argument('--ship-images', action='store_true',
                       help='send the images from this machine to the Ray workers (for workers that do not see '
                            'the data root; default: workers read them from the data root)')


def cmd_list(args: argparse.Namespace) -> int:
    if args.what == 'methods':
        import methods
        names = methods.list_methods()
        width = max(map(len, names + ['method']), default=0)
        print(f'{"method":{width}s}  year  {"weights":26s}  verified by')
        for name in names:
            spec = methods.get_method_spec(name)
            status = spec.weights_status
            if status == 'user-supplied' and methods.waiting_for_user_files(name, getattr(args, 'weights_dir', None)):
                status += ' (missing)'
            print(f'{name:{width}s}  {spec.year or "":4}  {status:26s}  {spec.verification or "-"}')
            note = f'  NOTE: {spec.note}' if spec.note else ''
            print(f'{"":{width}s}  {spec.paper}{note}')
    elif args.what == 'metrics':
        import metrics
        names = metrics.list_metrics(convention=args.convention)
        width = max(map(len, names), default=0)
        for name in names:
            spec = metrics.get_metric(name, args.convention)
            print(f'{name:{width}s}  {"higher" if spec.higher_is_better else "lower "} is better  {spec.reference}')
        print(f'\npresets (--metrics NAME; convention {args.convention}):')
        for preset in [*metrics.PRESETS, 'all']:
            print(f'  {preset:6s} {", ".join(metrics.preset_metrics(preset, args.convention))}')
    elif args.what == 'conventions':
        import metrics
        for name in metrics.list_conventions():
            print(f'{name:10s} {metrics.get_convention(name).description}')
    else:
        from bench.datasets import list_datasets, load_manifest
        for name in list_datasets():
            m = load_manifest(name) if name != 'synthetic' else None
            if m is None:
                print(f'{name:16s} generated pairs for smoke runs')
                continue
            counts = {}
            for pair in m.pairs:
                counts[pair.split] = counts.get(pair.split, 0) + 1
            splits = ', '.join(f'{name}:{k} {n}' + (' (the default)' if k == m.default_split else '')
                               for k, n in counts.items() if k)
            print(f'{name:16s} {len(m.pairs):4d} pairs  {m.title}' + (f'  [splits: {splits}]' if splits else ''))
    return EXIT_OK


def cmd_data_init(args: argparse.Namespace) -> int:
    from bench.manifest_init import init_manifest
    if len(args.names) != 1 or not args.ir or not args.vi:
        raise UsageError('Expected `data init NAME --ir DIR --vi DIR [--fused METHOD=DIR ...] [--out DIR]`.')
    fused = {}
    for text in args.fused or []:
        method, sep, folder = text.partition('=')
        if not sep or not method.strip() or not folder:
            raise UsageError(f'Expected --fused METHOD=DIR, but got {text!r}.')
        fused[method.strip()] = Path(folder)
    try:
        toml, notes = init_manifest(args.names[0], Path(args.ir), Path(args.vi), Path(args.out or '.'), fused,
                                    overwrite=args.force)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        raise UsageError(str(err)) from None
    for note in notes:
        print(f'note: {note}', file=sys.stderr)
    from bench.datasets import load_manifest
    manifest = load_manifest(str(toml))
    results = ''.join(f' --results {r}' for r in manifest.results)
    print(f'wrote {toml} and {toml.with_suffix(".sha256").name}: {len(manifest.pairs)} pairs'
          + (f', published results {", ".join(manifest.results)}' if manifest.results else '')
          + f'. Fill in its description, citation and licence, then e.g.\n'
          f'  python -m bench run --datasets {toml} --methods average{results}')
    return EXIT_OK


def cmd_data(args: argparse.Namespace) -> int:
    from bench.config import data_mirror, data_root
    from bench.datasets import fetch, list_datasets, load_manifest, verify
    if args.action == 'init':
        return cmd_data_init(args)
    root = data_root(args.data_root)
    status = EXIT_OK
    for name in _names(args.names):
        manifest = load_manifest(_expand([name], list_datasets(), 'dataset')[0] if not name.endswith('.toml') else name)
        if args.action == 'fetch' and manifest.location is not None:
            print(f'{manifest.name}: generated by code in {manifest.location}; nothing to download')
            continue
        if args.action == 'fetch':
            fetch(manifest, root, mirror=data_mirror(args.mirror), progress=not args.no_progress)
            print(f'{manifest.name}: {len(manifest.files())} files present and verified in {manifest.root(root)}')
            continue
        problems = verify(manifest, root, progress=not args.no_progress)
        for path, problem in problems.items():
            print(f'{manifest.name}: {path}: {problem}')
        print(f'{manifest.name}: {len(manifest.files()) - len(problems)}/{len(manifest.files())} files OK '
              f'in {manifest.root(root)}')
        status = EXIT_FAILURES if problems else status
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m bench', description='Infrared-visible image fusion benchmark.')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('speed', help='benchmark the metrics: median times, throughput, memory (see `speed --help`)')

    run = sub.add_parser('run', help='fuse, time and score: methods x data sets x metrics')
    run.add_argument('--methods', nargs='+', help="registered methods, comma/space separated, globs ok; 'all' "
                     '(default, unless --results is given)')
    run.add_argument('--results', action='append', metavar='NAME[=DIR]',
                     help='published fused images as a method: NAME=DIR (matched by file name; DIR may end in a '
                          "pattern such as fused_{pair}.png), or a NAME the manifest declares, or 'all' of those. "
                          'Repeatable.')
    run.add_argument('--datasets', nargs='+', default=['tno42'],
                     help='manifests (or .toml paths), each optionally NAME:SPLIT (msrs:test, msrs:train, msrs:all; '
                          '`msrs` alone is its test split); default tno42')
    run.add_argument('--pairs', nargs='+', metavar='PAIR', help='only these pairs of each data set (names, comma '
                     'separated), e.g. --pairs 01,07,12')
    run.add_argument('--limit', type=int, metavar='N', help='only the first N pairs of each data set (a quick first '
                     'run)')
    run.add_argument('--metrics', nargs='+', default=['all'],
                     help="names, globs or a preset: 'paper' (the DFECF paper's seven), 'vifb', 'mefb', 'all' "
                          "(default)")
    run.add_argument('--convention', default='default', help='how metrics are computed (see `list conventions`)')
    run.add_argument('--out', default='runs/latest',
                     help='run folder; re-running into it resumes (default %(default)s)')
    run.add_argument('--data-root', help='folder holding the data sets (default $BENCH_DATA_ROOT or the user cache)')
    run.add_argument('--weights-dir', help='folder holding weight files (default $BENCH_WEIGHTS_DIR or the user cache)')
    run.add_argument('--weights', action='append', metavar='NAME=PATH[,PATH]',
                     help='other weight files for a method: for dfecf* e.g. the weights.pt of `bench train`; for a '
                          'method with official files, one path per file it lists (`bench weights list NAME`), '
                          'used without checksum checks. Results of other weights in --out are redone. Repeatable.')
    run.add_argument('--device', default='auto', help="'auto' (default: cuda when available), 'cpu', 'cuda:0'")
    run.add_argument('--warmup', type=int, default=1, help='untimed calls per method before timing (default 1)')
    run.add_argument('--mirror', help='base URL replacing the official download locations')
    run.add_argument('--no-fetch', action='store_true', help='do not download missing data or weight files')
    run.add_argument('--no-fallback', action='store_true', help='never substitute the synthetic set for missing data')
    run.add_argument('--fresh', action='store_true', help='discard the results already in --out')
    run.add_argument('--no-progress', action='store_true')
    add_executor_options(run)
    run.set_defaults(func=cmd_run)

    score = sub.add_parser('score', help='score fused images that already exist',
                           description='PATHs are image files, folders (files matched by name after dropping the '
                           'prefix and suffix every name in the folder shares: IR1.png, VIS1.png and fused1.png all '
                           'become "1"), or paths with {name} marking the part that matches, e.g. '
                           'out/fused_{name}.png.')
    score.add_argument('--ir', required=True, metavar='PATH')
    score.add_argument('--vi', required=True, metavar='PATH')
    score.add_argument('--fused', required=True, metavar='PATH')
    score.add_argument('--convention', default='default', help='see `list conventions` (default %(default)s)')
    score.add_argument('--metrics', nargs='+', default=['all'], help="default 'all' of the convention")
    score.add_argument('--out', metavar='FILE.csv', help='write the long table (ir, vi, fused, convention, metric, '
                       'value)')
    score.add_argument('--device', default='cpu', help="'cpu' (default), 'cuda', 'auto'")
    score.add_argument('--no-progress', action='store_true')
    add_executor_options(score)
    score.set_defaults(func=cmd_score)

    lst = sub.add_parser('list', help='list registered methods, metrics, conventions or data sets')
    lst.add_argument('what', choices=['methods', 'metrics', 'datasets', 'conventions'])
    lst.add_argument('--convention', default='default')
    lst.add_argument('--weights-dir', help='methods: where user-supplied weight files are looked for')
    lst.set_defaults(func=cmd_list)

    data = sub.add_parser('data', help='verify or fetch data sets, or write a manifest for your own images',
                          description='verify NAME...: check every file; fetch NAME...: download; '
                          'init NAME --ir DIR --vi DIR [--fused METHOD=DIR ...] [--out DIR]: write NAME.toml and '
                          'NAME.sha256 for your own folders (files matched by name as `bench score` matches them), '
                          'for `bench run --datasets DIR/NAME.toml`.')
    data.add_argument('action', choices=['verify', 'fetch', 'init'])
    data.add_argument('names', nargs='+', metavar='NAME')
    data.add_argument('--ir', help='init: folder of infrared images')
    data.add_argument('--vi', help='init: folder of visible images')
    data.add_argument('--fused', action='append', metavar='METHOD=DIR',
                      help='init: a folder of fused images of METHOD (declared as published results). Repeatable.')
    data.add_argument('--out', help='init: folder for NAME.toml and NAME.sha256 (default: the current folder)')
    data.add_argument('--force', action='store_true', help='init: overwrite an existing manifest')
    data.add_argument('--data-root')
    data.add_argument('--mirror', help='base URL replacing the official download locations ($BENCH_DATA_MIRROR)')
    data.add_argument('--no-progress', action='store_true')
    data.set_defaults(func=cmd_data)

    from bench.report_cli import add_parser as add_report_parser
    add_report_parser(sub)

    from bench.weights import add_parser as add_weights_parser
    add_weights_parser(sub)

    from bench.train import add_parser as add_train_parser
    add_train_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['speed']:  # the metric benchmark has its own options
        from bench.speed import main as speed_main
        return speed_main(argv[1:])
    args = build_parser().parse_args(argv)
    args.argv = argv  # recorded in run.json
    from bench.executors import ExecutorUnavailable
    if getattr(args, 'warmup', 0) < 0:
        print('error: --warmup must be >= 0', file=sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except UsageError as err:
        print(f'error: {err}', file=sys.stderr)
        return EXIT_USAGE
    except KeyError as err:  # unknown names from the registries; their message carries the suggestions
        print(f'error: {err.args[0] if err.args else err}', file=sys.stderr)
        return EXIT_USAGE
    except ExecutorUnavailable as err:  # no cluster to join, no GPUs in it: a set-up problem, not a crash
        print(f'error: {err}', file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as err:
        print('\nInterrupted. Everything finished so far is saved; run the same command again to resume.',
              file=sys.stderr)
        return getattr(err, 'exit_code', EXIT_INTERRUPTED)  # SIGTERM (bench.interrupts): 143
    except Exception as err:  # data/download/manifest errors: one clear line, not a traceback
        from bench.download import ChecksumError, DownloadError
        from bench.datasets import ManifestError
        if isinstance(err, (ChecksumError, DownloadError, ManifestError, OSError)):
            print(f'error: {err}', file=sys.stderr)
            return EXIT_FAILURES
        raise
