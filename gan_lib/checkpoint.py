"""Atomic files and crash-safe checkpoints.

A checkpoint is written to a temporary file in the same folder, flushed to disk, and moved into place with
`os.replace`, so `checkpoint.pt` is always a complete file. The previous one is kept as `checkpoint.prev.pt`;
`load_latest` falls back to it when the newest cannot be read.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any

import torch

from gan_lib.errors import UserError
from gan_lib.files import atomic_write_bytes

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
PREVIOUS = "checkpoint.prev.pt"
FORMAT = "gan_lib.checkpoint/1"


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
    """Load one checkpoint file; a truncated, corrupt or foreign file raises `UserError` naming it."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # zip, pickle and EOF errors all mean the same thing here
        raise UserError(f"{path} is corrupt or truncated ({type(err).__name__}); delete it to start over") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path} is not a gan_lib checkpoint")
    return state


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
