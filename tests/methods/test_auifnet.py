"""AUIF-Net: the official state dicts load, the kornia filters and the unrolled layer's two convolutions as the
official code computes them, and the port reproduces the authors' published TNO results
(Zhaozixiang1228/IVIF-AUIF-Net @ 8f54650, Test_result/TNO_TCSVT) through `bench run`."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from methods import create_method
from methods.auifnet import AUIFNet, box_blur, conv_and_adjoint, conv_and_adjoint_literal, laplacian
from tests.methods.zoo_fidelity import bench_run, check_rows, published_rows

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_official_files_load_key_for_key(weights_dir):
    method = create_method('auifnet', weights_dir=weights_dir)
    official = torch.load(weights_dir / 'auifnet/Models/TCSVT_Encoder_Detail.model', map_location='cpu',
                          weights_only=True)
    assert list(method.detail.state_dict()) == list(official)
    assert torch.equal(method.detail.conv2[3].rest[0].running_mean, official['conv2.3.rest.0.running_mean'])
    assert sum(p.numel() for p in method.parameters()) == 2 * 10 * (64 * 9 + 5) + 9 + 2


@pytest.mark.parametrize('shape', [(1, 1, 10, 10), (2, 1, 13, 29), (1, 1, 40, 11)])
def test_combined_convolution_equals_the_official_two_steps(shape):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64)
    kernel = torch.randn(64, 1, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(conv_and_adjoint(x, kernel), conv_and_adjoint_literal(x, kernel),
                               rtol=1e-12, atol=1e-12)


def test_kornia_filters():
    """BoxBlur((11, 11)) and Laplacian(19) with kornia's defaults: reflect border, kernels normalised by the sum of
    absolute values (the Laplacian's centre is then -1/2, every other tap 1/720)."""
    torch.manual_seed(0)
    x = torch.rand(1, 1, 30, 23, dtype=torch.float64)
    blurred = F.avg_pool2d(F.pad(x, (5, 5, 5, 5), mode='reflect'), 11, stride=1)
    torch.testing.assert_close(box_blur(x), blurred, rtol=0, atol=1e-6)
    padded = F.pad(x, (9, 9, 9, 9), mode='reflect')
    expected = (F.avg_pool2d(padded, 19, stride=1) * 361 - x) / 720 - x / 2
    torch.testing.assert_close(laplacian(x), expected, rtol=0, atol=1e-6)


def test_small_images_are_refused():
    with pytest.raises(ValueError, match='at least 10x10'):
        AUIFNet().fuse(torch.rand(1, 1, 9, 40), torch.rand(1, 1, 9, 40))


@pytest.mark.calibration
@pytest.mark.slow
def test_reproduces_the_published_tno_results(tmp_path, data_root, weights_dir):
    fused = bench_run(tmp_path, 'auifnet', 'zhao_tno40', None, data_root, weights_dir)
    rows = published_rows(fused, 'zhao_tno40', 'AUIF-Net', data_root)
    assert len(rows) == 5
    check_rows('auifnet', rows, floor=80, max_diff=1)
