"""What a study run promises a user: it says when it trains nothing, each study owns its report and figures, a
reproduction (--rerun) lands in its own study and is compared cell by cell, a failed run is listed in the report,
rendering unchanged results changes no file, and the README's commands leave a fresh clone's git status clean."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gan_lib.report.tables import compare_studies, final_rows, seed_prediction_interval
from gan_lib.study.grid import main as study_main
from gan_lib.training.run_dir import read_status

REPO = Path(__file__).resolve().parent.parent


def tree_hashes(*roots: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for root in roots for p in ([root] if root.is_file() else sorted(root.rglob("*")))
            if p.is_file() and ".lock" not in p.name}


@pytest.mark.slow
def test_two_studies_own_their_reports_rerun_compares_and_failed_run_is_listed(tmp_path, capsys):
    roots = ["--runs-root", str(tmp_path / "runs"), "--results-root", str(tmp_path / "results"),
             "--output-root", str(tmp_path / "executed")]
    results = tmp_path / "results"
    small = ["--preset", "smoke", "--datasets", "fluent-faces", "--seeds", "0"]
    assert study_main([*small, "--study", "a", "--variants", "scratch", "tl", *roots]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("study a: 2 trained, 0 skipped (already finished), 0 failed")
    report_a = results / "reports" / "a.html"
    assert "<title>Study a: data-efficient BigGAN report</title>" in report_a.read_text()
    assert (results / "summary" / "a.csv").exists() and (results / "figures" / "a" / "fid_vs_images.png").exists()

    # Again: nothing to train, said plainly, and not a byte changes (no invocation record, no report rewrite).
    before = tree_hashes(results, tmp_path / "executed")
    assert study_main([*small, "--study", "a", "--variants", "scratch", "tl", *roots]) == 0
    out = capsys.readouterr().out
    assert "nothing to train" in out and "study a: 0 trained, 2 skipped (already finished), 0 failed" in out
    assert study_main([*small, "--study", "a", "--report-only", *roots]) == 0  # re-rendered, same bytes
    capsys.readouterr()
    after = tree_hashes(results, tmp_path / "executed")
    after.pop(str(results / "report.html"))  # the index of reports, which --report-only writes
    assert after == before

    # A reproduction of one cell trains into a-rerun and is bit-identical on this CPU.
    assert study_main([*small, "--study", "a", "--variants", "scratch", "--rerun", *roots]) == 0
    out = capsys.readouterr().out
    assert "bit-identical" in out and out.splitlines()[-1].startswith("study a-rerun: 1 trained")
    assert (results / "runs" / "a-rerun" / "fluent-faces_scratch_seed0.parquet").exists()

    # A second study with a failing run: its own report lists the failure; study a's files are untouched.
    before = tree_hashes(results / "reports" / "a.html", results / "figures" / "a", results / "runs" / "a")
    broken = tmp_path / "broken-source"  # passes the up-front check (it has a config.json), fails in training
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    assert study_main([*small, "--study", "b", "--variants", "scratch", "tl", "--pretrained", str(broken),
                       *roots]) == 1
    out = capsys.readouterr().out
    assert "study b: 1 trained, 0 skipped (already finished), 1 failed" in out
    html = (results / "reports" / "b.html").read_text()
    assert "Failed runs" in html and "fluent-faces_tl_seed0" in html and "Wall time of the study" in html
    assert tree_hashes(results / "reports" / "a.html", results / "figures" / "a", results / "runs" / "a") == before

    # `python -m gan_lib.report reports` renders every study's report again: a's comes back byte for byte.
    from gan_lib.report.findings import main as report_main

    for page in [*(results / "reports").glob("*.html"), results / "report.html"]:
        page.unlink()
    assert report_main(["reports", "--results-root", str(results), "--output-root", str(tmp_path / "executed")]) == 0
    assert tree_hashes(report_a) == {str(report_a): before[str(report_a)]}
    assert sorted(p.stem for p in (results / "reports").glob("*.html")) == ["a", "a-rerun", "b"]
    assert all(f'href="reports/{s}.html"' in (results / "report.html").read_text() for s in ("a", "a-rerun", "b"))


def test_kernels_the_cpu_lacks_are_one_line_before_anything_runs(tmp_path, capsys, monkeypatch):
    """ATEN_CPU_CAPABILITY=avx512 on an AVX2 CPU: torch would die of an illegal instruction in the first kernel."""
    from gan_lib.errors import UserError
    from gan_lib.training import provenance

    avx2_cpu = {"avx", "avx2", "fma", "sse4_2"}
    with pytest.raises(UserError, match="ATEN_CPU_CAPABILITY=avx512 .* lacks avx512f, avx512bw, avx512vl, "
                                        "avx512dq.*use one it has \\(avx2\\)"):
        provenance.check_requested_capability("AVX512", avx2_cpu)
    provenance.check_requested_capability("avx2", avx2_cpu)
    provenance.check_requested_capability("default", set())
    monkeypatch.setitem(provenance.CAPABILITY_FLAGS, "avx2", ("no-cpu-has-this",))  # this CPU, read from /proc
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    with pytest.raises(SystemExit):
        study_main(["--preset", "smoke", "--study", "cap", "--datasets", "fluent-faces", "--variants", "scratch",
                    "--runs-root", str(tmp_path / "runs"), "--results-root", str(tmp_path / "results"),
                    "--output-root", str(tmp_path / "executed")])
    assert "ATEN_CPU_CAPABILITY=avx2 asks for kernels this CPU cannot run (it lacks no-cpu-has-this)" in \
        capsys.readouterr().err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "results").exists()


def test_rerun_needs_finished_committed_cells(tmp_path, capsys):
    with pytest.raises(SystemExit):
        study_main(["--preset", "smoke", "--study", "none", "--datasets", "fluent-faces", "--variants", "scratch",
                    "--rerun", "--results-root", str(tmp_path)])
    assert "--rerun reproduces finished runs of study 'none'" in capsys.readouterr().err


def test_compare_studies_says_identical_within_or_outside_the_seed_range():
    from gan_lib.report.results import read_results

    committed = read_results(REPO / "results", "laptop")
    cell = committed[(committed.dataset == "fluent-faces") & (committed.variant == "tl")]
    rerun = cell.assign(study="laptop-rerun")
    table = compare_studies(committed, rerun)
    assert len(table) == len(final_rows(cell)) == 3 and set(table.verdict) == {"bit-identical"}
    shifted = rerun.assign(fid=rerun.fid + 1e-3)
    assert all(v.startswith("within the committed seeds' 95 % prediction interval")
               for v in compare_studies(committed, shifted).verdict)
    far = rerun.assign(fid=rerun.fid + 1e3)
    assert all(v.startswith("outside") for v in compare_studies(committed, far).verdict)
    one_seed = committed[committed.train_seed == 0]
    assert set(compare_studies(one_seed, shifted).verdict) == {"no spread to compare with (one committed seed)"}


def test_a_study_is_compared_with_another_that_trained_its_cells_with_the_same_settings_and_seeds_to_spare():
    from gan_lib.report.findings import same_cells_markdown
    from gan_lib.report.results import read_results
    from gan_lib.report.tables import same_cells_elsewhere

    committed = read_results(REPO / "results", "laptop")
    retrained = committed[committed.train_seed == 0].assign(study="kernels", fid=lambda d: d.fid + 1e3)
    found = same_cells_elsewhere(retrained, {"laptop": committed, "kernels": retrained})
    assert list(found) == ["laptop"] and len(found["laptop"]) == len(final_rows(retrained)) == 8
    assert same_cells_markdown("laptop", found["laptop"]).startswith(
        "Against `laptop`: 0 of 8 cells within its seeds' 95 % prediction interval, 0 bit-identical; the largest "
        "difference is +1000.0 FID")
    # not the same cells: other evaluation latents, or the other study has a single seed of them
    assert same_cells_elsewhere(retrained.assign(eval_seed=1), {"laptop": committed}) == {}
    assert same_cells_elsewhere(committed, {"kernels": retrained}) == {}


def test_seed_prediction_interval_is_mean_pm_t_sd_sqrt_1_plus_1_over_n():
    low, high = seed_prediction_interval(pd.Series([1.0, 2.0, 3.0]))
    half = 4.302653 * 1.0 * (4 / 3) ** 0.5  # t(0.975, 2 df) x sd x sqrt(1 + 1/3)
    assert low == pytest.approx(2 - half) and high == pytest.approx(2 + half)
    assert all(np.isnan(seed_prediction_interval(pd.Series([5.0]))))


@pytest.mark.slow
def test_readme_commands_on_a_fresh_clone_leave_git_status_clean(tmp_path):
    """The commands of the README and docs/usage.md, with small parameters, in a clone of HEAD: the quick start's study finds the committed
    runs and trains nothing, the smoke study, the papermill example and a one-cell reproduction run, and git sees
    no change afterwards."""
    readme = "\n".join(p.read_text() for p in (REPO / "README.md", REPO / "docs" / "usage.md"))
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "GAN_LIB_RESULTS"} | {"PYTHONPATH": str(clone)}
    papermill = str(Path(sys.executable).with_name("papermill"))

    def run(*args: str) -> str:
        done = subprocess.run(list(args), cwd=clone, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout

    study = [sys.executable, "-m", "gan_lib.study"]
    assert "$(PY) -m gan_lib.study --preset laptop\n" in (REPO / "Makefile").read_text()  # what `make study` runs
    out = run(*study, "--preset", "laptop")
    assert "nothing to train" in out and "study laptop: 0 trained, 8 skipped (already finished), 0 failed" in out
    assert "gan_lib.study --preset smoke --variants scratch" in readme
    run(*study, "--preset", "smoke", "--variants", "scratch", "--datasets", "fluent-faces")
    assert "papermill_runs/manual/faces_tl.ipynb" in readme
    assert "papermill --execution-timeout 3600 notebooks/train_variant.ipynb" in readme  # a stall fails in an hour
    out = run(papermill, "--execution-timeout", "600", "notebooks/train_variant.ipynb", "papermill_runs/manual/faces_tl.ipynb", "-p", "dataset",
              "fluent-faces", "-p", "variant", "tl+da", "-p", "preset", "smoke", "-p", "seed", "1", "-p", "study",
              "manual")
    assert "final FID" in (clone / "papermill_runs/manual/faces_tl.ipynb").read_text()
    assert "--variants tl --rerun" in readme
    out = run(*study, "--preset", "smoke", "--datasets", "fluent-faces", "--variants", "scratch", "--rerun")
    assert "bit-identical" in out
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True).stdout
    assert status == "", status


def test_final_rows_prefer_the_larger_final_evaluation_and_the_published_number_needs_its_protocol():
    import pandas as pd

    from gan_lib.report.results import read_results
    from gan_lib.report.tables import PROTOCOL, methods_table, published_comparison

    df = read_results(REPO / "results", "laptop")
    last = df[(df.run_id == "fluent-faces_tl_seed0") & (df.step == df.opt_steps)]
    final = last.assign(eval_kind="final", num_samples=1000, fid=123.0)
    rows = final_rows(pd.concat([final, df]))  # the final row first: order must not matter
    picked = rows[rows.run_id == "fluent-faces_tl_seed0"]
    assert len(rows) == 24 and list(picked.fid) == [123.0] and list(picked.num_samples) == [1000]

    assert list(methods_table(df).columns) == ["value"]  # one setting for the whole study
    table, why = published_comparison(final_rows(df))
    assert "ours" not in table and "dataset (published lsun-bedroom-1000" in why and "resolution" in why
    matching = final_rows(df).assign(**PROTOCOL)
    table, why = published_comparison(matching)
    assert why == "" and table.ours_seeds.item() == 24


def test_ctrl_c_marks_the_run_interrupted(tmp_path, tiny_set, monkeypatch):
    from gan_lib.config import make_config
    from gan_lib.training import loop as training

    def interrupted(state):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        training.train(make_config("smoke", "scratch", eval_num_samples=0), tmp_path / "run", dataset=tiny_set,
                       progress=False)
    assert read_status(tmp_path / "run")["status"] == "interrupted"


def test_each_start_of_a_run_records_its_commit_and_cpu_capability(tmp_path, tiny_set):
    """A resumed run lists both starts; each says which CPU kernels torch used (runs are bit-reproducible only
    under the same capability)."""
    import torch

    from gan_lib.config import make_config
    from gan_lib.training import loop as training
    from gan_lib.training.provenance import git_state, read_starts

    cfg = make_config("smoke", "scratch", eval_num_samples=0)
    training.train(cfg, tmp_path / "run", dataset=tiny_set, stop_after=1, progress=False)
    training.train(cfg, tmp_path / "run", dataset=tiny_set, progress=False)
    starts = read_starts(tmp_path / "run")
    assert [s["step"] for s in starts] == [0, 1]
    assert {(s["git_commit"], s["cpu_capability"]) for s in starts} == {
        (git_state()[0], torch.backends.cpu.get_cpu_capability())}


def test_a_study_stopped_by_ctrl_c_records_the_runs_whose_rows_it_wrote(tmp_path, monkeypatch):
    """A study stopped (Ctrl-C, or `timeout` on a lent GPU) after a run's kernel wrote its rows but before the
    executor reported it: the invocation record still names that run, with the wall time so far."""
    import json

    from gan_lib.report.results import make_rows, run_path, write_rows
    from gan_lib.study import grid as study

    def first_run_then_ctrl_c(specs, *, results_root, **kw):
        spec = specs[0]
        cfg = spec.config()
        evals = [{"step": cfg.opt_steps, "fid": 100.0, "kid": 0.1, "num_samples": 8, "eval_seconds": 0.1}]
        write_rows(make_rows(cfg, evals, run_id=spec.run_id, study=spec.study, device="cpu", dataset_count=10),
                   run_path(spec.study, spec.run_id, results_root))
        raise KeyboardInterrupt

    monkeypatch.setattr(study, "run_study", first_run_then_ctrl_c)
    args = ["--preset", "smoke", "--study", "stopped", "--datasets", "fluent-faces", "--variants", "scratch",
            "--seeds", "0", "1", "--results-root", str(tmp_path), "--runs-root", str(tmp_path / "runs"), "--no-report"]
    with pytest.raises(SystemExit):
        study_main(args)
    record, = json.loads((tmp_path / "studies" / "stopped.json").read_text())
    assert record["ran"] == ["fluent-faces_scratch_seed0"] and record["complete"] is False
    assert record["skipped"] == [] and record["wall_seconds"] >= 0


def image_sources(html: str) -> list[str]:
    from html.parser import HTMLParser

    found: list[str] = []

    class Images(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "img":
                found.append(dict(attrs).get("src", ""))

    Images().feed(html)
    return found


@pytest.mark.parametrize("study", ["laptop", "laptop-150ep", "laptop-extended"])
def test_a_committed_report_links_its_committed_figures_from_the_html_and_the_notebook(study):
    """No image is embedded (a re-render would add a copy of each to git): every <img> source is a relative path
    that resolves to a committed file from results/reports/ and from papermill_runs/<study>/ alike."""
    page = REPO / "results" / "reports" / f"{study}.html"
    sources = image_sources(page.read_text())
    assert sources and not [s for s in sources if s.startswith("data:")]
    tracked = set(subprocess.run(["git", "ls-files", "results"], cwd=REPO, capture_output=True,
                                 text=True).stdout.split())
    for folder in (page.parent, REPO / "papermill_runs" / study):
        for src in sources:
            target = (folder / src).resolve()
            assert target.is_file() and str(target.relative_to(REPO)) in tracked, f"{page.name}: {src}"
    assert page.stat().st_size < 1_000_000
