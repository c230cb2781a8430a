"""Copy a study's finished runs from a background clone into this checkout, to commit them: each run's rows,
per-step scalars, sample and memorization figures and executed notebook, and the study's invocation record.
Runs still training (or failed) in the clone are left where they are.

    python tools/copy_study.py /work/studies laptop-150ep
    python -m gan_lib.report reports && python -m gan_lib.report readme   # then every report and the README agree
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from gan_lib.report.results import read_run, run_path, scalars_path
from gan_lib.study.publish import figure_path

REPO = Path(__file__).resolve().parent.parent


def run_files(root: Path, study: str, run_id: str) -> list[Path]:
    """Everything a finished run leaves in a checkout, relative to `root` (which may not all exist)."""
    results = root / "results"
    paths = [run_path(study, run_id, results), scalars_path(study, run_id, results),
             figure_path(results, "samples", study, run_id), figure_path(results, "memorization", study, run_id),
             root / "papermill_runs" / study / f"{run_id}.ipynb"]
    return [p.relative_to(root) for p in paths]


def finished(parquet: Path) -> bool:
    rows = read_run(parquet)
    train = rows[rows.eval_kind == "train"]
    return bool(len(train)) and not (rows.status == "failed").any() and train.step.max() >= train.opt_steps.max()


def main(source: str, study: str) -> int:
    src = Path(source).resolve()
    runs = sorted((src / "results" / "runs" / study).glob("*.parquet"))
    done = [p.stem for p in runs if finished(p)]
    copied = 0
    for run_id in done:
        for rel in run_files(src, study, run_id):
            if (src / rel).exists():
                (REPO / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / rel, REPO / rel)
                copied += 1
    record = Path("results") / "studies" / f"{study}.json"
    if (src / record).exists():
        shutil.copy2(src / record, REPO / record)
    print(f"{study}: {len(done)} finished runs of {len(runs)} copied ({copied} files) and the invocation record")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python tools/copy_study.py CLONE STUDY")
    sys.exit(main(*sys.argv[1:]))
