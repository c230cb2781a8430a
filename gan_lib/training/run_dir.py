"""The folder of one training run, as StyleGAN2-ADA keeps its run directories: `config.json` written before step 0
(and checked on resume), `status.json`, `scalars.csv`, crash-safe checkpoints, and the exported `weights.pt`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from pathlib import Path
from typing import Any

import torch

from gan_lib import checkpoint as ckpt
from gan_lib.config import Config, load_config
from gan_lib.errors import UserError
from gan_lib.training.monitor import check_weights
from gan_lib.training.state import TrainState

SCALARS = "scalars.csv"  # per-step scalars of a run (see monitor.log_scalars)


def write_status(run_dir: Path, status: str, step: int, message: str = "") -> None:
    ckpt.atomic_write_bytes(run_dir / "status.json",
                            json.dumps({"status": status, "step": step, "message": message}).encode())


def read_status(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "status.json"
    return json.loads(path.read_text()) if path.exists() else {"status": "new", "step": 0, "message": ""}


def prepare_run_dir(cfg: Config, run_dir: Path) -> None:
    """Write config.json, or check that an existing run directory was started with the same config."""
    path = run_dir / "config.json"
    if path.exists():
        old = load_config(path)
        if old != cfg:
            diff = [f.name for f in dataclasses.fields(Config) if getattr(old, f.name) != getattr(cfg, f.name)]
            raise UserError(f"{run_dir} holds a run with a different config ({', '.join(diff)} differ); "
                            f"use a new --run-dir, or delete that folder to start over")
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt.atomic_write_bytes(path, cfg.to_json().encode())


def write_scalars(run_dir: Path, scalars: list[dict[str, float]]) -> None:
    """The per-step scalars as `scalars.csv` in the run folder (rewritten whole, atomically)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(dict.fromkeys(k for row in scalars for k in row)))
    writer.writeheader()
    writer.writerows(scalars)
    ckpt.atomic_write_bytes(run_dir / SCALARS, out.getvalue().encode())


def export_weights(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write `weights.pt` (G, EMA G, miner, D, rows; no optimizer state) and config.json to `out_dir`."""
    run_dir, out_dir = Path(run_dir), Path(out_dir or run_dir)
    state = ckpt.load_latest(run_dir)
    if state is None:
        raise UserError(f"{run_dir} has no checkpoint to export")
    keep = ("G_ema", "D", "miner_ema", "n_classes", "step", "rows", "train_seconds", "elapsed_seconds", "config")
    weights = {k: state[k] for k in keep}
    weights["G"], weights["miner"] = state["G_ema"], state["miner_ema"]  # the EMA weights stand for both
    buffer = io.BytesIO()
    torch.save({"format": ckpt.FORMAT, **weights}, buffer)
    ckpt.atomic_write_bytes(out_dir / ckpt.WEIGHTS, buffer.getvalue())
    if out_dir != run_dir:
        for name in ("config.json", "status.json"):
            ckpt.atomic_write_bytes(out_dir / name, (run_dir / name).read_bytes())
    return out_dir / ckpt.WEIGHTS


def slim_run(run_dir: str | Path) -> Path:
    """Reduce a finished run to `weights.pt`: export it, read it back and compare it with the checkpoint, and only
    then delete `checkpoint.pt` and `checkpoint.prev.pt` (optimizer state, needed only to resume). Idempotent."""
    run_dir = Path(run_dir)
    state = ckpt.load_latest(run_dir)
    if state is None:
        if ckpt.exported_weights(run_dir) is None:
            raise UserError(f"{run_dir} has neither a checkpoint nor weights.pt")
        return run_dir / ckpt.WEIGHTS
    steps = load_config(run_dir / "config.json").opt_steps
    if state["step"] < steps:
        raise UserError(f"{run_dir} stopped at step {state['step']} of {steps}; its checkpoints are needed to "
                        f"resume it, so they are kept")
    back = ckpt.read_checkpoint(export_weights(run_dir))
    for key in ("G_ema", "D", "miner_ema"):
        a, b = state[key] or {}, back[key] or {}
        if a.keys() != b.keys() or not all(torch.equal(a[k], b[k]) for k in a):
            raise UserError(f"{run_dir / ckpt.WEIGHTS} does not hold the checkpoint's {key}; the checkpoints are kept")
    if back["step"] != state["step"] or len(back["rows"]) != len(state["rows"]):
        raise UserError(f"{run_dir / ckpt.WEIGHTS} does not match the checkpoint's step and rows; the checkpoints are kept")
    for name in (f".{ckpt.CHECKPOINT}.new", ckpt.CHECKPOINT, ckpt.PREVIOUS):
        (run_dir / name).unlink(missing_ok=True)
    return run_dir / ckpt.WEIGHTS


class Checkpointer:
    """Saves a run's state at most once per step, after checking its weights, with the wall time of all its starts."""

    def __init__(self, run_dir: Path, s: TrainState, resumed: bool):
        self.run_dir = run_dir
        self.base_elapsed, self.t_start = s.elapsed_seconds, time.perf_counter()
        self.saved_step = s.step if resumed else -1

    def elapsed(self) -> float:
        """Wall seconds of the run so far, over every start."""
        return self.base_elapsed + time.perf_counter() - self.t_start

    def save(self, s: TrainState) -> None:
        if self.saved_step == s.step:
            return
        check_weights(s)
        s.elapsed_seconds = self.elapsed()
        ckpt.save_checkpoint(self.run_dir, s.state_dict())
        write_scalars(self.run_dir, s.scalars)
        self.saved_step = s.step
