"""Fetch the released BigGAN-PyTorch 128x128 ImageNet checkpoint (Brock et al. 2018, ajbrock/BigGAN-PyTorch: the
"138k" checkpoint that MineGAN, Wang et al. 2019, fine-tunes) into the folder the `paper` preset transfers from.

    python -m gan_lib.models.fetch biggan-128 [--sha256 HEX] [--from ZIP] [--url URL] [--dest DIR] [--force]

The archive is downloaded over HTTP into `cache_dir()/downloads/<archive>.part` with Range requests, so an
interrupted download resumes where it stopped; tqdm shows the progress. Its sha256 is checked against the pinned
digest (or `--sha256`). G_ema.pth, D.pth (and G.pth) are then copied into a temporary folder beside the
destination, `config.json` is written from the known architecture, the folder is loaded once (every tensor's name
and shape checked against that architecture) and only then renamed into place: a failed fetch leaves the
destination absent or as it was.

No digest of the release is published (BigGAN-PyTorch's README only links the Google Drive file), so
`BIGGAN_128.sha256` is None until someone who downloads it pins it: until then the digest of what was downloaded
is printed, recorded in `SOURCE.json`, and checked only when passed with `--sha256`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tqdm import tqdm

from gan_lib.config import PRESETS
from gan_lib.data.downloads import downloads_dir, file_digest
from gan_lib.errors import UserError, cli_errors
from gan_lib.files import atomic_write_bytes
from gan_lib.paths import REPO_ROOT

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
SOURCE_FILE = "SOURCE.json"  # where an installed checkpoint came from: URL or file, sha256, whether it was checked


@dataclass(frozen=True)
class Release:
    """A BigGAN-PyTorch checkpoint archive: where it is, its digest, and the options it was trained with."""

    name: str
    urls: tuple[str, ...]
    archive: str                 # file name of the archive (the download's name in the cache)
    sha256: str | None           # None: no published digest (see the module docstring)
    config: dict[str, Any]       # BigGAN-PyTorch option names, as `gan_lib.models.pretrained` reads them
    page: str = ""               # where a person can download it by hand
    required: tuple[str, ...] = ("G_ema.pth", "D.pth")
    optional: tuple[str, ...] = ("G.pth",)


_DRIVE_ID = "1nAle7FCVFZdix2--ks0r5JBkFnKw8ctW"  # the "main checkpoint" link of BigGAN-PyTorch's README
BIGGAN_128 = Release(
    name="biggan-128",
    urls=(f"https://drive.usercontent.google.com/download?id={_DRIVE_ID}&export=download&confirm=t",
          f"https://drive.google.com/uc?export=download&id={_DRIVE_ID}&confirm=t"),
    archive="BigGAN_ch96_bs256x8_138k.zip",
    sha256=None,
    page=f"https://drive.google.com/open?id={_DRIVE_ID}",
    config={"resolution": 128, "G_ch": 96, "D_ch": 96, "G_attn": "64", "D_attn": "64", "hier": True, "dim_z": 120,
            "shared_dim": 128, "n_classes": 1000, "G_shared": True, "G_nl": "relu", "D_nl": "relu",
            "SN_eps": 1e-6, "BN_eps": 1e-5, "D_wide": True},
)
RELEASES = {BIGGAN_128.name: BIGGAN_128}


def default_dest(release: Release) -> Path:
    """Where the `paper` preset looks for `biggan-128`; `pretrained/<name>` for any other release."""
    source = PRESETS["paper"]["transfer_source"]
    return REPO_ROOT / (source if Path(source).name == release.name else f"pretrained/{release.name}")


def is_installed(dest: Path) -> bool:
    return (dest / "config.json").is_file() and (dest / "G_ema.pth").is_file() and (dest / "D.pth").is_file()


def download_resumable(url: str, part: Path, *, progress: bool = True, timeout: float = 60) -> None:
    """Download `url` into `part`, continuing a partial file with a Range request (starting over when the server
    ignores the range). Raises OSError when the connection ends early (the bytes so far stay for the next try)
    and ValueError when the server answers with a web page instead of the file."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to send: the part file is already whole
            return
        raise
    with response:
        if response.headers.get("Content-Type", "").startswith("text/html"):
            raise ValueError("the server sent a web page, not the archive (Google Drive does this when its "
                             "download quota is exceeded or it asks for a confirmation)")
        resumed = have > 0 and response.status == 206
        start = have if resumed else 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        with open(part, "ab" if resumed else "wb") as out, \
                tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=part.name,
                     disable=not progress) as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size < total:
        raise OSError(f"the connection closed after {size:,} of {total:,} bytes")


def download_archive(release: Release, urls: tuple[str, ...], *, progress: bool = True) -> Path:
    """The complete archive in the download cache (`<archive>.part` until it is whole), from the first URL
    that delivers it. A UserError names the last failure and says how to resume or download by hand."""
    part = downloads_dir() / f"{release.archive}.part"
    errors = []
    for url in urls:
        try:
            log.info("downloading %s%s", url, f" (resuming at {part.stat().st_size:,} bytes)" if part.exists() else "")
            download_resumable(url, part, progress=progress)
            return part
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
            errors.append(" ".join(f"{url}: {type(err).__name__}: {err}".split()))
            log.warning("download failed: %s", errors[-1])
    kept = f"{part.stat().st_size:,} bytes kept in {part}; run the same command again to resume" \
        if part.exists() and part.stat().st_size else "nothing kept"
    raise UserError(f"could not download {release.archive} ({errors[-1] if errors else 'no URL'}; {kept}); or "
                    f"download it by hand from {release.page or urls[0]} and pass it with --from")


def check_digest(path: Path, expected: str | None, *, delete_bad: bool) -> str:
    """The archive's sha256, checked against `expected` when one is given (a mismatch deletes a downloaded
    file when `delete_bad`, so the next try starts over, and raises a UserError)."""
    actual = file_digest(path)
    if expected is not None and actual != expected.lower():
        if delete_bad:
            path.unlink()
        what = "deleted it; run the command again to download it anew" if delete_bad else "nothing was installed"
        raise UserError(f"{path.name} has sha256 {actual}, not the expected {expected.lower()}; {what}")
    return actual


def _members(archive: zipfile.ZipFile, release: Release) -> dict[str, zipfile.ZipInfo]:
    """The archive's checkpoint files by base name (in whatever folder the release keeps them)."""
    found: dict[str, list[zipfile.ZipInfo]] = {}
    for info in archive.infolist():
        name = PurePosixPath(info.filename).name
        if not info.is_dir() and name in release.required + release.optional:
            found.setdefault(name, []).append(info)
    missing = [n for n in release.required if n not in found]
    if missing:
        raise UserError(f"the archive holds no {', '.join(missing)}; is it the {release.name} release?")
    ambiguous = [n for n, infos in found.items() if len(infos) > 1]
    if ambiguous:
        raise UserError(f"the archive holds {ambiguous[0]} {len(found[ambiguous[0]])} times; unpack the one you "
                        f"want by hand")
    return {n: infos[0] for n, infos in found.items()}


def install(archive_path: Path, release: Release, dest: Path, provenance: dict[str, Any]) -> Path:
    """Unpack the checkpoint files of `archive_path` and write `config.json` into a temporary folder beside
    `dest`, load it (names and shapes checked), then move it to `dest` (replacing an older install)."""
    from gan_lib.models.pretrained import load_biggan_pytorch

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.new-"))
    try:
        try:
            with zipfile.ZipFile(archive_path) as archive:
                for name, info in _members(archive, release).items():
                    with archive.open(info) as src, open(tmp / name, "wb") as out:
                        shutil.copyfileobj(src, out, _CHUNK)
        except (zipfile.BadZipFile, EOFError) as err:
            raise UserError(f"{archive_path} is not a readable zip ({err})") from None
        atomic_write_bytes(tmp / "config.json", json.dumps(release.config, indent=1).encode())
        atomic_write_bytes(tmp / SOURCE_FILE, json.dumps({"release": release.name, **provenance}, indent=1).encode())
        load_biggan_pytorch(tmp)  # every tensor name and shape against the architecture in config.json
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def fetch(release: Release = BIGGAN_128, dest: str | Path | None = None, *, sha256: str | None = None,
          archive: str | Path | None = None, urls: tuple[str, ...] | None = None, force: bool = False,
          progress: bool = True) -> Path:
    """Download (or take `archive`), verify and install `release` into `dest` (default: where the `paper`
    preset looks). Returns `dest`; an existing install is kept unless `force`."""
    dest = Path(dest) if dest is not None else default_dest(release)
    if is_installed(dest) and not force:
        log.info("%s is already installed in %s (pass --force to replace it)", release.name, dest)
        return dest
    if dest.exists() and not force and any(dest.iterdir()):
        raise UserError(f"{dest} exists but is not a complete checkpoint folder (config.json, G_ema.pth, D.pth); "
                        f"move it away or pass --force to replace it")
    expected = sha256 or release.sha256
    if archive is not None:
        path = Path(archive).expanduser()
        if not path.is_file():
            raise UserError(f"{path} does not exist; pass the downloaded {release.archive} with --from")
        digest = check_digest(path, expected, delete_bad=False)
        where = {"file": str(path.resolve())}
    else:
        path = download_archive(release, urls or release.urls, progress=progress)
        digest = check_digest(path, expected, delete_bad=True)
        where = {"urls": list(urls or release.urls)}
    if expected is None:
        log.warning("no sha256 is pinned for %s (none is published): the archive's is %s. Pass --sha256 %s to "
                    "check later downloads, or pin it as %s.sha256 in gan_lib/fetch.py", release.archive, digest,
                    digest, release.name.upper().replace("-", "_"))
    try:
        install(path, release, dest, {**where, "sha256": digest, "sha256_checked": expected is not None})
    except UserError as err:
        if archive is None:  # a bad download would otherwise be found whole and reused by every retry
            path.unlink()
            raise UserError(f"{err}; deleted the download, run the command again to fetch it anew") from None
        raise
    if archive is None:
        path.unlink()  # the archive also holds optimizer states the study does not need
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_lib.models.fetch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(RELEASES), help="which release")
    parser.add_argument("--dest", type=Path, help="folder to install into (default: where the paper preset looks)")
    parser.add_argument("--sha256", help="expected sha256 of the archive (overrides the pinned one)")
    parser.add_argument("--from", dest="archive", type=Path, help="an archive downloaded by hand")
    parser.add_argument("--url", action="append", help="download from this URL instead (repeatable)")
    parser.add_argument("--force", action="store_true", help="replace an existing install")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return _run(parser.parse_args(argv))


@cli_errors
def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    dest = fetch(RELEASES[args.name], args.dest, sha256=args.sha256, archive=args.archive,
                 urls=tuple(args.url) if args.url else None, force=args.force, progress=not args.quiet)
    print(f"{args.name}: installed in {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
