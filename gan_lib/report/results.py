"""The results table: one parquet file per run, one row per evaluation, with a checked schema.

The rows are the contract between training runs and the report: the report reads only these files.
Files are written atomically (temp file, then `os.replace`) and validated on write and on read.
"""

from __future__ import annotations

import io
import json
import math
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gan_lib.config import Config
from gan_lib.errors import UserError
from gan_lib.files import atomic_write_bytes
from gan_lib.paths import results_dir
from gan_lib.training.provenance import code_summary

SCHEMA = pa.schema([
    # identity
    ("run_id", pa.string()), ("study", pa.string()), ("dataset", pa.string()), ("variant", pa.string()),
    ("preset", pa.string()), ("train_seed", pa.int64()), ("data_seed", pa.int64()), ("eval_seed", pa.int64()),
    ("eval_kind", pa.string()),  # "train" (during training) | "truncation" (final sweep)
    # method settings
    ("transfer_source", pa.string()), ("aug_policy", pa.string()), ("cr_weight", pa.float64()),
    ("lecam_weight", pa.float64()), ("miner_stage1_steps", pa.int64()), ("resolution", pa.int64()),
    ("g_ch", pa.int64()), ("d_ch", pa.int64()),
    ("batch_size", pa.int64()), ("opt_steps", pa.int64()), ("dataset_count", pa.int64()),
    ("opt_epochs", pa.float64()),  # the configured length in epochs; null when it was given in steps
    # progress
    ("step", pa.int64()), ("images_seen", pa.int64()), ("train_seconds", pa.float64()),
    ("epochs", pa.float64()),  # real images shown to D so far / dataset size (README: "epoch")
    ("elapsed_seconds", pa.float64()), ("d_loss", pa.float64()), ("g_loss", pa.float64()),
    ("cr_loss", pa.float64()), ("lecam_loss", pa.float64()),
    # D-overfitting diagnostics, means since the previous evaluation (per-step values: results/scalars/)
    ("r_t", pa.float64()), ("d_real", pa.float64()), ("d_fake", pa.float64()), ("d_accuracy", pa.float64()),
    # metrics
    ("fid", pa.float64()), ("kid", pa.float64()), ("num_samples", pa.int64()), ("reference", pa.string()),
    ("truncation", pa.float64()), ("extractor", pa.string()), ("eval_seconds", pa.float64()),
    ("nn_distance_ratio", pa.float64()),  # median generated->train NN distance / train->train NN distance
    # fidelity and diversity (evaluation.manifold): k-NN balls of `prdc_k` neighbours around the
    # `reference_count` real images' features
    ("precision", pa.float64()), ("recall", pa.float64()), ("density", pa.float64()), ("coverage", pa.float64()),
    ("prdc_k", pa.int64()), ("reference_count", pa.int64()),
    # provenance
    ("config_json", pa.string()), ("git_commit", pa.string()), ("git_dirty", pa.bool_()),
    ("git_starts", pa.string()),  # JSON list: step, commit, dirty flag, CPU and environment of each start or resume
    ("lock_sha256", pa.string()),  # SHA-256 of requirements.lock at the run's first start
    ("env_matches_lock", pa.bool_()),  # every start's installed packages were the locked ones
    ("packages", pa.string()), ("device", pa.string()), ("host", pa.string()),
    # status
    ("status", pa.string()), ("message", pa.string()),
])
# Columns added after results were first committed: files without them read with nulls there.
ADDED = ("opt_epochs", "epochs", "r_t", "d_real", "d_fake", "d_accuracy", "git_starts", "lock_sha256",
         "env_matches_lock", "precision", "recall", "density", "coverage", "prdc_k", "reference_count",
         "lecam_weight", "lecam_loss")
REQUIRED = ("run_id", "study", "dataset", "variant", "status", "step", "config_json")
STATUSES = ("ok", "failed")
PACKAGES = ("torch", "torchvision", "numpy", "clean-fid", "gan_lib")


def provenance(device: str, starts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {**code_summary(starts or []), "packages": json.dumps(versions), "device": device,
            "host": platform.node()}


def make_rows(cfg: Config, evaluations: Iterable[dict[str, Any]], *, run_id: str, study: str, device: str,
              dataset_count: int, status: str = "ok", message: str = "",
              starts: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Full result rows from a run's evaluation rows (from `training.train`). A failed run with no evaluation
    still gets one row, holding its status and message. `starts`: the run's `provenance.read_starts`."""
    base = {
        "run_id": run_id, "study": study, "dataset": cfg.data_name, "variant": cfg.variant, "preset": cfg.preset,
        "train_seed": cfg.train_seed, "data_seed": cfg.data_seed, "eval_seed": cfg.eval_seed,
        "transfer_source": cfg.transfer_source, "aug_policy": cfg.aug_policy, "cr_weight": cfg.cr_weight,
        "lecam_weight": cfg.lecam_weight, "miner_stage1_steps": cfg.miner_stage1_steps,
        "resolution": cfg.data_resolution, "g_ch": cfg.g_ch,
        "d_ch": cfg.d_ch, "batch_size": cfg.opt_batch_size, "opt_steps": cfg.opt_steps,
        "dataset_count": dataset_count, "opt_epochs": cfg.opt_epochs or None, "config_json": cfg.to_json(),
        **provenance(device, starts),
        "status": status, "message": message,
    }
    rows = [{**base, "eval_kind": "train",
             "epochs": ev["images_seen"] / dataset_count if dataset_count and "images_seen" in ev else None,
             **{k: v for k, v in ev.items() if k in SCHEMA.names}} for ev in evaluations]
    if status != "ok" and not rows:
        rows = [{**base, "eval_kind": "train", "step": 0}]
    elif status != "ok":
        rows = [{**row, "status": status, "message": message} for row in rows]
    return rows


def validate(table: pa.Table, source: str) -> None:
    if table.schema != SCHEMA:
        missing = [n for n in SCHEMA.names if n not in table.schema.names]
        raise UserError(f"{source} does not have the results schema"
                        + (f" (missing {', '.join(missing)})" if missing else "") + "; rewrite it with this version")
    for name in REQUIRED:
        if table.column(name).null_count:
            raise UserError(f"{source}: column {name!r} has empty values")
    bad = set(table.column("status").to_pylist()) - set(STATUSES)
    if bad:
        raise UserError(f"{source}: status must be one of {STATUSES}, found {sorted(bad)}")


def to_table(rows: list[dict[str, Any]]) -> pa.Table:
    clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows]
    unknown = sorted({k for row in clean for k in row} - set(SCHEMA.names))
    if unknown:
        raise UserError(f"result rows have columns outside the schema: {', '.join(unknown)}")
    try:
        return pa.Table.from_pylist(clean, schema=SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise UserError(f"result rows do not fit the schema: {err}") from None


def run_path(study: str, run_id: str, root: str | Path | None = None) -> Path:
    return Path(root or results_dir()) / "runs" / study / f"{run_id}.parquet"


def write_rows(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Validate and atomically write one run's rows (replacing the file)."""
    table = to_table(rows)
    validate(table, str(path))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def with_added_columns(table: pa.Table) -> pa.Table:
    """An older results file with null columns where this version added columns (ADDED), in schema order."""
    missing = [n for n in ADDED if n not in table.schema.names]
    if not missing or any(n not in SCHEMA.names for n in table.schema.names):
        return table
    for name in missing:
        table = table.append_column(SCHEMA.field(name), pa.nulls(len(table), SCHEMA.field(name).type))
    return table.select(SCHEMA.names) if set(table.schema.names) == set(SCHEMA.names) else table


def read_run(path: str | Path) -> pd.DataFrame:
    try:
        table = with_added_columns(pq.read_table(path))
    except (OSError, pa.ArrowInvalid) as err:
        raise UserError(f"{path} is not a readable parquet file ({err}); delete it and rerun that run") from None
    validate(table, str(path))
    return table.to_pandas()


def scalars_path(study: str, run_id: str, root: str | Path | None = None) -> Path:
    """Where a run's per-step scalars go: beside `runs/`, so `read_results` never mixes them in."""
    return Path(root or results_dir()) / "scalars" / study / f"{run_id}.parquet"


def write_scalars_table(csv_path: str | Path, path: str | Path, *, run_id: str) -> Path:
    """A run's `scalars.csv` (from training) as parquet with its run id, written atomically."""
    table = pa.Table.from_pandas(pd.read_csv(csv_path).assign(run_id=run_id), preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def read_scalars(root: str | Path | None = None, study: str | None = None) -> pd.DataFrame:
    """Every run's per-step scalars (step, epoch, losses, r_t, d_real, d_fake, d_accuracy, learning rates,
    images/s) under `root/scalars/`, with study and run_id columns."""
    base = Path(root or results_dir()) / "scalars"
    paths = sorted((base / study if study else base).rglob("*.parquet")) if base.exists() else []
    frames = [pq.read_table(p).to_pandas().assign(study=p.parent.name) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_results(root: str | Path | None = None, study: str | None = None) -> pd.DataFrame:
    """Every run's rows under `root/runs/` (optionally one study), schema-checked, as one DataFrame."""
    base = Path(root or results_dir()) / "runs"
    paths = sorted((base / study if study else base).rglob("*.parquet")) if base.exists() else []
    frames = [read_run(p) for p in paths]
    if not frames:
        return SCHEMA.empty_table().to_pandas()
    return pd.concat(frames, ignore_index=True)
