"""`python -m bench speed` on a small image: the tables it prints and the memory probe of every convention."""
from __future__ import annotations

import pytest

import metrics
from bench.speed import fitting_metrics, main, memory_probe


@pytest.mark.parametrize('convention', metrics.list_conventions())
def test_memory_probe_runs_every_metric_of_a_convention(convention):
    # The warm-up triple must be large enough for every metric (VIF's windows need 17 px; an 8 px crop failed).
    names = fitting_metrics(convention, 40, 48)
    assert names and ('ms_ssim' not in names) and (convention != 'default' or 'vif' in names)
    probe = memory_probe(convention, names, 40, 48)
    assert probe['first_triple_mb'] >= 0 and len(probe['after_each_of_40_mb']) == 40


def test_speed_prints_times_and_throughput(capsys):
    assert main(['--size', '48x40', '--repeats', '2', '--batches', '1,2', '--no-memory']) == 0
    out = capsys.readouterr().out
    assert '48x40 triple' in out and 'paper metrics ms' in out and 'triples/s' in out
    assert 'skipped (image smaller' in out and 'default/ms_ssim' in out
    for convention in metrics.list_conventions():
        assert f'\n{convention} ' in out


def test_bad_size_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(['--size', '640by480'])
    assert exit_.value.code == 2 and "expected WIDTHxHEIGHT" in capsys.readouterr().err
