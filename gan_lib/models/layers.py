"""BigGAN building blocks (Brock et al. 2018) with BigGAN-PyTorch's tensor names and numerics.

Spectral norm (Miyato et al. 2018) keeps its power-iteration vector `u0` and last singular value `sv0` as buffers,
as BigGAN-PyTorch does, so released checkpoints load unchanged. In eval mode the power iteration still runs once
without updating `u0`, exactly as there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def spectral_normalized(weight: torch.Tensor, u: torch.Tensor, sv: torch.Tensor, *, update: bool,
                        eps: float) -> torch.Tensor:
    """`weight / sigma` with sigma from one power iteration started at `u` ([1, out]); updates u, sv in place.
    Always in float32, also under autocast."""
    if weight.device.type not in ("cpu", "cuda"):  # e.g. meta tensors: no autocast there
        return _spectral_normalized(weight.float(), u, sv, update=update, eps=eps)
    with torch.autocast(weight.device.type, enabled=False):
        return _spectral_normalized(weight.float(), u, sv, update=update, eps=eps)


def _spectral_normalized(weight: torch.Tensor, u: torch.Tensor, sv: torch.Tensor, *, update: bool,
                         eps: float) -> torch.Tensor:
    w_mat = weight.reshape(weight.shape[0], -1)
    with torch.no_grad():
        v = F.normalize(u @ w_mat, eps=eps)
        u_new = F.normalize(v @ w_mat.t(), eps=eps)
        if update:
            u.copy_(u_new)
    sigma = ((v @ w_mat.t()) @ u_new.t()).squeeze()
    if update:
        with torch.no_grad():
            sv.copy_(sigma.detach())
    return weight / sigma


class _SpectralNorm:
    """Mixin: registers `u0`, `sv0` and gives `sn_weight()`; `eps` as in BigGAN-PyTorch."""

    def _init_sn(self, num_outputs: int, eps: float) -> None:
        self.sn_eps = eps
        self.register_buffer("u0", torch.randn(1, num_outputs))
        self.register_buffer("sv0", torch.ones(1))

    def sn_weight(self) -> torch.Tensor:
        return spectral_normalized(self.weight, self.u0, self.sv0, update=self.training, eps=self.sn_eps)


class SNConv2d(nn.Conv2d, _SpectralNorm):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1, *,
                 bias: bool = True, eps: float = 1e-12):
        super().__init__(in_channels, out_channels, kernel_size, padding=padding, bias=bias)
        self._init_sn(out_channels, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.sn_weight(), self.bias, self.stride, self.padding)


class SNLinear(nn.Linear, _SpectralNorm):
    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, eps: float = 1e-12):
        super().__init__(in_features, out_features, bias=bias)
        self._init_sn(out_features, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.sn_weight(), self.bias)


class SNEmbedding(nn.Embedding, _SpectralNorm):
    def __init__(self, num_embeddings: int, embedding_dim: int, *, eps: float = 1e-12):
        super().__init__(num_embeddings, embedding_dim)
        self._init_sn(num_embeddings, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.embedding(x, self.sn_weight())


class ClassConditionalBN(nn.Module):
    """Batch norm whose gain and bias are SN-linear functions of the (class embedding, z chunk) vector."""

    def __init__(self, num_channels: int, cond_dim: int, *, eps: float = 1e-5, sn_eps: float = 1e-12):
        super().__init__()
        self.gain = SNLinear(cond_dim, num_channels, bias=False, eps=sn_eps)
        self.bias = SNLinear(cond_dim, num_channels, bias=False, eps=sn_eps)
        self.eps = eps
        self.register_buffer("stored_mean", torch.zeros(num_channels))
        self.register_buffer("stored_var", torch.ones(num_channels))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gain = (1 + self.gain(cond)).view(cond.shape[0], -1, 1, 1)
        bias = self.bias(cond).view(cond.shape[0], -1, 1, 1)
        out = F.batch_norm(x, self.stored_mean, self.stored_var, None, None, self.training, 0.1, self.eps)
        return out * gain + bias


class OutputBN(nn.Module):
    """Plain batch norm with BigGAN-PyTorch's parameter names (`gain`, `bias`, `stored_mean`, `stored_var`)."""

    def __init__(self, num_channels: int, *, eps: float = 1e-5):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps
        self.register_buffer("stored_mean", torch.zeros(num_channels))
        self.register_buffer("stored_var", torch.ones(num_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.stored_mean, self.stored_var, self.gain, self.bias, self.training, 0.1,
                            self.eps)


class Attention(nn.Module):
    """Self-attention block of SAGAN (Zhang et al. 2019) as used in BigGAN, gamma initialised to 0."""

    def __init__(self, ch: int, *, sn_eps: float = 1e-12):
        super().__init__()
        self.ch = ch
        self.theta = SNConv2d(ch, ch // 8, 1, 0, bias=False, eps=sn_eps)
        self.phi = SNConv2d(ch, ch // 8, 1, 0, bias=False, eps=sn_eps)
        self.g = SNConv2d(ch, ch // 2, 1, 0, bias=False, eps=sn_eps)
        self.o = SNConv2d(ch // 2, ch, 1, 0, bias=False, eps=sn_eps)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        n, _, h, w = x.shape
        theta = self.theta(x).view(n, self.ch // 8, h * w)
        phi = F.max_pool2d(self.phi(x), 2).view(n, self.ch // 8, h * w // 4)
        g = F.max_pool2d(self.g(x), 2).view(n, self.ch // 2, h * w // 4)
        beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), -1)
        o = self.o(torch.bmm(g, beta.transpose(1, 2)).view(n, self.ch // 2, h, w))
        return self.gamma * o + x


class GBlock(nn.Module):
    """Residual up-block: cBN-ReLU-up-conv-cBN-ReLU-conv, with a 1x1 learnable shortcut."""

    def __init__(self, in_channels: int, out_channels: int, *, cond_dim: int, bn_eps: float, sn_eps: float):
        super().__init__()
        self.conv1 = SNConv2d(in_channels, out_channels, eps=sn_eps)
        self.conv2 = SNConv2d(out_channels, out_channels, eps=sn_eps)
        self.conv_sc = SNConv2d(in_channels, out_channels, 1, 0, eps=sn_eps)
        self.bn1 = ClassConditionalBN(in_channels, cond_dim, eps=bn_eps, sn_eps=sn_eps)
        self.bn2 = ClassConditionalBN(out_channels, cond_dim, eps=bn_eps, sn_eps=sn_eps)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(x, cond))
        h = F.interpolate(h, scale_factor=2)
        x = F.interpolate(x, scale_factor=2)
        h = self.conv1(h)
        h = self.conv2(F.relu(self.bn2(h, cond)))
        return h + self.conv_sc(x)


class DBlock(nn.Module):
    """Residual down-block of the BigGAN discriminator (pre-activation except for the first block)."""

    def __init__(self, in_channels: int, out_channels: int, *, wide: bool, preactivation: bool, downsample: bool,
                 sn_eps: float):
        super().__init__()
        hidden = out_channels if wide else in_channels
        self.conv1 = SNConv2d(in_channels, hidden, eps=sn_eps)
        self.conv2 = SNConv2d(hidden, out_channels, eps=sn_eps)
        self.learnable_sc = in_channels != out_channels or downsample
        if self.learnable_sc:
            self.conv_sc = SNConv2d(in_channels, out_channels, 1, 0, eps=sn_eps)
        self.preactivation = preactivation
        self.downsample = downsample

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.preactivation:
            if self.learnable_sc:
                x = self.conv_sc(x)
            if self.downsample:
                x = F.avg_pool2d(x, 2)
        else:
            if self.downsample:
                x = F.avg_pool2d(x, 2)
            if self.learnable_sc:
                x = self.conv_sc(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        return h + self.shortcut(x)
