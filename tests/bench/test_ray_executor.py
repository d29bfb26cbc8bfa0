"""`--executor ray` on a local Ray instance: the run folder holds exactly the rows and images of the in-process run.

One Ray instance serves the module (starting one takes 10-20 s on a small machine); runs join it, in this process
or, for the Ctrl-C test, from a real subprocess through `--ray-address`. The data set is a user manifest of twelve
real TNO-42 pairs. Two test plug-in methods, registered through an entry point on PYTHONPATH (which the workers
inherit from the instance's start): `crashy` SIGKILLs the process it runs in once per token file it claims (a worker
killed mid-run), `slowmix` sleeps as long as a file says (time to interrupt).

Scores equal the in-process ones to the last bit only with the same threads: some metrics' parallel sums (SD, CC,
AG, NMI, ...) add in another order with another thread count, a difference in the 12th-16th significant digit. The
workers hold one CPU each (`--cpus-per-task 1`: one thread), so the in-process reference runs with one thread too.
"""
from __future__ import annotations

import csv
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from bench.executors import ExecutorConfig, ray_installed
from bench.results import ERROR_COLUMNS, SCORE_COLUMNS, TIMING_COLUMNS

REPO = Path(__file__).resolve().parents[2]
PAIRS = ['01', '04', '07', '10', '13', '16', '19', '22', '25', '28', '31', '34']
METRICS = ['en', 'sd', 'sf', 'ag', 'cc']   # SD, AG and CC differ with the thread count: they check it is the same
ONE_THREAD = {'OMP_NUM_THREADS': '1', 'NUMBA_NUM_THREADS': '1'}

needs_ray = pytest.mark.skipif(not ray_installed(), reason='needs Ray: pip install -e ".[ray]" (the test extra has it)')

PLUGIN = '''
import os
import signal
import time
from pathlib import Path

from methods import FusionMethod, register_method


class Crashy(FusionMethod):
    def forward(self, ir, vis):
        for token in sorted(Path(os.environ['CRASHY_TOKENS']).glob('kill-*')):
            try:
                token.unlink()  # claimed: one death per token, whichever worker gets it
            except FileNotFoundError:
                continue
            os.kill(os.getpid(), signal.SIGKILL)
        return 0.25 * ir + 0.75 * vis


class SlowMix(FusionMethod):
    def forward(self, ir, vis):
        seconds = Path(os.environ['CRASHY_TOKENS']).parent / 'slowmix_seconds'  # workers share no later env
        time.sleep(float(seconds.read_text()) if seconds.is_file() else 0)
        return 0.75 * ir + 0.25 * vis


@register_method(paper='test plug-in: dies once per token file', licence='MIT', tags=('test',))
def crashy():
    return Crashy()


@register_method(paper='test plug-in: 3/4 IR + 1/4 visible, slowly', licence='MIT', tags=('test',))
def slowmix():
    return SlowMix()
'''


def rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    with open(path, newline='', encoding='utf-8') as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == columns, path
        return list(reader)


def scores(out: Path, methods=None) -> dict[tuple, tuple[str, str]]:
    """{(pair, method, metric): (value as written, key)}, asserting each score row is there once."""
    got = {}
    for r in rows(out / 'scores.csv', SCORE_COLUMNS):
        if methods is None or r['method'] in methods:
            k = (r['pair'], r['method'], r['metric'])
            assert k not in got, f'score row {k} twice'
            got[k] = (r['value'], r['key'])
    return got


def timings(out: Path, methods=None) -> dict[tuple, tuple]:
    """{(pair, method): the row's facts that do not vary between runs}, asserting each fusion is there once."""
    got = {}
    for r in rows(out / 'timing.csv', TIMING_COLUMNS):
        if methods is None or r['method'] in methods:
            k = (r['pair'], r['method'])
            assert k not in got, f'timing row {k} twice'
            got[k] = tuple(r[c] for c in ('device', 'height', 'width', 'threads', 'params', 'key', 'node', 'gpu'))
    return got


def images(out: Path, methods=None) -> dict[tuple, str]:
    return {(p.stem, p.parent.name): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (out / 'fused').glob('*/*/*.png') if methods is None or p.parent.name in methods}


def assert_same(out: Path, reference: Path, methods: list[str]) -> None:
    """Same rows (each once; their order may differ), same keys, same values, byte-identical fused images."""
    assert scores(out, methods) == scores(reference, methods)
    assert len(scores(out, methods)) == len(PAIRS) * len(methods) * len(METRICS)
    assert timings(out, methods) == timings(reference, methods)
    assert images(out, methods) == images(reference, methods) and len(images(out, methods)) == len(PAIRS) * len(
        methods)


@pytest.fixture(scope='module')
def setup(tmp_path_factory, data_root) -> dict:
    """The plug-ins on PYTHONPATH, a 12-pair TNO-42 manifest, the token folder of `crashy`."""
    tmp = tmp_path_factory.mktemp('ray')
    plug = tmp / 'plug'
    (plug / 'raytest_plugin-0.1.dist-info').mkdir(parents=True)
    (plug / 'raytest_plugin.py').write_text(PLUGIN)
    (plug / 'raytest_plugin-0.1.dist-info' / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: raytest-plugin\nVersion: 0.1\n')
    (plug / 'raytest_plugin-0.1.dist-info' / 'entry_points.txt').write_text(
        '[ivif_bench.methods]\nraytest = raytest_plugin\n')
    raw = tomllib.loads((REPO / 'data_manifests' / 'tno42.toml').read_text())
    lines = ''.join(f'  {{ name = "{p["name"]}", ir = "{p["ir"]}", vi = "{p["vi"]}" }},\n'
                    for p in raw['pairs'] if p['name'] in PAIRS)
    toml = tmp / 'tno12.toml'
    toml.write_text('name = "tno12"\ntitle = "12 TNO pairs"\ndescription = "test"\ncitation = "Toet 2014"\n'
                    f'licence = "see tno42"\nhomepage = ""\ndirectory = "tno42"\npairs = [\n{lines}]\n')
    files = {f'{kind}/{p}.png' for p in PAIRS for kind in ('ir', 'vi')}
    toml.with_suffix('.sha256').write_text(''.join(
        line + '\n' for line in (REPO / 'data_manifests' / 'tno42.sha256').read_text().splitlines()
        if line.split(maxsplit=1)[-1] in files))
    tokens = tmp / 'tokens'
    tokens.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(plug), str(REPO)]), CRASHY_TOKENS=str(tokens),
               BENCH_REPORT_FIGURES='0')
    return {'env': env, 'plug': plug, 'manifest': toml, 'data_root': data_root, 'tokens': tokens,
            'slow': tmp / 'slowmix_seconds'}


def command(setup: dict, out: Path, methods: list[str], *extra: str) -> list[str]:
    return [sys.executable, '-m', 'bench', 'run', '--methods', ','.join(methods), '--datasets',
            str(setup['manifest']), '--data-root', str(setup['data_root']), '--out', str(out), '--metrics',
            ','.join(METRICS), '--device', 'cpu', '--no-progress', *extra]


@pytest.fixture(scope='module')
def reference(setup, tmp_path_factory) -> Path:
    """The in-process run of every test method (one thread, as each worker has)."""
    out = tmp_path_factory.mktemp('reference') / 'run'
    proc = subprocess.run(command(setup, out, ['average', 'maximum', 'crashy', 'slowmix']), cwd=REPO,
                          env=dict(setup['env'], **ONE_THREAD), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert rows(out / 'errors.csv', ERROR_COLUMNS) == []
    return out


@pytest.fixture(scope='module')
def cluster(setup):
    """A local Ray instance of 2 CPUs whose workers see the plug-ins; its address."""
    import ray
    saved = {k: os.environ.get(k) for k in ('PYTHONPATH', 'CRASHY_TOKENS', 'RAY_AUTH_MODE')}
    os.environ.update({k: setup['env'][k] for k in ('PYTHONPATH', 'CRASHY_TOKENS')})
    sys.path.insert(0, str(setup['plug']))  # this process plans the runs: it must know the plug-in names too
    ray.init(address='local', num_cpus=2, include_dashboard=False, logging_level='warning')  # never another's
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        sys.path.remove(str(setup['plug']))
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_on_ray(setup: dict, out: Path, methods: list[str], metrics=METRICS, results=(), **executor):
    from bench.runner import RunConfig, run_benchmark
    cfg = RunConfig(methods=methods, datasets=[str(setup['manifest'])], metrics=metrics, out=out,
                    data_root=setup['data_root'], device='cpu', fetch=False, fallback=False, progress=False,
                    results=list(results), executor=ExecutorConfig('ray', **executor))
    return run_benchmark(cfg)


@needs_ray
@pytest.mark.ray
def test_ray_run_has_the_rows_of_the_in_process_run(setup, reference, cluster, tmp_path):
    out = tmp_path / 'run'
    summary = run_on_ray(setup, out, ['average', 'maximum', 'crashy'], metrics=METRICS[:3], chunk_size=5)
    assert summary.fused == 3 * len(PAIRS) and summary.errors == 0
    # More metrics: the fused images in the run folder are scored again (the driver sends them), not fused again;
    # and published results (here the reference's `maximum` images) are scored by the workers too.
    published = ('published', reference / 'fused' / 'tno12' / 'maximum', None)
    summary = run_on_ray(setup, out, ['average', 'maximum', 'crashy'], results=[published], chunk_size=5)
    assert summary.fused == 0 and summary.reused == 3 * len(PAIRS) and summary.errors == 0
    assert rows(out / 'errors.csv', ERROR_COLUMNS) == []
    assert_same(out, reference, ['average', 'maximum', 'crashy'])
    assert {k[0::2]: v[0] for k, v in scores(out, ['published']).items()} == \
        {k[0::2]: v[0] for k, v in scores(reference, ['maximum']).items()}
    timing = rows(out / 'timing.csv', TIMING_COLUMNS)
    assert {r['node'] for r in timing} == {socket.gethostname()} and {r['threads'] for r in timing} == {'1'}
    assert sum(1 for r in timing if r['flops']) == 3  # FLOPs and memory counted once per method and data set
    import json
    executor = json.loads((out / 'run.json').read_text())['invocations'][-1]['executor']
    assert executor['name'] == 'ray' and executor['cpus'] == 2 and executor['gpus'] == 0
    assert executor['chunk_size'] == 5 and [n['cpus'] for n in executor['nodes']] == [2]


@needs_ray
@pytest.mark.ray
def test_killed_worker_is_restarted_and_its_chunk_redone(setup, reference, cluster, tmp_path):
    (setup['tokens'] / 'kill-1').touch()
    out = tmp_path / 'run'
    # --ship-images on the way: the driver sends the sources' bytes (for workers that do not see the data root)
    summary = run_on_ray(setup, out, ['crashy'], chunk_size=4, retries=1, ship_images=True)
    assert not list(setup['tokens'].iterdir()), 'no worker was killed'
    assert summary.errors == 0 and rows(out / 'errors.csv', ERROR_COLUMNS) == []
    assert_same(out, reference, ['crashy'])


@needs_ray
@pytest.mark.ray
def test_lost_work_is_an_error_row_and_a_rerun_completes_it(setup, reference, cluster, tmp_path):
    for i in range(2):
        (setup['tokens'] / f'kill-{i}').touch()
    out = tmp_path / 'run'
    summary = run_on_ray(setup, out, ['crashy'], chunk_size=1, retries=0)
    errors = rows(out / 'errors.csv', ERROR_COLUMNS)
    assert summary.errors == 2 and [(r['method'], r['stage']) for r in errors] == [('crashy', 'worker')] * 2
    assert all('died 1 time(s)' in r['message'] for r in errors)
    lost = {r['pair'] for r in errors}
    assert {p for p, _ in timings(out)} == set(PAIRS) - lost  # every other pair is done

    again = run_on_ray(setup, out, ['crashy'], chunk_size=1, retries=0)
    assert again.errors == 0 and again.fused == 2
    assert_same(out, reference, ['crashy'])


@needs_ray
@pytest.mark.ray
def test_interrupted_driver_stops_the_cluster_work_and_resumes(setup, reference, cluster, tmp_path):
    import ray
    out, log = tmp_path / 'run', tmp_path / 'driver'
    argv = command(setup, out, ['slowmix', 'average'], '--executor', 'ray', '--ray-address', cluster,
                   '--chunk-size', '2')
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # a background shell may have left it ignored
    # Ray's token authentication (on by default for an instance ray.init starts): a driver joining by address needs
    # the mode it set here, and reads the token from ~/.ray/auth_token.
    env = dict(setup['env'], **{k: os.environ[k] for k in ('RAY_AUTH_MODE',) if k in os.environ})
    setup['slow'].write_text('0.4')
    with open(log.with_suffix('.out'), 'w') as stdout, open(log.with_suffix('.err'), 'w') as stderr:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=stdout,
                                stderr=stderr,
                                preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)) if ignored else None)
    deadline = time.monotonic() + 120
    while not (out / 'timing.csv').is_file() or (out / 'timing.csv').read_bytes().count(b'\n') < 3:
        assert proc.poll() is None, log.with_suffix('.err').read_text()
        assert time.monotonic() < deadline, 'no rows after 120 s'
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130, log.with_suffix('.err').read_text()
    stderr = log.with_suffix('.err').read_text()
    assert 'run the same command again to resume' in stderr and 'Traceback' not in stderr
    done = len(rows(out / 'timing.csv', TIMING_COLUMNS))
    assert 2 <= done < 2 * len(PAIRS)

    deadline = time.monotonic() + 30  # its workers were killed: the cluster's CPUs are free again
    while ray.available_resources().get('CPU', 0) < 2:
        assert time.monotonic() < deadline, f'workers still hold CPUs: {ray.available_resources()}'
        time.sleep(0.2)

    written = {name: (out / name).read_text() for name in ('timing.csv', 'scores.csv')}
    setup['slow'].unlink()
    summary = run_on_ray(setup, out, ['slowmix', 'average'], chunk_size=2)  # the same run again, from here
    assert summary.fused == 2 * len(PAIRS) - done and summary.errors == 0
    assert all((out / name).read_text().startswith(text) for name, text in written.items())  # appended only
    assert_same(out, reference, ['slowmix', 'average'])


@needs_ray
@pytest.mark.ray
def test_score_on_ray_equals_in_process_score(setup, reference, cluster, tmp_path, capsys):
    from bench.cli import main
    root = setup['data_root'] / 'tno42'
    argv = ['score', '--ir', str(root / 'ir'), '--vi', str(root / 'vi'), '--fused',
            str(reference / 'fused' / 'tno12' / 'maximum'), '--metrics', ','.join(METRICS), '--no-progress']
    local = subprocess.run([sys.executable, '-m', 'bench', *argv, '--out', str(tmp_path / 'local.csv')], cwd=REPO,
                           env=dict(setup['env'], **ONE_THREAD), capture_output=True, text=True, timeout=300)
    assert local.returncode == 1 and local.stderr.count('skipped') == 42 - len(PAIRS)  # pairs not fused
    capsys.readouterr()
    assert main([*argv, '--out', str(tmp_path / 'ray.csv'), '--executor', 'ray', '--chunk-size', '5']) == 1
    out = capsys.readouterr().out
    assert (tmp_path / 'ray.csv').read_bytes() == (tmp_path / 'local.csv').read_bytes()  # same rows, same order
    assert out == local.stdout.replace(str(tmp_path / 'local.csv'), str(tmp_path / 'ray.csv'))
    assert len((tmp_path / 'ray.csv').read_text().splitlines()) == 1 + len(PAIRS) * len(METRICS)


def test_ray_missing_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path):
    import bench.executors
    from bench.cli import main
    monkeypatch.setattr(bench.executors, 'ray_installed', lambda: False)
    assert main(['run', '--methods', 'average', '--executor', 'ray', '--out', str(tmp_path / 'run')]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('error: --executor ray needs Ray') and '.[ray]' in err
    assert not (tmp_path / 'run').exists()
    assert main(['run', '--methods', 'average', '--chunk-size', '4', '--out', str(tmp_path / 'run')]) == 2
    assert capsys.readouterr().err == 'error: Expected --executor ray with --chunk-size, but got --executor local.\n'
