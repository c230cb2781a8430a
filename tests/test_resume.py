"""Exact resume at the places where state is easiest to lose: across epoch boundaries (the data order), inside
MineGAN's stage 1, across an evaluation; and the transfer source read from its exported weights file."""

from __future__ import annotations

import pytest
import torch

from gan_lib.checkpoint import load_latest
from gan_lib.config import make_config
from gan_lib.errors import UserError
from gan_lib.evaluation import tiny_extractor
from gan_lib.models.build import load_source
from gan_lib.training.loop import train
from gan_lib.training.run_dir import export_weights
from tests.conftest import make_image_set

MODELS = ("G", "D", "G_ema", "miner", "miner_ema")


def assert_same_run(a_dir, b_dir):
    a, b = load_latest(a_dir), load_latest(b_dir)
    assert a["step"] == b["step"]
    for key in MODELS:
        if a[key] is not None:
            for name in a[key]:
                assert torch.equal(a[key][name], b[key][name]), f"{key}.{name} differs after resume"
    assert torch.equal(a["order"], b["order"]) and a["cursor"] == b["cursor"]
    return a, b


def straight_and_resumed(cfg, tmp_path, dataset, stop_at, **kwargs):
    train(cfg, tmp_path / "straight", dataset=dataset, progress=False, **kwargs)
    train(cfg, tmp_path / "resumed", dataset=dataset, progress=False, stop_after=stop_at, **kwargs)
    assert load_latest(tmp_path / "resumed")["step"] == stop_at
    train(cfg, tmp_path / "resumed", dataset=dataset, progress=False, **kwargs)
    return assert_same_run(tmp_path / "straight", tmp_path / "resumed")


def test_resume_across_epoch_boundaries_restores_the_data_order(tmp_path):
    ten = make_image_set(n=10)  # batch 4: a new permutation every 2-3 steps
    cfg = make_config("smoke", "scratch", opt_steps=9, ckpt_every=100, eval_num_samples=0)
    straight_and_resumed(cfg, tmp_path, ten, stop_at=3)  # mid-epoch (images 4-7 of the 2nd permutation next)


def test_resume_inside_miner_stage_one(smoke_source, tmp_path, tiny_set):
    cfg = make_config("smoke", "tl", transfer_source=str(smoke_source), miner_stage1_steps=4, opt_steps=6,
                      ckpt_every=100, eval_num_samples=0)
    straight_and_resumed(cfg, tmp_path, tiny_set, stop_at=2)


def test_resume_across_an_evaluation_keeps_rows_and_weights(tmp_path, tiny_set):
    cfg = make_config("smoke", "scratch", opt_steps=6, eval_every=2, eval_num_samples=8,
                      ckpt_every=100)
    a, b = straight_and_resumed(cfg, tmp_path, tiny_set, stop_at=3, extractor=tiny_extractor())
    assert [r["step"] for r in b["rows"]] == [2, 4, 6]
    assert [r["fid"] for r in a["rows"]] == [r["fid"] for r in b["rows"]]
    assert [r["d_loss"] for r in a["rows"]] == [r["d_loss"] for r in b["rows"]]


def test_transfer_source_is_read_from_its_exported_weights_file(smoke_source, tmp_path, tiny_set):
    exported = tmp_path / "exported"
    export_weights(smoke_source, exported)
    assert sorted(p.name for p in exported.iterdir()) == ["config.json", "status.json", "weights.pt"]
    g, d, arch = load_source(exported)
    source = load_latest(smoke_source)
    for name, value in g.state_dict().items():
        assert torch.equal(value, source["G_ema"][name]), name
    for name, value in d.state_dict().items():
        assert torch.equal(value, source["D"][name]), name
    cfg = make_config("smoke", "tl", transfer_source=str(exported), opt_steps=2, eval_num_samples=0)
    train(cfg, tmp_path / "run", dataset=tiny_set, progress=False)
    assert load_latest(tmp_path / "run")["step"] == 2


def test_architecture_mismatch_with_the_source_is_one_line(smoke_source, tmp_path, tiny_set):
    cfg = make_config("smoke", "tl", transfer_source=str(smoke_source), g_ch=8, eval_num_samples=0)
    with pytest.raises(UserError, match=r"was built with g_ch=4 but the config has g_ch=8") as err:
        train(cfg, tmp_path / "run", dataset=tiny_set, progress=False)
    assert "\n" not in str(err.value)
