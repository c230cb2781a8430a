"""Evaluation time of studies, from their result rows: how many FID/KID evaluations, their seconds in all, and the
median per evaluation, per study x evaluation kind x sample count (the rows record `eval_seconds`: generating the
samples, Inception features, FID/KID).

    python tools/eval_seconds.py laptop laptop-extended [--by train_seed] [--results-root results]

Wall seconds depend on the machine and its load when the study ran: compare studies that ran on the same machine
type, and read the host column.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gan_lib.report.results import read_results  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("studies", nargs="+")
    parser.add_argument("--by", nargs="*", default=[], help="more row columns to group by, e.g. train_seed "
                        "(the committed laptop study ran one seed per invocation)")
    parser.add_argument("--results-root", default=str(REPO / "results"))
    args = parser.parse_args(argv)
    for study in args.studies:
        df = read_results(args.results_root, study)
        unknown = [c for c in args.by if c not in df.columns]
        if unknown:
            parser.error(f"--by {' '.join(unknown)}: not a column of the result rows (see gan_lib/report/results.py)")
        df = df[(df.status == "ok") & df.eval_seconds.notna()]
        if df.empty:
            print(f"{study}: no evaluations recorded")
            continue
        table = df.groupby(["eval_kind", "num_samples", *args.by]).agg(
            runs=("run_id", "nunique"), evaluations=("eval_seconds", "size"), seconds=("eval_seconds", "sum"),
            median_s=("eval_seconds", "median"), hosts=("host", lambda h: ", ".join(sorted(set(h)))))
        print(f"{study}: {len(df)} evaluations, {df.eval_seconds.sum():.0f} s in all")
        print(table.round(1).to_string(), end="\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
