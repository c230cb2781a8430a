"""The report's reading of precision, recall, density and coverage (`gan_lib.evaluation.manifold`) per variant."""

from __future__ import annotations

import pandas as pd

from gan_lib.report import tables


def prdc_table(df: pd.DataFrame) -> pd.DataFrame:
    """Precision, recall, density and coverage of each dataset x variant's final evaluations, mean ± sd over seeds
    (— where the rows predate them), with the neighbours k and the number of real images."""
    final = tables.final_rows(df)
    out = {}
    for (dataset, variant), g in final.groupby(["dataset", "variant"]):
        cells = {key: "—" if g[key].isna().all() else tables.mean_pm_std(g[key].mean(), g[key].std(), digits=2)
                 for key in ("precision", "recall", "density", "coverage")}
        k, n = g.prdc_k.dropna(), g.reference_count.dropna()
        cells["k / reals"] = f"{int(k.iloc[0])} / {int(n.iloc[0])}" if len(k) and len(n) else "—"
        out[dataset, variant] = cells
    table = pd.DataFrame.from_dict(out, orient="index")
    table.index.names = ["dataset", "variant"]
    return table.reindex(tables.variant_order(final.variant), level="variant") if len(table) else table
