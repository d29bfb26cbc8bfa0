"""Manifest paths that climb out of the set's folder (to published results kept beside it, as vifbench12's
`../zoo/vifbench12/fused/TarDAL`), never out of the data root; declared results that cover some pairs only."""
from __future__ import annotations

import functools
import hashlib
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.cli import main
from bench.datasets import ManifestError, fetch, load_manifest, verify

PAIRS = ['a', 'b', 'c']
ZOO = '../zoo/mini/fused/M'


def _write_png(path: Path, seed: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 256, (12, 16), dtype=np.uint8)
    assert cv2.imwrite(str(path), image)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mini_set(tmp: Path, results_for: list[str], results_dir: str = ZOO) -> tuple[Path, Path]:
    """A data root holding set `mini` (3 pairs) and results of method M for `results_for` under `results_dir`
    (relative to the set's folder); returns (data root, manifest path)."""
    root = tmp / 'data'
    sums = {}
    for i, name in enumerate(PAIRS):
        for k, modality in enumerate(('ir', 'vi')):
            rel = f'{modality}/{name}.png'
            sums[rel] = _write_png(root / 'mini' / rel, 10 * i + k)
    for i, name in enumerate(results_for):
        rel = f'{results_dir}/{name}.png'
        sums[rel] = _write_png(root / 'mini' / rel, 100 + i)
    rows = ''.join(f'  {{ name = "{n}", ir = "ir/{n}.png", vi = "vi/{n}.png" }},\n' for n in PAIRS)
    toml = tmp / 'manifests' / 'mini.toml'
    toml.parent.mkdir(parents=True, exist_ok=True)
    toml.write_text(
        'name = "mini"\ntitle = "t"\ndescription = "d"\ncitation = "c"\nlicence = "l"\nhomepage = "h"\n'
        f'directory = "mini"\npairs = [\n{rows}]\n\n[[sources]]\nprefix = ""\nurl = "https://example.org/"\n\n'
        f'[results.M]\ndir = "{results_dir}"\npattern = "{{pair}}.png"\n')
    toml.with_suffix('.sha256').write_text(''.join(f'{d}  {f}\n' for f, d in sums.items()))
    return root, toml


def test_results_beside_the_set_are_found_and_verified(tmp_path):
    root, toml = _mini_set(tmp_path, PAIRS)
    m = load_manifest(str(toml))
    assert m.path(root, f'{ZOO}/a.png') == root / 'zoo' / 'mini' / 'fused' / 'M' / 'a.png'
    assert m.data_path(f'{ZOO}/a.png') == 'zoo/mini/fused/M/a.png'
    assert verify(m, root) == {}
    (root / 'zoo' / 'mini' / 'fused' / 'M' / 'b.png').unlink()
    assert verify(m, root) == {f'{ZOO}/b.png': 'missing'}


@pytest.mark.parametrize('bad', ['../../elsewhere/a.png', '/etc/a.png', '../..', 'fused\\a.png'])
def test_paths_leaving_the_data_root_are_rejected(tmp_path, bad):
    _, toml = _mini_set(tmp_path, ['a'])
    sha = toml.with_suffix('.sha256')
    sha.write_text(sha.read_text() + f'{"0" * 64}  {bad}\n')
    with pytest.raises(ManifestError, match='expected paths inside the data root'):
        load_manifest(str(toml))


class _Mirror(ThreadingHTTPServer):
    daemon_threads = True


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        self.server.requests.append(self.path)


def test_mirror_fetch_puts_results_beside_the_set(tmp_path):
    """A mirror laid out like the data root serves `../zoo/...` files from `zoo/...`, and they land there."""
    source, toml = _mini_set(tmp_path / 'src', PAIRS)
    server = _Mirror(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(source)))
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        m = load_manifest(str(toml))
        root = tmp_path / 'fresh'
        fetch(m, root, mirror=f'http://127.0.0.1:{server.server_address[1]}', progress=False)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert '/zoo/mini/fused/M/a.png' in server.requests and not any('..' in r for r in server.requests)
    assert verify(m, root) == {}
    assert (root / 'zoo' / 'mini' / 'fused' / 'M' / 'c.png').read_bytes() == \
        (source / 'zoo' / 'mini' / 'fused' / 'M' / 'c.png').read_bytes()


def test_declared_results_are_scored_on_the_pairs_they_cover(tmp_path, capsys):
    """A published sample (results for 2 of 3 pairs) scores those pairs, without error rows for the third."""
    root, toml = _mini_set(tmp_path, ['a', 'c'])
    out = tmp_path / 'run'
    code = main(['run', '--results', 'M', '--datasets', str(toml), '--metrics', 'en', '--data-root', str(root),
                 '--out', str(out), '--no-progress', '--no-fetch'])
    _, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert load_manifest(str(toml)).result_pairs('M') == {'a', 'c'}
    scores = (out / 'scores.csv').read_text().splitlines()[1:]
    assert sorted(line.split(',')[1] for line in scores) == ['a', 'c']
    assert (out / 'errors.csv').read_text().splitlines()[1:] == []


def test_vifbench12_declares_the_zoo_references(data_root, tmp_path, capsys):
    """`bench run --results TarDAL --results PMGI --datasets vifbench12` scores the 4 published reference images
    of each, which the data root keeps in zoo/vifbench12/."""
    m = load_manifest('vifbench12')
    for name in ('TarDAL', 'PMGI'):
        assert m.results[name].dir == f'../zoo/vifbench12/fused/{name}'
        assert m.result_pairs(name) == {'00537D', '00881N', '108', '21'}
    out = tmp_path / 'run'
    code = main(['run', '--results', 'TarDAL', '--results', 'PMGI', '--datasets', 'vifbench12', '--metrics', 'en',
                 '--data-root', str(data_root), '--out', str(out), '--no-progress', '--no-fetch'])
    _, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert len((out / 'scores.csv').read_text().splitlines()) == 1 + 8


def test_tno21_declares_the_lrrnet_results(data_root, tmp_path, capsys):
    """`bench run --results LRRNet --datasets tno21` scores the 5 official LRRNet results (from the zip in
    hli1221/imagefusion-LRRNet) that the data root keeps in zoo/lrrnet_tno21/."""
    m = load_manifest('tno21')
    assert m.results['LRRNet'].dir == '../zoo/lrrnet_tno21/fused/LRRNet'
    assert m.result_pairs('LRRNet') == {'1', '2', '3', '4', '5'}
    url, member = m.source_of('../zoo/lrrnet_tno21/fused/LRRNet/result_lrrnet_IR3.png')
    assert url.endswith('/outputs/21_pairs_tno_new.zip') and member == 'result_lrrnet_IR3.png'
    out = tmp_path / 'run'
    code = main(['run', '--results', 'LRRNet', '--datasets', 'tno21', '--metrics', 'en', '--data-root',
                 str(data_root), '--out', str(out), '--no-progress', '--no-fetch'])
    _, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert len((out / 'scores.csv').read_text().splitlines()) == 1 + 5
