"""Reports of big runs stay readable: wide tables split into metric groups, one legend per figure with a bounded
number of lines, wrapped image grids, published results labelled as such, plain timing labels."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from reports import ReportOptions, write_report
from reports.data import load_run
from reports.groups import PAPER, metric_groups
from reports.tables import results_tables, summarise
from tests.reports.conftest import write_image_set, write_run

# The 31 metrics of the default convention, as `bench run --metrics all` writes them (alphabetical).
ALL_31 = ['ag', 'cc', 'ce', 'ei', 'en', 'fmi_dct', 'fmi_edge', 'fmi_pixel', 'mef_ssim', 'mi', 'ms_ssim', 'mse',
          'nabf', 'nmi', 'psnr', 'qabf', 'qc', 'qcb', 'qcv', 'qncie', 'qp', 'qw', 'qy', 'rmse', 'scd', 'sd', 'sf',
          'ssim', 'te', 'vif', 'viff']
LOWER = {'ce', 'mse', 'nabf', 'qcv', 'rmse'}
FACTS_31 = {m: (m.upper(), m not in LOWER) for m in ALL_31}
PAPER_LABELS = ['SD ↑', 'MI ↑', 'VIF ↑', 'AG ↑', 'EN ↑', 'SF ↑', 'QABF ↑']


def big_run(folder, methods: list[str], metrics: list[str] = ALL_31, n_pairs: int = 6, meta_extra=None, **kw):
    """A run folder with every method scored on every metric; method k scores about k above method 0."""
    rng = np.random.default_rng(7)
    values = {m: {x: list(rng.normal(10 + k, 0.5, n_pairs)) for x in metrics} for k, m in enumerate(methods)}
    facts = {m: FACTS_31.get(m, (m.upper(), True)) for m in metrics}
    return write_run(folder, values, facts=facts, meta_extra=meta_extra, **kw)


def tabular_columns(tex: str) -> int:
    return len(re.search(r'\\begin\{tabular\}\{(\w+)\}', tex).group(1))


# -- metric groups ----------------------------------------------------------------------------------------------

def test_metric_groups_put_the_paper_first_and_bound_the_width():
    groups = metric_groups(ALL_31)
    assert groups[0].metrics == PAPER and groups[0].key == 'paper'
    assert all(len(g.metrics) <= 8 for g in groups) and len(groups) == 5
    shown = [m for g in groups for m in g.metrics]
    assert sorted(shown) == sorted(ALL_31) and len(shown) == len(set(shown))  # each metric once
    vifb = ['ag', 'ce', 'ei', 'en', 'mi', 'psnr', 'qabf', 'qcb', 'qcv', 'rmse', 'sd', 'sf', 'ssim']
    assert [g.metrics for g in metric_groups(vifb)] == [
        ('sd', 'mi', 'ag', 'en', 'sf', 'qabf'), ('ce', 'psnr', 'ssim', 'ei', 'qcb', 'qcv', 'rmse')]
    assert len(metric_groups(ALL_31[:8])) == 1 and metric_groups(ALL_31[:8])[0].key == ''  # fits: not split
    assert [len(g.metrics) for g in metric_groups([f'x{i}' for i in range(10)])] == [5, 5]  # unknown: even parts


def test_wide_results_table_is_split_in_every_format(tmp_path):
    run = big_run(tmp_path / 'run', ['a', 'b', 'c'])
    html = write_report(run, ReportOptions(figures=False, ablation={'c': ['b']})).read_text()
    tables = tmp_path / 'run' / 'report' / 'tables'
    keys = sorted(p.stem for p in tables.glob('mini__default__results_*.tex'))
    assert len(keys) == 5 and 'mini__default__results_paper' in keys
    for key in keys:
        assert tabular_columns((tables / f'{key}.tex').read_text()) <= 1 + 8 + 1  # label, 8 metrics, pairs
    ablation = sorted(tables.glob('mini__default__ablation_c_*.tex'))  # Table 4 is split the same way
    assert len(ablation) == 5 and all(tabular_columns(p.read_text()) <= 1 + 8 for p in ablation)
    paper = (tables / 'mini__default__results_paper.md').read_text().splitlines()
    assert paper[2] == '| method | ' + ' | '.join(PAPER_LABELS) + ' | pairs |'  # the paper's order
    every = pd.read_csv(tables / 'mini__default__results.csv')  # one CSV keeps every metric for scripts
    assert set(ALL_31) <= set(every.columns) and list(every['method']) == ['a', 'b', 'c']
    assert html.count('<table class="results"') == 5 + 1 + 5 + 1 + 5  # results, mean ranks, ranks, stats, ablation
    assert '(1 of 5: the DFECF paper&#39;s seven)' in html
    # c has the highest values: first on the 26 higher-is-better metrics, last on the 5 lower-is-better ones.
    ranks = pd.read_csv(tables / 'mini__default__mean_ranks.csv')
    assert list(ranks['method']) == ['c', 'b', 'a']
    assert list(ranks['all']) == pytest.approx([(26 + 5 * 3) / 31, 2.0, (26 * 3 + 5) / 31])
    assert list(ranks['paper']) == pytest.approx([1.0, 2.0, 3.0])


def test_metrics_option_chooses_and_orders_one_table(tmp_path):
    run = big_run(tmp_path / 'run', ['a', 'b'])
    summary = summarise(load_run(run), 'mini', 'default', ReportOptions(metrics=['Qabf', 'en']))
    [table] = results_tables(summary)
    assert table.columns == ['QABF ↑', 'EN ↑', 'pairs'] and table.key == 'mini__default__results'
    [paper] = results_tables(summarise(load_run(run), 'mini', 'default', ReportOptions(metrics=['paper'])))
    assert paper.columns == PAPER_LABELS + ['pairs']
    every = results_tables(summarise(load_run(run), 'mini', 'default', ReportOptions(metrics=['all'])))
    assert len(every) == 1 and len(every[0].columns) == 32  # asked for: one wide table
    with pytest.raises(KeyError, match="Unknown metric 'qabff'.*Did you mean 'qabf'"):
        write_report(run, ReportOptions(figures=False, metrics=['qabff']))
    assert not (tmp_path / 'run' / 'report').exists()  # checked before anything is written


def test_methods_option_selects_and_orders(make_run):
    run = make_run({m: {'en': [1.0 + k, 2.0 + k]} for k, m in enumerate(['a', 'dfecf', 'dfecf-no-de', 'b'])})
    summary = summarise(load_run(run), 'mini', 'default', ReportOptions(methods=['b', 'dfecf*']))
    assert summary.methods == ['b', 'dfecf', 'dfecf-no-de']
    [table] = results_tables(summary)
    assert [label for label, _ in table.rows] == ['b', 'dfecf', 'dfecf-no-de']
    with pytest.raises(KeyError, match="Unknown method 'dfcf'.*Did you mean 'dfecf'"):
        summarise(load_run(run), 'mini', 'default', ReportOptions(methods=['dfcf']))


# -- labels ------------------------------------------------------------------------------------------------------

PUBLISHED_META = {'methods': {'DenseFuse': {'kind': 'published', 'folder': '/x'},
                              'densefuse': {'kind': 'baseline', 'weights': []}}}


def test_published_results_are_labelled_in_tables(make_run):
    run = make_run({'densefuse': {'en': [6.0, 6.2]}, 'DenseFuse': {'en': [6.5, 6.7]}}, meta_extra=PUBLISHED_META)
    write_report(run, ReportOptions(figures=False))
    md = (run / 'report' / 'tables' / 'mini__default__results.md').read_text()
    assert '| densefuse | 6.1000' in md and '| DenseFuse (published) | **6.6000**' in md
    assert '(published): fused images published by the method' in md
    ranks = (run / 'report' / 'tables' / 'mini__default__ranks.md').read_text()
    assert '| DenseFuse (published) | 1 |' in ranks
    means = pd.read_csv(run / 'report' / 'means.csv')  # machine-readable files keep the names
    assert sorted(means['method']) == ['DenseFuse', 'densefuse']


def test_label_option_renames_and_checks(make_run, capsys):
    run = make_run({'densefuse': {'en': [6.0, 6.2]}, 'DenseFuse': {'en': [6.5, 6.7]}}, meta_extra=PUBLISHED_META)
    assert main(['report', str(run), '--no-figures', '--label', 'densefuse=DenseFuse (ours)',
                 '--label', 'DenseFuse=DenseFuse [Li 2018]']) == 0
    md = (run / 'report' / 'tables' / 'mini__default__results.md').read_text()
    assert '| DenseFuse (ours) | 6.1000' in md and '| DenseFuse [Li 2018] |' in md and '(published)' not in md
    assert 'Labels: DenseFuse (ours) = densefuse; DenseFuse [Li 2018] = DenseFuse.' in md
    capsys.readouterr()
    assert main(['report', str(run), '--no-figures', '--label', 'densfuse=x']) == 2
    err = capsys.readouterr().err
    assert "Unknown method 'densfuse'" in err and "Did you mean 'densefuse'" in err
    assert main(['report', str(run), '--no-figures', '--label', 'densefuse=DenseFuse (published)']) == 2
    assert 'both labelled' in capsys.readouterr().err
    assert main(['report', str(run), '--no-figures', '--label', 'densefuse']) == 2
    assert 'Expected --label OLD=NEW' in capsys.readouterr().err


# -- figures -----------------------------------------------------------------------------------------------------

ELEVEN = ['densefuse', 'sdnet', 'u2fusion', 'average', 'DenseFuse', 'FusionGAN', 'IFCNN', 'RFN-Nest', 'SDNet',
          'SeAFusion', 'U2Fusion']


def legends(fig) -> list:
    return [lg for lg in [ax.get_legend() for ax in fig.axes] + list(fig.legends) if lg is not None]


def test_per_pair_figure_has_one_legend_and_at_most_8_lines(tmp_path):
    import matplotlib.pyplot as plt

    from reports.figures import distribution_figure, method_colours, per_pair_figure
    meta = {'methods': {m: {'kind': 'published'} for m in ELEVEN[4:]}}
    run = load_run(big_run(tmp_path / 'run', ELEVEN, ALL_31[:6], meta_extra=meta))
    summary = summarise(run, 'mini', 'default')
    colours = method_colours(ELEVEN)
    fig = per_pair_figure(summary, colours, max_lines=8)
    [legend] = legends(fig)  # one for the figure, not one per panel
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 6 and all(len(ax.get_lines()) == 8 for ax in panels)
    # Method k scores about k higher, so the best by mean rank are the last 8; the first three are left out.
    texts = [t.get_text() for t in legend.get_texts()]
    assert sorted(texts) == sorted(['average'] + [f'{m} (published)' for m in ELEVEN[4:]])
    note = legend.get_title().get_text().replace('\n', ' ')
    assert note.startswith('Not drawn here (8 lines a panel at most') and 'densefuse, sdnet, u2fusion' in note
    drawn_colours = {tuple(line.get_color()) for line in panels[0].get_lines()}
    assert drawn_colours == {tuple(colours[m]) for m in ELEVEN[3:]}  # each method keeps its colour
    plt.close(fig)
    fig = per_pair_figure(summary, colours, sort=True)  # the sorted curves draw every method
    assert len(legends(fig)) == 1 and all(len(ax.get_lines()) == 11 for ax in fig.axes if ax.get_title())
    plt.close(fig)
    fig = distribution_figure(summary, colours, 'violin')  # box: seaborn 0.13 warns under matplotlib 3.11
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][4] == 'DenseFuse (published)'
    plt.close(fig)
    chosen = summarise(run, 'mini', 'default', ReportOptions(methods=['SDNet', 'sdnet', 'a*'], max_lines=2))
    fig = per_pair_figure(chosen, colours, max_lines=2)  # the user's order: the first two
    [legend] = legends(fig)
    assert [t.get_text() for t in legend.get_texts()] == ['SDNet (published)', 'sdnet']
    assert legend.get_title().get_text().endswith(': average')
    plt.close(fig)


def test_report_names_the_left_out_methods(tmp_path):
    run = big_run(tmp_path / 'run', ELEVEN, ['en', 'sf'])  # both higher is better: the last 9 are best
    html = write_report(run, ReportOptions(figures=True, max_lines=9, distribution='violin')).read_text()
    assert 'densefuse, sdnet; the next two figures show every method' in html
    assert '2 of the 11 methods are left out' in html


def test_qualitative_grid_wraps_into_rows(tmp_path):
    import matplotlib.pyplot as plt

    from reports.qualitative import ImageFinder, grid_figure, grid_shape
    assert [grid_shape(n) for n in (5, 6, 7, 13, 15)] == [(1, 5), (1, 6), (2, 4), (3, 5), (3, 5)]
    run_dir = tmp_path / 'run'
    manifest = write_image_set(tmp_path / 'data', 'mini', ELEVEN, run_dir, n_pairs=2)
    big_run(run_dir, ELEVEN, ['en'], n_pairs=2, meta_extra={'datasets': {'mini': {
        'pairs': 2, 'manifest': str(manifest), 'root': str(tmp_path / 'data' / 'mini')}}})
    finder = ImageFinder(load_run(run_dir), 'mini')
    fig, _ = grid_figure(finder, ['01', '02'], ELEVEN, 'grid', labels={'DenseFuse': 'DenseFuse (published)'})
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 2 * 13  # every panel titled: a column no longer holds one method
    lefts = sorted({round(ax.get_position().x0, 3) for ax in panels})
    tops = sorted({round(ax.get_position().y1, 3) for ax in panels})
    assert len(lefts) == 5 and len(tops) == 2 * 3  # 3 rows of at most 5 panels per pair
    assert fig.get_size_inches()[0] < 11  # about 1,300 px at the 130 dpi of the report: fits the page
    assert 'DenseFuse (published)' in [ax.get_title() for ax in panels]
    plt.close(fig)


# -- timing labels -----------------------------------------------------------------------------------------------

def test_timing_labels_are_plain_numbers_with_units(make_run):
    import matplotlib.pyplot as plt

    from reports.figures import method_colours, timing_figure
    from reports.timing import timing_summary
    rows = pd.DataFrame({'dataset': 'mini', 'pair': ['01', '02', '03'] * 2, 'method': ['slow'] * 3 + ['fast'] * 3,
                         'seconds': [1.9, 1.91, 1.95, 0.0004, 0.0005, 0.0006], 'device': 'cpu', 'height': 450,
                         'width': 620, 'params': [1_234_567] * 6})
    summary = timing_summary(rows)
    fig = timing_figure(summary, method_colours(['slow', 'fast']), {'slow': 'Slow (ours)'})
    fig.canvas.draw()
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ['  1.91 s', '  0.500 ms']  # was '1.91e+03 ms'
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ax.get_xscale() == 'log' and '1,000' in ticks
    assert not any('e+' in t or '^' in t or 'e-' in t for t in texts + ticks), ticks
    assert 'Slow (ours)\nCPU (threads not recorded)' in [t.get_text() for t in ax.get_yticklabels()]
    plt.close(fig)
    run = make_run({'slow': {'en': [1.0, 2.0, 3.0]}}, timing=rows)
    write_report(run, ReportOptions(figures=False))
    md = (run / 'report' / 'tables' / 'timing.md').read_text()
    assert '| slow | CPU (threads not recorded) | 3 | 1,910.00 |' in md and '1.23 M' in md


# -- --out and read-only run folders -------------------------------------------------------------------------------

def test_out_writes_the_report_elsewhere(make_run, tmp_path, capsys):
    run = make_run({'a': {'en': [1.0, 2.0]}, 'b': {'en': [2.0, 3.0]}})
    out = tmp_path / 'elsewhere' / 'report-a'
    assert main(['report', str(run), '--no-figures', '--out', str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out / 'index.html')
    assert not (run / 'report').exists()  # the run folder is only read
    html = (out / 'index.html').read_text()
    hrefs = re.findall(r'href="([^"#][^"]*)"', html)
    assert any(h.endswith('scores.csv') for h in hrefs)
    for href in hrefs:
        assert (out / href).resolve().is_file(), href  # links to the run's files and to the tables resolve
    assert main(['report', str(run), '--no-figures', '--out', str(out)]) == 0  # an earlier report is replaced
    capsys.readouterr()
    other = tmp_path / 'papers'
    other.mkdir()
    (other / 'draft.tex').write_text('mine')
    for target in (other, run):
        assert main(['report', str(run), '--no-figures', '--out', str(target)]) == 2
        assert 'Expected --out to be a new or empty folder or an earlier report' in capsys.readouterr().err
    assert (other / 'draft.tex').read_text() == 'mine' and sorted(p.name for p in other.iterdir()) == ['draft.tex']


def _read_only(folder, cmd: list[str]) -> list[str]:
    """`cmd` run where `folder` cannot be written. Root writes into read-only folders regardless of their mode, so
    as root the folder is bind-mounted read-only in a private mount namespace (as a mounted archive would be);
    otherwise its mode is enough."""
    import os
    if os.geteuid() != 0:
        for path in [folder, *folder.rglob('*')]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        return cmd
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    return ['unshare', '--mount', 'sh', '-c', script, 'sh', str(folder), *cmd]


@pytest.mark.parametrize('existing_report', [False, True])
def test_read_only_run_folder_says_so_and_suggests_out(make_run, tmp_path, existing_report):
    import os
    import subprocess
    import sys
    run = make_run({'a': {'en': [1.0, 2.0]}, 'b': {'en': [2.0, 3.0]}})
    if existing_report:
        write_report(run, ReportOptions(figures=False))
    cmd = [sys.executable, '-m', 'bench', 'report', str(run), '--no-figures']
    probe = subprocess.run(_read_only(run, ['touch', str(run / 'probe')]), capture_output=True, text=True)
    if probe.returncode == 0 or (run / 'probe').exists():
        pytest.skip(f'cannot make a folder read-only here (root without mount namespaces?): {probe.stderr[-300:]}')
    try:
        out = subprocess.run(_read_only(run, cmd), capture_output=True, text=True, cwd=os.getcwd(), timeout=300)
        assert out.returncode == 1, out.stderr
        folder = run / 'report'
        assert re.fullmatch(rf'error: Cannot write the report: {re.escape(str(folder))} is not writable '
                            rf'\((permission denied|read-only file system)\)\. Write it into another folder with '
                            rf'--out DIR: python -m bench report {re.escape(str(run))} --out DIR', out.stderr.strip())
        assert 'Traceback' not in out.stderr and '.tmp' not in out.stderr
        elsewhere = tmp_path / 'elsewhere'
        out = subprocess.run(_read_only(run, cmd + ['--out', str(elsewhere)]), capture_output=True, text=True,
                             cwd=os.getcwd(), timeout=300)
        assert out.returncode == 0, out.stderr
        assert (elsewhere / 'tables' / 'mini__default__results.md').is_file()
    finally:
        for path in [run, *run.rglob('*')]:
            if path.is_dir():
                path.chmod(0o755)
