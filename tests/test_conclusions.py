"""The thesis's conclusions and the spread finding are computed from result rows: each verdict flips when the rows
under it change (fixture studies written as parquet, read back the way the README block reads them)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gan_lib.config import make_config
from gan_lib.report import conclusions, domains
from gan_lib.report.results import make_rows, run_path, write_rows
from gan_lib.report.spread import spread_table


def write_study(root: Path, study: str, fids: dict[str, list[float]], dataset: str = "fluent-faces",
                seconds: dict[str, list[float]] | None = None, status: dict[str, str] | None = None,
                nn_ratio: float = 1.3, steps: int = 4, count: int = 97) -> None:
    """One parquet per run: variant -> final FID per seed (and training seconds, and a failed status)."""
    for variant, values in fids.items():
        for seed, fid in enumerate(values):
            cfg = make_config("laptop", variant, data_name=dataset, train_seed=seed, opt_steps=steps,
                              eval_every=steps, **({"transfer_source": "src"} if variant != "scratch" else {}))
            t = (seconds or {}).get(variant, [100.0] * len(values))[seed]
            evals = [{"step": steps, "images_seen": 16 * steps, "train_seconds": t, "elapsed_seconds": t + 1,
                      "fid": fid, "kid": fid / 1000, "num_samples": 200, "reference": "ref", "truncation": 0.0,
                      "extractor": "fixture", "eval_seconds": 0.1, "nn_distance_ratio": nn_ratio}]
            run_id = f"{dataset}_{variant}_seed{seed}"
            run_status = (status or {}).get(run_id, "ok")
            rows = make_rows(cfg, evals, run_id=run_id, study=study, device="cpu", dataset_count=count,
                             status=run_status, message="diverged" if run_status == "failed" else "")
            write_rows(rows, run_path(study, run_id, root))


def verdict(root: Path, number: int) -> conclusions.Verdict:
    return conclusions.thesis_verdicts(root)[number - 1]


def test_transfer_is_confirmed_contradicted_or_not_resolved_by_its_rows(tmp_path):
    write_study(tmp_path / "a", "short", {"scratch": [300, 310, 305], "tl": [200, 212, 203]})
    assert verdict(tmp_path / "a", 1).verdict == "confirmed"
    write_study(tmp_path / "b", "short", {"scratch": [200, 212, 203], "tl": [300, 310, 305]})
    assert verdict(tmp_path / "b", 1).verdict == "contradicted"
    write_study(tmp_path / "c", "short", {"scratch": [300, 200, 250], "tl": [210, 290, 240]})
    v = verdict(tmp_path / "c", 1)
    assert v.verdict == "not resolved" and "95 % ±" in v.evidence[0].what


def test_a_verdict_says_where_it_holds_when_budgets_disagree(tmp_path):
    write_study(tmp_path, "short", {"scratch": [300, 310, 305], "tl": [200, 212, 203]}, steps=4)
    write_study(tmp_path, "long", {"scratch": [300, 200, 250], "tl": [210, 290, 240]}, steps=8)
    v = verdict(tmp_path, 1)
    assert v.verdict == "confirmed"
    assert "holds in `short` at 1 epochs on fluent-faces" in v.why and "not resolved in `long` at 1 epochs" in v.why
    write_study(tmp_path, "long", {"scratch": [200, 212, 203], "tl": [300, 310, 305]}, steps=8)
    assert verdict(tmp_path, 1).verdict == "mixed"


def test_one_seed_gaps_and_ignored_studies_are_no_evidence(tmp_path):
    write_study(tmp_path, "single", {"scratch": [300], "tl": [200]})
    write_study(tmp_path, "laptop-rerun", {"scratch": [300, 310, 305], "tl": [200, 212, 203]})
    assert verdict(tmp_path, 1).verdict == "not tested here"


def test_the_full_stack_and_the_cost_of_cr(tmp_path):
    write_study(tmp_path, "s", {"tl": [200, 212, 203], "tl+da": [190, 200, 195], "tl+da+cr": [150, 160, 151]},
                seconds={"tl": [100] * 3, "tl+da": [100, 110, 90], "tl+da+cr": [130, 142, 118]})
    assert verdict(tmp_path, 3).verdict == "confirmed"
    four = verdict(tmp_path, 4)
    assert four.verdict == "confirmed" and "×1.3" in four.evidence[0].what
    write_study(tmp_path, "s", {"tl": [200, 212, 203], "tl+da": [190, 200, 195], "tl+da+cr": [150, 160, 151]},
                seconds={"tl": [100] * 3, "tl+da": [100, 110, 90], "tl+da+cr": [80, 88, 72]})
    assert verdict(tmp_path, 4).verdict == "contradicted"


def test_cr_as_its_references_run_it_is_evidence_on_the_full_stack_against_the_default_studys_transfer(tmp_path):
    # the default study (named after its preset) holds `tl` and the stacked recipe, which makes things worse
    write_study(tmp_path, "laptop", {"tl": [200, 212, 203], "tl+da+cr": [250, 262, 251]})
    assert verdict(tmp_path, 3).verdict == "contradicted"
    write_study(tmp_path, "laptop-refs", {"tl+da+cr-paper": [150, 160, 151], "tl+da+cr-clean": [205, 190, 230]})
    v = verdict(tmp_path, 3)
    assert v.verdict == "mixed" and "holds in `laptop-refs`" in v.why
    assert {e.what.split(" − ")[0] for e in v.evidence if e.study == "laptop-refs"} == {
        "`tl+da+cr-paper`", "`tl+da+cr-clean`"}
    assert [e.reading for e in v.evidence if e.study == "laptop-refs"] == ["not resolved", "supports"]


def test_similarity_is_not_tested_until_targets_and_distances_exist_then_read_by_exact_rank(tmp_path):
    targets = {"near": 50.0, "mid": 100.0, "far": 150.0, "farther": 200.0, "farthest": 250.0}
    gains = {"near": 100.0, "mid": 60.0, "far": 30.0, "farther": 10.0, "farthest": 5.0}
    for target, gain in gains.items():
        write_study(tmp_path, "domains", {"scratch": [300, 302, 301], "tl": [300 - gain, 303 - gain, 300 - gain]},
                    dataset=target)
    two = verdict(tmp_path, 2)
    assert two.verdict == "not tested here" and "similarity.parquet" in two.why
    distances = pd.DataFrame({"target": list(targets), "source": "openmoji", "fid": list(targets.values()),
                              "kid": 0.1, "target_count": 97, "target_total": 100})
    distances.to_parquet(tmp_path / domains.SIMILARITY)
    v = verdict(tmp_path, 2)
    assert v.verdict == "confirmed" and "exact p = 0.017" in v.evidence[0].what  # 2 of 5! orderings: ρ = ±1
    distances.assign(fid=distances.fid[::-1].to_numpy()).to_parquet(tmp_path / domains.SIMILARITY)
    assert verdict(tmp_path, 2).verdict == "contradicted"
    # four targets in perfect order: p = 2/4! = 0.083, so four can never resolve it (a t approximation says p = 0)
    distances[distances.target != "farthest"].to_parquet(tmp_path / domains.SIMILARITY)
    assert verdict(tmp_path, 2).verdict == "not resolved"


def test_a_domains_study_is_read_with_the_targets_its_default_study_trained_at_the_same_budget(tmp_path):
    write_study(tmp_path, "laptop", {"scratch": [300, 302, 301], "tl": [200, 203, 200]}, dataset="a")
    write_study(tmp_path, "laptop", {"scratch": [300, 302, 301], "tl": [250, 253, 250]}, dataset="b")
    for target, gain in {"c": 20.0, "d": 10.0, "e": 5.0}.items():
        write_study(tmp_path, "domains", {"scratch": [300, 302, 301], "tl": [300 - gain, 303 - gain, 300 - gain]},
                    dataset=target)
    pd.DataFrame({"target": list("abcde"), "source": "openmoji", "fid": [10.0, 20.0, 30.0, 40.0, 50.0], "kid": 0.1,
                  "target_count": 97, "target_total": 100}).to_parquet(tmp_path / domains.SIMILARITY)
    v = verdict(tmp_path, 2)
    assert [e.study for e in v.evidence] == ["domains"] and "a, b, c, d, e" in v.evidence[0].what
    assert v.evidence[0].dataset == "5 targets"
    assert v.verdict == "confirmed"


def test_quantity_and_variability_are_read_from_datasets_that_differ_in_one_of_them(tmp_path):
    assert verdict(tmp_path, 5).verdict == "not tested here"
    small, large = conclusions.QUANTITY_PAIR
    write_study(tmp_path, "domains", {"tl": [200, 205, 202]}, dataset=small, steps=240, count=100)
    write_study(tmp_path, "domains", {"tl": [150, 152, 149]}, dataset=large, steps=240, count=1000)
    write_study(tmp_path, "domains", {"tl": [190, 192, 189]}, dataset="twemoji-faces", steps=240, count=90)
    v = verdict(tmp_path, 5)
    assert v.verdict == "confirmed" and v.evidence[0].what.startswith("quantity:")
    assert v.evidence[0].budget == "240 steps of 16 (4–38 epochs)"  # the pair's budget: one step count, two epoch counts


def test_problems_remain_while_an_improved_variant_fails_or_copies_and_not_otherwise(tmp_path):
    write_study(tmp_path / "a", "s", {"scratch": [300, 310], "tl": [200, 212]},
                status={"fluent-faces_tl_seed1": "failed"})
    assert verdict(tmp_path / "a", 6).verdict == "confirmed"
    write_study(tmp_path / "b", "s", {"scratch": [300, 310], "tl": [200, 212]}, nn_ratio=0.8)
    assert verdict(tmp_path / "b", 6).verdict == "confirmed"
    write_study(tmp_path / "c", "s", {"scratch": [300, 310], "tl": [200, 212]},
                status={"fluent-faces_scratch_seed1": "failed"})  # the baseline failing is no problem of a method
    assert verdict(tmp_path / "c", 6).verdict == "contradicted"


@pytest.mark.parametrize("tl_da, resolved", [([150.0, 150.5, 149.8, 150.2, 149.9, 150.1, 150.3, 149.7], True),
                                             ([120.0, 180.0, 135.0, 165.0, 140.0, 160.0, 125.0, 175.0], False)])
def test_the_spread_test_resolves_a_much_narrower_spread_only(tmp_path, tl_da, resolved):
    tl = [120.0, 180.0, 140.0, 160.0, 130.0, 170.0, 125.0, 175.0]
    write_study(tmp_path, "s", {"tl": tl, "tl+da": tl_da})
    from gan_lib.report.results import read_results

    row = spread_table(read_results(tmp_path, "s"), [("tl+da", "tl")]).iloc[0]
    assert row.resolved == resolved and (row.sd_ratio < 0.1) == resolved and row.n_variant == 8
