"""Paired statistics over the same pairs: Wilcoxon signed-rank p-values, bootstrap intervals, Holm's correction.

A lead is measured as `reference - other` oriented by the metric's direction, so a positive difference always means
the reference method is better on that pair. Only pairs where both methods have a value are used.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ['wilcoxon_p', 'bootstrap_ci', 'holm', 'compare_to']

BOOTSTRAP_SEED = 20240521  # fixed: a report rebuilt from the same results shows the same intervals


def wilcoxon_p(differences: np.ndarray) -> float:
    """Two-sided p-value of the Wilcoxon signed-rank test that the paired differences are centred on 0.

    Zero differences are dropped (Wilcoxon's original treatment); scipy uses the exact null distribution for small
    samples without ties. NaN when fewer than one non-zero difference remains.

    Example:
        >>> round(wilcoxon_p(np.array([1., 2., 3., 4., 5., 6.])), 6)   # all 6 positive: 2 / 2**6
        0.03125
    """
    from scipy import stats as sps  # imported here: scipy.stats takes seconds to import, tables without tests don't
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d) & (d != 0)]
    if d.size == 0:
        return float('nan')
    with warnings.catch_warnings():  # small samples: scipy warns that the normal approximation may be poor
        warnings.simplefilter('ignore')
        return float(sps.wilcoxon(d, zero_method='wilcox', alternative='two-sided').pvalue)


def bootstrap_ci(differences: np.ndarray, level: float = 0.95, resamples: int = 10_000,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of `differences` (pairs resampled with replacement).

    Example:
        >>> bootstrap_ci(np.array([2., 2., 2.]))
        (2.0, 2.0)
    """
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float('nan'), float('nan')
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def holm(p_values: pd.Series) -> pd.Series:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count as a test).

    Example:
        >>> holm(pd.Series([0.01, 0.04, 0.03])).round(4).tolist()
        [0.03, 0.06, 0.06]
    """
    p = p_values.dropna().sort_values()
    m = len(p)
    adjusted = (p * (m - np.arange(m))).cummax().clip(upper=1.0)
    return adjusted.reindex(p_values.index)


def compare_to(values: pd.DataFrame, reference: str, higher_is_better: bool, level: float = 0.95,
               resamples: int = 10_000) -> pd.DataFrame:
    """The reference method's lead over every other method, pair by pair.

    Args:
        values: pairs x methods (NaN where missing).
        reference: column of `values` the others are compared with.
        higher_is_better: the metric's direction.
        level: confidence level of the bootstrap interval.

    Returns:
        One row per other method: n (pairs both have), mean_lead (mean of the oriented difference), ci_low, ci_high,
        p (two-sided Wilcoxon), p_holm (Holm over these comparisons), wins (pairs where the reference is better).
    """
    sign = 1.0 if higher_is_better else -1.0
    rows = {}
    for other in values.columns:
        if other == reference:
            continue
        both = values[[reference, other]].dropna()
        d = sign * (both[reference] - both[other]).to_numpy()
        low, high = bootstrap_ci(d, level, resamples)
        rows[other] = {'n': int(d.size), 'mean_lead': float(d.mean()) if d.size else float('nan'),
                       'ci_low': low, 'ci_high': high, 'p': wilcoxon_p(d), 'wins': int((d > 0).sum())}
    out = pd.DataFrame.from_dict(rows, orient='index',
                                 columns=['n', 'mean_lead', 'ci_low', 'ci_high', 'p', 'wins'])
    out['p_holm'] = holm(out['p']) if len(out) else pd.Series(dtype=float)
    return out
