"""Which code a run trained with: the git commit and dirty flag, recorded each time a run starts or resumes,
with the CPU kernels torch dispatches to (`cpu_capability`: AVX2, AVX512, ...). CPU training is bit-reproducible
only under the same capability: other kernels round differently and a GAN's trajectory then diverges (pin it with
`ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2` to reproduce runs made on an AVX2 machine).

`record_start` appends one entry to the run folder's `provenance.json` per `train()` call, so a run resumed on
other code shows both commits; the result rows carry the first commit and whether any start was dirty.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from gan_lib.files import write_json
from gan_lib.paths import REPO_ROOT

STARTS = "provenance.json"


def git_state() -> tuple[str, bool]:
    """(commit, dirty) of the repository, or ("unknown", False) outside git. Untracked files do not count."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                                    capture_output=True, text=True, check=True).stdout.strip())
        return commit, dirty
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def read_starts(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / STARTS
    return json.loads(path.read_text()) if path.exists() else []


def record_start(run_dir: str | Path, step: int) -> list[dict[str, Any]]:
    """Append this start (step, commit, dirty, CPU capability, time) to the run's `provenance.json`; returns every
    start."""
    import torch

    commit, dirty = git_state()
    starts = read_starts(run_dir) + [{"step": int(step), "git_commit": commit, "git_dirty": dirty,
                                      "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                                      "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}]
    write_json(Path(run_dir) / STARTS, starts)
    return starts


def code_summary(starts: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows' provenance columns: the commit the run started on, and whether any start was dirty.
    With no recorded start (a run from before this record existed), the code as it is now."""
    if not starts:
        commit, dirty = git_state()
        return {"git_commit": commit, "git_dirty": dirty, "git_starts": None}
    return {"git_commit": starts[0]["git_commit"], "git_dirty": any(s["git_dirty"] for s in starts),
            "git_starts": json.dumps(starts)}
