"""Tables and figures of the report, built only from the results table (`gan_lib.results`) and the images the
runs saved under `results/figures/`."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib

matplotlib.use("Agg") if not matplotlib.get_backend().lower().startswith(("module://", "nbagg")) else None
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from scipy import stats  # noqa: E402
from PIL import Image  # noqa: E402

from gan_lib.config import VARIANTS  # noqa: E402

# The original study's one published number (Kjellberg 2021): not rerun here, shown for reference only.
PUBLISHED = pd.DataFrame([{"dataset": "lsun-bedroom-1000", "variant": "tl+da", "setting": "128 px, 150 epochs",
                           "fid": 78.43, "source": "published (thesis, 2021)"}])


def variant_order(present: Iterable[str]) -> list[str]:
    """The variants in `present`, in the order of the variants table (config.VARIANTS); others (e.g. 'custom')
    after them, sorted."""
    present = set(present)
    return [v for v in VARIANTS if v in present] + sorted(present - set(VARIANTS))


def variants_table(variants: Iterable[str] | None = None) -> pd.DataFrame:
    """What each variant adds (its one-line description), for the variants in `variants` (default: all)."""
    names = variant_order(variants) if variants is not None else list(VARIANTS)
    return pd.DataFrame({"what it adds": [VARIANTS[v].description if v in VARIANTS else "" for v in names],
                         "default study": [v in VARIANTS and VARIANTS[v].default_study for v in names]},
                        index=pd.Index(names, name="variant"))


def variants_markdown() -> str:
    """The variants table as the README shows it (tests/test_variants.py checks the README holds it)."""
    lines = ["| variant | what it adds | default study |", "|---|---|---|"]
    lines += [f"| `{name}` | {v.description} | {'yes' if v.default_study else ''} |" for name, v in VARIANTS.items()]
    return "\n".join(lines)


def train_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df.eval_kind == "train") & (df.status == "ok")]


def final_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The last training evaluation of each finished run."""
    rows = train_rows(df)
    rows = rows[rows.step == rows.opt_steps]
    return rows.sort_values("step").groupby(["study", "run_id"], as_index=False).tail(1)


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """Final FID and KID per dataset x variant: mean, standard deviation over seeds, and n."""
    final = final_rows(df)
    if final.empty:
        return pd.DataFrame()
    table = final.groupby(["dataset", "variant"]).agg(
        n=("fid", "size"), fid_mean=("fid", "mean"), fid_std=("fid", "std"), kid_mean=("kid", "mean"),
        kid_std=("kid", "std"), train_minutes=("train_seconds", lambda s: s.median() / 60),
        samples=("num_samples", "first"))
    order = variant_order(table.index.get_level_values("variant"))
    return table.reindex(order, level="variant")


def format_summary(table: pd.DataFrame) -> pd.DataFrame:
    """mean ± std strings, n shown (std is blank for a single seed)."""
    def pm(mean, std, digits):
        return f"{mean:.{digits}f}" + ("" if pd.isna(std) else f" ± {std:.{digits}f}")

    return pd.DataFrame({
        "FID": [pm(m, s, 1) for m, s in zip(table.fid_mean, table.fid_std)],
        "KID x 1000": [pm(m * 1000, s * 1000, 1) for m, s in zip(table.kid_mean, table.kid_std)],
        "seeds (n)": table.n, "train min (median)": table.train_minutes.round(1), "FID samples": table.samples,
    }, index=table.index)


def paired_gaps(df: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Final FID of each variant minus `baseline`'s on the same dataset and seed (seeds pair the runs: same
    evaluation latents), as mean, standard deviation and n over seeds; negative = better than the baseline.
    `ci95` is the half-width of the paired t interval; `resolved` is True where that interval excludes 0."""
    final = final_rows(df).pivot_table(index=["dataset", "train_seed"], columns="variant", values="fid")
    if baseline not in final:
        return pd.DataFrame()
    gaps = final.drop(columns=baseline).sub(final[baseline], axis=0).stack().rename("gap").reset_index()
    if gaps.empty:  # only the baseline was run
        return pd.DataFrame()
    table = gaps.groupby(["dataset", "variant"]).gap.agg(gap_mean="mean", gap_std="std", n="count")
    table["ci95"] = stats.t.ppf(0.975, table.n - 1) * table.gap_std / table.n ** 0.5
    table["resolved"] = table.gap_mean.abs() > table.ci95  # False while n < 2 (no interval)
    order = variant_order(table.index.get_level_values("variant"))
    return table.reindex(order, level="variant").round(1)


def study_wall_times(results_root: Path, study: str) -> pd.DataFrame:
    """Each invocation of `python -m gan_lib.study` recorded in `results/studies/<study>.json`."""
    path = Path(results_root) / "studies" / f"{study}.json"
    if not path.exists():
        return pd.DataFrame()
    runs = pd.read_json(path)
    return pd.DataFrame({"started": runs.started, "wall minutes": (runs.wall_seconds / 60).round(1),
                         "runs trained": runs.ran.map(len), "runs skipped": runs.skipped.map(len),
                         "host": runs.machine.map(lambda m: m.get("host")),
                         "cpus": runs.machine.map(lambda m: m.get("cpu_count")),
                         "gpu": runs.machine.map(lambda m: m.get("gpu"))})


def failed_runs(df: pd.DataFrame) -> pd.DataFrame:
    return df[df.status == "failed"].groupby(["study", "run_id"], as_index=False).last()[
        ["study", "run_id", "step", "message"]]


def fid_curves(df: pd.DataFrame, x: str = "images_seen") -> plt.Figure:
    """FID against `x`, one panel per dataset: mean and spread over seeds against images_seen (the same for
    every seed); one line per seed against train_seconds (which differ by seed, and by machine load)."""
    rows = train_rows(df)
    datasets = sorted(rows.dataset.unique())
    fig, axes = plt.subplots(1, max(1, len(datasets)), figsize=(5.5 * max(1, len(datasets)), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        sub = rows[rows.dataset == dataset]
        hue_order = variant_order(sub.variant)
        per_seed = {} if x == "images_seen" else {"units": "train_seed", "estimator": None}
        sns.lineplot(sub, x=x, y="fid", hue="variant", hue_order=hue_order, errorbar="sd", marker="o", ax=ax,
                     **per_seed)
        ax.set_title(dataset)
        ax.set_xlabel({"images_seen": "real images shown to D", "train_seconds": "training seconds"}.get(x, x))
        ax.set_ylabel("FID (lower is better)")
    fig.tight_layout()
    return fig


def truncation_figure(df: pd.DataFrame) -> plt.Figure | None:
    rows = df[(df.eval_kind == "truncation") & (df.status == "ok")]
    if rows.empty:
        return None
    grid = sns.relplot(rows, x="truncation", y="fid", hue="variant", col="dataset", kind="line", marker="o",
                       errorbar="sd", hue_order=variant_order(rows.variant),
                       height=3.5, facet_kws={"sharey": False})
    grid.set_axis_labels("truncation threshold (0 = none)", "FID")
    return grid.figure


def image_panel(paths: dict[str, Path], columns: int = 4, title: str = "") -> plt.Figure | None:
    """Saved PNGs side by side, labelled by their dict keys."""
    existing = {k: p for k, p in paths.items() if Path(p).exists()}
    if not existing:
        return None
    rows = -(-len(existing) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, path) in zip(axes.flat, existing.items()):
        ax.imshow(Image.open(path))
        ax.set_title(label, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save(fig: plt.Figure | None, path: Path) -> Path | None:
    if fig is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path
