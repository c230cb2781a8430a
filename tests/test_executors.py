"""The local executor and the executor flags: a GPU belongs to a worker slot, runs in flight at the same time see
distinct devices, `--jobs` above the GPU count shares them by slot, each kernel gets its own environment and the
process's never changes; bad executor flags are one-line errors. (Ray on a real two-node cluster:
test_ray_cluster.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from gan_lib.errors import UserError
from gan_lib.notebooks import execute_notebook
from gan_lib.study import executors
from gan_lib.study.executors import LocalExecutor
from gan_lib.study.grid import RunSpec, main
from gan_lib.study.ray_executor import RayExecutor, read_back

REPO = Path(__file__).resolve().parent.parent


class RecordingFolders:
    """Stands in for the study's folders: each 'run' notes the device its kernel would see, and when it ran."""

    def __init__(self, seconds: float = 0.2):
        self.seconds, self.lock, self.runs = seconds, threading.Lock(), []
        self.process_devices = set()  # CUDA_VISIBLE_DEVICES of this process while runs were in flight

    def roots(self) -> tuple[Path, ...]:
        return ()

    def execute(self, spec: RunSpec, env) -> str:
        start = time.monotonic()
        time.sleep(self.seconds)
        with self.lock:
            self.runs.append((start, time.monotonic(), env.get("CUDA_VISIBLE_DEVICES")))
            self.process_devices.add(os.environ.get("CUDA_VISIBLE_DEVICES"))
        return "ok"

    def record_failure(self, spec: RunSpec, message: str) -> str:
        raise AssertionError(message)


def specs(n: int) -> list[RunSpec]:
    return [RunSpec("s", "tiny", "scratch", seed, "smoke") for seed in range(n)]


def run_local(jobs: int, n: int, monkeypatch, gpus: int, visible: str | None = None) -> RecordingFolders:
    monkeypatch.setattr(executors, "_gpu_count", lambda: gpus)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    folders, executor = RecordingFolders(), LocalExecutor(jobs)
    executor.start(folders)
    outcomes = list(executor.run(specs(n), folders))
    assert sorted(spec.seed for spec, _ in outcomes) == list(range(n)) and {o for _, o in outcomes} == {"ok"}
    return folders


def most_at_once(runs, device=None) -> int:
    """The largest number of runs (on `device`, or any) in flight at one moment."""
    times = [t for s, e, d in runs if device in (None, d) for t in ((s, 1), (e, -1))]
    level = peak = 0
    for _, step in sorted(times, key=lambda t: (t[0], t[1])):
        level += step
        peak = max(peak, level)
    return peak


def test_local_runs_in_flight_at_once_see_distinct_gpus(monkeypatch):
    folders = run_local(jobs=2, n=6, monkeypatch=monkeypatch, gpus=2)
    assert {d for _, _, d in folders.runs} == {"0", "1"}
    assert most_at_once(folders.runs) == 2
    assert most_at_once(folders.runs, "0") == most_at_once(folders.runs, "1") == 1
    assert folders.process_devices == {None}  # nothing wrote the shared environment


def test_more_jobs_than_gpus_share_each_gpu_by_slot_within_the_visible_ones(monkeypatch):
    folders = run_local(jobs=4, n=8, monkeypatch=monkeypatch, gpus=2, visible="5,7")
    assert {d for _, _, d in folders.runs} == {"5", "7"}  # the parent's devices, by their ids
    assert most_at_once(folders.runs) == 4
    assert most_at_once(folders.runs, "5") == most_at_once(folders.runs, "7") == 2
    assert folders.process_devices == {"5,7"}


def test_without_gpus_the_kernel_environment_has_no_device_binding(monkeypatch):
    folders = run_local(jobs=2, n=3, monkeypatch=monkeypatch, gpus=0)
    assert {d for _, _, d in folders.runs} == {None}


def test_slot_environment_maps_slot_i_to_gpu_i_mod_n():
    assert [executors.slot_env(i, ["0", "1"], {})["CUDA_VISIBLE_DEVICES"] for i in range(4)] == ["0", "1", "0", "1"]
    assert executors.visible_gpus({"CUDA_VISIBLE_DEVICES": "3, 1"}, 2) == ["3", "1"]
    assert executors.visible_gpus({}, 2) == ["0", "1"]


def test_each_kernel_gets_its_own_environment_and_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("GAN_LIB_MARK", raising=False)
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("out = ''", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import os, pathlib\n"
                                          "mark = os.environ['GAN_LIB_MARK']\n"
                                          "pathlib.Path(out).write_text(mark + ' ' + os.getcwd())")]
    nbformat.write(nb, tmp_path / "env.ipynb")
    cwd = os.getcwd()

    def run(mark: str) -> None:
        execute_notebook(tmp_path / "env.ipynb", tmp_path / f"{mark}.ipynb", {"out": str(tmp_path / mark)},
                         cell_timeout=60, cwd=tmp_path, env={**os.environ, "GAN_LIB_MARK": mark})

    threads = [threading.Thread(target=run, args=(mark,)) for mark in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [(tmp_path / m).read_text() for m in "ab"] == [f"a {tmp_path}", f"b {tmp_path}"]
    assert "GAN_LIB_MARK" not in os.environ and os.getcwd() == cwd


STUDY = ["--preset", "smoke", "--datasets", "fluent-faces", "--variants", "scratch", "--no-report"]


@pytest.mark.parametrize("flags,message", [
    (["--jobs", "0"], "--jobs must be 1 or more, got 0"),
    (["--ray-address", "127.0.0.1:1"], "--ray-address is only for --executor ray"),
    (["--gpus-per-run", "1", "--max-retries", "2"], "--gpus-per-run, --max-retries are only for --executor ray"),
    (["--executor", "ray", "--jobs", "2"], "--jobs is only for --executor local"),
    (["--executor", "ray", "--gpus-per-run", "-1"], "--gpus-per-run must be 0 or more, got -1.0"),
    (["--executor", "ray", "--gpus-per-run", "1.5"], "--gpus-per-run above 1 must be a whole number"),
    (["--executor", "ray", "--cpus-per-run", "0"], "--cpus-per-run must be more than 0, got 0.0"),
    (["--executor", "ray", "--max-retries", "-1"], "--max-retries must be 0 or more, got -1"),
    (["--executor", "ray", "--ray-address", "no-port"], "--ray-address must be auto or HOST:PORT"),
])
def test_bad_executor_flags_are_one_line_errors(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_:
        main([*STUDY, "--results-root", str(tmp_path / "results"), "--runs-root", str(tmp_path / "runs"), *flags])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def no_ray_cluster_env(tmp_path: Path) -> dict[str, str]:
    """This environment, with no Ray cluster to find: no RAY_ADDRESS, and a Ray temp folder that records none."""
    return {**{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}, "RAY_TMPDIR": str(tmp_path)}


@pytest.mark.parametrize("address,message", [
    ("127.0.0.1:1", "error: cannot reach the Ray head at 127.0.0.1:1 (Connection refused)"),
    ("auto", "error: cannot use the Ray cluster at auto (Could not find any running Ray instance"),
])
def test_no_ray_cluster_is_one_line_from_the_cli(tmp_path, address, message):
    proc = subprocess.run([sys.executable, "-m", "gan_lib.study", *STUDY, "--executor", "ray",
                           "--ray-address", address, "--results-root", str(tmp_path / "results"),
                           "--runs-root", str(tmp_path / "runs")], capture_output=True, text=True, cwd=REPO,
                          timeout=120, env=no_ray_cluster_env(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(message) and proc.stderr.count("\n") == 1, proc.stderr


def test_storage_not_shared_names_the_folder_and_the_worker(tmp_path):
    (tmp_path / "seen").write_text("token")
    read_back("token", [(tmp_path / "seen", "node-a")])
    assert not (tmp_path / "seen").exists()  # the driver tidies up
    with pytest.raises(UserError, match=f"{tmp_path / 'results'} is not shared: a Ray worker on node-b wrote"):
        read_back("token", [(tmp_path / "results" / ".storage-check", "node-b")])


def test_ray_executor_defaults():
    executor = RayExecutor()
    assert executor.cpus_per_run == 1.0 and executor.gpus_per_run is None and executor.max_retries == 3
    assert RayExecutor(gpus_per_run=0.25).gpus_per_run == 0.25 and RayExecutor(gpus_per_run=2).gpus_per_run == 2
