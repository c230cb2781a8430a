"""What a finished (or failed) run leaves in `results/`: its evaluation rows (parquet), a sample grid, the
truncation sweep and the memorization figure. The report reads only these."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import torch

from gan_lib import evaluation
from gan_lib.config import TRUNCATION_SAMPLES, Config
from gan_lib.models.build import load_sampler
from gan_lib.report import plots
from gan_lib.report.results import make_rows, run_path, scalars_path, write_rows, write_scalars_table
from gan_lib.training.loop import resolve_device
from gan_lib.training.provenance import read_starts
from gan_lib.training.run_dir import SCALARS

log = logging.getLogger(__name__)
MEMORIZATION_SAMPLES = 64  # at most; never more than the evaluation sample count


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def figure_path(results_root: Path, kind: str, study: str, run_id: str) -> Path:
    return Path(results_root) / "figures" / kind / study / f"{run_id}.png"


def publish_run(cfg: Config, run_dir: str | Path, rows: list[dict[str, Any]], *, run_id: str, study: str,
                results_root: str | Path, dataset: Any, truncations: Sequence[float] = (),
                memorization: bool = True, extractor: Any = None) -> dict[str, Any]:
    """Write the run's rows and figures under `results_root`; returns a summary of what was written."""
    results_root = Path(results_root)
    device = resolve_device(cfg.train_device)
    _, sampler = load_sampler(run_dir, device)
    common = dict(dim_z=sampler.dim_z, n_classes=sampler.n_classes, dataset=dataset, num=cfg.eval_num_samples,
                  seed=cfg.eval_seed, batch_size=cfg.eval_batch_size, device=device, extractor=extractor)
    summary: dict[str, Any] = {"samples": plots.sample_grid(
        sampler, figure_path(results_root, "samples", study, run_id), dim_z=sampler.dim_z,
        n_classes=sampler.n_classes, num=64, seed=cfg.eval_seed, device=device, nrow=8)}
    rows = [dict(r) for r in rows]
    if memorization and rows:
        report, samples = evaluation.memorization_check(
            sampler, **{**common, "num": max(2, min(MEMORIZATION_SAMPLES, cfg.eval_num_samples))})
        summary["memorization"] = plots.nearest_neighbour_figure(
            samples, dataset.images, report, figure_path(results_root, "memorization", study, run_id))
        summary.update(report.summary())
        rows[-1]["nn_distance_ratio"] = summary["nn_relative_median"]
    sweep = []
    if truncations and rows and cfg.eval_num_samples:
        cheap = {**common, "num": max(2, min(TRUNCATION_SAMPLES, cfg.eval_num_samples))}
        for result in evaluation.truncation_sweep(sampler, truncations=truncations, **cheap):
            sweep.append({**rows[-1], **result, "nn_distance_ratio": None})  # its own eval_seconds, not the last row's
        summary["truncation"] = {r["truncation"]: round(r["fid"], 2) for r in sweep}
    common_rows = dict(run_id=run_id, study=study, device=device_name(device), dataset_count=len(dataset),
                       starts=read_starts(run_dir))
    table = make_rows(cfg, rows, **common_rows)
    table += [{**r, "eval_kind": "truncation"} for r in make_rows(cfg, sweep, **common_rows)]
    summary["results"] = write_rows(table, run_path(study, run_id, results_root))
    if (Path(run_dir) / SCALARS).exists():
        summary["scalars"] = write_scalars_table(Path(run_dir) / SCALARS,
                                                 scalars_path(study, run_id, results_root), run_id=run_id)
    return summary
