"""Charts of a run (matplotlib/seaborn, written as PNG and PDF): per-pair lines (Figure 6), sorted values,
distributions and fusion time.

Each method keeps one colour in every figure; long method names are shortened in legends and axes (the tables keep
them whole).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reports.numbers import duration, tick
from reports.tables import GroupSummary

__all__ = ['method_colours', 'drawn_methods', 'short_name', 'save_figure', 'per_pair_figure', 'distribution_figure',
           'timing_figure']

MAX_NAME = 24
LEGEND_COLUMNS = 4  # 4 names of up to MAX_NAME characters fit the width of a 3-panel row
NOTE_WIDTH = 150    # characters a line of the legend's note
FIGURE_WIDTH = 16   # inches: the per-pair figure's three panels; wider figures are shrunk more on the page


def _plt():
    import matplotlib
    if matplotlib.get_backend().lower() not in ('agg', 'pdf', 'svg', 'cairo'):
        matplotlib.use('Agg')  # files only: never open a window, also without $MPLBACKEND
    import matplotlib.pyplot as plt
    return plt


def short_name(name: str, limit: int = MAX_NAME) -> str:
    """Shortens a long name in the middle: 'a-very-long-method-name-v2' -> 'a-very-lo…name-v2'.

    Example:
        >>> short_name('x' * 10), short_name('abcdefghijklmnopqrstuvwxyz', 11)
        ('xxxxxxxxxx', 'abcde…vwxyz')
    """
    if len(name) <= limit:
        return name
    head = (limit - 1) // 2
    return name[:head] + '…' + name[len(name) - (limit - 1 - head):]


def method_colours(methods: list[str]) -> dict[str, tuple]:
    """A fixed colour per method, in order: tab10, or for more than ten methods tab20 with its ten strong colours
    first (tab20 alternates strong and pale shades of one hue, so in its own order methods 1 and 2 look alike)."""
    plt = _plt()
    if len(methods) <= 10:
        cmap = plt.get_cmap('tab10')
        return {m: cmap(i % 10) for i, m in enumerate(methods)}
    cmap = plt.get_cmap('tab20')
    order = list(range(0, 20, 2)) + list(range(1, 20, 2))
    return {m: cmap(order[i % 20]) for i, m in enumerate(methods)}


def drawn_methods(summary: GroupSummary, limit: int) -> tuple[list[str], list[str]]:
    """(methods drawn, methods left out) of a figure that can hold `limit` lines a panel.

    The user's own selection is drawn in its order (the first `limit`); otherwise the `limit` best by mean rank
    over the metrics with a known direction (the ones a reader compares), kept in the run's order.

    Example:
        >>> import pandas as pd
        >>> from reports.data import MetricInfo
        >>> s = GroupSummary('d', 'c', '', ['a', 'b', 'c'], [MetricInfo('en', 'EN', True)], {},
        ...                  pd.DataFrame({'en': [1.0, 3.0, 2.0]}, index=['a', 'b', 'c']), None, None, 1, {}, {})
        >>> drawn_methods(s, 2)
        (['b', 'c'], ['a'])
    """
    methods = list(summary.methods)
    if len(methods) <= limit:
        return methods, []
    if summary.chosen:
        return methods[:limit], methods[limit:]
    ranked = [i for i in summary.metrics if i.higher_is_better is not None]
    if ranked:
        ranks = pd.DataFrame({i.name: summary.mean[i.name].rank(ascending=not i.higher_is_better)
                              for i in ranked}, index=methods).mean(axis=1)
        best = set(ranks.sort_values(kind='stable', na_position='last').index[:limit])
    else:
        best = set(methods[:limit])
    return [m for m in methods if m in best], [m for m in methods if m not in best]


def _note(summary: GroupSummary, drawn: int, left_out: list[str]) -> str:
    import textwrap
    names = ', '.join(short_name(summary.label(m)) for m in left_out)
    return '\n'.join(textwrap.wrap(f'Not drawn here ({drawn} lines a panel at most; every method is in the sorted '
                                   f'and distribution figures): {names}', NOTE_WIDTH))


def _note_lines(left_out: list[str]) -> int:
    """Lines the note about `left_out` takes (an upper bound: names are at most MAX_NAME characters)."""
    return -(-(110 + (MAX_NAME + 2) * len(left_out)) // NOTE_WIDTH)


def _legend(strip, summary: GroupSummary, methods: list[str], colours: dict[str, tuple], left_out: list[str],
            line_style: str = '-o') -> None:
    """One legend for the whole figure, above the panels: every panel draws the same methods in the same colours,
    so a legend per panel only repeats itself (31 times with every metric) and covers the lines. The methods left
    out are named in its title."""
    from matplotlib.lines import Line2D
    n_min = summary.n.loc[methods].min(axis=1) if summary.metrics else pd.Series(summary.n_total, index=methods)
    handles, labels = [], []
    for method in methods:
        k = int(n_min[method])
        handles.append(Line2D([], [], color=colours[method], lw=1.5, marker='o' if 'o' in line_style else None,
                              ms=3))
        incomplete = f' ({k}/{summary.n_total} pairs)' if k < summary.n_total else ''
        labels.append(short_name(summary.label(method)) + incomplete)
    ncol = min(len(methods), LEGEND_COLUMNS)
    # Matplotlib fills a legend column by column; this order makes it read row by row, as the methods are listed.
    order = [i for c in range(ncol) for i in range(c, len(methods), ncol)]
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    strip.legend(handles, labels, loc='center', ncol=ncol, fontsize=8,
                 frameon=False, title=_note(summary, len(methods), left_out) if left_out else None,
                 title_fontsize=8, handlelength=2.0, columnspacing=1.5, borderaxespad=0)


def save_figure(fig, folder: Path, stem: str, dpi: int = 150) -> dict[str, Path]:
    """Writes `<stem>.png` and `<stem>.pdf` and closes the figure; returns {format: path}."""
    plt = _plt()
    folder.mkdir(parents=True, exist_ok=True)
    paths = {'png': folder / f'{stem}.png', 'pdf': folder / f'{stem}.pdf'}
    fig.savefig(paths['png'], dpi=dpi)
    fig.set_layout_engine('none')  # keep the layout the first save computed: laying out again costs as much
    fig.savefig(paths['pdf'])
    plt.close(fig)
    return paths


def _panel_grid(n: int, width: float, height: float, ncols: int = 3, legend_height: float = 0.0):
    """A figure of `n` panels, `ncols` a row; with `legend_height` (inches), a strip above them for one legend.

    Returns (figure, panels, legend strip or None). The strip is an axes of its own because constrained layout
    places a figure legend 'outside upper center' on top of the suptitle.
    """
    plt = _plt()
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = plt.figure(figsize=(width * ncols, height * nrows + legend_height), layout='constrained')
    top = 1 if legend_height else 0
    grid = fig.add_gridspec(nrows + top, ncols, height_ratios=([legend_height] if top else []) + [height] * nrows)
    strip = None
    if top:
        strip = fig.add_subplot(grid[0, :])
        strip.axis('off')
    axes = [fig.add_subplot(grid[top + i // ncols, i % ncols]) for i in range(n)]
    return fig, axes, strip


def per_pair_figure(summary: GroupSummary, colours: dict[str, tuple], sort: bool = False,
                    max_lines: int | None = None):
    """Figure 6: one panel per metric, the pairs on x, one line per method, one legend above the panels.

    With `sort`, each method's values are sorted from worst to best (by the metric's direction), which shows the
    spread and the share of pairs on which one method beats another regardless of which pair it is. With
    `max_lines`, at most that many methods are drawn (see `drawn_methods`); the figure names the others.
    """
    _plt()
    from matplotlib.ticker import MaxNLocator
    metrics = summary.metrics
    methods, left_out = drawn_methods(summary, max_lines) if max_lines else (list(summary.methods), [])
    columns = min(len(methods), LEGEND_COLUMNS)
    lines = -(-len(methods) // columns) + (_note_lines(left_out) if left_out else 0) if methods else 0
    fig, axes, strip = _panel_grid(max(1, len(metrics)), 5.2, 3.2, legend_height=0.2 * lines + 0.1 if lines else 0)
    pairs = list(summary.values[metrics[0].name].index) if metrics else []
    n_pairs = len(pairs)
    for ax, info in zip(axes, metrics):
        values = summary.values[info.name]
        for method in methods:
            col = values[method]
            n = int(col.notna().sum())
            if n == 0:
                continue
            if sort:
                ordered = np.sort(col.dropna().to_numpy())
                if info.higher_is_better is False:
                    ordered = ordered[::-1]
                ax.plot(np.arange(1, n + 1), ordered, '-', color=colours[method], lw=1.3, label=method)
            else:
                ax.plot(np.arange(1, n_pairs + 1), col.to_numpy(), '-o', color=colours[method], lw=1.1, ms=2.5,
                        label=method)
        ax.set_title(f'{info.label} {info.arrow}', fontsize=10)
        if sort:
            direction = 'worst → best' if info.higher_is_better is not None else 'ascending'
            ax.set_xlabel(f'pairs sorted by value ({direction})', fontsize=8)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        else:
            ax.set_xlabel('pair', fontsize=8)
            step = 1 if n_pairs <= 25 else 5
            ticks = np.arange(1, n_pairs + 1, step)
            ax.set_xticks(ticks, [pairs[i - 1] for i in ticks], fontsize=7,
                          rotation=90 if any(len(str(p)) > 3 for p in pairs) else 0)
        ax.tick_params(axis='y', labelsize=7)
        ax.grid(alpha=0.3, lw=0.5)
    kind = 'sorted values per method' if sort else 'per pair'
    fig.suptitle(f'{summary.dataset}, convention {summary.convention}: {kind}', fontsize=11)
    if strip is not None:
        _legend(strip, summary, methods, colours, left_out, '-' if sort else '-o')
    if not metrics:
        axes[0].text(0.5, 0.5, 'no scores', ha='center', va='center')
    return fig


def distribution_figure(summary: GroupSummary, colours: dict[str, tuple], kind: str = 'box'):
    """One panel per metric: the distribution over pairs of each method's values (box or violin plus points)."""
    import seaborn as sns
    metrics = summary.metrics
    width = max(4.0, 0.55 * len(summary.methods) + 1.5)
    # Fewer panels a row for many methods: a page shows the figure FIGURE_WIDTH inches wide at most without
    # shrinking it, and three 7.5-inch panels (11 methods) would print the method names at 40% of their size.
    ncols = max(1, min(3, int(FIGURE_WIDTH // width)))
    fig, axes, _ = _panel_grid(max(1, len(metrics)), width, 3.6, ncols)
    names = {m: short_name(summary.label(m)) for m in summary.methods}
    for ax, info in zip(axes, metrics):
        long = summary.values[info.name].melt(var_name='method', value_name='value').dropna()
        long['method'] = long['method'].map(names)
        order = [names[m] for m in summary.methods if names[m] in set(long['method'])]
        palette = {names[m]: colours[m] for m in summary.methods}
        if long.empty:
            ax.text(0.5, 0.5, 'no values', ha='center', va='center', transform=ax.transAxes)
        elif kind == 'violin':
            sns.violinplot(data=long, x='method', y='value', hue='method', order=order, hue_order=order,
                           palette=palette, legend=False, ax=ax, cut=0, inner='quart', linewidth=0.8)
        else:
            sns.boxplot(data=long, x='method', y='value', hue='method', order=order, hue_order=order,
                        palette=palette, legend=False, ax=ax, showfliers=False, linewidth=0.8)
            sns.stripplot(data=long, x='method', y='value', order=order, color='k', size=2, alpha=0.45,
                          jitter=0.2, ax=ax)
        ax.set_title(f'{info.label} {info.arrow}', fontsize=10)
        ax.set_xlabel('')
        ax.set_ylabel('')
        ax.tick_params(axis='x', labelrotation=45, labelsize=7)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment('right')
        ax.tick_params(axis='y', labelsize=7)
        ax.grid(axis='y', alpha=0.3, lw=0.5)
    fig.suptitle(f'{summary.dataset}, convention {summary.convention}: distribution over pairs', fontsize=11)
    return fig


def timing_figure(summary: pd.DataFrame, colours: dict[str, tuple], names: dict[str, str] | None = None):
    """Median milliseconds per image with the inter-quartile range, one bar per (data set, method, device).

    Bars are labelled in plain units ('1.91 s', '45.7 ms'), and so is the axis, also on a log scale.
    """
    plt = _plt()
    from matplotlib.ticker import FuncFormatter, NullFormatter
    names = names or {}
    n = len(summary)
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.38 * n), layout='constrained')
    several = summary['dataset'].nunique() > 1
    labels = [f'{short_name(names.get(r.method, r.method))}' + (f' [{r.dataset}]' if several else '') +
              f'\n{r.device_label}' for r in summary.itertuples()]
    y = np.arange(n)[::-1]
    err = np.vstack([summary['median_ms'] - summary['q1_ms'], summary['q3_ms'] - summary['median_ms']])
    ax.barh(y, summary['median_ms'], xerr=err, color=[colours.get(m, 'grey') for m in summary['method']],
            capsize=3, height=0.6, error_kw={'lw': 0.8})
    for yi, value, q3 in zip(y, summary['median_ms'], summary['q3_ms']):
        ax.text(max(value, q3), yi, f'  {duration(value)}', va='center', ha='left', fontsize=7)
    ax.set_yticks(y, labels, fontsize=7)
    positive = summary['median_ms'][summary['median_ms'] > 0]
    if len(positive) and positive.max() / positive.min() > 30:
        ax.set_xscale('log')
        ax.xaxis.set_minor_formatter(NullFormatter())  # log axes label minor ticks as 2x10^2 otherwise
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: tick(value)))
    ax.tick_params(axis='x', labelsize=7)
    ax.set_xlabel('milliseconds per image (median, bars: inter-quartile range)', fontsize=8)
    ax.set_title('Fusion time per image (batch size 1)', fontsize=10)
    ax.grid(axis='x', alpha=0.3, lw=0.5)
    ax.margins(x=0.15)
    return fig
