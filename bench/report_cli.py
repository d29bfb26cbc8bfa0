"""`python -m bench report RUN_DIR [options]`: the report of a run folder, from its saved results only."""
from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ['add_parser', 'cmd_report', 'options_from_args']


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(',') if v.strip()]


def options_from_args(args: argparse.Namespace):
    """`ReportOptions` from the parsed arguments; ValueError naming the option for a malformed value."""
    from reports import ReportOptions
    from reports.names import parse_labels
    zoom = None
    if args.zoom:
        try:
            zoom = tuple(float(v) for v in args.zoom.split(','))
        except ValueError:
            zoom = ()
        if len(zoom) != 4:
            raise ValueError(f'Expected --zoom X,Y,W,H (four fractions of the image), but got {args.zoom!r}.')
    directions = {}
    for text in args.direction or []:
        name, _, way = text.partition('=')
        if way.strip().lower() not in ('higher', 'lower') or not name.strip():
            raise ValueError(f'Expected --direction METRIC=higher or METRIC=lower, but got {text!r}.')
        directions[name.strip()] = way.strip().lower() == 'higher'
    ablation = None
    if args.ablation:
        ablation = {}
        for text in args.ablation:
            full, _, variants = text.partition('=')
            if not full.strip():
                raise ValueError(f'Expected --ablation FULL or FULL=VARIANT,VARIANT, but got {text!r}.')
            ablation[full.strip()] = _split([variants])
    if args.n_pairs < 1:
        raise ValueError(f'Expected --n-pairs >= 1, but got {args.n_pairs}.')
    if args.max_lines < 1:
        raise ValueError(f'Expected --max-lines >= 1, but got {args.max_lines}.')
    return ReportOptions(std=args.std, decimals=args.decimals, transpose=args.transpose, test=args.test,
                         alpha=args.alpha, figures=False if args.no_figures else None, embed=not args.link_figures,
                         pairs=_split(args.pairs) or None, n_qualitative=args.n_pairs, zoom=zoom, ablation=ablation,
                         directions=directions, distribution='violin' if args.violin else 'box',
                         data_root=Path(args.data_root) if args.data_root else None,
                         metrics=_split(args.metrics) or None, methods=_split(args.methods) or None,
                         labels=parse_labels(args.label or []), max_lines=args.max_lines)


def cmd_report(args: argparse.Namespace) -> int:
    from bench.cli import EXIT_OK, UsageError
    from reports import write_report
    run_dir = Path(args.run_dir)
    if not (run_dir / 'scores.csv').is_file():
        raise UsageError(f'{run_dir} is not a run folder (no scores.csv).')
    try:
        options = options_from_args(args)
    except ValueError as err:
        raise UsageError(str(err)) from None
    # A folder that is not writable raises ReportNotWritable (an OSError): bench.cli.main prints its one line,
    # which names the folder and suggests --out, and exits 1. Unknown names raise KeyError (did you mean), exit 2.
    try:
        print(write_report(run_dir, options, args.out))
    except ValueError as err:  # --out holds other files, or two methods got one label
        raise UsageError(str(err)) from None
    return EXIT_OK


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Adds the `report` subcommand."""
    rep = subparsers.add_parser(
        'report', help='(re)build the report of a run folder: tables, figures, report/index.html',
        description='Builds RUN_DIR/report/ from the saved results (no torch, nothing re-run): index.html, '
                    'tables/ (CSV, Markdown, LaTeX, HTML) and figures/ (PNG, PDF).')
    rep.add_argument('run_dir', metavar='RUN_DIR')
    rep.add_argument('--std', action='store_true', help='show mean ± std in the results tables')
    rep.add_argument('--decimals', type=int, default=4, help='digits after the point (default %(default)s)')
    rep.add_argument('--transpose', action='store_true', help='metrics as rows, methods as columns (paper layout)')
    rep.add_argument('--test', choices=['wilcoxon', 'bootstrap'], default='wilcoxon',
                     help='significance marker: paired Wilcoxon signed-rank with Holm correction (default), or a '
                          'bootstrap interval of the mean difference that excludes 0')
    rep.add_argument('--alpha', type=float, default=0.05, help='significance level (default %(default)s)')
    rep.add_argument('--no-figures', action='store_true', help='tables only (much faster)')
    rep.add_argument('--link-figures', action='store_true',
                     help='link the figure files beside index.html instead of embedding them')
    rep.add_argument('--pairs', nargs='+', metavar='PAIR', help='pairs of the qualitative grids (default: the pairs '
                     'where the methods disagree most)')
    rep.add_argument('--n-pairs', type=int, default=3, help='how many pairs to choose automatically (default 3)')
    rep.add_argument('--zoom', metavar='X,Y,W,H', help='inset box as fractions of the image, e.g. 0.4,0.3,0.2,0.2 '
                     '(default: where the fused images differ most)')
    rep.add_argument('--ablation', action='append', metavar='FULL[=VARIANT,...]',
                     help='an ablation group: the full model and its variants (default: every method FULL with '
                          'methods named FULL-no-*, FULL-wo-* or FULL-without-*); repeatable')
    rep.add_argument('--direction', action='append', metavar='METRIC=higher|lower',
                     help='direction of a metric the run did not record; repeatable')
    rep.add_argument('--violin', action='store_true', help='violin instead of box plots')
    rep.add_argument('--data-root', help='where the source images are now, if the data root has moved')
    rep.add_argument('--out', metavar='DIR', help='write the report into DIR instead of RUN_DIR/report (for a '
                     'read-only run folder); DIR must be new, empty or an earlier report')
    rep.add_argument('--metrics', action='append', metavar='NAMES',
                     help='metrics to show, in this order, comma separated: names, globs, all, or a group (paper: '
                          "the DFECF paper's seven; information, structural, feature, perception, error); one table. "
                          'Default: every metric, tables of more than 8 split into groups, the paper\'s seven first')
    rep.add_argument('--methods', action='append', metavar='NAMES',
                     help='methods to show, in this order, comma separated (names or globs; default: all, in the '
                          'order of the run)')
    rep.add_argument('--label', action='append', metavar='OLD=NEW',
                     help='show method OLD as NEW in tables and figures; repeatable (published results are '
                          'labelled "NAME (published)" unless relabelled)')
    rep.add_argument('--max-lines', type=int, default=8, metavar='N',
                     help='methods drawn in each panel of the per-pair figure (default %(default)s: the best by mean '
                          'rank, or the first of --methods; the others are named there and drawn in the sorted and '
                          'distribution figures)')
    rep.set_defaults(func=cmd_report)
    return rep
