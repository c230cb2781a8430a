"""Behaviour of each method the study compares, written so that a broken method fails a test (see
tools/mutation_check.py): DiffAugment reaches D's real and fake inputs and G's loss; the CR penalty enters D's
gradient with its weight; MineGAN's two stages move the right parameters; the EMA follows its rule; evaluation
samples come from the EMA copy; truncation resamples."""

from __future__ import annotations

import pytest
import torch

from gan_lib.config import VARIANTS, make_config
from gan_lib.evaluation import fixed_latents
from gan_lib.training import loop as training
from gan_lib.training.loop import init_state, train_step


class RecordingD(torch.nn.Module):
    """Wraps D and records every input batch it is called on."""

    def __init__(self, d: torch.nn.Module):
        super().__init__()
        self.inner, self.n_classes, self.calls = d, d.n_classes, []

    def forward(self, x, y):
        self.calls.append(x.detach().clone())
        return self.inner(x, y)


def marking_augment(x, policy, gen=None):
    """A stand-in DiffAugment whose output is unmistakable: +100 on every pixel when a policy is set."""
    return x + 100.0 if policy else x


@pytest.fixture
def recording(monkeypatch):
    build = training.build_models
    monkeypatch.setattr(training, "build_models", lambda cfg, n: (lambda s, d: (s, RecordingD(d)))(*build(cfg, n)))
    monkeypatch.setattr(training, "diff_augment", marking_augment)


def smoke(variant, source, **overrides):
    if variant in VARIANTS and VARIANTS[variant].transfer:
        overrides.setdefault("transfer_source", str(source))
    return make_config("smoke", variant, eval_num_samples=0, **overrides)


def params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def changed(before, module):
    after = dict(module.named_parameters())
    return {k for k, v in before.items() if not torch.equal(v, after[k])}


@pytest.mark.parametrize("variant, augmented", [("tl", False), ("tl+da", True), ("tl+da+cr", True)])
def test_diffaugment_reaches_d_real_and_fake_in_d_step_and_g_step(variant, augmented, recording, smoke_source,
                                                                   tiny_set):
    cfg = smoke(variant, smoke_source, miner_stage1_steps=0)
    s = init_state(cfg, tiny_set.images, tiny_set.labels, 1)
    train_step(s)
    b = cfg.opt_batch_size
    d_call, g_call = s.D.calls  # one D step (real, fake[, CR view]), then G's step on fakes
    chunks = {"D real": d_call[:b], "D fake": d_call[b:2 * b], "G fake": g_call}
    for name, x in chunks.items():
        assert (x.min() > 50) == augmented, f"{name}: augmented={x.min() > 50}, expected {augmented}"


def d_gradients(cfg, tiny_set):
    """D's gradient of one D step (the optimizer step skipped) from the seed's initial state."""
    s = init_state(cfg, tiny_set.images, tiny_set.labels, 1)
    s.opt_d.step = lambda *args, **kwargs: None
    training.d_step(s)
    return torch.cat([p.grad.flatten() for p in s.D.parameters() if p.grad is not None])


def test_cr_penalty_enters_d_gradient_with_its_weight(tiny_set):
    grads = {w: d_gradients(smoke("custom", None, aug_policy="translation", cr_weight=w, miner_stage1_steps=0),
                            tiny_set)
             for w in (0.0, 10.0, 20.0)}
    per_ten = grads[10.0] - grads[0.0]
    assert per_ten.norm() > 1e-3 * grads[0.0].norm(), "the CR weight does not change D's gradient"
    # linear in the weight: the next 10 add what the first 10 added (to float32 summation noise)
    assert (grads[20.0] - grads[10.0] - per_ten).norm() < 1e-2 * per_ten.norm()


def test_stage_one_moves_miner_and_d_parameters_only(smoke_source, tiny_set):
    s = init_state(smoke("tl", smoke_source, miner_stage1_steps=3), tiny_set.images, tiny_set.labels, 1)
    g, miner, d = params(s.sampler.generator), params(s.sampler.miner), params(s.D)
    train_step(s)
    assert not changed(g, s.sampler.generator), "G's parameters moved in stage 1"
    assert changed(miner, s.sampler.miner), "the miner did not train in stage 1"
    assert changed(d, s.D), "D did not train in stage 1"


def test_stage_two_moves_g_parameters_and_keeps_training_the_miner(smoke_source, tiny_set):
    s = init_state(smoke("tl", smoke_source, miner_stage1_steps=1), tiny_set.images, tiny_set.labels, 1)
    train_step(s)  # stage 1
    g, miner = params(s.sampler.generator), params(s.sampler.miner)
    train_step(s)  # stage 2
    moved = changed(g, s.sampler.generator)
    assert len(moved) > 0.9 * len(g), f"only {len(moved)} of {len(g)} G parameters moved in stage 2"
    assert changed(miner, s.sampler.miner), "the miner stopped training in stage 2"


def test_scratch_moves_g_parameters(tiny_set):
    s = init_state(smoke("scratch", None), tiny_set.images, tiny_set.labels, 1)
    g = params(s.sampler.generator)
    train_step(s)
    assert len(changed(g, s.sampler.generator)) > 0.9 * len(g)


def test_ema_copies_g_before_its_start_then_follows_the_lerp_rule(tiny_set):
    cfg = smoke("scratch", None, g_ema_start=2, g_ema_decay=0.9, opt_steps=5)
    s = init_state(cfg, tiny_set.images, tiny_set.labels, 1)
    for _ in range(4):
        ema_before = [p.detach().clone() for p in s.ema.parameters()]
        train_step(s)
        for e0, e1, p in zip(ema_before, s.ema.parameters(), s.sampler.parameters()):
            want = p.detach() if s.step < cfg.g_ema_start else e0 + (1 - cfg.g_ema_decay) * (p.detach() - e0)
            torch.testing.assert_close(e1, want, rtol=0, atol=1e-6)
    assert any(not torch.equal(e, p) for e, p in zip(s.ema.parameters(), s.sampler.parameters()))


def test_evaluation_samples_come_from_the_ema_copy(monkeypatch, tiny_set):
    from gan_lib.training import monitor

    seen = []
    monkeypatch.setattr(monitor, "evaluate", lambda sampler, **kw: seen.append(sampler) or {"eval_seconds": 0.0})
    s = init_state(smoke("scratch", None, g_ema_decay=0.9), tiny_set.images, tiny_set.labels, 1)
    train_step(s)
    monitor.evaluate_state(s, tiny_set, extractor=None)
    assert seen == [s.ema] and s.ema is not s.sampler
    s0 = init_state(smoke("scratch", None, g_ema_decay=0.0), tiny_set.images, tiny_set.labels, 1)
    monitor.evaluate_state(s0, tiny_set, extractor=None)
    assert seen[-1] is s0.sampler  # no EMA: G itself


def test_truncation_resamples_rather_than_clamps():
    z, _ = fixed_latents(2000, 16, 1, seed=3, truncation=0.5)
    assert z.abs().max() <= 0.5
    at_edge = (z.abs() > 0.499).float().mean()
    assert at_edge < 0.01, f"{at_edge:.1%} of entries sit at the threshold: clamped, not resampled"
    full, _ = fixed_latents(2000, 16, 1, seed=3)
    inside = full[full.abs() <= 0.5]
    assert abs(z.std() - inside.std()) < 0.01  # the truncated normal, not a squashed one


def test_init_state_is_reproducible_from_the_seed(tiny_set):
    """What the gradient comparison above relies on: two states built from one seed are equal."""
    a = init_state(smoke("scratch", None), tiny_set.images, tiny_set.labels, 1)
    b = init_state(smoke("scratch", None), tiny_set.images, tiny_set.labels, 1)
    assert all(torch.equal(x, y) for x, y in zip(a.D.parameters(), b.D.parameters()))
