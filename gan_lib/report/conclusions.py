"""The thesis's six conclusions, each with a verdict computed from the rows of every study that bears on it.

A verdict is *confirmed* (resolved evidence for it, none against), *contradicted* (resolved evidence against it,
none for), *mixed* (resolved evidence both ways), *not resolved* (only unresolved gaps, with their intervals) or
*not tested here* (no study holds what would test it; the text says what would). Where evidence from several
budgets or datasets disagrees in resolution, the verdict says where it holds. Nothing here is typed prose about
numbers: change the rows and the verdicts change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gan_lib.report import domains, intervals, tables
from gan_lib.report.overfitting import OVERFIT_R_T, late_diagnostics
from gan_lib.report.results import read_results, read_scalars

# The thesis's conclusions (translated from its slides), numbered as there.
CLAIMS = {
    1: "Transfer learning with fine-tuning markedly increases the models' efficiency",
    2: "Transfer is the more efficient the more similar the target's domain is to the pretrained networks'",
    3: "Transfer plus data augmentation and consistency regularization improves the models' efficiency",
    4: "Consistency regularization needs more computing power",
    5: "A GAN's efficiency depends strongly on the quantity and variability of the dataset's samples",
    6: "Despite the improvements, the common problems of GANs remain",
}
# Datasets that differ in one property only: (fewer, more) images of one pool; (low, high) variability, ~100 each.
QUANTITY_PAIR = ("fluent-objects-100", "fluent-objects-1000")
VARIABILITY_PAIR = ("fluent-faces", "fluent-objects-100")
# CR as its references run it (docs/references.md): evidence on conclusion 3 beside `tl+da+cr`, read in the study
# that ran them together with the rows of its preset's default study (`tables.baseline_rows`)
CR_RECIPES = ("tl+da+cr-clean", "tl+da+cr-paper")
SUPPORTS, AGAINST, OPEN = "supports", "against", "not resolved"
MEASURED = "measured (no threshold decides it)"  # evidence shown beside a verdict, not counted in it


@dataclass(frozen=True)
class Evidence:
    study: str
    budget: str  # "40 epochs", or "240 steps of 16 (4–40 epochs)"
    dataset: str
    what: str  # "`tl` − `scratch` −153.7 FID (95 % ± 43.9, 3 seeds)"
    reading: str  # SUPPORTS, AGAINST or OPEN


@dataclass(frozen=True)
class Verdict:
    number: int
    verdict: str
    why: str
    evidence: tuple[Evidence, ...]


def counted_studies(results_root: Path) -> dict[str, pd.DataFrame]:
    """Every study under `results_root` whose rows count as evidence: not the smoke preset, not a `--rerun`
    reproduction or a manual papermill run (the studies git ignores)."""
    df = read_results(results_root)
    keep = ~df.study.str.endswith("-rerun") & ~df.study.isin(["smoke", "manual"]) & (df.preset != "smoke")
    return {study: d for study, d in df[keep].groupby("study")}


def _budget(final: pd.DataFrame) -> str:
    """'150 epochs'; for datasets of different sizes trained for one step count, '240 steps of 16 (4–40 epochs)'."""
    epochs = sorted(set(tables.epochs_seen(final).groupby(final.dataset).median().round()))
    if len(epochs) == 1:
        return f"{epochs[0]:.0f} epochs"
    span = f"{epochs[0]:.0f}–{epochs[-1]:.0f} epochs"
    if final.step.nunique() == 1 and final.batch_size.nunique() == 1:
        return f"{final.step.iloc[0]} steps of {final.batch_size.iloc[0]} ({span})"
    return span


def _reading(resolved: bool, better: bool) -> str:
    return OPEN if not resolved else SUPPORTS if better else AGAINST


def gap_evidence(studies: dict[str, pd.DataFrame], variant: str, baseline: str,
                 lower_supports: bool = True) -> list[Evidence]:
    """The seed-paired final-FID gap `variant` − `baseline` in each study and dataset that ran both."""
    out = []
    for study, df in sorted(studies.items()):
        gaps = tables.paired_gaps(df, baseline)
        if gaps.empty or variant not in gaps.index.get_level_values("variant"):
            continue
        final = tables.final_rows(df)
        for (dataset, _), g in gaps.xs(variant, level="variant", drop_level=False).iterrows():
            if g.n < 2:  # one seed has no interval: no evidence either way
                continue
            what = f"`{variant}` − `{baseline}` {tables.signed(g.gap_mean)} FID (95 % ± {g.ci95:.1f}, {int(g.n)} seeds)"
            out.append(Evidence(study, _budget(final[final.dataset == dataset]), dataset, what,
                                _reading(bool(g.resolved), (g.gap_mean < 0) == lower_supports)))
    return out


def cost_evidence(studies: dict[str, pd.DataFrame], variant: str = "tl+da+cr",
                  baseline: str = "tl+da") -> list[Evidence]:
    """The training time of `variant` over `baseline`'s, paired by seed (95 % t interval of the log ratio). Wall
    time depends on the machine's load, which the pairing does not remove."""
    out = []
    for study, df in sorted(studies.items()):
        final = tables.final_rows(df)
        for dataset, d in final.groupby("dataset"):
            t = d.pivot_table(index="train_seed", columns="variant", values="train_seconds")
            if variant not in t or baseline not in t:
                continue
            logs = np.log(t[variant] / t[baseline]).dropna()
            if len(logs) < 2:
                continue
            mean, half = logs.mean(), intervals.t_half_width(logs)
            what = (f"training time `{variant}` / `{baseline}` ×{np.exp(mean):.2f} (95 %: ×{np.exp(mean - half):.2f}"
                    f"–×{np.exp(mean + half):.2f}, {len(logs)} seeds)")
            out.append(Evidence(study, _budget(d), dataset, what, _reading(abs(mean) > half, mean > 0)))
    return out


def recipe_evidence(studies: dict[str, pd.DataFrame], results_root: Path) -> list[Evidence]:
    """Conclusion 3 under each of CR's reference recipes: `gap_evidence` of each recipe variant against `tl`, in the
    studies that ran it, joined with the `tl` runs of their preset's default study."""
    joined = {study: pd.concat([df, tables.baseline_rows(results_root, df)]) for study, df in studies.items()
              if set(df.variant) & set(CR_RECIPES)}
    return [e for variant in CR_RECIPES for e in gap_evidence(joined, variant, "tl")]


def with_budget_peers(studies: dict[str, pd.DataFrame], results_root: Path) -> dict[str, pd.DataFrame]:
    """Each study's rows with the other targets its preset's default study trained at the same budget
    (`domains.budget_peers`): what conclusions 2 and 5 compare across targets."""
    return {study: domains.with_budget_peers(results_root, df) for study, df in studies.items()}


def similarity_evidence(peers: dict[str, pd.DataFrame], results_root: Path) -> list[Evidence]:
    """Transfer's gain (scratch − tl final FID, mean over paired seeds) against each target's FID to the source,
    as Spearman's ρ with its exact p, per study (with its budget peers) with three or more such targets."""
    similarity = domains.read_similarity(results_root)
    out = []
    for study, df in sorted(peers.items()):
        table = domains.gain_against_distance(similarity, df)
        if len(table) < 3:
            continue
        rho, p, floor = domains.exact_spearman(list(table.fid), list(table.gain))
        what = (f"Spearman ρ = {rho:+.2f} between the target's FID to the source and transfer's gain (exact p = "
                f"{p:.3f}, the least {len(table)} targets can give {floor:.3f}; {', '.join(table.index)})")
        out.append(Evidence(study, _budget(tables.final_rows(df)), f"{len(table)} targets", what,
                            _reading(p < intervals.ALPHA, rho < 0)))
    return out


def dataset_pair_evidence(studies: dict[str, pd.DataFrame], pair: tuple[str, str], label: str) -> list[Evidence]:
    """Final FID on `pair[0]` minus on `pair[1]` per variant, paired by seed, in studies that ran both (each
    against its own dataset's images, so FIDs of two datasets compare only roughly)."""
    out = []
    for study, df in sorted(studies.items()):
        final = tables.final_rows(df)
        t = final.pivot_table(index=["variant", "train_seed"], columns="dataset", values="fid")
        if not set(pair) <= set(t.columns):
            continue
        for variant, g in (t[pair[0]] - t[pair[1]]).dropna().groupby(level="variant"):
            if len(g) < 2:
                continue
            half = intervals.t_half_width(g)
            what = (f"{label}: `{variant}` FID on {pair[0]} − on {pair[1]} {tables.signed(g.mean())} "
                    f"(95 % ± {half:.1f}, {len(g)} seeds)")
            rows = final[(final.variant == variant) & final.dataset.isin(pair)]  # the pair's own budget
            out.append(Evidence(study, _budget(rows), f"{pair[0]} vs {pair[1]}", what,
                                _reading(abs(g.mean()) > half, g.mean() > 0)))
    return out


def problems_evidence(studies: dict[str, pd.DataFrame], results_root: Path) -> list[Evidence]:
    """What the rows hold of GANs' common problems in the improved variants (every variant but `scratch`), per
    study: failed (diverged) runs, samples that copy their training images (nearest-neighbour ratio below 1), and a
    discriminator that overfits by ADA's measure (r_t, mean over seeds, above ADA's target over the last quarter of
    training, or its smoothed curve staying above it from some epoch on)."""
    out = []
    for study, df in sorted(studies.items()):
        df = df[df.variant != "scratch"]
        if df.empty:
            continue
        final = tables.final_rows(df)
        budget = _budget(final)
        failed = sorted(set(df.run_id[df.status == "failed"]))
        out.append(Evidence(study, budget, "all", f"{len(failed)} of {df.run_id.nunique()} runs failed",
                            SUPPORTS if failed else AGAINST))
        sd = final.groupby(["dataset", "variant"]).fid.std().dropna()
        if len(sd):
            out.append(Evidence(study, budget, "all", f"seed-to-seed sd of the final FID {sd.min():.1f}–{sd.max():.1f}",
                                MEASURED))
        ratios = final.nn_distance_ratio.dropna()
        if len(ratios):
            out.append(Evidence(study, budget, "all", f"nearest-training-image ratio {ratios.min():.2f}–"
                                f"{ratios.max():.2f} (below 1: copies)", SUPPORTS if ratios.min() < 1 else AGAINST))
        late = late_diagnostics(df, read_scalars(results_root, study))
        if late:
            over = [f"`{v}` on {d} (r_t {x.r_t:.2f}" + (f", above {OVERFIT_R_T} from epoch {x.onset:.0f})"
                                                        if x.onset is not None else ")")
                    for (d, v), x in late.items() if x.overfits]
            out.append(Evidence(study, budget, "all", "D overfits by ADA's measure: "
                                + (", ".join(over) if over else "in no variant"), SUPPORTS if over else AGAINST))
    return out


NOT_TESTED = {
    2: "needs transfer's gain on three or more targets of graded similarity to the source and each target's FID to "
       f"the source (`results/{domains.SIMILARITY}`): the domains study",
    5: f"needs runs on `{QUANTITY_PAIR[0]}` beside `{QUANTITY_PAIR[1]}` (quantity) and `{VARIABILITY_PAIR[0]}` "
       "(variability) in one study: the domains study",
}


def judge(number: int, evidence: list[Evidence]) -> Verdict:
    """The verdict a conclusion's evidence gives, and where it holds."""
    if not evidence:
        return Verdict(number, "not tested here", NOT_TESTED.get(number, "no study holds what would test it"), ())
    where = {r: sorted({f"`{e.study}` at {e.budget}" + (f" on {e.dataset}" if e.dataset != "all" else "")
                        for e in evidence if e.reading == r}) for r in (SUPPORTS, AGAINST, OPEN)}
    if number == 6:  # one problem that remains confirms it; it is contradicted only if none shows anywhere
        verdict = "confirmed" if where[SUPPORTS] else "contradicted"
        return Verdict(number, verdict, "problems seen in " + "; ".join(where[SUPPORTS]) if where[SUPPORTS] else
                       "none of the measured problems in any study", tuple(evidence))
    verdict = ("mixed" if where[SUPPORTS] and where[AGAINST] else "confirmed" if where[SUPPORTS] else
               "contradicted" if where[AGAINST] else "not resolved")
    parts = [f"{label} in {', '.join(where[r])}" for r, label in
             ((SUPPORTS, "holds"), (AGAINST, "is contradicted"), (OPEN, "not resolved")) if where[r]]
    return Verdict(number, verdict, "; ".join(parts), tuple(evidence))


def thesis_verdicts(results_root: Path) -> list[Verdict]:
    studies = counted_studies(results_root)
    peers = with_budget_peers(studies, results_root)
    evidence = {
        1: gap_evidence(studies, "tl", "scratch"),
        2: similarity_evidence(peers, results_root),
        3: gap_evidence(studies, "tl+da+cr", "tl") + recipe_evidence(studies, results_root),
        4: cost_evidence(studies),
        5: dataset_pair_evidence(peers, QUANTITY_PAIR, "quantity")
        + dataset_pair_evidence(peers, VARIABILITY_PAIR, "variability"),
        6: problems_evidence(studies, results_root),
    }
    return [judge(n, evidence[n]) for n in CLAIMS]


def conclusions_markdown(results_root: Path) -> str:
    """Each conclusion, its verdict in bold with where it holds, and the evidence as sub-bullets."""
    lines = []
    for v in thesis_verdicts(results_root):
        lines.append(f"{v.number}. *{CLAIMS[v.number]}.* **{v.verdict}**: {v.why}.")
        lines += [f"   - `{e.study}`, {e.budget}" + (f", {e.dataset}" if e.dataset != "all" else "")
                  + f": {e.what}: {e.reading}." for e in v.evidence]
    return "\n".join(lines)
