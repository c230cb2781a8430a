"""The memorization check: each generated sample's nearest training image in Inception feature space, its distance
relative to the training set's own nearest-neighbour spacing (as in the nearest-neighbour figures of BigGAN, Brock
et al. 2018).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from gan_lib.evaluation.features import FeatureExtractor, image_features, inception_extractor, reference_features
from gan_lib.evaluation.samples import SampleFn, generate_images

if TYPE_CHECKING:
    from gan_lib.data.imageset import ImageSet

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
