"""The MineGAN miner (Wang et al. 2019, "MineGAN: effective knowledge transfer from GANs to target domains
with few images") for a class-conditional BigGAN.

The miner maps input noise u to the generator's latent z and to its class embedding. The embedding is a learned
softmax mixture of the source classes' shared embeddings, so the miner can settle on one source class or on a
region between classes. It starts as the identity on z and the uniform mixture over classes.
"""

from __future__ import annotations

import torch
from torch import nn

from gan_lib.models.biggan import Generator


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


class Sampler(nn.Module):
    """What the study samples from: G alone, or G behind a miner. forward(z, y) -> images in [-1, 1].

    With a miner the target domain has one class and `y` is ignored.
    """

    def __init__(self, generator: Generator, miner: Miner | None = None):
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
