"""Tables of a run: results (Table 3), ablation (Table 4), ranks and paired statistics, from the saved scores.

Best is bold and second underlined by each metric's recorded direction, judged on the values as printed (two means
that print the same share the place). A method scored on fewer pairs than the data set has is marked, never averaged
silently over fewer pairs; the paired statistics use only the pairs both methods have.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reports.data import MetricInfo, RunData
from reports.groups import PRESETS, MetricGroup, metric_groups
from reports.names import PUBLISHED_SUFFIX, choose, method_labels
from reports.options import ReportOptions
from reports.render import BEST, SECOND, Cell, Table
from reports.stats import compare_to

__all__ = ['GroupSummary', 'summarise', 'emphasis', 'results_table', 'results_tables', 'rank_table',
           'mean_rank_table', 'stats_table', 'ablation_groups', 'ablation_table', 'mean_table', 'column_decimals',
           'NOT_SIGNIFICANT', 'INCOMPLETE']

NOT_SIGNIFICANT = '†'
INCOMPLETE = '‡'
ABLATION_INFIXES = ('-no-', '-wo-', '-without-')


@dataclass
class GroupSummary:
    """Per-method statistics of one data set under one convention.

    Attributes:
        values: {metric: pairs x methods values}.
        mean, std, n: methods x metrics (n: pairs with a finite value).
        n_total: pairs of the data set.
        best: {metric: best method by mean} for metrics with a known direction.
        versus_best: {metric: `compare_to` output of the best method against the others}.
        labels: {method: label shown in tables and figures}.
        groups: the metrics of each table (one group unless a long list was split).
        chosen: True when the user chose the methods (their order then matters more than their ranks).
        absent: metrics the user chose that this convention did not score.
    """
    dataset: str
    convention: str
    convention_description: str
    methods: list[str]
    metrics: list[MetricInfo]
    values: dict[str, pd.DataFrame]
    mean: pd.DataFrame
    std: pd.DataFrame
    n: pd.DataFrame
    n_total: int
    best: dict[str, str]
    versus_best: dict[str, pd.DataFrame]
    labels: dict[str, str] = field(default_factory=dict)
    groups: list[MetricGroup] = field(default_factory=list)
    chosen: bool = False
    absent: list[str] = field(default_factory=list)

    def label(self, method: str) -> str:
        return self.labels.get(method, method)

    def infos(self, group: MetricGroup | None = None) -> list[MetricInfo]:
        """The metrics of `group` (all when None), in the group's order."""
        if group is None:
            return list(self.metrics)
        by_name = {i.name: i for i in self.metrics}
        return [by_name[m] for m in group.metrics if m in by_name]


def summarise(run: RunData, dataset: str, convention: str, options: ReportOptions | None = None) -> GroupSummary:
    """Means, stds, counts and the best method's paired comparisons for one (data set, convention)."""
    options = options or ReportOptions()
    methods = run.methods(dataset, convention)
    if options.methods:  # names are checked against the whole run: one a data set lacks is not a typo
        methods = [m for m in choose(options.methods, run.all_methods(), 'method') if m in methods]
    names, absent = run.metrics(dataset, convention), []
    if options.metrics:
        wanted = choose(options.metrics, run.all_metrics(), 'metric', PRESETS, case_sensitive=False)
        absent = [m for m in wanted if m not in names]
        names = [m for m in wanted if m in names]
        groups = [MetricGroup('', '', tuple(names))]  # the user's choice is one table, in the user's order
    else:
        groups = metric_groups(names, options.table_width)
        names = [m for g in groups for m in g.metrics]  # figures in the tables' order: the paper's seven first
    infos = [run.metric_info(m, convention) for m in names]
    values = {i.name: run.values(dataset, convention, i.name) for i in infos}
    mean = pd.DataFrame({k: v.mean() for k, v in values.items()}, index=methods)
    std = pd.DataFrame({k: v.std(ddof=1) for k, v in values.items()}, index=methods)
    n = pd.DataFrame({k: v.notna().sum() for k, v in values.items()}, index=methods).astype(int)
    best, versus = {}, {}
    for info in infos:
        col = mean[info.name].dropna()
        if info.higher_is_better is None or col.empty:
            continue
        best[info.name] = col.idxmax() if info.higher_is_better else col.idxmin()
        if len(col) > 1:
            versus[info.name] = compare_to(values[info.name], best[info.name], info.higher_is_better,
                                           1 - options.alpha, options.resamples)
    labels = method_labels(run.all_methods(), run.meta, options.labels)
    return GroupSummary(dataset, convention, run.convention_description(convention), methods, infos, values,
                        mean, std, n, run.n_pairs(dataset), best, versus, labels, groups, bool(options.methods),
                        absent)


def column_decimals(values: pd.Series, decimals: int = 4) -> int:
    """Digits after the point for a column: `decimals`, or enough for 3 significant digits of small values.

    Example:
        >>> column_decimals(pd.Series([0.0342, 0.0469])), column_decimals(pd.Series([0.00012, 0.0004]))
        (4, 6)
    """
    finite = values[np.isfinite(values.astype(float))].abs()
    top = finite.max() if len(finite) else 0.0
    if 0 < top < 0.01:
        return min(10, max(decimals, 2 - int(math.floor(math.log10(top)))))
    return decimals


def _fmt(value: float, decimals: int) -> str:
    return '—' if value is None or not np.isfinite(value) else f'{value:.{decimals}f}'


def emphasis(means: pd.Series, higher_is_better: bool | None, decimals: int = 4) -> pd.Series:
    """1 for the best, 2 for the second best, 0 otherwise, by direction, on the values rounded as printed.

    Ties share a place (dense ranking); nothing is marked when the direction is unknown or fewer than two methods
    have a value, and the second place only with three or more.

    Example:
        >>> means = pd.Series({'a': 0.5, 'b': 0.7, 'c': 0.6})
        >>> emphasis(means, True).tolist(), emphasis(means, False).tolist()
        ([0, 1, 2], [1, 0, 2])
    """
    out = pd.Series(0, index=means.index, dtype=int)
    shown = means.astype(float).round(decimals).dropna()
    if higher_is_better is None or len(shown) < 2:
        return out
    rank = shown.rank(method='dense', ascending=not higher_is_better)
    out[rank[rank == 1].index] = BEST
    if len(shown) >= 3:
        out[rank[rank == 2].index] = SECOND
    return out


def _not_significant(comparison: pd.DataFrame | None, method: str, options: ReportOptions) -> bool:
    """True when the reference's lead over `method` is not significant (False when not tested)."""
    if comparison is None or method not in comparison.index:
        return False
    row = comparison.loc[method]
    if options.test == 'bootstrap':
        return bool(np.isfinite(row['ci_low'])) and not (row['ci_low'] > 0 or row['ci_high'] < 0)
    return bool(not np.isfinite(row['p_holm']) or row['p_holm'] >= options.alpha)


def _significance_note(options: ReportOptions, reference: str) -> str:
    if options.test == 'bootstrap':
        how = (f'its {100 * (1 - options.alpha):g}% percentile bootstrap interval of the mean paired difference '
               f'({options.resamples} resamples, not corrected for multiple comparisons) contains 0')
    else:
        how = (f'two-sided paired Wilcoxon signed-rank test, Holm-corrected over the methods compared, '
               f'p ≥ {options.alpha:g}')
    return f'{NOT_SIGNIFICANT} difference from {reference} not significant ({how}; only pairs both methods have).'


def _metric_notes(infos: list[MetricInfo]) -> list[str]:
    notes = []
    for info in infos:
        if info.higher_is_better is None:
            notes.append(f'{info.label}: not described in the run (run.json); direction unknown, so not ranked.')
        elif info.reference:
            notes.append(f'{info.label} ({"higher" if info.higher_is_better else "lower"} is better): '
                         f'{info.reference}.')
    return notes


def _convention_note(summary: GroupSummary, n_methods_label: str = 'Mean over pairs') -> str:
    desc = f': {summary.convention_description.rstrip(".")}' if summary.convention_description else ''
    return (f'{n_methods_label} of data set {summary.dataset} ({summary.n_total} pairs), metric convention '
            f'{summary.convention}{desc}. ↑ higher is better, ↓ lower is better; best in bold, second underlined.')


def _label_notes(summary: GroupSummary, methods: list[str]) -> list[str]:
    """Says what a label stands for wherever it is not the method's own name."""
    notes = []
    if any(summary.label(m) == m + PUBLISHED_SUFFIX for m in methods):
        notes.append('(published): fused images published by the method\'s authors or a benchmark, scored here; '
                     'the other methods were run by this benchmark.')
    renamed = [f'{summary.label(m)} = {m}' for m in methods if summary.label(m) not in (m, m + PUBLISHED_SUFFIX)]
    if renamed:
        notes.append('Labels: ' + '; '.join(renamed) + '.')
    return notes


def _split(summary: GroupSummary, group: MetricGroup | None) -> tuple[str, str]:
    """(file key suffix, caption suffix) of one metric group's table; empty when the metrics are not split."""
    if group is None or not group.key or len(summary.groups) < 2:
        return '', ''
    number = summary.groups.index(group) + 1 if group in summary.groups else 0
    return f'_{group.key}', f' ({number} of {len(summary.groups)}: {group.title})'


def _absent_note(summary: GroupSummary) -> list[str]:
    if not summary.absent:
        return []
    return [f'Not scored under convention {summary.convention}: {", ".join(summary.absent)}.']


def results_table(summary: GroupSummary, options: ReportOptions | None = None,
                  group: MetricGroup | None = None) -> Table:
    """Table 3: methods x metrics (those of `group`, default all), mean (± std on request), bold best,
    underlined second, markers, pairs."""
    options = options or ReportOptions()
    infos = summary.infos(group)
    columns, frame = [], pd.DataFrame({'method': summary.methods})
    decimals = {i.name: column_decimals(summary.mean[i.name], options.decimals) for i in infos}
    marks_used = set()
    cells: dict[str, list[Cell]] = {m: [] for m in summary.methods}
    for info in infos:
        columns.append(f'{info.label} {info.arrow}')
        means, d = summary.mean[info.name], decimals[info.name]
        emph = emphasis(means, info.higher_is_better, d)
        comparison = summary.versus_best.get(info.name)
        for method in summary.methods:
            text = _fmt(means[method], d)
            if options.std and np.isfinite(means[method]):
                text += f' ± {_fmt(summary.std.loc[method, info.name], d)}'
            marks = ''
            if _not_significant(comparison, method, options):
                marks += NOT_SIGNIFICANT
            n = summary.n.loc[method, info.name]
            if 0 < n < summary.n_total:
                marks += INCOMPLETE
            marks_used.update(marks)
            cells[method].append(Cell(text, int(emph[method]), marks))
        frame[info.name] = means.to_numpy()
        frame[f'{info.name}_std'] = summary.std[info.name].to_numpy()
        frame[f'{info.name}_n'] = summary.n[info.name].to_numpy()
    columns.append('pairs')
    # Pairs over every metric of the run, not only this group's: the count a reader compares across the tables.
    n_min = summary.n.min(axis=1) if summary.metrics else pd.Series(0, index=summary.methods)
    for method in summary.methods:
        k = int(n_min[method])
        cells[method].append(Cell(str(k) if k == summary.n_total else f'{k}/{summary.n_total}'))
    frame['pairs'] = n_min.to_numpy()
    frame['pairs_total'] = summary.n_total
    notes = [_convention_note(summary) + (' Values are mean ± sample std.' if options.std else '')]
    if NOT_SIGNIFICANT in marks_used:
        notes.append(_significance_note(options, 'the best method of that metric'))
    if INCOMPLETE in marks_used:
        notes.append(f'{INCOMPLETE} mean over fewer pairs than the data set has ({summary.n_total}): the method failed '
                     f'or was not scored on the others (see errors.csv); "pairs" gives the count.')
    notes += _label_notes(summary, summary.methods) + _metric_notes(infos) + _absent_note(summary)
    key, part = _split(summary, group)
    table = Table(f'{_slug(summary.dataset)}__{_slug(summary.convention)}__results{_slug(key) if key else ""}',
                  f'{summary.dataset}, convention {summary.convention}: mean over pairs{part}', 'method', columns,
                  [(summary.label(m), cells[m]) for m in summary.methods], notes, frame)
    return table.transposed() if options.transpose else table


def results_tables(summary: GroupSummary, options: ReportOptions | None = None) -> list[Table]:
    """`results_table` of each metric group: one table when the metrics fit one, else the paper's seven first."""
    return [results_table(summary, options, g) for g in summary.groups or [None]]


def _ranks(summary: GroupSummary, infos: list[MetricInfo]) -> pd.DataFrame:
    """Methods x metrics: rank of each method's mean (1 = best, ties averaged); metrics of unknown direction out."""
    return pd.DataFrame({i.name: summary.mean[i.name].rank(ascending=not i.higher_is_better, method='average')
                         for i in infos if i.higher_is_better is not None}, index=summary.methods)


def rank_table(summary: GroupSummary, group: MetricGroup | None = None) -> Table:
    """Rank of each method on each metric's mean (1 = best, ties averaged) and the mean rank, best first.

    For one group of split metrics, the mean rank over the group's metrics and over all metrics, rows ordered by
    the latter, so every group's table lists the methods in the same order.
    """
    infos = summary.infos(group)
    ranked = [i for i in infos if i.higher_is_better is not None]
    ranks = _ranks(summary, ranked)
    mean_rank = ranks.mean(axis=1)
    overall = _ranks(summary, summary.metrics).mean(axis=1)
    key, part = _split(summary, group)
    order = (overall if key else mean_rank).sort_values(kind='stable').index.tolist()
    columns = [f'{i.label} {i.arrow}' for i in ranked] + ['mean rank']
    frame = ranks.loc[order].assign(mean_rank=mean_rank[order])
    rows = []
    for method in order:
        cells = [Cell(_fmt(ranks.loc[method, i.name], 1 if ranks[i.name].mod(1).any() else 0)) for i in ranked]
        cells.append(Cell(_fmt(mean_rank[method], 2), int(emphasis(mean_rank, False, 2)[method])))
        if key:
            cells.append(Cell(_fmt(overall[method], 2), int(emphasis(overall, False, 2)[method])))
        rows.append((summary.label(method), cells))
    n_all = int(sum(i.higher_is_better is not None for i in summary.metrics))
    if key:
        columns.append(f'mean rank, all {n_all}')
        frame = frame.assign(mean_rank_all=overall[order])
    notes = [f'Rank of each method on the mean of each metric of {summary.dataset} (convention '
             f'{summary.convention}); 1 is best, ties share the average rank. Mean rank over the '
             f'{len(ranked)} metrics with a known direction' + (f' of this table, then over all {n_all} metrics '
                                                                f'(rows in that order)' if key else '') +
             '; lowest in bold.']
    skipped = [i.label for i in infos if i.higher_is_better is None]
    if skipped:
        notes.append(f'Not ranked (direction unknown): {", ".join(skipped)}.')
    notes += _label_notes(summary, order)
    return Table(f'{_slug(summary.dataset)}__{_slug(summary.convention)}__ranks{_slug(key) if key else ""}',
                 f'{summary.dataset}, convention {summary.convention}: ranks{part}', 'method', columns, rows, notes,
                 frame.rename_axis('method').reset_index())


def mean_rank_table(summary: GroupSummary) -> Table:
    """Split metrics: each method's mean rank over each group's metrics and over all, in one narrow table."""
    parts = [(g, [i for i in summary.infos(g) if i.higher_is_better is not None]) for g in summary.groups]
    parts = [(g, infos) for g, infos in parts if infos]
    all_ranked = [i for i in summary.metrics if i.higher_is_better is not None]
    means = pd.DataFrame({g.key: _ranks(summary, infos).mean(axis=1) for g, infos in parts}, index=summary.methods)
    means['all'] = _ranks(summary, all_ranked).mean(axis=1)
    order = means['all'].sort_values(kind='stable').index.tolist()
    emph = {c: emphasis(means[c], False, 2) for c in means}
    rows = [(summary.label(m), [Cell(_fmt(means.loc[m, c], 2), int(emph[c][m])) for c in means]) for m in order]
    columns = [f'{g.title} ({len(infos)})' for g, infos in parts] + [f'all ({len(all_ranked)})']
    notes = [f'Mean rank of each method over the metrics of each table of {summary.dataset} (convention '
             f'{summary.convention}; in brackets the number of metrics with a known direction); 1 is best, lowest '
             f'in bold. The rank of each metric is in the ranks tables.'] + _label_notes(summary, order)
    return Table(f'{_slug(summary.dataset)}__{_slug(summary.convention)}__mean_ranks',
                 f'{summary.dataset}, convention {summary.convention}: mean rank per metric group', 'method',
                 columns, rows, notes, means.loc[order].rename_axis('method').reset_index())


def stats_table(summary: GroupSummary, options: ReportOptions | None = None) -> Table:
    """Every comparison behind the markers: best method vs each other method, per metric."""
    options = options or ReportOptions()
    rows, records = [], []
    for info in summary.metrics:
        comparison = summary.versus_best.get(info.name)
        if comparison is None:
            continue
        d = column_decimals(summary.mean[info.name], options.decimals)
        for method, r in comparison.iterrows():
            significant = not _not_significant(comparison, method, options)
            rows.append((info.label, [
                Cell(summary.label(summary.best[info.name])), Cell(summary.label(method)), Cell(str(int(r['n']))),
                Cell(_fmt(r['mean_lead'], d)), Cell(f'[{_fmt(r["ci_low"], d)}, {_fmt(r["ci_high"], d)}]'),
                Cell(_fmt_p(r['p'])), Cell(_fmt_p(r['p_holm'])), Cell(f'{int(r["wins"])}/{int(r["n"])}'),
                Cell('yes' if significant else 'no')]))
            records.append({'metric': info.name, 'best': summary.best[info.name], 'method': method,
                            **r.to_dict(), 'significant': significant})
    level = f'{100 * (1 - options.alpha):g}%'
    notes = [f'Lead of the best method (by mean) over each other method on the pairs both have, oriented so that '
             f'a positive lead means the best is better. {level} percentile bootstrap interval of the mean lead '
             f'({options.resamples} resamples); two-sided Wilcoxon signed-rank p, and Holm-corrected over the '
             f'methods of each metric; wins: pairs where the best is better. "significant" uses the '
             f'{options.test} criterion at α = {options.alpha:g}.'] + _label_notes(summary, summary.methods)
    columns = ['best', 'method', 'pairs', 'mean lead', f'{level} CI', 'p (Wilcoxon)', 'p (Holm)', 'wins',
               'significant']
    return Table(f'{_slug(summary.dataset)}__{_slug(summary.convention)}__paired_stats',
                 f'{summary.dataset}, convention {summary.convention}: paired comparisons with the best method',
                 'metric', columns, rows, notes, pd.DataFrame(records))


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return '—'
    return f'{p:.2g}' if p >= 1e-4 else '<1e-4'


def ablation_groups(methods: list[str], explicit: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """{full model: variants} present in `methods`.

    By default a method `X` with other methods named `X-no-*`, `X-wo-*` or `X-without-*` forms a group. `explicit`
    names groups instead; an empty variant list means every method whose name starts with `X-`.

    Example:
        >>> ablation_groups(['u2fusion', 'dfecf', 'dfecf-no-de', 'dfecf-no-aux'])
        {'dfecf': ['dfecf-no-de', 'dfecf-no-aux']}
    """
    if explicit is not None:
        groups = {}
        for base, variants in explicit.items():
            chosen = [v for v in variants if v in methods] if variants else \
                [m for m in methods if m != base and m.startswith(base + '-')]
            if base in methods and chosen:
                groups[base] = chosen
        return groups
    return {base: variants for base in methods
            if (variants := [m for m in methods if any(m.startswith(base + i) for i in ABLATION_INFIXES)])}


def ablation_table(summary: GroupSummary, full: str, variants: list[str],
                   options: ReportOptions | None = None, group: MetricGroup | None = None) -> Table:
    """Table 4: each variant's mean with its change relative to the full model; bold best within the group.
    `group`: only its metrics (default all)."""
    options = options or ReportOptions()
    members = variants + [full]
    full_label = f'{summary.label(full)} (full)'
    cells: dict[str, list[Cell]] = {m: [] for m in members}
    frame = pd.DataFrame({'method': members})
    marks_used = set()
    infos = summary.infos(group)
    for info in infos:
        means = summary.mean.loc[members, info.name]
        d = column_decimals(means, options.decimals)
        emph = emphasis(means, info.higher_is_better, d)
        reference = means[full]
        comparison = None
        if info.higher_is_better is not None and np.isfinite(reference):
            comparison = compare_to(summary.values[info.name][members], full, info.higher_is_better,
                                    1 - options.alpha, options.resamples)
        changes = []
        for m in members:
            note, kind, change = '', '', np.nan
            if m != full and np.isfinite(means[m]) and np.isfinite(reference):
                change = 100 * (means[m] - reference) / abs(reference) if reference != 0 else np.nan
                note = f'({change:+.1f}%)' if np.isfinite(change) else f'(Δ {means[m] - reference:+.{d}f})'
                if info.higher_is_better is not None and means[m] != reference:
                    kind = 'better' if (means[m] > reference) == info.higher_is_better else 'worse'
            marks = NOT_SIGNIFICANT if m != full and _not_significant(comparison, m, options) else ''
            if 0 < summary.n.loc[m, info.name] < summary.n_total:
                marks += INCOMPLETE
            marks_used.update(marks)
            cells[m].append(Cell(_fmt(means[m], d), int(emph[m]), marks, note, kind))
            changes.append(change)
        frame[info.name] = means.to_numpy()
        frame[f'{info.name}_change_pct'] = changes
    notes = [_convention_note(summary, 'Ablation: mean over pairs') +
             f' In brackets: change relative to the full model {full}.']
    if NOT_SIGNIFICANT in marks_used:
        notes.append(_significance_note(options, f'the full model {full}'))
    if INCOMPLETE in marks_used:
        notes.append(f'{INCOMPLETE} mean over fewer pairs than the data set has ({summary.n_total}); see errors.csv.')
    notes += _label_notes(summary, members)
    rows = [(full_label if m == full else summary.label(m), cells[m]) for m in members]
    key, part = _split(summary, group)
    table = Table(f'{_slug(summary.dataset)}__{_slug(summary.convention)}__ablation_{_slug(full)}'
                  f'{_slug(key) if key else ""}',
                  f'{summary.dataset}, convention {summary.convention}: ablation of {full}{part}', 'variant',
                  [f'{i.label} {i.arrow}' for i in infos], rows, notes, frame)
    return table.transposed() if options.transpose else table


def mean_table(scores: pd.DataFrame, dataset: str, convention: str, metric_order: list[str] | None = None
               ) -> pd.DataFrame:
    """Methods x metrics table of per-pair means for one data set and convention (the CLI's summary print).

    Example:
        >>> rows = pd.DataFrame({'dataset': 'd', 'pair': ['1', '2'], 'method': 'm', 'metric': 'en',
        ...                      'convention': 'default', 'value': [1.0, 2.0]})
        >>> table = mean_table(rows, 'd', 'default')
        >>> list(table.index), list(table.columns), float(table.loc['m', 'en'])
        (['m'], ['en'], 1.5)
    """
    sel = scores[(scores['dataset'] == dataset) & (scores['convention'] == convention)]
    table = sel.pivot_table(index='method', columns='metric', values='value', aggfunc='mean')
    if metric_order:
        table = table[[m for m in metric_order if m in table.columns]]
    return table


def _slug(text: str) -> str:
    """A file-name-safe version of a name."""
    import re
    return re.sub(r'[^A-Za-z0-9._-]+', '-', str(text)).strip('-') or 'x'
