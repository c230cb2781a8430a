"""Atomic files and crash-safe checkpoints.

A checkpoint is written to a temporary file in the same folder, flushed to disk, and moved into place with
`os.replace`, so `checkpoint.pt` is always a complete file. The previous one is kept as `checkpoint.prev.pt`;
`load_latest` falls back to it when the newest cannot be read.

Loading runs no code: files are read with `torch.load(weights_only=True)`, which accepts tensors (random generator
states included), numbers, strings and containers, and refuses any other pickled object. A checkpoint that holds
one (someone's shared run folder, or an old file with numpy scalars) is refused with one line; a trusted old file
converts with `python -m gan_lib.checkpoint convert PATH`.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import re
import sys
from pathlib import Path
from typing import Any

import torch

from gan_lib.errors import UserError, cli_errors
from gan_lib.files import atomic_write_bytes

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
PREVIOUS = "checkpoint.prev.pt"
WEIGHTS = "weights.pt"  # a finished run's exported weights: what transfer and sampling need, no optimizer state
FORMAT = "gan_lib.checkpoint/1"
# How torch's weights-only unpickler names an object it refuses ("Unsupported global: GLOBAL numpy.dtype",
# "unsupported GLOBAL posix.system whose module posix is blocked").
_REFUSED = re.compile(r"unsupported global:?\s+(?:GLOBAL\s+)?([\w.]+)", re.IGNORECASE)


def save_checkpoint(run_dir: str | Path, state: dict[str, Any]) -> Path:
    """Write `state` as the run's newest checkpoint, keeping the one before as `checkpoint.prev.pt`."""
    run_dir = Path(run_dir)
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    tmp = atomic_write_bytes(run_dir / f".{CHECKPOINT}.new", buffer.getvalue())
    if (run_dir / CHECKPOINT).exists():
        os.replace(run_dir / CHECKPOINT, run_dir / PREVIOUS)
    os.replace(tmp, run_dir / CHECKPOINT)
    return run_dir / CHECKPOINT


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load one checkpoint file without running code; a truncated, corrupt, foreign or code-carrying file raises
    `UserError` naming it."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not _REFUSED.search(str(err)):  # not a valid pickle at all
            raise UserError(f"{path} is corrupt or truncated (UnpicklingError); delete it to start over") from None
        raise UserError(f"{path} holds pickled objects other than tensors and plain values ({_refused_global(err)}), "
                        f"which could run code when loaded: refused; if you trust its source, convert it with "
                        f"`python -m gan_lib.checkpoint convert {path}`") from None
    except Exception as err:  # zip and EOF errors mean the same thing here
        raise UserError(f"{path} is corrupt or truncated ({type(err).__name__}); delete it to start over") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path} is not a gan_lib checkpoint")
    return state


def _refused_global(err: Exception) -> str:
    """The `module.name` torch's weights-only unpickler refused, as its message names it."""
    found = _REFUSED.search(str(err))
    return found.group(1) if found else "an object it does not allow"


def convert_checkpoint(path: str | Path) -> Path:
    """Rewrite a trusted checkpoint so it loads with `weights_only=True`: numpy scalars and arrays become Python
    numbers and tensors. Loads the file once with full pickle, so only for files from a trusted source."""
    import numpy as np

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(plain(v) for v in value)
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return torch.from_numpy(value)
        return value

    path = Path(path)
    state = plain(torch.load(path, map_location="cpu", weights_only=False))
    buffer = io.BytesIO()
    torch.save(state, buffer)
    try:
        torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    except pickle.UnpicklingError as err:
        raise UserError(f"{path} holds objects other than numpy values ({_refused_global(err)}): not converted, "
                        f"the file is unchanged") from None
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_latest(run_dir: str | Path) -> dict[str, Any] | None:
    """The newest readable checkpoint of a run (falling back to the previous one), or None if there is none."""
    run_dir = Path(run_dir)
    # A complete `.new` file exists only if a save stopped between its two renames: it is then the newest.
    names = (f".{CHECKPOINT}.new", CHECKPOINT, PREVIOUS)
    candidates = [run_dir / n for n in names if (run_dir / n).exists()]
    errors = []
    for path in candidates:
        try:
            state = read_checkpoint(path)
        except UserError as err:
            log.warning("%s; trying an older checkpoint", err)
            errors.append(str(err))
            continue
        if path.name == PREVIOUS:
            log.warning("using %s because the newest checkpoint could not be read", path.name)
        return state
    if errors:
        raise UserError(f"no readable checkpoint in {run_dir}: {errors[0]}")
    return None


def exported_weights(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's exported `weights.pt`, or None if there is none."""
    path = Path(run_dir) / WEIGHTS
    return read_checkpoint(path) if path.exists() else None


def trained_weights(run_dir: str | Path) -> dict[str, Any] | None:
    """The newest checkpoint of a run, else its exported `weights.pt`, else None."""
    state = load_latest(run_dir)
    return state if state is not None else exported_weights(run_dir)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "convert":
        raise UserError("usage: python -m gan_lib.checkpoint convert PATH (a checkpoint from a source you trust)")
    print(f"converted {convert_checkpoint(args[1])}: it now loads without running code")
    return 0


if __name__ == "__main__":
    main()
