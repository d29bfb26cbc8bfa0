"""Choosing what to run (`--pairs`, `--limit`, `NAME:SPLIT`, metric presets), `bench data init` for a user's own
folders, and the smaller things a new user hit (listings, read-only folders, `bench score` output)."""
from __future__ import annotations

import csv
import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

import metrics
from bench.cli import main
from bench.datasets import load_manifest, select_pairs
from bench.results import SCORE_COLUMNS, TIMING_COLUMNS

FAST = 'en,sd'


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def rows(path: Path, columns) -> list[dict[str, str]]:
    with open(path, newline='', encoding='utf-8') as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == columns
        return list(reader)


def test_pairs_and_limit_select_pairs(capsys, tmp_path, data_root):
    code, _, err = cli(capsys, 'run', '--methods', 'average', '--datasets', 'tno42', '--pairs', '07,12', '01',
                       '--metrics', FAST, '--out', tmp_path / 'a', '--data-root', data_root, '--no-fetch',
                       '--no-progress')
    assert code == 0, err
    assert {r['pair'] for r in rows(tmp_path / 'a' / 'scores.csv', SCORE_COLUMNS)} == {'01', '07', '12'}
    code, _, err = cli(capsys, 'run', '--methods', 'average', '--datasets', 'tno42', '--limit', '2',
                       '--metrics', FAST, '--out', tmp_path / 'b', '--data-root', data_root, '--no-fetch',
                       '--no-progress')
    assert code == 0, err
    assert [r['pair'] for r in rows(tmp_path / 'b' / 'timing.csv', TIMING_COLUMNS)] == ['01', '02']
    meta = json.loads((tmp_path / 'b' / 'run.json').read_text())
    assert meta['invocations'][-1]['limit'] == 2 and meta['datasets']['tno42']['pairs'] == 2


def test_unknown_pair_and_bad_limit_are_usage_errors(capsys, tmp_path, data_root):
    code, _, err = cli(capsys, 'run', '--methods', 'average', '--pairs', '7', '--metrics', FAST, '--out', tmp_path,
                       '--data-root', data_root, '--no-fetch', '--no-progress')
    assert code == 2 and "Unknown pair '7'" in err and "'07'" in err
    code, _, err = cli(capsys, 'run', '--methods', 'average', '--limit', '0', '--out', tmp_path / 'x')
    assert code == 2 and '--limit >= 1' in err


def test_msrs_evaluates_its_test_split_by_default():
    manifest = load_manifest('msrs')
    label, pairs = select_pairs(manifest)
    assert label == 'msrs:test' and len(pairs) == 102 and {p.split for p in pairs} == {'test'}
    assert select_pairs(manifest, 'train')[0] == 'msrs:train' and len(select_pairs(manifest, 'train')[1]) == 34
    assert select_pairs(manifest, 'all') == ('msrs', manifest.pairs)
    assert select_pairs(load_manifest('tno42')) == ('tno42', load_manifest('tno42').pairs)
    with pytest.raises(KeyError, match="Unknown split 'val' of dataset 'msrs'. Its splits: test, train, all"):
        select_pairs(manifest, 'val')


def test_msrs_split_in_a_run(capsys, tmp_path, data_root):
    code, _, err = cli(capsys, 'run', '--methods', 'average', '--datasets', 'msrs', '--limit', '1', '--metrics', FAST,
                       '--out', tmp_path, '--data-root', data_root, '--no-fetch', '--no-progress')
    assert code == 0, err
    scores = rows(tmp_path / 'scores.csv', SCORE_COLUMNS)
    assert {r['dataset'] for r in scores} == {'msrs:test'} and scores[0]['pair'] == '00004N'
    assert (tmp_path / 'fused' / 'msrs:test' / 'average' / '00004N.png').is_file()
    code, _, err = cli(capsys, 'run', '--datasets', 'msrs:val', '--out', tmp_path / 'v')
    assert code == 2 and "Unknown split 'val'" in err


def test_metric_presets(capsys):
    assert metrics.preset_metrics('paper') == ['sd', 'mi', 'vif', 'ag', 'en', 'sf', 'qabf']
    assert metrics.preset_metrics('vifb', 'vifb') == metrics.list_metrics(convention='vifb')
    with pytest.raises(KeyError, match='preset'):
        metrics.preset_metrics('papers')
    code, out, _ = cli(capsys, 'list', 'metrics')
    assert code == 0 and 'paper  sd, mi, vif, ag, en, sf, qabf' in out


def test_preset_in_a_run_keeps_the_papers_order(capsys, tmp_path, data_root):
    code, out, err = cli(capsys, 'run', '--methods', 'average', '--pairs', '08', '--metrics', 'paper',
                         '--out', tmp_path, '--data-root', data_root, '--no-fetch', '--no-progress')
    assert code == 0, err
    header = next(line for line in out.splitlines() if line.startswith('metric'))
    assert header.split() == ['metric', 'sd', 'mi', 'vif', 'ag', 'en', 'sf', 'qabf']
    code, _, err = cli(capsys, 'run', '--methods', 'average', '--metrics', 'papr', '--out', tmp_path / 'x')
    assert code == 2 and 'Presets: mefb, paper, vifb, all' in err


def test_data_init_writes_a_manifest_bench_run_uses(capsys, tmp_path, data_root):
    mine = tmp_path / 'mine'
    for kind, stem in (('ir', 'IR'), ('vi', 'VIS')):
        (mine / kind).mkdir(parents=True)
        for k in (1, 2, 10):
            shutil.copy(data_root / 'tno21' / kind / f'{stem}{k}.png', mine / kind / f'{stem}{k}.png')
    (mine / 'fused').mkdir()
    for k in (1, 2, 10):
        shutil.copy(data_root / 'tno21' / 'ir' / f'IR{k}.png', mine / 'fused' / f'out_{k}_x.png')
    code, out, err = cli(capsys, 'data', 'init', 'mine', '--ir', mine / 'ir', '--vi', mine / 'vi',
                         '--fused', f'IRcopy={mine / "fused"}', '--out', mine / 'manifest')
    assert code == 0, err
    toml = mine / 'manifest' / 'mine.toml'
    manifest = load_manifest(str(toml))
    assert [p.name for p in manifest.pairs] == ['1', '2', '10'] and manifest.results['IRcopy'].pattern == \
        'out_{pair}_x.png'
    assert cli(capsys, 'data', 'verify', toml, '--no-progress')[0] == 0
    code, out, err = cli(capsys, 'run', '--datasets', toml, '--methods', 'average', '--results', 'IRcopy',
                         '--metrics', 'en', '--out', tmp_path / 'run', '--no-fetch', '--no-progress')
    assert code == 0, err
    scores = rows(tmp_path / 'run' / 'scores.csv', SCORE_COLUMNS)
    assert {(r['pair'], r['method']) for r in scores} == {(p, m) for p in ('1', '2', '10')
                                                          for m in ('average', 'IRcopy')}
    # The manifest moves with its data: its directory is relative to the .toml.
    moved = tmp_path / 'moved'
    shutil.copytree(mine, moved)
    assert load_manifest(str(moved / 'manifest' / 'mine.toml')).root(Path('/nowhere')) == moved.resolve()
    code, _, err = cli(capsys, 'data', 'init', 'mine', '--ir', mine / 'ir', '--vi', mine / 'vi', '--out',
                       mine / 'manifest')
    assert code == 2 and 'exists' in err
    code, _, err = cli(capsys, 'data', 'init', 'x', '--ir', mine / 'ir', '--vi', tmp_path / 'none')
    assert code == 2 and 'visible folder not found' in err


@pytest.mark.skipif(os.geteuid() == 0, reason='root can write to read-only folders')
def test_read_only_out_says_so(capsys, tmp_path):
    out = tmp_path / 'ro'
    out.mkdir()
    out.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        code, _, err = cli(capsys, 'run', '--methods', 'average', '--datasets', 'synthetic', '--metrics', 'en',
                           '--out', out, '--no-progress')
    finally:
        out.chmod(stat.S_IRWXU)
    assert code != 0 and 'is not writable' in err and '.tmp' not in err


def test_read_only_out_message(tmp_path, monkeypatch):
    """The same check where the tests run as root (who may write anywhere): a PermissionError on creating the
    folder's files is reported as the folder being unwritable, naming it, never the temporary file."""
    from bench import results
    from bench.results import RunFolderError, RunStore

    def refuse(path, text):
        raise PermissionError(13, 'Permission denied', str(path.parent / ('.' + path.name + 'xyz.tmp')))
    monkeypatch.setattr(results, 'write_atomic', refuse)
    with pytest.raises(RunFolderError, match=r'run folder .*ro is not writable \(Permission denied\)') as err:
        RunStore(tmp_path / 'ro')
    assert '.tmp' not in str(err.value) and '--out' in str(err.value)


def test_list_methods_aligns_and_shows_weights_status(capsys):
    code, out, _ = cli(capsys, 'list', 'methods')
    lines = out.splitlines()
    facts = [line for line in lines if not line.startswith(' ')]
    papers = [line for line in lines if line.startswith(' ')]
    assert code == 0 and len(papers) == len(facts) - 1
    assert len({line.index(line.split()[1]) for line in facts[1:] if line.split()[1].isdigit()}) == 1
    assert len({len(line) - len(line.lstrip()) for line in papers}) == 1   # one column, however long a name
    dfecf = next(line for line in facts if line.startswith('dfecf '))
    assert 'shipped here' in dfecf and next(line for line in facts if line.startswith('average ')).split()[1] == 'none'


def test_score_output_sorted_lowercase_and_empty_folder(capsys, tmp_path, data_root):
    ir, vi = data_root / 'tno21' / 'ir', data_root / 'tno21' / 'vi'
    fused = tmp_path / 'fused'
    fused.mkdir()
    for k in (1, 2, 5, 10, 15):
        shutil.copy(ir / f'IR{k}.png', fused / f'F{k}.png')
    code, out, err = cli(capsys, 'score', '--ir', ir, '--vi', vi, '--fused', fused, '--metrics', 'en,sd',
                         '--no-progress')
    assert code == 1  # the other 16 names have no fused image (listed as skipped)
    table = [line.split() for line in out.splitlines()[1:]]
    assert table[0] == ['metric', 'en', 'sd']
    names = [r[0] for r in table[2:]]
    assert names == ['1', '2', '5', '10', '15', 'mean']
    assert all(len(v.split('.')[1]) == 4 for r in table[2:] for v in r[1:])
    empty = tmp_path / 'empty'
    empty.mkdir()
    code, out, err = cli(capsys, 'score', '--ir', ir, '--vi', vi, '--fused', empty, '--no-progress')
    assert code == 2 and 'skipped' not in err and 'No image names are common' in err
    assert np.isfinite(float(table[-1][1]))


@pytest.fixture
def waiting_method(tmp_path):
    """A registered method whose one weight file is user-supplied and not in the (empty) weights directory."""
    import methods
    from methods import FusionMethod, Weights, register_method
    from methods._registry import _METHODS

    class Half(FusionMethod):
        def __init__(self, weights):
            super().__init__()

        def forward(self, ir, vis):
            return 0.5 * ir + 0.5 * vis

    w = Weights('waiting/model.pth', 'ab' * 32, url='https://drive.example.org/model', user_supplied=True)
    register_method('zz-waiting', paper='test', licence='t', weights=[w])(lambda weights: Half(weights))
    yield tmp_path / 'weights'
    del _METHODS['zz-waiting']
    assert 'zz-waiting' not in methods.list_methods()


def test_methods_all_skips_methods_waiting_for_user_files(capsys, tmp_path, data_root, waiting_method):
    base = ['run', '--datasets', 'tno42', '--pairs', '08', '--metrics', 'en', '--weights-dir', waiting_method,
            '--data-root', data_root, '--no-fetch', '--no-progress']
    code, _, err = cli(capsys, *base, '--methods', 'average', 'zz-*', '--out', tmp_path / 'a')
    assert code == 0, err
    assert 'Skipping zz-waiting: it needs waiting/model.pth' in err
    meta = json.loads((tmp_path / 'a' / 'run.json').read_text())
    assert meta['invocations'][-1]['skipped_methods'] == {'zz-waiting': ['waiting/model.pth']}
    assert 'zz-waiting' not in meta['methods']
    # Named explicitly, it is tried and its missing file is an error row.
    code, _, err = cli(capsys, *base, '--methods', 'zz-waiting', '--out', tmp_path / 'b')
    assert code == 1 and 'Skipping' not in err
    errors = rows(tmp_path / 'b' / 'errors.csv', ('dataset', 'pair', 'method', 'stage', 'error', 'message'))
    assert [(e['method'], e['stage'], e['error']) for e in errors] == [('zz-waiting', 'create', 'WeightsNotFound')]
    code, out, _ = cli(capsys, 'weights', 'list', 'zz-waiting', '--weights-dir', waiting_method)
    assert 'missing; user-supplied: https://drive.example.org/model' in out


def test_run_passes_each_files_stored_layout_to_the_convention(capsys, tmp_path, data_root):
    """`bench run --convention vifb` scores TNO-42's 3-channel gray files as VIFB's MATLAB code reads them: SF of
    SeAFusion's pair 05 equals VIFB's own value under Octave (tests/calibration/reference_values), not the gray SF."""
    reference = {}
    with open(Path(__file__).parents[1] / 'calibration' / 'reference_values' / 'vifb_mefb_octave.csv') as fh:
        for r in csv.DictReader(fh):
            if r['fused'] == 'tno42/fused/SeAFusion/05.png' and r['metric'] == 'sf':
                reference[r['reference']] = float(r['value'])
    code, _, err = cli(capsys, 'run', '--results', 'SeAFusion', '--datasets', 'tno42', '--pairs', '05', '--metrics',
                       'sf', '--convention', 'vifb', '--out', tmp_path, '--data-root', data_root, '--no-fetch',
                       '--no-progress')
    assert code == 0, err
    (row,) = rows(tmp_path / 'scores.csv', SCORE_COLUMNS)
    assert float(row['value']) == pytest.approx(reference['vifb'], rel=1e-12)
    assert abs(reference['vifb'] / reference['mefb'] - 1) > 5e-3   # the gray SF (MEFB's) differs by about 1 %
