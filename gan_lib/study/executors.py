"""Where a study's runs execute: on this machine, `jobs` at a time (`LocalExecutor`), or as tasks on a Ray cluster
(`gan_lib.study.ray_executor.RayExecutor`).

An executor hands each run to `folders.execute(spec, env)` with the environment the run's notebook kernel gets, and
yields (spec, outcome) as runs end: 'ok' or the reason recorded for a failed run. Nothing changes the process's
`os.environ`. Locally a GPU belongs to a worker slot: a run takes a free slot and gives it back when it ends;
slot i uses GPU i % n, so `--jobs` above the GPU count shares GPUs on purpose (two slots per GPU for jobs = 2n).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import queue
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gan_lib.errors import UserError

if TYPE_CHECKING:
    from gan_lib.study.runspec import RunSpec

log = logging.getLogger(__name__)

Outcome = tuple["RunSpec", str]


class RunFolders(Protocol):
    """What an executor needs from the study: where runs write, how to run one, how to record one as failed."""

    runs_root: Path  # runs/<study>/<run_id>/ hold each run's checkpoints

    def roots(self) -> tuple[Path, ...]: ...

    def execute(self, spec: RunSpec, env: Mapping[str, str]) -> str: ...

    def record_failure(self, spec: RunSpec, message: str) -> str: ...


class Executor(Protocol):
    def start(self, folders: RunFolders) -> None:
        """Get ready to run (connect, check); raises `UserError` when it cannot."""

    def run(self, specs: list[RunSpec], folders: RunFolders) -> Iterator[Outcome]:
        """Run every spec; yields (spec, outcome) in the order runs end."""

    def stop(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        """What ran the study, for the study's invocation record."""


def _gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # no usable CUDA: CPU only
        return 0


def visible_gpus(env: Mapping[str, str], count: int) -> list[str]:
    """The ids of the `count` GPUs this process sees, as a child's CUDA_VISIBLE_DEVICES names them: the entries
    of the parent's CUDA_VISIBLE_DEVICES when it is set, else 0..count-1."""
    listed = [d.strip() for d in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return (listed or [str(i) for i in range(count)])[:count]


def slot_env(slot: int, gpus: list[str], base: Mapping[str, str]) -> dict[str, str]:
    """The kernel environment of a run in worker slot `slot`: `base`, bound to GPU `slot % len(gpus)` if any."""
    env = dict(base)
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
    return env


@dataclass
class LocalExecutor:
    """Runs on this machine, `jobs` at a time, each in a worker slot that owns a GPU (shared when jobs > GPUs)."""

    jobs: int = 1

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise UserError(f"--jobs must be 1 or more, got {self.jobs}")
        self._gpus: list[str] = []

    def start(self, folders: RunFolders) -> None:
        self._gpus = visible_gpus(os.environ, _gpu_count())
        if len(self._gpus) and self.jobs > len(self._gpus):
            log.info("--jobs %d on %d GPU(s): slot i uses GPU i %% %d, so runs share GPUs", self.jobs,
                     len(self._gpus), len(self._gpus))

    def run(self, specs: list[RunSpec], folders: RunFolders) -> Iterator[Outcome]:
        workers = max(1, min(self.jobs, len(specs)))
        free_slots: queue.SimpleQueue[int] = queue.SimpleQueue()
        for slot in range(workers):
            free_slots.put(slot)

        def run_in_a_free_slot(spec: RunSpec) -> Outcome:
            slot = free_slots.get()
            try:
                return spec, folders.execute(spec, slot_env(slot, self._gpus, os.environ))
            finally:
                free_slots.put(slot)

        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(run_in_a_free_slot, spec) for spec in specs]
            for future in concurrent.futures.as_completed(futures):
                yield future.result()

    def stop(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"executor": "local", "jobs": self.jobs, "gpus": len(self._gpus)}
