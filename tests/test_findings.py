"""Findings and README tables are computed from result rows, so prose numbers cannot drift from the results."""

from __future__ import annotations

import pandas as pd
import pytest

from gan_lib.paths import REPO_ROOT
from gan_lib.report.findings import documents, findings_markdown, gaps_markdown, main, render_readme


def fake_results(fids: dict[str, list[float]], dataset: str = "faces") -> pd.DataFrame:
    rows = [{"study": "s", "run_id": f"{dataset}_{v}_seed{seed}", "dataset": dataset, "variant": v,
             "train_seed": seed, "eval_kind": "train", "status": "ok", "step": 10, "opt_steps": 10, "fid": fid,
             "kid": fid / 1000, "train_seconds": 60.0, "num_samples": 200, "nn_distance_ratio": 1.5}
            for v, values in fids.items() for seed, fid in enumerate(values)]
    return pd.DataFrame(rows)


def test_readme_and_docs_tables_and_findings_match_the_committed_results():
    texts = {path.name: path.read_text() for path in documents()}
    assert "<!-- generated: laptop summary -->" in texts["studies.md"]
    assert "<!-- generated: laptop-150ep gaps -->" in texts["README.md"]
    for name, text in texts.items():
        assert render_readme(text, REPO_ROOT / "results") == text, \
            f"{name}'s generated blocks are stale: run `python -m gan_lib.report readme`"


def test_findings_follow_the_numbers():
    helps = fake_results({"tl": [100, 110, 105], "tl+da": [80, 91, 84]})
    assert "DiffAugment on top of transfer** (`tl+da` − `tl`, negative = better): helps on faces" in \
        findings_markdown(helps)
    noise = fake_results({"tl": [100, 110, 105], "tl+da": [104, 99, 112]})
    assert "no resolved effect" in findings_markdown(noise)
    hurts = fake_results({"tl": [100, 110, 105], "tl+da": [120, 131, 124]})
    assert "hurts on faces" in findings_markdown(hurts) and "| faces | tl+da − tl | +20.0" in gaps_markdown(hurts)


def test_findings_say_whether_the_miner_changes_diffaugments_gap_seed_by_seed():
    """The difference of differences pairs the four runs of each seed: DiffAugment's gap is −20 with the mixture
    miner and −40, −41, −39 with MineGAN's, whatever the seeds' levels."""
    runs = {"tl": [100, 150, 120], "tl+da": [80, 130, 100], "tl-minegan": [110, 90, 140], "tl+da-minegan": [70, 49, 101]}
    findings = findings_markdown(fake_results(runs))
    assert "MineGAN's own miner and DiffAugment's gap** ((`tl+da-minegan` − `tl-minegan`) − (`tl+da` − `tl`)" in findings
    assert "changes it on faces (faces −20.0 FID, resolved (better; 95 % ± 2.5))" in findings
    same = {**runs, "tl+da-minegan": [90, 70, 120]}  # −20, −20, −20 again: no change
    assert "no resolved change (faces +0.0 FID" in findings_markdown(fake_results(same))
    assert "DiffAugment's gap**" not in findings_markdown(fake_results({k: runs[k] for k in ("tl", "tl+da")}))


def test_findings_of_an_empty_study_say_so():
    empty = fake_results({}).reindex(columns=fake_results({"tl": [1.0]}).columns)
    assert findings_markdown(empty).startswith("_No finished runs")


def with_epochs(df: pd.DataFrame, epochs: float) -> pd.DataFrame:
    return df.assign(epochs=epochs, images_seen=0, dataset_count=1)


def test_budget_comparison_says_when_a_gap_flips_sign():
    from gan_lib.report.findings import budget_markdown

    short = with_epochs(fake_results({"tl": [100, 110, 105], "tl+da": [120, 131, 124]}), 40)
    long = with_epochs(fake_results({"tl": [100, 110, 105], "tl+da": [80, 91, 84]}), 150)
    table = budget_markdown(long, short)
    assert "| faces | tl+da − tl | +20.0" in table and "at 40 epochs" in table and "at 150 epochs" in table
    assert "sign flips, about the same size; resolved at the longer budget" in table
    assert table.endswith("At 150 epochs of faces, DiffAugment on top of transfer is −20.0 FID, resolved (better; "
                          "95 % ± 2.5): this agrees with the thesis, which carried DiffAugment into its best variant.")
    noise = with_epochs(fake_results({"tl": [100, 110, 105], "tl+da": [104, 99, 112]}), 150)
    assert budget_markdown(noise, short).endswith("+0.0 FID, not resolved: the 95 % interval (± 24.0) includes 0: this "
                                                  "neither confirms nor refutes the thesis's choice of DiffAugment yet.")
    one_seed = with_epochs(fake_results({"tl": [100], "tl+da": [50]}), 150)
    assert budget_markdown(one_seed, short).endswith(
        "one seed, no interval: this neither confirms nor refutes the thesis's choice of DiffAugment yet.")


def test_budget_comparison_shows_transfer_vs_scratch_when_both_studies_ran_scratch():
    from gan_lib.report.findings import budget_markdown

    short = with_epochs(fake_results({"scratch": [300, 310, 305], "tl": [100, 110, 105]}), 40)
    long = with_epochs(fake_results({"scratch": [110, 112, 104], "tl": [100, 110, 105]}), 150)
    assert "| faces | tl − scratch | −200.0 (" in budget_markdown(long, short)
    assert "smaller; not resolved at the longer budget" in budget_markdown(long, short)


def test_diagnostics_find_when_r_t_rises_above_ada_target_and_stays():
    from gan_lib.report.findings import diagnostics_markdown

    epochs = list(range(0, 100, 10))
    # a blip at 20; smoothed over 5 points (as plotted) r_t is 0.57 at 50 and 0.69 at 60, above for good from 60
    r_t = [0.1, 0.2, 0.7, 0.3, 0.4, 0.65, 0.7, 0.8, 0.9, 0.9]
    scalars = pd.DataFrame({"run_id": "faces_tl_seed0", "epoch": epochs, "r_t": r_t, "d_accuracy": 0.9})
    runs = fake_results({"tl": [200.0]})
    row = diagnostics_markdown(runs, scalars).splitlines()[-1]
    assert row == "| faces | tl | 0.33 | 0.87 | 0.90 | 60 | 1 |"


def test_a_study_of_new_variants_is_compared_with_the_default_study_of_its_preset(tmp_path):
    """An extended study (new variants only) joins the default study's rows on the same seeds: its gaps are the new
    variants' against their baselines, not the default study's own comparisons again."""
    import shutil

    from gan_lib.report.results import read_results, run_path, write_rows

    shutil.copytree(REPO_ROOT / "results" / "runs" / "laptop", tmp_path / "runs" / "laptop")
    tl = read_results(tmp_path, "laptop").query("variant == 'tl' and dataset == 'fluent-faces'")
    for run_id, rows in tl.groupby("run_id"):
        new_id = run_id.replace("_tl_", "_tl+freezed_")
        rows = rows.assign(study="laptop-extended", variant="tl+freezed", run_id=new_id, fid=rows.fid - 30)
        write_rows(rows.to_dict("records"), run_path("laptop-extended", new_id, tmp_path))
    text = "<!-- generated: laptop-extended gaps -->\n<!-- end generated -->"
    gaps = render_readme(text, tmp_path)
    assert "| fluent-faces | tl+freezed − tl | −30.0 ± 0.0 | 0.0 | 3 | yes |" in gaps
    assert "tl − scratch" not in gaps and "fluent-objects" not in gaps
    findings = render_readme(text.replace("gaps", "findings"), tmp_path)
    assert "FreezeD on top of transfer** (`tl+freezed` − `tl`, negative = better): helps on fluent-faces" in findings
    assert "transfer vs scratch" not in findings
    summary = render_readme(text.replace("gaps", "summary"), tmp_path)  # whose runs each row holds
    assert "| tl+freezed |" in summary and "| `laptop-extended` |" in summary and "| `laptop` |" in summary


def test_diagnostics_show_adas_p_where_a_run_adapts_it():
    from gan_lib.report.findings import diagnostics_markdown

    scalars = pd.DataFrame({"run_id": ["faces_tl_seed0"] * 4 + ["faces_tl+ada_seed0"] * 4, "epoch": [0, 10, 20, 30] * 2,
                            "r_t": 0.5, "d_accuracy": 0.8, "aug_p": [None] * 4 + [0.0, 0.1, 0.2, 0.4]})
    runs = fake_results({"tl": [200.0], "tl+ada": [190.0]})
    table = diagnostics_markdown(runs, scalars).splitlines()
    assert "ADA's p, last quarter" in table[0]
    assert table[2:4] == ["| faces | tl | 0.50 | 0.50 | 0.80 | never | — | 1 |",
                          "| faces | tl+ada | 0.50 | 0.50 | 0.80 | never | 0.40 | 1 |"]
    assert table[-2:] == ["- faces, `tl+ada` vs `tl`: r_t over the last quarter 0.50 vs 0.50, D accuracy 0.80 vs 0.80: "
                          "no sign that ADA changes how D fits the real images; final FID −10.0, one seed, "
                          "no interval: without ADA D does not overfit by ADA's measure (r_t, mean over seeds, at most 0.6 over "
                          "the last quarter and never above it for good), so ADA has little to counter.",
                          "- faces, `tl+ada`: ADA's p over the last quarter 0.40, r_t 0.50 against its target 0.6: "
                          "ADA augmented, steering r_t towards the target."]


def test_diagnostics_say_whether_diffaugment_keeps_d_from_overfitting_and_whether_fid_follows():
    from gan_lib.report.findings import diagnostics_markdown

    seeds = [0, 1, 2]
    scalars = pd.DataFrame([{"run_id": f"faces_{v}_seed{s}", "epoch": e, "r_t": r, "d_accuracy": 0.8}
                            for v, r_ts in (("tl", [0.2, 0.5, 0.8, 0.9]), ("tl+da", [0.2, 0.3, 0.3, 0.4]))
                            for s in seeds for e, r in zip([0, 10, 20, 30], r_ts)])

    def words(da_fids):
        return diagnostics_markdown(fake_results({"tl": [200, 210, 205], "tl+da": da_fids}), scalars).splitlines()[-1]

    noise = words([201, 212, 205])  # +1 FID, inside the seed spread
    assert noise.startswith("- faces, `tl+da` vs `tl`: r_t over the last quarter 0.40 vs 0.90")
    assert "DiffAugment keeps D from separating the training images as sharply; final FID +1.0" in noise
    assert noise.endswith("DiffAugment counters an overfitting D; whether FID improves with it is not resolved yet.")
    assert words([210, 221, 214]).endswith("DiffAugment counters an overfitting D, but FID gets worse with it: a D "
                                           "that overfits is not what limits G here.")
    assert words([180, 191, 184]).endswith("DiffAugment counters an overfitting D and FID improves with it.")


def test_diagnostics_words_count_a_late_rise_of_r_t_as_overfitting():
    """tl's r_t averages under ADA's target over the last quarter but its smoothed curve stays above it from epoch
    140: the words must not say that D does not overfit (the onset column says it does)."""
    from gan_lib.report.findings import diagnostics_markdown

    epochs = list(range(0, 155, 5))
    tl = [0.2] * 27 + [0.8] * 4  # last quarter (epochs 115-150): mean 0.5
    scalars = pd.DataFrame([{"run_id": f"faces_{v}_seed{s}", "epoch": e, "r_t": r, "d_accuracy": 0.8}
                            for v, r_ts in (("tl", tl), ("tl+da", [0.0] * 31)) for s in (0, 1, 2)
                            for e, r in zip(epochs, r_ts)])
    lines = diagnostics_markdown(fake_results({"tl": [200, 210, 205], "tl+da": [201, 212, 205]}), scalars).splitlines()
    assert "| faces | tl | 0.20 | 0.50 | 0.80 | 140 | 3 |" in lines
    assert lines[-1].endswith("DiffAugment counters a D that starts to overfit late (without DiffAugment, r_t stays "
                              "above 0.6 from epoch 140); whether FID improves with it is not resolved yet.")


def test_budget_comparison_reads_the_cr_gap_at_the_longer_budget():
    from gan_lib.report.findings import budget_markdown

    short = with_epochs(fake_results({"tl+da": [100, 110, 105], "tl+da+cr": [104, 99, 112]}), 40)
    long = with_epochs(fake_results({"tl+da": [100, 110, 105], "tl+da+cr": [160, 171, 164]}), 150)
    assert budget_markdown(long, short).endswith(
        "At 150 epochs of faces, CR on top of DiffAugment is +60.0 FID, resolved (worse; 95 % ± 2.5): CR, the "
        "thesis's fourth variant, hurts here (the thesis published no FID for it to compare with).")


def test_rendering_every_report_of_a_folder_without_results_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit, match="2"):
        main(["reports", "--results-root", str(tmp_path), "--output-root", str(tmp_path / "executed")])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / 'runs'}: no study results here" in err
