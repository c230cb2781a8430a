"""Whether D overfits, read from the per-step diagnostics: ADA's r_t = E[sign(D(x_real))] per dataset x variant
(mean over seeds) over the first and the last quarter of training, and the epoch from which its smoothed curve stays
above ADA's target for good. The findings' words and the thesis's conclusion 6 both read these."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from gan_lib.config import ADA_R_T_TARGET
from gan_lib.report import tables

OVERFIT_R_T = ADA_R_T_TARGET


class LateDiagnostics(NamedTuple):
    """A dataset x variant's diagnostics (means over seeds): r_t over the first quarter, r_t, D accuracy and ADA's p
    over the last quarter (p None where no run adapts it), the epoch from which the smoothed r_t stays above
    OVERFIT_R_T (None: never), and the number of seeds."""
    r_t_first: float
    r_t: float
    d_accuracy: float
    aug_p: float | None
    onset: float | None
    seeds: int

    @property
    def overfits(self) -> bool:
        return self.r_t > OVERFIT_R_T or self.onset is not None


def late_diagnostics(df: pd.DataFrame, scalars: pd.DataFrame) -> dict[tuple[str, str], LateDiagnostics]:
    """Per (dataset, variant) of `df`'s runs that logged scalars, in the report's variant order."""
    if scalars.empty:
        return {}
    runs = df.drop_duplicates("run_id")[["run_id", "dataset", "variant"]]
    s = scalars.merge(runs, on="run_id")
    ada = "aug_p" in s and s.aug_p.notna().any()
    order = {v: i for i, v in enumerate(tables.variant_order(s.variant))}
    out = {}
    for (dataset, variant), g in sorted(s.groupby(["dataset", "variant"]), key=lambda kv: (kv[0][0],
                                                                                           order.get(kv[0][1], 99))):
        curve = g.groupby("epoch")[["r_t", "d_accuracy"] + (["aug_p"] if ada else [])].mean().sort_index()
        last_epoch = curve.index.max()
        first_q, last_q = curve[curve.index <= last_epoch / 4], curve[curve.index > 3 * last_epoch / 4]
        above = tables.smoothed(curve.r_t) > OVERFIT_R_T
        stays = above[::-1].cummin()[::-1].astype(bool)  # True from where r_t rose above the target for good
        p = last_q.aug_p.mean() if ada and last_q.aug_p.notna().any() else None
        out[dataset, variant] = LateDiagnostics(first_q.r_t.mean(), last_q.r_t.mean(), last_q.d_accuracy.mean(), p,
                                                stays.index[stays].min() if stays.any() else None,
                                                g.run_id.nunique())
    return out
