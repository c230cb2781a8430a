"""DiffAugment, consistency regularization and the losses."""

from __future__ import annotations

import pytest
import torch

from gan_lib.training.augment import OPS, cutout, diff_augment, flip_translate, translation
from gan_lib.training.losses import consistency, d_hinge, d_nonsaturating, g_hinge, g_nonsaturating


def images(n=4, size=16, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_empty_policy_is_identity():
    x = images()
    assert diff_augment(x, "") is x


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_gradients_flow_through_every_op(policy):
    x = images().requires_grad_(True)
    out = diff_augment(x, policy, torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_ops_are_reproducible_with_a_generator():
    x = images()
    for op in OPS.values():
        a = op(x, torch.Generator().manual_seed(3))
        b = op(x, torch.Generator().manual_seed(3))
        assert torch.equal(a, b)


def test_translation_moves_pixels_and_fills_zeros():
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 3, 3] = 1.0
    out = translation(x, torch.Generator().manual_seed(0))
    assert torch.equal(out.sum(dim=(1, 2, 3)), torch.ones(64))  # a 1-px shift keeps the dot inside
    positions = {tuple(torch.nonzero(o[0])[0].tolist()) for o in out}
    assert len(positions) > 1 and all(abs(r - 3) <= 1 and abs(c - 3) <= 1 for r, c in positions)


def test_cutout_zeroes_a_quarter_of_the_image():
    out = cutout(torch.ones(32, 3, 16, 16), torch.Generator().manual_seed(0))
    zero_fraction = (out == 0).float().mean(dim=(1, 2, 3))
    assert (zero_fraction <= 0.25 + 1e-6).all() and zero_fraction.max() == pytest.approx(0.25)


def test_consistency_is_zero_for_a_transform_invariant_d():
    x = images(8)
    invariant_d = lambda t: t.abs().mean(dim=(1, 2, 3)).unsqueeze(1)  # flips and shifts change nothing inside
    x = torch.nn.functional.pad(x[:, :, 4:12, 4:12], [4, 4, 4, 4])  # content away from the borders
    gen = torch.Generator().manual_seed(0)
    assert consistency(invariant_d(x), invariant_d(flip_translate(x, gen))).item() == pytest.approx(0, abs=1e-7)
    sensitive_d = lambda t: t[:, :, :8].mean(dim=(1, 2, 3)).unsqueeze(1)
    assert consistency(sensitive_d(x), sensitive_d(flip_translate(x, gen))).item() > 0


def test_losses_at_known_points():
    real, fake = torch.tensor([[2.0], [0.5]]), torch.tensor([[-2.0], [0.0]])
    assert d_hinge(real, fake).item() == pytest.approx((0 + 0.5) / 2 + (0 + 1) / 2)
    assert g_hinge(fake).item() == pytest.approx(1.0)
    zero = torch.zeros(3, 1)
    assert d_nonsaturating(zero, zero).item() == pytest.approx(2 * torch.log(torch.tensor(2.0)).item())
    assert g_nonsaturating(zero).item() == pytest.approx(torch.log(torch.tensor(2.0)).item())
