"""Which code a run trained with: the git commit and dirty flag, recorded each time a run starts or resumes,
with the CPU kernels torch dispatches to (`cpu_capability`: AVX2, AVX512, ...). CPU training is bit-reproducible
only under the same capability: other kernels round differently and a GAN's trajectory then diverges (pin it with
`ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2` to reproduce runs made on an AVX2 machine).

Each start also records the environment (`gan_lib.environment`): the digest of `requirements.lock`, whether the
installed packages are the locked ones (and how they differ), and the digest of the installed `name==version`
list, which is kept beside it as `packages-<digest>.txt`.

`record_start` appends one entry to the run folder's `provenance.json` per `train()` call, so a run resumed on
other code shows both commits; the result rows carry the first commit, whether any start was dirty, the first
start's lock digest and whether every start's environment matched the lock.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from gan_lib import environment
from gan_lib.errors import UserError
from gan_lib.files import atomic_write_bytes, write_json
from gan_lib.paths import REPO_ROOT

STARTS = "provenance.json"
# The x86 flags each ATEN_CPU_CAPABILITY value needs (as torch's dispatch checks them). Asked for on a CPU without
# them, torch still selects those kernels, and the first one kills the process (illegal instruction).
CAPABILITY_FLAGS = {"avx2": ("avx2", "fma"), "avx512": ("avx512f", "avx512bw", "avx512vl", "avx512dq")}


def check_requested_capability(requested: str | None = None, cpu_flags: set[str] | None = None) -> None:
    """A one-line error when ATEN_CPU_CAPABILITY (or `requested`) names kernels this CPU cannot run (flags from
    /proc/cpuinfo, or `cpu_flags`); nothing to check when it is unset or the flags cannot be read."""
    requested = (requested if requested is not None else os.environ.get("ATEN_CPU_CAPABILITY", "")).lower()
    if requested not in CAPABILITY_FLAGS:
        return
    if cpu_flags is None:
        try:
            text = Path("/proc/cpuinfo").read_text()
        except OSError:
            return
        cpu_flags = {f for line in text.splitlines() if line.startswith("flags") for f in line.split(":", 1)[1].split()}
    missing = [f for f in CAPABILITY_FLAGS[requested] if f not in cpu_flags]
    if cpu_flags and missing:
        runnable = [name for name, flags in CAPABILITY_FLAGS.items() if all(f in cpu_flags for f in flags)]
        raise UserError(f"ATEN_CPU_CAPABILITY={requested} asks for kernels this CPU cannot run (it lacks "
                        f"{', '.join(missing)}); unset it or use one it has ({', '.join(runnable) or 'default'}), "
                        f"knowing that runs are bit-reproducible only under the capability they trained with")


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
    installed = environment.installed_versions()
    env = environment.environment_record(installed)
    packages = Path(run_dir) / f"packages-{env['packages_sha256'][:12]}.txt"
    if not packages.exists():
        atomic_write_bytes(packages, environment.freeze(installed).encode())
    starts = read_starts(run_dir) + [{"step": int(step), "git_commit": commit, "git_dirty": dirty,
                                      "cpu_capability": torch.backends.cpu.get_cpu_capability(), **env,
                                      "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}]
    write_json(Path(run_dir) / STARTS, starts)
    return starts


def code_summary(starts: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows' provenance columns: the commit the run started on, and whether any start was dirty.
    With no recorded start (a run from before this record existed), the code as it is now."""
    if not starts:
        commit, dirty = git_state()
        return {"git_commit": commit, "git_dirty": dirty, "git_starts": None, "lock_sha256": None,
                "env_matches_lock": None}
    recorded = [s for s in starts if "env_matches_lock" in s]  # starts from before the record existed have none
    return {"git_commit": starts[0]["git_commit"], "git_dirty": any(s["git_dirty"] for s in starts),
            "git_starts": json.dumps(starts), "lock_sha256": recorded[0]["lock_sha256"] if recorded else None,
            "env_matches_lock": all(s["env_matches_lock"] for s in recorded) if recorded else None}


def cpu_capabilities(git_starts: str | None) -> str:
    """The CPU capabilities a run trained under (from its recorded starts), or 'not recorded'. Runs are
    bit-reproducible only under the same one."""
    if not isinstance(git_starts, str):
        return "not recorded"
    found = sorted({s.get("cpu_capability") or "not recorded" for s in json.loads(git_starts)})
    return ", ".join(found)


def environments(git_starts: str | None) -> str:
    """The environments a run trained in (from its recorded starts): the lock's digest (12 characters) and whether
    the installed packages matched it, e.g. '8a9646ef3165 (matches lock)', or 'not recorded'."""
    if not isinstance(git_starts, str):
        return "not recorded"
    found = sorted({f"{s['lock_sha256'][:12] if s['lock_sha256'] else 'no lock'} "
                    f"({'matches' if s['env_matches_lock'] else 'differs from'} lock)"
                    if "env_matches_lock" in s else "not recorded" for s in json.loads(git_starts)})
    return ", ".join(found)
