"""Fault injection: kills (also mid-checkpoint), corrupt checkpoints, divergence, full disks, concurrent studies,
bad notebook parameters. Each test checks what is kept, not only that an error is raised."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import papermill as pm
import pytest
import torch
from conftest import make_image_set
from filelock import FileLock
from PIL import Image

from gan_lib import checkpoint as ckpt
from gan_lib import files
from gan_lib.config import make_config
from gan_lib.errors import UserError
from gan_lib.notebooks import execute_notebook
from gan_lib.report.results import read_run, run_path, write_rows
from gan_lib.study.grid import record_failed_run
from gan_lib.study.runspec import RunSpec
from gan_lib.training.loop import train
from gan_lib.training.monitor import DivergenceError
from gan_lib.training.run_dir import read_status

REPO = Path(__file__).resolve().parent.parent


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    state = ckpt.load_latest(run_dir)
    return {f"{k}.{n}": t for k in ("G", "D", "G_ema") for n, t in state[k].items()}


@pytest.fixture
def folder_dataset(tmp_path, monkeypatch):
    """A private cache holding a custom dataset 'tiny' (16 px discs), so CLI subprocesses can train on it."""
    monkeypatch.setenv("GAN_LIB_CACHE", str(tmp_path / "cache"))
    images = tmp_path / "images"
    images.mkdir()
    for i, img in enumerate(make_image_set(n=24, resolution=16).images):
        Image.fromarray(img).save(images / f"{i:02d}.png")
    from gan_lib.data import prepare

    prepare("tiny", 16, source=images)
    return "tiny"


KILLER = textwrap.dedent("""
    import os, signal, sys
    from gan_lib import files
    calls, mode, at = [0], os.environ["FAULT"], int(os.environ["FAULT_AT"])
    real_fsync, real_replace = os.fsync, os.replace

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def fsync(fd):  # killed after a checkpoint's bytes are written, before it is moved into place
        if mode == "mid-write":
            calls[0] += 1
            if calls[0] == at:
                die()
        real_fsync(fd)

    def replace(src, dst):  # killed between moving checkpoint.pt aside and moving the new one in
        if mode == "between-renames" and str(dst).endswith("checkpoint.prev.pt"):
            calls[0] += 1
            if calls[0] == at:
                real_replace(src, dst)
                die()
        real_replace(src, dst)

    os.fsync, os.replace = fsync, replace
    from gan_lib.training.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def train_cli(run_dir: Path, dataset: str, env: dict | None = None, killer: bool = False) -> subprocess.CompletedProcess:
    args = ["--preset", "smoke", "--dataset", dataset, "--variant", "scratch", "--steps", "8", "--ckpt-every", "1",
            "--set", "eval_num_samples=0", "--run-dir", str(run_dir), "--quiet"]
    cmd = [sys.executable, "-c", KILLER, *args] if killer else [sys.executable, "-m", "gan_lib.training", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("mode,at", [("mid-write", 3), ("mid-write", 7), ("between-renames", 2),
                                     ("between-renames", 5)])
def test_sigkill_during_checkpoint_write_resumes_bit_identical(tmp_path, folder_dataset, mode, at):
    assert train_cli(tmp_path / "straight", folder_dataset).returncode == 0
    killed = train_cli(tmp_path / "killed", folder_dataset, {"FAULT": mode, "FAULT_AT": str(at)}, killer=True)
    assert killed.returncode == -signal.SIGKILL
    leftovers = [p.name for p in (tmp_path / "killed").iterdir() if p.name.endswith(".tmp")]
    kept = ckpt.load_latest(tmp_path / "killed")  # a complete earlier checkpoint, or none if killed in the first
    assert kept is None or kept["step"] < 8
    resumed = train_cli(tmp_path / "killed", folder_dataset)
    assert resumed.returncode == 0, resumed.stderr
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "killed")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert leftovers == [] or mode == "mid-write"  # a half-written temp file is never read back


def test_truncated_checkpoint_falls_back_to_the_previous_one(tmp_path, tiny_set):
    cfg = make_config("smoke", "scratch", eval_num_samples=0, opt_steps=6, ckpt_every=2)
    train(cfg, tmp_path, dataset=tiny_set, progress=False, stop_after=4)
    newest = tmp_path / ckpt.CHECKPOINT
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    assert ckpt.load_latest(tmp_path)["step"] == 2  # checkpoint.prev.pt
    train(cfg, tmp_path, dataset=tiny_set, progress=False)
    assert ckpt.load_latest(tmp_path)["step"] == 6


def test_all_checkpoints_corrupt_is_a_clear_error_and_files_are_kept(tmp_path, tiny_set):
    cfg = make_config("smoke", "scratch", eval_num_samples=0, opt_steps=6, ckpt_every=2)
    train(cfg, tmp_path, dataset=tiny_set, progress=False, stop_after=4)
    for name in (ckpt.CHECKPOINT, ckpt.PREVIOUS):
        (tmp_path / name).write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="no readable checkpoint .* corrupt or truncated"):
        train(cfg, tmp_path, dataset=tiny_set, progress=False)
    assert (tmp_path / ckpt.CHECKPOINT).read_bytes() == b"not a checkpoint"


class _RunsCode:
    """Pickles as a call of os.system: what a malicious checkpoint would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_checkpoint_whose_pickle_would_run_code_is_refused_in_one_line_and_the_code_never_runs(tmp_path,
                                                                                                 tiny_set):
    from gan_lib.models.build import load_sampler

    cfg = make_config("smoke", "scratch", eval_num_samples=0, opt_steps=4, ckpt_every=2)
    train(cfg, tmp_path / "run", dataset=tiny_set, progress=False)
    marker = tmp_path / "code-ran"
    for name in (ckpt.CHECKPOINT, ckpt.PREVIOUS):  # someone's shared run folder
        path = tmp_path / "run" / name
        torch.save({**torch.load(path, weights_only=True), "config": _RunsCode(marker)}, path)
    with pytest.raises(UserError) as err:
        ckpt.read_checkpoint(path)
    message = str(err.value)
    assert "\n" not in message and "refused" in message and "system" in message and str(path) in message
    with pytest.raises(UserError, match="refused"):
        load_sampler(tmp_path / "run")  # what the explorer and transfer from a finished run call
    assert not marker.exists()


def test_an_old_checkpoint_with_numpy_values_is_refused_then_converts_to_a_safe_one(tmp_path, tiny_set):
    cfg = make_config("smoke", "scratch", eval_num_samples=0, opt_steps=4, ckpt_every=2)
    train(cfg, tmp_path, dataset=tiny_set, progress=False, stop_after=2)
    path = tmp_path / ckpt.CHECKPOINT
    state = torch.load(path, weights_only=True)
    torch.save({**state, "train_seconds": np.float64(state["train_seconds"])}, path)
    with pytest.raises(UserError, match=r"numpy.*convert it with `python -m gan_lib.checkpoint convert"):
        ckpt.read_checkpoint(path)
    done = subprocess.run([sys.executable, "-m", "gan_lib.checkpoint", "convert", str(path)], capture_output=True,
                          text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    back = ckpt.read_checkpoint(path)
    assert back["train_seconds"] == state["train_seconds"] and torch.equal(back["data_gen"], state["data_gen"])
    train(cfg, tmp_path, dataset=tiny_set, progress=False)  # resumes from the converted file
    assert ckpt.load_latest(tmp_path)["step"] == 4


def test_divergence_stops_the_run_marks_it_failed_and_keeps_the_last_good_checkpoint(tmp_path, tiny_set,
                                                                                      monkeypatch):
    from gan_lib.training import loop as training

    calls = [0]
    real = training.D_LOSSES["hinge"]

    def nan_after_five(real_logits, fake_logits):
        calls[0] += 1
        loss = real(real_logits, fake_logits)
        return loss * float("nan") if calls[0] > 5 else loss

    monkeypatch.setitem(training.D_LOSSES, "hinge", nan_after_five)
    cfg = make_config("smoke", "scratch", eval_num_samples=0, opt_steps=40, ckpt_every=2)
    run_dir = tmp_path / "runs" / "s" / "fluent-faces_scratch_seed0"
    with pytest.raises(DivergenceError, match="diverged at step 6: d_loss is not finite"):
        train(cfg, run_dir, dataset=tiny_set, progress=False)
    status = read_status(run_dir)
    assert status["status"] == "failed" and status["step"] == 6
    saved = ckpt.load_latest(run_dir)
    assert saved["step"] == 4 and all(torch.isfinite(t).all() for t in saved["G"].values() if t.is_floating_point())
    # the study records it as failed, with the step and the reason, and goes on
    spec = RunSpec("s", "fluent-faces", "scratch", 0, "smoke")
    message = record_failed_run(spec, "PapermillExecutionError", tmp_path / "runs", tmp_path / "results")
    rows = read_run(run_path("s", spec.run_id, tmp_path / "results"))
    assert (rows.status == "failed").all() and rows.step.iloc[0] == 6
    assert "diverged at step 6" in rows.message.iloc[0] and "diverged" in message


def test_disk_full_is_a_clear_error_and_earlier_files_are_intact(tmp_path, tiny_set, monkeypatch):
    cfg = make_config("smoke", "scratch", eval_num_samples=0, opt_steps=6, ckpt_every=2)
    train(cfg, tmp_path / "run", dataset=tiny_set, progress=False, stop_after=2)
    good = (tmp_path / "run" / ckpt.CHECKPOINT).read_bytes()
    rows_path = tmp_path / "rows.parquet"
    write_rows([{"run_id": "r", "study": "s", "dataset": "d", "variant": "scratch", "status": "ok", "step": 1,
                 "config_json": "{}"}], rows_path)
    before = rows_path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(UserError, match="disk full while writing .*run/.*: free some space"):
        train(cfg, tmp_path / "run", dataset=tiny_set, progress=False)
    with pytest.raises(UserError, match="disk full while writing .*rows.parquet"):
        write_rows([{"run_id": "r", "study": "s", "dataset": "d", "variant": "scratch", "status": "ok", "step": 2,
                     "config_json": "{}"}], rows_path)
    monkeypatch.undo()
    assert (tmp_path / "run" / ckpt.CHECKPOINT).read_bytes() == good
    assert rows_path.read_bytes() == before
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_a_second_study_on_the_same_results_refuses(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    with FileLock(str(results / ".study.lock")):
        proc = subprocess.run([sys.executable, "-m", "gan_lib.study", "--preset", "smoke", "--variants", "scratch",
                               "--results-root", str(results), "--runs-root", str(tmp_path / "runs"),
                               "--output-root", str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: another study is writing") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.parametrize("params,message", [
    ({"variant": "gan"}, "unknown variant 'gan'"),
    ({"steps": -3}, "opt_steps must be zero or positive"),
    ({"resolution": 48}, "data_resolution must be one of (16, 32, 64, 128), got 48"),
    ({"dataset": "no-such-set"}, "unknown dataset 'no-such-set'"),
    ({"variant": "tl", "pretrained": "/nonexistent/source"}, "neither a gan_lib run directory"),
])
def test_invalid_notebook_parameters_fail_before_training(tmp_path, params, message):
    params = {"preset": "smoke", "variant": "scratch", "study": "bad", "runs_root": str(tmp_path / "runs"),
              "results_root": str(tmp_path / "results"), **params}
    with pytest.raises(pm.PapermillExecutionError) as err:
        execute_notebook(REPO / "notebooks/train_variant.ipynb", tmp_path / "out.ipynb", params, cell_timeout=300,
                         cwd=REPO)
    assert message in err.value.evalue
    assert not list((tmp_path / "runs").rglob("checkpoint.pt"))


def test_same_seed_same_fid_on_cpu(tmp_path, tiny_set):
    from gan_lib.evaluation import tiny_extractor

    cfg = make_config("smoke", "scratch", opt_steps=2, eval_every=2)
    fids = [train(cfg, tmp_path / name, dataset=tiny_set, progress=False, extractor=tiny_extractor())[-1]["fid"]
            for name in ("a", "b")]
    assert fids[0] == fids[1] and np.isfinite(fids[0])


def test_status_follows_training_so_a_studys_step_bar_moves(tmp_path, tiny_set):
    """A study watches its runs' status.json (they train in papermill kernels): the step there must advance while
    a run trains, not only when it starts and ends."""
    cfg = make_config("smoke", "scratch", eval_num_samples=0, opt_steps=8, log_every=2)
    train(cfg, tmp_path, dataset=tiny_set, progress=False, stop_after=5)
    assert read_status(tmp_path) == {"status": "running", "step": 4, "message": ""}
