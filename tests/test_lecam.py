"""LeCam regularization (Tseng et al. 2021): the penalty's closed form, anchors that follow D's mean logits on the
batches its loss sees, the penalty in D's gradient in proportion to its weight, and an exact resume of the
anchors."""

from __future__ import annotations

import pytest
import torch

from gan_lib.config import LECAM_WEIGHT, make_config
from gan_lib.errors import UserError
from gan_lib.training.loop import init_state, train_step
from gan_lib.training.losses import lecam
from test_methods import d_gradients, smoke
from test_resume import straight_and_resumed


def test_the_penalty_is_the_squared_overshoot_past_the_other_sides_anchor():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    # relu(D(x) - a_F) = [1.5, 0]; relu(a_R - D(G(z))) = [2, 0]
    assert lecam(real, fake, torch.tensor(1.0), torch.tensor(0.5)).item() == pytest.approx(1.5**2 / 2 + 2**2 / 2)
    # logits already on their side of the other's anchor cost nothing
    assert lecam(real, fake, torch.tensor(-5.0), torch.tensor(5.0)).item() == 0.0


def test_the_anchors_follow_ds_mean_logits_on_the_augmented_batches(smoke_source, tiny_set):
    cfg = smoke("tl+da+lecam", smoke_source, miner_stage1_steps=0, lecam_decay=0.9)
    s = init_state(cfg, tiny_set.images, tiny_set.labels, 1)
    outputs = []
    s.D.register_forward_hook(lambda module, inputs, out: outputs.append(out.detach().clone()))
    b = cfg.opt_batch_size
    expected = None
    for _ in range(3):
        outputs.clear()
        losses = train_step(s)
        d_out = outputs[0].flatten()  # the D step's call on [DA(x), DA(G(z))]; then G's step
        real, fake = d_out[:b], d_out[b:2 * b]
        expected = torch.stack([real.mean(), fake.mean()]) if expected is None else (
            0.9 * expected + 0.1 * torch.stack([real.mean(), fake.mean()]))
        torch.testing.assert_close(s.lecam_anchors, expected)  # updated before the penalty reads them
        torch.testing.assert_close(losses["lecam_loss"], lecam(real, fake, *expected))
    assert s.lecam_anchors[0] != s.lecam_anchors[1]


def test_the_penalty_enters_ds_gradient_in_proportion_to_its_weight(tiny_set):
    grads = {w: d_gradients(smoke("custom", None, aug_policy="translation", lecam_weight=w, miner_stage1_steps=0),
                            tiny_set) for w in (0.0, 0.3, 0.6)}
    first = grads[0.3] - grads[0.0]
    assert first.norm() > 1e-3 * grads[0.0].norm(), "the LeCam weight does not change D's gradient"
    assert (grads[0.6] - grads[0.3] - first).norm() < 1e-2 * first.norm()  # linear in the weight


def test_a_resumed_run_keeps_its_anchors(smoke_source, tmp_path, tiny_set):
    cfg = smoke("tl+da+lecam", smoke_source, opt_steps=5, ckpt_every=100)
    a, b = straight_and_resumed(cfg, tmp_path, tiny_set, stop_at=3)
    assert a["lecam_anchors"] is not None and torch.equal(a["lecam_anchors"], b["lecam_anchors"])


def test_the_variant_is_diffaugment_plus_lecam_at_the_papers_weight_and_decay():
    cfg = make_config("laptop", "tl+da+lecam", transfer_source="x")
    assert (cfg.lecam_weight, cfg.lecam_decay, cfg.cr_weight) == (LECAM_WEIGHT, 0.99, 0.0) and cfg.aug_policy
    base = make_config("laptop", "tl+da", transfer_source="x")
    assert cfg.replace(variant="tl+da", lecam_weight=0.0) == base  # the pair differs in LeCam alone


@pytest.mark.parametrize("key, value, words", [("lecam_weight", -1.0, "lecam_weight must be zero"),
                                               ("lecam_decay", 1.0, "lecam_decay must be in")])
def test_bad_lecam_settings_are_one_line(key, value, words):
    with pytest.raises(UserError, match=words):
        make_config("smoke", "custom", **{key: value})
