"""A prepared dataset in memory and its deterministic subsets (`data_count`/`data_seed`, as the 100-shot and
1,000-image targets of DiffAugment, Zhao et al. 2020, are subsets of larger sets)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class ImageSet:
    """A prepared dataset in memory. `images` uint8 [N, H, W, 3]; `labels` int64 [N], 0 when unconditional."""

    name: str
    resolution: int
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    manifest: dict

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, count: int, seed: int) -> "ImageSet":
        """A deterministic random subset of `count` images (`count <= 0` or `>= N`: this set itself).

        Its manifest gets `sha256 = sha256(parent sha256 + indices)`, `parent_sha256` and the indices.
        """
        n = len(self)
        if count <= 0 or count >= n:
            return self
        idx = np.sort(np.random.default_rng(seed).choice(n, size=count, replace=False))
        parent = self.manifest.get("sha256", "")
        sha = hashlib.sha256(f"{parent}:{','.join(map(str, idx.tolist()))}".encode()).hexdigest()
        files = self.manifest.get("files")
        manifest = {**self.manifest, "count": int(count), "sha256": sha, "parent_sha256": parent,
                    "subset": {"count": int(count), "seed": int(seed), "indices": idx.tolist()},
                    "files": [files[i] for i in idx] if files else files}
        return ImageSet(self.name, self.resolution, self.images[idx], self.labels[idx], self.class_names, manifest)
