"""The settings that follow the reference implementations: CR's three recipes (what D sees, when the penalty is
zero, that it reaches D's gradient), MineGAN's own miner (leaves the source embeddings' hull, G's learning rate,
batch statistics in stage 1, loadable and transferable), FreezeD's half of D at every resolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_lib.checkpoint import load_latest
from gan_lib.config import CR_TRANSFORMS, D_BLOCKS, make_config
from gan_lib.models.biggan import D_ARCH
from gan_lib.models.build import build_models, load_sampler
from gan_lib.models.miner import Miner, MineGANMiner
from gan_lib.training.augment import _shift_reflect
from gan_lib.training.loop import cr_inputs, cr_logits, init_state, train, train_step
from gan_lib.training.losses import consistency
from test_methods import d_gradients, marking_augment, recording, smoke  # noqa: F401  (recording: a fixture)


@pytest.mark.parametrize("recipe, views", [("stacked", 1), ("clean", 1), ("paper", 2)])
def test_each_cr_recipe_shows_d_what_its_penalty_compares(recipe, views, recording, smoke_source, tiny_set):
    """DiffAugment is a stand-in that adds 100: augmented views are unmistakable."""
    variant = {"stacked": "tl+da+cr", "clean": "tl+da+cr-clean", "paper": "tl+da+cr-paper"}[recipe]
    cfg = smoke(variant, smoke_source, miner_stage1_steps=0)
    assert cfg.cr_transform == recipe
    s = init_state(cfg, tiny_set.images, tiny_set.labels, 1)
    train_step(s)
    b = cfg.opt_batch_size
    d_call = s.D.calls[0]
    assert len(d_call) == (2 + views) * b
    extra = d_call[2 * b:]
    if recipe == "stacked":  # T(DA(x)): DiffAugmented, then flipped and translated (zero borders)
        assert extra.max() > 50
    else:  # the clean reals (and, for paper, their flipped and reflection-translated copies)
        assert extra.abs().max() <= 1.0


def test_reflection_translation_equals_numpys_reflect_pad_then_crop():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6)
    dy, dx = torch.tensor([2, -1]), torch.tensor([-3, 1])
    out = _shift_reflect(x, dy, dx)
    for i in range(2):
        padded = np.pad(x[i].numpy(), [(0, 0), (3, 3), (3, 3)], mode="reflect")
        top, left = 3 - int(dy[i]), 3 - int(dx[i])
        assert np.array_equal(out[i].numpy(), padded[:, top:top + 6, left:left + 6])


def test_the_paper_penalty_is_zero_for_images_its_transform_leaves_unchanged(smoke_source, tiny_set):
    """Constant images are invariant to flips and reflection-padded translation, not to zero-filled translation."""
    cfg = smoke("tl+da+cr", smoke_source, miner_stage1_steps=0)
    _, d = build_models(cfg, 1)
    real, real_aug = torch.full((4, 3, 16, 16), 0.5), torch.full((4, 3, 16, 16), -0.5)  # DA: another constant
    gen = torch.Generator().manual_seed(0)
    penalties = {}
    for recipe in ("stacked", "paper"):
        inputs = [real_aug, real_aug, *cr_inputs(recipe, real, real_aug, gen)]
        logits = d(torch.cat(inputs), torch.zeros(len(inputs) * 4, dtype=torch.long)).split(4)
        penalties[recipe] = consistency(*cr_logits(recipe, logits)).item()
    assert penalties["paper"] == 0.0 and penalties["stacked"] > 0.0


@pytest.mark.parametrize("recipe", CR_TRANSFORMS)
def test_every_cr_recipe_enters_d_gradient(recipe, tiny_set):
    grads = {w: d_gradients(smoke("custom", None, aug_policy="translation", cr_weight=w, cr_transform=recipe,
                                  miner_stage1_steps=0), tiny_set) for w in (0.0, 10.0)}
    assert (grads[10.0] - grads[0.0]).norm() > 1e-3 * grads[0.0].norm()


def test_the_minegan_miner_can_leave_the_hull_of_the_source_embeddings_and_the_mixture_cannot():
    torch.manual_seed(0)
    table = torch.randn(3, 8)
    target = 3 * table.norm(dim=1).max() * torch.nn.functional.normalize(torch.randn(8), dim=0)
    u = torch.randn(16, 8)
    reached = {}
    for name, miner in (("mixture", Miner(dim_z=8, n_source_classes=3, hidden=16)),
                        ("minegan", MineGANMiner(dim_z=8, shared_dim=8))):
        opt = torch.optim.Adam(miner.parameters(), 1e-2)
        for _ in range(300):
            _, emb = miner(u, table)
            loss = (emb - target).pow(2).sum(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        _, emb = miner(u, table)
        reached[name] = emb.detach()
    direction = torch.nn.functional.normalize(target, dim=0)
    hull_edge = (table @ direction).max()  # no point of the hull lies further along `direction`
    assert ((reached["mixture"] @ direction) <= hull_edge + 1e-5).all()
    assert ((reached["minegan"] @ direction) > hull_edge).all()


def test_minegan_trains_its_miner_at_gs_rate_with_batch_statistics_in_stage_one(smoke_source, tiny_set):
    running = {}
    for kind in ("mixture", "minegan"):
        cfg = smoke({"mixture": "tl", "minegan": "tl-minegan"}[kind], smoke_source, miner_stage1_steps=3)
        s = init_state(cfg, tiny_set.images, tiny_set.labels, 1)
        assert s.opt_miner.param_groups[0]["lr"] == (cfg.opt_g_lr if kind == "minegan" else cfg.miner_lr)
        stats = {k: v.clone() for k, v in s.sampler.generator.state_dict().items() if "stored_mean" in k}
        train_step(s)  # stage 1: G frozen
        after = s.sampler.generator.state_dict()
        running[kind] = any(not torch.equal(v, after[k]) for k, v in stats.items())
        assert all(not p.requires_grad for p in s.sampler.generator.parameters())
    assert running == {"mixture": False, "minegan": True}


def test_a_finished_minegan_run_loads_for_sampling_and_serves_as_a_transfer_source(smoke_source, tmp_path,
                                                                                   tiny_set):
    cfg = smoke("tl-minegan", smoke_source)
    train(cfg, tmp_path / "run", dataset=tiny_set, progress=False)
    loaded_cfg, sampler = load_sampler(tmp_path / "run")
    assert loaded_cfg.miner_kind == "minegan" and isinstance(sampler.miner, MineGANMiner)
    z = torch.randn(2, sampler.dim_z)
    assert sampler(z, torch.zeros(2, dtype=torch.long)).shape == (2, 3, 16, 16)
    again = smoke("tl-minegan", tmp_path / "run", miner_stage1_steps=1, opt_steps=2)
    train(again, tmp_path / "next", dataset=tiny_set, progress=False)
    assert load_latest(tmp_path / "next")["step"] == 2


@pytest.mark.parametrize("resolution", sorted(D_BLOCKS))
def test_freezed_freezes_half_of_ds_blocks_at_every_resolution(resolution):
    assert D_BLOCKS[resolution] == len(D_ARCH[resolution]["ins"])
    cfg = make_config("laptop", "tl+freezed", data_resolution=resolution, transfer_source="src")
    assert cfg.d_freeze_blocks == D_BLOCKS[resolution] // 2
    assert make_config("laptop", "tl+freezed", transfer_source="src").d_freeze_blocks == 2  # committed 32 px runs


def test_unknown_recipe_or_miner_is_one_line_naming_the_choices():
    from gan_lib.errors import UserError

    with pytest.raises(UserError, match="cr_transform must be one of stacked, clean, paper, got 'flip'"):
        make_config("laptop", "custom", cr_transform="flip", transfer_source="src")
    with pytest.raises(UserError, match="miner_kind must be one of mixture, minegan"):
        make_config("laptop", "custom", miner_kind="mlp", transfer_source="src")


def test_the_default_recipe_and_miner_are_what_the_committed_runs_trained_with():
    for variant in ("tl", "tl+da", "tl+da+cr"):
        cfg = make_config("laptop", variant, transfer_source="src")
        assert (cfg.cr_transform, cfg.miner_kind, cfg.miner_learning_rate) == ("stacked", "mixture", 2e-4)


def test_loading_a_source_draws_from_the_global_rng_as_one_build_of_g_and_d(smoke_source):
    """Transfer runs reproduce bit for bit only if the global RNG reaches the miner's init as it always did: loading
    a source costs one build of its G and D (the second build, for a finished transfer run's one-class D, is
    forked off)."""
    from gan_lib.config import load_config
    from gan_lib.models.build import build_gan, load_source

    torch.manual_seed(0)
    load_source(smoke_source)
    after_load = torch.random.get_rng_state()
    torch.manual_seed(0)
    build_gan(load_config(smoke_source / "config.json"), n_classes=3)
    assert torch.equal(after_load, torch.random.get_rng_state())
