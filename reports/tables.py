"""Tables from the long results CSVs: per-method means (Table 3 style) and timing medians."""
from __future__ import annotations

import pandas as pd


def mean_table(scores: pd.DataFrame, dataset: str, convention: str, metric_order: list[str] | None = None
               ) -> pd.DataFrame:
    """Methods x metrics table of per-pair means for one data set and convention.

    Args:
        scores: rows of scores.csv.
        dataset, convention: which rows to use.
        metric_order: column order (default: sorted).

    Returns:
        DataFrame indexed by method with one column per metric.

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


def timing_table(timing: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, method): number of pairs, median and inter-quartile range of seconds per pair."""
    grouped = timing.groupby(['dataset', 'method'])['seconds']
    return pd.DataFrame({'pairs': grouped.size(), 'median_s': grouped.median(),
                         'iqr_s': grouped.quantile(0.75) - grouped.quantile(0.25),
                         'device': timing.groupby(['dataset', 'method'])['device'].first()})


def best_per_column(table: pd.DataFrame, higher_is_better: dict[str, bool]) -> dict[str, str]:
    """{metric: best method}, using each metric's direction (unknown direction: higher is better)."""
    best = {}
    for col in table.columns:
        values = table[col].dropna()
        if len(values):
            best[col] = values.idxmax() if higher_is_better.get(col, True) else values.idxmin()
    return best
