"""The data layer: preparation, the cache, bad inputs, the originals on look-alike fixtures, the offline defaults."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_lib import data
from gan_lib.data import downloads, emoji, listings
from gan_lib.errors import UserError

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("GAN_LIB_CACHE", str(path))
    return path


def _solid(color, size=(32, 32), mode="RGB") -> Image.Image:
    return Image.new(mode, size, color)


def _encoded(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _unique_images(n: int, size: tuple[int, int], seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)) for _ in range(n)]


def _pixel(ds: data.ImageSet, file: str, row: int = 8) -> np.ndarray:
    return ds.images[ds.manifest["files"].index(file)][row, 8].astype(int)


# ----------------------------------------------------------------------------------------- modes, crop, resize
def test_every_mode_becomes_rgb_on_white(cache, tmp_path):
    src = tmp_path / "modes"
    src.mkdir()
    _solid(100, mode="L").save(src / "gray.png")
    Image.fromarray(np.full((32, 32), 40000, np.uint16)).save(src / "gray16.png")
    _solid((0, 255, 255, 0), mode="CMYK").save(src / "cmyk.tif")
    la = _solid((0, 0), mode="LA")
    la.paste((0, 255), (0, 16, 32, 32))
    la.save(src / "la.png")
    _solid((255, 0, 0, 128), mode="RGBA").save(src / "rgba.png")
    pal = Image.new("P", (32, 32), 0)
    pal.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    pal.paste(1, (0, 0, 32, 32))
    pal.save(src / "palette.png")
    pal_t = Image.new("P", (32, 32), 0)
    pal_t.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    pal_t.paste(1, (0, 16, 32, 32))
    pal_t.save(src / "palette_transparent.png", transparency=0)
    assert Image.open(src / "gray16.png").mode.startswith("I")

    ds = data.prepare("modes", 16, source=src)
    assert ds.images.shape == (7, 16, 16, 3) and ds.images.dtype == np.uint8
    assert ds.class_names == ("modes",) and set(ds.labels.tolist()) == {0}
    assert _pixel(ds, "gray.png").tolist() == [100, 100, 100]
    assert _pixel(ds, "gray16.png").tolist() == [156, 156, 156]
    assert _pixel(ds, "cmyk.tif").tolist() == [255, 0, 0]
    assert _pixel(ds, "la.png", 2).tolist() == [255, 255, 255] and _pixel(ds, "la.png", 13).tolist() == [0, 0, 0]
    assert np.abs(_pixel(ds, "rgba.png") - [255, 127, 127]).max() <= 1
    assert _pixel(ds, "palette.png").tolist() == [0, 0, 255]
    assert _pixel(ds, "palette_transparent.png", 2).tolist() == [255, 255, 255]
    assert _pixel(ds, "palette_transparent.png", 13).tolist() == [0, 0, 255]


def test_center_crop_and_upscale_warning(cache, tmp_path):
    src = tmp_path / "crop"
    src.mkdir()
    wide = Image.new("RGB", (96, 32), (255, 0, 0))
    wide.paste((0, 200, 0), (32, 0, 64, 32))
    wide.save(src / "wide.png")
    _solid((0, 0, 200), size=(8, 8)).save(src / "small.png")
    ds = data.prepare("crop", 16, source=src)
    assert (ds.images[ds.manifest["files"].index("wide.png")] == [0, 200, 0]).all()
    assert ds.manifest["upscaled"] == 1 and ds.manifest["upscaled_files"] == ["small.png"]
    assert any("upscaled" in w for w in ds.manifest["warnings"])


# -------------------------------------------------------------------------------------------------- bad inputs
def test_empty_folder_is_one_line_error(cache, tmp_path):
    (tmp_path / "empty" / ".git").mkdir(parents=True)
    (tmp_path / "empty" / ".DS_Store").write_bytes(b"x")
    with pytest.raises(UserError, match="holds no files") as err:
        data.prepare("empty", 16, source=tmp_path / "empty")
    assert "\n" not in str(err.value) and str(tmp_path / "empty") in str(err.value)
    assert not (cache / "datasets" / "empty" / "16px" / "manifest.json").exists()


def test_unreadable_files_are_skipped_and_counted(cache, tmp_path):
    src = tmp_path / "mixed"
    src.mkdir()
    _solid((10, 20, 30)).save(src / "good.png")
    (src / "notes.txt").write_text("not an image")
    (src / "fake.png").write_text("not a png either")
    jpeg = _encoded(_unique_images(1, (64, 64))[0], "JPEG")
    (src / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    ds = data.prepare("mixed", 16, source=src)
    assert len(ds) == 1 and ds.manifest["files"] == ["good.png"]
    assert sorted(s["file"] for s in ds.manifest["skipped"]) == ["fake.png", "notes.txt", "truncated.jpg"]
    assert any("skipped 3" in w for w in ds.manifest["warnings"])


def test_nothing_usable_fails_and_keeps_the_good_cache(cache, tmp_path):
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    for i, img in enumerate(_unique_images(3, (20, 20))):
        img.save(good / f"{i}.png")
    (bad / "a.png").write_bytes(b"garbage")
    first = data.prepare("mine", 16, source=good)
    with pytest.raises(UserError, match="no usable image"):
        data.prepare("mine", 16, source=bad, force=True)
    again = data.load_dataset("mine", 16, prepare_missing=False)
    assert again.manifest["sha256"] == first.manifest["sha256"] and len(again) == 3
    assert json.loads((cache / "datasets" / "custom.json").read_text())["mine"]["source"] == str(good.resolve())


def test_crash_while_writing_keeps_the_old_cache(cache, tmp_path, monkeypatch):
    from gan_lib.data import cache as dataset_cache

    src = tmp_path / "imgs"
    src.mkdir()
    for i, img in enumerate(_unique_images(3, (20, 20))):
        img.save(src / f"{i}.png")
    first = data.prepare("crashy", 16, source=src)

    def half_written(f, arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(dataset_cache, "_write_npz", half_written)
    with pytest.raises(KeyboardInterrupt):
        data.prepare("crashy", 16, force=True)
    folder = cache / "datasets" / "crashy" / "16px"
    assert sorted(p.name for p in folder.iterdir()) == [".lock", first.manifest["array_file"], "manifest.json"]
    assert data.load_dataset("crashy", 16, prepare_missing=False).manifest["sha256"] == first.manifest["sha256"]


def test_zip_with_nested_folders_hidden_files_and_classes(cache, tmp_path):
    archive = tmp_path / "pets.zip"
    imgs = _unique_images(4, (24, 24))
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pets/cats/deep/a.png", _encoded(imgs[0]))
        z.writestr("pets/cats/b.jpg", _encoded(imgs[1], "JPEG"))
        z.writestr("pets/dogs/c.png", _encoded(imgs[2]))
        z.writestr("pets/dogs/.hidden.png", _encoded(imgs[3]))
        z.writestr("__MACOSX/pets/dogs/._c.png", b"resource fork")
    ds = data.prepare("pets", 16, source=archive)
    assert ds.manifest["files"] == ["pets/cats/b.jpg", "pets/cats/deep/a.png", "pets/dogs/c.png"]
    assert ds.class_names == ("cats", "dogs") and ds.labels.tolist() == [0, 0, 1]
    assert ds.manifest["skipped"] == []
    # registered: loads at another resolution from the recorded source, and is listed
    assert data.load_dataset("pets", 32).images.shape == (3, 32, 32, 3)
    row = next(r for r in data.list_datasets() if r["name"] == "pets")
    assert row["role"] == "custom" and row["prepared"] == [16, 32]


def test_duplicates_are_kept_once_and_reported(cache, tmp_path):
    src = tmp_path / "dups"
    src.mkdir()
    img, other = _unique_images(2, (20, 20))
    img.save(src / "a.png")
    img.save(src / "b.bmp")
    other.save(src / "c.png")
    ds = data.prepare("dups", 16, source=src)
    assert ds.manifest["files"] == ["a.png", "c.png"]
    assert ds.manifest["duplicates"] == [["a.png", "b.bmp"]]
    assert any("duplicate" in w for w in ds.manifest["warnings"])


def test_unknown_names_and_resolutions(cache):
    with pytest.raises(UserError, match="openmoji"):
        data.load_dataset("nope", 16)
    with pytest.raises(UserError, match="not supported"):
        data.load_dataset("openmoji", 48)
    with pytest.raises(UserError, match="not allowed"):
        data.prepare("Bad Name", 16, source=".")
    with pytest.raises(UserError, match="not prepared"):
        data.load_dataset("fluent-faces", 16, prepare_missing=False)


def test_npm_missing_is_a_clear_error(cache, monkeypatch):
    monkeypatch.setattr(downloads.shutil, "which", lambda name: None)
    with pytest.raises(UserError, match="npm was not found.*npm pack"):
        data.prepare("fluent-faces", 16)


def test_npm_failure_and_wrong_tarball_are_clear_errors(cache, tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "npm"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'npm error code ENOTFOUND' >&2\necho 'npm error FetchError: no network' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(UserError, match="ENOTFOUND: FetchError: no network.*--from") as err:
        data.prepare("fluent-objects-1000", 16)
    assert "\n" not in str(err.value)
    assert [p.name for p in (cache / "downloads").iterdir() if not p.name.endswith(".lock")] == []
    wrong = tmp_path / "lobehub-fluent-emoji-3d-1.1.0.tgz"
    wrong.write_bytes(b"not the tarball")
    with pytest.raises(UserError, match="not the published"):
        data.prepare("fluent-faces", 16, source=wrong)


# ------------------------------------------------------------------------------- cache: determinism, subsets
def test_cache_is_reused_deterministic_and_subsets_are_seeded(cache, tmp_path, monkeypatch):
    src = tmp_path / "imgs"
    src.mkdir()
    for i, img in enumerate(_unique_images(10, (40, 30))):
        img.save(src / f"{i:02d}.png")
    first = data.prepare("imgs", 16, source=src)
    folder = cache / "datasets" / "imgs" / "16px"
    assert [p.name for p in folder.glob("images-*.npz")] == [first.manifest["array_file"]]
    monkeypatch.setattr(listings, "local_listing", lambda *a, **k: pytest.fail("cache not reused"))
    assert data.prepare("imgs", 16).manifest["sha256"] == first.manifest["sha256"]
    monkeypatch.undo()
    monkeypatch.setenv("GAN_LIB_CACHE", str(cache))
    rebuilt = data.prepare("imgs", 16, force=True)
    assert rebuilt.manifest["sha256"] == first.manifest["sha256"]  # byte-identical array file
    loaded = data.load_dataset("imgs", 16)
    np.testing.assert_array_equal(loaded.images, first.images)

    sub, same = loaded.subset(4, seed=1), loaded.subset(4, seed=1)
    assert len(sub) == 4 and sub.manifest["count"] == 4
    np.testing.assert_array_equal(sub.images, same.images)
    assert sub.manifest["sha256"] == same.manifest["sha256"] != loaded.manifest["sha256"]
    assert loaded.subset(4, seed=2).manifest["sha256"] != sub.manifest["sha256"]
    assert loaded.subset(0, seed=1) is loaded and loaded.subset(10, seed=1) is loaded


# ------------------------------------------------------------------------------------------- obama-100 (zip)
def _obama_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for i, img in enumerate(_unique_images(100, (256, 256))):
            z.writestr(f"100-shot-obama/img/{i:03d}.jpg", _encoded(img, "JPEG", quality=90))
    return path


def test_obama_from_local_zip(cache, tmp_path):
    ds = data.prepare("obama-100", 16, source=_obama_zip(tmp_path / "100-shot-obama.zip"))
    assert ds.images.shape == (100, 16, 16, 3) and ds.manifest["count"] == 100
    assert ds.manifest["upscaled"] == 0 and ds.manifest["files"][0] == "100-shot-obama/img/000.jpg"
    info = data.dataset_info("obama-100", 16)
    assert info["prepared"] and info["count"] == 100


def test_obama_with_the_wrong_count_is_refused_unless_accepted(cache, tmp_path, capsys):
    """A 50-image archive is not the 100-shot set: refused in one line, the prepared cache left as it was."""
    official = data.prepare("obama-100", 16, source=_obama_zip(tmp_path / "100-shot-obama.zip"))
    small = tmp_path / "small.zip"
    with zipfile.ZipFile(small, "w") as z:
        for i, img in enumerate(_unique_images(50, (64, 64))):
            z.writestr(f"obama/{i:03d}.png", _encoded(img))
    with pytest.raises(UserError, match=r"gave 50 usable images, not the 100 of the official obama-100 set.*"
                                        r"--accept-count") as err:
        data.prepare("obama-100", 16, source=small)
    assert "\n" not in str(err.value)
    assert data.load_dataset("obama-100", 16).manifest["sha256"] == official.manifest["sha256"]
    assert data.main(["prepare", "obama-100", "--resolution", "16", "--from", str(small), "--accept-count"]) == 0
    assert "obama-100: 50 images" in capsys.readouterr().out
    accepted = data.dataset_info("obama-100", 16)
    assert accepted["count"] == 50 and any("accepted with --accept-count" in w for w in accepted["warnings"])
    assert accepted["subset"] == "all 50 usable images"


class _Response:
    """What urlopen returns; raises after `fail_after` bytes when that is set."""

    def __init__(self, payload: bytes, fail_after: int | None = None):
        self.payload, self.pos, self.fail_after = payload, 0, fail_after
        self.headers = {"Content-Length": str(len(payload))}

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        stop = len(self.payload) if n < 0 else self.pos + n
        if self.fail_after is not None:
            stop = min(stop, self.fail_after)
        chunk, self.pos = self.payload[self.pos:stop], min(stop, len(self.payload))
        return chunk

    def close(self) -> None:
        pass


def test_obama_download_interrupted_leaves_no_cache(cache, tmp_path, monkeypatch):
    payload = _obama_zip(tmp_path / "o.zip").read_bytes()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: _Response(payload, 5000))
    with pytest.raises(UserError, match="--from") as err:
        data.prepare("obama-100", 16)
    assert "\n" not in str(err.value)
    assert [p.name for p in (cache / "downloads").iterdir() if not p.name.endswith(".lock")] == []
    assert not (cache / "datasets" / "obama-100" / "16px" / "manifest.json").exists()
    # once the network works, the same call downloads, checks and prepares
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: _Response(payload))
    assert len(data.prepare("obama-100", 16)) == 100
    assert (cache / "downloads" / "100-shot-obama.zip").read_bytes() == payload


def test_no_network_says_download_by_hand(cache, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(UserError, match="download https://.*by hand.*--from"):
        data.prepare("obama-100", 16)


# ---------------------------------------------------------------------------------- lsun-bedroom-1000 (LMDB)
def test_lsun_from_lmdb_draws_1000_seeded(cache, tmp_path):
    import lmdb

    db = tmp_path / "bedroom_train_lmdb"
    env = lmdb.open(str(db), map_size=1 << 26)
    with env.begin(write=True) as txn:
        for i, img in enumerate(_unique_images(1100, (32, 24))):
            txn.put(f"{i:040x}".encode(), _encoded(img, "WEBP" if i % 2 else "JPEG", quality=80))
        txn.put(b"\xff\xfe-broken", b"not an image")
    env.close()
    ds = data.prepare("lsun-bedroom-1000", 16, source=db)
    assert ds.images.shape == (1000, 16, 16, 3) and len(set(ds.manifest["files"])) == 1000
    assert ds.manifest["files"] == sorted(ds.manifest["files"])
    again = data.prepare("lsun-bedroom-1000", 16, source=db, force=True)
    assert again.manifest["sha256"] == ds.manifest["sha256"]
    info = data.dataset_info("lsun-bedroom-1000", 16)  # what the report shows about the subset
    assert (info["draw"], info["seed"], info["candidates"]) == (1000, 0, 1101)
    assert info["subset"] == "1,000 of 1,101 drawn with seed 0"


def test_lsun_without_source_says_where_to_get_it(cache):
    with pytest.raises(UserError, match="LSUN.*--from"):
        data.prepare("lsun-bedroom-1000", 16)


# ------------------------------------------------------------------------------------------------------ CLI
def _cli(*args: str, env_cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "GAN_LIB_CACHE": str(env_cache)}
    return subprocess.run([sys.executable, "-m", "gan_lib.data", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_bad_input_is_one_line_exit_2(cache, tmp_path):
    (tmp_path / "empty").mkdir()
    for args in (["prepare", "mine", "--from", str(tmp_path / "empty"), "--resolution", "16"],
                 ["info", "no-such-dataset"]):
        proc = _cli(*args, env_cache=cache)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr


def test_cli_prepare_list_info_sheet(cache, tmp_path, capsys):
    src = tmp_path / "cli"
    (src / "red").mkdir(parents=True)
    (src / "blue").mkdir()
    for i, img in enumerate(_unique_images(6, (20, 20))):
        img.save(src / ("red" if i % 2 else "blue") / f"{i}.png")
    assert data.main(["prepare", "cli", "--from", str(src), "--resolution", "16"]) == 0
    assert "cli: 6 images at 16 px, 2 classes" in capsys.readouterr().out
    data.main(["list"])
    table = capsys.readouterr().out
    assert "fluent-faces" in table and "cli" in table and "CC BY-SA 4.0" in table
    data.main(["info", "cli", "--resolution", "16"])
    info = json.loads(capsys.readouterr().out)
    assert info["count"] == 6 and info["classes"] == ["blue", "red"] and info["prepared"]
    assert {"resolution", "source", "licence"} <= set(info)
    out = tmp_path / "sheet.png"
    data.main(["sheet", "cli", "--resolution", "16", "--out", str(out)])
    assert Image.open(out).mode == "RGB" and Image.open(out).size[1] == 2 * 18 + 2


# --------------------------------------------------------------- the domains study's targets (fabricated npm)
_OPENMOJI_ENTRIES = [
    {"hexcode": "1F600", "group": "smileys-emotion", "subgroups": "face-smiling", "annotation": "grinning face"},
    {"hexcode": "263A", "group": "smileys-emotion", "subgroups": "face-affection", "annotation": "smiling face"},
    {"hexcode": "1F621", "group": "smileys-emotion", "subgroups": "face-negative", "annotation": "enraged face"},
    {"hexcode": "1F921", "group": "smileys-emotion", "subgroups": "face-costume", "annotation": "clown face"},
    {"hexcode": "2B50", "group": "travel-places", "subgroups": "sky-weather", "annotation": "star"},
]
_YELLOW, _RED = (255, 204, 77, 255), (220, 40, 40, 255)
# file stem -> colour of its disc: two yellow faces (one named with FE0F), a red face, a yellow costume face and
# a yellow non-face; the face rule keeps the first two only
_STYLE_DISCS = {"1f600": _YELLOW, "263a-fe0f": _YELLOW, "1f621": _RED, "1f921": _YELLOW, "2b50": _YELLOW}
_STYLES = {"fluent-faces": "FLUENT", "twemoji-faces": "TWEMOJI", "noto-faces": "NOTO"}  # dataset -> emoji.<style>


def _disc(color: tuple, radius: int) -> Image.Image:
    img = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    yy, xx = np.mgrid[:32, :32]
    arr = np.asarray(img).copy()
    arr[(yy - 16) ** 2 + (xx - 16) ** 2 < radius ** 2] = color
    return Image.fromarray(arr)


def _tgz(path: Path, members: dict[str, bytes]) -> str:
    """An npm-style tarball (gzip) of `members`; returns its sha1, npm's `shasum`."""
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return downloads.file_digest(path, "sha1")


def _style_members(images: emoji.EmojiImages, discs: dict, folder: str | None = None) -> dict[str, bytes]:
    kw = {"fmt": "WEBP", "lossless": True} if images.suffix == ".webp" else {"fmt": "PNG"}
    return {f"{folder or images.folder}{stem}{images.suffix}": _encoded(_disc(color, 9 + i), **kw)
            for i, (stem, color) in enumerate(discs.items())}


def _fake_npm(cache: Path, monkeypatch, style: str, members: dict[str, bytes]) -> None:
    """Fabricated tarballs where `npm_tarball` finds them (no npm, no network), their sha1s patched in: OpenMoji's
    metadata with `_OPENMOJI_ENTRIES`, and `members` as the tarball of `emoji.<style>`."""
    where = cache / "downloads"
    where.mkdir(parents=True, exist_ok=True)
    name, version, _ = emoji.OPENMOJI_NPM
    sha = _tgz(where / downloads.npm_tarball_name(name, version),
               {"package/data/openmoji.json": json.dumps(_OPENMOJI_ENTRIES).encode()})
    monkeypatch.setattr(emoji, "OPENMOJI_NPM", (name, version, sha))
    images = getattr(emoji, style)
    sha = _tgz(where / downloads.npm_tarball_name(images.package, images.version), members)
    monkeypatch.setattr(emoji, style, dataclasses.replace(images, sha1=sha))


def _cache_files(cache: Path, name: str, resolution: int = 16) -> list[str]:
    folder = cache / "datasets" / name / f"{resolution}px"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize("name", list(_STYLES))
def test_face_rule_keeps_the_yellow_faces_of_each_style(cache, tmp_path, monkeypatch, name):
    """The same rule for every style: yellow single faces (FE0F in a file name ignored); not the red face, the
    costume face or the yellow non-face. Recorded with the licence, both tarballs' digests; info and sheet work."""
    style = getattr(emoji, _STYLES[name])
    _fake_npm(cache, monkeypatch, _STYLES[name], _style_members(style, _STYLE_DISCS))
    ds = data.prepare(name, 16)
    sfx = style.suffix
    assert ds.manifest["files"] == [f"1f600{sfx}", f"263a-fe0f{sfx}"]
    assert [(r["file"], r["reason"].split(": ")[-1]) for r in ds.manifest["rejected_by_rule"]] == [
        (f"1f621{sfx}", "enraged face")]
    assert set(ds.manifest["provenance"]) == {downloads.npm_tarball_name(style.package, style.version),
                                             "openmoji-17.0.0.tgz"}
    info = data.dataset_info(name, 16)
    assert info["prepared"] and info["count"] == 2 and info["licence"] == data.DATASETS[name].licence
    assert Image.open(data.contact_sheet(name, 16, tmp_path / "sheet.png")).size == (8 * 18 + 2, 18 + 2)


@pytest.mark.parametrize("name", ["twemoji-faces", "noto-faces"])
def test_tarball_without_the_images_is_one_line_error_and_no_cache(cache, monkeypatch, name):
    style = getattr(emoji, _STYLES[name])
    _fake_npm(cache, monkeypatch, _STYLES[name], _style_members(style, _STYLE_DISCS, folder="package/img/other/"))
    spec = f"{style.package}@{style.version}"
    with pytest.raises(UserError, match=rf"has no matching {style.folder}\*\.png; pass the {spec} tarball "
                                        rf"made by `npm pack {spec}`") as err:
        data.prepare(name, 16)
    assert "\n" not in str(err.value)
    assert _cache_files(cache, name) == [".lock"]


@pytest.mark.parametrize("name", ["twemoji-faces", "noto-faces"])
def test_new_style_without_npm_names_the_package(cache, monkeypatch, name):
    monkeypatch.setattr(downloads.shutil, "which", lambda exe: None)
    style = getattr(emoji, _STYLES[name])
    with pytest.raises(UserError, match=rf"npm was not found, and {style.package}@16\.0\.0 is needed.*"
                                        rf"`npm pack {style.package}@16\.0\.0`") as err:
        data.prepare(name, 16)
    assert "\n" not in str(err.value) and _cache_files(cache, name) == [".lock"]


def test_fluent_objects_100_is_a_subset_of_fluent_objects_1000(cache, monkeypatch):
    """Both walk one seeded permutation of one candidate list and stop at 100 or 1,000 usable images, so the 100
    are the first 100 of the 1,000 (here with unreadable files on the way)."""
    rng = np.random.default_rng(0)
    members = {f"package/assets/{0xF0000 + i:x}.webp":
               _encoded(Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)), "WEBP", lossless=True)
               for i in range(1100)}
    members.update({f"package/assets/{0xF1000 + i:x}.webp": b"not a webp" for i in range(60)})
    _fake_npm(cache, monkeypatch, "FLUENT", members)
    small, large = data.prepare("fluent-objects-100", 16), data.prepare("fluent-objects-1000", 16)
    assert len(small) == 100 and len(large) == 1000 and small.manifest["skipped"]
    index = {f: i for i, f in enumerate(large.manifest["files"])}
    assert set(small.manifest["files"]) <= set(index)
    np.testing.assert_array_equal(small.images, large.images[[index[f] for f in small.manifest["files"]]])


def test_lfw_faces_are_the_100_faces_in_rgb_at_the_resolution(cache):
    """Real data, shipped in the scikit-image wheel (nothing downloaded): entries 0-99 of lfw_subset()."""
    from skimage.data import lfw_subset

    faces = lfw_subset()
    for resolution in (16, 32):
        ds = data.prepare("lfw-faces", resolution)
        assert ds.images.shape == (100, resolution, resolution, 3) and ds.images.dtype == np.uint8
        assert (ds.images[..., 0] == ds.images[..., 2]).all()  # gray, as RGB
        assert ds.manifest["files"] == [f"lfw_subset[{i}]" for i in range(100)]
        assert ds.manifest["upscaled"] == (100 if resolution > 25 else 0)
        assert abs(ds.images.mean() - 255 * faces[:100].mean()) < 2 < abs(ds.images.mean() - 255 * faces[100:].mean())
    assert set(ds.manifest["provenance"]) == {"lfw_subset.npy"}


def test_lfw_without_scikit_image_names_the_package(cache, monkeypatch):
    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(UserError, match=r"scikit-image package is missing.*`make setup`, or "
                                        r"`pip install scikit-image==0\.26\.0`") as err:
        data.prepare("lfw-faces", 16)
    assert "\n" not in str(err.value) and _cache_files(cache, "lfw-faces") == [".lock"]


# ------------------------------------------------------------------------------- the offline defaults (npm)
@pytest.fixture(scope="module")
def emoji_cache(tmp_path_factory):
    """One cache for the module, so each npm tarball is packed once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_LIB_CACHE", str(tmp_path_factory.mktemp("emoji-cache")))
        yield


def _white_corners(ds: data.ImageSet) -> float:
    corners = ds.images[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    return float((corners == 255).all(axis=(1, 2)).mean())


@pytest.mark.slow
def test_openmoji_prepares_offline(emoji_cache, tmp_path):
    ds = data.load_dataset("openmoji", 16)
    assert ds.images.shape == (2433, 16, 16, 3) and ds.images.dtype == np.uint8
    assert ds.class_names == emoji.OPENMOJI_GROUPS
    counts = np.bincount(ds.labels, minlength=10)
    assert counts.min() >= 80 and counts.sum() == 2433
    assert ds.manifest["class_counts"]["smileys-emotion"] == 171 and ds.manifest["skipped"] == []
    assert _white_corners(ds) > 0.95 and ds.images.min() < 50  # white background, real ink
    assert not any("1F3FB" <= f.split("-")[-1] <= "1F3FF" for f in ds.manifest["files"])
    assert data.contact_sheet("openmoji", 16, tmp_path / "s.png").stat().st_size > 0


@pytest.mark.slow
def test_fluent_faces_prepares_offline(emoji_cache):
    ds = data.load_dataset("fluent-faces", 16)
    assert ds.images.shape == (97, 16, 16, 3) and ds.class_names == ("fluent-faces",)
    assert len(ds.manifest["rejected_by_rule"]) == 10 and ds.manifest["duplicates"] == []
    assert _white_corners(ds) > 0.9
    mean = ds.images[:, 6:10, 6:10].reshape(-1, 3).mean(0)
    assert mean[0] > 200 and mean[2] < 120  # yellow-orange faces


@pytest.mark.slow
def test_fluent_objects_prepares_offline(emoji_cache):
    ds = data.load_dataset("fluent-objects-1000", 16)
    assert ds.images.shape == (1000, 16, 16, 3) and len(set(ds.manifest["files"])) == 1000
    faces = set(data.load_dataset("fluent-faces", 16).manifest["files"])
    assert not faces & set(ds.manifest["files"])
    assert not any(emoji.has_skin_tone(emoji.codepoints(f[:-5])) for f in ds.manifest["files"])
    assert _white_corners(ds) > 0.5
    assert ds.images.reshape(1000, -1).std(0).mean() > 40  # high variability


@pytest.mark.slow
def test_domain_targets_prepare_from_the_real_tarballs(emoji_cache):
    """The published Twemoji and Noto tarballs give their registered counts of yellow faces, and the real
    fluent-objects-100 lies inside fluent-objects-1000. Skipped when a tarball cannot be fetched."""
    for style in (emoji.TWEMOJI, emoji.NOTO, emoji.FLUENT, emoji.OPENMOJI_NPM):
        try:
            downloads.npm_tarball(*(style.npm if isinstance(style, emoji.EmojiImages) else style))
        except UserError as err:
            pytest.skip(f"cannot fetch the real tarball: {err}")
    for name in ("twemoji-faces", "noto-faces"):
        ds = data.load_dataset(name, 16)
        assert len(ds) == data.DATASETS[name].expected_count and ds.manifest["skipped"] == []
        mean = ds.images[:, 6:10, 6:10].reshape(-1, 3).mean(0)
        assert mean[0] > 200 and mean[2] < 120  # yellow-orange faces
    small = data.load_dataset("fluent-objects-100", 16).manifest["files"]
    assert len(small) == 100 and set(small) <= set(data.load_dataset("fluent-objects-1000", 16).manifest["files"])
