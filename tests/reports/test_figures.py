"""What the figures show (legends, order, chosen pairs and boxes), checked on the matplotlib objects."""
from __future__ import annotations

import numpy as np
import pytest

from reports.data import load_run
from reports.figures import distribution_figure, method_colours, per_pair_figure, short_name
from reports.qualitative import choose_pairs, zoom_box
from reports.tables import summarise

NAN = float('nan')


@pytest.fixture
def summary(make_run):
    run = make_run({'a': {'en': [6.0, 6.0, 6.0, 6.0], 'mse': [1.0, 2.0, 3.0, 4.0]},
                    'b': {'en': [6.1, 9.0, 6.1, NAN], 'mse': [1.5, 9.0, 2.5, 3.5]},
                    'c' * 40: {'en': [5.9, 3.0, 5.9, 5.9], 'mse': [1.2, 0.0, 3.2, 4.2]}})
    return summarise(load_run(run), 'mini', 'default')


def test_per_pair_legend_names_methods_and_missing_pairs(summary):
    import matplotlib.pyplot as plt
    fig = per_pair_figure(summary, method_colours(summary.methods))
    en = next(ax for ax in fig.axes if ax.get_title())
    assert en.get_title() == 'EN ↑' and en.get_legend() is None  # one legend above the panels, none in them
    [legend] = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ['a', 'b (3/4 pairs)', short_name('c' * 40)]
    b_line = en.get_lines()[1]
    assert np.isnan(b_line.get_ydata()[3]) and list(b_line.get_xdata()) == [1, 2, 3, 4]  # a gap, not a shift
    plt.close(fig)


def test_sorted_variant_goes_from_worst_to_best(summary):
    import matplotlib.pyplot as plt
    fig = per_pair_figure(summary, method_colours(summary.methods), sort=True)
    en, mse = [ax for ax in fig.axes if ax.get_title()][:2]
    assert list(en.get_lines()[1].get_ydata()) == [6.1, 6.1, 9.0]          # higher is better: ascending
    assert list(mse.get_lines()[0].get_ydata()) == [4.0, 3.0, 2.0, 1.0]    # lower is better: descending
    plt.close(fig)
    fig = distribution_figure(summary, method_colours(summary.methods), 'violin')
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ['a', 'b', short_name('c' * 40)]
    plt.close(fig)


def test_pairs_where_methods_disagree_most(summary):
    assert choose_pairs(summary, 1) == ['02']                 # b and c split far apart on pair 02
    assert choose_pairs(summary, 2)[0] == '02' and len(choose_pairs(summary, 2)) == 2
    assert choose_pairs(summary, 10) == ['01', '02', '03', '04']


def test_zoom_box_finds_where_details_differ():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (90, 120)).astype(float)
    other = base.copy()
    other[10:30, 80:100] = 128                                 # one method flattens this patch
    brighter = np.clip(base + 40, 0, 255)                      # another is only brighter everywhere
    x, y, w, h = zoom_box([base, other, brighter])
    assert x <= 90 / 120 <= x + w and y <= 20 / 90 <= y + h
    assert w * 120 == pytest.approx(h * 90)                    # square in pixels
