"""A bad input file is an error row naming the pair and the file, the other pairs are still scored, exit code 1.

Each test copies three real TNO-42 pairs into a tmp data root under a user manifest, breaks one file of pair 02,
and runs `bench.cli.main` in-process.
"""
from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import cv2
import pytest

import methods
from bench.cli import main
from bench.results import ERROR_COLUMNS, SCORE_COLUMNS, TIMING_COLUMNS
from tests.conftest import FAST_METRICS, PIPELINE, PIPELINE_METHODS

REPO = Path(__file__).resolve().parents[2]
PAIRS = ['01', '02', '03']
GARBAGE = b'this is not an image\n' * 50


def table(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    with open(path, newline='', encoding='utf-8') as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == columns, path
        return list(reader)


class MiniSet:
    """Three tno42 pairs copied under `<tmp>/data/mini`, with `<tmp>/mini.toml` and `mini.sha256` listing them."""

    def __init__(self, tmp: Path, source: Path) -> None:
        self.tmp, self.source = tmp, source
        self.root = tmp / 'data'
        self.folder = self.root / 'mini'
        self.toml = tmp / 'mini.toml'
        official = dict(reversed(line.split(maxsplit=1)) for line in
                        (REPO / 'data_manifests' / 'tno42.sha256').read_text().splitlines() if line.strip())
        self.sha = {}
        for pair in PAIRS:
            for rel in (f'ir/{pair}.png', f'vi/{pair}.png'):
                (self.folder / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / rel, self.folder / rel)
                self.sha[rel] = official[rel]
        pairs = ''.join(f'  {{ name = "{p}", ir = "ir/{p}.png", vi = "vi/{p}.png" }},\n' for p in PAIRS)
        self.toml.write_text('name = "mini"\ntitle = "3 TNO pairs"\ndescription = "test"\ncitation = "Toet 2014"\n'
                             'licence = "see tno42"\nhomepage = ""\ndirectory = "mini"\n'
                             f'pairs = [\n{pairs}]\n')
        self.write_sha()

    def write_sha(self) -> None:
        self.toml.with_suffix('.sha256').write_text(''.join(f'{h}  {rel}\n' for rel, h in sorted(self.sha.items())))

    def list_as_is(self, rel: str) -> None:
        """Makes the manifest list the file's current bytes (so checksum checks pass and decoding is what fails)."""
        self.sha[rel] = hashlib.sha256((self.folder / rel).read_bytes()).hexdigest()
        self.write_sha()

    def run(self, capsys, out: Path, *extra: str) -> tuple[int, str, str]:
        code = main(['run', '--methods', PIPELINE, '--datasets', str(self.toml), '--data-root', str(self.root),
                     '--out', str(out), '--metrics', ','.join(FAST_METRICS), '--no-progress', *extra])
        stdout, stderr = capsys.readouterr()
        return code, stdout, stderr


@pytest.fixture
def mini(data_root, tmp_path) -> MiniSet:
    return MiniSet(tmp_path, data_root / 'tno42')


def break_missing_ir(mini: MiniSet) -> tuple[str, list[str]]:
    path = mini.folder / 'ir' / '02.png'
    path.unlink()
    return 'ImageError', [f'Image file not found: {path}']


def break_undecodable(mini: MiniSet) -> tuple[str, list[str]]:
    path = mini.folder / 'vi' / '02.png'
    path.write_bytes(GARBAGE)
    mini.list_as_is('vi/02.png')
    return 'ImageError', [f'Cannot decode image file {path}']


def break_checksum(mini: MiniSet) -> tuple[str, list[str]]:
    path = mini.folder / 'ir' / '02.png'
    path.write_bytes(GARBAGE)
    return 'ChecksumError', [f'sha256 mismatch for {path}', mini.sha['ir/02.png'],
                             hashlib.sha256(GARBAGE).hexdigest()]


def break_size(mini: MiniSet) -> tuple[str, list[str]]:
    path = mini.folder / 'vi' / '02.png'
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert cv2.imwrite(str(path), image[:-10, :-7])
    mini.list_as_is('vi/02.png')
    h, w = image.shape[:2]
    return 'ValueError', ["Size mismatch in pair '02'", f'{mini.folder / "ir" / "02.png"} is {w}x{h}',
                          f'{path} is {w - 7}x{h - 10}']


@pytest.mark.parametrize('breaker', [break_missing_ir, break_undecodable, break_checksum, break_size],
                         ids=['missing-ir', 'undecodable', 'checksum-mismatch', 'size-mismatch'])
def test_bad_file_is_an_error_row_and_the_run_goes_on(mini, tmp_path, capsys, breaker):
    error, fragments = breaker(mini)
    out = tmp_path / 'run'
    code, stdout, stderr = mini.run(capsys, out)
    names, n_metrics = PIPELINE_METHODS, len(FAST_METRICS)

    assert code == 1
    assert 'Traceback' not in stderr and f'{len(names)} error(s)' in stderr
    errors = table(out / 'errors.csv', ERROR_COLUMNS)
    assert sorted(r['method'] for r in errors) == names  # the pair fails once per method
    for row in errors:
        assert (row['dataset'], row['pair'], row['stage'], row['error']) == ('mini', '02', 'load', error)
        for fragment in fragments:
            assert fragment in row['message']
    scores = table(out / 'scores.csv', SCORE_COLUMNS)
    assert len(scores) == 2 * len(names) * n_metrics
    assert {r['pair'] for r in scores} == {'01', '03'}
    assert {(r['pair'], r['method']) for r in table(out / 'timing.csv', TIMING_COLUMNS)} == \
        {(p, m) for p in ('01', '03') for m in names}
    assert not (out / 'fused' / 'mini' / names[0] / '02.png').exists()
    assert f'Errors ({len(names)})' in (out / 'report' / 'index.html').read_text()


def test_failed_pair_is_retried_when_the_run_is_resumed(mini, tmp_path, capsys):
    _, fragments = break_missing_ir(mini)
    out = tmp_path / 'run'
    code, stdout, _ = mini.run(capsys, out)
    assert code == 1
    assert 'missing files are error rows' in stdout and 'synthetic' not in stdout.lower()
    timing_before = (out / 'timing.csv').read_text()

    shutil.copyfile(mini.source / 'ir' / '02.png', mini.folder / 'ir' / '02.png')
    code, stdout, stderr = mini.run(capsys, out)
    n = len(PIPELINE_METHODS)
    assert code == 0, stderr
    assert f'Fused {n} pairs, reused 0 fused images from an earlier run' in stdout
    assert table(out / 'errors.csv', ERROR_COLUMNS) == []  # errors.csv is the latest invocation's
    assert (out / 'timing.csv').read_text().startswith(timing_before)
    assert len(table(out / 'timing.csv', TIMING_COLUMNS)) == 3 * n
    assert {r['pair'] for r in table(out / 'scores.csv', SCORE_COLUMNS)} == set(PAIRS)


def test_missing_weights_or_broken_method_is_a_create_error_row(mini, tmp_path, capsys, monkeypatch):
    """A method that cannot be built is one row with pair '*' and stage 'create'; the other methods still run."""
    def broken(name, **kwargs):
        if name == 'maximum':
            raise FileNotFoundError('weights file maximum.pth not found')
        return real(name, **kwargs)
    real = methods.create_method
    monkeypatch.setattr(methods, 'create_method', broken)
    out = tmp_path / 'run'
    code, _, _ = mini.run(capsys, out, '--methods', 'average,maximum')
    assert code == 1
    errors = table(out / 'errors.csv', ERROR_COLUMNS)
    assert [(r['pair'], r['method'], r['stage'], r['error']) for r in errors] == \
        [('*', 'maximum', 'create', 'FileNotFoundError')]
    assert 'maximum.pth' in errors[0]['message']
    assert {r['method'] for r in table(out / 'scores.csv', SCORE_COLUMNS)} == {'average'}
