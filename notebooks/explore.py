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
# # Explore a trained model
#
# Pick a run, then browse: truncation, class (source model) or miner samples (transferred models), seed, a latent
# interpolation, and each sample's nearest training image. Needs a live kernel (JupyterLab), not a static render.

# %%
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import torch
from IPython.display import display
from PIL import Image

from gan_lib import evaluation
from gan_lib.config import EVAL_TRUNCATIONS
from gan_lib.data import load_dataset
from gan_lib.models.build import load_sampler
from gan_lib.models.compact import committed_models
from gan_lib.paths import REPO_ROOT
from gan_lib.report.plots import image_grid

# %% tags=["parameters"]
runs_root: str = "runs"  # run folders: <runs_root>/<study>/<run_id>
models_root: str = "results/models"  # committed models: <models_root>/<study>/<run_id> (compact, 16-bit)
source_dir: str = "results/source/openmoji-laptop"  # the source model, also offered

# %%
# Run folders that hold a model: a checkpoint or exported weights (a run that never reached its first checkpoint is
# left out, with a note).
folders = [p.parent for p in sorted((REPO_ROOT / runs_root).glob("*/*/config.json"))]
runs = {str(d.relative_to(REPO_ROOT / runs_root)): d for d in folders
        if (d / "checkpoint.pt").exists() or (d / "weights.pt").exists()}
if len(runs) < len(folders):
    print(f"left out {len(folders) - len(runs)} run folder(s) without a checkpoint yet")
runs.update({"committed: " + name: d for name, d in committed_models(REPO_ROOT / models_root).items()})
runs["source: " + source_dir] = REPO_ROOT / source_dir
print(f"{len(runs)} models to explore:", ", ".join(runs))
picker = widgets.Dropdown(options=list(runs), description="run", layout={"width": "60%"})
# the thresholds of the study's truncation sweep (the report's truncation figure)
truncation = widgets.SelectionSlider(options=EVAL_TRUNCATIONS, value=0.0, description="truncation")
seed = widgets.IntSlider(value=0, min=0, max=999, description="seed")
klass = widgets.Dropdown(description="class")
steps = widgets.IntSlider(value=8, min=2, max=16, description="interp steps")
show_nn = widgets.Checkbox(value=False, description="nearest training image")
out = widgets.Output()
state = {}


def enlarge(grid: np.ndarray, scale: int = 3) -> Image.Image:
    image = Image.fromarray(grid)
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


def load(_=None):
    cfg, sampler = load_sampler(runs[picker.value])
    dataset = load_dataset(cfg.data_name, cfg.data_resolution)
    state.update(cfg=cfg, sampler=sampler, dataset=dataset)
    names = dataset.class_names if sampler.miner is None else ("miner (mined region of the source)",)
    before = klass.value
    klass.options = [(n, i) for i, n in enumerate(names)]
    klass.index = 0  # ipywidgets 8 leaves a dropdown blank when its options change
    if klass.value == before:  # otherwise the observer has rendered already
        render()


def render(_=None):
    sampler, dataset = state["sampler"], state["dataset"]
    z, _ = evaluation.fixed_latents(16, sampler.dim_z, 1, seed.value, truncation.value)
    y = torch.full((16,), klass.value or 0, dtype=torch.long)
    ends = z[:2]
    weights = torch.linspace(0, 1, steps.value).unsqueeze(1)
    path = (1 - weights) * ends[0] + weights * ends[1]
    with torch.no_grad():
        samples = evaluation.to_uint8(sampler(z, y)).permute(0, 2, 3, 1).numpy()
        interp = evaluation.to_uint8(sampler(path, y[: steps.value])).permute(0, 2, 3, 1).numpy()
    with out:
        out.clear_output(wait=True)
        display(enlarge(image_grid(samples, nrow=8)), enlarge(image_grid(interp, nrow=steps.value)))
        if show_nn.value:
            report = evaluation.memorization(evaluation.image_features(samples[:8], evaluation.inception_extractor()),
                                             evaluation.reference_features(dataset, evaluation.inception_extractor()))
            pairs = np.stack([x for i in range(8) for x in (samples[i], dataset.images[report.index[i]])])
            display(enlarge(image_grid(pairs, nrow=2)))


picker.observe(load, "value")
for w in (truncation, seed, klass, steps, show_nn):
    w.observe(render, "value")
display(widgets.VBox([picker, widgets.HBox([truncation, seed]), widgets.HBox([klass, steps, show_nn]), out]))
load()
