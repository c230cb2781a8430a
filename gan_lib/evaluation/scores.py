"""FID (Heusel et al. 2017) and KID (Binkowski et al. 2018) as clean-fid computes them (Parmar, Zhang and Zhu,
CVPR 2022): its own `frechet_distance` and `kernel_distance` on our features.

The Frechet distance is evaluated in an orthonormal basis of the span of the two centred feature sets and the mean
difference: an exact identity (FID is invariant to rotations of feature space and both covariances vanish outside
that span) that turns a 2048x2048 `sqrtm` into one of size at most N_a + N_b.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
import torch
from scipy.linalg import LinAlgWarning

from gan_lib.errors import UserError
from gan_lib.evaluation.features import (
    FeatureExtractor,
    folder_images,
    image_features,
    inception_extractor,
    reference_features,
    reference_key,
)
from gan_lib.evaluation.manifold import prdc
from gan_lib.evaluation.samples import SampleFn, generated_features

if TYPE_CHECKING:
    from gan_lib.data.imageset import ImageSet

KID_SEED = 0  # clean-fid's `kernel_distance` draws subsets from NumPy's global RNG; we seed it for reproducibility


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
    """FID and KID of `num` generated images (fixed latents of `seed`) against `dataset`, and precision, recall,
    density and coverage in the same features (`manifold.prdc`).
    `sample_fn(z, y)` returns images in [-1, 1]; put the generator in eval mode first."""
    t0 = time.perf_counter()
    extractor = extractor or inception_extractor(device)
    ref = reference_features(dataset, extractor)
    gen = generated_features(sample_fn, dim_z=dim_z, n_classes=n_classes, num=num, seed=seed,
                             batch_size=batch_size, device=device, extractor=extractor, truncation=truncation)
    scores = {**fid_kid(gen, ref), **prdc(ref, gen)}
    return {**scores, "num_samples": int(num), "reference": reference_key(dataset), "reference_count": len(ref),
            "eval_seed": int(seed), "truncation": float(truncation), "extractor": extractor.name,
            "eval_seconds": round(time.perf_counter() - t0, 3)}


def truncation_sweep(sample_fn: SampleFn, *, truncations: Sequence[float], dim_z: int, n_classes: int,
                     dataset: ImageSet, num: int, seed: int, batch_size: int, device: str | torch.device,
                     extractor: FeatureExtractor | None = None) -> list[dict]:
    """`evaluate` at each truncation threshold (0 = none); the reference features are shared."""
    return [evaluate(sample_fn, dim_z=dim_z, n_classes=n_classes, dataset=dataset, num=num, seed=seed,
                     batch_size=batch_size, device=device, truncation=t, extractor=extractor) for t in truncations]


def fid_folders(dir_a: str | Path, dir_b: str | Path, device: str | torch.device = "cpu",
                extractor: FeatureExtractor | None = None) -> dict:
    """FID and KID between two image folders, as `cleanfid.fid.compute_fid(dir_a, dir_b, mode='clean')`."""
    images_a, images_b = folder_images(dir_a), folder_images(dir_b)
    extractor = extractor or inception_extractor(device)
    scores = fid_kid(image_features(images_a, extractor), image_features(images_b, extractor))
    return {**scores, "count_a": len(images_a), "count_b": len(images_b), "extractor": extractor.name}
