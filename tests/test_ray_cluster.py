"""The study on a two-node Ray cluster started here on loopback (a head declaring two fake GPUs and a second node,
one CPU each): the same grid gives bit-identical FID/KID to the local executor; a Ray worker killed with SIGKILL
mid-run is retried and resumes from its checkpoint to the uninterrupted run's weights, with no duplicate rows; runs
in flight at once hold distinct GPUs; failures are recorded while the other runs go on. Nothing of the cluster
outlives the module."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
from conftest import make_image_set
from PIL import Image

from gan_lib.checkpoint import trained_weights
from gan_lib.errors import UserError
from gan_lib.report.results import read_results
from gan_lib.study.grid import RunSpec, StudyFolders
from gan_lib.study.ray_executor import WORKER_RECORD, RayExecutor, local_cluster
from gan_lib.training.provenance import read_starts

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
DATASETS = ("tinya", "tinyb")


def processes() -> list[tuple[int, str, list[str]]]:
    """(pid, command line, the /proc stat fields after the name: state, parent pid, ...) of every process."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit():
                found.append((int(proc.name), (proc / "cmdline").read_bytes().decode(errors="replace"),
                              (proc / "stat").read_text().rsplit(")", 1)[1].split()))
        except OSError:  # ended meanwhile
            pass
    return found


def processes_mentioning(text: str) -> list[int]:
    return [pid for pid, command, _ in processes() if text in command]


def children(parent: int) -> list[int]:
    return [pid for pid, _, stat in processes() if int(stat[1]) == parent]


def running(pid: int) -> bool:
    return any(p == pid and stat[0] != "Z" for p, _, stat in processes())  # a zombie has ended


@pytest.fixture(scope="module")
def ray_cluster():
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    with local_cluster(nodes=2, cpus_per_node=1, head_gpus=2, temp_dir=temp) as address:
        yield address
    leftovers = processes_mentioning(str(temp))
    shutil.rmtree(temp, ignore_errors=True)
    assert not leftovers, f"Ray processes left running: {leftovers}"


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    """A private cache holding two custom 16 px datasets of 8 images each."""
    from gan_lib.data import prepare

    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GAN_LIB_CACHE", str(cache))
        for seed, name in enumerate(DATASETS):
            folder = tmp_path_factory.mktemp(name)
            for i, image in enumerate(make_image_set(n=8, resolution=16, seed=seed).images):
                Image.fromarray(image).save(folder / f"{i:02d}.png")
            prepare(name, 16, source=folder)
    return cache


def study(root: Path, cache: Path, source: Path, *flags: str, datasets=DATASETS, variants=("scratch", "tl"),
          report: bool = False, steps: int = 4) -> list[str]:
    """The smoke grid's command line (4 steps unless told, FID/KID every 2), writing under `root`."""
    return [sys.executable, "-m", "gan_lib.study", "--preset", "smoke", "--study", "grid", "--datasets", *datasets,
            "--variants", *variants, "--seeds", "0", "--steps", str(steps), "--pretrained", str(source),
            "--runs-root", str(root / "runs"), "--results-root", str(root / "results"),
            "--output-root", str(root / "executed"), *([] if report else ["--no-report"]), *flags]


def run_cli(args: list[str], cache: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=800,
                          env={**os.environ, "GAN_LIB_CACHE": str(cache)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def train_rows(root: Path):
    rows = read_results(root / "results", "grid")
    return rows[rows.eval_kind == "train"].sort_values(["run_id", "step"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def local_grid(tmp_path_factory, tiny_cache, smoke_source):
    """The reference: the grid (2 datasets x {scratch, tl}) with the local executor, one run at a time."""
    root = tmp_path_factory.mktemp("local")
    run_cli(study(root, tiny_cache, smoke_source), tiny_cache)
    return root


# Long enough that a killed worker's kernel, which trains on until it notices (ipykernel polls its parent once a
# second), cannot reach the end before it exits: 18 steps and 9 evaluations after the first checkpoint.
LONG_RUN_STEPS = 20


@pytest.fixture(scope="module")
def local_long_run(tmp_path_factory, tiny_cache, smoke_source):
    """The killed run's uninterrupted reference: tinya, scratch, LONG_RUN_STEPS steps, local executor."""
    root = tmp_path_factory.mktemp("local_long")
    run_cli(study(root, tiny_cache, smoke_source, datasets=["tinya"], variants=["scratch"], steps=LONG_RUN_STEPS),
            tiny_cache)
    return root


# ------------------------------------------------------------------ the executor with stand-in runs (seconds)
class StandIn:
    """A study's folders whose runs only sleep and note where they ran; `behaviour` makes some fail or die.
    Sent to the Ray workers by value (this test module is not importable there)."""

    def __init__(self, root: Path, behaviour: dict[int, str] | None = None, seconds: float = 2.0):
        self.runs_root, self.behaviour, self.seconds = root, behaviour or {}, seconds

    def roots(self) -> tuple[Path, ...]:
        return (self.runs_root,)

    def execute(self, spec: RunSpec, env) -> str:
        import ray

        done = self.runs_root / f"{spec.run_id}.json"
        attempts = len(list(self.runs_root.glob(f"{spec.run_id}.attempt*")))
        (self.runs_root / f"{spec.run_id}.attempt{attempts}").touch()
        what = self.behaviour.get(spec.seed, "ok")
        if what == "raise":
            raise OSError("disk on fire")
        if what == "die" or (what == "die once" and attempts == 0):
            os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies, as when its node is lost
        start = time.time()
        time.sleep(self.seconds)
        done.write_text(json.dumps({"start": start, "end": time.time(), "device": env.get("CUDA_VISIBLE_DEVICES"),
                                    "node": ray.get_runtime_context().get_node_id(),
                                    "cache": env.get("GAN_LIB_CACHE")}))
        return "ok"

    def record_failure(self, spec: RunSpec, message: str) -> str:
        (self.runs_root / f"{spec.run_id}.failed").write_text(message)
        return message


def run_stand_ins(address: str, folders: StandIn, n: int, **resources) -> dict[int, str]:
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    executor = RayExecutor(address, **resources)
    executor.start(folders)
    try:
        return {spec.seed: outcome for spec, outcome in
                executor.run([RunSpec("s", "tiny", "scratch", seed, "smoke") for seed in range(n)], folders)}
    finally:
        executor.stop()


def test_ray_runs_in_flight_at_once_hold_distinct_gpus(ray_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LIB_CACHE", "/driver/cache")  # the driver's GAN_LIB_* settings reach each run
    outcomes = run_stand_ins(ray_cluster, StandIn(tmp_path), 4, gpus_per_run=1, cpus_per_run=0.5)
    assert outcomes == {i: "ok" for i in range(4)}
    runs = [json.loads((tmp_path / f"tiny_scratch_seed{i}.json").read_text()) for i in range(4)]
    assert {r["device"] for r in runs} == {"0", "1"} and len({r["node"] for r in runs}) == 1  # the head's two
    overlapping = [(a, b) for a in runs for b in runs if a is not b and a["start"] < b["end"] and b["start"] < a["end"]]
    assert overlapping and all(a["device"] != b["device"] for a, b in overlapping)
    assert {r["cache"] for r in runs} == {"/driver/cache"}
    record = json.loads((tmp_path / "s" / "tiny_scratch_seed0" / WORKER_RECORD).read_text())
    assert record["cuda_visible_devices"] in ("0", "1") and record["pid"] != os.getpid()


def test_ray_failures_are_recorded_while_the_others_go_on_and_lost_workers_retried(ray_cluster, tmp_path):
    folders = StandIn(tmp_path, {1: "raise", 2: "die once", 3: "die"}, seconds=0.1)
    outcomes = run_stand_ins(ray_cluster, folders, 4, gpus_per_run=0, max_retries=1)
    assert outcomes[0] == "ok" and outcomes[2] == "ok"  # 2 lost its worker once and was retried
    assert outcomes[1] == "failed on its Ray worker: disk on fire"
    assert outcomes[3].startswith("lost on the Ray cluster after 2 attempt(s):")
    assert (tmp_path / "tiny_scratch_seed1.failed").read_text() == outcomes[1]
    assert (tmp_path / "tiny_scratch_seed3.failed").exists() and not (tmp_path / "tiny_scratch_seed2.failed").exists()
    assert len(list(tmp_path.glob("tiny_scratch_seed1.attempt*"))) == 1  # an exception is not retried
    assert len(list(tmp_path.glob("tiny_scratch_seed3.attempt*"))) == 2
    ran = [json.loads((tmp_path / f"tiny_scratch_seed{i}.json").read_text()) for i in (0, 2)]
    assert [r["device"] for r in ran] == ["", ""]  # no GPU reserved, none visible (the head declares two)


def test_ray_worker_that_cannot_write_a_folder_is_one_clear_error(ray_cluster, tmp_path):
    (tmp_path / "a-file").write_text("")
    folders = StudyFolders(tmp_path / "a-file" / "runs", tmp_path / "results", tmp_path / "executed")
    with pytest.raises(UserError, match="a Ray worker cannot write the study's folders or import gan_lib"):
        RayExecutor(ray_cluster).start(folders)


# ------------------------------------------------------------------ the real smoke grid (minutes)
def test_ray_grid_on_two_nodes_matches_the_local_executor_bit_for_bit(ray_cluster, tiny_cache, smoke_source,
                                                                      local_grid, tmp_path):
    run_cli(study(tmp_path, tiny_cache, smoke_source, "--executor", "ray", "--ray-address", ray_cluster,
                  "--gpus-per-run", "0", report=True), tiny_cache)
    local, ray = train_rows(local_grid), train_rows(tmp_path)
    assert len(ray) == 8 and (ray.status == "ok").all() and list(ray.step.unique()) == [2, 4]
    columns = ["run_id", "step", "fid", "kid", "num_samples", "reference"]
    assert ray[columns].equals(local[columns])  # exact floats
    nodes = {json.loads(p.read_text())["node_id"] for p in (tmp_path / "runs/grid").glob(f"*/{WORKER_RECORD}")}
    assert len(nodes) == 2
    assert (tmp_path / "results/reports/grid.html").exists()  # each study its own report
    history = json.loads((tmp_path / "results/studies/grid.json").read_text())
    assert history[-1]["executor"]["executor"] == "ray" and history[-1]["executor"]["nodes"] == 2


def test_ray_worker_killed_mid_run_resumes_to_the_uninterrupted_weights(ray_cluster, tiny_cache, smoke_source,
                                                                       local_long_run, tmp_path):
    args = study(tmp_path, tiny_cache, smoke_source, "--executor", "ray", "--ray-address", ray_cluster,
                 "--gpus-per-run", "0", datasets=["tinya"], variants=["scratch"], steps=LONG_RUN_STEPS)
    driver = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "GAN_LIB_CACHE": str(tiny_cache)})
    run_dir = tmp_path / "runs/grid/tinya_scratch_seed0"
    deadline, worker, kernels = time.time() + 600, None, []
    while not (run_dir / "checkpoint.pt").exists() and time.time() < deadline and driver.poll() is None:
        if not kernels and (run_dir / WORKER_RECORD).exists():  # found before the checkpoint: the kill is prompt
            worker = json.loads((run_dir / WORKER_RECORD).read_text())["pid"]
            kernels = children(worker)
        time.sleep(0.005)
    assert driver.poll() is None, driver.communicate()[1][-3000:]
    assert kernels, "the worker's kernel was not found before the first checkpoint"
    os.kill(worker, signal.SIGKILL)  # the step-2 checkpoint is written; the run trains on
    _, stderr = driver.communicate(timeout=600)
    assert driver.returncode == 0, stderr[-3000:]

    assert json.loads((run_dir / WORKER_RECORD).read_text())["pid"] != worker  # a second attempt finished it
    assert not [pid for pid in kernels if running(pid)]  # the first attempt's kernel ended with it
    starts = [start["step"] for start in read_starts(run_dir)]
    assert len(starts) == 2 and starts[0] == 0 and 2 <= starts[1] < LONG_RUN_STEPS, starts  # resumed mid-run
    reference = trained_weights(local_long_run / "runs/grid/tinya_scratch_seed0")
    resumed = trained_weights(run_dir)
    assert resumed["step"] == reference["step"] == LONG_RUN_STEPS
    for net in ("G", "D", "G_ema"):
        assert all(torch.equal(resumed[net][k], reference[net][k]) for k in reference[net]), net
    rows = train_rows(tmp_path)
    assert list(rows.step) == list(range(2, LONG_RUN_STEPS + 1, 2)) and not rows.duplicated(["run_id", "step"]).any()
    assert [p.name for p in (tmp_path / "results/runs/grid").iterdir()] == ["tinya_scratch_seed0.parquet"]
    assert rows[["fid", "kid"]].equals(train_rows(local_long_run)[["fid", "kid"]])
