"""CUFD, run by the benchmark with its default protocol, reproduces the authors' published images
(Meiqi-Gong/CUFD @ 7539bd3, `results/RoadScene`; the sample in `zoo/cufd_roadscene10`)."""
from __future__ import annotations

import pytest

from tests.methods.zoo_reference import compare_with_published, summary_line

pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.mark.slow
@pytest.mark.calibration
def test_cufd_reproduces_official_results(tmp_path, data_root, weights_dir):
    rows = compare_with_published('cufd', 'cufd_roadscene10', 'CUFD', tmp_path, data_root, weights_dir)
    print(summary_line('cufd', rows))
    bad = [r for r in rows if r[1] < 80 or r[2] > 1]
    assert not bad, f'pairs below 80 dB or off by more than 1 grey level: {bad}'


def test_composed_pair_is_the_two_convolutions():
    """The stage-2 [1x1, 3x3] pair runs as one composed 3x3 conv: the same function as the two official convs."""
    import torch
    from methods.cufd import ConvUnit
    torch.manual_seed(0)
    unit = ConvUnit(64, 32, 3, bn=False, relu=False, pre=128)
    for param in unit.parameters():
        torch.nn.init.uniform_(param, -0.1, 0.1)
    x = torch.rand(1, 64, 13, 17)
    with torch.no_grad():
        torch.testing.assert_close(unit(x), unit.conv(unit.pre(x)), atol=1e-5, rtol=1e-5)


def test_loads_every_trained_tensor(weights_dir):
    """Every network tensor of stage 1 and the stage-2 encoder/decoder tensors land in the port (the stage-2 file's
    own m_encoder/m_decoder copies are untrained initial values, which the official script does not restore)."""
    import numpy as np
    from methods import create_method
    from methods._tf_checkpoint import read_checkpoint
    root = weights_dir / 'cufd' / 'model'
    part1 = read_checkpoint(root / '1part1_model.ckpt')
    part2 = read_checkpoint(root / 'feature' / 'epoch3' / 'part2_model.ckpt')
    wanted = [v for k, v in part1.items() if 'RMSProp' not in k and k != 'Variable']
    wanted += [v for k, v in part2.items() if '/s_' in '/' + k]
    net = create_method('cufd', weights_dir=weights_dir).net
    state = [v for k, v in net.state_dict().items() if not k.endswith('num_batches_tracked')]
    assert sorted(v.numel() for v in state) == sorted(v.size for v in wanted)
    np.testing.assert_allclose(sorted(v.double().sum().item() for v in state),
                               sorted(np.asarray(v, np.float64).sum() for v in wanted), rtol=1e-9, atol=1e-12)
