"""Everything a training step touches, and its checkpoint form: the complete resume state, as BigGAN-PyTorch's
checkpoints hold it (models, EMA copy, optimizers, both random generators, data order, logs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import torch

from gan_lib.config import Config
from gan_lib.models.biggan import Discriminator
from gan_lib.models.miner import Sampler


@dataclass
class TrainState:
    """Everything a training step touches; `state_dict()` holds everything an exact resume needs."""

    cfg: Config
    device: torch.device
    sampler: Sampler
    D: Discriminator
    ema: Sampler
    opt_g: torch.optim.Adam
    opt_d: torch.optim.Adam
    opt_miner: torch.optim.Adam | None
    images: torch.Tensor  # float NCHW in [-1, 1], on the device
    labels: torch.Tensor  # int64, on the device
    n_classes: int
    data_gen: torch.Generator  # CPU: order of the data
    noise_gen: torch.Generator  # device: latents, fake labels, augmentation
    order: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.long))
    cursor: int = 0
    step: int = 0
    train_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)
    running: dict[str, list[torch.Tensor]] = field(default_factory=dict)  # scalars since the last evaluation
    window: dict[str, list[torch.Tensor]] = field(default_factory=dict)  # scalars since the last log row
    window_seconds: float = 0.0  # training seconds of the steps in `window`
    scalars: list[dict[str, float]] = field(default_factory=list)  # one row per `log_every` steps
    aug_p: float = 0.0  # ADA's augmentation probability (when aug_ada_target > 0)
    ada_r_t: list[torch.Tensor] = field(default_factory=list)  # r_t of each D step since p last moved
    lecam_anchors: torch.Tensor | None = None  # LeCam's [a_R, a_F] (when lecam_weight > 0), after the first D step

    def state_dict(self) -> dict[str, Any]:
        return {
            "G": self.sampler.generator.state_dict(), "D": self.D.state_dict(),
            "miner": self.sampler.miner.state_dict() if self.sampler.miner is not None else None,
            "G_ema": self.ema.generator.state_dict(),
            "miner_ema": self.ema.miner.state_dict() if self.ema.miner is not None else None,
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "opt_miner": self.opt_miner.state_dict() if self.opt_miner is not None else None,
            "data_gen": self.data_gen.get_state(), "noise_gen": self.noise_gen.get_state().cpu(),
            "order": self.order, "cursor": self.cursor, "step": self.step, "n_classes": self.n_classes,
            "train_seconds": self.train_seconds, "elapsed_seconds": self.elapsed_seconds, "rows": self.rows,
            "running": self.running, "window": self.window, "window_seconds": self.window_seconds,
            "scalars": self.scalars, "aug_p": self.aug_p, "ada_r_t": self.ada_r_t,
            "lecam_anchors": self.lecam_anchors,
            "config": json.loads(self.cfg.to_json()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sampler.generator.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.ema.generator.load_state_dict(state["G_ema"])
        if self.sampler.miner is not None:
            self.sampler.miner.load_state_dict(state["miner"])
            self.ema.miner.load_state_dict(state["miner_ema"])
            self.opt_miner.load_state_dict(state["opt_miner"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.data_gen.set_state(state["data_gen"])
        self.noise_gen.set_state(state["noise_gen"])
        self.order, self.cursor, self.step = state["order"], state["cursor"], state["step"]
        self.train_seconds, self.elapsed_seconds = state["train_seconds"], state["elapsed_seconds"]
        self.rows = list(state["rows"])
        self.running = {k: list(v) for k, v in state["running"].items()}
        self.window = {k: list(v) for k, v in state.get("window", {}).items()}
        self.window_seconds = state.get("window_seconds", 0.0)
        self.scalars = list(state.get("scalars", []))
        self.aug_p, self.ada_r_t = state.get("aug_p", 0.0), list(state.get("ada_r_t", []))
        self.lecam_anchors = state.get("lecam_anchors")
