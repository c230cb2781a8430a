"""The MineGAN miner (Wang et al. 2019, "MineGAN: effective knowledge transfer from GANs to target domains
with few images") for a class-conditional BigGAN, in two kinds (`Config.miner_kind`).

A miner maps input noise u to the generator's latent z and to its class embedding. `Miner` (`mixture`, this
project's default): the embedding is a learned softmax mixture of the source classes' shared embeddings, so it
settles on one source class or a region between them, never outside their convex hull; it starts as the identity on
z and the uniform mixture. `MineGANMiner` (`minegan`): MineGAN's BigGAN miner (`Minor` in its `BigGAN.py`), two
stacks of spectrally normalised linear layers without activations between them, u -> z (4 layers) and u -> a
free class embedding (4 layers), orthogonally initialised.
"""

from __future__ import annotations

import torch
from torch import nn

from gan_lib.models.biggan import Generator, orthogonal_init
from gan_lib.models.layers import SNLinear


class Miner(nn.Module):
    def __init__(self, *, dim_z: int, n_source_classes: int, hidden: int = 256):
        super().__init__()
        self.dim_z = dim_z
        self.z_net = nn.Sequential(nn.Linear(dim_z, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, dim_z))
        self.class_logits = nn.Sequential(nn.Linear(dim_z, hidden), nn.LeakyReLU(0.2),
                                          nn.Linear(hidden, n_source_classes))
        for head in (self.z_net[-1], self.class_logits[-1]):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, u: torch.Tensor, class_table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """u [N, dim_z], class_table [n_source_classes, shared_dim] -> (z [N, dim_z], embedding [N, shared_dim])."""
        z = u + self.z_net(u)
        weights = torch.softmax(self.class_logits(u), dim=1)
        return z, weights @ class_table


class MineGANMiner(nn.Module):
    """MineGAN's miner: u -> (z, embedding) through two stacks of SN linear layers; `class_table` is not used."""

    def __init__(self, *, dim_z: int, shared_dim: int, depth: int = 4, sn_eps: float = 1e-6):
        super().__init__()
        self.dim_z = dim_z
        self.z_net = nn.Sequential(*[SNLinear(dim_z, dim_z, eps=sn_eps) for _ in range(depth)])
        self.embed_net = nn.Sequential(*[SNLinear(dim_z, dim_z, eps=sn_eps) for _ in range(depth - 1)],
                                       SNLinear(dim_z, shared_dim, eps=sn_eps))
        orthogonal_init(self)

    def forward(self, u: torch.Tensor, class_table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.z_net(u), self.embed_net(u)


def make_miner(kind: str, *, dim_z: int, n_source_classes: int, shared_dim: int, hidden: int,
               sn_eps: float = 1e-6) -> nn.Module:
    """The miner of `kind` (`Config.miner_kind`) for a source G with `n_source_classes` embeddings of `shared_dim`."""
    if kind == "minegan":
        return MineGANMiner(dim_z=dim_z, shared_dim=shared_dim, sn_eps=sn_eps)
    return Miner(dim_z=dim_z, n_source_classes=n_source_classes, hidden=hidden)


class Sampler(nn.Module):
    """What the study samples from: G alone, or G behind a miner. forward(z, y) -> images in [-1, 1].

    With a miner the target domain has one class and `y` is ignored.
    """

    def __init__(self, generator: Generator, miner: nn.Module | None = None):
        super().__init__()
        self.generator = generator
        self.miner = miner

    @property
    def dim_z(self) -> int:
        return self.generator.dim_z

    @property
    def n_classes(self) -> int:
        return 1 if self.miner is not None else self.generator.n_classes

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.miner is None:
            return self.generator(z, y)
        z, embedding = self.miner(z, self.generator.shared.weight)
        return self.generator.synthesize(z, embedding)
