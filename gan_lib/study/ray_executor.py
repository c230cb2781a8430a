"""A study's runs as Ray tasks: one task per run executes train_variant.ipynb with papermill on a worker.

Each task asks for `cpus_per_run` CPUs and `gpus_per_run` GPUs (a fraction lets small runs share a GPU; Ray sets
the task's CUDA_VISIBLE_DEVICES, and the kernel gets the worker's environment explicitly, plus the driver's
GAN_LIB_* settings; a run that reserves no GPU sees none). Runs, results and executed notebooks go to folders every node sees: before anything runs, a
task on every node writes a token file into each folder and the driver reads it back. A task whose worker or node
dies is restarted (at most `max_retries` times) and resumes from the run's last checkpoint; its notebook kernel
exits with its worker (ipykernel polls its parent), so two attempts never train the same run at once. Results are
one parquet file per run, replaced atomically, so a retried run leaves no duplicate rows.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gan_lib.errors import UserError
from gan_lib.study.executors import Outcome, RunFolders

if TYPE_CHECKING:
    from gan_lib.study.runspec import RunSpec

log = logging.getLogger(__name__)

WORKER_RECORD = "ray_worker.json"  # in the run's folder: which node and process runs it (rewritten per attempt)
STORAGE_CHECK_SECONDS = 120


@dataclass
class RayExecutor:
    """Runs as Ray tasks on the cluster at `address` (None: Ray's default: RAY_ADDRESS, the cluster `ray start`
    made on this machine, else a new single-node one here)."""

    address: str | None = None
    gpus_per_run: float | None = None  # None: 1 when the cluster has GPUs, else 0
    cpus_per_run: float = 1.0
    max_retries: int = 3  # restarts of a run whose worker or node was lost
    _nodes: int | None = field(default=None, init=False, repr=False)  # alive nodes when the study started

    def __post_init__(self) -> None:
        gpus = self.gpus_per_run
        if gpus is not None and not gpus >= 0:
            raise UserError(f"--gpus-per-run must be 0 or more, got {gpus}")
        if gpus is not None and gpus > 1 and gpus != int(gpus):
            raise UserError(f"--gpus-per-run above 1 must be a whole number (Ray shares a GPU only as a fraction "
                            f"of one), got {gpus}")
        if not self.cpus_per_run > 0:
            raise UserError(f"--cpus-per-run must be more than 0, got {self.cpus_per_run}")
        if self.max_retries < 0:
            raise UserError(f"--max-retries must be 0 or more, got {self.max_retries}")

    def start(self, folders: RunFolders) -> None:
        connect(self.address)
        import ray

        try:
            total = ray.cluster_resources()
            if self.gpus_per_run is None:
                self.gpus_per_run = 1.0 if total.get("GPU", 0) > 0 else 0.0
            self._nodes = len(alive_nodes())
            log.info("Ray cluster: %d node(s), %g CPU(s), %g GPU(s); a run reserves %g CPU(s), %g GPU(s)",
                     self._nodes, total.get("CPU", 0), total.get("GPU", 0), self.cpus_per_run, self.gpus_per_run)
            warn_if_no_node_fits(self.cpus_per_run, self.gpus_per_run)
            log.info("checking that every node writes where this machine reads (%s)",
                     ", ".join(map(str, folders.roots())))
            check_shared_storage(folders.roots())
        except BaseException:
            ray.shutdown()
            raise

    def run(self, specs: list[RunSpec], folders: RunFolders) -> Iterator[Outcome]:
        import ray

        task = ray.remote(run_on_worker)
        resources = dict(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run, max_retries=self.max_retries,
                         retry_exceptions=False)
        settings = {k: v for k, v in os.environ.items() if k.startswith("GAN_LIB_")}
        if not self.gpus_per_run:  # Ray leaves CUDA_VISIBLE_DEVICES alone for a task without GPUs: hide them
            settings["CUDA_VISIBLE_DEVICES"] = ""
        pending = {task.options(name=f"gan_lib {spec.run_id}", **resources).remote(folders, spec, settings): spec
                   for spec in specs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            spec = pending.pop(done[0])
            try:
                outcome = ray.get(done[0])
            except ray.exceptions.RayTaskError as err:  # raised by the task itself (e.g. a full disk)
                outcome = folders.record_failure(spec, f"failed on its Ray worker: {_one_line(err.cause)}")
            except ray.exceptions.RayError as err:  # its worker or node died more than max_retries times
                outcome = folders.record_failure(
                    spec, f"lost on the Ray cluster after {self.max_retries + 1} attempt(s): {_one_line(err)}")
            yield spec, outcome

    def stop(self) -> None:
        import ray

        ray.shutdown()

    def describe(self) -> dict[str, Any]:
        return {"executor": "ray", "address": self.address or "default", "nodes": self._nodes,
                "cpus_per_run": self.cpus_per_run, "gpus_per_run": self.gpus_per_run, "max_retries": self.max_retries}


def run_on_worker(folders: RunFolders, spec: RunSpec, settings: Mapping[str, str]) -> str:
    """The Ray task: note which worker runs the run, then execute it with the worker's environment (where Ray set
    CUDA_VISIBLE_DEVICES) updated with `settings` from the driver (GAN_LIB_*; no GPUs for a run without any)."""
    import ray

    from gan_lib.files import write_json

    run_dir = folders.runs_root / spec.study / spec.run_id
    write_json(run_dir / WORKER_RECORD, {"host": socket.gethostname(), "pid": os.getpid(),
                                         "node_id": ray.get_runtime_context().get_node_id(),
                                         "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                                         "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return folders.execute(spec, {**os.environ, **settings})


def _one_line(err: BaseException | None, limit: int = 300) -> str:
    return " ".join(str(err).split())[:limit]


def connect(address: str | None) -> None:
    """Connect this process to the Ray cluster at `address`; a `UserError` in one line when there is none."""
    if address is not None and address not in ("auto", "local") and "://" not in address:
        _check_reachable(address)  # before importing Ray: a wrong address fails in seconds, not minutes
    import ray

    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError) as err:  # RuntimeError: e.g. the cluster runs another Ray version
        raise UserError(f"cannot use the Ray cluster at {address or 'the default address'} ({_one_line(err)}); "
                        f"start one with `ray start --head` (the same Ray version as here) or pass "
                        f"--ray-address HOST:PORT") from None


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--ray-address must be auto or HOST:PORT (the head's GCS port, 6379 by default), "
                        f"got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise UserError(f"cannot reach the Ray head at {address} ({err.strerror or err}); start it with "
                        f"`ray start --head --port {port}` or fix --ray-address") from None


def alive_nodes() -> list[dict[str, Any]]:
    import ray

    return [n for n in ray.nodes() if n["Alive"]]


def warn_if_no_node_fits(cpus: float, gpus: float) -> None:
    """Ray keeps a task no node can hold pending (an autoscaling cluster adds a node for it): say so."""
    sizes = [(n["Resources"].get("CPU", 0), n["Resources"].get("GPU", 0)) for n in alive_nodes()]
    if not any(c >= cpus and g >= gpus for c, g in sizes):
        log.warning("no node of the Ray cluster has %g CPU(s) and %g GPU(s) for a run (nodes: %s); runs wait "
                    "until such a node joins", cpus, gpus, ", ".join(f"{c:g} CPU {g:g} GPU" for c, g in sizes))


def write_token(folder: str, name: str, token: str) -> str:
    """The storage check's task: write `token` into `folder/name`; returns this node's host name."""
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token)
    return socket.gethostname()


def check_shared_storage(roots: tuple[Path, ...], *, timeout: float = STORAGE_CHECK_SECONDS) -> None:
    """A task on every node writes a token into each of `roots`; the driver must read each one back."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    task = ray.remote(write_token)
    token = uuid.uuid4().hex
    checks = {}
    for node in alive_nodes():
        on_node = task.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"],
                                                                                             soft=False))
        for root in roots:
            name = f".storage-check-{token}-{node['NodeID'][:12]}"
            checks[on_node.remote(str(root), name, token)] = (root / name, node["NodeManagerAddress"])
    try:
        hosts = ray.get(list(checks), timeout=timeout)
    except ray.exceptions.GetTimeoutError:
        raise UserError(f"the shared-storage check did not finish in {timeout:.0f} s (a task on every node writes "
                        f"into {', '.join(map(str, roots))}); are the cluster's workers starting?") from None
    except ray.exceptions.RayTaskError as err:
        raise UserError(f"a Ray worker cannot write the study's folders or import gan_lib ({_one_line(err.cause)}); "
                        f"install the project on every node and put the folders on storage they all mount") from None
    read_back(token, [(path, f"{host} ({node})") for (path, node), host in zip(checks.values(), hosts)])


def read_back(token: str, written: list[tuple[Path, str]]) -> None:
    """The driver's half of the storage check: each (path, writer) must hold `token`; removes them."""
    for path, writer in written:
        seen = path.read_text() if path.exists() else None
        path.unlink(missing_ok=True)
        if seen != token:
            raise UserError(f"{path.parent} is not shared: a Ray worker on {writer} wrote a file there that this "
                            f"machine cannot read; put --runs-root, --results-root and --output-root on storage "
                            f"every node mounts at the same path")


@contextmanager
def local_cluster(nodes: int = 2, cpus_per_node: float = 1, head_gpus: float = 0,
                  temp_dir: Path | None = None) -> Iterator[str]:
    """A Ray cluster of `nodes` node processes on this machine (for tests and benchmarks); yields its address.
    The head may declare `head_gpus` GPUs on a CPU-only machine: Ray then hands tasks GPU ids (CUDA_VISIBLE_DEVICES)
    with no GPU behind them. Every Ray process and file of the cluster is gone on exit.

    While it lasts, this process's RAY_TMPDIR points at `temp_dir` (default: a new folder under /tmp, short because
    Ray's sockets live in it), so the cluster leaves the machine's /tmp/ray alone, and RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER
    is 0 (Ray's single-machine switch, read once at import): the cluster listens on loopback only when this process
    had not imported Ray before. Drivers started as subprocesses meanwhile inherit both and can connect."""
    import shutil
    import tempfile

    temp = Path(temp_dir or tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    try:
        with _environment(RAY_TMPDIR=str(temp), RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0"):
            from ray.cluster_utils import Cluster

            node_args = dict(num_cpus=cpus_per_node, object_store_memory=80 * 2**20, include_dashboard=False)
            cluster = Cluster()
            try:
                cluster.add_node(**node_args, num_gpus=head_gpus)
                for _ in range(nodes - 1):
                    cluster.add_node(**node_args)
                cluster.wait_for_nodes()
                yield cluster.address
            finally:
                cluster.shutdown()
    finally:
        if temp_dir is None:
            shutil.rmtree(temp, ignore_errors=True)


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set these environment variables of this process while the block runs, then restore them."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
