"""`bench score`: existing fused images matched to sources by name, scored, printed and written as a long CSV."""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

import metrics
from bench.cli import main
from bench.score import match_triples, name_keys, score_triples
from tests.conftest import FAST_METRICS


def _write(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image if image.ndim == 2 else image[..., ::-1])


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(0)
    images = {}
    for k in (1, 2, 10):
        ir = rng.integers(0, 256, (20, 24), dtype=np.uint8)
        vi = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
        fused = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
        _write(tmp_path / 'ir' / f'IR{k}.png', ir)
        _write(tmp_path / 'vi' / f'VIS{k}.png', vi)
        _write(tmp_path / 'out' / f'fused_{k}_ours.png', fused)
        images[str(k)] = (ir, vi, fused)
    return tmp_path, images


def _t(image):
    t = torch.from_numpy(image)
    return (t[None] if t.ndim == 2 else t.permute(2, 0, 1))[None]


def test_name_keys_cut_only_at_word_boundaries():
    assert name_keys(['running', 'walking']) == {'running': 'running', 'walking': 'walking'}
    assert name_keys(['fused_x_IR1', 'fused_x_IR12']) == {'fused_x_IR1': '1', 'fused_x_IR12': '12'}
    assert name_keys(['a01b', 'a02b']) == {'a01b': '01', 'a02b': '02'}


def test_score_folders_writes_long_csv_equal_to_direct_scores(folders, capsys):
    root, images = folders
    out = root / 'scores.csv'
    code = main(['score', '--ir', str(root / 'ir'), '--vi', str(root / 'vi'), '--fused', str(root / 'out'),
                 '--metrics', 'en,sd', '--out', str(out), '--no-progress'])
    assert code == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ['ir', 'vi', 'fused', 'convention', 'metric', 'value']
    assert len(table) == 6 and set(table['convention']) == {'default'}
    for key, (ir, vi, fused) in images.items():
        direct = metrics.score_images(_t(fused), _t(ir), _t(vi), ['en', 'sd'])
        rows = table[table['fused'].str.endswith(f'fused_{key}_ours.png')].set_index('metric')['value']
        assert rows['en'] == pytest.approx(direct['en'].item(), rel=1e-15)
        assert rows['sd'] == pytest.approx(direct['sd'].item(), rel=1e-15)
        assert table[table['fused'].str.endswith(f'fused_{key}_ours.png')]['ir'].str.endswith(f'IR{key}.png').all()
    printed = capsys.readouterr().out
    assert 'mean' in printed and ' en ' in printed and ' sd' in printed  # as `run` prints them


def test_batches_are_single_triples_on_the_cpu_unless_asked(folders, monkeypatch):
    root, _ = folders
    triples, _ = match_triples(root / 'ir', root / 'vi', root / 'out')
    sizes = []
    real = metrics.score_images
    monkeypatch.setattr(metrics, 'score_images',
                        lambda f, *rest, **kw: sizes.append(f.shape[0]) or real(f, *rest, **kw))
    assert len(list(score_triples(triples, ['en'], 'default'))) == 3
    assert len(list(score_triples(triples, ['en'], 'default', batch=2))) == 3
    assert sizes == [1, 1, 1, 2, 1]


def test_templates_and_single_files(folders):
    root, _ = folders
    triples, problems = match_triples(root / 'ir' / 'IR{name}.png', root / 'vi' / 'VIS{name}.png',
                                      root / 'out' / 'fused_{name}_ours.png')
    assert [t.name for t in triples] == ['1', '2', '10'] and problems == []
    triples, _ = match_triples(root / 'ir' / 'IR2.png', root / 'vi' / 'VIS2.png', root / 'out' / 'fused_2_ours.png')
    assert len(triples) == 1 and triples[0].vi.name == 'VIS2.png'


def test_missing_and_mismatched_images_are_reported(folders, capsys):
    root, _ = folders
    (root / 'vi' / 'VIS10.png').unlink()
    _write(root / 'out' / 'fused_2_ours.png', np.zeros((5, 5), np.uint8))
    code = main(['score', '--ir', str(root / 'ir'), '--vi', str(root / 'vi'), '--fused', str(root / 'out'),
                 '--metrics', 'en', '--out', str(root / 's.csv'), '--no-progress'])
    err = capsys.readouterr().err
    assert code == 1
    assert "'10': no vi image" in err and 'size mismatch' in err and 'fused_2_ours.png is 5x5' in err
    assert len(pd.read_csv(root / 's.csv')) == 1          # pair 1 is still scored


def test_usage_errors(folders, capsys):
    root, _ = folders
    assert main(['score', '--ir', str(root / 'nope'), '--vi', str(root / 'vi'), '--fused', str(root / 'out')]) == 2
    assert 'Not found' in capsys.readouterr().err
    assert main(['score', '--ir', str(root / 'ir'), '--vi', str(root / 'vi'), '--fused', str(root / 'out'),
                 '--metrics', 'enn']) == 2
    assert "Did you mean 'en'" in capsys.readouterr().err


def test_score_agrees_with_run_on_published_results(data_root, tmp_path):
    """The same published images scored by `bench score` and by `bench run --results` give the same numbers."""
    fused = data_root / 'tno21' / 'fused' / 'RFN-Nest'
    assert main(['score', '--ir', str(data_root / 'tno21/ir'), '--vi', str(data_root / 'tno21/vi'),
                 '--fused', str(fused), '--metrics', ','.join(FAST_METRICS), '--out', str(tmp_path / 's.csv'),
                 '--no-progress']) == 0
    assert main(['run', '--results', f'RFN={fused}', '--datasets', 'tno21', '--data-root', str(data_root),
                 '--metrics', ','.join(FAST_METRICS), '--out', str(tmp_path / 'run'), '--no-progress']) == 0
    scored = pd.read_csv(tmp_path / 's.csv')
    run = pd.read_csv(tmp_path / 'run' / 'scores.csv', dtype={'pair': str})
    scored['pair'] = scored['ir'].str.extract(r'IR(\d+)\.png$')[0]
    merged = scored.merge(run, on=['pair', 'metric'], suffixes=('_score', '_run'))
    assert len(merged) == len(scored) == len(run) > 0
    # Batched (score) and single-image (run) reductions may sum in another order: agreement to 1e-10, not bits.
    np.testing.assert_allclose(merged['value_score'], merged['value_run'], rtol=1e-10)
