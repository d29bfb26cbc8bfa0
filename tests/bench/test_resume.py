"""Resuming a run that a real process lost: SIGKILL half-way, then the same command again; and Ctrl-C (SIGINT).

The runs use a slow plug-in method (its forward sleeps), registered the way a third-party package registers one:
an `ivif_bench.methods` entry point in a `*.dist-info` on PYTHONPATH. Only the subprocesses see it.
"""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.results import SCORE_COLUMNS, TIMING_COLUMNS
from tests.conftest import FAST_METRICS

REPO = Path(__file__).resolve().parents[2]
PAIRS = ['02', '05', '08', '13', '17', '21', '24', '29', '33', '40']
METHODS = ['slowmix', 'average']
SLEEP_ENV = 'SLOWMIX_SECONDS'

PLUGIN = '''
import os
import time

from methods import FusionMethod, register_method


class SlowMix(FusionMethod):
    def forward(self, ir, vis):
        time.sleep(float(os.environ.get('{env}', '0.2')))
        return 0.75 * ir + 0.25 * vis


@register_method(paper='test plug-in: 3/4 IR + 1/4 visible, slowly', licence='MIT', tags=('test',))
def slowmix():
    return SlowMix()
'''.format(env=SLEEP_ENV)


def table(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    with open(path, newline='', encoding='utf-8') as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == columns, path
        return list(reader)


def n_rows(path: Path) -> int:
    try:
        return max(path.read_bytes().count(b'\n') - 1, 0)
    except FileNotFoundError:
        return 0


@pytest.fixture(scope='module')
def setup(tmp_path_factory, data_root) -> dict:
    """The plug-in package dir, a 10-pair tno42 manifest and the environment for the subprocesses."""
    tmp = tmp_path_factory.mktemp('resume')
    plug = tmp / 'plug'
    (plug / 'slowmix_plugin-0.1.dist-info').mkdir(parents=True)
    (plug / 'slowmix_plugin.py').write_text(PLUGIN)
    (plug / 'slowmix_plugin-0.1.dist-info' / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: slowmix-plugin\nVersion: 0.1\n')
    (plug / 'slowmix_plugin-0.1.dist-info' / 'entry_points.txt').write_text(
        '[ivif_bench.methods]\nslowmix = slowmix_plugin\n')

    raw = tomllib.loads((REPO / 'data_manifests' / 'tno42.toml').read_text())
    lines = ''.join(f'  {{ name = "{p["name"]}", ir = "{p["ir"]}", vi = "{p["vi"]}" }},\n'
                    for p in raw['pairs'] if p['name'] in PAIRS)
    toml = tmp / 'tno42ten.toml'
    toml.write_text('name = "tno42ten"\ntitle = "10 TNO pairs"\ndescription = "test"\ncitation = "Toet 2014"\n'
                    f'licence = "see tno42"\nhomepage = ""\ndirectory = "tno42"\npairs = [\n{lines}]\n')
    files = {f'{kind}/{p}.png' for p in PAIRS for kind in ('ir', 'vi')}
    sha = [line for line in (REPO / 'data_manifests' / 'tno42.sha256').read_text().splitlines()
           if line.split(maxsplit=1)[-1] in files]
    assert len(sha) == 20
    toml.with_suffix('.sha256').write_text('\n'.join(sha) + '\n')

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(plug), str(REPO)]))
    return {'env': env, 'data_root': data_root, 'manifest': toml}


def command(setup: dict, out: Path) -> list[str]:
    return [sys.executable, '-m', 'bench', 'run', '--methods', ','.join(METHODS), '--datasets',
            str(setup['manifest']), '--data-root', str(setup['data_root']), '--out', str(out), '--metrics',
            ','.join(FAST_METRICS), '--no-progress']


def _restore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(setup: dict, out: Path, log: Path, seconds: str = '0.2') -> subprocess.Popen:
    env = dict(setup['env'], **{SLEEP_ENV: seconds})
    # A shell that starts jobs in the background may leave SIGINT ignored, and the child would inherit that.
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    with open(log.with_suffix('.out'), 'w') as stdout, open(log.with_suffix('.err'), 'w') as stderr:
        return subprocess.Popen(command(setup, out), cwd=REPO, env=env, stdout=stdout, stderr=stderr,
                                preexec_fn=_restore_sigint if ignored else None)


def finish(setup: dict, out: Path, seconds: str = '0.2') -> subprocess.CompletedProcess:
    env = dict(setup['env'], **{SLEEP_ENV: seconds})
    return subprocess.run(command(setup, out), cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def wait_for_rows(proc: subprocess.Popen, path: Path, rows: int, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while n_rows(path) < rows:
        if proc.poll() is not None:
            pytest.fail(f'run ended (exit {proc.returncode}) before {rows} rows:\n'
                        f'{log.with_suffix(".err").read_text()}')
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(f'no {rows} rows in {path} after {timeout} s')
        time.sleep(0.02)


def fused_images(out: Path) -> dict[tuple[str, str], np.ndarray]:
    return {(p.parent.name, p.stem): cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            for p in (out / 'fused' / 'tno42ten').glob('*/*.png')}


@pytest.fixture(scope='module')
def reference(setup, tmp_path_factory) -> Path:
    """The same run, uninterrupted (and without the sleep, which changes nothing but the time)."""
    out = tmp_path_factory.mktemp('reference') / 'run'
    proc = finish(setup, out, seconds='0')
    assert proc.returncode == 0, proc.stderr
    assert 'slowmix' in proc.stdout
    return out


def test_killed_run_resumes_without_fusing_twice(setup, reference, tmp_path):
    out, log = tmp_path / 'run', tmp_path / 'killed'
    proc = start(setup, out, log)
    wait_for_rows(proc, out / 'timing.csv', 3, log)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL

    # What the killed run left: whole rows only, each timed fusion with its image.
    timing_text = (out / 'timing.csv').read_text()
    scores_text = (out / 'scores.csv').read_text()
    timed = table(out / 'timing.csv', TIMING_COLUMNS)
    assert 3 <= len(timed) < len(PAIRS) * len(METHODS)
    for row in timed:
        assert row['method'] == 'slowmix' and float(row['seconds']) >= 0.2 and row['device'] == 'cpu'
        assert cv2.imread(str(out / 'fused' / 'tno42ten' / 'slowmix' / f'{row["pair"]}.png')) is not None
    for row in table(out / 'scores.csv', SCORE_COLUMNS):
        float(row['value'])

    proc = finish(setup, out)
    assert proc.returncode == 0, proc.stderr
    assert f'Fused {len(PAIRS) * len(METHODS) - len(timed)} pairs' in proc.stdout
    assert (out / 'timing.csv').read_text().startswith(timing_text)
    assert (out / 'scores.csv').read_text().startswith(scores_text)

    timing = table(out / 'timing.csv', TIMING_COLUMNS)
    keys = [(r['pair'], r['method']) for r in timing]
    assert len(keys) == len(set(keys)) == len(PAIRS) * len(METHODS)  # no pair fused twice
    scores = table(out / 'scores.csv', SCORE_COLUMNS)
    got = {(r['pair'], r['method'], r['metric']): r['value'] for r in scores}
    assert len(got) == len(scores)
    want = {(r['pair'], r['method'], r['metric']): r['value'] for r in table(reference / 'scores.csv', SCORE_COLUMNS)}
    assert got == want
    images, ref_images = fused_images(out), fused_images(reference)
    assert images.keys() == ref_images.keys() and len(images) == len(PAIRS) * len(METHODS)
    assert all(np.array_equal(images[k], ref_images[k]) for k in images)


def test_ctrl_c_exits_130_and_resumes(setup, reference, tmp_path):
    out, log = tmp_path / 'run', tmp_path / 'interrupted'
    proc = start(setup, out, log)
    wait_for_rows(proc, out / 'timing.csv', 1, log)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    stderr = log.with_suffix('.err').read_text()
    assert 'Interrupted' in stderr and 'run the same command again to resume' in stderr
    assert 'Traceback' not in stderr
    done = len(table(out / 'timing.csv', TIMING_COLUMNS))
    assert 1 <= done < len(PAIRS) * len(METHODS)

    proc = finish(setup, out, seconds='0')
    assert proc.returncode == 0, proc.stderr
    timing = table(out / 'timing.csv', TIMING_COLUMNS)
    assert len({(r['pair'], r['method']) for r in timing}) == len(timing) == len(PAIRS) * len(METHODS)
    assert (out / 'scores.csv').read_text().count('\n') == (reference / 'scores.csv').read_text().count('\n')
