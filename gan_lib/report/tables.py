"""Tables and figures of the report, built only from the results table (`gan_lib.report.results`) and the images the
runs saved under `results/figures/`."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib

matplotlib.use("Agg") if not matplotlib.get_backend().lower().startswith(("module://", "nbagg")) else None
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from PIL import Image  # noqa: E402
from scipy import stats  # noqa: E402

from gan_lib.config import ADA_R_T_TARGET, VARIANTS  # noqa: E402
from gan_lib.paths import REPO_ROOT  # noqa: E402
from gan_lib.report.intervals import with_interval  # noqa: E402
from gan_lib.training.provenance import cpu_capabilities, environments  # noqa: E402

# The original study's one published number (Kjellberg 2021): not rerun here, shown for reference only.
PUBLISHED = pd.DataFrame([{"dataset": "lsun-bedroom-1000", "variant": "tl+da", "setting": "128 px, 150 epochs",
                           "fid": 78.43, "source": "published (thesis, 2021)"}])


def variant_order(present: Iterable[str]) -> list[str]:
    """The variants in `present`, in the order of the variants table (config.VARIANTS); others (e.g. 'custom')
    after them, sorted."""
    present = set(present)
    return [v for v in VARIANTS if v in present] + sorted(present - set(VARIANTS))


def variant_palette(present: Iterable[str]) -> dict[str, tuple]:
    """One colour per variant, fixed by its place in the variants table, so a variant keeps its colour in every
    figure and every study's report (others, e.g. 'custom', take the colours after the table's)."""
    names = list(VARIANTS) + sorted(set(present) - set(VARIANTS))
    # tab10, then tab20's light shades: 20 distinct colours, the first 10 as they always were
    colours = dict(zip(names, sns.color_palette("tab10") + sns.color_palette("tab20")[1::2]))
    return {v: colours[v] for v in variant_order(present)}


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
    """One row per finished run: its "final" evaluation (more samples, at the last step) where it has one, else
    its last training evaluation. `num_samples` says which."""
    ok = df[df.status == "ok"]
    train = train_rows(df)
    rows = pd.concat([ok[ok.eval_kind == "final"], train[train.step == train.opt_steps]])
    rows = rows.assign(_final=rows.eval_kind == "final").sort_values(["_final", "step"], kind="stable")
    return rows.groupby(["study", "run_id"], as_index=False).tail(1).drop(columns="_final")


def baseline_rows(results_root: Path, df: pd.DataFrame) -> pd.DataFrame:
    """The rows a study of new variants is compared against: those of the default study of its preset (the study
    named after the preset, e.g. `laptop`), for the variants this study lacks, on the datasets and seeds it ran and at
    the same length. Empty for the default study itself, or when there is no such study."""
    from gan_lib.report.results import read_results

    if df.empty or df.preset.nunique() != 1 or df.preset.iloc[0] in set(df.study):
        return df.iloc[:0]
    base = read_results(results_root, df.preset.iloc[0])
    if base.empty:
        return df.iloc[:0]
    cells = df[["dataset", "train_seed", "opt_steps"]].drop_duplicates()
    return base[~base.variant.isin(set(df.variant))].merge(cells, on=list(cells.columns))


def study_outputs(results_root: Path, study: str) -> dict[str, Path]:
    """Where a study's report, summary table and figures go: each study owns its own files."""
    root = Path(results_root)
    return {"report": root / "reports" / f"{study}.html", "summary": root / "summary" / f"{study}.csv",
            "figures": root / "figures" / study}


def seed_prediction_interval(fids: pd.Series, level: float = 0.95) -> tuple[float, float]:
    """Where one more seed's FID should fall, from the seeds run so far: mean ± t · sd · sqrt(1 + 1/n) (NaN with
    fewer than two seeds). Unlike the seeds' min-max range, which a new draw leaves about half the time with 3
    seeds, this holds a new draw with probability `level` if FIDs over seeds are roughly normal."""
    n = len(fids)
    if n < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, n - 1) * fids.std() * (1 + 1 / n) ** 0.5
    return fids.mean() - half, fids.mean() + half


def compare_studies(committed: pd.DataFrame, rerun: pd.DataFrame) -> pd.DataFrame:
    """Final FID/KID of each reproduced run beside the committed run of the same cell (dataset, variant, seed),
    whether they are bit-identical, and otherwise whether the reproduced FID lies within the 95 % prediction
    interval of the committed seeds of its dataset x variant (`seed_prediction_interval`)."""
    keys = ["dataset", "variant", "train_seed"]
    old, new = final_rows(committed), final_rows(rerun)
    if old.empty or new.empty:
        return pd.DataFrame()
    table = new[keys + ["fid", "kid", "num_samples"]].merge(old[keys + ["fid", "kid"]], on=keys,
                                                            suffixes=("_rerun", "_committed"))
    if table.empty:
        return table
    interval = old.groupby(["dataset", "variant"]).fid.apply(seed_prediction_interval)
    table[["seeds_low", "seeds_high"]] = [interval[d, v] for d, v in zip(table.dataset, table.variant)]
    same = (table.fid_rerun == table.fid_committed) & (table.kid_rerun == table.kid_committed)
    inside = table.fid_rerun.between(table.seeds_low, table.seeds_high)
    table["verdict"] = ["bit-identical" if s else "no spread to compare with (one committed seed)" if pd.isna(lo)
                        else f"{'within' if i else 'outside'} the committed seeds' 95 % prediction interval "
                        f"[{lo:.1f}, {hi:.1f}]" for s, i, lo, hi in zip(same, inside, table.seeds_low,
                                                                        table.seeds_high)]
    table["fid_diff"] = table.fid_rerun - table.fid_committed
    starts = {name: rows.set_index(keys).git_starts for name, rows in (("committed", old), ("rerun", new))}
    table = table.join(pd.DataFrame({**{f"cpu_{k}": v.map(cpu_capabilities) for k, v in starts.items()},
                                     **{f"env_{k}": v.map(environments) for k, v in starts.items()}}), on=keys)
    return table[keys + ["num_samples", "fid_committed", "fid_rerun", "fid_diff", "kid_committed", "kid_rerun",
                         "cpu_committed", "cpu_rerun", "env_committed", "env_rerun", "verdict"]]


SAME_CELL_SETTINGS = ["opt_steps", "batch_size", "resolution", "eval_seed", "num_samples"]


def same_cells_elsewhere(df: pd.DataFrame, others: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """`compare_studies` of this study's runs against each other study that trained the same cells (dataset,
    variant, seed) with the same steps, batch, resolution and final evaluation, e.g. under other CPU kernels;
    only cells that the other study ran with two or more seeds, so that its prediction interval exists."""
    final = final_rows(df)
    settings = final[SAME_CELL_SETTINGS].drop_duplicates()
    out = {}
    for name, other in sorted(others.items()):
        if name in set(df.study):
            continue
        rows = final_rows(other).merge(settings, on=SAME_CELL_SETTINGS)
        table = compare_studies(rows[rows.groupby(["dataset", "variant"]).train_seed.transform("nunique") >= 2], final)
        if not table.empty:
            out[name] = table
    return out


def methods_table(df: pd.DataFrame) -> pd.DataFrame:
    """The training and evaluation settings of the study's runs, one column per distinct setting (usually one)."""
    import json

    rows = []
    for (dataset, variant), r in final_rows(df).groupby(["dataset", "variant"]):
        c = json.loads(r.config_json.iloc[0])
        r = r.iloc[0]
        rows.append({
            "architecture": f"BigGAN, G/D width {c['g_ch']}/{c['d_ch']}, attention {c['g_attn'] or 'none'}",
            "resolution": f"{c['data_resolution']} px", "batch": c["opt_batch_size"],
            "length": f"{c['opt_steps']} G steps" + (f" ({c['opt_epochs']:g} epochs)" if c.get("opt_epochs") else ""),
            "learning rates": f"G {c['opt_g_lr']:g}, D {c['opt_d_lr']:g} (Adam β {c['opt_beta1']:g}, "
                              f"{c['opt_beta2']:g}), {c['d_steps']} D step(s) per G step",
            "EMA": f"decay {c['g_ema_decay']:g} from step {c['g_ema_start']}" if c["g_ema_decay"] else "none",
            "loss": c["opt_loss"],
            "FID protocol": f"{int(r.num_samples)} generated images against the whole training set, "
                            f"{r.extractor} features (clean-fid clean mode)",
        })
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).drop_duplicates()
    return table.T.set_axis([f"setting {i + 1}" for i in range(len(table))] if len(table) > 1 else ["value"],
                            axis=1)


PROTOCOL = {"dataset": "lsun-bedroom-1000", "resolution": 128, "variant": "tl+da", "opt_epochs": 150.0}


def published_comparison(final: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The thesis's number beside ours where the protocol matches (`PROTOCOL`); else which settings differ."""
    match = final
    for key, value in PROTOCOL.items():
        match = match[match[key] == value]
    if len(match):
        return PUBLISHED.assign(ours=match.fid.mean(), ours_seeds=len(match)), ""
    def shown(values) -> str:
        return ", ".join(sorted(f"{v:g}" if isinstance(v, float) else str(v) for v in values)) or "not set"

    differs = [f"{key} (published {shown([value])}; here {shown(final[key].dropna().unique())})"
               for key, value in PROTOCOL.items() if not (final[key] == value).any()]
    return PUBLISHED, "Not comparable with this study; these settings differ: " + "; ".join(differs) + "."


DIAGNOSTICS_SMOOTHING = 5  # logged points (each the mean of `log_every` steps) in the figure's rolling mean


def smoothed(values: pd.Series) -> pd.Series:
    """A diagnostic's curve as plotted: centred rolling mean over DIAGNOSTICS_SMOOTHING logged points."""
    return values.rolling(DIAGNOSTICS_SMOOTHING, center=True, min_periods=1).mean()


def diagnostics_figure(scalars: pd.DataFrame, df: pd.DataFrame) -> plt.Figure | None:
    """Per-step D diagnostics (r_t, D accuracy, and ADA's p where a run adapts it) against epochs, one line per
    variant (mean over seeds, band = sd), one row per dataset. Each run's values are first smoothed by a centred
    rolling mean over DIAGNOSTICS_SMOOTHING logged points (the tables use the raw values)."""
    if scalars.empty or "r_t" not in scalars:
        return None
    runs = df.drop_duplicates("run_id")[["run_id", "dataset", "variant"]]
    data = scalars.sort_values(["run_id", "epoch"]).merge(runs, on="run_id")
    if data.empty:
        return None
    columns = [c for c in ("r_t", "d_accuracy", "aug_p") if c in data]
    data[columns] = data.groupby("run_id")[columns].transform(smoothed)
    datasets = sorted(data.dataset.unique())
    panels = [("r_t", f"r_t = E[sign(D(real))], dashed: ADA's target {ADA_R_T_TARGET}"), ("d_accuracy", "D accuracy")]
    if "aug_p" in data and data.aug_p.notna().any():
        panels.append(("aug_p", "ADA's augmentation probability p"))
    fig, axes = plt.subplots(len(datasets), len(panels), figsize=(5.5 * len(panels), 3.6 * len(datasets)),
                             squeeze=False)
    for row, dataset in zip(axes, datasets):
        sub = data[data.dataset == dataset]
        for ax, (col, label) in zip(row, panels):
            shown = sub[sub[col].notna()]  # the p panel: only the runs that adapt p, so its legend names only them
            palette = variant_palette(shown.variant)
            sns.lineplot(shown, x="epoch", y=col, hue="variant", errorbar="sd", ax=ax, palette=palette,
                         hue_order=list(palette))
            if col == "r_t":
                ax.axhline(ADA_R_T_TARGET, color="grey", linestyle="--", linewidth=1)
            ax.set_title(f"{dataset}: {label}")
            ax.set_xlabel("epoch")
    fig.tight_layout()
    return fig
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


def mean_pm_std(mean: float, std: float, digits: int = 1, scale: float = 1.0) -> str:
    """"mean ± std" (just the mean where std is missing: a single seed)."""
    text = f"{mean * scale:.{digits}f}"
    return text if pd.isna(std) else f"{text} ± {std * scale:.{digits}f}"


def format_summary(table: pd.DataFrame) -> pd.DataFrame:
    """mean ± std strings, n shown (std is blank for a single seed)."""
    return pd.DataFrame({
        "FID": [mean_pm_std(m, s) for m, s in zip(table.fid_mean, table.fid_std)],
        "KID x 1000": [mean_pm_std(m, s, scale=1000) for m, s in zip(table.kid_mean, table.kid_std)],
        "seeds (n)": table.n, "train min (median)": table.train_minutes.round(1), "FID samples": table.samples,
    }, index=table.index)


def signed(x: float) -> str:
    """A gap with its sign and a typographic minus, one decimal: '+63.6', '−31.3'."""
    return f"{x:+.1f}".replace("-", "−")


def epochs_seen(df: pd.DataFrame) -> pd.Series:
    """Epochs at each row: recorded, or from images seen and the dataset size (rows from before `epochs`)."""
    return df.epochs.fillna(df.images_seen / df.dataset_count)


def seed_fids(df: pd.DataFrame) -> pd.DataFrame:
    """Final FID by (dataset, train_seed) x variant: the runs of one row share a seed's evaluation latents."""
    return final_rows(df).pivot_table(index=["dataset", "train_seed"], columns="variant", values="fid")


def paired_gaps(df: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Final FID of each variant minus `baseline`'s on the same dataset and seed (seeds pair the runs: same
    evaluation latents), as mean, standard deviation and n over seeds; negative = better than the baseline.
    `ci95` is the half-width of the paired t interval; `resolved` is True where that interval excludes 0."""
    final = seed_fids(df)
    if baseline not in final:
        return pd.DataFrame()
    gaps = final.drop(columns=baseline).sub(final[baseline], axis=0).stack().dropna().rename("gap").reset_index()
    if gaps.empty:  # only the baseline was run, or no variant on the baseline's seeds
        return pd.DataFrame()
    table = with_interval(gaps.groupby(["dataset", "variant"]).gap.agg(gap_mean="mean", gap_std="std", n="count"))
    order = variant_order(table.index.get_level_values("variant"))
    return table.reindex(order, level="variant").round(1)


def study_wall_times(results_root: Path, study: str) -> pd.DataFrame:
    """Each invocation of `python -m gan_lib.study` recorded in `results/studies/<study>.json`; one that was killed
    shows its time up to its last finished run."""
    path = Path(results_root) / "studies" / f"{study}.json"
    if not path.exists():
        return pd.DataFrame()
    runs = pd.read_json(path)
    complete = runs.complete.fillna(True) if "complete" in runs else pd.Series(True, index=runs.index)
    return pd.DataFrame({"started": runs.started, "wall minutes": (runs.wall_seconds / 60).round(1),
                         "ended": complete.map({True: "finished", False: "stopped after its last run"}),
                         "runs trained": runs.ran.map(len), "runs skipped": runs.skipped.map(len),
                         "host": runs.machine.map(lambda m: m.get("host")),
                         "cpus": runs.machine.map(lambda m: m.get("cpu_count")),
                         "gpu": runs.machine.map(lambda m: m.get("gpu") or "none")})


def failed_runs(df: pd.DataFrame) -> pd.DataFrame:
    return df[df.status == "failed"].groupby(["study", "run_id"], as_index=False).last()[
        ["study", "run_id", "step", "message"]]


def score_curves(df: pd.DataFrame, x: str = "images_seen", y: str = "fid") -> plt.Figure:
    """FID (or KID: `y="kid"`) against `x`, one panel per dataset: mean and spread over seeds against images_seen
    or epochs (the same for every seed); one line per seed against train_seconds (which differ by seed and load)."""
    rows = train_rows(df)
    datasets = sorted(rows.dataset.unique())
    fig, axes = plt.subplots(1, max(1, len(datasets)), figsize=(5.5 * max(1, len(datasets)), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        sub = rows[rows.dataset == dataset]
        palette = variant_palette(sub.variant)
        per_seed = {} if x in ("images_seen", "epochs") else {"units": "train_seed", "estimator": None}
        sns.lineplot(sub, x=x, y=y, hue="variant", hue_order=list(palette), palette=palette, errorbar="sd",
                     marker="o", ax=ax, **per_seed)
        ax.set_title(dataset)
        ax.set_xlabel({"images_seen": "real images shown to D", "train_seconds": "training seconds",
                       "epochs": "epochs (real images shown / dataset size)"}.get(x, x))
        ax.set_ylabel(f"{y.upper()} (lower is better)")
    fig.tight_layout()
    return fig


def truncation_figure(df: pd.DataFrame) -> plt.Figure | None:
    rows = df[(df.eval_kind == "truncation") & (df.status == "ok")]
    if rows.empty:
        return None
    palette = variant_palette(rows.variant)
    grid = sns.relplot(rows, x="truncation", y="fid", hue="variant", col="dataset", kind="line", marker="o",
                       errorbar="sd", hue_order=list(palette), palette=palette, height=3.5,
                       facet_kws={"sharey": False})
    grid.set_axis_labels("truncation threshold (0 = none)", "FID")
    return grid.figure


def image_panel(paths: dict[str, Path], columns: int = 4, title: str = "",
                panel_size: tuple[float, float] = (3.2, 3.4)) -> plt.Figure | None:
    """Saved PNGs side by side, labelled by their dict keys."""
    existing = {k: p for k, p in paths.items() if Path(p).exists()}
    if not existing:
        return None
    rows = -(-len(existing) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(panel_size[0] * columns, panel_size[1] * rows), squeeze=False)
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


def source_scores(df: pd.DataFrame) -> pd.DataFrame:
    """The FID/KID each transfer source recorded for itself (`fid.json` beside its weights), where it has one."""
    import json

    rows = []
    for source in sorted(s for s in df.transfer_source.dropna().unique() if s):
        path = Path(source) / "fid.json"
        path = path if path.is_absolute() else REPO_ROOT / path
        if path.exists():
            r = json.loads(path.read_text())
            rows.append({"source": source, "FID": round(r["fid"], 1), "KID": round(r["kid"], 3),
                         "samples": r["num_samples"], "reference images": r.get("reference_count"),
                         "reference": r["reference"]})
    return pd.DataFrame(rows)
