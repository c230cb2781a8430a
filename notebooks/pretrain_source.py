# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Pretrain the source BigGAN on OpenMoji
#
# The transfer variants start from this class-conditional BigGAN (10 OpenMoji groups). The committed model in
# `results/source/openmoji-laptop/` was trained with these parameters on a GPU; executing this notebook again finds
# it finished and shows its recorded FID. Delete that folder's `weights.pt` and `fid.json` to train it again (on the CPU this takes a few
# hours; on a GPU about five minutes). The smoke-sized source that lets the transfer variants run at the `smoke`
# preset (`results/source/openmoji-smoke/`, 140 KB, a few minutes on a CPU) was made with `-p preset smoke -p steps 200
# -p batch_size 16 -p ema_start 50 -p ema_decay 0.99 -p ckpt_every 100 -p fid_samples 0 -p source_dir
# results/source/openmoji-smoke` (then its checkpoints deleted: `weights.pt` holds the trained model).

# %%
import json
from pathlib import Path
from typing import Optional

import torch
from IPython.display import Image, display

from gan_lib import evaluation
from gan_lib.checkpoint import atomic_write_bytes
from gan_lib.config import make_config
from gan_lib.data import load_dataset
from gan_lib.models.build import load_sampler
from gan_lib.paths import REPO_ROOT
from gan_lib.report.plots import sample_grid
from gan_lib.training.loop import resolve_device, train
from gan_lib.training.run_dir import export_weights

# %% tags=["parameters"]
preset: str = "laptop"  # laptop | smoke: the architecture (smoke: results/source/openmoji-smoke, 16 px, seconds)
steps: int = 5000  # G updates
batch_size: int = 64
ema_start: int = 1000  # step at which the EMA generator starts averaging
ema_decay: float = 0.999
ckpt_every: int = 1000
device: Optional[str] = None  # auto | cpu | cuda; None: the preset's (auto)
fid_samples: int = 1000  # generated images for the source's FID against openmoji; 0: no FID
source_dir: str = "results/source/openmoji-laptop"  # where the source model goes

# %%
overrides = {"train_device": device} if device else {}
cfg = make_config(preset, "scratch", data_name="openmoji", opt_steps=steps, opt_batch_size=batch_size,
                  eval_num_samples=0, g_ema_start=ema_start, g_ema_decay=ema_decay, ckpt_every=ckpt_every,
                  **overrides)
images = load_dataset("openmoji", cfg.data_resolution)
source_dir = REPO_ROOT / source_dir  # relative locations are relative to the repository
print(f"{len(images)} images, {len(images.class_names)} classes: {', '.join(images.class_names)}")

# %%
train(cfg, source_dir, dataset=images)
if (Path(source_dir) / "checkpoint.pt").exists():
    export_weights(source_dir)

# %%
torch_device = resolve_device(cfg.train_device)
_, sampler = load_sampler(source_dir, torch_device)
grid = sample_grid(sampler, Path(source_dir) / "samples.png", dim_z=sampler.dim_z, n_classes=sampler.n_classes,
                   num=80, seed=0, device=torch_device, nrow=10)
display(Image(filename=str(grid)))

# %%
recorded = Path(source_dir) / "fid.json"
if recorded.exists() and json.loads(recorded.read_text())["num_samples"] == fid_samples:
    result = json.loads(recorded.read_text())  # evaluated before: the model is unchanged once finished
elif fid_samples:
    result = evaluation.evaluate(sampler, dim_z=sampler.dim_z, n_classes=sampler.n_classes, dataset=images,
                              num=fid_samples, seed=cfg.eval_seed, batch_size=cfg.eval_batch_size, device=torch_device)
    atomic_write_bytes(recorded, json.dumps(result, indent=1).encode())
if fid_samples:
    print(f"source model FID {result['fid']:.1f}, KID {result['kid']:.3f} on {result['num_samples']} samples against "
          f"{result['reference_count']} {cfg.data_name} images")
