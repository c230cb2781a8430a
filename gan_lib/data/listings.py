"""Where each dataset's images come from: a listing of candidate images per dataset and how to decode one.

Local copies: a folder, a zip or an LMDB export (LSUN style), at any depth. The originals of the study (Zhao et al.
2020 train on 100-shot Obama and on LSUN bedroom subsets): the 100-shot Obama zip and an LSUN LMDB export or image
folder. Anything else: a folder or zip of images. The offline stand-ins are in `gan_lib.data.emoji`; the far,
non-emoji target is the face photographs of Labeled Faces in the Wild (Huang et al. 2007) that scikit-image ships.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np
from PIL import Image

from gan_lib.data import downloads
from gan_lib.data.decode import decode
from gan_lib.errors import UserError

log = logging.getLogger(__name__)

OBAMA_URLS = ["https://data-efficient-gans.mit.edu/datasets/100-shot-obama.zip",
              "https://hanlab.mit.edu/projects/data-efficient-gans/datasets/100-shot-obama.zip"]
_IGNORED_NAMES = ("__MACOSX", "Thumbs.db", "desktop.ini")
SCIKIT_IMAGE_VERSION = "0.26.0"  # lfw-faces: the pin in pyproject.toml
LFW_FACES = 100  # skimage.data.lfw_subset(): its first 100 of 200 entries are faces, the others background crops


class Rejected(ValueError):
    """A candidate that decodes but fails the dataset's selection rule (reported like an unreadable file)."""


@dataclass
class Listing:
    """Candidate images of one dataset, in a fixed order, and how to decode each."""

    refs: list[str]                     # one per candidate: archive member, file, LMDB key or emoji codepoints
    load: Callable[[str], Image.Image]  # decodes one; raises one of DECODE_ERRORS (Rejected included)
    source: str                         # one line: what was read, with versions
    classes: tuple[str, ...] = ()       # () -> one class named after the dataset
    labels: list[int] | None = None     # class index per ref; None: all 0
    provenance: dict = field(default_factory=dict)   # digests of the files read
    rejected: list[dict] = field(default_factory=list)  # dropped by the selection rule before decoding
    close: Callable[[], None] = lambda: None


def _visible(rel: str) -> bool:
    return not any(p.startswith(".") or p in _IGNORED_NAMES for p in PurePosixPath(rel).parts)


def _subfolder_classes(names: list[str]) -> tuple[tuple[str, ...], list[int] | None]:
    """Class per first-level subfolder (below the folders all files share), when every file is in one."""
    parts = [PurePosixPath(n).parts for n in names]
    depth = 0
    while all(len(p) > depth + 1 and p[depth] == parts[0][depth] for p in parts):
        depth += 1
    firsts = [p[depth] if len(p) > depth + 1 else None for p in parts]
    if None in firsts or len(set(firsts)) < 2:
        return (), None
    classes = tuple(sorted(set(firsts)))
    return classes, [classes.index(f) for f in firsts]


def _is_lmdb(path: Path) -> bool:
    return path.is_dir() and (path / "data.mdb").is_file()


def lmdb_listing(path: Path) -> Listing:
    """An LMDB export (LSUN style): every key maps to one encoded image (webp, jpeg, png)."""
    try:
        import lmdb
    except ImportError:
        raise UserError("reading an LMDB export needs the lmdb package; run `pip install lmdb`") from None
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, max_readers=4)
    except lmdb.Error as err:
        raise UserError(f"{path} is not a readable LMDB database ({err}); pass the folder holding data.mdb") from None
    txn = env.begin()
    keys = list(txn.cursor().iternext(keys=True, values=False))
    odd = {}
    refs = []
    for key in keys:
        try:
            refs.append(key.decode("utf-8"))
        except UnicodeDecodeError:
            refs.append("hex:" + key.hex())
            odd[refs[-1]] = key

    def load(ref: str) -> Image.Image:
        value = txn.get(odd.get(ref) or ref.encode("utf-8"))
        if value is None:
            raise Rejected("key has no value")
        return decode(value)

    def close() -> None:
        txn.abort()
        env.close()

    return Listing(refs=refs, load=load, close=close, source=f"LMDB {path} ({len(refs)} entries)")


def local_listing(path: str | Path, class_per_subfolder: bool = False) -> Listing:
    """Every visible file of a folder, zip or LMDB export, at any depth (hidden files and __MACOSX ignored).

    Files that are not images are candidates too, so that they are reported as skipped instead of vanishing.
    With `class_per_subfolder`, files in >= 2 first-level subfolders get one class per subfolder.
    """
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise UserError(f"{path} does not exist; pass a folder or a zip of images with --from")
    if _is_lmdb(path) or path.name == "data.mdb":
        return lmdb_listing(path if path.is_dir() else path.parent)
    if path.is_dir():
        names = sorted(
            (Path(root) / f).relative_to(path).as_posix()
            for root, _, files in os.walk(path) for f in files
        )
        names = [n for n in names if _visible(n)]
        load = lambda ref: decode((path / ref).read_bytes())  # noqa: E731
        close = lambda: None  # noqa: E731
        kind = "folder"
    elif zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        names = sorted(i.filename for i in archive.infolist() if not i.is_dir() and _visible(i.filename))
        load = lambda ref: decode(archive.read(ref))  # noqa: E731
        close = archive.close
        kind = "zip"
    else:
        raise UserError(f"{path} is neither a folder, a zip nor an LMDB export; pass one of those with --from")
    if not names:
        close()
        raise UserError(f"{path} holds no files (hidden files and __MACOSX are ignored); "
                        f"pass a folder or zip with images in it")
    classes, labels = _subfolder_classes(names) if class_per_subfolder else ((), None)
    provenance = {path.name: downloads.file_digest(path)} if kind == "zip" else {}
    return Listing(refs=names, load=load, close=close, classes=classes, labels=labels, provenance=provenance,
                   source=f"{kind} {path} ({len(names)} files)")


def obama_listing(source: str | Path | None, resolution: int) -> Listing:
    """The 100-shot Obama zip (downloaded once into the cache) or a local copy of it or of its folder."""
    if source is None:
        def check_zip(p: Path) -> None:
            try:
                with zipfile.ZipFile(p) as z:
                    bad = z.testzip()
            except zipfile.BadZipFile as err:
                raise ValueError(f"not a valid zip ({err})") from None
            if bad is not None:
                raise ValueError(f"corrupt member {bad}")

        manual = (f"download {OBAMA_URLS[0]} by hand and run "
                  f"`python -m gan_lib.data prepare obama-100 --from PATH/100-shot-obama.zip`")
        source = downloads.download(OBAMA_URLS, "100-shot-obama.zip", check_zip, manual)
    return local_listing(source)


def lsun_listing(source: str | Path | None, resolution: int) -> Listing:
    """An LSUN bedroom LMDB export or image folder; never downloaded (tens of GB)."""
    if source is None:
        raise UserError("lsun-bedroom-1000 needs a local copy of LSUN bedroom (about 43 GB; see "
                        "https://github.com/fyu/lsun, `python download.py -c bedroom`): unzip it and run "
                        "`python -m gan_lib.data prepare lsun-bedroom-1000 --from PATH/bedroom_train_lmdb`")
    return local_listing(source)


def custom_listing(source: str | Path | None, resolution: int) -> Listing:
    """A user's folder or zip; one class per first-level subfolder when there are several, else one class."""
    if source is None:
        raise UserError("a custom dataset needs --from PATH (a folder or zip of images)")
    return local_listing(source, class_per_subfolder=True)


def lfw_listing(source: str | Path | None, resolution: int) -> Listing:
    """The 100 faces of scikit-image's LFW subset, 25x25 grayscale (`skimage.data.lfw_subset()`, entries 0-99).

    Read from the file that the scikit-image wheel ships; a scikit-image without it (which would download it)
    is refused, so preparing never touches the network.
    """
    if source is not None:
        raise UserError("lfw-faces reads the LFW subset that scikit-image ships and takes no --from; "
                        "run `python -m gan_lib.data prepare lfw-faces`")
    install = f"run `make setup`, or `pip install scikit-image=={SCIKIT_IMAGE_VERSION}`"
    try:
        from skimage import data as skdata
    except ImportError:
        raise UserError(f"the scikit-image package is missing (lfw-faces reads skimage.data.lfw_subset()); "
                        f"{install}") from None
    version = importlib.metadata.version("scikit-image")
    if version != SCIKIT_IMAGE_VERSION:
        log.warning("scikit-image %s is installed; the study pins %s", version, SCIKIT_IMAGE_VERSION)
    shipped = Path(skdata.__file__).with_name("lfw_subset.npy")
    if not shipped.is_file():
        raise UserError(f"scikit-image {version} does not ship {shipped} (lfw_subset() would download it); "
                        f"{install}")
    faces = skdata.lfw_subset()[:LFW_FACES]  # float in [0, 1]
    pixels = np.clip(np.rint(faces * 255.0), 0, 255).astype(np.uint8)
    by_ref = {f"lfw_subset[{i}]": face for i, face in enumerate(pixels)}
    return Listing(refs=list(by_ref), load=lambda ref: Image.fromarray(by_ref[ref]),
                   source=f"scikit-image {version} skimage.data.lfw_subset(), entries 0-{LFW_FACES - 1} of 200 "
                          f"(25x25 grayscale)",
                   provenance={shipped.name: downloads.file_digest(shipped)})
