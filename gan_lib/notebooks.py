"""Execute a notebook with papermill in a kernel of its own.

The kernel's environment and working directory are given explicitly and handed to the kernel at launch, so runs
executed side by side (threads of the local executor, Ray workers) never change or share the process's
`os.environ` or working directory (papermill's own `cwd=` changes the whole process's directory).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Dict, Unicode
from traitlets.config import Config


class ExplicitKernelManager(AsyncKernelManager):
    """Launches its kernel with the environment and working directory set in its config (`launch_env`,
    `launch_cwd`) instead of copying this process's."""

    launch_env = Dict(config=True, help="the kernel's whole environment")
    launch_cwd = Unicode(config=True, help="the kernel's working directory")

    async def start_kernel(self, **kw: Any) -> None:
        await super().start_kernel(**{**kw, "env": dict(self.launch_env), "cwd": self.launch_cwd})


def execute_notebook(notebook: Path, output: Path, parameters: Mapping[str, Any], *, cwd: Path,
                     env: Mapping[str, str] | None = None, kernel_name: str = "python3") -> None:
    """Run `notebook` with `parameters` into `output` in a new kernel started in `cwd` with environment `env`
    (default: a copy of this process's). Raises what papermill raises (`PapermillExecutionError` for a failing
    cell, `DeadKernelError` when the kernel dies)."""
    import papermill as pm

    launch = {"launch_env": dict(os.environ if env is None else env), "launch_cwd": str(cwd)}
    pm.execute_notebook(str(notebook), str(output), parameters=dict(parameters), kernel_name=kernel_name,
                        progress_bar=False, kernel_manager_class=ExplicitKernelManager,
                        config=Config({ExplicitKernelManager.__name__: launch}))
