"""STDFusionNet, run by the benchmark with its default protocol, reproduces the authors' published images
(jiayi-ma/STDFusionNet @ 8b4a513, `STDFusionNet_Results`; the sample in `zoo/stdfusionnet_tno9`)."""
from __future__ import annotations

import pytest

from tests.methods.zoo_reference import compare_with_published, summary_line

pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.mark.slow
@pytest.mark.calibration
def test_stdfusionnet_reproduces_official_results(tmp_path, data_root, weights_dir):
    rows = compare_with_published('stdfusionnet', 'stdfusionnet_tno9', 'STDFusionNet', tmp_path, data_root,
                                  weights_dir)
    print(summary_line('stdfusionnet', rows))
    bad = [r for r in rows if r[1] < 80 or r[2] > 1]
    assert not bad, f'pairs below 80 dB or off by more than 1 grey level: {bad}'


def test_loads_every_tensor_of_the_official_checkpoint(weights_dir):
    import numpy as np
    from methods import create_method
    from methods._tf_checkpoint import read_checkpoint
    ckpt = read_checkpoint(weights_dir / 'stdfusionnet' / 'checkpoint' / 'Fusion.model-29')
    net = create_method('stdfusionnet', weights_dir=weights_dir).net
    state = list(net.state_dict().values())
    assert len(state) == len(ckpt) == 72
    np.testing.assert_allclose(sorted(v.double().sum().item() for v in state),
                               sorted(np.asarray(v, np.float64).sum() for v in ckpt.values()), rtol=1e-9, atol=1e-12)


def test_vif_benchmark_copy_is_refused(weights_dir, tmp_path):
    """VIF-Benchmark's file of the same name (other scope and values) fails the sha256 check, naming the file."""
    import shutil
    from methods import WeightsNotFound, create_method
    copy = weights_dir / 'stdfusionnet' / 'VIF-Benchmark' / 'Checkpoint' / 'STDFusionNet'
    if not copy.is_dir():
        pytest.skip('VIF-Benchmark copy not at hand')
    target = tmp_path / 'stdfusionnet' / 'checkpoint'
    shutil.copytree(copy, target)
    with pytest.raises(WeightsNotFound, match='not the official file'):
        create_method('stdfusionnet', weights_dir=tmp_path)
