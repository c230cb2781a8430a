"""Checkpoint retention: a finished run with `ckpt_keep_final="weights"` keeps only a verified weights.pt, and is
still finished, sampled, published from and transferred from exactly as a run that kept its checkpoints."""

from __future__ import annotations

import pytest
import torch

from gan_lib.checkpoint import CHECKPOINT, PREVIOUS, WEIGHTS
from gan_lib.config import make_config
from gan_lib.errors import UserError
from gan_lib.models.build import load_sampler, load_source
from gan_lib.training.loop import train
from gan_lib.training.run_dir import read_status, slim_run


def _cfg(**kw):
    return make_config("smoke", "scratch", opt_steps=4, eval_every=2, ckpt_every=2, **kw)


def _samples(run_dir):
    _, sampler = load_sampler(run_dir)
    with torch.no_grad():
        return sampler(torch.randn(4, sampler.dim_z, generator=torch.Generator().manual_seed(0)),
                       torch.zeros(4, dtype=torch.long))


def test_slim_run_keeps_what_sampling_and_transfer_need(tmp_path, tiny_set, monkeypatch):
    monkeypatch.setattr("gan_lib.training.monitor.evaluate", lambda *a, **k: {"fid": 1.0, "kid": 0.1, "eval_seconds": 0.0})
    full, slim = tmp_path / "full", tmp_path / "slim"
    rows_full = train(_cfg(), full, dataset=tiny_set, progress=False)
    rows_slim = train(_cfg(ckpt_keep_final="weights"), slim, dataset=tiny_set, progress=False)
    assert (full / CHECKPOINT).exists() and (full / PREVIOUS).exists() and not (full / WEIGHTS).exists()
    assert (slim / WEIGHTS).exists() and not (slim / CHECKPOINT).exists() and not (slim / PREVIOUS).exists()
    timing = ("train_seconds", "elapsed_seconds")
    assert read_status(slim)["status"] == "finished"
    assert [{k: v for k, v in r.items() if k not in timing} for r in rows_slim] == \
        [{k: v for k, v in r.items() if k not in timing} for r in rows_full]
    # finished: training again changes nothing and writes no checkpoint
    assert train(_cfg(ckpt_keep_final="weights"), slim, dataset=tiny_set, progress=False) == rows_slim
    assert not (slim / CHECKPOINT).exists()
    torch.testing.assert_close(_samples(slim), _samples(full), atol=0, rtol=0)
    g, d, arch = load_source(slim)  # a transfer source
    g_full, d_full, _ = load_source(full)
    assert all(torch.equal(a, b) for a, b in zip(g.state_dict().values(), g_full.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(d.state_dict().values(), d_full.state_dict().values()))
    tl = make_config("smoke", "tl", transfer_source=str(slim), opt_steps=2, eval_num_samples=0)
    train(tl, tmp_path / "tl", dataset=tiny_set, progress=False)
    assert read_status(tmp_path / "tl")["status"] == "finished"


def test_slim_run_refuses_an_unfinished_run(tmp_path, tiny_set):
    cfg = _cfg(eval_num_samples=0)
    train(cfg, tmp_path / "run", dataset=tiny_set, progress=False, stop_after=2)
    before = (tmp_path / "run" / CHECKPOINT).read_bytes()
    with pytest.raises(UserError, match="stopped at step 2 of 4; its checkpoints are needed to resume"):
        slim_run(tmp_path / "run")
    assert (tmp_path / "run" / CHECKPOINT).read_bytes() == before and not (tmp_path / "run" / WEIGHTS).exists()


def test_ckpt_keep_final_is_checked():
    with pytest.raises(UserError, match="ckpt_keep_final must be one of full, weights"):
        make_config("smoke", "scratch", ckpt_keep_final="none")
    assert make_config("paper", "tl").ckpt_keep_final == "weights"
