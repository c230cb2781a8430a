"""Findings and README tables are computed from result rows, so prose numbers cannot drift from the results."""

from __future__ import annotations

import pandas as pd

from gan_lib.findings import findings_markdown, gaps_markdown, render_readme
from gan_lib.paths import REPO_ROOT


def fake_results(fids: dict[str, list[float]], dataset: str = "faces") -> pd.DataFrame:
    rows = [{"study": "s", "run_id": f"{dataset}_{v}_seed{seed}", "dataset": dataset, "variant": v,
             "train_seed": seed, "eval_kind": "train", "status": "ok", "step": 10, "opt_steps": 10, "fid": fid,
             "kid": fid / 1000, "train_seconds": 60.0, "num_samples": 200, "nn_distance_ratio": 1.5}
            for v, values in fids.items() for seed, fid in enumerate(values)]
    return pd.DataFrame(rows)


def test_readme_tables_and_findings_match_the_committed_results():
    text = (REPO_ROOT / "README.md").read_text()
    assert "<!-- generated: laptop summary -->" in text
    assert render_readme(text, REPO_ROOT / "results") == text, \
        "README's generated blocks are stale: run `python -m gan_lib.findings readme`"


def test_findings_follow_the_numbers():
    helps = fake_results({"tl": [100, 110, 105], "tl+da": [80, 91, 84]})
    assert "DiffAugment on top of transfer** (`tl+da` − `tl`, negative = better): helps on faces" in \
        findings_markdown(helps)
    noise = fake_results({"tl": [100, 110, 105], "tl+da": [104, 99, 112]})
    assert "no resolved effect" in findings_markdown(noise)
    hurts = fake_results({"tl": [100, 110, 105], "tl+da": [120, 131, 124]})
    assert "hurts on faces" in findings_markdown(hurts) and "| faces | tl+da − tl | +20.0" in gaps_markdown(hurts)


def test_findings_of_an_empty_study_say_so():
    empty = fake_results({}).reindex(columns=fake_results({"tl": [1.0]}).columns)
    assert findings_markdown(empty).startswith("_No finished runs")
