"""BigGAN generator and projection discriminator (Brock et al. 2018), as BigGAN-PyTorch builds them.

The architecture comes from per-resolution tables of channel multipliers; module and tensor names match
BigGAN-PyTorch, so its checkpoints load with `load_state_dict` (see `gan_lib.models.pretrained`).
Images are float NCHW in [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from gan_lib.models.layers import Attention, DBlock, GBlock, OutputBN, SNConv2d, SNEmbedding, SNLinear

# Channel multipliers per block, by output resolution (BigGAN-PyTorch's G_arch / D_arch).
G_ARCH = {
    128: dict(ins=[16, 16, 8, 4, 2], outs=[16, 8, 4, 2, 1], res=[8, 16, 32, 64, 128]),
    64: dict(ins=[16, 16, 8, 4], outs=[16, 8, 4, 2], res=[8, 16, 32, 64]),
    32: dict(ins=[4, 4, 4], outs=[4, 4, 4], res=[8, 16, 32]),
    16: dict(ins=[4, 4], outs=[4, 4], res=[8, 16]),
}
D_ARCH = {
    128: dict(ins=[0, 1, 2, 4, 8, 16], outs=[1, 2, 4, 8, 16, 16], down=[True] * 5 + [False],
              res=[64, 32, 16, 8, 4, 4]),
    64: dict(ins=[0, 1, 2, 4, 8], outs=[1, 2, 4, 8, 16], down=[True] * 4 + [False], res=[32, 16, 8, 4, 4]),
    32: dict(ins=[0, 4, 4, 4], outs=[4, 4, 4, 4], down=[True, True, False, False], res=[16, 16, 16, 16]),
    16: dict(ins=[0, 4, 4], outs=[4, 4, 4], down=[True, False, False], res=[8, 8, 8]),
}
BOTTOM_WIDTH = 4


def attention_resolutions(spec: str) -> set[int]:
    """'64' or '32_64' -> {64} / {32, 64}; '' or '0' -> no attention."""
    return {int(r) for r in spec.split("_") if r and r != "0"}


def orthogonal_init(module: nn.Module) -> None:
    """BigGAN's 'ortho' init of every conv, linear and embedding weight."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            nn.init.orthogonal_(m.weight)


class Generator(nn.Module):
    """G(z, y): z [N, dim_z] float, y [N] int64 class indices -> images [N, 3, R, R] in [-1, 1].

    `synthesize(z, class_embedding)` takes the shared class embedding directly (the MineGAN miner feeds it).
    """

    def __init__(self, *, resolution: int = 128, ch: int = 64, dim_z: int = 120, shared_dim: int = 128,
                 n_classes: int = 1, attention: str = "64", hier: bool = True, bn_eps: float = 1e-5,
                 sn_eps: float = 1e-6):
        super().__init__()
        if resolution not in G_ARCH:
            raise ValueError(f"resolution must be one of {sorted(G_ARCH)}, got {resolution}")
        arch = G_ARCH[resolution]
        self.resolution, self.n_classes, self.shared_dim = resolution, n_classes, shared_dim
        self.num_slots = len(arch["ins"]) + 1 if hier else 1
        self.z_chunk_size = dim_z // self.num_slots if hier else 0
        self.dim_z = self.z_chunk_size * self.num_slots if hier else dim_z
        self.hier = hier
        cond_dim = shared_dim + self.z_chunk_size
        attn = attention_resolutions(attention)

        self.shared = nn.Embedding(n_classes, shared_dim)
        self.linear = SNLinear(self.dim_z // self.num_slots, arch["ins"][0] * ch * BOTTOM_WIDTH ** 2, eps=sn_eps)
        blocks = []
        for cin, cout, res in zip(arch["ins"], arch["outs"], arch["res"]):
            block = [GBlock(cin * ch, cout * ch, cond_dim=cond_dim, bn_eps=bn_eps, sn_eps=sn_eps)]
            if res in attn:
                block.append(Attention(cout * ch, sn_eps=sn_eps))
            blocks.append(nn.ModuleList(block))
        self.blocks = nn.ModuleList(blocks)
        self.output_layer = nn.Sequential(OutputBN(arch["outs"][-1] * ch, eps=bn_eps), nn.ReLU(),
                                          SNConv2d(arch["outs"][-1] * ch, 3, eps=sn_eps))
        orthogonal_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.synthesize(z, self.shared(y))

    def synthesize(self, z: torch.Tensor, class_embedding: torch.Tensor) -> torch.Tensor:
        if self.hier:
            zs = torch.split(z, self.z_chunk_size, 1)
            z = zs[0]
            conds = [torch.cat([class_embedding, chunk], 1) for chunk in zs[1:]]
        else:
            conds = [class_embedding] * len(self.blocks)
        h = self.linear(z).view(z.shape[0], -1, BOTTOM_WIDTH, BOTTOM_WIDTH)
        for blocklist, cond in zip(self.blocks, conds):
            for block in blocklist:
                h = block(h, cond)
        return torch.tanh(self.output_layer(h))


class Discriminator(nn.Module):
    """D(x, y): images [N, 3, R, R] in [-1, 1], y [N] int64 -> logits [N, 1] (projection discriminator)."""

    def __init__(self, *, resolution: int = 128, ch: int = 64, n_classes: int = 1, attention: str = "64",
                 wide: bool = True, sn_eps: float = 1e-6):
        super().__init__()
        if resolution not in D_ARCH:
            raise ValueError(f"resolution must be one of {sorted(D_ARCH)}, got {resolution}")
        arch = D_ARCH[resolution]
        self.resolution, self.n_classes = resolution, n_classes
        attn = attention_resolutions(attention)
        blocks = []
        for i, (cin, cout, down, res) in enumerate(zip(arch["ins"], arch["outs"], arch["down"], arch["res"])):
            block = [DBlock(cin * ch if i else 3, cout * ch, wide=wide, preactivation=i > 0, downsample=down,
                            sn_eps=sn_eps)]
            if res in attn:
                block.append(Attention(cout * ch, sn_eps=sn_eps))
            blocks.append(nn.ModuleList(block))
        self.blocks = nn.ModuleList(blocks)
        features = arch["outs"][-1] * ch
        self.linear = SNLinear(features, 1, eps=sn_eps)
        self.embed = SNEmbedding(n_classes, features, eps=sn_eps)
        orthogonal_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = x
        for blocklist in self.blocks:
            for block in blocklist:
                h = block(h)
        h = torch.sum(torch.relu(h), [2, 3])
        return self.linear(h) + torch.sum(self.embed(y) * h, 1, keepdim=True)
