"""Preparing datasets into the uint8 cache and loading them back (as StyleGAN2-ADA's `dataset_tool.py` prepares
images once): decode, normalise, deduplicate, cache; then one `np.load` per run.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
from filelock import FileLock
from tqdm import tqdm

from gan_lib.data import cache
from gan_lib.data.decode import DECODE_ERRORS, as_uint8, center_crop_square, pixel_hash, resize_square, to_rgb_on_white
from gan_lib.data.imageset import ImageSet
from gan_lib.data.listings import Listing
from gan_lib.data.registry import DATASETS, NAME_RE, DatasetSpec, custom_spec
from gan_lib.errors import UserError

log = logging.getLogger(__name__)

RESOLUTIONS = (16, 32, 64, 128, 256)


def _all_specs() -> dict[str, DatasetSpec]:
    customs = {n: custom_spec(n, src) for n, src in cache.custom_sources().items() if n not in DATASETS}
    return {**DATASETS, **customs}


def _spec(name: str, source: str | Path | None = None) -> DatasetSpec:
    specs = _all_specs()
    if name in specs:
        return specs[name]
    if source is None:
        raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(specs)} "
                        f"or import a folder or zip with `prepare {name} --from PATH`")
    if not NAME_RE.match(name):
        raise UserError(f"dataset name {name!r} is not allowed; use lowercase letters, digits, '.', '_' and '-'")
    return custom_spec(name, str(Path(source).expanduser().resolve()))


def _check_resolution(resolution: int) -> None:
    if resolution not in RESOLUTIONS:
        raise UserError(f"resolution {resolution} is not supported; use one of {', '.join(map(str, RESOLUTIONS))}")


def _load_cached(name: str, resolution: int) -> ImageSet | None:
    found = cache.read(name, resolution)
    if found is None:
        return None
    images, labels, manifest = found
    return ImageSet(name, resolution, images, labels, tuple(manifest["classes"]), manifest)


def _reason(err: BaseException) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())[:200]


def _build(spec: DatasetSpec, listing: Listing, resolution: int, progress: bool) -> dict:
    """Decode, normalise and deduplicate the listing's images; all of them, or `spec.draw` seeded ones."""
    refs = listing.refs
    order = np.arange(len(refs)) if spec.draw is None else np.random.default_rng(spec.seed).permutation(len(refs))
    target = len(refs) if spec.draw is None else spec.draw
    kept, skipped, upscaled = [], [], []
    first_of: dict[str, int] = {}
    duplicates: dict[int, list[str]] = {}
    bar = tqdm(total=target, desc=f"{spec.name} {resolution}px", unit="img", disable=None if progress else True)
    with bar:
        for i in order:
            if len(kept) == target:
                break
            ref = refs[i]
            try:
                rgb = to_rgb_on_white(listing.load(ref))
            except DECODE_ERRORS as err:
                skipped.append({"file": ref, "reason": _reason(err)})
                continue
            digest = pixel_hash(rgb)
            if digest in first_of:
                duplicates.setdefault(first_of[digest], [refs[first_of[digest]]]).append(ref)
                continue
            first_of[digest] = int(i)
            square = center_crop_square(rgb)
            if square.size[0] < resolution:
                upscaled.append(ref)
            kept.append((int(i), as_uint8(resize_square(square, resolution))))
            bar.update()
    where = listing.source
    if not kept:
        first = f" (first: {skipped[0]['file']}: {skipped[0]['reason']})" if skipped else ""
        raise UserError(f"no usable image in {where}: {len(skipped)} files could not be read{first}; "
                        f"pass a folder or zip of images")
    if len(kept) < target and spec.draw is not None:
        raise UserError(f"{spec.name} needs {spec.draw} usable images but {where} gave {len(kept)} "
                        f"({len(skipped)} unreadable, {sum(len(v) - 1 for v in duplicates.values())} duplicates)")
    kept.sort(key=lambda item: item[0])
    labels = np.array([listing.labels[i] if listing.labels else 0 for i, _ in kept], dtype=np.int64)
    warnings = []
    if skipped:
        warnings.append(f"skipped {len(skipped)} unreadable or rejected files (first: {skipped[0]['file']}: "
                        f"{skipped[0]['reason']})")
    if duplicates:
        warnings.append(f"{len(duplicates)} groups of duplicate images: kept the first of each, dropped "
                        f"{sum(len(v) - 1 for v in duplicates.values())}")
    if upscaled:
        warnings.append(f"{len(upscaled)} images smaller than {resolution} px were upscaled (first: {upscaled[0]})")
    return {"images": np.stack([a for _, a in kept]), "labels": labels, "files": [refs[i] for i, _ in kept],
            "skipped": skipped, "duplicates": list(duplicates.values()), "upscaled": upscaled, "warnings": warnings}


def _check_count(spec: DatasetSpec, built: dict, where: str, accept_count: bool) -> None:
    """An original set (`exact_count`) with another number of usable images is refused, or kept with a warning
    when `accept_count`: a 50-image zip is not the 100-shot set, and results on it are not comparable."""
    count = len(built["labels"])
    if not spec.exact_count or spec.expected_count is None or count == spec.expected_count:
        return
    problem = (f"{where} gave {count} usable images, not the {spec.expected_count} of the official {spec.name} "
               f"set ({len(built['skipped'])} unreadable, {sum(len(g) - 1 for g in built['duplicates'])} duplicates)")
    if not accept_count:
        raise UserError(f"{problem}; pass the official archive, or --accept-count to prepare it anyway "
                        f"(results on it are not comparable with the study's)")
    built["warnings"].append(f"{problem}; accepted with --accept-count")


def prepare(name: str, resolution: int = 128, source: str | Path | None = None, force: bool = False,
            *, progress: bool = False, accept_count: bool = False) -> ImageSet:
    """Prepare (or reuse) the cache of dataset `name` at `resolution` and return it.

    `source`: a local copy (official archive, folder, LMDB or npm tarball) for a registered name; for a new name,
    a folder or zip imported as a custom dataset. The cache is reused unless `force` or a different `source`.
    An original set with the wrong number of images raises a UserError unless `accept_count`.
    """
    _check_resolution(resolution)
    spec = _spec(name, source)
    arg = str(Path(source).expanduser().resolve()) if source is not None else spec.default_source
    folder = cache.folder(name, resolution)
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".lock")):
        cached = None if force else _load_cached(name, resolution)
        if cached is not None and (source is None or cached.manifest.get("source_arg") == arg):
            return cached
        start = time.perf_counter()
        log.info("preparing %s at %d px", name, resolution)
        listing = spec.listing(arg, resolution)
        try:
            built = _build(spec, listing, resolution, progress)
        finally:
            listing.close()
        _check_count(spec, built, listing.source, accept_count)
        classes = listing.classes or (name,)
        counts = np.bincount(built["labels"], minlength=len(classes))
        array_file, sha = cache.write_arrays(folder, built["images"], built["labels"])
        manifest = {
            "name": name, "resolution": resolution, "count": len(built["labels"]),
            "classes": list(classes), "class_counts": {c: int(k) for c, k in zip(classes, counts)},
            "role": spec.role, "stands_for": spec.stands_for, "source": listing.source, "source_arg": arg,
            "licence": spec.licence, "selection": spec.selection, "draw": spec.draw, "seed": spec.seed,
            "candidates": len(listing.refs),
            "array_file": array_file, "sha256": sha, "provenance": listing.provenance,
            "warnings": built["warnings"], "skipped": built["skipped"], "rejected_by_rule": listing.rejected,
            "duplicates": built["duplicates"], "upscaled": len(built["upscaled"]),
            "upscaled_files": built["upscaled"], "files": built["files"],
            "prepare_seconds": round(time.perf_counter() - start, 2),
        }
        cache.commit(folder, manifest)
    if spec.role == "custom":
        cache.register_custom(name, arg)
    for line in built["warnings"]:
        log.warning("%s: %s", name, line)
    return ImageSet(name, resolution, built["images"], built["labels"], tuple(classes), manifest)


def load_dataset(name: str, resolution: int, prepare_missing: bool = True) -> ImageSet:
    """Load a prepared dataset (one `np.load`); prepare it first when missing and `prepare_missing`."""
    _check_resolution(resolution)
    _spec(name)
    cached = _load_cached(name, resolution)
    if cached is not None:
        return cached
    if not prepare_missing:
        raise UserError(f"{name} is not prepared at {resolution} px; run "
                        f"`python -m gan_lib.data prepare {name} --resolution {resolution}`")
    return prepare(name, resolution)


def dataset_size(name: str, resolution: int) -> int:
    """Images in the dataset: the prepared set's count, else the registry's expected count. A `UserError` when
    neither is known (a custom dataset not yet prepared)."""
    _check_resolution(resolution)
    spec = _spec(name)
    manifest = cache.read_manifest(name, resolution)
    if manifest is not None:
        return int(manifest["count"])
    if spec.expected_count is None:
        raise UserError(f"the size of dataset {name!r} is not known until it is prepared: run `python -m gan_lib.data "
                        f"prepare {name} --resolution {resolution}` first, or give the length in steps")
    return spec.expected_count


def _prepared(name: str) -> list[int]:
    return cache.prepared_resolutions(name, RESOLUTIONS)


def dataset_info(name: str, resolution: int = 128) -> dict:
    """What `info` prints: the registry entry plus, when prepared, the manifest's count, classes and sha256."""
    spec = _spec(name)
    cached = _load_cached(name, resolution)
    manifest = cached.manifest if cached else {}
    return {"name": name, "role": spec.role, "stands_for": spec.stands_for, "resolution": resolution,
            "prepared": cached is not None, "prepared_resolutions": _prepared(name),
            "count": manifest.get("count", spec.expected_count),
            "classes": manifest.get("classes", list(spec.classes or (name,))),
            "class_counts": manifest.get("class_counts"), "source": spec.source, "licence": spec.licence,
            "selection": spec.selection, "draw": spec.draw, "seed": spec.seed,
            "candidates": manifest.get("candidates"), "subset": subset_note(spec, manifest),
            "sha256": manifest.get("sha256"), "warnings": manifest.get("warnings", []),
            "cache": str(cache.folder(name, resolution))}


def subset_note(spec: DatasetSpec, manifest: dict) -> str:
    """How the images were chosen, in a few words for a report: '1,000 of 3,033,042 drawn with seed 0'."""
    count = manifest.get("count", spec.expected_count)
    if spec.draw is None:
        return f"all {count:,} usable images" if count is not None else "all usable images"
    pool = f" of {manifest['candidates']:,}" if manifest.get("candidates") else ""
    return f"{spec.draw:,}{pool} drawn with seed {spec.seed}"


def list_datasets() -> list[dict]:
    """One dict per dataset: name, role, count, licence, prepared resolutions, whether it prepares offline."""
    rows = []
    for name, spec in _all_specs().items():
        prepared = _prepared(name)
        count = spec.expected_count
        if prepared:
            manifest = json.loads((cache.folder(name, prepared[0]) / "manifest.json").read_text())
            count = manifest.get("count", count)
        rows.append({"name": name, "role": spec.role, "stands_for": spec.stands_for, "count": count,
                     "draw": spec.draw, "seed": spec.seed, "licence": spec.licence, "prepared": prepared,
                     "offline": spec.offline})
    return rows
