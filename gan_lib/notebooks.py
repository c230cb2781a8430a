"""Execute a notebook with papermill in a kernel of its own.

The kernel's environment and working directory are given explicitly and handed to the kernel at launch, so runs
executed side by side (threads of the local executor, Ray workers) never change or share the process's
`os.environ` or working directory (papermill's own `cwd=` changes the whole process's directory).

Every execution has a per-cell time limit (papermill's `execution_timeout`): a kernel that stalls (a cell that
never returns, a lost reply) fails within it as a `NotebookTimeout` naming the notebook and the cell.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Dict, Unicode
from traitlets.config import Config

from gan_lib.errors import UserError


class NotebookTimeout(UserError):
    """A notebook cell ran past its time limit."""


class ExplicitKernelManager(AsyncKernelManager):
    """Launches its kernel with the environment and working directory set in its config (`launch_env`,
    `launch_cwd`) instead of copying this process's."""

    launch_env = Dict(config=True, help="the kernel's whole environment")
    launch_cwd = Unicode(config=True, help="the kernel's working directory")

    async def start_kernel(self, **kw: Any) -> None:
        await super().start_kernel(**{**kw, "env": dict(self.launch_env), "cwd": self.launch_cwd})


def execute_notebook(notebook: Path, output: Path, parameters: Mapping[str, Any], *, cell_timeout: float,
                     cwd: Path, env: Mapping[str, str] | None = None, kernel_name: str = "python3") -> None:
    """Run `notebook` with `parameters` into `output` in a new kernel started in `cwd` with environment `env`
    (default: a copy of this process's), each cell allowed `cell_timeout` seconds. Raises `NotebookTimeout` for a
    cell past its limit, else what papermill raises (`PapermillExecutionError` for a failing cell, `DeadKernelError`
    when the kernel dies)."""
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError

    launch = {"launch_env": dict(os.environ if env is None else env), "launch_cwd": str(cwd)}
    try:
        pm.execute_notebook(str(notebook), str(output), parameters=dict(parameters), kernel_name=kernel_name,
                            progress_bar=False, kernel_manager_class=ExplicitKernelManager,
                            execution_timeout=cell_timeout, config=Config({ExplicitKernelManager.__name__: launch}))
    except CellTimeoutError:
        raise NotebookTimeout(f"{notebook.name}: {_running_cell(output)} ran past its {cell_timeout:g} s limit "
                              f"(stalled kernel?); the executed notebook so far is {output}") from None


def _running_cell(output: Path) -> str:
    """'cell N (`first line`)' for the last cell papermill started in `output` (N counts the notebook's cells as
    written, papermill's injected parameters cell not counted)."""
    import nbformat

    cells = [c for c in nbformat.read(str(output), as_version=4).cells
             if "injected-parameters" not in c.metadata.get("tags", [])]
    started = [i for i, c in enumerate(cells) if c.metadata.get("papermill", {}).get("start_time")]
    if not started:
        return "a cell"
    first = next((line for line in cells[started[-1]].source.splitlines() if line.strip()), "")
    return f"cell {started[-1] + 1} (`{first.strip()[:60]}`)"
