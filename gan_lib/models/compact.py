"""Committed models: a finished run's EMA generator (and miner) in 16 bits, a few MB, as a run folder that
`load_sampler`, `explore.ipynb` and `python -m gan_lib.metrics fid-run` open like any other.

    python -m gan_lib.models.compact RUN_DIR [RUN_DIR ...] --study STUDY    # into results/models/STUDY/<run name>/

A compact folder holds config.json, status.json and weights.pt with `G_ema` and `miner_ema` as float16 (loading
casts them back to float32), the run's evaluation rows and step; no discriminator and no optimizer state, so it
samples and scores but neither resumes nor serves as a transfer source (`load_source` says so).
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import torch

from gan_lib import checkpoint as ckpt
from gan_lib.errors import UserError, cli_errors
from gan_lib.paths import REPO_ROOT

MODELS_DIR = "results/models"  # committed models: <MODELS_DIR>/<study>/<run_id>/
KEEP = ("n_classes", "step", "rows", "train_seconds", "elapsed_seconds", "config")


def _half(weights: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor] | None:
    if weights is None:
        return None
    return {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}


def export_compact(run_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the finished run `run_dir`'s compact model to `out_dir` (replacing one there); returns weights.pt."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    status = json.loads((run_dir / "status.json").read_text()) if (run_dir / "status.json").exists() else {}
    if status.get("status") != "finished":
        raise UserError(f"{run_dir} is not a finished run (status: {status.get('status', 'none')}); only a "
                        f"finished run's final model is committed")
    state = ckpt.trained_weights(run_dir)
    if state is None:
        raise UserError(f"{run_dir} has neither a checkpoint nor weights.pt")
    g = _half(state["G_ema"])
    miner = _half(state.get("miner_ema"))
    compact = {"format": ckpt.FORMAT, "compact": True, "G_ema": g, "G": g, "miner_ema": miner, "miner": miner,
               **{k: state[k] for k in KEEP}}
    buffer = io.BytesIO()
    torch.save(compact, buffer)  # G and G_ema are one dict: stored once
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "status.json"):
        ckpt.atomic_write_bytes(out_dir / name, (run_dir / name).read_bytes())
    return ckpt.atomic_write_bytes(out_dir / ckpt.WEIGHTS, buffer.getvalue())


def committed_models(root: str | Path | None = None) -> dict[str, Path]:
    """The committed models under `root` (default: the repository's results/models) by `<study>/<run_id>`."""
    root = Path(root) if root is not None else REPO_ROOT / MODELS_DIR
    return {str(p.parent.relative_to(root)): p.parent for p in sorted(root.glob(f"*/*/{ckpt.WEIGHTS}"))}


@cli_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_lib.models.compact", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="finished run folders")
    parser.add_argument("--study", required=True, help="the study the runs' rows belong to")
    parser.add_argument("--out", default=None, help=f"default: {MODELS_DIR}/ in the repository")
    args = parser.parse_args(argv)
    root = Path(args.out) if args.out else REPO_ROOT / MODELS_DIR
    for run_dir in map(Path, args.run_dirs):
        path = export_compact(run_dir, root / args.study / run_dir.name)
        print(f"{path}: {path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
