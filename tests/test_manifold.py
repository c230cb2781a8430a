"""Precision, recall, density and coverage: the closed cases (identical sets, disjoint sets, too few images), the
keys every evaluation row carries, and the report's table reading them per variant (older rows: —)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gan_lib.evaluation import PRDC_K, evaluate, prdc, tiny_extractor
from gan_lib.report.fidelity import prdc_table


def test_identical_sets_score_one_and_disjoint_sets_zero():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(60, 16))
    same = prdc(real, real.copy())
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0 and same["density"] > 0.9
    far = prdc(real, real + 1000.0)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0, "prdc_k": PRDC_K}


def test_fidelity_and_diversity_come_apart():
    """Fakes collapsed onto a few real points: precise, not diverse."""
    rng = np.random.default_rng(1)
    real = rng.normal(size=(80, 8))
    collapsed = np.repeat(real[:3], 20, axis=0) + 1e-3 * rng.normal(size=(60, 8))
    s = prdc(real, collapsed)
    assert s["precision"] == 1.0 and s["recall"] < 0.1 and s["coverage"] < 0.5


@pytest.mark.parametrize("real_count, fake_count", [(PRDC_K, 10), (PRDC_K + 1, 10), (10, PRDC_K + 1)])
def test_too_few_images_give_nan_instead_of_failing(real_count, fake_count):
    rng = np.random.default_rng(0)
    s = prdc(rng.normal(size=(real_count, 4)), rng.normal(size=(fake_count, 4)))
    assert all(math.isnan(s[k]) for k in ("precision", "recall", "density", "coverage"))


def test_the_smallest_sets_prdc_accepts_give_scores():
    rng = np.random.default_rng(0)
    s = prdc(rng.normal(size=(PRDC_K + 2, 4)), rng.normal(size=(PRDC_K + 2, 4)))
    assert all(not math.isnan(s[k]) for k in ("precision", "recall", "density", "coverage"))


def test_every_evaluation_records_the_scores_with_k_and_the_reference_size(tiny_set):
    import torch

    def sample(z, y):
        return torch.tanh(z[:, :3, None, None].expand(-1, 3, 16, 16))

    row = evaluate(sample, dim_z=8, n_classes=1, dataset=tiny_set, num=12, seed=0, batch_size=6, device="cpu",
                   extractor=tiny_extractor())
    assert row["prdc_k"] == PRDC_K and row["reference_count"] == len(tiny_set.images)
    assert all(0.0 <= row[k] for k in ("precision", "recall", "density", "coverage"))


def test_the_report_reads_them_per_variant_and_shows_a_dash_for_older_rows():
    rows = pd.DataFrame({"study": "s", "run_id": ["a", "b", "c"], "dataset": "d", "variant": ["tl", "tl", "scratch"],
                         "status": "ok", "eval_kind": "train", "step": 4, "opt_steps": 4, "train_seed": [0, 1, 0],
                         "precision": [0.5, 0.7, None], "recall": [0.2, 0.4, None], "density": [0.9, 1.1, None],
                         "coverage": [0.3, 0.5, None], "prdc_k": [5, 5, None], "reference_count": [97, 97, None]})
    table = prdc_table(rows)
    assert table.loc[("d", "tl"), "precision"] == "0.60 ± 0.14"
    assert table.loc[("d", "scratch"), "precision"] == "—" and table.loc[("d", "tl"), "k / reals"] == "5 / 97"
