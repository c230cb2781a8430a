"""Command line for evaluation.

    python -m gan_lib.metrics fid DIR_A DIR_B          FID and KID between two image folders (clean-fid clean mode)
    python -m gan_lib.metrics fid-run RUN_DIR          FID/KID of a trained run against its dataset (JSON)
    python -m gan_lib.metrics similarity               FID/KID of each target's images to the source's

The metrics themselves are in `gan_lib.evaluation`, which knows nothing of training; this module sits above it
and the training side, because `fid-run` rebuilds a run's sampler (`gan_lib.models.build.load_sampler`).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from gan_lib.data import load_dataset
from gan_lib.errors import UserError, cli_errors
from gan_lib.evaluation import (
    evaluate,
    fid_kid,
    folder_images,
    image_features,
    inception_extractor,
    reference_features,
)
from gan_lib.models.build import load_sampler

log = logging.getLogger(__name__)


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device is available here; use --device cpu")
    return name


# Below this many images per folder FID is strongly biased upwards (and KID noisy): the numbers compare poorly.
FEW_IMAGES = 50


def _cmd_fid(args: argparse.Namespace) -> None:
    """FID and KID of two folders (the same numbers as `fid_folders`), with counts, warnings and progress."""
    from tqdm.auto import tqdm

    folders = {"a": args.dir_a, "b": args.dir_b}
    images = {k: folder_images(f, skip_unreadable=True) for k, f in folders.items()}
    for k, imgs in images.items():
        if len(imgs) < FEW_IMAGES:
            log.warning("%s holds %d images: FID from fewer than %d is biased upwards; compare only numbers "
                        "computed from the same counts", folders[k], len(imgs), FEW_IMAGES)
    extractor = inception_extractor(_device(args.device))
    chunk = getattr(extractor, "batch_size", 64)
    feats = {}
    with tqdm(total=sum(map(len, images.values())), desc="Inception features", unit="img") as bar:
        for k, imgs in images.items():
            parts = []
            for i in range(0, len(imgs), chunk):
                parts.append(image_features(imgs[i:i + chunk], extractor))
                bar.update(len(imgs[i:i + chunk]))
            feats[k] = np.concatenate(parts)
    scores = fid_kid(feats["a"], feats["b"])
    print(f"FID {scores['fid']:.6f}, KID {scores['kid']:.6f} ({len(images['a'])} images in {args.dir_a}, "
          f"{len(images['b'])} in {args.dir_b}; {extractor.name})")


def _cmd_fid_run(args: argparse.Namespace) -> None:
    device = _device(args.device)
    if not Path(args.run_dir).is_dir():
        raise UserError(f"run folder {args.run_dir} does not exist")
    cfg, sampler = load_sampler(args.run_dir, device)
    dataset = load_dataset(cfg.data_name, cfg.data_resolution)
    result = evaluate(sampler, dim_z=sampler.dim_z, n_classes=sampler.n_classes, dataset=dataset,
                      num=args.num or cfg.eval_num_samples, seed=cfg.eval_seed if args.seed is None else args.seed,
                      batch_size=cfg.eval_batch_size, device=device,
                      truncation=getattr(cfg, "eval_truncation", 0.0) if args.truncation is None else args.truncation)
    print(json.dumps({"run_dir": str(args.run_dir), **result, "device": device}, indent=1))


# The study's targets, ordered as the similarity table shows them, and the source they are measured against.
SIMILARITY_SOURCE = "openmoji"
SIMILARITY_TARGETS = ("twemoji-faces", "noto-faces", "fluent-faces", "fluent-objects-100", "fluent-objects-1000",
                      "lfw-faces")
SIMILARITY_SEED = 0  # the draw that brings every target to the same count


def target_distances(source: str, targets: Sequence[str], resolution: int, extractor) -> list[dict]:
    """FID and KID between each target's images and the source's at `resolution`, every target drawn down to the
    smallest one's count (seeded), since FID from fewer images is biased upwards: the distances then compare."""
    sets = {name: load_dataset(name, resolution) for name in [source, *targets]}
    count = min(len(sets[t]) for t in targets)
    ref = reference_features(sets[source], extractor)
    rows = []
    for target in targets:
        drawn = sets[target].subset(count, SIMILARITY_SEED)
        scores = fid_kid(reference_features(drawn, extractor), ref)
        rows.append({"target": target, "source": source, **scores, "target_count": len(drawn),
                     "target_total": len(sets[target]), "source_count": len(ref), "resolution": resolution,
                     "extractor": extractor.name})
    return rows


def _cmd_similarity(args: argparse.Namespace) -> None:
    import pandas as pd

    from gan_lib.files import atomic_write_bytes
    from gan_lib.paths import results_dir

    rows = target_distances(args.source, args.targets, args.resolution, inception_extractor(_device(args.device)))
    out = Path(args.out) if args.out else results_dir() / "similarity.parquet"
    atomic_write_bytes(out, pd.DataFrame(rows).to_parquet(index=False))
    for r in rows:
        print(f"{r['target']:>20}: FID {r['fid']:7.2f}  KID {r['kid']:.4f}  ({r['target_count']} of "
              f"{r['target_total']} images against {r['source_count']} of {r['source']})")
    print(f"wrote {out}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gan_lib.metrics",
                                description="FID and KID as clean-fid computes them (clean mode)")
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fid", help="FID and KID between two image folders (clean-fid clean mode), with the counts")
    f.add_argument("dir_a")
    f.add_argument("dir_b")
    f.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (default)")
    f.set_defaults(run=_cmd_fid)
    r = sub.add_parser("fid-run", help="FID/KID of a trained run against its dataset; prints JSON")
    r.add_argument("run_dir")
    r.add_argument("--num", type=int, default=0, help="generated samples (default: the run's eval_num_samples)")
    r.add_argument("--seed", type=int, default=None, help="evaluation latent seed (default: the run's eval_seed)")
    r.add_argument("--truncation", type=float, default=None,
                   help="truncation threshold, 0 = none (default: the run's eval_truncation)")
    r.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (default)")
    r.set_defaults(run=_cmd_fid_run)
    m = sub.add_parser("similarity", help="FID/KID of each target dataset to the source dataset, at equal counts; "
                                          "writes results/similarity.parquet")
    m.add_argument("--source", default=SIMILARITY_SOURCE)
    m.add_argument("--targets", nargs="+", default=list(SIMILARITY_TARGETS))
    m.add_argument("--resolution", type=int, default=32)
    m.add_argument("--out", default=None, help="default: results/similarity.parquet")
    m.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (default)")
    m.set_defaults(run=_cmd_similarity)
    return p


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = _parser().parse_args(argv)
    args.run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
