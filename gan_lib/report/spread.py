"""Seed-to-seed spread of the final FID as a finding: does a method make training more or less stable?

Per study, dataset and variant, the standard deviation of the final FID over training seeds (the evaluation
latents are fixed, so this is training noise), and for each comparison the Brown–Forsythe test (Levene's test
centred on the median, `scipy.stats.levene(center="median")`) of whether the variant's spread differs from its
baseline's. With a handful of seeds the test has little power: "not resolved" is the common answer.
"""

from __future__ import annotations

import pandas as pd
from scipy import stats

from gan_lib.report import tables
from gan_lib.report.intervals import ALPHA


def spread_table(df: pd.DataFrame, comparisons: list[tuple[str, str]]) -> pd.DataFrame:
    """One row per dataset x comparison whose both variants have at least 2 seeds: each side's sd of the final
    FID, their ratio, the Brown–Forsythe statistic W and its p value, and whether p < ALPHA."""
    final = tables.final_rows(df)
    rows = []
    for dataset, d in final.groupby("dataset"):
        fids = {v: g.fid.dropna().to_numpy() for v, g in d.groupby("variant")}
        for variant, baseline in comparisons:
            a, b = fids.get(variant), fids.get(baseline)
            if a is None or b is None or len(a) < 2 or len(b) < 2:
                continue
            w, p = stats.levene(a, b, center="median")
            sd_a, sd_b = a.std(ddof=1), b.std(ddof=1)
            rows.append({"dataset": dataset, "variant": variant, "baseline": baseline, "sd_variant": sd_a,
                         "sd_baseline": sd_b, "sd_ratio": sd_a / sd_b if sd_b > 0 else float("inf"),
                         "W": float(w), "p": float(p), "n_variant": len(a), "n_baseline": len(b),
                         "resolved": bool(p < ALPHA)})
    return pd.DataFrame(rows)


def spread_reading(r) -> str:
    """'DiffAugment narrows ...' in words: which way the spread moves and whether the test resolves it."""
    way = "narrower" if r.sd_ratio < 1 else "wider"
    if r.resolved:
        return f"spread {way} with `{r.variant}` (resolved, p = {r.p:.3f})"
    return f"spread {way} with `{r.variant}`, not resolved (p = {r.p:.2f}; {r.n_variant} vs {r.n_baseline} seeds)"


def spread_markdown(df: pd.DataFrame, comparisons: list[tuple[str, str]]) -> str:
    table = spread_table(df, comparisons)
    if table.empty:
        return "_No comparison has two or more seeds on both sides yet._"
    lines = ["| dataset | comparison | final FID sd: variant vs baseline | ratio | Brown–Forsythe W | p | reading |",
             "|---|---|---|---|---|---|---|"]
    last = None
    for r in table.itertuples():
        lines.append(f"| {r.dataset if r.dataset != last else ''} | {r.variant} − {r.baseline} | "
                     f"{r.sd_variant:.1f} vs {r.sd_baseline:.1f} | {r.sd_ratio:.2f} | {r.W:.2f} | {r.p:.3f} | "
                     f"{spread_reading(r)} |")
        last = r.dataset
    return "\n".join(lines)
