# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Data-efficient BigGAN: transfer learning, DiffAugment and consistency regularization on tiny datasets
#
# One study's report, rebuilt from `results/` only (one parquet file per run, one row per evaluation). FID and KID
# are clean-fid's (`clean` mode, Inception-v3 features) against the whole training set; lower is better. Every
# number and finding below is computed from the study's rows; sections without data are left out.

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, Markdown, display

from gan_lib.paths import REPO_ROOT
from gan_lib.report import conclusions, domains, fidelity, findings, spread
from gan_lib.report import tables as report
from gan_lib.report.figures import Figures
from gan_lib.report.results import read_results, read_scalars

# %% tags=["parameters"]
results_root: str = "results"  # relative locations are relative to the repository
study: str = "laptop"  # the study whose runs are shown

# %%
pd.set_option("display.max_colwidth", None)
root = REPO_ROOT / results_root
df = read_results(root, study)
outputs = report.study_outputs(root, study)
figs = Figures(outputs["figures"], link_from=outputs["report"].parent)
final = report.final_rows(df)
failed = report.failed_runs(df)
baseline = report.baseline_rows(root, df)  # the default study's runs a study of new variants is compared with
joined = "" if baseline.empty else (
    f" Variants {', '.join(f'`{v}`' for v in report.variant_order(baseline.variant))} come from the default study "
    f"`{baseline.study.iloc[0]}` (same preset, seeds and evaluation latents), joined for the comparisons.")


def section(title: str, text: str = "") -> None:
    display(Markdown(f"## {title}" + (f"\n\n{text}" if text else "")))


def table(frame: pd.DataFrame, index: bool = False) -> HTML:
    return HTML(frame.to_html(index=index, float_format=lambda x: f"{x:.2f}", na_rep="—"))


display(Markdown(f"**Study `{study}`**: {df.run_id.nunique()} runs ({len(final)} finished, {len(failed)} failed), "
                 f"datasets {', '.join(f'`{d}`' for d in sorted(df.dataset.unique()))}, variants "
                 f"{', '.join(f'`{v}`' for v in report.variant_order(df.variant))}, seeds "
                 f"{', '.join(map(str, sorted(df.train_seed.unique())))}."))

# %%
section("The thesis's conclusions", "Each of the thesis's six conclusions with the verdict that the rows of every "
        "committed study give it (confirmed, contradicted, mixed, not resolved, not tested here), and the evidence "
        "(study, budget, dataset, seed-paired gap with its 95 % interval, seeds).")
display(Markdown(conclusions.conclusions_markdown(root)))

# %%
if not final.empty:
    section("Findings", "Computed from the tables below; a gap counts as resolved when its 95 % paired t interval "
            "over seeds excludes zero." + joined)
    display(Markdown(findings.findings_markdown(df, baseline)))

# %%
methods = report.methods_table(df)
if not methods.empty:
    section("Methods", "The variants in these results (from `gan_lib.config.VARIANTS`; \"default study\": one "
            "of the thesis's four), then the settings of each dataset x variant.")
    display(table(report.variants_table(df.variant.unique()), index=True), table(methods, index=True))
sources = report.source_scores(df)
if not sources.empty:
    display(Markdown("**Source model** (the transfer variants' starting point), scored against its own "
                     "pretraining set:"), table(sources))

# %%
sheets = {d: root / "figures" / f"dataset_{d}.png" for d in sorted(df.dataset.unique())}
sheets = {d: p for d, p in sheets.items() if p.exists()}
if sheets:
    section("Datasets")
    for dataset, path in sheets.items():
        figs.show(path, f"dataset_{dataset}", f"Contact sheet of `{dataset}`: training images, seeded selection.")

# %%
similarity, targets = domains.read_similarity(root), domains.with_budget_peers(root, df)
if len(domains.gain_against_distance(similarity, targets)) >= 3:
    section("How far each target is from the source",
            "FID and KID between each target's images and the source's, from data alone (`python -m gan_lib.metrics "
            "similarity`), with transfer's gain on the target (`scratch` − `tl` final FID, paired by seed), over this "
            "study's targets and those its preset's default study trained at the same budget (thesis conclusion 2).")
    display(Markdown(domains.similarity_markdown(similarity, targets)))

# %%
if not final.empty:
    section("Final FID and KID per dataset and variant",
            "Mean ± standard deviation over seeds (best FID per dataset in bold); `FID samples` is the number of "
            "generated images of the final evaluation." + joined)
    display(Markdown(findings.summary_markdown(df, baseline)))
    summary = report.summary_table(df)
    outputs["summary"].parent.mkdir(parents=True, exist_ok=True)
    report.format_summary(summary).to_csv(outputs["summary"])
    section("Fidelity and diversity: precision, recall, density, coverage",
            "Of each variant's final evaluation, in the same Inception features (Kynkäänniemi et al. 2019; Naeem et "
            "al. 2020, with the authors' `prdc`): precision and density, how much of what G draws lies on the real "
            "images' manifold; recall and coverage, how much of it G reaches. Mean ± sd over seeds; — for runs "
            "trained before these were recorded.")
    display(table(fidelity.prdc_table(df), index=True))

# %%
if not final.empty:
    section("Are the gaps larger than the seed-to-seed spread?",
            "Final FID of each variant minus its baseline's, paired by seed (same evaluation latents); negative "
            "means better than the baseline.")
    display(Markdown(findings.gaps_markdown(df, baseline)))
    section("Does a method change the seed-to-seed spread?",
            "Standard deviation of the final FID over seeds for each variant and its baseline, and the "
            "Brown–Forsythe test (Levene's, centred on the median) of whether they differ; with few seeds it "
            "resolves only large differences.")
    display(Markdown(spread.spread_markdown(pd.concat([df, baseline]) if len(baseline) else df,
                                            findings.own_comparisons(df))))

# %%
if report.train_rows(df).step.nunique() > 1:
    section("FID over training")
    figs.show(report.score_curves(df, "images_seen"), "fid_vs_images",
              "FID against real images shown to D, per dataset; line = mean over seeds, band = standard deviation.")
    figs.show(report.score_curves(df, "train_seconds"), "fid_vs_seconds",
              "FID against training seconds, one line per seed (wall time depends on the machine's load).")
    if report.train_rows(df).epochs.notna().any():
        figs.show(report.score_curves(df, "epochs"), "fid_vs_epochs", "FID against epochs of each dataset.")
        figs.show(report.score_curves(df, "epochs", "kid"), "kid_vs_epochs", "KID against epochs of each dataset.")

# %%
budget = "" if study == findings.BUDGET_BASELINE else findings.budget_markdown(
    df, read_results(root, findings.BUDGET_BASELINE))
if budget and not budget.startswith("_"):
    section("The gaps at another training length",
            "The transfer, DiffAugment and CR gaps of this study beside those of the default study "
            f"`{findings.BUDGET_BASELINE}` (training evaluations on 200 samples on both sides, paired by seed).")
    display(Markdown(budget))

# %%
elsewhere = report.same_cells_elsewhere(df, conclusions.counted_studies(root))
if elsewhere:
    section("The same cells in another study",
            "Cells of this study (dataset, variant, training seed; same steps, batch, resolution and final "
            "evaluation latents) that another committed study trained too, for example under other CPU kernels "
            "(`cpu`, from the runs' records): the final FID here beside there, and whether it lies within the 95 % "
            "prediction interval of the other study's seeds, where one more seed would fall.")
    for other, frame in elsewhere.items():
        display(Markdown(findings.same_cells_markdown(other, frame)), table(
            frame.drop(columns=["env_committed", "env_rerun"]).rename(
                columns=lambda c: c.replace("_committed", f" ({other})").replace("_rerun", f" ({study})"))))

# %%
scalars = read_scalars(root, study)
diagnostics = report.diagnostics_figure(scalars, df)
if diagnostics is not None:
    section("Discriminator diagnostics",
            "Per-step values logged during training: r_t (the share of real images D scores positive) rising "
            "towards 1 signals an overfitting D; so does D accuracy.")
    figs.show(diagnostics, "d_diagnostics", "D diagnostics against epochs per variant; each run smoothed by a "
              f"centred rolling mean over {report.DIAGNOSTICS_SMOOTHING} logged points, then line = mean over seeds, "
              "band = standard deviation.")
    display(Markdown(findings.diagnostics_markdown(df, scalars)))
else:
    plt.close("all")

# %%
sample_paths = {}
for dataset, rows in final.groupby("dataset"):
    rows = rows.sort_values(["train_seed", "variant"], key=lambda c: c.map(
        {v: i for i, v in enumerate(report.variant_order(rows.variant))}) if c.name == "variant" else c)
    paths = {f"{r.variant} (seed {r.train_seed})": root / "figures" / "samples" / r.study / f"{r.run_id}.png"
             for r in rows.itertuples()}
    sample_paths[dataset] = (paths, rows.variant.nunique())
if any(any(Path(p).exists() for p in paths.values()) for paths, _ in sample_paths.values()):
    section("Samples", "Fixed latents, EMA generator, final step; one row per training seed.")
    for dataset, (paths, columns) in sample_paths.items():
        figs.show(report.image_panel(paths, columns=columns, title=dataset), f"samples_{dataset}",
                  f"Samples on `{dataset}`: columns are variants, rows are training seeds.")

# %%
memo = final.dropna(subset=["nn_distance_ratio"])
if not memo.empty:
    section("Memorization check",
            "Each generated sample beside its nearest training image in Inception feature space. The ratio is the "
            "median of (sample-to-nearest-training-image distance) / (that image's distance to its own nearest "
            "neighbour): values well below 1 mean copies.")
    display(memo.pivot_table(index="dataset", columns="variant", values="nn_distance_ratio").round(2))
    for dataset, rows in memo.groupby("dataset"):
        first = rows.sort_values("train_seed").drop_duplicates("variant").set_index("variant")
        paths = {f"{v} (seed {first.train_seed[v]})": root / "figures" / "memorization" / study / f"{first.run_id[v]}.png"
                 for v in report.variant_order(first.index)}
        figs.show(report.image_panel(paths, columns=len(paths), title=f"{dataset}: sample | nearest training image",
                                     panel_size=(4.2, 17.4)), f"memorization_{dataset}",
                  f"Nearest training images on `{dataset}`, first seed of each variant: each generated sample "
                  f"(left of a pair) beside its nearest training image.")

# %%
fig = report.truncation_figure(df)
if fig is not None:
    section("Truncation sweep", "FID of the final generator at several truncation thresholds (0 = none).")
    figs.show(fig, "truncation", "FID against the truncation threshold, per dataset and variant.")

# %%
published, differs = report.published_comparison(final)
section("The original study's published number",
        "The thesis reports one FID: `tl+da` on 1,000 LSUN bedrooms at 128 px after 150 epochs. It is not rerun "
        "here; ours is shown beside it only when the protocol matches. " + differs)
display(table(published))

# %%
if not failed.empty:
    section("Failed runs", "Each failed run with the step it reached and its error; the others went on.")
    display(table(failed))

# %%
times = report.study_wall_times(root, study)
if not times.empty:
    section("Wall time of the study",
            f"Each `python -m gan_lib.study` invocation that trained something, as recorded in "
            f"`results/studies/{study}.json`.")
    display(table(times))
