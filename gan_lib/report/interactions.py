"""Whether a setting changes a method's gap: per seed, the method's gap with the setting minus its gap without it
(a difference of differences; the four runs of a seed share its evaluation latents), with a paired t interval."""

from __future__ import annotations

import pandas as pd

from gan_lib.report import intervals, tables

# ((variant, baseline) with the setting, (variant, baseline) without it): what the difference of their gaps asks
INTERACTIONS = {(("tl+da-minegan", "tl-minegan"), ("tl+da", "tl")): "MineGAN's own miner and DiffAugment's gap"}


def interaction_gaps(df: pd.DataFrame, with_: tuple[str, str], without: tuple[str, str]) -> pd.DataFrame:
    """Per dataset: mean, std and n over seeds of (with_[0] − with_[1]) − (without[0] − without[1]) on the final
    FID, with `ci95` and `resolved`; negative = the method's gap is more negative (it helps more) with the setting.
    Empty where a dataset lacks one of the four variants on a common seed."""
    final = tables.seed_fids(df)
    if not {*with_, *without} <= set(final):
        return pd.DataFrame()
    diff = ((final[with_[0]] - final[with_[1]]) - (final[without[0]] - final[without[1]])).dropna()
    if diff.empty:
        return pd.DataFrame()
    table = diff.rename("gap").reset_index().groupby("dataset").gap.agg(gap_mean="mean", gap_std="std", n="count")
    return intervals.with_interval(table).round(1)


def interaction_bullets(df: pd.DataFrame) -> list[str]:
    """One finding per interaction whose four variants `df` holds on common seeds."""
    out = []
    for (with_, without), question in INTERACTIONS.items():
        table = interaction_gaps(df, with_, without)
        if table.empty:
            continue
        parts = [f"{dataset} {tables.signed(g.gap_mean)} FID, {intervals.verdict(g)}" for dataset, g in table.iterrows()]
        changed = [d for d, g in table.iterrows() if g.resolved]
        summary = ("changes it on " + ", ".join(changed)) if changed else "no resolved change"
        out.append(f"- **{question}** ((`{with_[0]}` − `{with_[1]}`) − (`{without[0]}` − `{without[1]}`), negative = "
                   f"the method helps more with the setting): {summary} ({'; '.join(parts)}).")
    return out
