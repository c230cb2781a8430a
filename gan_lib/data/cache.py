"""The on-disk cache of prepared datasets: `cache_dir()/datasets/NAME/Rpx/{manifest.json, images-SHA.npz}`.

The array file is named by its sha256 and written first; `manifest.json`, which names it, is replaced last. Both go
through a temporary file in the same folder and `os.replace` (as StyleGAN2-ADA writes its outputs), so a crash or a
failed re-prepare leaves the previous manifest pointing at its complete array file. The .npz is uncompressed with
fixed timestamps: equal arrays give byte-identical files and loading is one `np.load` without decoding.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from gan_lib.data.downloads import file_digest
from gan_lib.files import write_json
from gan_lib.paths import cache_dir

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1


def datasets_dir() -> Path:
    """`cache_dir()/datasets`, created on first use."""
    path = cache_dir() / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def folder(name: str, resolution: int) -> Path:
    """Where dataset `name` at `resolution` px is cached (not created)."""
    return datasets_dir() / name / f"{resolution}px"


def _write_npz(f: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)


def write_arrays(where: Path, images: np.ndarray, labels: np.ndarray) -> tuple[str, str]:
    """Write `images-SHA.npz` into `where`; returns (file name, sha256 of the file)."""
    where.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=where, prefix=".images.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, {"images": images, "labels": labels})
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        sha = file_digest(Path(tmp))
        name = f"images-{sha[:16]}.npz"
        os.replace(tmp, where / name)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return name, sha


def commit(where: Path, manifest: dict) -> None:
    """Replace `manifest.json` (the commit point), then delete array files it no longer names."""
    manifest.setdefault("format", MANIFEST_FORMAT)
    write_json(where / "manifest.json", manifest)
    for old in where.glob("images-*.npz"):
        if old.name != manifest["array_file"]:
            old.unlink(missing_ok=True)


def read(name: str, resolution: int) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """(images, labels, manifest) from the cache, or None when absent or unreadable (logged)."""
    where = folder(name, resolution)
    manifest_path = where / "manifest.json"
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"manifest format {manifest.get('format')}")
        with np.load(where / manifest["array_file"], allow_pickle=False) as npz:
            images, labels = npz["images"], npz["labels"].astype(np.int64)
        n = manifest["count"]
        if images.shape != (n, resolution, resolution, 3) or images.dtype != np.uint8 or labels.shape != (n,):
            raise ValueError(f"arrays {images.shape} {labels.shape} do not match the manifest")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        log.warning("ignoring the broken cache in %s (%s)", where, err)
        return None
    return images, labels, manifest


def read_manifest(name: str, resolution: int) -> dict | None:
    """The prepared set's manifest (without loading its arrays), or None when absent or unreadable."""
    try:
        manifest = json.loads((folder(name, resolution) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("format") == MANIFEST_FORMAT and "count" in manifest else None


def prepared_resolutions(name: str, resolutions: tuple[int, ...]) -> list[int]:
    return [r for r in resolutions if (folder(name, r) / "manifest.json").is_file()]


def custom_sources() -> dict[str, str]:
    """Registered custom datasets: name -> the folder or zip they were imported from."""
    path = datasets_dir() / "custom.json"
    try:
        return {n: e["source"] for n, e in json.loads(path.read_text()).items()} if path.is_file() else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        log.warning("%s is unreadable; custom datasets are forgotten until prepared again", path)
        return {}


def register_custom(name: str, source: str) -> None:
    path = datasets_dir() / "custom.json"
    registry = {n: {"source": s} for n, s in custom_sources().items()}
    registry[name] = {"source": source}
    write_json(path, registry)
