"""Committed models: a finished run's EMA generator and miner in 16 bits, loadable and scoreable like the run it
came from, refused as a transfer source, and the committed ones reproducing their committed final FID."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from gan_lib.checkpoint import read_checkpoint
from gan_lib.config import make_config
from gan_lib.errors import UserError
from gan_lib.evaluation import evaluate, tiny_extractor
from gan_lib.models.build import load_sampler, load_source
from gan_lib.models.compact import committed_models, export_compact
from gan_lib.paths import REPO_ROOT
from gan_lib.report.results import read_results
from gan_lib.training.loop import train

# |FID(16-bit model) - committed FID| allowed: about 5x the largest of the 8 committed laptop models' (0.099;
# docs/studies.md, committed models)
FID_TOLERANCE = 0.5


@pytest.fixture(scope="module")
def finished_tl_run(smoke_source, tmp_path_factory):
    from tests.conftest import make_image_set

    run_dir = tmp_path_factory.mktemp("tl_run")
    cfg = make_config("smoke", "tl", transfer_source=str(smoke_source), eval_num_samples=0, opt_steps=3)
    train(cfg, run_dir, dataset=make_image_set(), progress=False)
    return run_dir


def test_the_compact_model_samples_as_the_run_does(finished_tl_run, tmp_path):
    path = export_compact(finished_tl_run, tmp_path / "study" / "run")
    state = read_checkpoint(path)
    assert state["compact"] and "D" not in state and "opt_g" not in state
    assert all(v.dtype == torch.float16 for v in state["G_ema"].values() if v.is_floating_point())
    assert path.stat().st_size < 0.6 * (finished_tl_run / "checkpoint.pt").stat().st_size
    _, full = load_sampler(finished_tl_run)
    _, half = load_sampler(path.parent)
    z, y = torch.randn(8, full.dim_z, generator=torch.Generator().manual_seed(0)), torch.zeros(8, dtype=torch.long)
    with torch.no_grad():
        a, b = full(z, y), half(z, y)
    assert not torch.equal(a, b) and (a - b).abs().max() < 2e-2  # rounded weights, the same images to 1 %
    assert committed_models(tmp_path) == {"study/run": path.parent}


def test_scores_from_the_compact_model_are_close_to_the_runs(finished_tl_run, tmp_path, tiny_set):
    export_compact(finished_tl_run, tmp_path / "run")
    scores = {}
    for name, folder in (("full", finished_tl_run), ("half", tmp_path / "run")):
        _, sampler = load_sampler(folder)
        scores[name] = evaluate(sampler, dim_z=sampler.dim_z, n_classes=1, dataset=tiny_set, num=16, seed=1,
                                batch_size=8, device="cpu", extractor=tiny_extractor())["fid"]
    assert scores["half"] == pytest.approx(scores["full"], rel=0.02)


def test_an_unfinished_run_or_a_transfer_from_a_compact_model_is_one_line(smoke_source, tmp_path, finished_tl_run):
    from tests.conftest import make_image_set

    cfg = make_config("smoke", "scratch", eval_num_samples=0, opt_steps=4)
    train(cfg, tmp_path / "half_done", dataset=make_image_set(), progress=False, stop_after=2)
    with pytest.raises(UserError, match="is not a finished run .*interrupted|is not a finished run .*running"):
        export_compact(tmp_path / "half_done", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    export_compact(finished_tl_run, tmp_path / "compact")
    with pytest.raises(UserError, match="is a compact model .*full run folder"):
        load_source(tmp_path / "compact")


def test_the_cli_exports_runs_and_prints_their_size(finished_tl_run, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gan_lib.models.compact", str(finished_tl_run), "--study", "s",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-800:]
    assert proc.stdout.strip().endswith("MB") and (tmp_path / "s" / finished_tl_run.name / "weights.pt").exists()


@pytest.mark.slow
# a model of the default study (200 samples) if there is one: the quickest to score
@pytest.mark.parametrize("name", sorted(committed_models(), key=lambda n: not n.startswith("laptop/"))[:1])
def test_a_committed_model_scores_its_committed_final_fid_with_the_real_inception(name):
    """fid-run (real Inception network, the run's own evaluation latents and sample count) on the 16-bit model."""
    folder = committed_models()[name]
    study, run_id = name.split("/")
    rows = read_results(REPO_ROOT / "results", study)
    final = rows[(rows.run_id == run_id) & (rows.eval_kind != "truncation")].sort_values(["step", "num_samples"])
    committed = final.iloc[-1]
    proc = subprocess.run([sys.executable, "-m", "gan_lib.metrics", "fid-run", str(folder), "--num",
                           str(int(committed.num_samples)), "--device", "cpu"],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-1500:]
    fid = json.loads(proc.stdout)["fid"]
    assert abs(fid - committed.fid) < FID_TOLERANCE, (fid, committed.fid)
    assert np.isfinite(fid)


def test_every_committed_model_is_a_finished_run_of_a_committed_study():
    for name, folder in committed_models().items():
        study, run_id = name.split("/")
        rows = read_results(REPO_ROOT / "results", study)
        assert run_id in set(rows.run_id), f"{name}: no committed rows"
        assert json.loads((folder / "status.json").read_text())["status"] == "finished"
        assert read_checkpoint(folder / "weights.pt")["step"] == int(rows[rows.run_id == run_id].step.max())
