"""The paper's eight baselines in a run: a method whose weights are missing is one error row and the run goes on;
the published results of all eight are declared in the manifests, so `--results all` rebuilds Table 3's columns."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

import methods
from bench.cli import main
from bench.datasets import load_manifest
from bench.results import ERROR_COLUMNS, SCORE_COLUMNS
from tests.conftest import weightless_methods

# The DFECF paper's comparison methods (Table 3), as the manifests name their published results.
BASELINES = ['CSF', 'DenseFuse', 'FusionGAN', 'GANMcC', 'RFN-Nest', 'SDNet', 'U2Fusion', 'UMF-CMGR']
# Which manifests declare which published results (the folders in ../shared/data).
PUBLISHED = {
    'tno42': ['DenseFuse', 'FusionGAN', 'RFN-Nest', 'SDNet', 'U2Fusion'],
    'vifbench12': BASELINES,
    'tno21': ['RFN-Nest'],
    'roadscene44_csf': ['CSF'],
}
PORTED_HERE = ['fusiongan', 'ganmcc', 'rfn-nest', 'umf-cmgr']
MANIFESTS = Path(__file__).resolve().parents[2] / 'data_manifests'


def _rows(path, columns):
    with open(path, newline='', encoding='utf-8') as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == columns
        return list(reader)


def test_published_results_of_all_eight_baselines_are_declared():
    for dataset, names in PUBLISHED.items():
        assert set(names) <= set(load_manifest(dataset).results), dataset
    assert set().union(*PUBLISHED.values()) == set(BASELINES)


@pytest.mark.parametrize('name', PORTED_HERE)
def test_ported_baselines_are_registered_with_their_weights(name):
    spec = methods.get_method_spec(name)
    assert name in [b.lower() for b in BASELINES]
    assert spec.weights and all((w.sha256 or w.git_blob) and w.url.startswith('https://') for w in spec.weights)


def test_missing_weights_are_one_error_row_each_and_the_run_goes_on(tmp_path, capsys):
    empty = tmp_path / 'weights'
    empty.mkdir()
    out = tmp_path / 'run'
    code = main(['run', '--methods', 'all', '--datasets', 'synthetic', '--metrics', 'en', '--weights-dir',
                 str(empty), '--no-fetch', '--out', str(out), '--no-progress'])
    _, stderr = capsys.readouterr()
    assert code == 1 and 'Traceback' not in stderr
    needing = sorted(n for n in methods.list_methods() if methods.get_method_spec(n).weights)
    assert set(PORTED_HERE) <= set(needing)
    errors = _rows(out / 'errors.csv', ERROR_COLUMNS)
    assert sorted(r['method'] for r in errors) == needing
    for row in errors:
        spec = methods.get_method_spec(row['method'])
        first = spec.weights[0]
        assert (row['pair'], row['stage'], row['error']) == ('*', 'create', 'WeightsNotFound')
        assert first.file in row['message'] and (first.sha256 or first.git_blob) in row['message']
        assert first.url in row['message'] and str(empty / first.file) in row['message']
    scored = {r['method'] for r in _rows(out / 'scores.csv', SCORE_COLUMNS)}
    assert scored == set(weightless_methods())


def _vifbench_subset(folder, pairs):
    """A user manifest with some vifbench12 pairs and all its declared results (scoring all 12 pairs of 8 methods
    costs a minute on a loaded CPU; what is tested is that every baseline's results are found and scored)."""
    import tomllib
    raw = tomllib.loads((MANIFESTS / 'vifbench12.toml').read_text())
    chosen = [p for p in raw['pairs'] if p['name'] in pairs]
    lines = ['name = "vifbench_mini"', 'title = "vifbench12 subset"', 'description = "test"', 'citation = "x"',
             'licence = "x"', 'homepage = ""', f'directory = "{raw["directory"]}"', 'pairs = [']
    lines += [f'  {{ name = "{p["name"]}", ir = "{p["ir"]}", vi = "{p["vi"]}" }},' for p in chosen] + [']']
    for name, res in raw['results'].items():
        lines += [f'[results.{name}]'] + [f'{key} = "{value}"' for key, value in res.items()]
    folder.mkdir(parents=True, exist_ok=True)
    toml = folder / 'vifbench_mini.toml'
    toml.write_text('\n'.join(lines) + '\n')
    sha = [line for line in (MANIFESTS / 'vifbench12.sha256').read_text().splitlines()
           if Path(line.split(maxsplit=1)[-1].strip()).stem in pairs]
    toml.with_suffix('.sha256').write_text('\n'.join(sha) + '\n')
    return toml


def test_results_all_scores_the_eight_published_baselines(data_root, tmp_path, capsys):
    pairs = [p.name for p in load_manifest('vifbench12').pairs][:2]
    toml = _vifbench_subset(tmp_path / 'manifests', pairs)
    out = tmp_path / 'run'
    code = main(['run', '--results', 'all', '--datasets', str(toml), '--metrics', 'en', '--data-root',
                 str(data_root), '--out', str(out), '--no-progress'])
    _, stderr = capsys.readouterr()
    assert code == 0, stderr
    scores = _rows(out / 'scores.csv', SCORE_COLUMNS)
    # The method zoo's references declared beside them are samples: scored on the pairs they hold a file for.
    m = load_manifest(str(toml))
    zoo = {(p, name) for name in set(m.results) - set(BASELINES) for p in pairs
           if f'{m.results[name].dir}/{p}.png' in m.checksums}
    assert sorted((r['pair'], r['method']) for r in scores) == \
        sorted({(p, name) for p in pairs for name in BASELINES} | zoo)
    assert _rows(out / 'errors.csv', ERROR_COLUMNS) == []
