"""The runner's timing rows: FLOPs, peak memory, parameters, threads and device name; old run folders still open."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from bench.cli import main
from bench.results import TIMING_COLUMNS, RunStore
from bench.timing import MemoryProbe, count_flops, count_parameters, device_name, profile

OLD_COLUMNS = TIMING_COLUMNS[:7]
HAS_PROC = Path('/proc/self/clear_refs').exists()


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline='') as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == TIMING_COLUMNS
        return list(reader)


def test_flops_of_a_convolution():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    x = torch.zeros(1, 3, 20, 30)
    assert count_flops(conv, x) == 2 * 3 * 8 * 9 * 20 * 30  # multiply-add = 2; the bias add is not counted
    assert count_parameters(conv) == 3 * 8 * 9 + 8 and count_parameters(lambda t: t) is None
    assert count_flops(lambda t: t * 2, x) == 0                # element-wise: not counted


@pytest.mark.skipif(not HAS_PROC, reason='CPU peak memory is measured through /proc (Linux)')
def test_peak_memory_of_a_call():
    x = torch.ones(8 << 20)                                     # 32 MiB in place before the call
    flops, peak = profile(lambda t: (t * 2 + 1).sum(), x, device='cpu')
    assert flops == 0
    assert 30 << 20 <= peak < 200 << 20                         # the call's temporaries, not the input
    probe = MemoryProbe('cpu')
    probe.start()
    assert probe.stop() < 16 << 20                              # nothing allocated: (almost) nothing measured


def test_old_timing_table_is_upgraded(tmp_path):
    (tmp_path / 'timing.csv').write_text(','.join(OLD_COLUMNS) + '\ntno42,01,avg,0.5,cpu,4,4\n')
    store = RunStore(tmp_path)
    assert ('tno42', '01', 'avg') in store.timed
    store.add_timing('tno42', '02', 'avg', 0.25, 'cpu', 4, 4, device_name='X', threads=2, peak_memory_bytes=10,
                     params=3, flops=None)
    old, new = rows(tmp_path / 'timing.csv')
    assert old['seconds'] == '0.5' and old['threads'] == '' and old['flops'] == ''
    assert (new['device_name'], new['threads'], new['peak_memory_bytes'], new['params'], new['flops']) == \
        ('X', '2', '10', '3', '')
    (tmp_path / 'timing.csv').write_text('dataset,pair,other\n')
    with pytest.raises(ValueError, match='not a run folder of this version'):
        RunStore(tmp_path)


def test_run_writes_the_facts(tmp_path, capsys):
    out = tmp_path / 'run'
    code = main(['run', '--methods', 'average', '--datasets', 'synthetic', '--metrics', 'en', '--out', str(out),
                 '--no-progress'])
    assert code == 0, capsys.readouterr().err
    timing = rows(out / 'timing.csv')
    assert len(timing) == 4
    assert {r['device_name'] for r in timing} == {device_name('cpu')} and device_name('cpu')
    assert {r['threads'] for r in timing} == {str(torch.get_num_threads())}
    assert {r['params'] for r in timing} == {'0'}
    counted = [r for r in timing if r['flops'] != '']
    assert len(counted) == 1 and counted[0]['flops'] == '0'     # one profiled call per method
    assert [r['peak_memory_bytes'] != '' for r in timing] == [r is counted[0] for r in timing] or not HAS_PROC
    html = (out / 'report' / 'index.html').read_text()
    assert 'Fusion time per image' in html and 'CPU (' in html
