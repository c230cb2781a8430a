"""Benchmarks of the study's hot paths, written as JSON with the machine they ran on.

`features`: images/s of clean-fid feature extraction (Parmar et al., CVPR 2022) on the same images, through
`gan_lib.evaluation` in memory versus clean-fid's own folder path (`cleanfid.fid.get_folder_features`: PNG decode,
Pillow resize, its `InceptionV3W` forward) with the same network, device and batch size clean-fid's
`compute_fid` uses by default. It also reports the largest feature difference between the two paths.

`train`: training images/s per variant in the plain reference mode (eager fp32, NCHW) and the optimized mode
(channels_last; bf16 autocast on CUDA), side by side in one run, with FLOPs per step and the GFLOP/s reached.
`kernels`: GFLOP/s of the CPU's 3x3 conv kernels at the laptop shapes and of a large matmul, the ceilings that
bound any CPU training speedup.

CLI: `python -m gan_lib.bench {features,train,kernels} ...` -> a scratch file `<cache>/bench/<kind>_<host>[_cuda].json`;
`--out results/bench/NAME.json` to write (and then commit) a result file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.flop_counter import FlopCounterMode

from gan_lib.errors import UserError, cli_errors
from gan_lib.files import write_json
from gan_lib.paths import cache_dir

log = logging.getLogger(__name__)

_INCEPTION_GFLOP_PER_IMAGE = 5.7  # FID Inception-v3 at 299x299: 2 x its 2.85 G multiply-adds per image


def machine_info(device: str | torch.device = "cpu") -> dict[str, Any]:
    """Host, CPU model, threads, Python/torch versions and, for CUDA, the GPU name."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    device = torch.device(device)
    info = {"host": socket.gethostname(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def bench_path(kind: str, device: str | torch.device = "cpu") -> Path:
    """The default output, `<cache>/bench/KIND_HOST.json` (`_cuda` etc. appended for a non-CPU device): a scratch
    folder, so a benchmark never overwrites the committed `results/bench/` files unless `--out` names one."""
    device_type = torch.device(device).type
    suffix = "" if device_type == "cpu" else f"_{device_type}"
    return cache_dir() / "bench" / f"{kind}_{socket.gethostname()}{suffix}.json"


def _bench_images(num: int, resolution: int, seed: int = 0) -> np.ndarray:
    """Deterministic drawings (ellipses, rectangles, lines on a tinted background), uint8 [num, R, R, 3]."""
    rng = np.random.default_rng(seed)
    out = np.empty((num, resolution, resolution, 3), np.uint8)
    for i in range(num):
        img = Image.new("RGB", (resolution, resolution), tuple(int(v) for v in rng.integers(150, 256, 3)))
        draw = ImageDraw.Draw(img)
        for _ in range(6):
            box = sorted(rng.integers(0, resolution, 2)), sorted(rng.integers(0, resolution, 2))
            xy = [int(box[0][0]), int(box[1][0]), int(box[0][1]) + 1, int(box[1][1]) + 1]
            fill = tuple(int(v) for v in rng.integers(0, 256, 3))
            [draw.ellipse, draw.rectangle, draw.line][int(rng.integers(3))](xy, fill=fill)
        out[i] = np.asarray(img)
    return out


def _feature_paths(device: str, path: Path) -> dict[str, Any]:
    """The in-memory extractor variants timed by `features`, each adding one step to the one before: the
    TorchScript module as it ran before (batch 8, channels-last input), the re-expressed network, larger batches."""
    from gan_lib.evaluation import InceptionExtractor

    if torch.device(device).type != "cpu":
        return {"in_memory": InceptionExtractor(path, device)}
    return {"torchscript_b8": InceptionExtractor(path, device, batch_size=8, folded=False),
            "+folded_b8": InceptionExtractor(path, device, batch_size=8, folded=True),
            "+folded_b16": InceptionExtractor(path, device, batch_size=16, folded=True),
            "+folded_b32 (default)": InceptionExtractor(path, device, batch_size=32, folded=True)}


def _cmd_features(args: argparse.Namespace) -> None:
    from cleanfid import fid

    from gan_lib import evaluation

    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA device is available here; use --device cpu")
    if args.num < 2:
        raise UserError(f"--num must be at least 2, got {args.num}")
    images = _bench_images(args.num, args.resolution)
    default = evaluation.inception_extractor(device)
    extractors = _feature_paths(device, default.path)
    model = evaluation.cleanfid_model(device)
    timings: dict[str, list[float]] = {name: [] for name in ("cleanfid_folder", *extractors)}
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    with tempfile.TemporaryDirectory() as tmp:
        for i, img in enumerate(images):
            Image.fromarray(img).save(Path(tmp) / f"{i:05d}.png")

        def folder(num: int | None = None) -> np.ndarray:
            return fid.get_folder_features(tmp, model, num_workers=0, batch_size=args.cleanfid_batch_size,
                                           device=torch.device(device), num=num, mode="clean", verbose=False)

        fns = {"cleanfid_folder": folder,
               **{name: (lambda e=e: evaluation.image_features(images, e)) for name, e in extractors.items()}}
        # warm up every path with full batches (TorchScript's profiling executor optimises a shape on its first
        # calls, cuDNN picks its kernels), then alternate the timed runs: A B C ... A B C ...
        for _ in range(2):
            folder(args.cleanfid_batch_size)
            for e in extractors.values():
                evaluation.image_features(images[:e.batch_size], e)
        feats = {}
        for _ in range(args.repeats):
            for name, fn in fns.items():
                sync()
                t0 = time.perf_counter()
                feats[name] = fn()
                sync()
                timings[name].append(time.perf_counter() - t0)
    rate = {k: args.num / min(v) for k, v in timings.items()}
    base = next(iter(extractors))
    gflop = _INCEPTION_GFLOP_PER_IMAGE
    ref = feats["cleanfid_folder"]
    rows = [{"path": name, "images_per_s": round(rate[name], 3), "gflop_per_s": round(rate[name] * gflop, 1),
             "vs_cleanfid_folder": round(rate[name] / rate["cleanfid_folder"], 3),
             "vs_" + base: round(rate[name] / rate[base], 3),
             "batch": getattr(extractors.get(name), "batch_size", args.cleanfid_batch_size),
             "max_rel_feature_diff_vs_cleanfid": float(np.abs(feats[name] - ref).max() / np.abs(ref).max()),
             "seconds": [round(s, 3) for s in timings[name]]} for name in timings]
    result = {
        "benchmark": "features", "num_images": args.num, "resolution": args.resolution, "repeats": args.repeats,
        "gflop_per_image": gflop, "rows": rows, "default_batch": default.batch_size,
        "cleanfid_batch": args.cleanfid_batch_size, "extractor": default.name, "network": str(default.path),
        "machine": machine_info(device), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    for row in rows:
        print(json.dumps({k: v for k, v in row.items() if k != "seconds"}))
    if args.out:
        print(f"wrote {write_json(args.out, result)}")


def _random_source(cfg, n_classes: int, folder: Path) -> str:
    """A transfer source with random weights and `cfg`'s architecture (for timing only)."""
    from gan_lib import checkpoint as ckpt
    from gan_lib.checkpoint import WEIGHTS
    from gan_lib.models.build import build_gan

    src = cfg.replace(variant="scratch", transfer_source="", aug_policy="", cr_weight=0.0, miner_stage1_steps=0)
    with torch.device(cfg.train_device if cfg.train_device != "auto" else "cpu"):
        g, d = build_gan(src, n_classes)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(src.to_json())
    torch.save({"format": ckpt.FORMAT, "G_ema": g.state_dict(), "D": d.state_dict(), "n_classes": n_classes,
                "step": 0, "rows": []}, folder / WEIGHTS)
    return str(folder)


def matmul_gflops(device: torch.device, n: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of an n x n fp32 matmul (TF32 off): what the device's dense kernels reach at best."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        for _ in range(3):
            a @ b
        sync()
        t0 = time.perf_counter()
        for _ in range(repeats):
            a @ b
        sync()
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def _time_steps(cfg, images: np.ndarray, steps: int, warmup: int) -> dict[str, float]:
    """Seconds per training step (median of `steps` after `warmup`), peak memory, and sampling images/s."""
    from gan_lib.training.loop import init_state, train_step

    state = init_state(cfg, images, np.zeros(len(images), np.int64), 1)
    cuda = state.device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for _ in range(warmup):
        train_step(state)
    times = []
    for _ in range(steps):
        sync()
        t0 = time.perf_counter()
        train_step(state)
        sync()
        times.append(time.perf_counter() - t0)
    seconds = float(np.median(times))
    out = {"step_seconds": round(seconds, 5), "images_per_s": round(cfg.opt_batch_size / seconds, 2)}
    if not cfg.train_compile:  # compiled graphs hide their ops from the counter; the FLOPs are the same anyway
        with FlopCounterMode(display=False) as counter:  # one more step, untimed: FLOPs of convs and matmuls
            train_step(state)
        gflop = counter.get_total_flops() / 1e9
        out |= {"gflop_per_step": round(gflop, 2), "achieved_gflop_per_s": round(gflop / seconds, 1)}
    if cuda:
        out["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    out["sampling_images_per_s"] = _sampling_rate(state)
    return out


def _sampling_rate(state, batches: int = 4) -> float:
    """Images/s of the evaluation generator (EMA, eval mode) at the evaluation batch size, as FID sampling runs it."""
    from gan_lib.evaluation import generate_images
    from gan_lib.training.monitor import eval_sampler

    sampler, batch = eval_sampler(state), state.cfg.eval_batch_size
    sampler.eval()
    kwargs = {"dim_z": sampler.dim_z, "n_classes": sampler.n_classes, "seed": 0, "batch_size": batch,
              "device": state.device}
    generate_images(sampler, num=batch, **kwargs)  # warm-up; each call ends with a copy to the host (a sync)
    t0 = time.perf_counter()
    generate_images(sampler, num=batches * batch, **kwargs)
    return round(batches * batch / (time.perf_counter() - t0), 1)


def _cmd_train(args: argparse.Namespace) -> None:
    """Training images/s per variant: the plain reference mode and the optimized mode, side by side."""
    from gan_lib.config import VARIANTS, make_config

    device = torch.device(args.device)
    results, tmp = [], Path(tempfile.mkdtemp(prefix="gan_bench_"))
    optimized = {"train_channels_last": True, "train_bf16": device.type == "cuda"}
    modes = [("reference", {}), ("optimized", optimized)]
    if args.compile:
        modes.append(("compiled", {**optimized, "train_compile": True}))
    for batch in args.batch:
        base = make_config(args.preset, "scratch", train_device=device.type, opt_batch_size=batch,
                           eval_num_samples=0, train_threads=0)
        images = _bench_images(max(batch, 64), base.data_resolution)
        source = _random_source(base, args.source_classes, tmp / f"source{batch}")
        for variant in args.variants:
            # transfer variants are timed in stage 2 (miner, G and D all train), their full cost
            extra = {"transfer_source": source, "miner_stage1_steps": 0} if VARIANTS[variant].transfer else {}
            row = {"preset": args.preset, "variant": variant, "batch": batch}
            for _ in range(args.rounds):  # ABAB...: slow drift of the machine hits both modes alike
                for mode, flags in modes:
                    cfg = make_config(args.preset, variant, train_device=device.type, opt_batch_size=batch,
                                      eval_num_samples=0, train_threads=0, **extra, **flags)
                    timing = _time_steps(cfg, images, args.steps, args.warmup)
                    if mode not in row or timing["step_seconds"] < row[mode]["step_seconds"]:
                        row[mode] = timing
            row["speedup"] = round(row["reference"]["step_seconds"] / row["optimized"]["step_seconds"], 3)
            if args.compile:
                row["compiled_speedup"] = round(row["reference"]["step_seconds"] / row["compiled"]["step_seconds"], 3)
            log.info("%s", row)
            results.append(row)
    result = {"benchmark": "train", "optimized_flags": optimized, "steps": args.steps, "warmup": args.warmup,
              "rounds": args.rounds,
              "rows": results, "machine": machine_info(device), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              # the ceiling for a compute-bound step: a large fp32 matmul on the same device and threads
              "matmul_fp32_gflop_per_s": round(matmul_gflops(device), 1)}
    path = write_json(args.out or bench_path(f"train_{args.preset}", device), result)
    print(json.dumps([{k: r[k] for k in ("variant", "batch", "speedup", "compiled_speedup") if k in r}
                      for r in results]))
    print(f"wrote {path}")


def _conv_rates(n: int, ch: int, size: int, memory_format: torch.memory_format, repeats: int) -> dict[str, float]:
    """GFLOP/s of a 3x3 conv's forward, input gradient and weight gradient at one shape and memory format."""
    x = torch.randn(n, ch, size, size).contiguous(memory_format=memory_format)
    w = torch.randn(ch, ch, 3, 3).contiguous(memory_format=memory_format)
    grad = torch.nn.functional.conv2d(x, w, padding=1)
    backward = torch.ops.aten.convolution_backward

    def timed(fn) -> float:
        for _ in range(2):
            fn()
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        return 2 * n * ch * ch * 9 * size * size * repeats / (time.perf_counter() - t0) / 1e9

    return {
        "forward": timed(lambda: torch.nn.functional.conv2d(x, w, padding=1)),
        "grad_input": timed(lambda: backward(grad, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                                             [True, False, False])),
        "grad_weight": timed(lambda: backward(grad, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                                              [False, True, False])),
    }


def _cmd_kernels(args: argparse.Namespace) -> None:
    """CPU kernel ceilings at the laptop preset's conv shapes: what any training-step optimization is bounded by."""
    rows = []
    for n, size in ((32, 32), (32, 16), (16, 8)):  # D's real+fake batch at 32 and 16 px, G's batch at 8 px
        for name, fmt in (("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)):
            rates = _conv_rates(n, args.channels, size, fmt, args.repeats)
            rows.append({"batch": n, "channels": args.channels, "size": size, "memory_format": name,
                         **{f"{k}_gflop_per_s": round(v, 1) for k, v in rates.items()}})
            log.info("%s", rows[-1])
    result = {"benchmark": "kernels", "rows": rows, "matmul_fp32_gflop_per_s": round(matmul_gflops(
              torch.device("cpu")), 1), "machine": machine_info("cpu"), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path = write_json(args.out or bench_path("kernels"), result)
    print(f"wrote {path}")


def _parser() -> argparse.ArgumentParser:
    from gan_lib.config import default_variants

    p = argparse.ArgumentParser(prog="python -m gan_lib.bench", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("features", help="feature extraction images/s: in memory vs clean-fid's folder path")
    f.add_argument("--num", type=int, default=32, help="images (default 32)")
    f.add_argument("--resolution", type=int, default=64, help="image side in pixels before the resize to 299")
    f.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    f.add_argument("--repeats", type=int, default=3, help="timed runs per path, alternating; the fastest counts")
    f.add_argument("--cleanfid-batch-size", type=int, default=32, help="clean-fid's compute_fid default: 32")
    f.add_argument("--out", default=None, help="JSON path to write (default: print only; the committed CPU file "
                   "of the re-expressed path is results/bench/features_vm_fast.json)")
    f.set_defaults(run=_cmd_features)
    t = sub.add_parser("train", help="training images/s per variant: reference vs optimized mode")
    t.add_argument("--preset", default="laptop")
    t.add_argument("--variants", nargs="+", default=default_variants())
    t.add_argument("--batch", nargs="+", type=int, default=[16], help="batch sizes to time")
    t.add_argument("--steps", type=int, default=6, help="timed steps per mode (the median counts)")
    t.add_argument("--warmup", type=int, default=2)
    t.add_argument("--rounds", type=int, default=2, help="alternating rounds per mode; the fastest median counts")
    t.add_argument("--source-classes", type=int, default=10, help="classes of the random transfer source")
    t.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    t.add_argument("--compile", action="store_true",
                   help="also time a third mode: optimized + torch.compile (use --warmup >= 3: it compiles there)")
    t.add_argument("--out", default=None, help="JSON path (default: a scratch file <cache>/bench/train_<preset>_<host>.json; results/bench/... to commit)")
    t.set_defaults(run=_cmd_train)
    k = sub.add_parser("kernels", help="CPU conv forward / gradient GFLOP/s at the laptop shapes, and a matmul")
    k.add_argument("--channels", type=int, default=128, help="conv width (laptop preset: 4 x 32)")
    k.add_argument("--repeats", type=int, default=10)
    k.add_argument("--out", default=None, help="JSON path (default: a scratch file <cache>/bench/kernels_<host>.json; results/bench/... to commit)")
    k.set_defaults(run=_cmd_kernels)
    return p


@cli_errors
def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = _parser().parse_args(argv)
    args.run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
