"""Precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020) of generated
features against real ones: k-nearest-neighbour balls in the same Inception features FID uses, computed by the
authors' own `prdc` package (clovaai/generative-evaluation-prdc). Precision and density say how much of what G
draws lies on the real images' manifold (fidelity), recall and coverage how much of that manifold G reaches
(diversity); FID mixes the two.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

PRDC_K = 5  # neighbours that set each ball's radius (Naeem et al.'s default)
PRDC_KEYS = ("precision", "recall", "density", "coverage")


def prdc(real: np.ndarray, fake: np.ndarray, k: int = PRDC_K) -> dict[str, float]:
    """The four scores of `fake` features against `real` ones with `k` neighbours, and `prdc_k`; NaN scores when
    either side has k + 1 images or fewer (`prdc` partitions each point's distances at k + 1, itself included, and
    needs one more)."""
    from prdc import compute_prdc

    if min(len(real), len(fake)) <= k + 1:
        return {**{key: float("nan") for key in PRDC_KEYS}, "prdc_k": k}
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the set sizes
        scores = compute_prdc(np.asarray(real, np.float32), np.asarray(fake, np.float32), k)
    return {**{key: float(scores[key]) for key in PRDC_KEYS}, "prdc_k": k}
