"""The targets' distance to the source from data alone (equal counts), the table that sets transfer's gain beside
it, and the exact rank correlation that so few targets allow."""

from __future__ import annotations

import pandas as pd
import pytest

from gan_lib import metrics
from gan_lib.evaluation import tiny_extractor
from gan_lib.report import domains
from tests.conftest import make_image_set


def test_every_target_is_measured_at_the_smallest_targets_count(monkeypatch):
    sets = {"src": make_image_set(n=40, seed=0), "same": make_image_set(n=30, seed=0),
            "other": make_image_set(n=12, seed=5)}
    sets["other"].images[:] = 255 - sets["other"].images  # a visibly different domain
    monkeypatch.setattr(metrics, "load_dataset", lambda name, resolution: sets[name])
    rows = {r["target"]: r for r in metrics.target_distances("src", ["same", "other"], 16, tiny_extractor())}
    assert {r["target_count"] for r in rows.values()} == {12}
    assert (rows["same"]["target_total"], rows["other"]["target_total"], rows["same"]["source_count"]) == (30, 12, 40)
    assert rows["same"]["fid"] < rows["other"]["fid"]


@pytest.mark.parametrize("n, p", [(3, 2 / 6), (5, 2 / 120)])
def test_a_perfect_ordering_has_the_exact_p_of_two_orderings_in_n_factorial(n, p):
    rho, exact, floor = domains.exact_spearman(list(range(n)), list(range(n))[::-1])
    assert rho == pytest.approx(-1.0) and exact == pytest.approx(p) and floor == pytest.approx(p)


def test_the_table_orders_targets_by_distance_and_shows_each_gain(tmp_path):
    from test_conclusions import write_study

    for target, gain in {"near": 40.0, "far": 10.0, "mid": 20.0}.items():
        write_study(tmp_path, "d", {"scratch": [300, 302, 301], "tl": [300 - gain, 303 - gain, 300 - gain]},
                    dataset=target)
    similarity = pd.DataFrame({"target": ["far", "near", "mid", "untrained"], "source": "openmoji",
                               "fid": [300.0, 100.0, 200.0, 50.0], "kid": 0.2, "target_count": 97,
                               "target_total": [100, 97, 1000, 100]})
    from gan_lib.report.results import read_results

    text = domains.similarity_markdown(similarity, read_results(tmp_path, "d"))
    rows = [line.split(" | ")[0].strip("| ") for line in text.splitlines()[2:6]]
    assert rows == ["untrained", "near", "mid", "far"]
    assert "| mid | 97 (1000) | 200.0 | 200.0 | +20.0" in text and "| untrained | 97 (100) | 50.0 | 200.0 | — |" in text
    assert "Spearman ρ = -1.00" in text and "exact p = 0.333" in text and "no ordering can give p below 0.333" in text
    assert "no better than chance (they lean towards targets closer to the source)" in text  # p 0.333: no direction claimed


def test_the_sentence_names_a_direction_only_when_the_ranks_resolve_one():
    near_gains_more = pd.DataFrame({"fid": [10.0, 20.0, 30.0, 40.0, 50.0], "gain": [50.0, 40.0, 30.0, 20.0, 10.0]})
    resolved = domains.correlation_sentence(near_gains_more)
    assert "the gain is larger on targets closer to the source; exact p = 0.017" in resolved
    unresolved = domains.correlation_sentence(near_gains_more.iloc[:3])
    assert "larger on" not in unresolved and "no better than chance" in unresolved
