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
# # Train one variant on one dataset
#
# One run of the study: one variant (`python -m gan_lib.study --help` lists them with what each adds: BigGAN from
# scratch, transfer through a MineGAN miner, DiffAugment, consistency regularization, ...). The run checkpoints to
# `runs/<study>/<run_id>/` and resumes when executed again; its evaluation rows go to
# `results/runs/<study>/<run_id>.parquet`. `python -m gan_lib.study` executes this notebook with papermill.

# %%
import logging
from pathlib import Path
from typing import Optional

from IPython.display import Image, display

from gan_lib.data import load_dataset
from gan_lib.paths import REPO_ROOT
from gan_lib.report.plots import LiveProgress, scalar_curves, training_curves
from gan_lib.study.publish import publish_run
from gan_lib.study.runspec import config_from_params, run_id_for
from gan_lib.training.loop import train

logging.basicConfig(level=logging.WARNING)

# %% tags=["parameters"]
dataset: str = "fluent-faces"  # python -m gan_lib.data list
variant: str = "tl+da"  # a name in gan_lib.config.VARIANTS (python -m gan_lib.study --help lists them)
preset: str = "smoke"  # smoke | laptop | laptop-150ep | paper
seed: int = 0  # train_seed
resolution: Optional[int] = None  # px (16, 32, 64, 128); None: the preset's
steps: Optional[int] = None  # training length in G updates; None: the preset's
epochs: Optional[float] = None  # training length in epochs of this dataset (README: "epoch"); not with steps
pretrained: str = ""  # transfer source (run folder or BigGAN-PyTorch folder); "": the preset's
data_seed: Optional[int] = None  # which images when data_count is set
data_count: Optional[int] = None  # None: all images of the dataset
eval_every: Optional[int] = None  # steps between FID evaluations; None: the preset's
eval_num_samples: Optional[int] = None  # generated images per FID; None: the preset's
device: Optional[str] = None  # auto | cpu | cuda; None: the preset's
channels_last: Optional[bool] = None  # True: channels-last memory format (faster, equivalent within tolerance)
bf16: Optional[bool] = None  # True: bfloat16 autocast (CUDA only)
torch_compile: Optional[bool] = None  # True: torch.compile of G and D (faster on GPUs after the first steps)
study: str = "manual"  # results/runs/<study>/
run_id: str = ""  # "": <dataset>_<variant>_seed<seed>
runs_root: str = "runs"  # checkpoints (not in git)
results_root: str = "results"
truncations: list = []  # final FID at each of these thresholds (0: none); the study passes config.EVAL_TRUNCATIONS
memorization: bool = True  # nearest training image of 64 samples

# %%
cfg = config_from_params(dataset=dataset, variant=variant, preset=preset, seed=seed, resolution=resolution,
                         steps=steps, epochs=epochs, pretrained=pretrained, data_seed=data_seed, data_count=data_count,
                         eval_every=eval_every, eval_num_samples=eval_num_samples, device=device,
                         channels_last=channels_last, bf16=bf16, torch_compile=torch_compile)
run_id = run_id or run_id_for(dataset, variant, seed)
run_dir = REPO_ROOT / runs_root / study / run_id  # relative locations are relative to the repository
results_root = REPO_ROOT / results_root
images = load_dataset(cfg.data_name, cfg.data_resolution).subset(cfg.data_count, cfg.data_seed)
print(f"{run_id}: {len(images)} images of {images.name} at {cfg.data_resolution} px, {cfg.opt_steps} steps "
      f"({cfg.opt_steps * cfg.opt_batch_size * cfg.d_steps / len(images):.1f} epochs) -> {run_dir}")

# %% [markdown]
# Training shows fixed-latent samples of the EMA generator and the FID curve at each evaluation.

# %%
rows = train(cfg, run_dir, dataset=images, on_eval=LiveProgress(run_dir=run_dir))

# %%
training_curves(rows)
scalar_curves(run_dir);

# %% [markdown]
# Final outputs: sample grid, memorization check, truncation sweep, and the rows in `results/`.

# %%
summary = publish_run(cfg, run_dir, rows, run_id=run_id, study=study, results_root=results_root, dataset=images,
                      truncations=truncations, memorization=memorization)
display(Image(filename=str(summary["samples"])))
if "memorization" in summary:
    display(Image(filename=str(summary["memorization"])))
{k: v for k, v in summary.items() if k not in ("samples", "memorization")}

# %% [markdown]
# The run's final evaluation (the larger-sample one where the preset has it):

# %%
last = next((r for r in reversed(rows) if r.get("eval_kind") == "final"), rows[-1])
print(f"{run_id}: final FID {last['fid']:.2f}, KID {last['kid']:.4f} on {last['num_samples']} generated images "
      f"at step {last['step']} of {cfg.opt_steps}")
