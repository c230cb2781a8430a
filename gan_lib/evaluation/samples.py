"""Generated samples for evaluation: fixed latents (with BigGAN's truncation trick, Brock et al. 2018) and uint8
images made in memory, quantized as clean-fid's leaderboard script does (`resize.to_uint8`).
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from gan_lib.evaluation.features import FeatureExtractor
from gan_lib.evaluation.resize import to_uint8

SampleFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
_LATENT_BLOCK = 1024  # rows of z drawn at a time (prefix stability); changing it changes every evaluation


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


def _rebatch(batches: Iterable[torch.Tensor], size: int) -> Iterator[torch.Tensor]:
    """The same images in batches of `size` (the last one smaller): sampling batches of 50 fed to an extractor
    of batch 32 would otherwise leave a batch of 18 after each one, the slowest images of all."""
    pending, count = [], 0
    for batch in batches:
        pending.append(batch)
        count += len(batch)
        while count >= size:
            joined = torch.cat(pending)
            yield joined[:size]
            pending, count = [joined[size:]], count - size
    if count:
        yield torch.cat(pending)


def generated_features(sample_fn: SampleFn, *, dim_z: int, n_classes: int, num: int, seed: int, batch_size: int,
                       device: str | torch.device, extractor: FeatureExtractor, truncation: float = 0.0) -> np.ndarray:
    """Features float64 [num, dim] of `num` generated images (fixed latents of `seed`), without leaving memory.
    Images are sampled in batches of `batch_size` and extracted in the extractor's own batches."""
    batches = _generate(sample_fn, dim_z=dim_z, n_classes=n_classes, num=num, seed=seed, batch_size=batch_size,
                        device=device, truncation=truncation)
    size = getattr(extractor, "batch_size", batch_size)
    return np.concatenate([extractor(b) for b in _rebatch(batches, size)]).astype(np.float64)
