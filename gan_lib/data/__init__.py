"""Datasets of the study: a registry, preparation into a uint8 cache, loading, subsets and contact sheets.

The study of data-efficient GANs (DiffAugment, Zhao et al. 2020; MineGAN, Wang et al. 2019) pretrains on a large
source domain and adapts to a 100-shot (Obama) and a 1,000-image (LSUN bedroom) target. Offline defaults stand in
for them: `openmoji` (source, class-conditional), `fluent-faces` (low variability) and `fluent-objects-1000`
(high variability); `obama-100` and `lsun-bedroom-1000` prepare the originals from local copies. The domains study's
targets are offline too: `twemoji-faces` and `noto-faces` (the faces of two more emoji styles), `fluent-objects-100`
and `lfw-faces` (face photographs from scikit-image).

Each image is decoded, composited on white if it has alpha, converted to RGB, center-cropped to a square and
resized with Lanczos. Images smaller than the resolution are upscaled, with a warning and a count in the manifest.
Unreadable files are skipped (warning, listed in the manifest; an error when nothing usable is left), and duplicates
(same decoded pixels) are kept once. The result is cached per (dataset, resolution) under
`cache_dir()/datasets/NAME/Rpx/` as `images-SHA.npz` (images [N,R,R,3] uint8, labels [N] int64) plus
`manifest.json`, the file that commits a prepare: it is replaced last and atomically, so a crash or a failed
re-prepare leaves the previous cache intact. Loading is one `np.load`.

    imageset   ImageSet: a prepared dataset in memory, and its seeded subsets
    datasets   prepare (decode, normalise, deduplicate into the cache), load, count, describe, list
    registry   the registered datasets: where each one's images come from, the selection rule, the licence
    listings   a dataset's candidate images (folders, zips, LMDB exports, scikit-image's LFW) and how to decode each
    emoji      the offline stand-ins: OpenMoji rendered from its font; Fluent Emoji 3D, Twemoji, Noto from npm tarballs
    decode     one image: decode, RGB on white, centre square, resize
    cache      the on-disk cache of prepared datasets (committed by its manifest)
    downloads  npm tarballs and zip archives, fetched once into the cache
    sheet      contact sheets (PNG grids) of a dataset
    cli        `python -m gan_lib.data {list, prepare NAME [--from PATH], info NAME, sheet NAME}`
"""

from gan_lib.data.cli import main
from gan_lib.data.datasets import RESOLUTIONS, dataset_info, dataset_size, list_datasets, load_dataset, prepare
from gan_lib.data.imageset import ImageSet
from gan_lib.data.registry import DATASETS, NAME_RE, DatasetSpec, custom_spec
from gan_lib.data.sheet import contact_sheet

__all__ = ["DATASETS", "NAME_RE", "RESOLUTIONS", "DatasetSpec", "ImageSet", "contact_sheet", "custom_spec",
           "dataset_info", "dataset_size", "list_datasets", "load_dataset", "main", "prepare"]
