"""A run folder never mixes results of different inputs, weights or metric code: stale work is redone, its rows
replaced (never duplicated), and the console says how much and why; run.json records the weight files used.

Each case runs the runner twice into one folder, changing one thing in between, and compares the folder with a
fresh run of the changed set-up. The data set is a user manifest of three small crops of TNO pairs.
"""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import bench.runner as runner
from bench.results import SCORE_COLUMNS, TIMING_COLUMNS
from bench.runner import RunConfig, run_benchmark
from tests.conftest import FAST_METRICS

PAIRS = ['a', 'b', 'c']


def rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    with open(path, newline='', encoding='utf-8') as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == columns
        return list(reader)


def values(out: Path) -> dict[tuple[str, str, str], float]:
    """{(pair, method, metric): value}, asserting each score row is there once."""
    got = {}
    for r in rows(out / 'scores.csv', SCORE_COLUMNS):
        key = (r['pair'], r['method'], r['metric'])
        assert key not in got, f'duplicate score row {key}'
        got[key] = float(r['value'])
    return got


def timing_keys(out: Path) -> list[tuple[str, str]]:
    return [(r['pair'], r['method']) for r in rows(out / 'timing.csv', TIMING_COLUMNS)]


def write_manifest(folder: Path) -> Path:
    """`folder/set.toml` + `set.sha256` for the images in folder/ir, folder/vi (directory relative to the .toml)."""
    lines = ''.join(f'  {{ name = "{p}", ir = "ir/{p}.png", vi = "vi/{p}.png" }},\n' for p in PAIRS)
    toml = folder / 'set.toml'
    toml.write_text('name = "set"\ntitle = "three crops"\ndescription = "test"\ncitation = "Toet 2014"\n'
                    f'licence = "see tno42"\nhomepage = ""\ndirectory = "."\npairs = [\n{lines}]\n')
    sums = [f'{hashlib.sha256((folder / f).read_bytes()).hexdigest()}  {f}'
            for p in PAIRS for f in (f'ir/{p}.png', f'vi/{p}.png')]
    toml.with_suffix('.sha256').write_text('\n'.join(sums) + '\n')
    return toml


@pytest.fixture
def dataset(tmp_path, data_root) -> Path:
    folder = tmp_path / 'set'
    for kind in ('ir', 'vi'):
        (folder / kind).mkdir(parents=True)
        for name, src in zip(PAIRS, ('05', '08', '13')):
            image = cv2.imread(str(data_root / 'tno42' / kind / f'{src}.png'), cv2.IMREAD_GRAYSCALE)
            cv2.imwrite(str(folder / kind / f'{name}.png'), image[40:88, 60:124])
    return write_manifest(folder)


def run(toml: Path, out: Path, methods=('average', 'maximum'), **kw):
    cfg = dict(methods=list(methods), datasets=[str(toml)], metrics=FAST_METRICS, out=out, device='cpu', warmup=0,
               fetch=False, fallback=False, progress=False)
    cfg.update(kw)
    return run_benchmark(RunConfig(**cfg))


def test_replaced_input_image_is_refused_and_rescored(dataset, tmp_path, capsys):
    out = tmp_path / 'run'
    run(dataset, out)
    before = values(out)
    # Replace pair b's IR image by another crop and update the checksums, as a data set update would.
    other = cv2.imread(str(dataset.parent / 'ir' / 'c.png'), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(dataset.parent / 'ir' / 'b.png'), np.ascontiguousarray(other[::-1]))
    write_manifest(dataset.parent)
    capsys.readouterr()
    summary = run(dataset, out)
    err = capsys.readouterr().err
    assert summary.fused == 2 and summary.complete == 4, summary      # b for both methods; a, c untouched
    assert 'input files changed' in err and 'Redoing 2 fused image(s)' in err
    assert summary.redone == {'input files changed': 2}
    after, fresh = values(out), values(run(dataset, tmp_path / 'fresh').out)
    assert after == fresh                                               # as if run from scratch on the new data
    assert any(after[k] != before[k] for k in after if k[0] == 'b')    # ... and b's scores did change
    assert all(after[k] == before[k] for k in after if k[0] != 'b')
    assert sorted(timing_keys(out)) == sorted(timing_keys(tmp_path / 'fresh'))   # one timing row per fusion


def test_unchanged_rerun_redoes_nothing(dataset, tmp_path, capsys):
    out = tmp_path / 'run'
    run(dataset, out)
    first = (out / 'scores.csv').read_bytes()
    capsys.readouterr()
    summary = run(dataset, out)
    assert summary.fused == summary.scored == 0 and summary.complete == 6 and not summary.redone
    assert 'Redoing' not in capsys.readouterr().err
    assert (out / 'scores.csv').read_bytes() == first


def test_other_weights_are_refused_and_recorded(dataset, tmp_path, capsys):
    """`--weights dfecf=OTHER` into a folder holding dfecf results: re-fused, and run.json names the file."""
    import methods
    from methods.dfecf import shipped_weights
    state = torch.load(shipped_weights('dfecf'), weights_only=True)
    state = {k: v * 0.5 if k.endswith('weight') and v.is_floating_point() else v for k, v in state.items()}
    other = tmp_path / 'other.pt'
    torch.save(state, other)
    out = tmp_path / 'run'
    run(dataset, out, methods=['dfecf'])
    shipped = values(out)
    meta = json.loads((out / 'run.json').read_text())['methods']['dfecf']
    want = hashlib.sha256(shipped_weights('dfecf').read_bytes()).hexdigest()
    assert [(w['sha256'], w['source']) for w in meta['weights']] == [(want, 'shipped')]
    capsys.readouterr()
    summary = run(dataset, out, methods=['dfecf'], method_options={'dfecf': {'weights': other}})
    assert summary.fused == 3 and 'method, options or weights changed' in capsys.readouterr().err
    mine = values(out)
    assert mine == values(run(dataset, tmp_path / 'fresh', methods=['dfecf'],
                              method_options={'dfecf': {'weights': other}}).out)
    assert mine != shipped
    meta = json.loads((out / 'run.json').read_text())['methods']['dfecf']
    assert meta['weights'][0]['file'] == str(other)
    assert meta['weights'][0]['sha256'] == hashlib.sha256(other.read_bytes()).hexdigest()
    assert 'not checked' in meta['weights'][0]['source']
    assert methods.get_method_spec('dfecf').shipped  # the shipped file is what the first run recorded


def test_metric_code_version_rescored_without_refusing(dataset, tmp_path, monkeypatch, capsys):
    out = tmp_path / 'run'
    run(dataset, out)
    monkeypatch.setattr(runner, 'METRICS_VERSION', '99.0')
    capsys.readouterr()
    summary = run(dataset, out)
    assert summary.fused == 0 and summary.reused == 6 and summary.scored == 6 * len(FAST_METRICS)
    assert 'metric code version changed' in capsys.readouterr().err
    assert {r['key'].rsplit('-', 1)[1] for r in rows(out / 'scores.csv', SCORE_COLUMNS)} == {'99.0'}
    assert len(values(out)) == 6 * len(FAST_METRICS)


def test_changed_published_result_is_rescored(dataset, tmp_path):
    fused = tmp_path / 'mine'
    fused.mkdir()
    for p in PAIRS:
        cv2.imwrite(str(fused / f'{p}.png'), cv2.imread(str(dataset.parent / 'vi' / f'{p}.png')))
    out = tmp_path / 'run'
    run(dataset, out, methods=[], results=[('Mine', fused, None)])
    before = values(out)
    image = cv2.imread(str(fused / 'c.png'), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(fused / 'c.png'), image // 2)
    summary = run(dataset, out, methods=[], results=[('Mine', fused, None)])
    assert summary.redone == {'result file changed': 1} and summary.scored == len(FAST_METRICS)
    after = values(out)
    assert all(after[('c', 'Mine', m)] != before[('c', 'Mine', m)] for m in FAST_METRICS)
    assert {k: v for k, v in after.items() if k[0] != 'c'} == {k: v for k, v in before.items() if k[0] != 'c'}


def test_folder_of_an_earlier_version_is_upgraded_and_redone(dataset, tmp_path, capsys):
    """Rows without keys (written before keys existed) cannot be trusted: they are redone, once."""
    out = tmp_path / 'run'
    run(dataset, out)
    for name, columns in (('scores.csv', SCORE_COLUMNS), ('timing.csv', TIMING_COLUMNS)):
        old = rows(out / name, columns)
        with open(out / name, 'w', newline='', encoding='utf-8') as fh:
            writer = csv.writer(fh, lineterminator='\n')
            kept = columns[:columns.index('key')]  # the columns before keys existed
            writer.writerow(kept)
            writer.writerows([r[c] for c in kept] for r in old)
    capsys.readouterr()
    summary = run(dataset, out)
    assert summary.fused == 6 and 'earlier version' in capsys.readouterr().err
    assert values(out) == values(run(dataset, tmp_path / 'fresh').out)
    assert all(r['key'] for r in rows(out / 'timing.csv', TIMING_COLUMNS))


def test_deleted_fused_image_is_refused_once(dataset, tmp_path):
    out = tmp_path / 'run'
    run(dataset, out)
    (out / 'fused' / 'set' / 'average' / 'a.png').unlink()
    summary = run(dataset, out)
    assert summary.fused == 1 and summary.redone == {'fused image missing': 1}
    assert sorted(timing_keys(out)) == sorted((p, m) for p in PAIRS for m in ('average', 'maximum'))
