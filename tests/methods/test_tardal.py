"""TarDAL reproduces VIF-Benchmark's published run (Nonex111/vif_benchmark @ 71558c9, `Results/TarDAL`: tardal++.pt
in float16 on a GPU), fused through `bench run` with the default protocol (float16 arithmetic emulated in float32,
see methods/tardal.py).

Floor (issue 14): every image >= 55 dB and within 2 grey levels. The float16 emulation does better (72-88 dB, every
pixel within one level, on all 12 images of that run); a median of 70 dB pins it, as plain float32 arithmetic
(`half=False`, the official README's command) stays at 55-74 dB with up to 3 levels off.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.methods.vifbench_zoo import reproduce, summary_line

pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.mark.calibration
@pytest.mark.slow
def test_tardal_reproduces_vif_benchmark_run(tmp_path, data_root, weights_dir):
    rows = reproduce('tardal', 'TarDAL', tmp_path, data_root, weights_dir)
    print(summary_line('tardal', rows), rows)
    bad = [r for r in rows if r[1] < 55 or r[2] > 2]
    assert not bad, f'tardal: images below 55 dB or off by more than 2 grey levels: {bad}'
    assert np.median([r[1] for r in rows]) >= 70, rows


@pytest.mark.parametrize('name, weights', [('tardal', 'tardal++.pt'), ('tardal-dt', 'tardal.pt'),
                                           ('tardal-plus', 'tardal+.pt')])
def test_variants_load_their_official_weights(name, weights, weights_dir):
    """Each variant loads its own checkpoint (strict state dict) and runs its documented protocol."""
    import torch

    import methods
    method = methods.create_method(name, weights_dir=weights_dir)
    state = torch.load(weights_dir / 'tardal' / 'weights' / weights, map_location='cpu', weights_only=True)
    conv = state['encoder.0.weight']
    expected = conv.half().float() if method.float16 else conv
    assert torch.equal(method.net.encoder[0].weight, expected)
    assert (method.float16, method.batch_stats) == {'tardal': (True, False), 'tardal-dt': (False, True),
                                                    'tardal-plus': (False, False)}[name]
    gen = torch.Generator().manual_seed(0)
    ir, vis = (torch.randint(0, 256, (1, 1, 24, 40), generator=gen) / 255 for _ in range(2))
    fused = method.fuse(ir, vis)
    assert fused.shape == (1, 1, 24, 40)
    assert torch.equal(fused * 255, (fused * 255).round())  # grey levels
    if method.float16:  # every layer's output is a float16 number
        out = method.network(method.network_input(ir), method.network_input(vis))
        assert torch.equal(out, out.half().float())
