"""End-to-end tests of `python -m bench`: real TNO pairs, published results, the synthetic set and its fallback,
resuming, `data fetch`/`verify` against a local mirror, and usage errors.

Most tests call `bench.cli.main([...])` in-process; the few that need a real process say why.
"""
from __future__ import annotations

import csv
import functools
import json
import math
import re
import socket
import subprocess
import sys
import threading
import tomllib
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import methods
import metrics
from bench import download
from bench.cli import main
from bench.datasets import list_datasets, load_manifest
from bench.results import ERROR_COLUMNS, SCORE_COLUMNS, TIMING_COLUMNS
from tests.conftest import FAST_METRICS, PIPELINE, PIPELINE_METHODS

FAST = ','.join(FAST_METRICS)

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / 'data_manifests'
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
RFN_TNO21 = 'fused_rfnnest_700_wir_6.0_wvi_3.0_{ir}.png'


# -- helpers ------------------------------------------------------------------------------------------------------

def cli(capsys, *argv: str | Path) -> tuple[int, str, str]:
    """Runs `main` in-process; returns (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def table(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a results CSV, checking its header."""
    with open(path, newline='', encoding='utf-8') as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == columns, path
        return list(reader)


def read_gray(path: Path) -> np.ndarray:
    """A gray uint8 image read with OpenCV directly (3 equal channels -> 1), independent of bench.images."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.dtype == np.uint8, path
    if image.ndim == 3:
        assert (image[..., :1] == image[..., 1:3]).all(), f'{path} is not gray'
        image = image[..., 0]
    return image


def entropy_bits(image: np.ndarray) -> float:
    """Shannon entropy in bits of the 256-bin histogram, computed with numpy."""
    p = np.bincount(image.ravel(), minlength=256) / image.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def closed_port() -> int:
    """A local TCP port nothing listens on, so connecting to it fails at once."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def subset_manifest(folder: Path, pairs: list[str], name: str = 'tno42mini', source: str = 'tno42') -> Path:
    """A user manifest `<folder>/<name>.toml` (+ .sha256) with some pairs of a shipped one, under its directory."""
    raw = tomllib.loads((MANIFESTS / f'{source}.toml').read_text())
    chosen = [p for p in raw['pairs'] if p['name'] in pairs]
    assert len(chosen) == len(pairs)
    lines = [f'name = "{name}"', f'title = "{len(pairs)} pairs of {source}"', 'description = "test subset"',
             'citation = "see the shipped manifest"', 'licence = "see the shipped manifest"', 'homepage = ""',
             f'directory = "{raw["directory"]}"', 'pairs = [']
    lines += [f'  {{ name = "{p["name"]}", ir = "{p["ir"]}", vi = "{p["vi"]}" }},' for p in chosen]
    lines.append(']')
    folder.mkdir(parents=True, exist_ok=True)
    toml = folder / f'{name}.toml'
    toml.write_text('\n'.join(lines) + '\n')
    files = {f for p in chosen for f in (p['ir'], p['vi'])}
    sha = [line for line in (MANIFESTS / f'{source}.sha256').read_text().splitlines()
           if line.split(maxsplit=1)[-1].strip() in files]
    assert len(sha) == len(files)
    toml.with_suffix('.sha256').write_text('\n'.join(sha) + '\n')
    return toml


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(download, '_BACKOFF_S', 0)


# -- 1. end to end on the real TNO-42 pairs --------------------------------------------------------------------

def test_run_all_methods_on_full_tno42(data_root, tmp_path, capsys):
    # The pixel rules: learned methods cost seconds per TNO pair on a CPU and have their own tests.
    out = tmp_path / 'run'
    argv = ['run', '--methods', PIPELINE, '--datasets', 'tno42', '--data-root', str(data_root), '--out', str(out),
            '--metrics', ','.join(FAST_METRICS), '--no-progress']
    code, stdout, stderr = cli(capsys, *argv)
    assert code == 0, stderr
    names, metric_names = PIPELINE_METHODS, FAST_METRICS
    assert {'average', 'maximum'} <= set(names) and metric_names
    manifest = load_manifest('tno42')
    pairs = [p.name for p in manifest.pairs]
    assert len(pairs) == 42

    scores = table(out / 'scores.csv', SCORE_COLUMNS)
    assert len(scores) == 42 * len(names) * len(metric_names)
    keys = {(r['pair'], r['method'], r['metric']) for r in scores}
    assert keys == {(p, m, k) for p in pairs for m in names for k in metric_names}
    assert {(r['dataset'], r['convention']) for r in scores} == {('tno42', 'default')}
    assert all(math.isfinite(float(r['value'])) for r in scores)

    timing = table(out / 'timing.csv', TIMING_COLUMNS)
    assert len(timing) == 42 * len(names) == 84
    assert {(r['pair'], r['method']) for r in timing} == {(p, m) for p in pairs for m in names}
    assert all(float(r['seconds']) > 0 and r['device'] == 'cpu' for r in timing)
    assert (out / 'errors.csv').read_text() == ','.join(ERROR_COLUMNS) + '\n'

    meta = json.loads((out / 'run.json').read_text())
    assert len(meta['invocations']) == 1
    assert meta['invocations'][0]['argv'] == argv
    assert meta['invocations'][0]['finished'] and meta['invocations'][0]['fused'] == 84
    assert meta['environment']['torch'] == torch.__version__
    assert meta['datasets']['tno42']['manifest_sha256'] == manifest.digest
    assert re.fullmatch(r'[0-9a-f]{64}', manifest.digest)
    assert meta['datasets']['tno42']['pairs'] == 42
    for name in metric_names:
        facts = meta['metrics'][f'default/{name}']
        assert facts['higher_is_better'] == metrics.get_metric(name).higher_is_better and facts['reference']

    for method in names:
        for pair in pairs:
            assert (out / 'fused' / 'tno42' / method / f'{pair}.png').read_bytes()[:8] == PNG_MAGIC
    # The pixels, against the source files read and combined here with numpy.
    ir = read_gray(data_root / 'tno42' / 'ir' / '07.png').astype(np.int32)
    vi = read_gray(data_root / 'tno42' / 'vi' / '07.png').astype(np.int32)
    average = read_gray(out / 'fused' / 'tno42' / 'average' / '07.png').astype(np.int32)
    assert average.shape == ir.shape
    assert np.abs(average - np.floor((ir + vi) / 2 + 0.5)).max() <= 1
    assert np.array_equal(read_gray(out / 'fused' / 'tno42' / 'maximum' / '07.png'), np.maximum(ir, vi))
    row = next(r for r in timing if r['pair'] == '07' and r['method'] == 'average')
    assert (int(row['height']), int(row['width'])) == ir.shape
    # The score is that of the saved image.
    en = next(r for r in scores if (r['pair'], r['method'], r['metric']) == ('07', 'average', 'en'))
    assert float(en['value']) == pytest.approx(entropy_bits(average.astype(np.uint8)), abs=1e-9)

    html = (out / 'report' / 'index.html').read_text()
    assert '<table' in html and 'average' in html and 'maximum' in html
    assert 'Fused 84 pairs' in stdout and 'tno42' in stdout


def test_rerun_fuses_nothing_and_adds_only_missing_metrics(data_root, tmp_path, capsys):
    toml = subset_manifest(tmp_path / 'manifests', ['03', '11', '20'])
    out = tmp_path / 'run'
    base = ['run', '--methods', PIPELINE, '--datasets', str(toml), '--data-root', str(data_root), '--out', str(out),
            '--no-progress']
    n_methods = len(PIPELINE_METHODS)
    code, stdout, _ = cli(capsys, *base, '--metrics', 'en')
    assert code == 0 and f'Fused {3 * n_methods} pairs' in stdout
    pngs = sorted((out / 'fused' / 'tno42mini').rglob('*.png'))
    assert len(pngs) == 3 * n_methods
    mtimes = {p: p.stat().st_mtime_ns for p in pngs}
    timing_before = (out / 'timing.csv').read_text()
    scores_before = (out / 'scores.csv').read_text()

    code, stdout, _ = cli(capsys, *base, '--metrics', 'en')
    assert code == 0
    assert (f'Fused 0 pairs, reused 0 fused images from an earlier run, {3 * n_methods} (data set, pair, method) '
            'already complete; wrote 0 scores.') in stdout
    assert (out / 'timing.csv').read_text() == timing_before
    assert (out / 'scores.csv').read_text() == scores_before

    # Asking for more metrics scores only those, from the saved images, without fusing again.
    code, stdout, _ = cli(capsys, *base, '--metrics', ','.join(FAST_METRICS))
    n_new = 3 * n_methods * (len(FAST_METRICS) - 1)
    assert code == 0
    assert (f'Fused 0 pairs, reused {3 * n_methods} fused images from an earlier run, 0 (data set, pair, method) '
            f'already complete; wrote {n_new} scores.') in stdout
    assert (out / 'timing.csv').read_text() == timing_before
    assert (out / 'scores.csv').read_text().startswith(scores_before)
    assert len(table(out / 'scores.csv', SCORE_COLUMNS)) == 3 * n_methods * len(FAST_METRICS)
    assert {p: p.stat().st_mtime_ns for p in pngs} == mtimes
    assert len(json.loads((out / 'run.json').read_text())['invocations']) == 3

    # --fresh starts over.
    code, stdout, _ = cli(capsys, *base, '--metrics', 'en', '--fresh')
    assert code == 0 and f'Fused {3 * n_methods} pairs' in stdout
    assert len(table(out / 'timing.csv', TIMING_COLUMNS)) == 3 * n_methods


# -- 2. published results ---------------------------------------------------------------------------------------

def test_results_all_scores_the_published_methods_of_tno42(data_root, tmp_path, capsys):
    out = tmp_path / 'run'
    code, stdout, stderr = cli(capsys, 'run', '--results', 'all', '--datasets', 'tno42', '--metrics', FAST,
                               '--data-root', data_root,
                               '--out', out, '--no-progress')
    assert code == 0, stderr
    declared = sorted(load_manifest('tno42').results)
    assert len(declared) == 7
    scores = table(out / 'scores.csv', SCORE_COLUMNS)
    assert sorted({r['method'] for r in scores}) == declared
    assert len(scores) == 42 * 7 * len(FAST_METRICS)
    assert len({(r['pair'], r['method'], r['metric']) for r in scores}) == len(scores)
    assert table(out / 'timing.csv', TIMING_COLUMNS) == []
    assert table(out / 'errors.csv', ERROR_COLUMNS) == []
    assert not list(out.glob('fused/**/*.png'))
    en = next(r for r in scores if (r['pair'], r['method'], r['metric']) == ('05', 'DenseFuse', 'en'))
    expected = entropy_bits(read_gray(data_root / 'tno42' / 'fused' / 'DenseFuse' / '05.png'))
    assert float(en['value']) == pytest.approx(expected, abs=1e-9)
    meta = json.loads((out / 'run.json').read_text())
    assert {m: meta['methods'][m]['kind'] for m in declared} == dict.fromkeys(declared, 'published')
    assert 'Fused 0 pairs' in stdout and f'wrote {len(scores)} scores' in stdout


@pytest.mark.parametrize('pattern', ['', RFN_TNO21], ids=['file-name-matching', 'ir-pattern'])
def test_results_folder_matched_to_tno21_pairs(data_root, tmp_path, capsys, pattern):
    folder = data_root / 'tno21' / 'fused' / 'RFN-Nest'
    spec = f'RFN={folder}/{pattern}' if pattern else f'RFN={folder}'
    out = tmp_path / 'run'
    code, _, stderr = cli(capsys, 'run', '--results', spec, '--datasets', 'tno21', '--metrics', 'en',
                          '--data-root', data_root, '--out', out, '--no-progress')
    assert code == 0, stderr
    assert table(out / 'errors.csv', ERROR_COLUMNS) == []
    scores = {r['pair']: float(r['value']) for r in table(out / 'scores.csv', SCORE_COLUMNS)}
    assert sorted(scores, key=int) == [str(i) for i in range(1, 22)]
    # Each pair scored the file of its own IR image (IR1 vs IR10..IR19 is the trap), read here independently.
    for pair, value in scores.items():
        expected = entropy_bits(read_gray(folder / RFN_TNO21.format(ir=f'IR{pair}')))
        assert value == pytest.approx(expected, abs=1e-9), pair
    meta = json.loads((out / 'run.json').read_text())
    assert meta['methods']['RFN']['kind'] == 'published'


def test_results_pattern_matching_nothing_gives_error_rows(data_root, tmp_path, capsys):
    out = tmp_path / 'run'
    folder = data_root / 'tno21' / 'fused' / 'RFN-Nest'
    code, _, stderr = cli(capsys, 'run', '--results', f'RFN={folder}/{{pair}}.png', '--datasets', 'tno21',
                          '--metrics', 'en', '--data-root', data_root, '--out', out, '--no-progress')
    assert code == 1
    errors = table(out / 'errors.csv', ERROR_COLUMNS)
    assert len(errors) == 21 and {r['stage'] for r in errors} == {'result'}
    assert all(str(folder / f"{r['pair']}.png") in r['message'] for r in errors)
    assert '21 error(s)' in stderr


# -- 3. the synthetic set and the fallback to it ------------------------------------------------------------------

def test_run_on_synthetic_set_needs_no_data(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv('BENCH_DATA_ROOT', raising=False)
    out = tmp_path / 'run'
    code, stdout, stderr = cli(capsys, 'run', '--methods', PIPELINE, '--datasets', 'synthetic', '--metrics', FAST,
                               '--out', out, '--no-progress')
    assert code == 0, stderr
    n_methods, n_metrics = len(PIPELINE_METHODS), len(FAST_METRICS)
    scores = table(out / 'scores.csv', SCORE_COLUMNS)
    assert len(scores) == 4 * n_methods * n_metrics and {r['dataset'] for r in scores} == {'synthetic'}
    assert len(table(out / 'timing.csv', TIMING_COLUMNS)) == 4 * n_methods
    assert 'synthetic' in stdout
    # Pair 02 has an RGB visible image: the fused image keeps its colour.
    fused = cv2.imread(str(out / 'fused' / 'synthetic' / 'average' / '02.png'), cv2.IMREAD_UNCHANGED)
    assert fused.shape == (240, 320, 3) and not (fused[..., :1] == fused[..., 1:]).all()
    assert cv2.imread(str(out / 'fused' / 'synthetic' / 'average' / '01.png'), cv2.IMREAD_UNCHANGED).ndim == 2


@pytest.mark.parametrize('offline', ['closed-mirror', 'no-fetch'])
def test_missing_data_falls_back_to_synthetic(tmp_path, capsys, no_backoff, offline):
    empty = tmp_path / 'empty'
    empty.mkdir()
    out = tmp_path / 'run'
    how = ['--mirror', f'http://127.0.0.1:{closed_port()}'] if offline == 'closed-mirror' else ['--no-fetch']
    code, stdout, stderr = cli(capsys, 'run', '--methods', PIPELINE, '--datasets', 'tno42', '--metrics', FAST,
                               '--data-root', empty, *how, '--out', out, '--no-progress')
    assert code == 0, stderr
    assert 'SYNTHETIC SET INSTEAD' in stderr and 'tno42' in stderr
    assert 'synthetic' in stdout.lower() and 'tno42 is not available' in stdout
    if offline == 'closed-mirror':
        assert 'fetching failed' in stderr
    meta = json.loads((out / 'run.json').read_text())
    invocation = meta['invocations'][-1]
    assert invocation['substituted'] == {'tno42': 'synthetic'}
    assert any('SYNTHETIC' in note for note in invocation['notes'])
    assert list(meta['datasets']) == ['synthetic']
    scores = table(out / 'scores.csv', SCORE_COLUMNS)
    assert scores and {r['dataset'] for r in scores} == {'synthetic'}
    assert table(out / 'errors.csv', ERROR_COLUMNS) == []


def test_no_fallback_makes_missing_data_error_rows(tmp_path, capsys, no_backoff):
    empty = tmp_path / 'empty'
    empty.mkdir()
    out = tmp_path / 'run'
    code, stdout, stderr = cli(capsys, 'run', '--methods', PIPELINE, '--datasets', 'tno42', '--metrics', FAST,
                               '--data-root', empty, '--mirror',
                               f'http://127.0.0.1:{closed_port()}', '--no-fallback', '--out', out, '--no-progress')
    assert code == 1
    assert 'synthetic' not in (stdout + stderr).lower()
    n_methods = len(PIPELINE_METHODS)
    errors = table(out / 'errors.csv', ERROR_COLUMNS)
    assert len(errors) == 42 * n_methods
    assert {(r['stage'], r['error']) for r in errors} == {('load', 'ImageError')}
    row = next(r for r in errors if r['pair'] == '13')
    assert str(empty / 'tno42' / 'ir' / '13.png') in row['message']
    assert table(out / 'scores.csv', SCORE_COLUMNS) == []
    assert f'{42 * n_methods} error(s)' in stderr
    meta = json.loads((out / 'run.json').read_text())
    assert meta['invocations'][-1]['substituted'] == {} and list(meta['datasets']) == ['tno42']


# -- 6. data fetch / verify against a local mirror ----------------------------------------------------------------

class _MirrorServer(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[str]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        self.server.requests.append(self.path)


@pytest.fixture
def mirror(data_root):
    """`http://127.0.0.1:<port>` serving the shared data root; shut down after the test."""
    server = _MirrorServer(('127.0.0.1', 0), functools.partial(_QuietHandler, directory=str(data_root)))
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_data_fetch_from_mirror_then_verify(data_root, mirror, tmp_path, capsys, no_backoff):
    root = tmp_path / 'data'
    url = f'http://127.0.0.1:{mirror.server_address[1]}'
    manifest = load_manifest('tno21')
    code, stdout, stderr = cli(capsys, 'data', 'fetch', 'tno21', '--data-root', root, '--mirror', url, '--no-progress')
    assert code == 0, stderr
    assert len(mirror.requests) == len(manifest.files()) > 42
    for rel in manifest.files():
        assert (root / 'tno21' / rel).read_bytes() == (data_root / 'tno21' / rel).read_bytes(), rel
    assert f'{len(manifest.files())} files present and verified' in stdout

    code, stdout, _ = cli(capsys, 'data', 'verify', 'tno21', '--data-root', root, '--no-progress')
    assert code == 0
    assert f'{len(manifest.files())}/{len(manifest.files())} files OK' in stdout

    (root / 'tno21' / 'vi' / 'VIS7.png').write_bytes(b'not the image')
    (root / 'tno21' / 'ir' / 'IR3.png').unlink()
    code, stdout, _ = cli(capsys, 'data', 'verify', 'tno21', '--data-root', root, '--no-progress')
    assert code == 1
    assert re.search(r'vi/VIS7\.png: sha256 [0-9a-f]{64}, expected', stdout)
    assert 'ir/IR3.png: missing' in stdout
    assert f'{len(manifest.files()) - 2}/{len(manifest.files())} files OK' in stdout

    # Fetching again repairs exactly those two files.
    mirror.requests.clear()
    code, _, stderr = cli(capsys, 'data', 'fetch', 'tno21', '--data-root', root, '--mirror', url, '--no-progress')
    assert code == 0, stderr
    assert sorted(mirror.requests) == ['/tno21/ir/IR3.png', '/tno21/vi/VIS7.png']
    assert cli(capsys, 'data', 'verify', 'tno21', '--data-root', root, '--no-progress')[0] == 0


def test_run_fetches_missing_data_from_mirror_in_environment(data_root, mirror, tmp_path, capsys, monkeypatch,
                                                             no_backoff):
    """`run` downloads a missing data set from $BENCH_DATA_MIRROR (as `data fetch` does) and runs on it."""
    monkeypatch.setenv('BENCH_DATA_MIRROR', f'http://127.0.0.1:{mirror.server_address[1]}')
    toml = subset_manifest(tmp_path / 'manifests', ['2', '15'], name='tno21mini', source='tno21')
    out = tmp_path / 'run'
    code, stdout, stderr = cli(capsys, 'run', '--methods', 'average', '--datasets', toml, '--data-root',
                               tmp_path / 'data', '--out', out, '--no-progress')
    assert code == 0, stderr
    assert 'synthetic' not in (stdout + stderr).lower()
    assert sorted(mirror.requests) == ['/tno21/ir/IR15.png', '/tno21/ir/IR2.png', '/tno21/vi/VIS15.png',
                                       '/tno21/vi/VIS2.png']
    assert {r['pair'] for r in table(out / 'scores.csv', SCORE_COLUMNS)} == {'2', '15'}


# -- 7. usage errors and listings ---------------------------------------------------------------------------------

@pytest.mark.parametrize('argv, suggestion', [
    (['run', '--methods', 'averge'], "Did you mean 'average'"),
    (['run', '--datasets', 'tno24'], "Did you mean 'tno42'"),
    (['run', '--metrics', 'enn'], "Did you mean 'en'"),
    (['run', '--convention', 'defualt'], "Did you mean 'default'"),
    (['data', 'verify', 'tno24'], "Did you mean 'tno42'"),
], ids=['method', 'dataset', 'metric', 'convention', 'data-verify'])
def test_unknown_name_is_a_usage_error_with_suggestion(tmp_path, capsys, argv, suggestion):
    out = tmp_path / 'run'
    extra = ['--out', str(out), '--no-progress'] if argv[0] == 'run' else ['--data-root', str(tmp_path)]
    code, stdout, stderr = cli(capsys, *argv, *extra)
    assert code == 2
    assert stderr.startswith('error: Unknown') and suggestion in stderr
    assert 'Traceback' not in stderr and stdout == ''
    assert not out.exists()  # checked before any work


@pytest.mark.parametrize('argv, message', [
    (['--results', '=somewhere'], 'Expected --results NAME=DIR'),
    (['--results', 'X=/no/such/folder'], 'folder not found'),
    (['--methods', 'average', '--results', 'average=.'], 'is also a registered method'),
    (['--warmup', '-1'], '--warmup must be >= 0'),
], ids=['empty-name', 'missing-folder', 'name-clash', 'warmup'])
def test_bad_run_option_is_a_usage_error(tmp_path, capsys, argv, message):
    code, _, stderr = cli(capsys, 'run', *argv, '--out', tmp_path / 'run', '--no-progress')
    assert code == 2 and message in stderr and 'Traceback' not in stderr


def test_report_needs_a_run_folder(tmp_path, capsys):
    code, _, stderr = cli(capsys, 'report', tmp_path)
    assert code == 2 and 'not a run folder' in stderr


def test_report_rebuilds_the_page(tmp_path, capsys):
    out = tmp_path / 'run'
    assert cli(capsys, 'run', '--datasets', 'synthetic', '--methods', 'maximum', '--metrics', FAST, '--out', out,
               '--no-progress')[0] == 0
    (out / 'report' / 'index.html').unlink()
    code, stdout, _ = cli(capsys, 'report', out)
    assert code == 0 and stdout.strip() == str(out / 'report' / 'index.html')
    assert '<table' in (out / 'report' / 'index.html').read_text()


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(['list', 'widgets'])
    assert exc.value.code == 2
    assert 'invalid choice' in capsys.readouterr().err


@pytest.mark.parametrize('what', ['methods', 'metrics', 'datasets', 'conventions'])
def test_list_prints_registered_names(capsys, what):
    expected = {'methods': methods.list_methods, 'metrics': metrics.list_metrics, 'datasets': list_datasets,
                'conventions': metrics.list_conventions}[what]()
    code, stdout, _ = cli(capsys, 'list', what)
    assert code == 0
    listed = stdout.split('\n\npresets')[0].splitlines()  # `list metrics` ends with the presets
    if what == 'methods':  # a header, then two lines a method: facts, then the paper (indented)
        assert listed[0].split()[:2] == ['method', 'year']
        listed = [line for line in listed[1:] if not line.startswith(' ')]
    assert [line.split()[0] for line in listed] == expected
    if what == 'datasets':
        assert re.search(r'^tno42\s+42 pairs', stdout, re.M) and re.search(r'^tno21\s+21 pairs', stdout, re.M)
    if what == 'methods':
        assert {'average', 'maximum'} <= set(expected)


def test_usage_error_in_a_real_process_has_no_traceback(tmp_path):
    """The module entry point maps a usage error to exit 2 too (what a shell sees)."""
    proc = subprocess.run([sys.executable, '-m', 'bench', 'run', '--methods', 'maximun', '--out', str(tmp_path / 'r'),
                           '--no-progress'], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Did you mean 'maximum'" in proc.stderr and 'Traceback' not in proc.stderr
