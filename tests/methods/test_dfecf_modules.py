"""DFECF's modules and loss terms against hand computations on small tensors (eq. 1-26)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from methods.dfecf import VARIANTS, build_loss, build_network
from methods.dfecf.loss import (JointLoss, auxiliary_loss, gradient_loss, local_variance, pixel_loss,
                                reliability_mask, sobel_gradient)
from methods.dfecf.network import (ChannelLayerNorm, ConcatFusion, CrossModalFusion, DFECFNet,
                                   DifferentialEnhancement, TransformerBlock, TransposedSelfAttention)

sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731


def _rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _correlate_zero_padded(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Plain loops: out[y, x] = sum kernel[i, j] * image[y + i - r, x + j - r], zeros outside (conv padding=r)."""
    r = kernel.shape[0] // 2
    h, w = image.shape
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            for i in range(kernel.shape[0]):
                for j in range(kernel.shape[1]):
                    yy, xx = y + i - r, x + j - r
                    if 0 <= yy < h and 0 <= xx < w:
                        out[y, x] += kernel[i, j] * image[yy, xx]
    return out


def test_de_module_matches_hand_computation():
    de = DifferentialEnhancement(channels=8, reduction=4).double()
    vis, inf = _rand(2, 8, 5, 9, seed=1), _rand(2, 8, 5, 9, seed=2)
    new_vis, new_inf = de(vis, inf)
    k = de.spatial.weight.detach().numpy()[0]                   # (2, 7, 7): [avg, max] input channels
    b = de.spatial.bias.item()
    w1, b1 = de.fc1.weight.detach().numpy(), de.fc1.bias.detach().numpy()
    w2, b2 = de.fc2.weight.detach().numpy(), de.fc2.bias.detach().numpy()
    assert w1.shape == (2, 8) and w2.shape == (8, 2)            # squeeze by r = 4, expand by r
    for n in range(2):
        v, i = vis[n].numpy(), inf[n].numpy()
        diff = np.abs(v - i)                                                        # eq. 1
        spatial = sigmoid(_correlate_zero_padded(diff.mean(0), k[0])
                          + _correlate_zero_padded(diff.max(0), k[1]) + b)          # eq. 2, 3 (7x7, padding 3)
        gap = diff.mean((1, 2))                                                     # eq. 4
        channel = sigmoid(w2 @ np.maximum(w1 @ gap + b1, 0) + b2)                   # eq. 5
        gate = spatial[None] * channel[:, None, None]
        np.testing.assert_allclose(new_vis[n].detach().numpy(), v + v * gate, rtol=1e-12)   # eq. 6
        np.testing.assert_allclose(new_inf[n].detach().numpy(), i + i * gate, rtol=1e-12)   # eq. 7


def test_de_module_identical_streams_use_sigmoid_of_bias_only():
    # With F_vis = F_inf the difference is 0: MAP = sigmoid(conv bias), W = sigmoid(FC2(relu(FC1 bias)) ).
    de = DifferentialEnhancement(4).double()
    x = _rand(1, 4, 6, 6)
    spatial, channel = de.weights(x, x.clone())
    torch.testing.assert_close(spatial, torch.sigmoid(de.spatial.bias).expand(1, 1, 6, 6))
    expected = torch.sigmoid(de.fc2(torch.relu(de.fc1.bias)))
    torch.testing.assert_close(channel.flatten(), expected)


def test_cross_modal_fusion_matches_hand_computation():
    fusion = CrossModalFusion(3).double()
    vis, inf = _rand(2, 3, 4, 5, seed=3), _rand(2, 3, 4, 5, seed=4)
    out = fusion(vis, inf).detach().numpy()
    wv, bv = fusion.fc_vis.weight.detach().numpy(), fusion.fc_vis.bias.detach().numpy()
    wi, bi = fusion.fc_inf.weight.detach().numpy(), fusion.fc_inf.bias.detach().numpy()
    assert wv.shape == wi.shape == (3, 6)                                           # 2c -> c
    for n in range(2):
        mixed = np.concatenate([vis[n].numpy(), inf[n].numpy()]).mean((1, 2))      # eq. 8, 9
        w_vis, w_inf = sigmoid(wv @ mixed + bv), sigmoid(wi @ mixed + bi)          # eq. 10, 11
        expected = w_vis[:, None, None] * vis[n].numpy() + w_inf[:, None, None] * inf[n].numpy()   # eq. 12
        np.testing.assert_allclose(out[n], expected, rtol=1e-12)


def test_concat_fusion_is_a_1x1_convolution_of_the_concatenation():
    fusion = ConcatFusion(3).double()
    vis, inf = _rand(1, 3, 4, 5, seed=3), _rand(1, 3, 4, 5, seed=4)
    w, b = fusion.conv.weight.detach()[:, :, 0, 0], fusion.conv.bias.detach()
    expected = torch.einsum('oc,nchw->nohw', w, torch.cat([vis, inf], 1)) + b[:, None, None]
    torch.testing.assert_close(fusion(vis, inf), expected)


def test_channel_layer_norm_normalises_each_pixel_over_channels():
    norm = ChannelLayerNorm(5).double()
    with torch.no_grad():
        norm.weight.copy_(torch.arange(1., 6.).view(5, 1, 1))
        norm.bias.fill_(0.5)
    x = _rand(2, 5, 3, 4)
    mean = x.mean(1, keepdim=True)
    var = x.var(1, unbiased=False, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + 1e-5) * torch.arange(1., 6.).view(5, 1, 1) + 0.5
    torch.testing.assert_close(norm(x), expected)


@pytest.mark.parametrize('heads', [1, 2])
def test_attention_matches_hand_computation(heads):
    attn = TransposedSelfAttention(4, heads=heads).double()
    with torch.no_grad():
        attn.theta.copy_(torch.linspace(0.5, 3, 12).view(3, 4, 1))
    x = _rand(2, 4, 3, 5, seed=5)
    out = attn(x).detach().numpy()
    w = attn.qkv.weight.detach().numpy()[:, :, 0, 0]
    b = attn.qkv.bias.detach().numpy()
    theta = attn.theta.detach().numpy()[:, :, 0]
    d = 4 // heads
    for n in range(2):
        tokens = x[n].numpy().reshape(4, 15)                                        # one token per channel
        qkv = w @ tokens + b[:, None]                                                # eq. 15 (1x1 conv)
        q, k, v = qkv[:4], qkv[4:8], qkv[8:]                                         # eq. 16
        q = q / np.linalg.norm(q, axis=1, keepdims=True) * theta[0][:, None]        # eq. 17 (after L2 norm)
        k = k / np.linalg.norm(k, axis=1, keepdims=True) * theta[1][:, None]        # eq. 18
        v = v * theta[2][:, None]                                                    # eq. 19
        for h in range(heads):
            s = slice(h * d, (h + 1) * d)
            logits = q[s] @ k[s].T
            soft = np.exp(logits - logits.max(1, keepdims=True))
            soft /= soft.sum(1, keepdims=True)                                       # eq. 20
            np.testing.assert_allclose(out[n, s].reshape(d, 15), soft @ v[s], rtol=1e-10)


def test_attention_logits_do_not_grow_with_image_size():
    # The same content tiled 4x (a 4x larger image) gives the same attention: the logits are cosine similarities.
    attn = TransposedSelfAttention(4).double()
    x = _rand(1, 4, 6, 6, seed=6)
    small = attn(x)
    large = attn(x.repeat(1, 1, 2, 2))
    torch.testing.assert_close(large, small.repeat(1, 1, 2, 2))


def test_attention_rejects_heads_that_do_not_divide_channels():
    with pytest.raises(ValueError, match='divisible by `heads`'):
        TransposedSelfAttention(6, heads=4)


def test_transformer_block_is_pre_norm_with_residuals():
    block = TransformerBlock(4).double()
    x = _rand(1, 4, 5, 3, seed=7)
    f_sa = block.attn(block.norm1(x)) + x                                            # eq. 13
    expected = block.mlp(block.norm2(f_sa)) + f_sa                                   # eq. 14
    torch.testing.assert_close(block(x), expected)


# ----------------------------------------------------------------------------------------------------- loss terms


def test_sobel_gradient_of_a_vertical_step():
    image = torch.zeros(1, 1, 4, 5, dtype=torch.float64)
    image[..., 3:] = 1                                        # columns 3 and 4 are 1
    g = sobel_gradient(image)[0, 0]
    # |G_x| at columns 2 and 3 is 1 + 2 + 1 = 4 (the step lies between them); |G_y| is 0 everywhere (rows reflect).
    expected = torch.zeros(4, 5, dtype=torch.float64)
    expected[:, 2:4] = 4
    torch.testing.assert_close(g, expected)


def test_sobel_gradient_matches_hand_computation_inside():
    x = _rand(1, 1, 5, 6, seed=8)
    g = sobel_gradient(x)[0, 0].numpy()
    a = x[0, 0].numpy()
    for y in range(1, 4):
        for c in range(1, 5):
            p = a[y - 1:y + 2, c - 1:c + 2]
            gx = (p[:, 2] - p[:, 0]) @ np.array([1, 2, 1])
            gy = (p[2] - p[0]) @ np.array([1, 2, 1])
            assert g[y, c] == pytest.approx(abs(gx) + abs(gy), rel=1e-12)


def test_gradient_and_pixel_loss_hand_values():
    ir = torch.tensor([[[[0.2, 0.8], [0.5, 0.1]]]], dtype=torch.float64)
    vis = torch.tensor([[[[0.6, 0.3], [0.5, 0.9]]]], dtype=torch.float64)
    fused = torch.full_like(ir, 0.5)
    # max(vis, ir) = [[.6, .8], [.5, .9]] -> |0.5 - max| = [.1, .3, 0, .4], mean 0.2
    assert pixel_loss(fused, ir, vis).item() == pytest.approx(0.2)
    # A constant image has no gradient: L_grad is the mean of max(|grad vis|, |grad ir|).
    target = torch.maximum(sobel_gradient(vis), sobel_gradient(ir))
    assert gradient_loss(fused, ir, vis).item() == pytest.approx(target.mean().item())
    assert gradient_loss(vis, vis, vis).item() == 0


def test_local_variance_matches_windowed_numpy_variance():
    x = _rand(1, 1, 9, 11, seed=9)
    for window in (3, 7, 9):
        r = window // 2
        padded = np.pad(x[0, 0].numpy(), r, mode='reflect')
        expected = np.array([[padded[y:y + window, c:c + window].var() for c in range(11)] for y in range(9)])
        np.testing.assert_allclose(local_variance(x, window)[0, 0].numpy(), expected, atol=1e-12)
    with pytest.raises(ValueError, match='odd `window`'):
        local_variance(x, 8)


def test_reliability_mask_and_auxiliary_loss_hand_values():
    # Left half: textured visible, flat IR -> M_f = 1; right half: flat visible, textured IR -> M_f = 0.
    h, w = 8, 16
    stripes = torch.tensor([0.2, 0.8]).repeat(h * w // 2).view(1, 1, h, w).double()
    vis = torch.where(torch.arange(w) < 8, stripes, torch.tensor(0.4, dtype=torch.float64))
    ir = torch.where(torch.arange(w) < 8, torch.tensor(0.6, dtype=torch.float64), stripes)
    mask = reliability_mask(ir, vis, window=3)
    assert mask[..., :7].eq(1).all() and mask[..., 9:].eq(0).all()
    # Fused = visible image: the M_f = 1 part costs nothing; the M_f = 0 part costs |vis - ir| there (eq. 26 with
    # the infrared image in its second term; as printed it would compare with the visible image and cost 0).
    expected = ((1 - mask) * (vis - ir)).abs().mean()
    assert auxiliary_loss(vis, ir, vis, window=3).item() == pytest.approx(expected.item())
    assert expected.item() > 0.05
    assert auxiliary_loss(ir, ir, vis, window=3).item() == pytest.approx((mask * (ir - vis)).abs().mean().item())


def test_reliability_mask_ties_go_to_infrared():
    flat = torch.full((1, 1, 5, 5), 0.3)
    assert reliability_mask(flat, flat.clone()).eq(0).all()        # "otherwise" of eq. 25


def test_aux_window_is_a_parameter():
    ir, vis = _rand(1, 1, 12, 12, seed=10), _rand(1, 1, 12, 12, seed=11)
    assert not torch.equal(reliability_mask(ir, vis, 3), reliability_mask(ir, vis, 9))


def test_joint_loss_weights_and_no_aux():
    ir, vis, fused = _rand(2, 1, 10, 12, seed=12), _rand(2, 1, 10, 12, seed=13), _rand(2, 1, 10, 12, seed=14)
    terms = JointLoss()(fused, ir, vis)
    expected = (50 * gradient_loss(fused, ir, vis) + 7 * pixel_loss(fused, ir, vis)
                + auxiliary_loss(fused, ir, vis, 7))
    assert terms.total.item() == pytest.approx(expected.item())
    assert (terms.grad, terms.pix) == (pytest.approx(gradient_loss(fused, ir, vis).item()),
                                       pytest.approx(pixel_loss(fused, ir, vis).item()))
    no_aux = build_loss('dfecf-no-aux')(fused, ir, vis)
    assert no_aux.aux == 0 and no_aux.total.item() == pytest.approx(50 * terms.grad + 7 * terms.pix)


# --------------------------------------------------------------------------------------------------- whole network


@pytest.mark.parametrize('size', [(1, 1), (5, 7), (37, 53)])
def test_any_size_gives_same_size_output_in_unit_range(size):
    net = DFECFNet().eval()
    ir, vis = torch.rand(1, 1, *size), torch.rand(1, 1, *size)
    with torch.no_grad():
        out = net(ir, vis)
    assert out.shape == (1, 1, *size) and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize('variant', list(VARIANTS))
def test_gradients_reach_every_parameter(variant):
    torch.manual_seed(0)
    net = build_network(variant).train()
    ir, vis = torch.rand(2, 1, 24, 20), torch.rand(2, 1, 24, 20)
    build_loss(variant)(net(ir, vis), ir, vis).total.backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f'no gradient reaches {missing}'


def _param_shapes(net):
    return {n: tuple(p.shape) for n, p in net.named_parameters()}


@pytest.mark.parametrize('variant, removed_prefix, replacement', [
    ('dfecf-no-de', 'de.', None),
    ('dfecf-no-transformer', 'transformer.', None),
    ('dfecf-no-fusion', 'fusion.', ConcatFusion),
])
def test_each_ablation_removes_exactly_its_module(variant, removed_prefix, replacement):
    full, ablated = _param_shapes(build_network('dfecf')), _param_shapes(build_network(variant))
    kept = {n: s for n, s in full.items() if not n.startswith(removed_prefix)}
    assert len(kept) < len(full)
    new = {n: s for n, s in ablated.items() if n.startswith(removed_prefix)}
    assert {n: s for n, s in ablated.items() if not n.startswith(removed_prefix)} == kept
    if replacement is None:
        assert not new
    else:
        net = build_network(variant)
        assert type(net.fusion) is replacement and new == {'fusion.conv.weight': (128, 256, 1, 1),
                                                           'fusion.conv.bias': (128,)}


def test_no_aux_ablation_changes_only_the_loss():
    assert _param_shapes(build_network('dfecf-no-aux')) == _param_shapes(build_network('dfecf'))
    assert build_loss('dfecf-no-aux').w_aux == 0 and build_loss('dfecf').w_aux == 1
    assert (build_loss('dfecf-no-de').w_aux, build_loss('dfecf-no-de').w_grad) == (1, 50)


def test_architecture_follows_table_1():
    net = build_network('dfecf')
    convs = [m for m in net.enc_vis.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (1, 16, (3, 3), (1, 1), (1, 1)), (16, 32, (3, 3), (1, 1), (1, 1)), (32, 64, (3, 3), (1, 1), (1, 1)),
        (64, 128, (3, 3), (1, 1), (1, 1))]
    dec = [m for m in net.decoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in dec] == [(128, 64), (64, 32), (32, 16), (16, 1)]
    assert isinstance(net.decoder[-1], torch.nn.Tanh) and len(net.de) == 4
    assert net.transformer.attn.qkv.out_channels == 3 * 128 and net.transformer.attn.qkv.kernel_size == (1, 1)
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == 485_641, n_params


def test_output_maps_tanh_to_unit_range():
    net = DFECFNet().eval()
    with torch.no_grad():
        net.decoder[-2].weight.zero_()
        net.decoder[-2].bias.fill_(math.atanh(0.5))
        out = net(torch.rand(1, 1, 6, 6), torch.rand(1, 1, 6, 6))
    torch.testing.assert_close(out, torch.full_like(out, 0.75))


def test_init_output_level_sets_the_starting_grey_level():
    net = DFECFNet().eval()
    net.init_output_level(0.2)
    with torch.no_grad():
        net.decoder[-2].weight.zero_()
        out = net(torch.rand(1, 1, 5, 6), torch.rand(1, 1, 5, 6))
    torch.testing.assert_close(out, torch.full_like(out, 0.2))
    with pytest.raises(ValueError, match=r'`level` in \(0, 1\)'):
        net.init_output_level(1.0)
