"""The DFECF network (Section 2, Table 1): dual-stream encoder with DE modules, cross-modal fusion, a transformer
block for global perception and a convolutional decoder.

Every module maps one equation group of the paper; the choices the paper leaves open are listed in `DFECFNet`'s
docstring and in the model card (`methods/dfecf/MODEL_CARD.md`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods.dfecf.fastconv import conv3x3

__all__ = ['ENCODER_CHANNELS', 'ConvBNAct', 'DifferentialEnhancement', 'CrossModalFusion', 'ConcatFusion',
           'ChannelLayerNorm', 'TransposedSelfAttention', 'TransformerBlock', 'DFECFNet']

ENCODER_CHANNELS = (16, 32, 64, 128)  # Table 1
LEAKY_SLOPE = 0.2  # the paper gives no slope; 0.2 as in SeAFusion and PIAFusion


def conv_bn_lrelu(c_in: int, c_out: int) -> ConvBNAct:
    """3x3 convolution (stride 1, padding 1), batch normalisation, Leaky ReLU (Table 1 and Table 2)."""
    return ConvBNAct(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                     nn.LeakyReLU(LEAKY_SLOPE))


class ConvBNAct(nn.Sequential):
    """Convolution, batch norm, Leaky ReLU. With `fast` and no autograd in evaluation mode (inference), the batch
    norm is folded into the convolution (w * g, beta - mean * g with g = gamma / sqrt(var + eps): the same affine
    map), which runs through `fastconv.conv3x3`, and the activation is applied in place."""
    fast = True

    def forward(self, x: Tensor) -> Tensor:
        conv, norm, act = self
        if not (self.fast and not self.training and not torch.is_grad_enabled()):
            return super().forward(x)
        scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
        weight = conv.weight * scale[:, None, None, None]
        bias = norm.bias - norm.running_mean * scale
        return F.leaky_relu_(conv3x3(x, weight, bias), act.negative_slope)


class DifferentialEnhancement(nn.Module):
    """Differential Feature Enhancement (eq. 1-7).

    F_weight = |F_vis - F_inf|; MAP = sigmoid(conv7x7([mean_c, max_c](F_weight))) (spatial, (N, 1, H, W));
    W = sigmoid(FC2(FC1(GAP(F_weight)))) (channels, (N, C, 1, 1)); each stream F' = F + F * MAP * W.
    The same MAP and W enhance both streams, as eq. 6 and 7 write them.

    Args:
        channels: C, the channels of both streams.
        reduction: r of the squeeze-and-excitation pair (the paper leaves r open; 4 keeps 4 hidden units at the
            16-channel first layer, where SENet's usual 16 would leave one).
    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.spatial = nn.Conv2d(2, 1, 7, padding=3)
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def weights(self, vis: Tensor, inf: Tensor) -> tuple[Tensor, Tensor]:
        """(MAP, W): the spatial map (N, 1, H, W) and the channel vector (N, C, 1, 1) of eq. 3 and 5."""
        diff = (vis - inf).abs()                                                     # eq. 1
        pooled = torch.cat([diff.mean(1, keepdim=True), diff.amax(1, keepdim=True)], 1)  # eq. 2
        spatial_map = torch.sigmoid(self.spatial(pooled))                           # eq. 3
        squeezed = diff.mean((2, 3))                                                 # eq. 4
        # The paper writes no activation between FC1 and FC2; SENet, which it cites, puts a ReLU there, and without
        # one the two layers collapse into a single linear map.
        channel = torch.sigmoid(self.fc2(F.relu(self.fc1(squeezed))))               # eq. 5
        return spatial_map, channel[:, :, None, None]

    def forward(self, vis: Tensor, inf: Tensor) -> tuple[Tensor, Tensor]:
        spatial_map, channel = self.weights(vis, inf)
        gain = torch.addcmul(torch.ones_like(spatial_map), spatial_map, channel)   # 1 + MAP * W, computed once
        return vis * gain, inf * gain                                                # eq. 6, 7: F + F * MAP * W


class CrossModalFusion(nn.Module):
    """Cross-modal feature fusion (eq. 8-12): GAP of the concatenated streams, two separate 2C -> C fully connected
    layers give the visible and infrared channel weights, F_fused = W_vis * F_vis + W_inf * F_inf.

    The paper gives no activation for W_vis and W_inf; a sigmoid keeps each in (0, 1) like every other attention
    weight of the paper (eq. 3 and 5) and, unlike a softmax across the two modalities, lets both streams keep their
    full strength where both carry information.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc_vis = nn.Linear(2 * channels, channels)
        self.fc_inf = nn.Linear(2 * channels, channels)

    def weights(self, vis: Tensor, inf: Tensor) -> tuple[Tensor, Tensor]:
        """(W_vis, W_inf), each (N, C, 1, 1)."""
        mixed = torch.cat([vis.mean((2, 3)), inf.mean((2, 3))], 1)                  # eq. 8, 9 (GAP per channel)
        w_vis = torch.sigmoid(self.fc_vis(mixed))                                    # eq. 10
        w_inf = torch.sigmoid(self.fc_inf(mixed))                                    # eq. 11
        return w_vis[:, :, None, None], w_inf[:, :, None, None]

    def forward(self, vis: Tensor, inf: Tensor) -> Tensor:
        w_vis, w_inf = self.weights(vis, inf)
        return w_vis * vis + w_inf * inf                                             # eq. 12


class ConcatFusion(nn.Module):
    """The `dfecf-no-fusion` ablation's replacement: concatenation and a 1x1 convolution 2C -> C."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, vis: Tensor, inf: Tensor) -> Tensor:
        return self.conv(torch.cat([vis, inf], 1))


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of each pixel (each pixel's feature vector is normalised), with affine terms."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels, 1, 1))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        # The fused native kernel on a channels-last copy: twice as fast on CPU as the same arithmetic written out;
        # the result is made contiguous again because the convolutions that follow are slower on strided input.
        c = x.shape[1]
        out = F.layer_norm(x.permute(0, 2, 3, 1).contiguous(), (c,), self.weight.view(c), self.bias.view(c), self.eps)
        return out.permute(0, 3, 1, 2).contiguous()

    def tokens(self, t: Tensor) -> Tensor:
        """The same normalisation of tokens (N, P, C), one per pixel: no layout copies."""
        c = t.shape[-1]
        return F.layer_norm(t, (c,), self.weight.view(c), self.bias.view(c), self.eps)


class TransposedSelfAttention(nn.Module):
    """Self-attention of eq. 15-20 with the channels as tokens, so its cost is linear in the number of pixels.

    qkv = conv1x1(x) (C -> 3C, eq. 15), split into q, k, v (eq. 16). Each token is one channel's whole feature map
    (a vector of H*W values); q and k are L2-normalised along the pixels, then Q = q * theta_1, K = k * theta_2,
    V = v * theta_3 (eq. 17-19, one learnable scale per channel) and the output is softmax(Q K^T) V (eq. 20) with a
    C x C attention matrix per head.

    Why channels rather than pixels: attention over all pixels needs an (H*W)^2 matrix, 9.4e10 entries (350 GB) for a
    640x480 image; the channel form (Restormer's "transposed" attention, Zamir et al., CVPR 2022) costs
    O(C^2 H W) and still mixes information from every pixel of the image into every output pixel, which is the global
    receptive field the paper wants from this module; windowed spatial attention would not be global. Why the
    normalisation replaces the 1 / sqrt(D) of eq. 20: the dot product runs over D = H*W pixels, which differs between
    128x128 training patches and full test images, so an unnormalised logit would grow with the image size; after
    L2 normalisation the logits are cosine similarities in [-1, 1] whatever the size, scaled by the learnable
    theta_1 * theta_2 (which play the part of Restormer's learned temperature).

    Args:
        channels: C.
        heads: channel groups with their own attention matrix (the paper writes one; default 1).
    """

    def __init__(self, channels: int, heads: int = 1) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f'Expected `channels` divisible by `heads`, but got {channels} and {heads}.')
        self.heads = heads
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.theta = nn.Parameter(torch.ones(3, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(x).reshape(n, 3, self.heads, c // self.heads, h * w).unbind(1)
        theta = self.theta.reshape(3, self.heads, c // self.heads, 1)
        q = F.normalize(q, dim=-1) * theta[0]
        k = F.normalize(k, dim=-1) * theta[1]
        v = v * theta[2]
        attn = torch.softmax(q @ k.transpose(-2, -1), dim=-1)  # (N, heads, C/heads, C/heads)
        return (attn @ v).reshape(n, c, h, w)

    def tokens(self, t: Tensor) -> Tensor:
        """`forward` on tokens (N, P, C), one per pixel, with the same result up to rounding and fewer passes
        over the (N, P, C) data: the 1x1 convolution is a matrix product on the tokens, and the L2 norms and the
        theta scales are applied to the small C x C matrices rather than to q, k and v:
        (q_i / |q_i| th1_i) . (k_j / |k_j| th2_j) = (q_i . k_j) s1_i s2_j with s = th / max(|.|, eps) (eps as in
        `F.normalize`), and sum_j A_ij (th3_j v_j) = sum_j (A_ij th3_j) v_j."""
        n, p, c = t.shape
        heads, d = self.heads, c // self.heads
        q, k, v = F.linear(t, self.qkv.weight.view(3 * c, c), self.qkv.bias).split(c, dim=-1)   # (N, P, C) each
        theta = self.theta.view(3, c)
        # Sum of squares, not `vector_norm`: along this strided axis that is 9x slower and 300x less accurate.
        s_q = theta[0] / q.square().sum(1).sqrt().clamp_min(1e-12)                  # (N, C)
        s_k = theta[1] / k.square().sum(1).sqrt().clamp_min(1e-12)
        q, k, v = (x.unflatten(-1, (heads, d)).transpose(1, 2) for x in (q, k, v))  # (N, heads, P, d)
        gram = q.transpose(-2, -1) @ k                                               # (N, heads, d, d): q_i . k_j
        logits = gram * s_q.view(n, heads, d, 1) * s_k.view(n, heads, 1, d)
        attn = torch.softmax(logits, dim=-1) * theta[2].view(heads, 1, d)
        return (v @ attn.transpose(-2, -1)).transpose(1, 2).reshape(n, p, c)


class TransformerBlock(nn.Module):
    """Pre-norm transformer block (eq. 13-14): F_SA = SA(LN(F)) + F, F_out = MLP(LN(F_SA)) + F_SA.

    The MLP is per pixel (1x1 convolutions C -> expansion*C -> C with GELU), as in ViT and Restormer; the paper gives
    neither its width nor its activation; an expansion of 2 halves ViT's usual 4 to keep the CPU cost down.
    """

    def __init__(self, channels: int, heads: int = 1, expansion: int = 2) -> None:
        super().__init__()
        self.norm1 = ChannelLayerNorm(channels)
        self.attn = TransposedSelfAttention(channels, heads)
        self.norm2 = ChannelLayerNorm(channels)
        self.mlp = nn.Sequential(nn.Conv2d(channels, expansion * channels, 1), nn.GELU(),
                                 nn.Conv2d(expansion * channels, channels, 1))

    fast = True

    def forward(self, x: Tensor) -> Tensor:
        if self.fast:
            return self._tokens_forward(x)
        x = self.attn(self.norm1(x)) + x                                             # eq. 13
        return self.mlp(self.norm2(x)) + x                                           # eq. 14

    def _tokens_forward(self, x: Tensor) -> Tensor:
        """eq. 13-14 with one token per pixel, (N, H*W, C): the layer norms need no layout copies and the 1x1
        convolutions become matrix products (fast on CPU); one copy in, one out."""
        n, c, h, w = x.shape
        t = x.permute(0, 2, 3, 1).reshape(n, h * w, c)
        t = self.attn.tokens(self.norm1.tokens(t)) + t                               # eq. 13
        first, act, second = self.mlp
        hidden = F.linear(self.norm2.tokens(t), first.weight.flatten(1), first.bias)
        t = F.linear(act(hidden), second.weight.flatten(1), second.bias) + t         # eq. 14
        return t.reshape(n, h, w, c).permute(0, 3, 1, 2).contiguous()


class DFECFNet(nn.Module):
    """DFECF: (ir, vis) luminance in [0, 1], (N, 1, H, W) each, any H and W -> fused luminance in [0, 1].

    Choices where the paper is silent or inconsistent (also in the model card):
      * inputs enter in [0, 1]; the Tanh output t in [-1, 1] is mapped to (t + 1) / 2, as SeAFusion and PIAFusion
        do, so the losses compare images on the same [0, 1] scale as the sources;
      * the SE reduction r = 4 (`DifferentialEnhancement`), sigmoid fusion weights (`CrossModalFusion`), the
        attention runs across channels (`TransposedSelfAttention`), one transformer block with a 2x MLP;
      * Leaky ReLU slope 0.2; batch normalisation after every convolution but the last (Table 2 lists BN as the
        regulariser without saying where); PyTorch's default initialisation, except that training sets the last
        bias so the output starts at the mean of the pixel-loss target (`init_output_level`);
      * a colour visible image is handled outside the network: its luminance is fused and the result recoloured with
        the visible chroma (`FusionMethod`, colour 'ycbcr').

    Args:
        use_de: keep the DE modules (False: the `dfecf-no-de` ablation, plain dual-stream encoder).
        use_fusion: keep the cross-modal fusion module (False: concatenation and a 1x1 convolution).
        use_transformer: keep the transformer block (False: the decoder reads the fused features directly).
        reduction, heads, expansion: see the modules.
    """

    def __init__(self, use_de: bool = True, use_fusion: bool = True, use_transformer: bool = True,
                 reduction: int = 4, heads: int = 1, expansion: int = 2) -> None:
        super().__init__()
        self.use_de, self.use_fusion, self.use_transformer = use_de, use_fusion, use_transformer
        widths = (1,) + ENCODER_CHANNELS
        self.enc_vis = nn.ModuleList(conv_bn_lrelu(a, b) for a, b in zip(widths, widths[1:]))
        self.enc_inf = nn.ModuleList(conv_bn_lrelu(a, b) for a, b in zip(widths, widths[1:]))
        self.de = nn.ModuleList(DifferentialEnhancement(c, reduction) for c in ENCODER_CHANNELS) if use_de else None
        top = ENCODER_CHANNELS[-1]
        self.fusion = CrossModalFusion(top) if use_fusion else ConcatFusion(top)
        self.transformer = TransformerBlock(top, heads, expansion) if use_transformer else None
        dec = (128, 64, 32, 16)
        self.decoder = nn.Sequential(*(conv_bn_lrelu(a, b) for a, b in zip(dec, dec[1:])),
                                     nn.Conv2d(dec[-1], 1, 3, padding=1), nn.Tanh())

    def set_fast(self, fast: bool) -> DFECFNet:
        """Chooses the arithmetic: `fast` (default) or the reference one, which computes every equation as written.

        Both are float32 and the same functions up to rounding (tested); the fast one reassociates the transformer
        block (`TransformerBlock`, `TransposedSelfAttention.tokens`) and, for inference, folds the batch norms into
        the convolutions and runs them through NNPACK (`ConvBNAct`, `fastconv`). Returns the network.
        """
        for module in self.modules():
            if isinstance(module, (ConvBNAct, TransformerBlock)):
                module.fast = fast
        return self

    @torch.no_grad()
    def init_output_level(self, level: float) -> None:
        """Sets the last convolution's bias so that a zero feature map decodes to the grey level `level`.

        The paper gives no initialisation; PyTorch's default leaves the output near 0.5, far above the mean of the
        pixel-loss target max(ir, vis) on night scenes (about 0.2 on MSRS), and Adam moves a bias by about the
        learning rate per step. Starting the output at the targets' mean (the usual output-bias initialisation)
        lets a short training spend its steps on structure rather than on the brightness offset.
        """
        if not 0 < level < 1:
            raise ValueError(f'Expected `level` in (0, 1), but got {level}.')
        self.decoder[-2].bias.fill_(math.atanh(2 * level - 1))

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        f_vis, f_inf = vis, ir
        for i, (layer_vis, layer_inf) in enumerate(zip(self.enc_vis, self.enc_inf)):
            f_vis, f_inf = layer_vis(f_vis), layer_inf(f_inf)
            if self.de is not None:
                f_vis, f_inf = self.de[i](f_vis, f_inf)
        fused = self.fusion(f_vis, f_inf)
        if self.transformer is not None:
            fused = self.transformer(fused)
        return (self.decoder(fused) + 1) / 2
