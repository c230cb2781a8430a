"""Raw downloads for the data layer: npm tarballs (`npm pack`) and zip archives over HTTP, cached once.

Everything lands in `cache_dir()/downloads/` through a temporary file in the same folder and `os.replace`, so an
interrupted download or a failed `npm pack` never leaves a file that a later run would mistake for a good one.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from filelock import FileLock

from gan_lib.errors import UserError
from gan_lib.paths import cache_dir

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def downloads_dir() -> Path:
    """`cache_dir()/downloads`, created on first use."""
    path = cache_dir() / "downloads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def npm_tarball_name(package: str, version: str) -> str:
    """The file name `npm pack` gives a package: `@scope/name` -> `scope-name-VERSION.tgz`."""
    return f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"


def check_tarball(path: Path, package: str, version: str, sha1: str) -> Path:
    """Raise a UserError unless `path` is the published tarball of package@version (npm's sha1 `shasum`)."""
    if not path.is_file():
        raise UserError(f"{path} does not exist; pass the {package}@{version} tarball made by `npm pack`")
    if file_digest(path, "sha1") != sha1:
        raise UserError(f"{path} is not the published {package}@{version} tarball (sha1 differs); "
                        f"fetch it again with `npm pack {package}@{version}`")
    return path


def _npm_reason(proc: subprocess.CompletedProcess) -> str:
    """npm's error code and the fetch error, from its multi-line stderr."""
    msgs = [re.sub(r"^npm (error|ERR!)\s*", "", ln).strip() for ln in (proc.stderr or "").splitlines()]
    code = next((m for m in msgs if m.startswith("code ")), "")
    detail = next((m for m in msgs if "Error" in m or "404" in m), "")
    return " ".join(": ".join(x for x in (code, detail) if x).split())[:240] or f"exit code {proc.returncode}"


def npm_tarball(package: str, version: str, sha1: str) -> Path:
    """The cached tarball of package@version, fetched with `npm pack` on first use and checked against `sha1`."""
    dest = downloads_dir() / npm_tarball_name(package, version)
    spec = f"{package}@{version}"
    manual = (f"run `npm pack {spec}` on a machine with npm and network, then put the file at {dest} "
              f"(or pass it with --from)")
    with FileLock(str(dest) + ".lock"):
        if dest.is_file():
            if file_digest(dest, "sha1") == sha1:
                return dest
            log.warning("%s does not match the published %s; fetching it again", dest, spec)
        npm = shutil.which("npm")
        if npm is None:
            raise UserError(f"npm was not found, and {spec} is needed: install Node.js/npm, or {manual}")
        log.info("fetching %s with npm pack", spec)
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".npm-pack-") as tmp:
            try:
                proc = subprocess.run([npm, "pack", spec, "--loglevel=error", "--fetch-retries=1",
                                       "--fetch-timeout=120000"], cwd=tmp,
                                      capture_output=True, text=True, timeout=900)
            except subprocess.TimeoutExpired:
                raise UserError(f"`npm pack {spec}` timed out; check the network, or {manual}") from None
            packed = Path(tmp) / dest.name
            if proc.returncode != 0 or not packed.is_file():
                raise UserError(f"`npm pack {spec}` failed ({_npm_reason(proc)}); check the network, or {manual}")
            check_tarball(packed, package, version, sha1)
            os.replace(packed, dest)
    return dest


def download(urls: list[str], dest_name: str, validate: Callable[[Path], None], manual: str) -> Path:
    """Download the first of `urls` that works to `downloads_dir()/dest_name` (reused when already there).

    Each try streams into a hidden temporary file that is checked by `validate` (raises ValueError or OSError
    when the file is bad) and only then renamed into place. When every URL fails: a UserError ending in `manual`.
    """
    dest = downloads_dir() / dest_name
    with FileLock(str(dest) + ".lock"):
        if dest.is_file():
            return dest
        errors = []
        for url in urls:
            fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest_name}.", suffix=".part")
            tmp = Path(tmp_name)
            try:
                log.info("downloading %s", url)
                with os.fdopen(fd, "wb") as out:
                    resp = urllib.request.urlopen(url, timeout=60)
                    try:
                        expected = resp.headers.get("Content-Length") if getattr(resp, "headers", None) else None
                        size = 0
                        for chunk in iter(lambda: resp.read(_CHUNK), b""):
                            out.write(chunk)
                            size += len(chunk)
                    finally:
                        resp.close()
                if expected is not None and size != int(expected):
                    raise OSError(f"got {size} of {expected} bytes")
                validate(tmp)
                os.replace(tmp, dest)
                return dest
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
                errors.append(" ".join(f"{url}: {type(err).__name__}: {err}".split()))
                log.debug("download failed: %s", errors[-1])
            finally:
                tmp.unlink(missing_ok=True)
        raise UserError(f"could not download {dest_name} ({errors[-1] if errors else 'no URL'}); {manual}")
