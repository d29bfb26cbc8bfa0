"""`write_report(run_dir)`: report/index.html plus every table (CSV, Markdown, LaTeX, HTML) and figure (PNG, PDF).

The page is rendered with jinja2 (autoescaping: method names and messages are text, never markup) and needs no
network: styles are inline and the figures embedded as data URIs (or linked beside the page with `embed=False`).
"""
from __future__ import annotations

import base64
import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from reports.data import RunData, load_run
from reports.groups import PRESETS
from reports.names import choose, method_labels
from reports.options import ReportOptions
from reports.output import is_denied, not_writable, prepare_output
from reports.render import Cell, Table, to_html, write_table
from reports.tables import (GroupSummary, _slug, ablation_groups, ablation_table, mean_rank_table, rank_table,
                            results_table, results_tables, stats_table, summarise)
from reports.timing import timing_report_table, timing_summary

__all__ = ['write_report']

_TEMPLATES = Path(__file__).parent / 'templates'


@dataclass
class _Figure:
    anchor: str
    label: str
    caption: str
    src: str
    files: list[tuple[str, str]]


@dataclass
class _RenderedTable:
    html: Markup
    files: list[tuple[str, str]]
    collapsed: bool = False
    summary: str = ''


@dataclass
class _Group:
    anchor: str
    title: str
    tables: list[_RenderedTable] = field(default_factory=list)
    figures: list[_Figure] = field(default_factory=list)


@dataclass
class _Dataset:
    anchor: str
    title: str
    description: str = ''
    groups: list[_Group] = field(default_factory=list)
    figures: list[_Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Builder:
    def __init__(self, run: RunData, options: ReportOptions, out: Path) -> None:
        self.run, self.options, self.out = run, options, out
        self.labels = method_labels(run.all_methods(), run.meta, options.labels)
        self.env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(['html', 'j2']),
                               trim_blocks=True, lstrip_blocks=True)
        self.css = (_TEMPLATES / 'style.css').read_text()
        self.files: list[tuple[str, str]] = []
        self.notes: list[str] = []

    # -- outputs --------------------------------------------------------------------------------------------------
    def table(self, table: Table, collapsed: bool = False, summary: str = '') -> _RenderedTable:
        page = self.env.get_template('table.html.j2')
        paths = write_table(table, self.out / 'tables',
                            lambda t: page.render(title=t.caption, css=self.css, table=to_html(t)))
        files = [(fmt.upper() if fmt != 'md' else 'Markdown', p.relative_to(self.out).as_posix())
                 for fmt, p in paths.items()]
        self.files += [(p.relative_to(self.out).as_posix(), p.relative_to(self.out).as_posix())
                       for p in paths.values()]
        return _RenderedTable(to_html(table, table.key), files, collapsed, summary)

    def csv(self, table: Table) -> None:
        """Only the CSV of `table`, listed under Files."""
        path = self.out / 'tables' / f'{table.key}.csv'
        path.parent.mkdir(parents=True, exist_ok=True)
        table.frame.to_csv(path, index=False)
        rel = path.relative_to(self.out).as_posix()
        self.files.append((f'{rel} (every metric)', rel))

    def figure(self, fig, stem: str, caption: str, dpi: int = 150) -> _Figure:
        from reports.figures import save_figure
        paths = save_figure(fig, self.out / 'figures', stem, dpi)
        rel = {fmt: p.relative_to(self.out).as_posix() for fmt, p in paths.items()}
        self.files += [(r, r) for r in rel.values()]
        src = rel['png']
        if self.options.embed:
            src = 'data:image/png;base64,' + base64.b64encode(paths['png'].read_bytes()).decode('ascii')
        return _Figure(stem, '', caption, src, [(k.upper(), v) for k, v in rel.items()])

    # -- sections -------------------------------------------------------------------------------------------------
    def group(self, summary: GroupSummary, colours: dict) -> _Group:
        ds, conv, opt = summary.dataset, summary.convention, self.options
        group = _Group(f'{_slug(ds)}--{_slug(conv)}', f'{ds}, convention {conv}')
        split = len(summary.groups) > 1
        for table in results_tables(summary, opt):
            group.tables.append(self.table(table))
        if split:  # every metric in one CSV still, for scripts: a CSV has no page width
            self.csv(results_table(summary, opt))
        if len(summary.methods) > 1:
            if split:  # one narrow table of mean ranks; the rank of every metric folded away, group by group
                group.tables.append(self.table(mean_rank_table(summary)))
                for i, g in enumerate(summary.groups, 1):
                    group.tables.append(self.table(rank_table(summary, g), collapsed=True,
                                                   summary=f'Rank on each metric, {i} of {len(summary.groups)}: '
                                                           f'{g.title}'))
            else:
                group.tables.append(self.table(rank_table(summary)))
        if summary.versus_best:
            group.tables.append(self.table(stats_table(summary, opt), collapsed=True,
                                           summary='Paired statistics behind the markers'))
        for full, variants in ablation_groups(summary.methods, opt.ablation).items():
            for g in summary.groups or [None]:
                group.tables.append(self.table(ablation_table(summary, full, variants, opt, g)))
        if opt.figures and summary.metrics:
            from reports.figures import distribution_figure, drawn_methods, per_pair_figure
            stem = f'{_slug(ds)}__{_slug(conv)}'
            _, left_out = drawn_methods(summary, opt.max_lines)
            how = f'the first {opt.max_lines} of --methods' if summary.chosen else \
                f'the {opt.max_lines} best by mean rank'
            group.figures.append(self.figure(
                per_pair_figure(summary, colours, max_lines=opt.max_lines), f'{stem}__per_pair',
                f'Per-pair values on {ds} (convention {conv}): one panel per metric, one line per method '
                f'(Figure 6 of the DFECF paper); the means are in the results table.' +
                (f' {len(left_out)} of the {len(summary.methods)} methods are left out to keep the lines apart '
                 f'({how} are drawn; --methods chooses them, --max-lines how many): '
                 f'{", ".join(summary.label(m) for m in left_out)}; the next two figures show every method.'
                 if left_out else '')))
            group.figures.append(self.figure(
                per_pair_figure(summary, colours, sort=True), f'{stem}__sorted',
                'The same values sorted per method from worst to best: the spread of each method over the pairs.'))
            group.figures.append(self.figure(
                distribution_figure(summary, colours, opt.distribution), f'{stem}__{opt.distribution}',
                f'Distribution over the pairs of each method\'s values ({opt.distribution} plot; points are pairs).'))
        return group

    def qualitative(self, dataset: _Dataset, summary: GroupSummary, colours: dict) -> None:
        """Figures 5 and 7 for one data set; a note instead when the images cannot be found."""
        from reports.figures import short_name
        from reports.qualitative import ImageFinder, choose_pairs, grid_figure
        opt = self.options
        try:
            finder = ImageFinder(self.run, summary.dataset, opt.data_root)
        except Exception as err:  # unknown or malformed manifest: the rest of the report still renders
            reason = err.args[0] if isinstance(err, KeyError) and err.args else err
            dataset.notes.append(f'Qualitative figures skipped for {summary.dataset}: its manifest could not be '
                                 f'loaded ({reason}).')
            return
        pairs = [p for p in (opt.pairs or []) if p in finder.pairs] or choose_pairs(summary, opt.n_qualitative)
        unknown = [p for p in (opt.pairs or []) if p not in finder.pairs]
        if unknown:
            dataset.notes.append(f'Pairs not in {summary.dataset}: {", ".join(unknown)}.')
        if not pairs:
            return
        ir, vi = finder.sources(pairs[0])
        if not ir.is_file() or not vi.is_file():
            dataset.notes.append(f'Qualitative figures skipped for {summary.dataset}: source images not found '
                                 f'under {finder.root} (pass --data-root where the data set now is).')
            return
        how = 'chosen by the user' if opt.pairs else 'where the methods\' scores disagree most'
        zoom = 'the box given by the user' if opt.zoom else 'where the fused images differ most'
        stem = _slug(summary.dataset)
        names = {m: short_name(summary.label(m)) for m in summary.methods}
        fig, _ = grid_figure(finder, pairs, summary.methods, f'{summary.dataset}: fused images', opt.zoom, names)
        dataset.figures.append(self.figure(
            fig, f'{stem}__qualitative',
            f'Fused images of every method on pairs {", ".join(pairs)} of {summary.dataset} ({how}); the red box '
            f'({zoom}) is shown enlarged in the inset of every panel (Figure 5 of the DFECF paper).', dpi=130))
        for full, variants in ablation_groups(summary.methods, opt.ablation).items():
            fig, _ = grid_figure(finder, pairs, variants + [full], f'{summary.dataset}: ablation of {full}', opt.zoom,
                                 labels={**names, full: f'{names[full]} (full)'})
            dataset.figures.append(self.figure(
                fig, f'{stem}__ablation_{_slug(full)}',
                f'Fused images of the variants of {full} and the full model on the same pairs and boxes '
                f'(Figure 7 of the DFECF paper).', dpi=130))

    def timing(self, colours: dict) -> dict | None:
        timing = self.run.timing
        if self.options.methods and not timing.empty:
            chosen = choose(self.options.methods, self.run.all_methods(), 'method')
            timing = timing[timing['method'].astype(str).isin(chosen)]
        summary = timing_summary(timing)
        if summary.empty:
            return None
        rendered = self.table(timing_report_table(summary, self.labels))
        figures = []
        if self.options.figures:
            from reports.figures import timing_figure
            figures.append(self.figure(timing_figure(summary, colours, self.labels), 'timing',
                                       'Median milliseconds per image of each method and device; bars give the '
                                       'inter-quartile range over the pairs.'))
        return {'html': rendered.html, 'files': rendered.files, 'figures': figures}

    def errors(self) -> dict | None:
        errors = self.run.errors
        if errors.empty:
            return None
        columns = [c for c in ('pair', 'method', 'stage', 'error', 'message') if c in errors]
        rows = [(str(r.get('dataset', '')), [Cell(str(r[c])) for c in columns]) for _, r in errors.iterrows()]
        table = Table('errors', 'Error rows (errors.csv)', 'dataset', columns, rows, [], errors)
        rendered = self.table(table)
        return {'html': rendered.html, 'files': rendered.files}

    def metadata(self) -> list[dict]:
        meta = self.run.meta
        blocks = []
        runs = [[inv.get('started', ''), inv.get('finished') or 'not finished', ' '.join(map(str, inv.get('argv', []))),
                 inv.get('convention', ''), inv.get('data_root', ''),
                 _counts(inv)] for inv in meta.get('invocations', [])]
        if runs:
            blocks.append({'title': 'Invocations', 'header': ['started', 'finished', 'arguments', 'convention',
                                                              'data root', 'counts'], 'rows': runs})
        env = meta.get('environment', {})
        if env or meta.get('version'):
            rows = [['ivif-bench', meta.get('version', '')]] + [[k, v] for k, v in env.items()]
            blocks.append({'title': 'Environment (versions, device)', 'header': ['', ''], 'rows': rows})
        if meta.get('datasets'):
            blocks.append({'title': 'Data sets (the manifest sha256 covers the sha256 of every file)',
                           'header': ['name', 'title', 'pairs', 'manifest sha256', 'location', 'citation'],
                           'rows': [[n, d.get('title', ''), d.get('pairs', ''), d.get('manifest_sha256', ''),
                                     d.get('root', ''), d.get('citation', '')] for n, d in meta['datasets'].items()]})
        conventions = sorted({c for _, c in self.run.groups()} | set(meta.get('conventions', {})))
        if conventions:
            blocks.append({'title': 'Metric conventions', 'header': ['convention', 'description'],
                           'rows': [[c, self.run.convention_description(c) or 'not recorded in run.json']
                                    for c in conventions]})
        if meta.get('methods'):
            rows = []
            for n, m in meta['methods'].items():
                if m.get('kind') == 'published':
                    source = ', '.join(f'{k}: {v}' for k, v in m.get('folders', {}).items()) or m.get('folder', '')
                    rows.append([n, 'published results', source + (f" ({m['pattern']})" if m.get('pattern') else ''),
                                 '', ''])
                else:
                    rows.append([n, m.get('kind', ''), m.get('paper', ''), m.get('licence', ''),
                                 _weights_text(m.get('weights', []))])
            blocks.append({'title': 'Methods', 'header': ['name', 'kind', 'paper or folder', 'licence', 'weights'],
                           'rows': rows})
        metric_rows = []
        for ds, conv in self.run.groups():
            for name in self.run.metrics(ds, conv):
                info = self.run.metric_info(name, conv)
                row = [conv, name, info.label, {True: 'higher', False: 'lower'}.get(info.higher_is_better, 'unknown'),
                       info.reference or 'not recorded in run.json']
                if row not in metric_rows:
                    metric_rows.append(row)
        if metric_rows:
            blocks.append({'title': 'Metrics', 'header': ['convention', 'metric', 'label', 'better', 'definition'],
                           'rows': metric_rows})
        return blocks

    def warnings(self) -> list[str]:
        out = []
        for inv in self.run.meta.get('invocations', []):
            for asked, used in (inv.get('substituted') or {}).items():
                out.append(f'Data set {asked} was not available; the run used the {used} set instead. Its scores '
                           f'say nothing about {asked}.')
        return list(dict.fromkeys(out))


def _means(summary: GroupSummary) -> pd.DataFrame:
    table = summary.mean.rename_axis('method').reset_index()
    return table.assign(dataset=summary.dataset, convention=summary.convention)


def _check_choices(run: RunData, options: ReportOptions) -> None:
    """Unknown --methods, --metrics or --label names fail before anything is written (KeyError, did you mean)."""
    if options.methods:
        choose(options.methods, run.all_methods(), 'method')
    if options.metrics:
        choose(options.metrics, run.all_metrics(), 'metric', PRESETS, case_sensitive=False)
    method_labels(run.all_methods(), run.meta, options.labels)


def write_report(run_dir: str | Path, options: ReportOptions | None = None, out: str | Path | None = None) -> Path:
    """Writes the report of `run_dir` into `out` (default `<run_dir>/report/`): index.html, tables/ (CSV, Markdown,
    LaTeX, HTML per table), figures/ (PNG, PDF) and means.csv, from the run's saved results only; returns the path
    of index.html. The run folder itself is only read, so with `out` it may be read-only.

    Raises:
        FileNotFoundError: when `run_dir` is not a run folder.
        KeyError: a method, metric or label names something the run does not have.
        ReportNotWritable: the report's folder cannot be written (a read-only run folder: pass `out`).
        ValueError: `out` holds files that are not an earlier report.
    """
    options = options or ReportOptions()
    run = load_run(run_dir, options.directions)
    _check_choices(run, options)
    folder = prepare_output(run.run_dir, out)
    try:
        return _build(run, options, folder)
    except OSError as err:  # a folder that turned read-only half-way, or a file inside it that is
        if is_denied(err):
            raise not_writable(folder, run.run_dir, err) from None
        raise


def _build(run: RunData, options: ReportOptions, folder: Path) -> Path:
    builder = _Builder(run, options, folder)
    all_methods = run.all_methods()
    colours = {}
    if options.figures:
        from reports.figures import method_colours
        colours = method_colours(all_methods)
    datasets, means = {}, []
    for ds, conv in run.groups():
        summary = summarise(run, ds, conv, options)
        if not summary.methods or not summary.metrics:
            builder.notes.append(f'Nothing of {ds}, convention {conv}, was chosen (--methods, --metrics).')
            continue
        means.append(_means(summary))
        if ds not in datasets:
            facts = run.meta.get('datasets', {}).get(ds, {})
            datasets[ds] = _Dataset(_slug(ds), f'Data set {ds}', facts.get('title', ''))
            if options.figures and summary.metrics:
                builder.qualitative(datasets[ds], summary, colours)
        datasets[ds].groups.append(builder.group(summary, colours))
    if means:
        pd.concat(means).to_csv(builder.out / 'means.csv', index=False)
        builder.files.insert(0, ('means.csv (every mean, all data sets)', 'means.csv'))
    if run.scores.empty:
        builder.notes.append('No scores yet: the run has not scored anything.')
    timing, errors = builder.timing(colours), builder.errors()
    order = [f for d in datasets.values() for f in [x for g in d.groups for x in g.figures] + d.figures]
    for number, fig in enumerate(order + (timing['figures'] if timing else []), 1):
        fig.label = f'Figure {number}.'  # numbered in page order, not in the order they were drawn
    # Links to the run's own files, relative so that the pair of folders can be moved together.
    run_files = Path(os.path.relpath(run.run_dir.resolve(), builder.out.resolve())).as_posix() + '/'
    page = builder.env.get_template('report.html.j2').render(
        run={'name': run.name, 'path': str(run.run_dir.resolve()), 'version': run.meta.get('version', '?'),
             'files': run_files},
        built=dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds'), css=builder.css,
        warnings=builder.warnings(), notes=builder.notes, datasets=list(datasets.values()),
        timing=timing, errors=errors, n_errors=len(run.errors),
        metadata=builder.metadata(), files=builder.files)
    path = builder.out / 'index.html'
    path.write_text(page, encoding='utf-8')
    return path


def _weights_text(weights: list) -> str:
    """run.json's weight files of a method: {file, sha256, source} records (file names only in older runs)."""
    if not weights:
        return 'none'
    parts = []
    for w in weights:
        if isinstance(w, dict):
            digest = w.get('sha256') or w.get('git_blob') or ''
            parts.append(f"{w.get('file', '')} ({w.get('source', '')}; {digest[:12]})" if digest else
                         f"{w.get('file', '')} ({w.get('source', '')})")
        else:
            parts.append(str(w))
    return ', '.join(parts)


def _counts(invocation: dict) -> str:
    """An invocation's counts, what it redid and why, and the methods it skipped for want of a user's file."""
    parts = [f'{k}: {invocation[k]}' for k in ('fused', 'reused', 'complete', 'scored', 'errors') if k in invocation]
    parts += [f'redone ({why}): {n}' for why, n in (invocation.get('redone') or {}).items()]
    parts += [f'skipped {m} (waits for the user-supplied {", ".join(files)})'
              for m, files in (invocation.get('skipped_methods') or {}).items()]
    return ', '.join(parts)
