"""Charts of a run (matplotlib/seaborn, written as PNG and PDF): per-pair lines (Figure 6), sorted values,
distributions and fusion time.

Each method keeps one colour in every figure; long method names are shortened in legends and axes (the tables keep
them whole).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reports.tables import GroupSummary, column_decimals

__all__ = ['method_colours', 'short_name', 'save_figure', 'per_pair_figure', 'distribution_figure', 'timing_figure']

MAX_NAME = 24


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
    """A fixed colour per method, in order (tab10, then tab20 for more than ten methods)."""
    plt = _plt()
    cmap = plt.get_cmap('tab10' if len(methods) <= 10 else 'tab20')
    return {m: cmap(i % cmap.N) for i, m in enumerate(methods)}


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


def _panel_grid(n: int, width: float, height: float, ncols: int = 3):
    plt = _plt()
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                             layout='constrained')
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def per_pair_figure(summary: GroupSummary, colours: dict[str, tuple], sort: bool = False):
    """Figure 6: one panel per metric, the pairs on x, one line per method; legends give each method's mean.

    With `sort`, each method's values are sorted from worst to best (by the metric's direction), which shows the
    spread and the share of pairs on which one method beats another regardless of which pair it is.
    """
    _plt()
    from matplotlib.ticker import MaxNLocator
    metrics = summary.metrics
    rows_of_legend = -(-len(summary.methods) // 3) if len(summary.methods) > 4 else 0
    fig, axes = _panel_grid(max(1, len(metrics)), 5.2, 3.4 + 0.16 * rows_of_legend)
    pairs = list(summary.values[metrics[0].name].index) if metrics else []
    n_pairs = len(pairs)
    for ax, info in zip(axes, metrics):
        values = summary.values[info.name]
        d = column_decimals(summary.mean[info.name])
        for method in summary.methods:
            col = values[method]
            n = int(col.notna().sum())
            if n == 0:
                continue
            label = f'{short_name(method)} ({summary.mean.loc[method, info.name]:.{d}f}'
            label += f', {n}/{summary.n_total} pairs)' if n < summary.n_total else ')'
            if sort:
                ordered = np.sort(col.dropna().to_numpy())
                if info.higher_is_better is False:
                    ordered = ordered[::-1]
                ax.plot(np.arange(1, n + 1), ordered, '-', color=colours[method], lw=1.3, label=label)
            else:
                ax.plot(np.arange(1, n_pairs + 1), col.to_numpy(), '-o', color=colours[method], lw=1.1, ms=2.5,
                        label=label)
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
        if len(summary.methods) <= 4:
            ax.legend(fontsize=6, framealpha=0.75, loc='best', title='mean', title_fontsize=6)
        else:  # many lines: the legend goes under the panel instead of over the data
            ax.legend(fontsize=6, ncol=3, loc='upper center', bbox_to_anchor=(0.5, -0.2), frameon=False,
                      title='mean', title_fontsize=6, handlelength=1.5, columnspacing=1.0)
    kind = 'sorted values per method' if sort else 'per pair'
    fig.suptitle(f'{summary.dataset}, convention {summary.convention}: {kind}', fontsize=11)
    if not metrics:
        axes[0].text(0.5, 0.5, 'no scores', ha='center', va='center')
    return fig


def distribution_figure(summary: GroupSummary, colours: dict[str, tuple], kind: str = 'box'):
    """One panel per metric: the distribution over pairs of each method's values (box or violin plus points)."""
    import seaborn as sns
    metrics = summary.metrics
    width = max(4.0, 0.55 * len(summary.methods) + 1.5)
    fig, axes = _panel_grid(max(1, len(metrics)), width, 3.6)
    names = {m: short_name(m, 18) for m in summary.methods}
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


def timing_figure(summary: pd.DataFrame, colours: dict[str, tuple]):
    """Median milliseconds per image with the inter-quartile range, one bar per (data set, method, device)."""
    plt = _plt()
    n = len(summary)
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.38 * n), layout='constrained')
    several = summary['dataset'].nunique() > 1
    labels = [f'{short_name(r.method)}' + (f' [{r.dataset}]' if several else '') + f'\n{r.device_label}'
              for r in summary.itertuples()]
    y = np.arange(n)[::-1]
    err = np.vstack([summary['median_ms'] - summary['q1_ms'], summary['q3_ms'] - summary['median_ms']])
    ax.barh(y, summary['median_ms'], xerr=err, color=[colours.get(m, 'grey') for m in summary['method']],
            capsize=3, height=0.6, error_kw={'lw': 0.8})
    for yi, value, q3 in zip(y, summary['median_ms'], summary['q3_ms']):
        ax.text(max(value, q3), yi, f'  {value:.3g} ms', va='center', ha='left', fontsize=7)
    ax.set_yticks(y, labels, fontsize=7)
    positive = summary['median_ms'][summary['median_ms'] > 0]
    if len(positive) and positive.max() / positive.min() > 30:
        ax.set_xscale('log')
    ax.set_xlabel('milliseconds per image (median, bars: inter-quartile range)', fontsize=8)
    ax.set_title('Fusion time per image (batch size 1)', fontsize=10)
    ax.grid(axis='x', alpha=0.3, lw=0.5)
    ax.margins(x=0.15)
    return fig
