"""Results, rank and ablation tables: direction handling, markers, missing values and the edge cases."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reports import ReportOptions
from reports.data import load_run
from reports.render import BEST, SECOND
from reports.tables import (INCOMPLETE, NOT_SIGNIFICANT, ablation_groups, ablation_table, emphasis, rank_table,
                            results_table, stats_table, summarise)

NAN = float('nan')


def cells_of(table, row_label):
    return dict(zip(table.columns, next(cells for label, cells in table.rows if label == row_label)))


# -- bold / underline by direction -----------------------------------------------------------------------------

@pytest.mark.parametrize('higher, best, second', [(True, 'b', 'c'), (False, 'a', 'c')])
def test_emphasis_follows_direction(higher, best, second):
    means = pd.Series({'a': 1.0, 'b': 3.0, 'c': 2.0})
    emph = emphasis(means, higher)
    assert emph[best] == BEST and emph[second] == SECOND
    assert (emph == 0).sum() == 1


def test_emphasis_ties_as_printed_and_unknown_direction():
    # 0.44661 and 0.44664 both print as 0.4466: they share first place, and 0.40 is second.
    means = pd.Series({'a': 0.44661, 'b': 0.44664, 'c': 0.40, 'd': 0.30})
    assert emphasis(means, True, 4).tolist() == [BEST, BEST, SECOND, 0]
    assert emphasis(means, True, 6).tolist() == [SECOND, BEST, 0, 0]
    assert emphasis(means, None).tolist() == [0, 0, 0, 0]
    assert emphasis(pd.Series({'a': 1.0}), True).tolist() == [0]             # one method: nothing to compare
    assert emphasis(pd.Series({'a': 1.0, 'b': 2.0}), True).tolist() == [0, BEST]  # no second with two
    assert emphasis(pd.Series({'a': NAN, 'b': 2.0, 'c': 1.0}), True).tolist() == [0, BEST, 0]


def test_results_table_marks_best_and_second_per_metric_direction(make_run):
    run = make_run({'a': {'en': [6.0, 6.2], 'mse': [10.0, 12.0]},
                    'b': {'en': [7.0, 7.2], 'mse': [20.0, 22.0]},
                    'c': {'en': [6.5, 6.7], 'mse': [15.0, 17.0]}})
    summary = summarise(load_run(run), 'mini', 'default')
    table = results_table(summary)
    assert table.columns == ['EN ↑', 'MSE ↓', 'pairs']
    a, b, c = (cells_of(table, m) for m in 'abc')
    assert (b['EN ↑'].emphasis, c['EN ↑'].emphasis, a['EN ↑'].emphasis) == (BEST, SECOND, 0)
    assert (a['MSE ↓'].emphasis, c['MSE ↓'].emphasis, b['MSE ↓'].emphasis) == (BEST, SECOND, 0)
    assert a['EN ↑'].text == '6.1000' and a['pairs'].text == '2'
    assert any('EN (higher is better): definition of EN' in f for f in table.footnotes)
    assert any('convention default: Textbook definitions' in f for f in table.footnotes)


def test_std_on_request_and_transpose(make_run):
    summary = summarise(load_run(make_run({'a': {'en': [1.0, 3.0]}, 'b': {'en': [2.0, 2.0]}})), 'mini', 'default')
    plain = results_table(summary)
    with_std = results_table(summary, ReportOptions(std=True))
    assert cells_of(plain, 'a')['EN ↑'].text == '2.0000'
    assert cells_of(with_std, 'a')['EN ↑'].text == f'2.0000 ± {math.sqrt(2):.4f}'
    flipped = results_table(summary, ReportOptions(transpose=True))
    assert flipped.columns == ['a', 'b'] and [label for label, _ in flipped.rows] == ['EN ↑', 'pairs']


# -- missing values, unknown metrics, edge cases ---------------------------------------------------------------

def test_missing_values_are_marked_not_silently_averaged(make_run):
    run = make_run({'good': {'en': [6.0, 6.0, 6.0, 6.0]}, 'flaky': {'en': [9.0, NAN, 9.0, NAN]}},
                   errors=[('mini', '02', 'flaky', 'fuse', 'RuntimeError', 'boom')])
    summary = summarise(load_run(run), 'mini', 'default')
    table = results_table(summary)
    flaky = cells_of(table, 'flaky')
    assert flaky['EN ↑'].text == '9.0000' and INCOMPLETE in flaky['EN ↑'].marks
    assert flaky['pairs'].text == '2/4' and cells_of(table, 'good')['pairs'].text == '4'
    assert any(f.startswith(INCOMPLETE) and 'fewer pairs' in f for f in table.footnotes)
    assert table.frame.set_index('method').loc['flaky', 'en_n'] == 2


def test_unknown_metric_renders_unranked(make_run):
    run = make_run({'a': {'en': [1.0, 2.0], 'mystery': [5.0, 6.0]}, 'b': {'en': [2.0, 3.0], 'mystery': [1.0, 1.0]}})
    summary = summarise(load_run(run), 'mini', 'default')
    table = results_table(summary)
    assert 'mystery ?' in table.columns
    assert all(cells_of(table, m)['mystery ?'].emphasis == 0 for m in 'ab')
    assert cells_of(table, 'a')['mystery ?'].text == '5.5000'
    assert any('mystery: not described in the run' in f for f in table.footnotes)
    assert rank_table(summary).columns == ['EN ↑', 'mean rank']
    # a direction given by the user makes it rankable
    summary = summarise(load_run(run, {'mystery': False}), 'mini', 'default')
    assert cells_of(results_table(summary), 'b')['mystery ↓'].emphasis == BEST


def test_single_method_and_single_pair(make_run):
    summary = summarise(load_run(make_run({'only': {'en': [6.5]}})), 'mini', 'default')
    table = results_table(summary, ReportOptions(std=True))
    cell = cells_of(table, 'only')['EN ↑']
    assert cell.text == '6.5000 ± —' and cell.emphasis == 0 and cell.marks == ''
    assert summary.versus_best == {}
    assert rank_table(summary).rows[0][1][-1].text == '1.00'


def test_long_names_and_many_pairs(make_run):
    long_name = 'a-very-long-method-name-that-goes-on-and-on-' * 3
    rng = np.random.default_rng(1)
    run = make_run({long_name: {'en': list(rng.normal(7, 0.1, 45))}, 'b': {'en': list(rng.normal(6, 0.1, 45))}})
    summary = summarise(load_run(run), 'mini', 'default')
    assert summary.n_total == 45
    table = results_table(summary)
    assert cells_of(table, long_name)['EN ↑'].emphasis == BEST  # whole name kept in tables
    assert cells_of(table, 'b')['EN ↑'].marks == ''              # 45 pairs: the lead is significant


def test_significance_marker_only_where_the_lead_is_not_significant(make_run):
    rng = np.random.default_rng(0)
    base = rng.normal(5, 1, 30)
    run = make_run({'best': {'en': list(base + 1.0)},            # ahead on every pair
                    'close': {'en': list(base + 1.0 - rng.normal(0, 0.05, 30) + 0.001)},   # noise around best
                    'far': {'en': list(base)}})
    summary = summarise(load_run(run), 'mini', 'default')
    table = results_table(summary)
    assert summary.best['en'] in ('best', 'close')
    other = 'close' if summary.best['en'] == 'best' else 'best'
    assert NOT_SIGNIFICANT in cells_of(table, other)['EN ↑'].marks
    assert NOT_SIGNIFICANT not in cells_of(table, 'far')['EN ↑'].marks
    stats = stats_table(summary)
    far = stats.frame.set_index('method').loc['far']
    assert far['n'] == 30 and far['wins'] == 30 and far['significant']
    assert far['mean_lead'] == pytest.approx(1.0, abs=0.02)


def test_rank_table(make_run):
    run = make_run({'a': {'en': [1.0], 'mse': [1.0], 'qabf': [0.1]},
                    'b': {'en': [2.0], 'mse': [2.0], 'qabf': [0.3]},
                    'c': {'en': [3.0], 'mse': [3.0], 'qabf': [0.2]}})
    table = rank_table(summarise(load_run(run), 'mini', 'default'))
    # a: 3, 1, 3 -> 2.33; b: 2, 2, 1 -> 1.67; c: 1, 3, 2 -> 2.00
    assert [label for label, _ in table.rows] == ['b', 'c', 'a']
    assert [c.text for c in table.rows[0][1]] == ['2', '2', '1', '1.67']
    assert table.rows[0][1][-1].emphasis == BEST


# -- ablation ----------------------------------------------------------------------------------------------------

def test_ablation_groups():
    names = ['densefuse', 'dfecf-no-de', 'dfecf-no-aux', 'dfecf', 'dfecf-large', 'other-wo-x', 'other']
    assert ablation_groups(names) == {'dfecf': ['dfecf-no-de', 'dfecf-no-aux'], 'other': ['other-wo-x']}
    assert ablation_groups(names, {'dfecf': []}) == {'dfecf': ['dfecf-no-de', 'dfecf-no-aux', 'dfecf-large']}
    assert ablation_groups(names, {'dfecf': ['dfecf-large', 'absent']}) == {'dfecf': ['dfecf-large']}
    assert ablation_groups(['a', 'b']) == {}


def test_ablation_table_change_relative_to_full_model(make_run):
    run = make_run({'dfecf': {'en': [6.0, 6.0], 'mse': [10.0, 10.0]},
                    'dfecf-no-de': {'en': [5.4, 5.4], 'mse': [12.0, 12.0]},
                    'dfecf-no-aux': {'en': [6.3, 6.3], 'mse': [9.0, 9.0]},
                    'u2fusion': {'en': [7.0, 7.0], 'mse': [1.0, 1.0]}})
    summary = summarise(load_run(run), 'mini', 'default')
    table = ablation_table(summary, 'dfecf', ['dfecf-no-de', 'dfecf-no-aux'])
    assert [label for label, _ in table.rows] == ['dfecf-no-de', 'dfecf-no-aux', 'dfecf (full)']
    no_de, no_aux, full = (cells_of(table, label) for label in ('dfecf-no-de', 'dfecf-no-aux', 'dfecf (full)'))
    assert no_de['EN ↑'].note == '(-10.0%)' and no_de['EN ↑'].kind == 'worse'
    assert no_aux['EN ↑'].note == '(+5.0%)' and no_aux['EN ↑'].kind == 'better' and no_aux['EN ↑'].emphasis == BEST
    assert no_de['MSE ↓'].note == '(+20.0%)' and no_de['MSE ↓'].kind == 'worse'
    assert no_aux['MSE ↓'].emphasis == BEST and full['MSE ↓'].emphasis == SECOND and full['EN ↑'].note == ''
    frame = table.frame.set_index('method')
    assert frame.loc['dfecf-no-de', 'en_change_pct'] == pytest.approx(-10.0)
