"""Wall time of the same smoke grid (2 tiny datasets x {scratch, tl}, 4 steps, FID/KID at steps 2 and 4) with the
local executor, one run at a time, on a Ray cluster of two one-CPU nodes started here, and (for comparison) with
the local executor two runs at a time.

    python tools/bench_executors.py [--out results/bench/executors_<host>.json]

Each executor gets its own fresh cache (datasets prepared before timing, reference statistics computed inside it,
as in a first study). The Ray figure excludes starting the cluster (timed apart) but includes connecting and the
shared-storage check. Uses the tests' tiny-dataset generator (tests/conftest.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
DATASETS = ("tinya", "tinyb")


def prepare_cache(cache: Path) -> None:
    """The two 16 px datasets of 8 images the Ray tests use, prepared into `cache`."""
    from conftest import make_image_set

    from gan_lib.data import prepare

    os.environ["GAN_LIB_CACHE"] = str(cache)
    for seed, name in enumerate(DATASETS):
        folder = cache.parent / f"images-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(make_image_set(n=8, resolution=16, seed=seed).images):
            Image.fromarray(image).save(folder / f"{i:02d}.png")
        prepare(name, 16, source=folder)


def smoke_source(run_dir: Path) -> Path:
    """A tiny class-conditional source model to transfer from (as the tests' `smoke_source`)."""
    from conftest import make_image_set

    from gan_lib.config import make_config
    from gan_lib.training.loop import train

    train(make_config("smoke", "scratch", opt_steps=3, eval_num_samples=0), run_dir,
          dataset=make_image_set(n_classes=3, seed=1), progress=False)
    return run_dir


def timed_study(work: Path, source: Path, *flags: str) -> float:
    cache = work / "cache"
    prepare_cache(cache)
    args = [sys.executable, "-m", "gan_lib.study", "--preset", "smoke", "--study", "bench", "--datasets", *DATASETS,
            "--variants", "scratch", "tl", "--seeds", "0", "--steps", "4", "--pretrained", str(source),
            "--runs-root", str(work / "runs"), "--results-root", str(work / "results"),
            "--output-root", str(work / "executed"), "--no-report", *flags]
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=REPO, env={**os.environ, "GAN_LIB_CACHE": str(cache)}, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"study failed ({' '.join(flags) or 'local'}):\n{proc.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="JSON path (default: results/bench/executors_<host>.json)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-executors-"))
    try:
        result = bench(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out or REPO / "results" / "bench" / f"executors_{platform.node()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {out}")


def bench(work: Path) -> dict:
    """The three timings (seconds) and the machine's load around them."""
    from gan_lib.study.ray_executor import local_cluster

    load_before = os.getloadavg()
    source = smoke_source(work / "source")
    local = timed_study(work / "local", source, "--jobs", "1")
    print(f"local --jobs 1: {local:.1f} s", flush=True)
    t0 = time.perf_counter()
    with local_cluster(nodes=2, cpus_per_node=1) as address:
        started = time.perf_counter() - t0
        ray = timed_study(work / "ray", source, "--executor", "ray", "--ray-address", address, "--gpus-per-run", "0")
    print(f"ray, 2 nodes x 1 CPU: {ray:.1f} s (+ {started:.1f} s to start the cluster); local / ray = "
          f"{local / ray:.2f}x", flush=True)
    local2 = timed_study(work / "local2", source, "--jobs", "2")
    print(f"local --jobs 2: {local2:.1f} s; local --jobs 1 / --jobs 2 = {local / local2:.2f}x")
    return {"machine": {"host": platform.node(), "cpu_count": os.cpu_count()}, "grid": "smoke 2x2, 4 steps",
            "local_jobs1_seconds": round(local, 1), "ray_2nodes_seconds": round(ray, 1),
            "ray_cluster_start_seconds": round(started, 1), "local_jobs2_seconds": round(local2, 1),
            "local_jobs1_over_ray": round(local / ray, 2), "local_jobs1_over_jobs2": round(local / local2, 2),
            "load_average_before": load_before, "load_average_after": os.getloadavg()}


if __name__ == "__main__":
    main()
