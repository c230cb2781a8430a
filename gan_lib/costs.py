"""Disk and H200 time of the `paper` study (the thesis's grid: 4 variants x obama-100 and lsun-bedroom-1000),
computed, not measured end to end: time from the committed benchmark files (`results/bench/train_paper_h200.json`:
seconds per step at batch 32; `features_vm_cuda.json`: FID feature images/s), disk from the tensors of the `paper`
architecture built on PyTorch's meta device (nothing is allocated).

    python -m gan_lib.costs [--check]   # print the README's table (or check the README holds it)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

import torch

from gan_lib.config import Config, default_variants, make_config
from gan_lib.paths import REPO_ROOT

BENCH = REPO_ROOT / "results" / "bench"
DATASETS = {"obama-100": 100, "lsun-bedroom-1000": 1000}  # the originals and their sizes
SOURCE_CLASSES = 1000  # the released ImageNet BigGAN
# Variant -> benchmarked variant whose step time stands for it: tl's miner is tiny next to G and D, tl+da's
# DiffAugment is timed together with CR (an upper bound for tl+da).
TIMED_AS = {"scratch": "scratch", "tl": "scratch", "tl+da": "tl+da+cr", "tl+da+cr": "tl+da+cr"}
GB = 1e9
BLOCK = re.compile(r"(<!-- computed: paper costs -->\n)(.*?)(<!-- end computed -->)", re.S)


PAPER_DOC = REPO_ROOT / "docs" / "paper.md"  # where the README's paper path keeps the costs table

def _numel(*modules: torch.nn.Module) -> tuple[int, int]:
    """(tensors in the state dicts, trainable parameters) of `modules`."""
    state = sum(v.numel() for m in modules for v in m.state_dict().values())
    return state, sum(p.numel() for m in modules for p in m.parameters())


def run_bytes(cfg: Config) -> dict[str, float]:
    """Bytes of one checkpoint (G, EMA G, D, miner, EMA miner, Adam's two moments per parameter; float32) and of the
    exported weights.pt (EMA G, D, EMA miner) of a run with `cfg`."""
    from gan_lib.models.build import build_gan
    from gan_lib.models.miner import Miner

    with torch.device("meta"):
        g, _ = build_gan(cfg, SOURCE_CLASSES if cfg.uses_transfer else 1)
        _, d = build_gan(cfg, 1)  # transfer replaces D's class embedding by one target row
        parts = [g, d] + ([Miner(dim_z=g.dim_z, n_source_classes=SOURCE_CLASSES, hidden=cfg.miner_hidden)]
                          if cfg.uses_transfer else [])
    g_state, _ = _numel(g)
    miner_state = _numel(parts[2])[0] if len(parts) > 2 else 0
    state, params = _numel(*parts)
    return {"checkpoint": 4 * (state + g_state + miner_state + 2 * params),
            "weights": 4 * (g_state + _numel(d)[0] + miner_state)}


def source_bytes() -> int:
    """Bytes of the installed release (`pretrained/biggan-128`: G.pth, G_ema.pth, D.pth; float32)."""
    from gan_lib.models.fetch import BIGGAN_128
    from gan_lib.models.pretrained import models_from_biggan_config

    with torch.device("meta"):
        g, d = models_from_biggan_config(BIGGAN_128.config)
    return 4 * (2 * _numel(g)[0] + _numel(d)[0])


def eval_points(cfg: Config) -> int:
    return sum(1 for step in range(1, cfg.opt_steps + 1) if step % cfg.eval_every == 0 or step == cfg.opt_steps)


def paper_costs(mode: str = "reference") -> dict[str, Any]:
    """Per run (dataset x variant): steps, training and evaluation seconds on the H200, disk; and the grid's sums."""
    train = json.loads((BENCH / "train_paper_h200.json").read_text())
    step_seconds = {r["variant"]: r[mode]["step_seconds"] for r in train["rows"] if r["batch"] == 32}
    sampling = {r["variant"]: r[mode]["sampling_images_per_s"] for r in train["rows"] if r["batch"] == 32}
    features = json.loads((BENCH / "features_vm_cuda.json").read_text())["images_per_s"]["in_memory"]
    runs = []
    for dataset, size in DATASETS.items():
        for variant in default_variants():
            cfg = make_config("paper", variant, data_name=dataset).for_dataset_size(size)
            timed = TIMED_AS[variant]
            images = eval_points(cfg) * cfg.eval_num_samples
            runs.append({"dataset": dataset, "variant": variant, "steps": cfg.opt_steps,
                         "train_s": cfg.opt_steps * step_seconds[timed],
                         "eval_s": images * (1 / sampling[timed] + 1 / features), "eval_images": images,
                         **run_bytes(cfg)})
    return {"mode": mode, "runs": runs, "batch": 32, "features_per_s": features,
            "sampling_per_s": min(sampling.values())}


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h"


def markdown(seeds: int = 3) -> str:
    """The README's table: per dataset, the four variants' time and disk; then one seed and `seeds` seeds."""
    ref, opt = paper_costs("reference"), paper_costs("optimized")
    lines = ["| runs | steps | H200 time, reference (optimized: `--channels-last --bf16`) | of it FID | "
             "disk kept: full / weights (`paper` default) |", "|---|---|---|---|---|"]
    for dataset in DATASETS:
        rs = [r for r in ref["runs"] if r["dataset"] == dataset]
        os_ = [r for r in opt["runs"] if r["dataset"] == dataset]
        t_ref, t_opt = (sum(r["train_s"] + r["eval_s"] for r in x) for x in (rs, os_))
        lines.append(f"| {dataset}, 4 variants | {rs[0]['steps']:,} each | {_minutes(t_ref)} ({_minutes(t_opt)}) | "
                     f"{_minutes(sum(r['eval_s'] for r in rs))} | {2 * sum(r['checkpoint'] for r in rs) / GB:.1f} / "
                     f"{sum(r['weights'] for r in rs) / GB:.1f} GB |")
    total = {k: sum(r["train_s"] + r["eval_s"] for r in x["runs"]) for k, x in (("ref", ref), ("opt", opt))}
    full, slim = (sum(r[k] for r in ref["runs"]) for k in ("checkpoint", "weights"))
    for n in (1, seeds):
        lines.append(f"| grid, {n} seed{'s' * (n > 1)} ({8 * n} runs) | | {_minutes(n * total['ref'])} "
                     f"({_minutes(n * total['opt'])}) | {_minutes(n * sum(r['eval_s'] for r in ref['runs']))} | "
                     f"{n * 2 * full / GB:.0f} / {n * slim / GB:.1f} GB |")
    ckpt = max(r["checkpoint"] for r in ref["runs"])
    weights = max(r["weights"] for r in ref["runs"])
    eval_images = max(r["eval_images"] for r in ref["runs"])
    lines += ["", f"One transfer checkpoint is {ckpt / GB:.2f} GB (float32: G, EMA G, D, miner and EMA miner, plus "
              f"Adam's two moments per parameter); a run keeps two (`checkpoint.pt`, `checkpoint.prev.pt`) and for a "
              f"moment a third while saving, so it needs {3 * ckpt / GB:.1f} GB free while it trains; `weights.pt` is "
              f"{weights / GB:.2f} GB. FID: {eval_images:,} generated images per run (5 points x 5,000), each "
              f"sampled by the EMA generator (~{ref['sampling_per_s']:,.0f} img/s) and passed through Inception "
              f"({ref['features_per_s']:,.0f} img/s). The released checkpoint in `pretrained/biggan-128` takes "
              f"{source_bytes() / GB:.2f} GB (G, EMA G, D)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_lib.costs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 unless docs/paper.md holds the current table")
    args = parser.parse_args(argv)
    table = markdown()
    if not args.check:
        print(table, end="")
        return 0
    match = BLOCK.search(PAPER_DOC.read_text())
    if match is None or match.group(2) != table:
        print(f"{PAPER_DOC}: the paper costs block is missing or out of date; paste `python -m gan_lib.costs`",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
