"""Paired statistics on constructed examples whose answers are known in closed form."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reports.stats import bootstrap_ci, compare_to, holm, wilcoxon_p


def test_wilcoxon_exact_p_values():
    # All n differences positive: the exact two-sided p is 2 / 2**n.
    assert wilcoxon_p(np.arange(1.0, 7.0)) == pytest.approx(2 / 2 ** 6)
    assert wilcoxon_p(-np.arange(1.0, 9.0)) == pytest.approx(2 / 2 ** 8)
    # Ranks 1..6 with only rank 6 negative: T- = 6. Subsets of {1..6} with sum <= 6: {}, 6 singletons, {1,2}, {1,3},
    # {1,4}, {1,5}, {2,3}, {2,4}, {1,2,3} -> 14 of 64, so p = 2 * 14 / 64.
    assert wilcoxon_p(np.array([1., 2., 3., 4., 5., -6.])) == pytest.approx(28 / 64)
    # Zero differences are dropped (Wilcoxon's treatment); nothing left -> NaN.
    assert wilcoxon_p(np.array([0., 1., 2., 3., 4., 5., 6.])) == pytest.approx(2 / 2 ** 6)
    assert math.isnan(wilcoxon_p(np.zeros(5))) and math.isnan(wilcoxon_p(np.array([])))


def test_bootstrap_interval():
    assert bootstrap_ci(np.full(10, 0.25)) == (0.25, 0.25)
    # +-1 differences, n = 400: the mean's standard error is 1/20, so the 95% interval is about +-1.96/20.
    d = np.tile([1.0, -1.0], 200)
    low, high = bootstrap_ci(d, 0.95, resamples=4000)
    assert low == pytest.approx(-1.96 / 20, abs=0.012) and high == pytest.approx(1.96 / 20, abs=0.012)
    assert bootstrap_ci(d, resamples=500) == bootstrap_ci(d, resamples=500)  # seeded: a rebuilt report agrees


def test_holm():
    p = pd.Series({'a': 0.01, 'b': 0.04, 'c': 0.03, 'd': float('nan')})
    adjusted = holm(p)
    assert adjusted[['a', 'b', 'c']].tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(adjusted['d'])


@pytest.mark.parametrize('higher', [True, False])
def test_compare_to_orients_the_lead_by_direction(higher):
    good = np.arange(1.0, 9.0)
    values = pd.DataFrame({'ref': good + (1.0 if higher else -1.0), 'other': good, 'gappy': good})
    values.loc[[0, 1], 'gappy'] = np.nan
    out = compare_to(values, 'ref', higher)
    assert list(out.index) == ['other', 'gappy']
    assert out.loc['other', 'mean_lead'] == pytest.approx(1.0) and out.loc['other', 'wins'] == 8
    assert out.loc['other', 'p'] == pytest.approx(2 / 2 ** 8)
    assert out.loc['gappy', 'n'] == 6 and out.loc['gappy', 'p'] == pytest.approx(2 / 2 ** 6)  # only shared pairs
    assert out.loc['other', 'p_holm'] == pytest.approx(2 * 2 / 2 ** 8)
    assert out.loc['gappy', 'p_holm'] == pytest.approx(2 / 2 ** 6)
    assert out.loc['other', 'ci_low'] == out.loc['other', 'ci_high'] == pytest.approx(1.0)
