"""TarDAL reproduces VIF-Benchmark's published run (Nonex111/vif_benchmark @ 71558c9, `Results/TarDAL`: tardal++.pt
in float16 on a GPU), fused through `bench run` with the default protocol (float16 arithmetic emulated in float32,
see methods/tardal.py).

Floor (issue 14): every image >= 55 dB and within 2 grey levels. The float16 emulation does better (72-89 dB, every
pixel within one level, on all 12 images of that run); a median of 70 dB pins it, as plain float32 arithmetic
(`half=False`, the official README's command) stays at 55-75 dB with up to 3 levels off.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.methods.vifbench_zoo import reproduce, summary_line

pytestmark = [pytest.mark.calibration, pytest.mark.slow, pytest.mark.usefixtures('one_torch_thread')]


def test_tardal_reproduces_vif_benchmark_run(tmp_path, data_root, weights_dir):
    rows = reproduce('tardal', 'TarDAL', tmp_path, data_root, weights_dir)
    print(summary_line('tardal', rows), rows)
    bad = [r for r in rows if r[1] < 55 or r[2] > 2]
    assert not bad, f'tardal: images below 55 dB or off by more than 2 grey levels: {bad}'
    assert np.median([r[1] for r in rows]) >= 70, rows
