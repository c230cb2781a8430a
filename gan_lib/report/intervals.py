"""The study's one test level and its seed-paired t intervals, and how a gap reads in words."""

from __future__ import annotations

import pandas as pd
from scipy import stats

ALPHA = 0.05  # the level of every test and interval in the reports (95 % intervals)


def t_half_width(values: pd.Series) -> float:
    """Half-width of the 95 % t interval of the mean of `values` (paired differences over seeds)."""
    return float(stats.t.ppf(1 - ALPHA / 2, len(values) - 1) * values.std(ddof=1) / len(values) ** 0.5)


def with_interval(table: pd.DataFrame) -> pd.DataFrame:
    """`table` (gap_mean, gap_std, n per row) with the paired t interval's half-width `ci95` and `resolved`."""
    table["ci95"] = stats.t.ppf(1 - ALPHA / 2, table.n - 1) * table.gap_std / table.n ** 0.5
    table["resolved"] = table.gap_mean.abs() > table.ci95  # False while n < 2 (no interval)
    return table


def verdict(g) -> str:
    """A gap's reading in words; `g` has n, gap_mean, ci95 and resolved."""
    if g.n < 2:
        return "one seed, no interval"
    if not g.resolved:
        return f"not resolved: the 95 % interval (± {g.ci95:.1f}) includes 0"
    return f"resolved ({'better' if g.gap_mean < 0 else 'worse'}; 95 % ± {g.ci95:.1f})"
