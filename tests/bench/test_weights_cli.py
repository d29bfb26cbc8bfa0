"""`python -m bench weights list|fetch|verify` and missing weights in `bench run`, against a local HTTP server."""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import shutil
import socket
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench import download
from bench.cli import main
from bench.download import ChecksumError, DownloadError
from bench.weights import WeightFile, fetch_weights, verify_weights
from methods._weights import official_weights, weights_manifest
from tests.conftest import FAST_METRICS


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    servers = []

    def start(root: Path) -> str:
        srv = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(root)))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f'http://127.0.0.1:{srv.server_address[1]}'
    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _git_blob(data: bytes) -> str:
    return hashlib.sha1(b'blob %d\0' % len(data) + data).hexdigest()


def test_manifest_lists_every_registered_weight_file():
    import methods
    manifest = weights_manifest()
    for name in methods.list_methods():
        for w in methods.get_method_spec(name).weights:
            entry = manifest[w.file]
            assert entry['url'].startswith('https://') and (entry.get('sha256') or entry.get('git_blob'))
            assert name in entry['methods'], (name, w.file)
    for entry in manifest.values():
        assert len(entry.get('sha256', '0' * 64)) == 64 and len(entry.get('git_blob', '0' * 40)) == 40


def test_fetch_from_mirror_then_verify(serve, weights_dir, tmp_path, capsys):
    mirror = serve(weights_dir)
    dest = tmp_path / 'w'
    assert main(['weights', 'fetch', 'u2fusion', '--weights-dir', str(dest), '--mirror', mirror,
                 '--no-progress']) == 0
    assert 'u2fusion: 2 file(s) present and verified' in capsys.readouterr().out
    assert main(['weights', 'verify', 'u2fusion', '--weights-dir', str(dest)]) == 0
    data = dest / 'u2fusion/model/model.ckpt.data-00000-of-00001'
    data.write_bytes(data.read_bytes()[:-1] + b'\0')
    assert main(['weights', 'verify', 'u2fusion*', '--weights-dir', str(dest)]) == 1
    out = capsys.readouterr().out
    assert 'u2fusion: u2fusion/model/model.ckpt.data-00000-of-00001: sha256 ' in out and '1/2 file(s) OK' in out
    assert main(['weights', 'fetch', 'u2fusion', '--weights-dir', str(dest), '--mirror', mirror,
                 '--no-progress']) == 0  # the damaged file is downloaded again
    assert main(['weights', 'verify', 'u2fusion', '--weights-dir', str(dest)]) == 0
    assert main(['weights', 'list', 'csf', '--weights-dir', str(dest)]) == 0
    assert '[missing]' in capsys.readouterr().out


def test_fetch_zip_member_and_git_blob_files(serve, tmp_path):
    site = tmp_path / 'site'
    site.mkdir()
    member, plain = b'checkpoint bytes' * 100, b'data known by git blob id only' * 50
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as zf:
        zf.writestr('models_gray/model.ckpt.index', member)
        zf.writestr('models_gray/other.txt', b'x')
    (site / 'models.zip').write_bytes(buf.getvalue())
    (site / 'model.data').write_bytes(plain)
    base = serve(site)
    entries = [WeightFile('m/model.ckpt.index', sha256=hashlib.sha256(member).hexdigest(), url=f'{base}/models.zip',
                          member='models_gray/model.ckpt.index'),
               WeightFile('m/model.data', git_blob=_git_blob(plain), url=f'{base}/model.data')]
    root = tmp_path / 'w'
    # a partial download left by an earlier run is completed (this server ignores Range: restarted from zero)
    (root / 'm').mkdir(parents=True)
    (root / 'm/model.data.part').write_bytes(plain[:100])
    fetch_weights(entries, root, progress=False)
    assert (root / 'm/model.ckpt.index').read_bytes() == member and (root / 'm/model.data').read_bytes() == plain
    assert verify_weights(entries, root) == {}
    (root / 'm/model.data').write_bytes(b'tampered')
    assert 'git blob id' in verify_weights(entries, root)['m/model.data']
    bad = [WeightFile('m/model.data', git_blob='0' * 40, url=f'{base}/model.data')]
    with pytest.raises(DownloadError, match='git blob id .* expected 0{40}'):
        fetch_weights(bad, root, progress=False)
    with pytest.raises(ChecksumError):
        fetch_weights([WeightFile('m/x', sha256='1' * 64, url=f'{base}/model.data')], root, progress=False)
    with pytest.raises(DownloadError, match='only on a cloud drive'):
        fetch_weights([WeightFile('m/y', sha256='1' * 64, note='only on a cloud drive')], root, progress=False)


def test_unknown_name_is_a_usage_error(capsys):
    assert main(['weights', 'fetch', 'densfuse']) == 2
    assert "Did you mean 'densefuse'" in capsys.readouterr().err


def test_missing_weights_message_says_what_where_and_how():
    import methods
    with pytest.raises(methods.WeightsNotFound) as err:
        methods.create_method('sdnet', weights_dir='/nonexistent/weights')
    msg = str(err.value)
    w = official_weights('sdnet/IR_VIS/checkpoint/IRVIS.model-10.index')
    for part in ("'sdnet/IR_VIS/checkpoint/IRVIS.model-10.index'", w.sha256, w.url,
                 '/nonexistent/weights/sdnet/IR_VIS/checkpoint/IRVIS.model-10.index',
                 '`python -m bench weights fetch sdnet`', 'BENCH_WEIGHTS_DIR'):
        assert part in msg
    blob_only = official_weights('ganmcc/checkpoint/CGAN_120/CGAN.model-4.data-00000-of-00001')
    assert blob_only.git_blob == 'c6254e54c6e5de6e7d6afeeb1932b24d9831f42b' and not blob_only.sha256


@pytest.mark.parametrize('how', ['no-fetch', 'closed-mirror'])
def test_run_records_missing_weights_as_error_row_and_goes_on(tmp_path, monkeypatch, capsys, how):
    out = tmp_path / 'run'
    if how == 'closed-mirror':  # fetching is tried and fails at once
        monkeypatch.setattr(download, '_BACKOFF_S', 0)
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            monkeypatch.setenv('BENCH_WEIGHTS_MIRROR', f'http://127.0.0.1:{sock.getsockname()[1]}')
    extra = ['--no-fetch'] if how == 'no-fetch' else []
    rc = main(['run', '--methods', 'sdnet,average', '--datasets', 'synthetic', '--metrics', *FAST_METRICS[:1],
               '--out', str(out), '--weights-dir', str(tmp_path / 'empty'), '--no-progress', '--device', 'cpu',
               *extra])
    assert rc == 1
    stderr = capsys.readouterr().err
    assert ('fetching its weights failed' in stderr) == (how == 'closed-mirror') and 'Traceback' not in stderr
    with open(out / 'errors.csv', newline='') as fh:
        errors = list(csv.DictReader(fh))
    assert [(e['method'], e['stage'], e['pair']) for e in errors] == [('sdnet', 'create', '*')]
    assert 'IRVIS.model-10.index' in errors[0]['message'] and 'weights fetch sdnet' in errors[0]['message']
    with open(out / 'scores.csv', newline='') as fh:
        assert {r['method'] for r in csv.DictReader(fh)} == {'average'}
    shutil.rmtree(out)


def test_run_fetches_missing_weights_first(serve, weights_dir, tmp_path, monkeypatch, capsys):
    """`bench run` downloads a method's missing official files (here from a mirror of the weights directory), as it
    does for data sets, then runs the method."""
    monkeypatch.setenv('BENCH_WEIGHTS_MIRROR', serve(weights_dir))
    dest, out = tmp_path / 'weights', tmp_path / 'run'
    rc = main(['run', '--methods', 'sdnet', '--datasets', 'synthetic', '--metrics', *FAST_METRICS[:1],
               '--out', str(out), '--weights-dir', str(dest), '--no-progress', '--device', 'cpu'])
    stderr = capsys.readouterr().err
    assert rc == 0, stderr
    assert 'Method sdnet: weight files missing' in stderr
    assert main(['weights', 'verify', 'sdnet', '--weights-dir', str(dest)]) == 0
    with open(out / 'scores.csv', newline='') as fh:
        assert {r['method'] for r in csv.DictReader(fh)} == {'sdnet'}
