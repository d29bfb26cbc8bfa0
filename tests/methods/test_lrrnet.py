"""LRRNet: the official state dict loads, the layers computed differently from the official code (matrix products,
in-place soft threshold) are the same functions, the official input normalisation and save, and the port reproduces
the authors' published TNO-21 results (hli1221/imagefusion-LRRNet @ e489fc3, outputs/21_pairs_tno_new.zip, declared
in the tno21 manifest under ../zoo/lrrnet_tno21) through `bench run`."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from methods import create_method
from methods.lrrnet import LRRNet, conv_from_one_, conv_to_one, normalize_input, soft_threshold_
from tests.methods.zoo_fidelity import bench_run, check_rows, published_rows

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_official_file_loads_key_for_key(weights_dir):
    method = create_method('lrrnet', weights_dir=weights_dir)
    path = weights_dir / 'lrrnet/model/final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model'
    official = torch.load(path, map_location='cpu', weights_only=True)
    assert set(LRRNet().state_dict()) == set(official) and len(official) == 52
    assert torch.equal(method.get_ls2.lrrblock3.conv_Wdtz.conv2d.weight,
                       official['get_ls2.lrrblock3.conv_Wdtz.conv2d.weight'])
    wide = 256 * 9 + 256  # 3x3 conv 1 -> 256
    decomposition = wide + 256 + 1 + 4 * (wide + 256 * 9 + 1)  # conv_W00, lamj, lamz, 4 blocks
    decoder = 4 * (128 * 9 + 1) + 2 * (2 * 9 + 1)
    assert sum(p.numel() for p in method.parameters()) == 2 * decomposition + decoder == 49_204


def _reflect_conv(x, conv):
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode='reflect'), conv.weight, conv.bias)


def test_matrix_product_convolutions_equal_reflect_padded_conv2d():
    torch.manual_seed(0)
    many, one = torch.nn.Conv2d(1, 16, 3).double(), torch.nn.Conv2d(16, 1, 3).double()
    x = torch.randn(2, 1, 7, 12, dtype=torch.float64)
    z = torch.randn(2, 16, 7, 12, dtype=torch.float64)
    torch.testing.assert_close(conv_to_one(z, one), _reflect_conv(z, one), rtol=1e-12, atol=1e-12)
    expected = 0.75 * z + _reflect_conv(x, many)
    torch.testing.assert_close(conv_from_one_(z.clone(), x, many, beta=0.75), expected, rtol=1e-12, atol=1e-12)
    nan = torch.full_like(z, float('nan'))  # beta = 0 ignores the buffer's contents
    torch.testing.assert_close(conv_from_one_(nan, x, many, beta=0.0), _reflect_conv(x, many), rtol=1e-12, atol=1e-12)


def test_soft_threshold_is_the_official_eta_l1_also_for_negative_thresholds():
    r = torch.tensor([-2.0, -0.3, 0.0, 0.1, 0.5, 3.0]).view(1, 1, 1, 6).repeat(1, 3, 1, 1)
    lam = torch.tensor([[0.4, -0.01, 0.0]])  # the official get_ls1.lamj has negative entries
    official = torch.sign(r) * torch.clamp(r.abs() - lam.view(1, 3, 1, 1), min=0)
    assert torch.equal(soft_threshold_(r.clone(), lam, torch.empty_like(r)), official)


def test_inputs_are_min_max_normalised_per_image():
    x = torch.tensor([[[[10.0, 20.0, 30.0]]], [[[0.0, 255.0, 51.0]]]])
    out = normalize_input(x)
    assert out[0].flatten().tolist() == pytest.approx([0, 10 / (20 + 1e-5), 20 / (20 + 1e-5)], abs=1e-7)
    assert out[1].max() < 1


def test_output_is_stretched_and_truncated():
    torch.manual_seed(0)
    fused = LRRNet().fuse(torch.rand(1, 1, 12, 16), torch.rand(1, 1, 12, 16)) * 255
    assert fused.min() == 0 and fused.max() == 254 and torch.equal(fused, fused.round())


@pytest.mark.calibration
@pytest.mark.slow
def test_reproduces_the_published_tno21_results(tmp_path, data_root, weights_dir):
    fused = bench_run(tmp_path, 'lrrnet', 'tno21', ['1', '2', '3', '4', '5'], data_root, weights_dir)
    rows = published_rows(fused, 'tno21', 'LRRNet', data_root)
    assert len(rows) == 5
    check_rows('lrrnet', rows, floor=80, max_diff=1)
