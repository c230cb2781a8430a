"""GAN losses as pure functions of discriminator logits: hinge (Lim & Ye 2017; BigGAN's default),
non-saturating (Goodfellow et al. 2014), and the consistency-regularization penalty (Zhang et al. 2019)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_hinge(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def g_hinge(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def d_nonsaturating(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def g_nonsaturating(fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake).mean()


D_LOSSES = {"hinge": d_hinge, "ns": d_nonsaturating}
G_LOSSES = {"hinge": g_hinge, "ns": g_nonsaturating}


def consistency(logits: torch.Tensor, logits_transformed: torch.Tensor) -> torch.Tensor:
    """CR penalty ||D(x) - D(T(x))||^2, averaged over the batch; multiply by the weight lambda (paper: 10)."""
    return (logits - logits_transformed).pow(2).sum(dim=1).mean()
