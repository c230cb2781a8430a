"""Notebooks and the study: parameters map to config fields, papermill runs produce valid rows, the report
rebuilds from parquet, an interrupted study finishes on rerun, committed notebooks carry no outputs and equal
their paired jupytext scripts."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pandas as pd
import papermill as pm
import pytest

from gan_lib.config import Config, load_config, make_config
from gan_lib.models.compact import committed_models
from gan_lib.notebooks import NotebookTimeout, execute_notebook
from gan_lib.report import tables as report
from gan_lib.report.results import make_rows, read_results, run_path, write_rows
from gan_lib.study.runspec import PARAM_FIELDS, RUN_PARAMS, config_from_params

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
CONFIG_FIELDS = {f.name for f in dataclasses.fields(Config)}
# pretrain_source.ipynb: parameter -> config field, and the ones that only say where results go
PRETRAIN_FIELDS = {"steps": "opt_steps", "batch_size": "opt_batch_size", "ema_start": "g_ema_start",
                   "ema_decay": "g_ema_decay",
                   "ckpt_every": "ckpt_every", "device": "train_device"}
PRETRAIN_EXTRA = {"fid_samples", "source_dir", "preset"}
# Per-cell limits of the notebooks as the tests run them (seconds): several times their slowest cell here, so a
# stalled kernel fails in minutes instead of at pytest's 900 s timeout.
CELL_LIMITS = {"train_variant": 600, "pretrain_source": 600, "report": 300, "explore": 120}


def parameters(name: str) -> dict:
    return pm.inspect_notebook(str(NOTEBOOKS / name))


def test_committed_notebooks_have_no_outputs():
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name
        assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), f"{path.name}: no parameters cell"


def pair_differences(notebook: Path, script: Path) -> list[str]:
    """Where a notebook and its percent-format script disagree, cell by cell: type, source and metadata (tags, the
    papermill `parameters` tag among them). Empty when they are in sync; cell ids are not compared."""
    cells = [[(c.cell_type, c.source, dict(c.metadata)) for c in nb.cells]
             for nb in (nbformat.read(notebook, as_version=4), jupytext.read(script))]
    count = [f"{len(cells[0])} cells in {notebook.name}, {len(cells[1])} in {script.name}"]
    return (count if len(cells[0]) != len(cells[1]) else []) + [
        f"cell {i}: {a!r:.100} differs from {b!r:.100}" for i, (a, b) in enumerate(zip(*cells)) if a != b]


def test_every_notebook_equals_its_paired_script():
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert [p.stem for p in notebooks] == sorted(p.stem for p in NOTEBOOKS.glob("*.py")), "unpaired notebook"
    for path in notebooks:
        assert pair_differences(path, path.with_suffix(".py")) == [], f"run `jupytext --sync {path}`"


def test_pair_check_sees_an_edited_cell_and_a_lost_parameters_tag(tmp_path):
    script = NOTEBOOKS / "train_variant.py"
    nb = nbformat.read(NOTEBOOKS / "train_variant.ipynb", as_version=4)
    nb.cells[1].source += "\nprint('edited')"
    nbformat.write(nb, tmp_path / "edited.ipynb")
    assert [d[:7] for d in pair_differences(tmp_path / "edited.ipynb", script)] == ["cell 1:"]
    nb = nbformat.read(NOTEBOOKS / "train_variant.ipynb", as_version=4)
    nb.cells[2].metadata["tags"] = []
    nbformat.write(nb, tmp_path / "untagged.ipynb")
    assert [d[:7] for d in pair_differences(tmp_path / "untagged.ipynb", script)] == ["cell 2:"]


def test_train_notebook_parameters_map_to_config_fields():
    params = set(parameters("train_variant.ipynb"))
    assert params == set(PARAM_FIELDS) | set(RUN_PARAMS)
    assert set(PARAM_FIELDS.values()) <= CONFIG_FIELDS


def test_study_flags_reach_the_run_config(tmp_path):
    from gan_lib.study.grid import grid

    spec, = grid("s", "smoke", ["fluent-faces"], ["scratch"], [0], options={"channels_last": True,
                                                                          "torch_compile": True})
    params = {k: v for k, v in spec.params(tmp_path, tmp_path).items() if k not in RUN_PARAMS}
    cfg = config_from_params(**params)  # what the notebook builds from its parameters
    assert cfg.train_channels_last and cfg.train_compile and not cfg.train_bf16 and cfg == spec.config()
    default, = grid("s", "smoke", ["fluent-faces"], ["scratch"], [0])
    assert not default.config().train_channels_last


def test_pretrain_notebook_parameters_map_to_config_fields():
    params = set(parameters("pretrain_source.ipynb"))
    assert params == set(PRETRAIN_FIELDS) | PRETRAIN_EXTRA
    assert set(PRETRAIN_FIELDS.values()) <= CONFIG_FIELDS


def test_report_and_explore_take_only_locations():
    assert set(parameters("report.ipynb")) == {"results_root", "study"}
    assert set(parameters("explore.ipynb")) == {"runs_root", "models_root", "source_dir"}


def test_notebook_defaults_build_a_valid_config():
    defaults = {k: eval(v["default"]) for k, v in parameters("train_variant.ipynb").items() if k in PARAM_FIELDS}
    defaults["pretrained"] = "somewhere"  # the default variant transfers
    cfg = config_from_params(**defaults)
    assert cfg.data_name == defaults["dataset"] and cfg.variant == defaults["variant"]


def test_pretrain_defaults_match_the_committed_source():
    defaults = {k: eval(v["default"]) for k, v in parameters("pretrain_source.ipynb").items()}
    cfg = make_config("laptop", "scratch", data_name="openmoji", eval_num_samples=0,
                      **{field: defaults[p] for p, field in PRETRAIN_FIELDS.items() if defaults[p] is not None})
    assert load_config(REPO / defaults["source_dir"] / "config.json") == cfg


@pytest.mark.slow
def test_train_notebook_smoke_run_writes_rows_that_pass_the_schema(tmp_path, smoke_source):
    out = tmp_path / "executed.ipynb"
    execute_notebook(NOTEBOOKS / "train_variant.ipynb", out, {
        "preset": "smoke", "variant": "tl+da", "pretrained": str(smoke_source), "study": "nbtest",
        "runs_root": str(tmp_path / "runs"), "results_root": str(tmp_path / "results"), "truncations": [0.0, 1.0]},
        cell_timeout=CELL_LIMITS["train_variant"], cwd=REPO)
    rows = read_results(tmp_path / "results")  # validates the schema
    train = rows[rows.eval_kind == "train"]
    assert list(train.step) == [2, 4] and (train.status == "ok").all()
    assert train.fid.notna().all() and (train.num_samples == 8).all()
    sweep = rows[rows.eval_kind == "truncation"]
    assert sorted(sweep.truncation) == [0.0, 1.0]
    assert (sweep.eval_seconds > 0).all() and not (sweep.eval_seconds == train.eval_seconds.iloc[-1]).all()
    assert (tmp_path / "results/figures/samples/nbtest/fluent-faces_tl+da_seed0.png").exists()
    assert train.nn_distance_ratio.notna().iloc[-1]


def fake_rows(study, dataset, variant, seed, fids):
    cfg = make_config("smoke", variant, data_name=dataset, train_seed=seed, opt_steps=4,
                      **({"transfer_source": "src"} if variant != "scratch" else {}))
    evals = [{"step": 2 * (i + 1), "images_seen": 8 * (i + 1), "train_seconds": 1.0 + i, "elapsed_seconds": 2.0 + i,
              "d_loss": 1.0, "g_loss": 0.5, "fid": fid, "kid": fid / 1000, "num_samples": 8,
              "reference": "ref", "truncation": 0.0, "extractor": "fixture", "eval_seconds": 0.1,
              "nn_distance_ratio": 1.2}
             for i, fid in enumerate(fids)]
    return make_rows(cfg, evals, run_id=f"{dataset}_{variant}_seed{seed}", study=study, device="cpu",
                     dataset_count=10)


def test_report_executes_on_parquet_fixture_and_writes_figures(tmp_path):
    root = tmp_path / "results"
    for dataset in ("fluent-faces", "fluent-objects-1000"):
        for i, variant in enumerate(("scratch", "tl", "tl+da", "tl+da+cr")):
            for seed in (0, 1):
                rows = fake_rows("fixture", dataset, variant, seed, [200 - 10 * i, 150 - 20 * i + seed])
                write_rows(rows, run_path("fixture", rows[0]["run_id"], root))
    for i, variant in enumerate(("scratch", "tl")):  # a third target, so the distances section has 3 gains to rank
        for seed in (0, 1):
            rows = fake_rows("fixture", "twemoji-faces", variant, seed, [200, 160 - 30 * i + seed])
            write_rows(rows, run_path("fixture", rows[0]["run_id"], root))
    pd.DataFrame({"target": ["fluent-faces", "fluent-objects-1000", "twemoji-faces"], "source": "openmoji",
                  "fid": [220.0, 160.0, 200.0], "kid": 0.1, "target_count": 10, "target_total": 10}).to_parquet(
        root / "similarity.parquet")
    out = tmp_path / "report.ipynb"
    execute_notebook(NOTEBOOKS / "report.ipynb", out, {"results_root": str(root), "study": "fixture"},
                     cell_timeout=CELL_LIMITS["report"], cwd=REPO)
    for name in ("fid_vs_images.png", "fid_vs_seconds.png", "fid_vs_epochs.png", "kid_vs_epochs.png"):
        assert (root / "figures" / "fixture" / name).stat().st_size > 10_000
    lines = (root / "summary" / "fixture.csv").read_text().splitlines()
    # final FIDs of seeds 0 and 1: scratch 150 and 151, tl+da+cr 90 and 91
    assert any(line.startswith("fluent-faces,scratch,150.5 ± 0.7,") for line in lines)
    assert any(line.startswith("fluent-objects-1000,tl+da+cr,90.5 ± 0.7,") for line in lines)
    html = out.read_text()
    assert "78.43" in html and "not rerun here" in html
    assert "these settings differ: dataset (published lsun-bedroom-1000" in html  # no matching protocol
    assert "Figure 1." in html and "## Findings" in html and "## Methods" in html
    assert "## Failed runs" not in html and "## Truncation sweep" not in html  # no data, no section
    assert "## How far each target is from the source" in html and "Spearman ρ = " in html


def test_score_curves_plot_the_asked_score_against_epochs():
    rows = pd.DataFrame([r for v, fids in (("tl", [200, 100]), ("tl+da", [180, 120]))
                         for seed in (0, 1) for r in fake_rows("s", "fluent-faces", v, seed, fids)])
    ax = report.score_curves(rows, "epochs", "kid").axes[0]
    assert ax.get_ylabel() == "KID (lower is better)"
    assert [list(line.get_ydata()) for line in ax.lines[:2]] == [[0.2, 0.1], [0.18, 0.12]]


@pytest.mark.slow
def test_interrupted_study_finishes_on_rerun_without_duplicates(tmp_path):
    args = [sys.executable, "-m", "gan_lib.study", "--preset", "smoke", "--study", "interrupt",
            "--datasets", "fluent-faces", "--variants", "scratch", "--seeds", "0", "1",
            "--runs-root", str(tmp_path / "runs"), "--results-root", str(tmp_path / "results"),
            "--output-root", str(tmp_path / "executed")]
    first = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    done = run_path("interrupt", "fluent-faces_scratch_seed0", tmp_path / "results")
    invocations = tmp_path / "results" / "studies" / "interrupt.json"
    deadline = time.time() + 300
    while not invocations.exists() and time.time() < deadline and first.poll() is None:
        time.sleep(0.02)  # the second run's kernel starts in about a second: kill before it can finish
    os.killpg(first.pid, signal.SIGKILL)  # mid-way through the second run
    first.wait()
    assert done.exists()
    killed, = json.loads(invocations.read_text())  # recorded up to its last finished run
    assert killed["ran"] == ["fluent-faces_scratch_seed0"] and killed["complete"] is False
    second = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    rows = read_results(tmp_path / "results", "interrupt")
    train = rows[rows.eval_kind == "train"]
    assert sorted(train.run_id.unique()) == ["fluent-faces_scratch_seed0", "fluent-faces_scratch_seed1"]
    assert not train.duplicated(["run_id", "step"]).any()
    assert (train.groupby("run_id").step.max() == 4).all()
    killed_again, resumed = json.loads(invocations.read_text())
    assert killed_again == killed and resumed["ran"] == ["fluent-faces_scratch_seed1"] and resumed["complete"]
    assert (tmp_path / "results/reports/interrupt.html").exists()  # each study its own report
    assert (tmp_path / "executed/interrupt/fluent-faces_scratch_seed1.ipynb").exists()


def test_paired_gaps_pair_runs_by_seed_and_say_which_gaps_exceed_the_spread(tmp_path):
    root = tmp_path / "results"
    finals = {"scratch": [300, 320, 310], "tl": [200, 205, 195], "tl+da": [201, 210, 190]}
    for variant, fids in finals.items():
        for seed, fid in enumerate(fids):
            rows = fake_rows("gaps", "fluent-faces", variant, seed, [400, fid])
            write_rows(rows, run_path("gaps", rows[0]["run_id"], root))
    gaps = report.paired_gaps(read_results(root, "gaps"), "tl").loc["fluent-faces"]
    assert gaps.loc["scratch", "gap_mean"] == 110.0 and gaps.loc["scratch", "n"] == 3
    assert gaps.loc["scratch", "resolved"]  # +100, +115, +115: far outside the spread
    assert gaps.loc["tl+da", "gap_mean"] == 0.3 and not gaps.loc["tl+da", "resolved"]  # +1, +5, -5
    only_baseline = read_results(root, "gaps").query("variant == 'tl'")
    assert report.paired_gaps(only_baseline, "tl").empty and report.paired_gaps(only_baseline, "scratch").empty
    other = fake_rows("gaps", "fluent-objects-1000", "tl", 0, [400, 250])  # a dataset without tl+da or scratch
    write_rows(other, run_path("gaps", other[0]["run_id"], root))
    assert "fluent-objects-1000" not in report.paired_gaps(read_results(root, "gaps"), "tl").index.levels[0]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["train_variant", "pretrain_source", "report", "explore"])
def test_every_notebook_runs_with_its_defaults(name, tmp_path):
    """Each notebook executes with its own parameter defaults; only where it writes is moved into tmp_path (the
    train notebook's default is a smoke-sized tl+da run from the committed smoke source)."""
    import shutil

    source = tmp_path / "source"
    shutil.copytree(REPO / "results" / "source" / "openmoji-laptop", source)
    results = tmp_path / "results"
    if name == "report":
        for part in ("runs", "studies", "figures"):
            shutil.copytree(REPO / "results" / part, results / part)
    where = {"train_variant": {"runs_root": str(tmp_path / "runs"), "results_root": str(results)},
             "pretrain_source": {"source_dir": str(source)}, "report": {"results_root": str(results)},
             "explore": {"runs_root": str(tmp_path / "runs")}}[name]
    out = tmp_path / f"{name}.ipynb"
    execute_notebook(NOTEBOOKS / f"{name}.ipynb", out, where, cell_timeout=CELL_LIMITS[name], cwd=REPO)
    text = out.read_text()
    expected = {"train_variant": "final FID", "pretrain_source": "source model FID 88.8",
                "report": "Figure 1.", "explore": "VBox"}[name]
    assert expected in text
    if name == "explore":  # every dropdown shows a choice (the saved widget state), none is left blank
        state = json.loads(text)["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        dropdowns = {w["state"]["description"]: w["state"]["index"] for w in state.values()
                     if w["model_name"] == "DropdownModel"}
        assert dropdowns == {"run": 0, "class": 0}
        labels = next(w["state"]["_options_labels"] for w in state.values()
                      if w["model_name"] == "DropdownModel" and w["state"]["description"] == "run")
        committed = ["committed: " + name for name in committed_models()]
        assert labels[:len(committed)] == committed  # a fresh clone's explorer offers the committed models


@pytest.mark.slow
def test_a_cell_that_never_returns_fails_within_its_limit_naming_notebook_and_cell(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("wait = 600", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("import time\ntime.sleep(wait)")]
    nbformat.write(nb, tmp_path / "stall.ipynb")
    start = time.monotonic()
    with pytest.raises(NotebookTimeout) as err:
        execute_notebook(tmp_path / "stall.ipynb", tmp_path / "out.ipynb", {"wait": 300}, cell_timeout=5,
                         cwd=tmp_path)
    assert time.monotonic() - start < 60
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("stall.ipynb: cell 3 (`import time`) ran past its 5 s limit"), message


def test_every_notebook_parameter_has_a_type_papermill_shows():
    for path in NOTEBOOKS.glob("*.ipynb"):
        untyped = [n for n, p in pm.inspect_notebook(str(path)).items() if p["inferred_type_name"] == "None"]
        assert untyped == [], f"{path.name}: papermill --help-notebook shows 'Unknown type' for {untyped}"


def test_a_parameter_of_the_wrong_type_is_one_user_error_before_training():
    from gan_lib.errors import UserError

    with pytest.raises(UserError, match=r"^parameter seed must be int, got 'abc'"):
        config_from_params(dataset="fluent-faces", variant="scratch", preset="smoke", seed="abc")
    assert config_from_params(preset="smoke", variant="scratch", epochs=2, seed=0).opt_epochs == 2.0  # int for float
