"""Where the project keeps things: the data/feature cache (outside git) and the repository folders."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """The cache folder: `$GAN_LIB_CACHE`, else `~/.cache/gan_lib`. Created on first use."""
    path = Path(os.environ.get("GAN_LIB_CACHE") or Path.home() / ".cache" / "gan_lib")
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir() -> Path:
    """The results folder: `$GAN_LIB_RESULTS`, else `<repo>/results`."""
    return Path(os.environ.get("GAN_LIB_RESULTS") or REPO_ROOT / "results")
