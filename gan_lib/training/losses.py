"""GAN losses as pure functions of discriminator logits: hinge (Lim & Ye 2017; BigGAN's default),
non-saturating (Goodfellow et al. 2014), the consistency-regularization penalty (Zhang et al. 2019) and the LeCam
penalty (Tseng et al. 2021)."""

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


def lecam(real: torch.Tensor, fake: torch.Tensor, anchor_real: torch.Tensor, anchor_fake: torch.Tensor) -> torch.Tensor:
    """LeCam penalty mean(relu(D(x) - a_F)^2) + mean(relu(a_R - D(G(z)))^2), a_R and a_F the moving averages of
    D's mean logits on real and on fake images; multiply by the weight lambda (the paper's BigGAN: 0.3)."""
    return F.relu(real - anchor_fake).pow(2).mean() + F.relu(anchor_real - fake).pow(2).mean()
