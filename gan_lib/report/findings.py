"""What a study's numbers say, as Markdown computed from its result rows: the summary table, seed-paired gaps
with 95 % intervals, and the findings in words. The report notebook and the README's generated blocks both use
these, so no number in the prose is typed by hand.

    python -m gan_lib.report readme [--check]   # rewrite (or check) the README's generated blocks
    python -m gan_lib.report reports            # render every committed study's report and the index again
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

from gan_lib.errors import cli_errors
from gan_lib.paths import REPO_ROOT, results_dir
from gan_lib.report import domains, intervals
from gan_lib.report import tables as report
from gan_lib.report.conclusions import conclusions_markdown
from gan_lib.report.interactions import interaction_bullets
from gan_lib.report.overfitting import OVERFIT_R_T, LateDiagnostics, late_diagnostics
from gan_lib.report.rendering import render_all
from gan_lib.report.results import read_results, read_scalars
from gan_lib.report.spread import spread_markdown

# (variant, baseline): what each comparison asks; those whose variants a study holds are shown.
QUESTION = {("tl", "scratch"): "transfer vs scratch", ("tl+da", "tl"): "DiffAugment on top of transfer",
            ("tl+da+cr", "tl+da"): "CR on top of DiffAugment", ("tl+da+cr", "tl"): "DiffAugment + CR vs transfer",
            ("tl+freezed", "tl"): "FreezeD on top of transfer", ("tl+ada", "tl"): "ADA on top of transfer",
            ("tl+ada", "tl+da"): "adaptive vs always-on augmentation", ("scratch+da", "scratch"):
            "DiffAugment from scratch (the DiffAugment paper's setting)", ("scratch+da", "tl"):
            "DiffAugment from scratch vs transfer",
            ("tl+da+cr-clean", "tl+da"): "CR as the DiffAugment authors run it (clean), on top of DiffAugment",
            ("tl+da+cr-paper", "tl+da"): "CR as the CR paper runs it, on top of DiffAugment",
            ("tl+da+cr-clean", "tl+da+cr"): "CR's clean recipe vs the stacked one",
            ("tl+da+cr-paper", "tl+da+cr"): "CR's paper recipe vs the stacked one",
            ("tl-minegan", "tl"): "MineGAN's own miner vs the mixture miner",
            ("tl+da-minegan", "tl+da"): "MineGAN's own miner vs the mixture miner, with DiffAugment",
            ("tl+da-minegan", "tl-minegan"): "DiffAugment on top of transfer, with MineGAN's miner",
            ("tl+da+lecam", "tl+da"): "LeCam on top of DiffAugment",
            ("tl+da+lecam", "tl+da+cr"): "LeCam vs CR on top of DiffAugment"}
COMPARISONS = list(QUESTION)
# what a longer budget may change: transfer's lead, and the DA and CR gaps
BUDGET_COMPARISONS = [("tl", "scratch"), ("tl+da", "tl"), ("tl+da+cr", "tl+da"), ("tl+da+cr", "tl")]


def own_comparisons(df: pd.DataFrame) -> list[tuple[str, str]]:
    """The comparisons whose variant `df` (one study's rows) ran: a study of new variants is not asked again what
    its joined baseline study already answers."""
    return [c for c in COMPARISONS if c[0] in set(df.variant)]


def _r(x: float) -> str:
    """A diagnostic such as r_t, two decimals, with a typographic minus like the gaps'."""
    return f"{x:.2f}".replace("-", "−")


def all_gaps(df: pd.DataFrame, comparisons: list[tuple[str, str]] = COMPARISONS) -> pd.DataFrame:
    """`report.paired_gaps` for each (variant, baseline) the results hold, one row per dataset x comparison."""
    rows = []
    for variant, baseline in comparisons:
        gaps = report.paired_gaps(df, baseline)
        if gaps.empty or variant not in gaps.index.get_level_values("variant"):
            continue
        for (dataset, _), g in gaps.xs(variant, level="variant", drop_level=False).iterrows():
            rows.append({"dataset": dataset, "variant": variant, "baseline": baseline, **g.to_dict()})
    return pd.DataFrame(rows).sort_values("dataset", kind="stable", ignore_index=True) if rows else pd.DataFrame()


def _joined(df: pd.DataFrame, baseline: pd.DataFrame | None) -> pd.DataFrame:
    """`df` with the `baseline` rows it is compared against (`report.baseline_rows`), or `df` itself if none."""
    return pd.concat([df, baseline]) if baseline is not None and len(baseline) else df


def summary_markdown(df: pd.DataFrame, baseline: pd.DataFrame | None = None) -> str:
    joined = _joined(df, baseline)
    table = report.summary_table(joined)
    if table.empty:
        return "_No finished runs._"
    best = table.groupby(level="dataset").fid_mean.idxmin().tolist()
    # Joined studies ran at other times (other machine load): each row says whose runs it holds.
    study = report.final_rows(joined).groupby(["dataset", "variant"]).study.first() if joined is not df else None
    lines = ["| dataset | variant | FID | KID x 1000 | seeds | FID samples | train min (median) |"
             + (" study |" if study is not None else ""), "|---|---|---|---|---|---|---|" + ("---|" if study is not None else "")]
    last = None
    for (dataset, variant), r in table.iterrows():
        bold = "**" if (dataset, variant) in best else ""
        fid, kid = report.mean_pm_std(r.fid_mean, r.fid_std), report.mean_pm_std(r.kid_mean, r.kid_std, scale=1000)
        lines.append(f"| {dataset if dataset != last else ''} | {variant} | {bold}{fid}{bold} | {kid} | {int(r.n)} | "
                     f"{int(r.samples)} | {r.train_minutes:.1f} |"
                     + (f" `{study[dataset, variant]}` |" if study is not None else ""))
        last = dataset
    return "\n".join(lines)


def gaps_markdown(df: pd.DataFrame, baseline: pd.DataFrame | None = None) -> str:
    """Seed-paired gaps of the comparisons `df` ran, against `baseline`'s rows (`report.baseline_rows`) where given."""
    gaps = all_gaps(_joined(df, baseline), own_comparisons(df))
    if gaps.empty:
        return "_No paired comparisons (each needs both variants on the same seeds)._"
    lines = ["| dataset | comparison | FID gap (mean ± std) | 95 % ± | seeds | resolved |", "|---|---|---|---|---|---|"]
    last = None
    for g in gaps.itertuples():
        lines.append(f"| {g.dataset if g.dataset != last else ''} | {g.variant} − {g.baseline} | "
                     f"{report.signed(g.gap_mean)}{'' if pd.isna(g.gap_std) else f' ± {g.gap_std:.1f}'} | "
                     f"{'—' if pd.isna(g.ci95) else f'{g.ci95:.1f}'} | {int(g.n)} | "
                     f"{'yes' if g.resolved else 'no'} |")
        last = g.dataset
    return "\n".join(lines)


def findings_markdown(df: pd.DataFrame, baseline: pd.DataFrame | None = None) -> str:
    """The findings as Markdown bullets, each computed from the rows: ranking and gaps over `df` and the `baseline`
    rows it is compared against (`report.baseline_rows`), cost and memorization of `df`'s own runs."""
    joined = _joined(df, baseline)
    comparisons = own_comparisons(df)
    gaps, table = all_gaps(joined, comparisons), report.summary_table(joined)
    if table.empty:
        return "_No finished runs, no findings._"
    out = []
    for dataset, t in table.groupby(level="dataset"):
        ranked = t.fid_mean.droplevel("dataset").sort_values()
        out.append(f"- **{dataset}**: lowest final FID `{ranked.index[0]}` ({ranked.iloc[0]:.1f}); order "
                   + " < ".join(f"`{v}`" for v in ranked.index) + ".")
    for variant, base in comparisons:
        sub = gaps[(gaps.variant == variant) & (gaps.baseline == base)] if len(gaps) else gaps
        if sub.empty:
            continue
        parts = [f"{g.dataset} {report.signed(g.gap_mean)} FID, {intervals.verdict(g)}" for g in sub.itertuples()]
        helped = [g.dataset for g in sub.itertuples() if g.resolved and g.gap_mean < 0]
        hurt = [g.dataset for g in sub.itertuples() if g.resolved and g.gap_mean > 0]
        summary = ("helps on " + ", ".join(helped) if helped else "") + ("; " if helped and hurt else "") + \
                  ("hurts on " + ", ".join(hurt) if hurt else "")
        out.append(f"- **{QUESTION[variant, base]}** (`{variant}` − `{base}`, negative = better): "
                   f"{summary or 'no resolved effect'} ({'; '.join(parts)}).")
    out += interaction_bullets(joined)
    final = report.final_rows(df)
    minutes = final.groupby("variant").train_seconds.median() / 60
    if {"tl+da+cr", "tl+da"} <= set(minutes.index):
        out.append(f"- **Cost of CR**: median training time {minutes['tl+da+cr']:.1f} vs {minutes['tl+da']:.1f} min "
                   f"per run ({minutes['tl+da+cr'] / minutes['tl+da'] - 1:+.0%}), one more D pass per step.")
    ratios = final.nn_distance_ratio.dropna()
    if len(ratios):
        verdict = "no run copies its training images" if ratios.min() > 1 else "some runs come close to copying"
        out.append(f"- **Memorization**: nearest-training-image distance ratios {ratios.min():.2f}–{ratios.max():.2f} "
                   f"(below 1 would mean copies): {verdict}.")
    return "\n".join(out)


def _gap_at(g, epochs: float) -> str:
    """'−20.0 (2.5) at 150 epochs, 3 seeds': a gap, its 95 % half-width (— for one seed), length and seeds."""
    ci = "—" if pd.isna(g.ci95) else f"{g.ci95:.1f}"
    return f"{report.signed(g.gap_mean)} ({ci}) at {epochs:.0f} epochs, {int(g.n)} seed{'s' if g.n > 1 else ''}"


def budget_markdown(long: pd.DataFrame, short: pd.DataFrame) -> str:
    """The transfer, DA and CR gaps of two studies side by side (the same comparisons, datasets and FID sample
    count), to answer whether a longer budget changes their sign or size. Uses the training evaluations (eval_kind
    'train') so both sides have the same number of FID samples."""
    rows = {}
    for name, df in (("short", short), ("long", long)):
        train = df[df.eval_kind == "train"]
        gaps = all_gaps(train, BUDGET_COMPARISONS)
        final = report.final_rows(train)
        epochs = report.epochs_seen(final).groupby(final.dataset).median()
        for g in gaps.itertuples():
            rows.setdefault((g.dataset, g.variant, g.baseline), {})[name] = (g, epochs.get(g.dataset))
    both = {k: v for k, v in rows.items() if len(v) == 2}
    if not both:
        return "_The two studies share no comparison yet._"
    lines = ["| dataset | comparison | shorter budget: gap (95 % ±) | longer budget: gap (95 % ±) | reading |",
             "|---|---|---|---|---|"]
    for (dataset, variant, baseline), v in sorted(both.items()):
        (gs, es), (gl, el) = v["short"], v["long"]
        same_sign = (gs.gap_mean > 0) == (gl.gap_mean > 0)
        ratio = abs(gl.gap_mean) / max(abs(gs.gap_mean), 1e-9)
        size = "about the same size" if 0.9 <= ratio <= 1.1 else ("smaller" if ratio < 1 else "larger")
        reading = ("same sign" if same_sign else "sign flips") + f", {size}" + (
            "; resolved at the longer budget" if gl.resolved else "; not resolved at the longer budget")
        lines.append(f"| {dataset} | {variant} − {baseline} | {_gap_at(gs, es)} | {_gap_at(gl, el)} | {reading} |")
    for (dataset, variant, baseline), v in sorted(both.items()):
        if (variant, baseline) in THESIS_READINGS:
            g, epochs = v["long"]
            what, helps, hurts, open_ = THESIS_READINGS[variant, baseline]
            verdict = (helps if g.gap_mean < 0 else hurts) if g.resolved else open_
            lines.append(f"\nAt {epochs:.0f} epochs of {dataset}, {what} is {report.signed(g.gap_mean)} FID, "
                         f"{intervals.verdict(g)}: {verdict}.")
    return "\n".join(lines)


# (variant, baseline) -> what the gap measures, and how it reads against the thesis if it helps, if it hurts, if
# it is not resolved. The thesis published one number, for its DiffAugment variant; none for its CR variant.
THESIS_READINGS = {
    ("tl+da", "tl"): ("DiffAugment on top of transfer",
                      "this agrees with the thesis, which carried DiffAugment into its best variant",
                      "this disagrees with the thesis, which carried DiffAugment into its best variant",
                      "this neither confirms nor refutes the thesis's choice of DiffAugment yet"),
    ("tl+da+cr", "tl+da"): ("CR on top of DiffAugment",
                            "CR, the thesis's fourth variant, helps here (the thesis published no FID for it to "
                            "compare with)",
                            "CR, the thesis's fourth variant, hurts here (the thesis published no FID for it to "
                            "compare with)",
                            "whether CR, the thesis's fourth variant, helps is not resolved here"),
}


def diagnostics_markdown(df: pd.DataFrame, scalars: pd.DataFrame) -> str:
    """What the r_t curves say per dataset x variant (mean over seeds): r_t over the first and the last quarter of
    training, the first epoch at which it stays above ADA's target, D's accuracy over the last quarter, and where a
    run adapts its augmentation (ADA) the probability p over the last quarter."""
    late = late_diagnostics(df, scalars)
    if not late:
        return "_No per-step diagnostics recorded for this study._"
    ada = any(d.aug_p is not None for d in late.values())
    lines = [f"| dataset | variant | r_t, first quarter | r_t, last quarter | D accuracy, last quarter | "
             f"epoch r_t stays > {OVERFIT_R_T} |" + (" ADA's p, last quarter |" if ada else "") + " seeds |",
             "|---|---|---|---|---|---|" + ("---|" if ada else "") + "---|"]
    for (dataset, variant), d in late.items():
        p = (" — |" if d.aug_p is None or pd.isna(d.aug_p) else f" {d.aug_p:.2f} |") if ada else ""
        lines.append(f"| {dataset} | {variant} | {_r(d.r_t_first)} | {_r(d.r_t)} | {d.d_accuracy:.2f} | "
                     f"{'never' if d.onset is None else f'{d.onset:.0f}'} |{p} {d.seeds} |")
    gaps = all_gaps(df, [(w, wo) for w, wo, _ in OVERFIT_PAIRS])
    lines += _overfitting_words(late, {(g.dataset, g.variant, g.baseline): g for g in gaps.itertuples()})
    return "\n".join(lines)


# (with, without, what differs): the pairs whose r_t says whether a method keeps D from overfitting
OVERFIT_PAIRS = [("tl+da", "tl", "DiffAugment"), ("scratch+da", "scratch", "DiffAugment"),
                 ("tl+da+cr", "tl+da", "CR"), ("tl+ada", "tl", "ADA")]


def _overfitting_words(late: dict[tuple[str, str], LateDiagnostics], gaps: dict) -> list[str]:
    """One bullet per dataset x pair whose both sides have diagnostics (the last quarter's r_t and D accuracy),
    read together with the pair's final FID gap where `gaps` (keyed dataset, variant, baseline) has it, and one
    per adaptive-augmentation run (where its p ended up)."""
    out = []
    for dataset in sorted({d for d, _ in late}):
        for with_, without, method in OVERFIT_PAIRS:
            if (dataset, with_) not in late or (dataset, without) not in late:
                continue
            w, wo = late[dataset, with_], late[dataset, without]
            r_w, a_w, r_wo, a_wo, onset_wo = w.r_t, w.d_accuracy, wo.r_t, wo.d_accuracy, wo.onset
            lowers = r_w < r_wo - 0.05  # the method lowers r_t: D separates the training images less sharply
            reading = (f"{method} keeps D from separating the training images as sharply" if lowers else
                       f"D scores the real images more confidently with {method}" if r_w > r_wo + 0.05 else
                       f"no sign that {method} changes how D fits the real images")
            g = gaps.get((dataset, with_, without))
            if g is not None:
                reading += (f"; final FID {report.signed(g.gap_mean)}, {intervals.verdict(g)}: "
                            + _why(method, lowers, r_wo, onset_wo, g))
            out.append(f"- {dataset}, `{with_}` vs `{without}`: r_t over the last quarter {_r(r_w)} vs {_r(r_wo)}, "
                       f"D accuracy {a_w:.2f} vs {a_wo:.2f}: {reading}.")
        for (d, variant), diag in late.items():
            r_t, p = diag.r_t, diag.aug_p
            if d == dataset and p is not None and not pd.isna(p):
                reading = ("r_t stayed under the target, so ADA hardly augmented" if p < 0.05 else
                           "ADA augmented, steering r_t towards the target")
                out.append(f"- {dataset}, `{variant}`: ADA's p over the last quarter {p:.2f}, r_t {_r(r_t)} against "
                           f"its target {OVERFIT_R_T}: {reading}.")
    return ([""] + out) if out else []


def _why(method: str, lowers: bool, r_without: float, onset_without: float | None, gap) -> str:
    """What the pair's r_t says about its FID gap: whether there was overfitting to counter (by the last quarter's
    mean or by the smoothed curve staying above the target), and whether the method, where it `lowers` r_t,
    paid off."""
    fid = ("not resolved" if not gap.resolved else "better" if gap.gap_mean < 0 else "worse")
    if r_without <= OVERFIT_R_T and onset_without is None:
        return (f"without {method} D does not overfit by ADA's measure (r_t, mean over seeds, at most {OVERFIT_R_T} "
                f"over the last quarter and never above it for good), so {method} has little to counter"
                + {"better": ", yet FID improves", "worse": ", and FID gets worse", "not resolved": ""}[fid])
    overfitting = ("an overfitting D" if r_without > OVERFIT_R_T else
                   f"a D that starts to overfit late (without {method}, r_t stays above {OVERFIT_R_T} from epoch "
                   f"{onset_without:.0f})")
    if lowers:
        return {"better": f"{method} counters {overfitting} and FID improves with it",
                "worse": f"{method} counters {overfitting}, but FID gets worse with it: a D that overfits is not "
                         "what limits G here",
                "not resolved": f"{method} counters {overfitting}; whether FID improves with it is not resolved "
                                "yet"}[fid]
    return f"D overfits with and without {method}: {method} does not prevent it here"


def same_cells_markdown(other: str, table: pd.DataFrame) -> str:
    """One line on `report.same_cells_elsewhere`'s table against study `other`: how many cells fall within its
    seeds' prediction interval, and the largest difference."""
    within = table.verdict.str.startswith("within").sum()
    widest = table.loc[table.fid_diff.abs().idxmax()]
    return (f"Against `{other}`: {within} of {len(table)} cells within its seeds' 95 % prediction interval, "
            f"{(table.verdict == 'bit-identical').sum()} bit-identical; the largest difference is "
            f"{report.signed(widest.fid_diff)} FID (`{widest.variant}` on {widest.dataset}, seed {widest.train_seed}).")


# --------------------------------------------------------------------------------------------- README blocks
BLOCK = re.compile(r"(<!-- generated: (?P<study>[\w.+-]+) (?P<kind>summary|gaps|findings|wall|budget|diagnostics|"
                   r"spread|conclusions|similarity) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)
VARIANTS_BLOCK = re.compile(r"(<!-- variants: gan_lib.config.VARIANTS -->\n).*?(\n<!-- end variants -->)", re.S)


def wall_markdown(df: pd.DataFrame, results_root: Path) -> str:
    """Each recorded invocation of the study: when, wall minutes, runs trained and skipped, machine."""
    study = df.study.iloc[0]
    times = report.study_wall_times(results_root, study)
    if times.empty:
        return f"_No recorded invocation of `{study}`._"
    lines = ["| started | wall min | ended | runs trained | runs skipped | cpus | gpu |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {t.started} | {t._2:.1f} | {t.ended} | {t._4} | {t._5} | {t.cpus} | {t.gpu} |"
              for t in times.itertuples()]
    return "\n".join(lines)


BUDGET_BASELINE = "laptop"  # the study a `budget` block compares with: the default, 40 / 4 epochs
RENDER = {"summary": summary_markdown, "gaps": gaps_markdown, "findings": findings_markdown}


def render_readme(text: str, results_root: Path) -> str:
    """`text` with every generated block recomputed from the results of the study it names."""
    cache: dict[str, pd.DataFrame] = {}

    def block(m: re.Match) -> str:
        study = m["study"]
        if m["kind"] == "conclusions":  # every study's rows: `<!-- generated: all conclusions -->`
            return m.group(1) + conclusions_markdown(results_root) + "\n" + m.group(5)
        if study not in cache:
            cache[study] = read_results(results_root, study)
        kind, df = m["kind"], cache[study]
        if kind == "similarity":  # the distances are data alone: shown before the study has rows
            body = domains.similarity_markdown(domains.read_similarity(results_root),
                                               domains.with_budget_peers(results_root, df))
            return m.group(1) + body + "\n" + m.group(5)
        if df.empty:
            return m.group(1) + f"_No results of study `{study}` under `results/` yet._\n" + m.group(5)
        if kind == "wall":
            body = wall_markdown(df, results_root)
        elif kind == "budget":
            body = budget_markdown(df, read_results(results_root, BUDGET_BASELINE))
        elif kind == "diagnostics":
            body = diagnostics_markdown(df, read_scalars(results_root, study))
        elif kind == "spread":
            body = spread_markdown(_joined(df, report.baseline_rows(results_root, df)), own_comparisons(df))
        else:
            body = RENDER[kind](df, report.baseline_rows(results_root, df))
        return m.group(1) + body + "\n" + m.group(5)

    text = VARIANTS_BLOCK.sub(lambda m: m.group(1) + report.variants_markdown() + m.group(2), text)
    return BLOCK.sub(block, text)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_lib.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["readme", "reports"])
    parser.add_argument("--check", action="store_true", help="exit 1 if a document's blocks are out of date")
    parser.add_argument("--readme", nargs="+", default=None, metavar="FILE",
                        help="the documents to update (default: README.md and docs/*.md)")
    parser.add_argument("--results-root", default=None, help="default: results/")
    parser.add_argument("--output-root", default=str(REPO_ROOT / "papermill_runs"),
                        help="reports: where the executed report notebooks go (default: papermill_runs/)")
    args = parser.parse_args(argv)
    if args.command == "reports" and (args.check or args.readme):
        parser.error("--check and --readme are options of `readme`, not of `reports`")
    root = Path(args.results_root) if args.results_root else results_dir()
    if args.command == "reports":
        for path in render_all(root.resolve(), Path(args.output_root).resolve()):
            print(path)
        return 0
    stale = 0
    for path in [Path(p) for p in args.readme] if args.readme else documents():
        text = path.read_text()
        new = render_readme(text, root)
        if args.check:
            if new != text:
                print(f"{path}: generated blocks are out of date; run `python -m gan_lib.report readme`",
                      file=sys.stderr)
                stale += 1
            continue
        if new != text:
            from gan_lib.files import atomic_write_bytes

            atomic_write_bytes(path, new.encode())
        print(f"{path}: {len(BLOCK.findall(text))} generated blocks {'updated' if new != text else 'already current'}")
    if args.check and not stale:
        print("generated blocks match the results")
    return 1 if stale else 0


def documents() -> list[Path]:
    """The files with generated blocks: the README and every page under docs/."""
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]

