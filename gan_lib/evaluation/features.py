"""Feature extractors and the features of real images: clean-fid's `clean` Inception features (Parmar, Zhang and
Zhu, CVPR 2022) behind a small injectable contract, as `cleanfid.fid` takes a custom feature extractor.

The network runs under `torch.inference_mode`. On the CPU it runs re-expressed (`folded`: batch norms folded into
the convolutions, channels-last throughout) in batches of 32, ~2.5x the TorchScript module in batches of 8 with
features within ~3e-6 relative; on CUDA it is the TorchScript module in full float32 (no TF32), so CPU and GPU agree.
Reference features are computed once per (dataset manifest, extractor) under `cache_dir()/fid_stats/`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from filelock import FileLock

from gan_lib.errors import UserError
from gan_lib.evaluation.folded import FoldedNetwork
from gan_lib.evaluation.network import INCEPTION_NAME, find_inception, load_layers
from gan_lib.evaluation.resize import clean_resize
from gan_lib.files import atomic_write_bytes
from gan_lib.paths import cache_dir

if TYPE_CHECKING:
    from gan_lib.data.imageset import ImageSet

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".bmp", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp"}  # clean-fid's, less .npy


class FeatureExtractor(Protocol):
    """uint8 images [B, 3, H, W] (any H, W, any device) -> float64 features [B, dim] (a NumPy array)."""

    name: str  # identity for caches and result rows
    dim: int

    def __call__(self, images_uint8_nchw: torch.Tensor) -> np.ndarray: ...


class InceptionExtractor:
    """clean-fid `clean` features: clean resize to 299, `(x - 128) / 128`, Inception-v3 pool3 (2048-d)."""

    name = INCEPTION_NAME
    dim = 2048

    def __init__(self, path: Path, device: str | torch.device = "cpu", batch_size: int | None = None,
                 channels_last: bool | None = None, folded: bool | None = None):
        self.path = path
        self.device = torch.device(device)
        self.layers = load_layers(path, self.device)
        cpu = self.device.type == "cpu"
        self.folded = cpu if folded is None else folded  # ~2x on a 2-core CPU (README, Performance)
        self.batch_size = batch_size or ((32 if self.folded else 8) if cpu else 250)  # measured: 2-core CPU, H200
        self.channels_last = cpu if channels_last is None else channels_last  # +15% on CPU, -6% on an H200
        self._net = FoldedNetwork(self.layers) if self.folded else self.layers

    def network(self, resized: torch.Tensor) -> torch.Tensor:
        """float [B, 3, 299, 299] in [0, 255] -> float32 [B, 2048], as `cleanfid.InceptionV3W.forward`."""
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        x = resized.to(self.device).contiguous(memory_format=memory_format)
        x = (x - 128) / 128
        with _no_tf32():
            return self._net(x).reshape(x.shape[0], self.dim)

    def __call__(self, images_uint8_nchw: torch.Tensor) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for batch in images_uint8_nchw.split(self.batch_size):
                out.append(self.network(clean_resize(batch.to(self.device))).cpu())
        return torch.cat(out).double().numpy() if out else np.zeros((0, self.dim))


@contextlib.contextmanager
def _no_tf32() -> Iterator[None]:
    """Full float32 convolutions on CUDA (TF32 would change the features by ~1e-3), a no-op elsewhere."""
    previous = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = previous


@functools.lru_cache(maxsize=4)
def _inception_cached(path: str, device: str) -> InceptionExtractor:
    return InceptionExtractor(Path(path), device)


def inception_extractor(device: str | torch.device = "cpu") -> InceptionExtractor:
    """The real clean-fid extractor on `device`, loaded once per (network file, device)."""
    return _inception_cached(str(find_inception()), str(torch.device(device)))


def cleanfid_model(device: str | torch.device = "cpu") -> torch.nn.Module:
    """clean-fid's own `InceptionV3W` (its forward and normalisation) around the verified network, for
    `cleanfid.fid.compute_fid(..., custom_feat_extractor=cleanfid_model(dev), device=dev)`: the folder path to
    compare ours against."""
    from cleanfid.inception_torchscript import InceptionV3W

    model = InceptionV3W.__new__(InceptionV3W)  # its __init__ downloads; set the same attributes instead
    torch.nn.Module.__init__(model)
    model.layers = load_layers(find_inception(), device)
    model.base = model.layers
    model.resize_inside = False
    return model.eval()


class TinyExtractor:
    """A small fixed random conv net with the extractor contract, for fast tests only (not a metric)."""

    def __init__(self, seed: int = 0, dim: int = 64):
        self.name, self.dim = f"tiny-seed{seed}-dim{dim}", dim
        g = torch.Generator().manual_seed(seed)
        self.w1 = torch.randn(16, 3, 3, 3, generator=g) / math.sqrt(27)
        self.w2 = torch.randn(32, 16, 3, 3, generator=g) / math.sqrt(144)
        self.w3 = torch.randn(dim, 32 * 16, generator=g) / math.sqrt(512)

    def __call__(self, images_uint8_nchw: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            x = images_uint8_nchw.cpu().double().div(127.5).sub(1)
            x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
            x = F.relu(F.conv2d(x, self.w1.double(), stride=2, padding=1))
            x = F.relu(F.conv2d(x, self.w2.double(), stride=2, padding=1))
            x = F.adaptive_avg_pool2d(x, 4).flatten(1)
            return (x @ self.w3.double().T).numpy()


def tiny_extractor(seed: int = 0, dim: int = 64) -> TinyExtractor:
    return TinyExtractor(seed, dim)


def _as_nchw(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if t.dtype != torch.uint8 or t.ndim != 4 or 3 not in (t.shape[1], t.shape[-1]):
        raise ValueError(f"expected uint8 images [N, H, W, 3] or [N, 3, H, W], got {t.dtype} {tuple(t.shape)}")
    return t.permute(0, 3, 1, 2) if t.shape[-1] == 3 else t


def image_features(images: np.ndarray | torch.Tensor | Sequence[np.ndarray], extractor: FeatureExtractor,
                   batch_size: int | None = None) -> np.ndarray:
    """Features float64 [N, dim] of uint8 images: one array [N, H, W, 3] or [N, 3, H, W] (a trailing 3 means
    NHWC), or a list of [H, W, 3] arrays of possibly different sizes (consecutive equal sizes are batched).
    `batch_size` defaults to the extractor's own (`extractor.batch_size`, else 64)."""
    batch_size = batch_size or getattr(extractor, "batch_size", 64)
    if isinstance(images, (np.ndarray, torch.Tensor)):
        x = _as_nchw(images)
        parts = [extractor(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    else:
        parts, run = [], []
        for img in list(images) + [None]:
            if run and (img is None or img.shape != run[0].shape or len(run) == batch_size):
                parts.append(extractor(_as_nchw(np.stack(run))))
                run = []
            if img is not None:
                run.append(img)
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, extractor.dim))


def reference_key(image_set: ImageSet) -> str:
    """How a result row names its reference: `NAME@Rpx:SHA12`."""
    return f"{image_set.name}@{image_set.resolution}px:{str(image_set.manifest['sha256'])[:12]}"


def reference_features(image_set: ImageSet, extractor: FeatureExtractor) -> np.ndarray:
    """Features float64 [N, dim] of a dataset's images, computed once per (manifest sha256, extractor) and cached
    as `cache_dir()/fid_stats/NAME_Rpx_SHA16_EXTRACTOR.npz` (feats, mu, sigma; written atomically)."""
    sha = str(image_set.manifest["sha256"])
    slug = re.sub(r"[^A-Za-z0-9.-]+", "-", f"{image_set.name}_{image_set.resolution}px_{sha[:16]}_{extractor.name}")
    path = cache_dir() / "fid_stats" / f"{slug}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if path.exists():
            with np.load(path) as f:
                if str(f["manifest_sha256"]) == sha and str(f["extractor"]) == extractor.name:
                    return f["feats"]
            log.warning("%s belongs to another dataset or extractor; recomputing", path)
        t0 = time.perf_counter()
        feats = image_features(image_set.images, extractor)
        buf = io.BytesIO()
        np.savez(buf, feats=feats, mu=feats.mean(0), sigma=np.cov(feats, rowvar=False), manifest_sha256=sha,
                 extractor=extractor.name, reference=reference_key(image_set))
        atomic_write_bytes(path, buf.getvalue())
        log.info("reference features of %s (%d images, %s) in %.1f s -> %s", reference_key(image_set),
                 len(feats), extractor.name, time.perf_counter() - t0, path)
        return feats


def folder_images(folder: str | Path, skip_unreadable: bool = False) -> list[np.ndarray]:
    """All images under `folder` (recursively, clean-fid's extensions, sorted paths) as uint8 [H, W, 3] RGB,
    decoded as clean-fid does (`Image.open(path).convert('RGB')`). An unreadable file is an error, or with
    `skip_unreadable` left out with a warning that counts them (as `python -m gan_lib.data prepare` does)."""
    from PIL import Image

    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"image folder {folder} does not exist")
    files = sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    images, skipped = [], []
    for f in files:
        try:
            with Image.open(f) as img:
                images.append(np.array(img.convert("RGB")))
        except (OSError, ValueError, SyntaxError) as err:
            if not skip_unreadable:
                raise UserError(f"cannot read image {f} ({err}); remove or replace it") from None
            skipped.append(f"{f} ({err})")
    if skipped:
        log.warning("%s: skipped %d unreadable file(s) of %d (first: %s)", folder, len(skipped), len(files), skipped[0])
    if not images:
        raise UserError(f"no {'readable ' if files else ''}images ({', '.join(sorted(s[1:] for s in IMAGE_SUFFIXES))}) "
                        f"found in {folder}")
    return images
