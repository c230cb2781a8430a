"""What the targets' domains say (thesis conclusions 2 and 5): each target's distance to the source, from data
alone (`python -m gan_lib.metrics similarity` writes `results/similarity.parquet`), against transfer's gain on it,
with an exact rank correlation; and the targets that differ in one property only (quantity, variability).

A study of new targets is read together with its preset's default study (the same budget, seeds, source model and
evaluation latents; `budget_peers`), so `laptop-domains` and `laptop` give one set of targets.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from gan_lib.report import intervals, tables

SIMILARITY = "similarity.parquet"  # under results/: target, source, fid, kid, counts (metrics.target_distances)


def read_similarity(results_root: Path) -> pd.DataFrame:
    path = Path(results_root) / SIMILARITY
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()


def budget_peers(results_root: Path, df: pd.DataFrame) -> pd.DataFrame:
    """The rows of `df`'s preset's default study (the study named after the preset) on the datasets `df` lacks, at
    the same length and seeds: the other targets trained at this budget. Empty for the default study itself."""
    from gan_lib.report.results import read_results

    if df.empty or df.preset.nunique() != 1 or df.preset.iloc[0] in set(df.study):
        return df.iloc[:0]
    base = read_results(results_root, df.preset.iloc[0])
    if base.empty:
        return df.iloc[:0]
    keep = (~base.dataset.isin(set(df.dataset)) & base.opt_steps.isin(set(df.opt_steps))
            & base.train_seed.isin(set(df.train_seed)))
    return base[keep]


def with_budget_peers(results_root: Path, df: pd.DataFrame) -> pd.DataFrame:
    """`df` with its `budget_peers`: every target trained at this budget."""
    return pd.concat([df, budget_peers(results_root, df)])


def transfer_gains(df: pd.DataFrame) -> pd.DataFrame:
    """Transfer's gain per dataset: `scratch` − `tl` final FID, paired by seed (mean, 95 % half-width, seeds)."""
    gaps = tables.paired_gaps(df, "scratch") if not df.empty else pd.DataFrame()
    if gaps.empty or "tl" not in gaps.index.get_level_values("variant"):
        return pd.DataFrame(columns=["gain", "ci95", "n"])
    tl = gaps.xs("tl", level="variant")
    return pd.DataFrame({"gain": -tl.gap_mean, "ci95": tl.ci95, "n": tl.n})


def exact_spearman(x: list[float], y: list[float]) -> tuple[float, float, float]:
    """Spearman's ρ with its exact two-sided p over all orderings of `y` (no large-sample approximation, which
    misleads with a handful of points), and the smallest p any ordering could give with this many points."""
    rho = float(stats.spearmanr(x, y).statistic)
    ranks_x, ranks_y = stats.rankdata(x), stats.rankdata(y)
    null = np.array([stats.spearmanr(ranks_x, perm).statistic for perm in itertools.permutations(ranks_y)])
    p = float(np.mean(np.abs(null) >= abs(rho) - 1e-12))
    return rho, p, 2 / math.factorial(len(x))


def gain_against_distance(similarity: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """One row per target with a distance and a transfer gain: FID and KID to the source, the gain, its interval."""
    if similarity.empty:
        return pd.DataFrame()
    distance = similarity.groupby("target")[["fid", "kid", "target_count", "target_total"]].first()
    gains = transfer_gains(df)
    table = distance.join(gains, how="inner").sort_values("fid")
    return table[table.n >= 2]


def similarity_markdown(similarity: pd.DataFrame, df: pd.DataFrame) -> str:
    """The targets ordered by their FID to the source, with transfer's gain on each, and the rank correlation."""
    if similarity.empty:
        return "_No `results/similarity.parquet` yet: run `python -m gan_lib.metrics similarity`._"
    source = similarity.source.iloc[0]
    gains = transfer_gains(df)
    header = f"| target | images (of) | FID to `{source}` | KID x 1000 | transfer's gain: scratch − tl FID (95 % ±, seeds) |"
    lines = [header, "|---|---|---|---|---|"]
    for target, r in similarity.set_index("target").sort_values("fid").iterrows():
        g = gains.loc[target] if target in gains.index else None
        gain = f"{tables.signed(g.gain)} (± {g.ci95:.1f}, {int(g.n)})" if g is not None and g.n >= 2 else "—"
        lines.append(f"| {target} | {int(r.target_count)} ({int(r.target_total)}) | {r.fid:.1f} | "
                     f"{1000 * r.kid:.1f} | {gain} |")
    table = gain_against_distance(similarity, df)
    lines.append("")
    lines.append(correlation_sentence(table))
    return "\n".join(lines)


def correlation_sentence(table: pd.DataFrame) -> str:
    """Spearman's ρ between distance and gain, its exact p, and what so few targets can and cannot say."""
    n = len(table)
    if n < 3:
        return f"_Transfer's gain is known on {n} target(s) with a distance: a rank correlation needs 3 or more._"
    rho, p, floor = exact_spearman(list(table.fid), list(table.gain))
    side = "closer to" if rho < 0 else "farther from"
    resolved = p < intervals.ALPHA
    if resolved:
        reading = f"the gain is larger on targets {side} the source"
    else:
        reading = "the ranks order the gain by the distance no better than chance" + (
            f" (they lean towards targets {side} the source)" if rho else "")
    verdict = "resolved at 5 %" if resolved else "not resolved at 5 %"
    return (f"Spearman ρ = {rho:+.2f} between the FID to the source and transfer's gain over {n} targets: "
            f"{reading}; exact p = {p:.3f} ({verdict}; with {n} targets no ordering can give p below "
            f"{floor:.3f}). Each target's gain carries the interval above, which the ranks ignore, and the targets "
            f"differ in more than their distance (count, variability), so this orders them, it does not isolate "
            f"similarity.")
