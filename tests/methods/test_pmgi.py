"""PMGI reproduces VIF-Benchmark's published run (Nonex111/vif_benchmark @ 71558c9, `Results/PMGI`), fused through
`bench run` with the default protocol: every image >= 80 dB and within one grey level (issue 14's floor)."""
from __future__ import annotations

import pytest

from tests.methods.vifbench_zoo import reproduce, summary_line

pytestmark = [pytest.mark.calibration, pytest.mark.slow, pytest.mark.usefixtures('one_torch_thread')]


def test_pmgi_reproduces_vif_benchmark_run(tmp_path, data_root, weights_dir):
    rows = reproduce('pmgi', 'PMGI', tmp_path, data_root, weights_dir)
    print(summary_line('pmgi', rows), rows)
    bad = [r for r in rows if r[1] < 80 or r[2] > 1]
    assert not bad, f'pmgi: images below 80 dB or off by more than 1 grey level: {bad}'
