"""The first report: mean table per data set and convention, best per column by the metric's direction."""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

from reports import write_report
from reports.tables import best_per_column, mean_table, timing_table


def _run_folder(tmp_path):
    rows = []
    for method, (en, mse) in {'a': (6.0, 10.0), 'b': (7.0, 20.0)}.items():
        for pair, delta in (('01', -0.5), ('02', 0.5)):
            rows += [('tno42', pair, method, 'en', 'default', en + delta),
                     ('tno42', pair, method, 'mse', 'default', mse + delta)]
    pd.DataFrame(rows, columns=['dataset', 'pair', 'method', 'metric', 'convention', 'value']).to_csv(
        tmp_path / 'scores.csv', index=False)
    pd.DataFrame([('tno42', '01', 'a', 0.1, 'cpu', 4, 4), ('tno42', '02', 'a', 0.3, 'cpu', 4, 4)],
                 columns=['dataset', 'pair', 'method', 'seconds', 'device', 'height', 'width']).to_csv(
        tmp_path / 'timing.csv', index=False)
    (tmp_path / 'errors.csv').write_text('dataset,pair,method,stage,error,message\n')
    meta = {'metrics': {'default/en': {'metric': 'en', 'label': 'EN', 'higher_is_better': True,
                                       'convention': 'default'},
                        'default/mse': {'metric': 'mse', 'label': 'MSE', 'higher_is_better': False,
                                        'convention': 'default'}}}
    (tmp_path / 'run.json').write_text(json.dumps(meta))
    return tmp_path


def test_mean_and_best_follow_direction(tmp_path):
    scores = pd.read_csv(_run_folder(tmp_path) / 'scores.csv', dtype={'pair': str})
    table = mean_table(scores, 'tno42', 'default')
    assert table.loc['a', 'en'] == 6.0 and table.loc['b', 'mse'] == 20.0
    assert best_per_column(table, {'en': True, 'mse': False}) == {'en': 'b', 'mse': 'a'}


def test_timing_median_and_iqr(tmp_path):
    timing = pd.read_csv(_run_folder(tmp_path) / 'timing.csv')
    row = timing_table(timing).loc[('tno42', 'a')]
    assert row['pairs'] == 2 and abs(row['median_s'] - 0.2) < 1e-12 and abs(row['iqr_s'] - 0.1) < 1e-12


def test_write_report(tmp_path):
    page = write_report(_run_folder(tmp_path))
    html = page.read_text()
    assert 'tno42 (convention default)' in html and 'EN ↑' in html and 'MSE ↓' in html
    assert '<td class="best">7.0000</td>' in html and '<td class="best">10.0000</td>' in html
    assert (tmp_path / 'report' / 'means.csv').is_file()


def test_reports_do_not_import_torch():
    code = 'import sys, reports; sys.exit(int("torch" in sys.modules))'
    assert subprocess.run([sys.executable, '-c', code]).returncode == 0
