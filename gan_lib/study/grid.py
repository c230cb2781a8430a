"""Run a grid of training runs with papermill, then the report.

    python -m gan_lib.study --preset laptop [--datasets ...] [--variants ...] [--seeds ...] [--jobs N]
    python -m gan_lib.study ... --executor ray [--ray-address HOST:PORT] [--gpus-per-run 0.5] [--cpus-per-run 2]

Each run executes `notebooks/train_variant.ipynb` into `papermill_runs/<study>/<run_id>.ipynb`; its checkpoints
live in `runs/<study>/<run_id>/` and its rows in `results/runs/<study>/<run_id>.parquet`. Rerunning skips
finished runs and resumes interrupted ones; a failing run is recorded as failed and the others go on.
A lock keeps two studies from writing the same results folder. Runs execute here, `--jobs` at a time, or as
tasks on a Ray cluster (`gan_lib.study.executors`, `gan_lib.study.ray_executor`).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_lib.config import EVAL_TRUNCATIONS, PRESETS, VARIANTS, default_variants
from gan_lib.errors import UserError, cli_errors
from gan_lib.paths import REPO_ROOT, results_dir
from gan_lib.report.rendering import render_index, render_report
from gan_lib.study.executors import Executor, LocalExecutor
from gan_lib.study.progress import StepProgress
from gan_lib.study.runspec import PARAM_FIELDS, RunSpec, run_state
from gan_lib.training.provenance import check_requested_capability

log = logging.getLogger(__name__)

NOTEBOOKS = REPO_ROOT / "notebooks"
DEFAULT_DATASETS = ("fluent-faces", "fluent-objects-1000")

def execute_run(spec: RunSpec, runs_root: Path, results_root: Path, output_root: Path,
                env: Mapping[str, str] | None = None) -> str:
    """Execute train_variant.ipynb for one run, in a kernel with environment `env` (default: this process's).
    Returns 'ok' or the failure recorded for the run."""
    from gan_lib.notebooks import execute_notebook

    out = output_root / spec.study / f"{spec.run_id}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        execute_notebook(NOTEBOOKS / "train_variant.ipynb", out, spec.params(runs_root, results_root),
                         cell_timeout=spec.cell_timeout(), cwd=REPO_ROOT, env=env)
        return "ok"
    except Exception as err:  # papermill raises PapermillExecutionError, kernel deaths raise others
        message = " ".join(str(getattr(err, "evalue", "") or err).split())[:500]
        return record_failed_run(spec, message, runs_root, results_root)


def record_failed_run(spec: RunSpec, message: str, runs_root: Path, results_root: Path) -> str:
    """Write the run's rows as failed, with the step it reached and why; returns the message recorded.
    Evaluations it finished before failing are kept (marked failed)."""
    from gan_lib.checkpoint import trained_weights
    from gan_lib.report.results import make_rows, run_path, write_rows
    from gan_lib.training.run_dir import read_status
    from gan_lib.training.provenance import read_starts

    run_dir = runs_root / spec.study / spec.run_id
    status = read_status(run_dir)
    if status["status"] == "failed" and status["message"] and status["message"] not in message:
        message = f"{status['message']} ({message})"
    try:
        cfg = spec.config()
        saved = trained_weights(run_dir) if run_dir.exists() else None  # weights.pt of a slim run has its rows
        evaluations = saved["rows"] if saved else []
        rows = make_rows(cfg, evaluations, run_id=spec.run_id, study=spec.study, device="unknown",
                         dataset_count=0, status="failed", message=message, starts=read_starts(run_dir))
        if not evaluations:
            rows[0]["step"] = int(status["step"])
        write_rows(rows, run_path(spec.study, spec.run_id, results_root))
    except UserError as err:
        message = f"{message} (not recorded in results: {err})"
    return message


@dataclass(frozen=True)
class StudyFolders:
    """Where a study's runs write (absolute paths; on a cluster, ones every node sees), and how one run executes
    into them or is recorded as failed. What an executor hands to its workers."""

    runs_root: Path
    results_root: Path
    output_root: Path

    def roots(self) -> tuple[Path, ...]:
        return self.runs_root, self.results_root, self.output_root

    def execute(self, spec: RunSpec, env: Mapping[str, str]) -> str:
        return execute_run(spec, self.runs_root, self.results_root, self.output_root, env)

    def record_failure(self, spec: RunSpec, message: str) -> str:
        return record_failed_run(spec, message, self.runs_root, self.results_root)


def run_study(specs: list[RunSpec], *, jobs: int = 1, runs_root: Path, results_root: Path,
              output_root: Path, report: bool = True, executor: Executor | None = None,
              on_outcome: Callable[[dict[str, str]], None] | None = None) -> dict[str, str]:
    """Run every spec not yet finished on `executor` (default: here, `jobs` at a time), then the report.
    Returns run_id -> outcome; `on_outcome` sees the outcomes so far after each run ends."""
    from filelock import FileLock, Timeout

    executor = executor or LocalExecutor(jobs)
    folders = StudyFolders(runs_root, results_root, output_root)
    results_root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(results_root / ".study.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise UserError(f"another study is writing {results_root} (lock {results_root / '.study.lock'}); "
                        f"wait for it to finish or use another results folder") from None
    try:
        outcomes = {s.run_id: "skipped (finished)" for s in specs if run_state(s, results_root) == "finished"}
        todo = [s for s in specs if s.run_id not in outcomes]
        if todo:
            executor.start(folders)
            try:
                _run_with_progress(executor, todo, folders, outcomes, len(specs), on_outcome)
            finally:
                executor.stop()
        if report and specs:
            render_report(specs[0].study, results_root, output_root)
        return outcomes
    finally:
        lock.release()


def _run_with_progress(executor: Executor, todo: list[RunSpec], folders: StudyFolders, outcomes: dict[str, str],
                       total: int, on_outcome: Callable[[dict[str, str]], None] | None = None) -> None:
    """Run `todo`, adding each outcome to `outcomes`, under a bar of runs done (and failed) with an ETA."""
    from tqdm.auto import tqdm

    failed = 0
    with tqdm(total=total, initial=total - len(todo), desc=f"study {todo[0].study}", unit="run") as bar:
        for spec, outcome in executor.run(todo, folders):
            outcomes[spec.run_id] = outcome
            if outcome != "ok":
                failed += 1
                log.warning("run %s failed: %s", spec.run_id, outcome)
            bar.set_postfix_str(f"failed: {failed}, last: {spec.run_id} {'ok' if outcome == 'ok' else 'FAILED'}")
            bar.update(1)
            if on_outcome:
                on_outcome(outcomes)


def grid(study: str, preset: str, datasets: list[str], variants: list[str], seeds: list[int],
         steps: int | None = None, pretrained: str | None = None,
         options: dict[str, Any] | None = None, epochs: float | None = None,
         truncations: tuple[float, ...] = EVAL_TRUNCATIONS) -> list[RunSpec]:
    """The runs of a study: every dataset x seed x variant."""
    for v in variants:
        if v not in VARIANTS:
            raise UserError(f"unknown variant {v!r}; choose from {', '.join(VARIANTS)}")
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    unknown = sorted(set(options or {}) - set(PARAM_FIELDS))
    if unknown:
        raise UserError(f"unknown run option(s) {', '.join(unknown)}; known: {', '.join(PARAM_FIELDS)}")
    if steps is not None and epochs is not None:
        raise UserError("give the training length as --epochs or --steps, not both")
    if any(not t >= 0 for t in truncations):
        raise UserError(f"truncation thresholds must be 0 (none) or positive, got {list(truncations)}")
    specs = [RunSpec(study, d, v, s, preset, steps, pretrained if VARIANTS[v].transfer else None, epochs,
                     tuple(sorted((options or {}).items())), tuple(truncations))
             for d in datasets for s in seeds for v in variants]
    if epochs is not None:
        for spec in specs:
            spec.config()  # each dataset's size is known (else one line) before anything trains
    return specs


def check_sources(specs: list[RunSpec]) -> None:
    """Before anything trains: every transfer source exists (else one line saying how to get it)."""
    from gan_lib.models.build import find_source

    for source in sorted({spec.config().transfer_source for spec in specs if VARIANTS[spec.variant].transfer}):
        find_source(source)


def record_invocation(results_root: Path, study: str, started: str, seconds: float, outcomes: dict[str, str],
                      executor: dict[str, Any], complete: bool = True) -> Path:
    """Record this invocation's wall time, outcomes and executor in `results/studies/<study>.json`, replacing the
    entry it wrote before (same `started`): written after each run, so an invocation that is killed keeps an entry
    (`complete` false) up to its last finished run. `machine` is the one that ran the study's driver (on a Ray
    cluster, not the one that trained)."""
    import json
    import platform

    import torch

    from gan_lib.files import atomic_write_bytes

    path = results_root / "studies" / f"{study}.json"
    history = [h for h in (json.loads(path.read_text()) if path.exists() else []) if h["started"] != started]
    history.append({"started": started, "wall_seconds": round(seconds, 1), "complete": complete,
                    "jobs": executor.get("jobs"),
                    "executor": executor,
                    "ran": sorted(k for k, v in outcomes.items() if v == "ok"),
                    "skipped": sorted(k for k, v in outcomes.items() if v.startswith("skipped")),
                    "failed": {k: v for k, v in outcomes.items() if v != "ok" and not v.startswith("skipped")},
                    "machine": {"host": platform.node(), "cpu_count": os.cpu_count(),
                                "torch_threads": torch.get_num_threads(),
                                "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}})
    return atomic_write_bytes(path, json.dumps(history, indent=1).encode())


def variants_help() -> str:
    """The variants table as `--help` shows it: one line per variant, '*' marking the default study's."""
    width = max(map(len, VARIANTS))
    lines = [f"  {name:{width}s} {'*' if v.default_study else ' '} {v.description}" for name, v in VARIANTS.items()]
    return "variants (* = in the default study):\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_lib.study", description=__doc__,
                                     epilog=variants_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="laptop", help=f"one of {', '.join(PRESETS)}")
    parser.add_argument("--study", help="study name (default: the preset's name)")
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS))
    parser.add_argument("--variants", nargs="+", default=default_variants(), metavar="VARIANT",
                        help=f"default: {' '.join(default_variants())} (all: see below)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--steps", type=int, help="training length in G updates (overrides the preset's)")
    parser.add_argument("--epochs", type=float, help="training length in epochs of each run's own dataset "
                        "(one epoch: D has seen as many real images as the dataset holds); not with --steps")
    parser.add_argument("--pretrained", help="transfer source for the tl variants (default: the preset's)")
    parser.add_argument("--channels-last", action="store_true",
                        help="train in channels-last memory format (faster; off in the committed study)")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (CUDA only)")
    parser.add_argument("--compile", action="store_true", dest="torch_compile",
                        help="torch.compile G and D (pays off on GPUs; the first steps compile)")
    parser.add_argument("--truncations", nargs="*", type=float, default=list(EVAL_TRUNCATIONS), metavar="T",
                        help="final-model FID at these truncation thresholds, 0 = none (default: %(default)s; "
                             "no value: no sweep)")
    parser.add_argument("--runs-root", default=str(REPO_ROOT / "runs"), help="checkpoints (not in git)")
    parser.add_argument("--results-root", default=None, help="default: results/")
    parser.add_argument("--output-root", default=str(REPO_ROOT / "papermill_runs"),
                        help="executed notebooks")
    where = parser.add_argument_group("where runs execute (README: Running on a cluster)")
    where.add_argument("--executor", choices=("local", "ray"), default="local",
                       help="local: on this machine, --jobs at a time; ray: one Ray task per run on a cluster")
    where.add_argument("--jobs", type=int, help="local: runs at once (default 1); slot i uses GPU i %% n")
    where.add_argument("--ray-address", dest="address",
                       help="ray: the head, auto or HOST:PORT (default: RAY_ADDRESS, the cluster `ray start` made "
                       "on this machine, else a new one here)")
    where.add_argument("--gpus-per-run", type=float,
                       help="ray: GPUs a run reserves; 0.25 puts four runs on a GPU (default: 1 if the cluster "
                       "has GPUs, else 0)")
    where.add_argument("--cpus-per-run", type=float, help="ray: CPUs a run reserves (default 1)")
    where.add_argument("--max-retries", type=int,
                       help="ray: restarts of a run whose worker or node is lost; it resumes from its checkpoint "
                       "(default 3)")
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: render the study's report from its results (and the index)")
    parser.add_argument("--rerun", action="store_true",
                        help="retrain the picked runs into study <study>-rerun (never over the committed results) "
                             "and compare their final FID/KID with the committed ones")
    return _run(parser.parse_args(argv))


# --executor ray's flags -> RayExecutor fields (also their argparse dests); unset ones keep RayExecutor's defaults
RAY_FLAGS = {"--ray-address": "address", "--gpus-per-run": "gpus_per_run", "--cpus-per-run": "cpus_per_run",
             "--max-retries": "max_retries"}


def make_executor(args: argparse.Namespace) -> Executor:
    """The executor the flags ask for; flags that belong to the other executor are a `UserError`."""
    given = {flag: getattr(args, field) for flag, field in RAY_FLAGS.items() if getattr(args, field) is not None}
    if args.executor == "local":
        if given:
            raise UserError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} only for --executor ray")
        return LocalExecutor(1 if args.jobs is None else args.jobs)
    if args.jobs is not None:
        raise UserError("--jobs is only for --executor local; on Ray the cluster's free resources decide how "
                        "many runs go at once (see --cpus-per-run, --gpus-per-run)")
    from gan_lib.study.ray_executor import RayExecutor

    return RayExecutor(**{RAY_FLAGS[flag]: value for flag, value in given.items()})


def _absolute(path: str) -> Path:
    """`path` made absolute against the working directory, as the notebooks (run from the repository) and Ray
    workers (anywhere) need; symbolic links are kept, since other nodes may mount the same folder elsewhere."""
    return Path(os.path.abspath(os.path.expanduser(path)))


@cli_errors
def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    base = args.study or args.preset
    study = f"{base}-rerun" if args.rerun else base
    options = {k: True for k in ("channels_last", "bf16", "torch_compile") if getattr(args, k)}
    specs = grid(study, args.preset, args.datasets, args.variants, args.seeds, args.steps, args.pretrained, options,
                 args.epochs, tuple(args.truncations))
    check_sources(specs)
    results_root = _absolute(args.results_root or str(results_dir()))
    runs_root, output_root = _absolute(args.runs_root), _absolute(args.output_root)
    if args.report_only:
        path = render_report(study, results_root, output_root)
        print(f"study {study}: trained nothing (--report-only); report: {path}; index: {render_index(results_root)}")
        return 0
    check_requested_capability()
    if args.rerun:
        _check_committed(base, specs, results_root)
    executor = make_executor(args)
    finished = [s.run_id for s in specs if run_state(s, results_root) == "finished"]
    if len(finished) == len(specs):
        print(f"study {study}: all {len(specs)} runs already have finished results in "
              f"{results_root / 'runs' / study} (on a fresh clone: the committed ones); nothing to train. "
              f"To retrain them into study {base}-rerun and compare: python -m gan_lib.study --preset {args.preset}"
              f"{' --study ' + base if args.study else ''} --rerun (or: make reproduce)")
    t0, started = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%S%z")
    so_far = {run_id: "skipped (finished)" for run_id in finished}

    def record_so_far(outcomes: dict[str, str]) -> None:
        so_far.update(outcomes)
        record_invocation(results_root, study, started, time.perf_counter() - t0, so_far, executor.describe(),
                          complete=False)

    try:
        with StepProgress({runs_root / s.study / s.run_id: s.config().opt_steps
                           for s in specs if s.run_id not in finished}):
            outcomes = run_study(specs, runs_root=runs_root, results_root=results_root, output_root=output_root,
                                 report=False, executor=executor, on_outcome=record_so_far)
    except KeyboardInterrupt:  # runs whose rows this invocation wrote count as its own, reported or not
        new = {s.run_id: "ok" for s in specs if s.run_id not in so_far and run_state(s, results_root) == "finished"}
        if new:
            record_so_far(new)
        raise
    trained = sorted(k for k, v in outcomes.items() if v == "ok")
    skipped = sorted(k for k, v in outcomes.items() if v.startswith("skipped"))
    failed = {k: v for k, v in outcomes.items() if v != "ok" and not v.startswith("skipped")}
    report = "not rendered (nothing trained)" if not (trained or failed) else "not rendered (--no-report)"
    if trained or failed:
        record_invocation(results_root, study, started, time.perf_counter() - t0, outcomes, executor.describe())
        if not args.no_report:
            report = str(render_report(study, results_root, output_root))
    if args.rerun:
        _print_comparison(base, study, results_root)
    print(f"study {study}: {len(trained)} trained, {len(skipped)} skipped (already finished), {len(failed)} failed, "
          f"{time.perf_counter() - t0:.0f} s; report: {report}")
    for run_id, message in failed.items():
        print(f"  FAILED {run_id}: {message}")
    return 1 if failed else 0


def _check_committed(base: str, specs: list[RunSpec], results_root: Path) -> None:
    """--rerun compares with the finished runs of `base`: each picked cell must have one."""
    from dataclasses import replace

    missing = [s.run_id for s in specs if run_state(replace(s, study=base), results_root) != "finished"]
    if missing:
        raise UserError(f"--rerun reproduces finished runs of study {base!r}, but {', '.join(missing)} "
                        f"{'has' if len(missing) == 1 else 'have'} no finished results in "
                        f"{results_root / 'runs' / base}; pick cells with --datasets/--variants/--seeds")


def _print_comparison(base: str, study: str, results_root: Path) -> None:
    from gan_lib.report.results import read_results
    from gan_lib.report.tables import compare_studies

    table = compare_studies(read_results(results_root, base), read_results(results_root, study))
    if table.empty:
        print(f"no finished reproduced run of study {base} to compare")
        return
    print(f"committed ({base}) vs reproduced ({study}), final evaluation of each cell:")
    print(table.to_string(index=False))

