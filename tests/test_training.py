"""The training loop: every variant runs, the miner's stages, exact resume, config checks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from gan_lib.checkpoint import load_latest
from gan_lib.config import VARIANTS, make_config
from gan_lib.errors import UserError
from gan_lib.models.build import load_sampler
from gan_lib.training.loop import init_state, set_stage, train


@pytest.fixture
def source_run(smoke_source):
    return smoke_source


def smoke(variant, source_run, **overrides):
    if variant in VARIANTS and VARIANTS[variant].transfer:
        overrides.setdefault("transfer_source", str(source_run))
    return make_config("smoke", variant, eval_num_samples=0, **overrides)


def flat_weights(state_dict):
    return torch.cat([t.flatten().float() for k, t in state_dict.items() if t.is_floating_point()])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_variant_trains_with_finite_losses_and_moves_weights(variant, source_run, tmp_path, tiny_set):
    cfg = smoke(variant, source_run)
    s0 = init_state(cfg, tiny_set.images, tiny_set.labels, 1)
    before_g, before_d = flat_weights(s0.sampler.generator.state_dict()), flat_weights(s0.D.state_dict())
    train(cfg, tmp_path, dataset=tiny_set, progress=False)
    state = load_latest(tmp_path)
    assert state["step"] == cfg.opt_steps
    losses = torch.stack([v for vs in state["running"].values() for v in vs])
    assert torch.isfinite(losses).all()
    assert not torch.equal(before_g, flat_weights(state["G"]))
    assert not torch.equal(before_d, flat_weights(state["D"]))
    assert ("cr_loss" in state["running"]) == (cfg.cr_weight > 0)
    assert (state["miner"] is not None) == VARIANTS[variant].transfer
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "finished"


def test_miner_stage_one_freezes_generator_and_stage_two_unfreezes(source_run, tiny_set):
    cfg = smoke("tl", source_run, miner_stage1_steps=2)
    s = init_state(cfg, tiny_set.images, tiny_set.labels, 1)
    g = s.sampler.generator
    assert set_stage(s.sampler, 0, cfg) == 1
    assert not any(p.requires_grad for p in g.parameters()) and not g.training
    assert all(p.requires_grad for p in s.sampler.miner.parameters())
    assert set_stage(s.sampler, 2, cfg) == 2
    assert all(p.requires_grad for p in g.parameters()) and g.training


def test_stage_one_moves_only_miner_and_d(source_run, tmp_path, tiny_set):
    cfg = smoke("tl", source_run, miner_stage1_steps=10, opt_steps=2)
    s = init_state(cfg, tiny_set.images, tiny_set.labels, 1)
    g_before = {k: v.clone() for k, v in s.sampler.generator.state_dict().items()}
    miner_before = flat_weights(s.sampler.miner.state_dict())
    train(cfg, tmp_path, dataset=tiny_set, progress=False)
    state = load_latest(tmp_path)
    assert all(torch.equal(g_before[k], v) for k, v in state["G"].items())
    assert not torch.equal(miner_before, flat_weights(state["miner"]))


@pytest.mark.parametrize("variant", ["scratch", "tl+da+cr"])
def test_stop_and_resume_equals_uninterrupted_run(variant, source_run, tmp_path, tiny_set):
    cfg = smoke(variant, source_run, opt_steps=6, ckpt_every=100)
    train(cfg, tmp_path / "straight", dataset=tiny_set, progress=False)
    train(cfg, tmp_path / "resumed", dataset=tiny_set, progress=False, stop_after=3)
    assert load_latest(tmp_path / "resumed")["step"] == 3
    train(cfg, tmp_path / "resumed", dataset=tiny_set, progress=False)
    a, b = load_latest(tmp_path / "straight"), load_latest(tmp_path / "resumed")
    for key in ("G", "D", "G_ema", "miner", "miner_ema"):
        if a[key] is None:
            continue
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), f"{key}.{name} differs after resume"
    assert torch.equal(a["noise_gen"], b["noise_gen"]) and torch.equal(a["order"], b["order"])


def test_same_seed_same_weights_other_seed_differs(tmp_path, tiny_set):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train(make_config("smoke", "scratch", eval_num_samples=0, train_seed=seed), tmp_path / name,
              dataset=tiny_set, progress=False)
    g = {name: flat_weights(load_latest(tmp_path / name)["G"]) for name in "abc"}
    assert torch.equal(g["a"], g["b"]) and not torch.equal(g["a"], g["c"])


def _weights_after(cfg, tiny_set, steps):
    from gan_lib.training.loop import train_step

    s = init_state(cfg, tiny_set.images, tiny_set.labels, 1)
    for _ in range(steps):
        train_step(s)
    return flat_weights(s.sampler.state_dict()), flat_weights(s.D.state_dict())


def assert_equivalent(ref, fast, cfg, steps, bulk_tol):
    """Two runs from the same initial weights agree: 99% of weights to `bulk_tol` (another summation order flips
    the sign of a few near-zero gradients, and Adam turns each flip into a full-size update), and none by more
    than Adam can move two runs apart in `steps` updates (with beta1 = 0 the t-th update is at most lr * sqrt(t)).
    The second bound only guards against a blow-up: two runs from one init always meet it. The first one fails
    for a run that differs in anything real (test_equivalence_check_rejects_runs_that_differ)."""
    assert cfg.opt_beta1 == 0 and cfg.d_steps == 1, "the bound below assumes one update per step and beta1 = 0"
    limit = 2 * sum(t ** 0.5 for t in range(1, steps + 1)) * max(cfg.opt_g_lr, cfg.opt_d_lr, cfg.miner_lr)
    for a, b in zip(ref, fast):
        diff = (a - b).abs()
        assert torch.quantile(diff, 0.99) <= bulk_tol, torch.quantile(diff, 0.99)
        assert diff.max() <= limit, (diff.max(), limit)


@pytest.mark.parametrize("change", [dict(opt_g_lr=1.1e-4), dict(opt_d_lr=4.4e-4), dict(train_seed=1),
                                    dict(variant="custom", aug_policy="color", miner_stage1_steps=0, transfer_source="")])
def test_equivalence_check_rejects_runs_that_differ(change, tiny_set):
    cfg = make_config("smoke", "scratch", eval_num_samples=0)
    other = make_config("smoke", **{"variant": "scratch", "eval_num_samples": 0, **change})
    with pytest.raises(AssertionError):
        assert_equivalent(_weights_after(cfg, tiny_set, 4), _weights_after(other, tiny_set, 4), cfg, 4, 1e-5)


@pytest.mark.parametrize("variant", ["scratch", "tl+da+cr"])
def test_channels_last_trains_like_the_reference_mode(variant, source_run, tiny_set):
    cfg = smoke(variant, source_run)
    ref = _weights_after(cfg, tiny_set, 4)
    fast = _weights_after(cfg.replace(train_channels_last=True), tiny_set, 4)
    assert_equivalent(ref, fast, cfg, 4, bulk_tol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_trains_close_to_fp32_on_cuda(source_run, tiny_set):
    cfg = smoke("tl+da+cr", source_run, train_device="cuda")
    ref = _weights_after(cfg, tiny_set, 4)
    fast = _weights_after(cfg.replace(train_bf16=True, train_channels_last=True), tiny_set, 4)
    assert_equivalent(ref, fast, cfg, 4, bulk_tol=1e-3)


def test_load_sampler_returns_ema_generator_behind_the_miner(source_run, tmp_path, tiny_set):
    train(smoke("tl", source_run), tmp_path, dataset=tiny_set, progress=False)
    cfg, sampler = load_sampler(tmp_path)
    assert cfg.variant == "tl" and sampler.miner is not None and sampler.n_classes == 1
    with torch.no_grad():
        x = sampler(torch.randn(2, sampler.dim_z), torch.zeros(2, dtype=torch.long))
    assert x.shape == (2, 3, 16, 16) and x.abs().max() <= 1


def test_restarting_with_a_different_config_is_refused(tmp_path, tiny_set):
    train(make_config("smoke", "scratch", eval_num_samples=0), tmp_path, dataset=tiny_set, progress=False)
    with pytest.raises(UserError, match="different config .*opt_g_lr"):
        train(make_config("smoke", "scratch", eval_num_samples=0, opt_g_lr=1e-3), tmp_path, dataset=tiny_set)


@pytest.mark.parametrize("kwargs,message", [
    (dict(variant="dcgan"), "unknown variant 'dcgan'; choose one of scratch, tl, tl\\+da, tl\\+da\\+cr"),
    (dict(preset="huge"), "unknown preset 'huge'"),
    (dict(learning_rate=1), "unknown config field\\(s\\) learning_rate"),
    (dict(opt_steps=-1), "opt_steps must be zero or positive"),
    (dict(data_resolution=48), "data_resolution must be one of"),
    (dict(aug_policy="color,blur", variant="custom"), "aug_policy 'color,blur' may only name"),
    (dict(variant="tl", transfer_source=""), "variant 'tl' needs a pretrained source"),
    (dict(variant="tl+da", aug_policy="color", transfer_source="src"), "variant 'tl\\+da' fixes aug_policy"),
])
def test_bad_config_is_one_clear_sentence(kwargs, message):
    kwargs = {"preset": "smoke", "variant": "scratch", **kwargs}
    with pytest.raises(UserError, match=message):
        make_config(kwargs.pop("preset"), kwargs.pop("variant"), **kwargs)


def test_missing_transfer_source_is_a_clear_error(tmp_path, tiny_set):
    cfg = make_config("smoke", "tl", transfer_source=str(tmp_path / "nowhere"), eval_num_samples=0)
    with pytest.raises(UserError, match="neither a gan_lib run directory"):
        train(cfg, tmp_path / "run", dataset=tiny_set)


def test_cli_bad_variant_prints_one_line_and_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gan_lib.training", "--preset", "smoke", "--variant", "gan",
                           "--run-dir", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error: unknown variant 'gan'")


@pytest.mark.slow
@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def test_compiled_steps_train_like_the_reference_mode(device, source_run, tiny_set):
    cfg = smoke("tl+da+cr", source_run, train_device=device)
    compiled = init_state(cfg.replace(train_compile=True), tiny_set.images, tiny_set.labels, 1)
    assert list(compiled.D.state_dict()) == list(init_state(cfg, tiny_set.images, tiny_set.labels, 1).D.state_dict())
    ref = _weights_after(cfg, tiny_set, 4)
    fast = _weights_after(cfg.replace(train_compile=True), tiny_set, 4)
    # CUDA convolutions (TF32, algorithm choice) are not bit-reproducible between the two graphs
    assert_equivalent(ref, fast, cfg, 4, bulk_tol=1e-5 if device == "cpu" else 1e-4)
