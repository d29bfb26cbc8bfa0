"""The whole report: files in every format, figures, the page's content, old run folders, no torch."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from bench.cli import main
from reports import ReportOptions, write_report
from tests.reports.conftest import FULL_METHODS, timing_rows

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def test_full_report_files(full_report):
    run_dir, info = full_report
    assert info['forbidden'] == []  # built without torch, the methods or the metrics
    out = run_dir / 'report'
    tables = {p.name for p in (out / 'tables').iterdir()}
    for key in ('mini__default__results', 'mini__default__ranks', 'mini__default__paired_stats',
                'mini__default__ablation_net', 'timing', 'errors'):
        assert {f'{key}.{ext}' for ext in ('csv', 'md', 'tex', 'html')} <= tables, key
    figures = {p.name for p in (out / 'figures').iterdir()}
    for stem in ('mini__default__per_pair', 'mini__default__sorted', 'mini__default__box', 'mini__qualitative',
                 'mini__ablation_net', 'timing'):
        assert {f'{stem}.png', f'{stem}.pdf'} <= figures, stem
        assert (out / 'figures' / f'{stem}.png').read_bytes()[:8] == PNG_MAGIC
        assert (out / 'figures' / f'{stem}.pdf').read_bytes()[:5] == b'%PDF-'
    means = pd.read_csv(out / 'means.csv')
    assert set(means['method']) == set(FULL_METHODS) and {'en', 'mse', 'odd'} <= set(means.columns)


def test_full_report_page(full_report):
    run_dir, _ = full_report
    html = (run_dir / 'report' / 'index.html').read_text()
    assert 'http://' not in html.replace('http://www.w3.org', '') and 'https://' not in html  # no network needed
    assert html.count('<table class="results"') == 6  # results, ranks, stats, ablation, timing, errors
    assert html.count('src="data:image/png;base64,') == 6
    assert 'odd ?' in html and 'direction unknown' in html                        # unknown metric renders
    assert '2/3' in html and '‡' in html                                           # the failed pair is shown
    assert 'bad &lt;value&gt;' in html and '<value>' not in html                   # messages escaped
    assert 'GPU cuda:0 (NVIDIA H200)' in html and 'CPU (Test CPU, 2 threads)' in html
    assert '5.5 GFLOPs @ 64×48' in html and '3.0' in html and '1.23 k' in html
    assert 'x' * 60 in html                                                        # long names kept in tables
    for href in re.findall(r'href="([^"#][^"]*)"', html):
        assert (run_dir / 'report' / href).resolve().is_file(), href               # every link resolves
    assert 'ab' * 32 in html and 'Textbook definitions.' in html                  # checksums, conventions


def test_linked_figures_and_options(make_run, tmp_path):
    run = make_run({'a': {'en': [1.0, 2.0]}, 'b': {'en': [2.0, 3.0]}})
    page = write_report(run, ReportOptions(figures=False, std=True, transpose=True))
    html = page.read_text()
    assert '<img' not in html and '± 0.7071' in html
    assert not (run / 'report' / 'figures').exists()
    md = (run / 'report' / 'tables' / 'mini__default__results.md').read_text()
    assert md.splitlines()[2] == '|  | a | b |'  # transposed: methods are columns


def test_single_method_single_pair_with_figures(make_run):
    run = make_run({'only': {'en': [6.5], 'mse': [3.0]}}, timing=timing_rows({'only': 'cpu'}, 1))
    html = write_report(run, ReportOptions(figures=True, distribution='violin')).read_text()
    assert html.count('<img') == 4  # per pair, sorted, violin, timing; no grid: the data set has no manifest
    assert "Qualitative figures skipped for mini: its manifest could not be loaded (Unknown dataset 'mini'" in \
        html.replace('&#39;', "'")
    assert '6.5000' in html and 'ranks' not in html  # one method: nothing to rank or test


def test_old_run_folder_renders(tmp_path):
    """A folder of the first version: 7-column timing.csv, run.json without conventions or data set roots."""
    run = tmp_path / 'old'
    run.mkdir()
    pd.DataFrame({'dataset': 'tno42', 'pair': ['01', '02'], 'method': 'a', 'metric': 'en', 'convention': 'default',
                  'value': [6.0, 7.0]}).to_csv(run / 'scores.csv', index=False)
    pd.DataFrame({'dataset': 'tno42', 'pair': ['01', '02'], 'method': 'a', 'seconds': [0.1, 0.3], 'device': 'cpu',
                  'height': 4, 'width': 4}).to_csv(run / 'timing.csv', index=False)
    (run / 'errors.csv').write_text('dataset,pair,method,stage,error,message\n')
    facts = {'metric': 'en', 'label': 'EN', 'higher_is_better': True}
    (run / 'run.json').write_text(json.dumps({'metrics': {'default/en': facts}}))
    html = write_report(run, ReportOptions(figures=False)).read_text()
    assert 'EN ↑' in html and '6.5000' in html
    timing = pd.read_csv(run / 'report' / 'tables' / 'timing.csv')
    row = timing.iloc[0]
    assert row['median_ms'] == pytest.approx(200) and row['iqr_ms'] == pytest.approx(100) and row['size'] == '4×4'
    assert pd.isna(row['flops']) and pd.isna(row['peak_memory_mb'])
    assert 'CPU (threads not recorded)' in html


def test_timing_table_marks_devices(make_run):
    run = make_run({'a': {'en': [1.0, 2.0, 3.0]}}, timing=timing_rows({'a': 'cpu', 'b': 'cuda:0'}))
    write_report(run, ReportOptions(figures=False))
    md = (run / 'report' / 'tables' / 'timing.md').read_text()
    assert '| a | CPU (Test CPU, 2 threads) | 3 | 20.00 | 10.00 | 50.0 |' in md
    assert '| b | GPU cuda:0 (NVIDIA H200) |' in md and '5.5 GFLOPs @ 64×48' in md


def test_report_cli(make_run, capsys):
    run = make_run({'a': {'en': [1.0, 2.0]}, 'b': {'en': [2.0, 3.0]}})
    assert main(['report', str(run), '--no-figures', '--std', '--direction', 'en=lower']) == 0
    assert capsys.readouterr().out.strip() == str(run / 'report' / 'index.html')
    md = (run / 'report' / 'tables' / 'mini__default__results.md').read_text()
    assert '| a | **1.5000 ± 0.7071**' in md  # --direction overrides: lower is better now
    for bad in (['--zoom', '1,2'], ['--direction', 'en=up'], ['--alpha', '2'], ['--n-pairs', '0']):
        assert main(['report', str(run), '--no-figures', *bad]) == 2
        assert capsys.readouterr().err.startswith('error: ')


def test_reports_do_not_import_torch():
    code = 'import sys, reports; sys.exit(int(any(m in sys.modules for m in ("torch", "methods", "metrics"))))'
    assert subprocess.run([sys.executable, '-c', code]).returncode == 0
