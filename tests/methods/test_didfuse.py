"""DIDFuse: the official state dict loads, the official fusion rules and save, and the port reproduces the authors'
published TNO results (Zhaozixiang1228/IVIF-DIDFuse @ 5f28730, Test_result/TNO_IJCAI) through `bench run`."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from methods import create_method
from methods.didfuse import DIDFuse, fuse_features, imageio_levels
from tests.methods.zoo_fidelity import bench_run, check_rows, published_rows

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_official_file_loads_key_for_key(weights_dir):
    method = create_method('didfuse', weights_dir=weights_dir)
    official = torch.load(weights_dir / 'didfuse/Models/Encoder_weight_IJCAI.pkl', map_location='cpu',
                          weights_only=True)['weight']
    ours = method.encoder.state_dict()
    assert len(ours) == len(official) == 30
    assert torch.equal(ours['cov2.0.weight'], official['cov2.cov2.0.weight'])
    assert torch.equal(ours['cov1.2.running_var'], official['cov1.cov1.2.running_var'])  # batch-norm statistics too

    def stage(cin, cout, prelu):  # conv + batch norm (+ PReLU's one weight)
        return cin * cout * 9 + cout + 2 * cout + prelu
    encoder = stage(1, 64, 1) + stage(64, 64, 1) + 2 * stage(64, 64, 0)
    decoder = 2 * stage(128, 64, 1) + stage(128, 1, 0)
    assert sum(p.numel() for p in method.parameters()) == encoder + decoder == 260_935


def test_wrong_file_is_refused(tmp_path):
    path = tmp_path / 'other.pkl'
    torch.save({'weight': {'conv.weight': torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match='not the official file'):
        DIDFuse([path, path])
    with pytest.raises(ValueError, match="Expected `rule` in"):
        DIDFuse(rule='max')


def test_l1_norm_rule_is_the_official_expanded_kernel():
    """The official `l1_addition`: a (C, C, 3, 3) kernel of 1/9 on |features|, zero padding, weights A / (A + B)."""
    torch.manual_seed(0)
    a, b = torch.randn(2, 1, 5, 7, 9, dtype=torch.float64)
    kernel = torch.full((5, 5, 3, 3), 1 / 9, dtype=torch.float64)
    act_a, act_b = F.conv2d(a.abs(), kernel, padding=1), F.conv2d(b.abs(), kernel, padding=1)
    official = act_a / (act_a + act_b) * a + act_b / (act_a + act_b) * b
    torch.testing.assert_close(fuse_features(a, b, 'l1_norm'), official, rtol=1e-12, atol=1e-12)
    assert torch.equal(fuse_features(a, b, 'average'), (a + b) / 2)


def test_saved_as_imageio_rounds():
    """`skimage.io.imsave` of a float image: imageio's `uint8(x * 255 + 0.499999999)` in float64, no stretch (an
    exact half, 0.5 * 255 = 127.5, goes down)."""
    x = torch.tensor([0.0, 0.2, 0.5, 127.6 / 255, 127.4 / 255, 1.0])
    assert (imageio_levels(x) * 255).round().tolist() == [0, 51, 127, 128, 127, 255]


@pytest.mark.calibration
@pytest.mark.slow
def test_reproduces_the_published_tno_results(tmp_path, data_root, weights_dir):
    fused = bench_run(tmp_path, 'didfuse', 'zhao_tno40', None, data_root, weights_dir)
    rows = published_rows(fused, 'zhao_tno40', 'DIDFuse', data_root)
    assert len(rows) == 5
    check_rows('didfuse', rows, floor=80, max_diff=1)
