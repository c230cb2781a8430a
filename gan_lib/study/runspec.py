"""What one run of a study is: its notebook parameters and their checks, its config, its id and whether its
results say it finished. `gan_lib.study.grid` runs grids of these."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_lib.config import EVAL_TRUNCATIONS, Config, make_config
from gan_lib.errors import UserError

# train_variant.ipynb parameters -> config fields. Every notebook parameter is either here or in RUN_PARAMS.
PARAM_FIELDS = {
    "dataset": "data_name", "variant": "variant", "preset": "preset", "seed": "train_seed",
    "resolution": "data_resolution",
    "steps": "opt_steps", "epochs": "opt_epochs", "pretrained": "transfer_source", "data_seed": "data_seed",
    "data_count": "data_count", "eval_every": "eval_every", "eval_num_samples": "eval_num_samples",
    "device": "train_device", "channels_last": "train_channels_last", "bf16": "train_bf16",
    "torch_compile": "train_compile",
}
# Parameters that say where things go or what extra analysis to run, not how to train.
RUN_PARAMS = ("study", "run_id", "runs_root", "results_root", "truncations", "memorization")

# A run's per-cell time limit: its training cell runs every step. About 7x a `laptop` step on two CPU cores
# (1.2-1.5 s), with room for the evaluations, so a stalled kernel fails and a slow machine does not.
CELL_BASE_S = 1800.0
CELL_S_PER_STEP = 10.0


# The type each notebook parameter takes (None is allowed where the notebook's default is None).
PARAM_TYPES = {"dataset": str, "variant": str, "preset": str, "seed": int, "resolution": int, "steps": int,
               "epochs": float, "pretrained": str, "data_seed": int, "data_count": int, "eval_every": int,
               "eval_num_samples": int, "device": str, "channels_last": bool, "bf16": bool, "torch_compile": bool}


def check_param_types(**params: Any) -> None:
    """A `UserError` naming the first parameter whose value has the wrong type (e.g. `-p seed abc`)."""
    for name, value in params.items():
        want = PARAM_TYPES.get(name)
        if want is None or value is None:
            continue
        ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
        ok = ok or (want is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok:
            raise UserError(f"parameter {name} must be {want.__name__}, got {value!r}; e.g. -p {name} "
                            f"{ {'str': 'NAME', 'int': '1', 'float': '1.5', 'bool': 'True'}[want.__name__]}")


def config_from_params(**params: Any) -> Config:
    """Build the run's config from notebook parameters; None means 'the preset's value'."""
    unknown = sorted(set(params) - set(PARAM_FIELDS))
    if unknown:
        raise UserError(f"unknown notebook parameter(s) {', '.join(unknown)}; known: {', '.join(PARAM_FIELDS)}")
    check_param_types(**params)
    fields = {PARAM_FIELDS[k]: v for k, v in params.items() if v is not None and k not in ("preset", "variant")}
    if fields.get("transfer_source") == "":
        del fields["transfer_source"]
    if "opt_epochs" in fields and not fields["opt_epochs"] > 0:
        raise UserError(f"epochs must be positive, got {fields['opt_epochs']}; or give the length as steps")
    cfg = make_config(params.get("preset") or "laptop", params.get("variant") or "scratch", **fields)
    if not cfg.opt_epochs:
        return cfg.for_dataset_size(1) if cfg.eval_points else cfg
    from gan_lib.data import dataset_size

    return cfg.for_dataset_size(dataset_size(cfg.data_name, cfg.data_resolution))


def run_id_for(dataset: str, variant: str, seed: int) -> str:
    return f"{dataset}_{variant}_seed{seed}"


@dataclass(frozen=True)
class RunSpec:
    study: str
    dataset: str
    variant: str
    seed: int
    preset: str
    steps: int | None = None
    pretrained: str | None = None
    epochs: float | None = None
    options: tuple[tuple[str, Any], ...] = ()  # other notebook parameters (in PARAM_FIELDS), e.g. channels_last
    truncations: tuple[float, ...] = EVAL_TRUNCATIONS  # the final model's FID at each threshold (0 = none)

    @property
    def run_id(self) -> str:
        return run_id_for(self.dataset, self.variant, self.seed)

    def train_params(self) -> dict[str, Any]:
        """The notebook parameters that decide how the run trains (the keys of PARAM_FIELDS)."""
        return {"dataset": self.dataset, "variant": self.variant, "preset": self.preset, "seed": self.seed,
                "steps": self.steps, "epochs": self.epochs, "pretrained": self.pretrained or "",
                **dict(self.options)}

    def config(self) -> Config:
        return config_from_params(**self.train_params())

    def cell_timeout(self) -> float:
        """Seconds any one cell of this run's notebook may take before the run is recorded as stalled."""
        return CELL_BASE_S + CELL_S_PER_STEP * self.config().opt_steps

    def params(self, runs_root: Path, results_root: Path) -> dict[str, Any]:
        return {**self.train_params(), "study": self.study, "run_id": self.run_id, "runs_root": str(runs_root),
                "results_root": str(results_root), "truncations": list(self.truncations)}


def run_state(spec: RunSpec, results_root: Path) -> str:
    """'finished' if its rows say it completed every step, 'failed' if they record a failure, else 'todo'."""
    from gan_lib.report.results import read_run, run_path

    path = run_path(spec.study, spec.run_id, results_root)
    if not path.exists():
        return "todo"
    rows = read_run(path)
    if (rows.status == "failed").any():
        return "failed"
    train_rows = rows[rows.eval_kind == "train"]
    return "finished" if len(train_rows) and train_rows.step.max() >= train_rows.opt_steps.max() else "todo"
