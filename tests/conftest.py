"""Shared fixtures: two CPU threads, a private cache, tiny image sets made in the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gan_lib.data import ImageSet

torch.set_num_threads(2)
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _private_results(tmp_path_factory, monkeypatch):
    """Tests never write into the repository's results/ folder."""
    monkeypatch.setenv("GAN_LIB_RESULTS", str(tmp_path_factory.mktemp("results")))


def make_image_set(n: int = 24, resolution: int = 16, n_classes: int = 1, seed: int = 0,
                   name: str = "tiny") -> ImageSet:
    """Coloured discs on white: a structured tiny dataset, class = colour."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:resolution, :resolution]
    images = np.full((n, resolution, resolution, 3), 255, np.uint8)
    labels = np.arange(n) % n_classes
    palette = np.array([[220, 40, 40], [40, 90, 220], [40, 170, 60], [230, 190, 20]], np.uint8)
    for i in range(n):
        cy, cx = rng.uniform(resolution * 0.3, resolution * 0.7, 2)
        r = rng.uniform(resolution * 0.15, resolution * 0.35)
        images[i][(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = palette[labels[i] % len(palette)]
    class_names = tuple(f"class{c}" for c in range(n_classes))
    manifest = {"sha256": f"tiny-{n}-{resolution}-{n_classes}-{seed}", "count": n}
    return ImageSet(name, resolution, images, labels.astype(np.int64), class_names, manifest)


@pytest.fixture
def tiny_set() -> ImageSet:
    return make_image_set()


@pytest.fixture(scope="session")
def smoke_source(tmp_path_factory):
    """A tiny class-conditional source model (3 classes, smoke architecture) to transfer from."""
    from gan_lib.config import make_config
    from gan_lib.training.loop import train

    run_dir = tmp_path_factory.mktemp("smoke_source")
    cfg = make_config("smoke", "scratch", opt_steps=3, eval_num_samples=0)
    train(cfg, run_dir, dataset=make_image_set(n_classes=3, seed=1), progress=False)
    return run_dir
