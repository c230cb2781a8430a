"""The training loop: BigGAN with optional MineGAN transfer, DiffAugment and consistency regularization.

`train(cfg, run_dir)` is the whole loop. It writes `config.json` before step 0, checkpoints atomically every
`cfg.ckpt_every` steps, at every evaluation and at the end, and resumes from the last checkpoint when started
again on the same folder; on the CPU a resumed run ends bit-identical to an uninterrupted one.

Everything random in training draws from two generators seeded by `train_seed` (model init aside): one on the
CPU for the order of the data, one on the device for latents, labels and augmentation. Both are checkpointed.
"""

from __future__ import annotations

import copy
import csv
import io
import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from gan_lib import checkpoint as ckpt
from gan_lib.augment import diff_augment, flip_translate
from gan_lib.biggan import Discriminator, Generator
from gan_lib.config import Config, load_config
from gan_lib.errors import UserError
from gan_lib.losses import D_LOSSES, G_LOSSES, consistency
from gan_lib.miner import Miner, Sampler
from gan_lib.paths import REPO_ROOT
from gan_lib.provenance import record_start

log = logging.getLogger(__name__)


class DivergenceError(RuntimeError):
    """A loss or weight became NaN or infinite."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("train_device='cuda' but no CUDA device is visible; use 'cpu' or 'auto'")
    return torch.device(name)


# ---------------------------------------------------------------------------------------------- models


# Config fields that fix the architecture: a transfer source must agree on all of them.
ARCH_FIELDS = ("data_resolution", "g_ch", "d_ch", "g_attn", "d_attn", "g_dim_z", "g_shared_dim", "g_hier")


def load_source(path: str | Path) -> tuple[Generator, Discriminator, dict[str, Any]]:
    """A pretrained (G, D) and its architecture: our own run directory or a BigGAN-PyTorch checkpoint folder."""
    from gan_lib.pretrained import load_biggan_pytorch

    path = Path(path)
    if not path.is_absolute() and not path.exists() and (REPO_ROOT / path).exists():
        path = REPO_ROOT / path  # the committed source, named relative to the repository
    state = trained_weights(path) if (path / "config.json").exists() else None
    if state is not None:
        src_cfg = load_config(path / "config.json")
        g, d = build_gan(src_cfg, n_classes=state["n_classes"])
        g.load_state_dict(state["G_ema"] if "G_ema" in state else state["G"])
        d.load_state_dict(state["D"])
        return g, d, {key: getattr(src_cfg, key) for key in ARCH_FIELDS}
    if (path / "config.json").exists():
        g, d = load_biggan_pytorch(path)
        if d is None:
            raise UserError(f"{path} has no D.pth; transfer fine-tunes the discriminator too")
        cfg = json.loads((path / "config.json").read_text())
        attn = {k: "" if str(cfg[k]) == "0" else str(cfg[k]) for k in ("G_attn", "D_attn")}
        arch = dict(data_resolution=cfg["resolution"], g_ch=cfg["G_ch"], d_ch=cfg["D_ch"], g_attn=attn["G_attn"],
                    d_attn=attn["D_attn"], g_dim_z=cfg["dim_z"], g_shared_dim=cfg["shared_dim"], g_hier=cfg["hier"])
        return g, d, arch
    raise UserError(f"transfer source {path} is neither a gan_lib run directory (config.json + checkpoint.pt) nor "
                    f"a BigGAN-PyTorch folder (config.json + G_ema.pth + D.pth); run pretrain_source or download it")


def build_gan(cfg: Config, n_classes: int) -> tuple[Generator, Discriminator]:
    g = Generator(resolution=cfg.data_resolution, ch=cfg.g_ch, dim_z=cfg.g_dim_z, shared_dim=cfg.g_shared_dim,
                  n_classes=n_classes, attention=cfg.g_attn, hier=cfg.g_hier, bn_eps=cfg.g_bn_eps,
                  sn_eps=cfg.sn_eps)
    d = Discriminator(resolution=cfg.data_resolution, ch=cfg.d_ch, n_classes=n_classes, attention=cfg.d_attn,
                      wide=cfg.d_wide, sn_eps=cfg.sn_eps)
    return g, d


def build_models(cfg: Config, n_classes: int) -> tuple[Sampler, Discriminator]:
    """From scratch: (G, D) for `n_classes`. Transfer: the source (G, D) behind a new miner; D's class
    embedding becomes one target class initialised at the mean of the source classes' rows."""
    if not cfg.uses_transfer:
        g, d = build_gan(cfg, n_classes)
        return Sampler(g), d
    g, d, arch = load_source(cfg.transfer_source)
    for key, value in arch.items():
        if getattr(cfg, key) != value:
            raise UserError(f"transfer source {cfg.transfer_source} was built with {key}={value!r} but the config "
                            f"has {key}={getattr(cfg, key)!r}; set them equal")
    g.train()
    d.train()
    with torch.no_grad():
        target_row = d.embed.weight.mean(dim=0, keepdim=True)
        d.embed = type(d.embed)(1, target_row.shape[1], eps=d.embed.sn_eps)
        d.embed.weight.copy_(target_row)
    d.n_classes = 1
    miner = Miner(dim_z=g.dim_z, n_source_classes=g.n_classes, hidden=cfg.miner_hidden)
    return Sampler(g, miner), d


def set_stage(sampler: Sampler, step: int, cfg: Config) -> int:
    """MineGAN's schedule: stage 1 (G frozen, in eval mode) before `miner_stage1_steps`, then stage 2 (all)."""
    stage = 1 if sampler.miner is not None and step < cfg.miner_stage1_steps else 2
    sampler.generator.requires_grad_(stage == 2)
    sampler.generator.train(stage == 2)
    return stage


# ---------------------------------------------------------------------------------------------- state


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
            "scalars": self.scalars,
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


def init_state(cfg: Config, images: np.ndarray, labels: np.ndarray, n_classes: int) -> TrainState:
    """Build models, optimizers and generators for step 0. `images` uint8 [N, H, W, 3]."""
    device = resolve_device(cfg.train_device)
    if cfg.train_threads:
        torch.set_num_threads(cfg.train_threads)
    torch.manual_seed(cfg.train_seed)
    with torch.device(device):  # initialise on the device: orthogonal init of large layers is slow on a CPU
        sampler, d = build_models(cfg, n_classes)
    if sampler.miner is not None:
        labels = np.zeros_like(labels)  # the target is one class behind the miner
    memory_format = torch.channels_last if cfg.train_channels_last else torch.contiguous_format
    sampler, d = sampler.to(device, memory_format=memory_format), d.to(device, memory_format=memory_format)
    ema = copy.deepcopy(sampler).eval().requires_grad_(False)
    if cfg.train_compile:  # in place: parameter names, so checkpoints, stay as they are
        sampler.compile()
        d.compile()
    betas = (cfg.opt_beta1, cfg.opt_beta2)
    opt_g = torch.optim.Adam(sampler.generator.parameters(), cfg.opt_g_lr, betas, cfg.opt_adam_eps)
    opt_d = torch.optim.Adam(d.parameters(), cfg.opt_d_lr, betas, cfg.opt_adam_eps)
    opt_miner = (torch.optim.Adam(sampler.miner.parameters(), cfg.miner_lr, betas, cfg.opt_adam_eps)
                 if sampler.miner is not None else None)
    x = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    x = x.contiguous(memory_format=memory_format)
    noise_gen = torch.Generator(device=device)
    noise_gen.manual_seed(cfg.train_seed)
    data_gen = torch.Generator()
    data_gen.manual_seed(cfg.train_seed)
    return TrainState(cfg, device, sampler, d, ema, opt_g, opt_d, opt_miner, x,
                      torch.from_numpy(labels).to(device), sampler.n_classes, data_gen, noise_gen)


# ---------------------------------------------------------------------------------------------- step


def next_real_batch(s: TrainState) -> tuple[torch.Tensor, torch.Tensor]:
    """The next batch in a shuffled pass over the data; a new permutation each epoch."""
    batch = s.cfg.opt_batch_size
    if s.cursor + batch > len(s.order):
        s.order = torch.randperm(len(s.images), generator=s.data_gen)
        s.order = s.order.repeat(math.ceil(batch / len(s.order)))  # datasets smaller than a batch
        s.cursor = 0
    idx = s.order[s.cursor:s.cursor + batch].to(s.device)
    s.cursor += batch
    return s.images[idx], s.labels[idx]


def sample_latents(s: TrainState, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(n, s.sampler.dim_z, device=s.device, generator=s.noise_gen)
    y = torch.randint(0, s.n_classes, (n,), device=s.device, generator=s.noise_gen)
    return z, y


def autocast(s: TrainState) -> torch.autocast:
    """bfloat16 autocast of the forward passes when `train_bf16` is on (CUDA), else a no-op context."""
    return torch.autocast(s.device.type, dtype=torch.bfloat16, enabled=s.cfg.train_bf16)


def d_step(s: TrainState) -> dict[str, torch.Tensor]:
    """One discriminator update on a real and a fake batch (one D call on both, as BigGAN-PyTorch does)."""
    cfg = s.cfg
    real, y_real = next_real_batch(s)
    z, y_fake = sample_latents(s, len(real))
    with torch.no_grad(), autocast(s):
        fake = s.sampler(z, y_fake).float()
    real_aug = diff_augment(real, cfg.aug_policy, s.noise_gen)
    inputs, labels = [real_aug, diff_augment(fake, cfg.aug_policy, s.noise_gen)], [y_real, y_fake]
    if cfg.cr_weight:
        inputs.append(flip_translate(real_aug, s.noise_gen))
        labels.append(y_real)
    with autocast(s):
        logits = s.D(torch.cat(inputs), torch.cat(labels)).float().split(len(real))
    loss = D_LOSSES[cfg.opt_loss](logits[0], logits[1])
    out = {"d_loss": loss.detach(), **d_diagnostics(logits[0].detach(), logits[1].detach())}
    if cfg.cr_weight:
        cr = consistency(logits[0], logits[2])
        loss = loss + cfg.cr_weight * cr
        out["cr_loss"] = cr.detach()
    s.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    s.opt_d.step()
    return out


def d_diagnostics(real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
    """D-overfitting signals from D's logits on the real and fake batch of a D step (as trained: augmented where
    DiffAugment is on). r_t = E[sign(D(x_real))] is ADA's heuristic (Karras et al. 2020): +1 when D calls every
    real image real. d_accuracy: the share of real logits > 0 and fake logits < 0, averaged over both batches."""
    return {"r_t": real.sign().mean(), "d_real": real.mean(), "d_fake": fake.mean(),
            "d_accuracy": ((real > 0).float().mean() + (fake < 0).float().mean()) / 2}


def g_step(s: TrainState, stage: int) -> dict[str, torch.Tensor]:
    """One generator update (in stage 1 of transfer only the miner moves)."""
    z, y = sample_latents(s, s.cfg.opt_batch_size)
    s.D.requires_grad_(False)
    with autocast(s):
        fake = diff_augment(s.sampler(z, y), s.cfg.aug_policy, s.noise_gen)
        logits = s.D(fake, y).float()
    loss = G_LOSSES[s.cfg.opt_loss](logits)
    s.opt_g.zero_grad(set_to_none=True)
    if s.opt_miner is not None:
        s.opt_miner.zero_grad(set_to_none=True)
    loss.backward()
    s.D.requires_grad_(True)
    if stage == 2:
        s.opt_g.step()
    if s.opt_miner is not None:
        s.opt_miner.step()
    return {"g_loss": loss.detach()}


@torch.no_grad()
def update_ema(s: TrainState) -> None:
    """EMA of G's (and the miner's) weights; buffers (BN statistics, SN vectors) are copied."""
    decay = s.cfg.g_ema_decay if s.step >= s.cfg.g_ema_start else 0.0
    for ema_p, p in zip(s.ema.parameters(), s.sampler.parameters()):
        ema_p.lerp_(p, 1.0 - decay)
    for ema_b, b in zip(s.ema.buffers(), s.sampler.buffers()):
        ema_b.copy_(b)


def train_step(s: TrainState) -> dict[str, torch.Tensor]:
    """One full step: `d_steps` D updates, one G update, EMA. Returns detached losses (no host sync)."""
    stage = set_stage(s.sampler, s.step, s.cfg)
    losses = {}
    for _ in range(s.cfg.d_steps):
        losses = d_step(s)
    losses.update(g_step(s, stage))
    s.step += 1
    update_ema(s)
    return losses


def check_losses(s: TrainState) -> dict[str, float]:
    """Means of the losses and diagnostics since the last evaluation; raises `DivergenceError` if one is not
    finite."""
    means = {k: float(torch.stack(v).mean()) for k, v in s.running.items()}
    bad = [k for k, v in means.items() if not math.isfinite(v)]
    if bad:
        raise DivergenceError(f"diverged at step {s.step}: {bad[0]} is not finite")
    return means


def log_scalars(s: TrainState) -> None:
    """Close the current `log_every` window: one row of means (losses, D diagnostics), epochs, learning rates
    and training images/s appended to `s.scalars`."""
    if not s.window:
        return
    cfg = s.cfg
    n_steps = len(next(iter(s.window.values())))
    real_per_step = cfg.opt_batch_size * cfg.d_steps
    row = {"step": s.step, "epoch": s.step * real_per_step / len(s.images),
           **{k: float(torch.stack(v).mean()) for k, v in s.window.items()},
           "g_lr": s.opt_g.param_groups[0]["lr"], "d_lr": s.opt_d.param_groups[0]["lr"],
           "images_per_second": n_steps * real_per_step / s.window_seconds if s.window_seconds else float("nan")}
    s.scalars.append(row)
    s.window, s.window_seconds = {}, 0.0


def write_scalars(run_dir: Path, scalars: list[dict[str, float]]) -> None:
    """The per-step scalars as `scalars.csv` in the run folder (rewritten whole, atomically)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(dict.fromkeys(k for row in scalars for k in row)))
    writer.writeheader()
    writer.writerows(scalars)
    ckpt.atomic_write_bytes(run_dir / SCALARS, out.getvalue().encode())


def check_weights(s: TrainState) -> None:
    for name, p in list(s.sampler.named_parameters()) + list(s.D.named_parameters()):
        if not torch.isfinite(p).all():
            raise DivergenceError(f"diverged at step {s.step}: weight {name} is not finite")


# ---------------------------------------------------------------------------------------------- loop


def eval_sampler(s: TrainState) -> Sampler:
    return s.ema if s.cfg.g_ema_decay > 0 else s.sampler


def evaluate_state(s: TrainState, dataset: Any, extractor: Any, num: int | None = None) -> dict[str, Any]:
    """FID/KID of the evaluation sampler on `num` samples (default `eval_num_samples`)."""
    from gan_lib.evaluation import evaluate

    sampler = eval_sampler(s)
    was_training = sampler.training
    sampler.eval()
    try:
        result = evaluate(sampler, dim_z=sampler.dim_z, n_classes=sampler.n_classes, dataset=dataset,
                          num=num or s.cfg.eval_num_samples, seed=s.cfg.eval_seed,
                          batch_size=s.cfg.eval_batch_size, device=s.device,
                          truncation=s.cfg.eval_truncation, extractor=extractor)
        result["eval_seconds"] = result.pop("seconds")
        return result
    finally:
        sampler.train(was_training)


def write_status(run_dir: Path, status: str, step: int, message: str = "") -> None:
    ckpt.atomic_write_bytes(run_dir / "status.json",
                            json.dumps({"status": status, "step": step, "message": message}).encode())


def read_status(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "status.json"
    return json.loads(path.read_text()) if path.exists() else {"status": "new", "step": 0, "message": ""}


def prepare_run_dir(cfg: Config, run_dir: Path) -> None:
    """Write config.json, or check that an existing run directory was started with the same config."""
    path = run_dir / "config.json"
    if path.exists():
        old = load_config(path)
        if old != cfg:
            diff = [f.name for f in dataclasses.fields(Config) if getattr(old, f.name) != getattr(cfg, f.name)]
            raise UserError(f"{run_dir} holds a run with a different config ({', '.join(diff)} differ); "
                            f"use a new --run-dir, or delete that folder to start over")
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt.atomic_write_bytes(path, cfg.to_json().encode())


def train(cfg: Config, run_dir: str | Path, *, dataset: Any = None, extractor: Any = None,
          stop_after: int | None = None, on_eval: Callable[[dict[str, Any], Sampler], None] | None = None,
          progress: bool = True) -> list[dict[str, Any]]:
    """Train (or resume) the run in `run_dir` up to `cfg.opt_steps` and return its evaluation rows.

    dataset: a `gan_lib.data.ImageSet` (default: `load_dataset(cfg.data_name, cfg.data_resolution)`, subset by
    `data_count`/`data_seed`). extractor: FID feature extractor (default: the real Inception network).
    stop_after: stop (with a checkpoint) after this many steps of this call, as if interrupted.
    Each evaluation row holds step, images seen, seconds and the metrics; `on_eval(row, sampler)` sees each.
    """
    run_dir = Path(run_dir)
    if dataset is None:
        from gan_lib.data import load_dataset

        dataset = load_dataset(cfg.data_name, cfg.data_resolution).subset(cfg.data_count, cfg.data_seed)
    if dataset.resolution != cfg.data_resolution:
        raise UserError(f"dataset {dataset.name} is {dataset.resolution} px but data_resolution is "
                        f"{cfg.data_resolution}")
    cfg = cfg.for_dataset_size(len(dataset))
    prepare_run_dir(cfg, run_dir)
    saved = ckpt.load_latest(run_dir)
    exported = exported_weights(run_dir) if saved is None else None
    if exported is not None and exported["step"] >= cfg.opt_steps:
        return list(exported["rows"])  # finished and exported: nothing to do
    s = init_state(cfg, dataset.images, dataset.labels, n_classes=max(1, len(dataset.class_names)))
    if saved is not None:
        s.load_state_dict(saved)
        log.info("resumed %s at step %d", run_dir, s.step)
    write_status(run_dir, "running", s.step)
    record_start(run_dir, s.step)

    base_elapsed, t_start, start_step = s.elapsed_seconds, time.perf_counter(), s.step
    saved_step = s.step if saved is not None else -1

    def save() -> None:
        nonlocal saved_step
        if saved_step == s.step:
            return
        check_weights(s)
        s.elapsed_seconds = base_elapsed + time.perf_counter() - t_start
        ckpt.save_checkpoint(run_dir, s.state_dict())
        write_scalars(run_dir, s.scalars)
        saved_step = s.step

    bar = tqdm(total=cfg.opt_steps, initial=s.step, desc=run_dir.name, disable=not progress, dynamic_ncols=True)
    try:
        while s.step < cfg.opt_steps:
            if stop_after is not None and s.step - start_step >= stop_after:
                save()
                return s.rows
            t0 = time.perf_counter()
            for k, v in train_step(s).items():
                s.running.setdefault(k, []).append(v)
                s.window.setdefault(k, []).append(v)
            done = s.step == cfg.opt_steps
            evaluate_now = cfg.eval_num_samples > 0 and (s.step % cfg.eval_every == 0 or done)
            save_now = evaluate_now or done or s.step % cfg.ckpt_every == 0
            if s.step % 10 == 0 or save_now:
                losses = {k: v for k, v in check_losses(s).items() if k.endswith("_loss")}
                bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
            step_seconds = time.perf_counter() - t0
            s.train_seconds += step_seconds
            s.window_seconds += step_seconds
            if s.step % cfg.log_every == 0 or done:
                log_scalars(s)
            bar.update(1)
            if evaluate_now:
                row = {"step": s.step, "images_seen": s.step * cfg.d_steps * cfg.opt_batch_size,
                       "train_seconds": s.train_seconds, **check_losses(s),
                       **evaluate_state(s, dataset, extractor)}
                s.running.clear()
                row["elapsed_seconds"] = base_elapsed + time.perf_counter() - t_start
                s.rows.append(row)
                log.info("step %d: FID %.2f", s.step, row["fid"])
                if on_eval is not None:
                    on_eval(row, eval_sampler(s))
                if done and cfg.eval_final_num_samples:
                    final = {**row, **evaluate_state(s, dataset, extractor, cfg.eval_final_num_samples),
                             "eval_kind": "final"}
                    final["elapsed_seconds"] = base_elapsed + time.perf_counter() - t_start
                    s.rows.append(final)
                    log.info("step %d: FID %.2f on %d samples", s.step, final["fid"], final["num_samples"])
            if save_now:
                save()
    except DivergenceError as err:
        write_status(run_dir, "failed", s.step, str(err))
        raise
    finally:
        bar.close()
    write_status(run_dir, "finished", s.step)
    return s.rows


SCALARS = "scalars.csv"  # per-step scalars of a run (see log_scalars)
WEIGHTS = "weights.pt"  # a finished run's exported weights: what transfer and sampling need, no optimizer state


def exported_weights(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's exported `weights.pt`, or None if there is none."""
    path = Path(run_dir) / WEIGHTS
    return ckpt.read_checkpoint(path) if path.exists() else None


def trained_weights(run_dir: str | Path) -> dict[str, Any] | None:
    """The newest checkpoint of a run, else its exported `weights.pt`, else None."""
    state = ckpt.load_latest(run_dir)
    return state if state is not None else exported_weights(run_dir)


def export_weights(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write `weights.pt` (G, EMA G, miner, D, rows; no optimizer state) and config.json to `out_dir`."""
    run_dir, out_dir = Path(run_dir), Path(out_dir or run_dir)
    state = ckpt.load_latest(run_dir)
    if state is None:
        raise UserError(f"{run_dir} has no checkpoint to export")
    keep = ("G_ema", "D", "miner_ema", "n_classes", "step", "rows", "train_seconds", "elapsed_seconds", "config")
    weights = {k: state[k] for k in keep}
    weights["G"], weights["miner"] = state["G_ema"], state["miner_ema"]  # the EMA weights stand for both
    buffer = io.BytesIO()
    torch.save({"format": ckpt.FORMAT, **weights}, buffer)
    ckpt.atomic_write_bytes(out_dir / WEIGHTS, buffer.getvalue())
    if out_dir != run_dir:
        for name in ("config.json", "status.json"):
            ckpt.atomic_write_bytes(out_dir / name, (run_dir / name).read_bytes())
    return out_dir / WEIGHTS


def load_sampler(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[Config, Sampler]:
    """The trained run's sampler (EMA weights when EMA is on), in eval mode, and its config."""
    run_dir = Path(run_dir)
    cfg = load_config(run_dir / "config.json")
    state = trained_weights(run_dir)
    if state is None:
        raise UserError(f"{run_dir} has no checkpoint yet: train it first")
    cfg_cpu = cfg.replace(train_device="cpu", train_threads=0)
    sampler, _ = build_models(cfg_cpu, state["n_classes"]) if not cfg.uses_transfer else _transfer_shell(cfg, state)
    use_ema = cfg.g_ema_decay > 0
    sampler.generator.load_state_dict(state["G_ema" if use_ema else "G"])
    if sampler.miner is not None:
        sampler.miner.load_state_dict(state["miner_ema" if use_ema else "miner"])
    return cfg, sampler.to(device).eval()


def _transfer_shell(cfg: Config, state: dict[str, Any]) -> tuple[Sampler, None]:
    """A sampler with the right shapes for a transfer run's checkpoint, built without reading the source."""
    n_source = state["G"]["shared.weight"].shape[0]
    g, _ = build_gan(cfg, n_source)
    return Sampler(g, Miner(dim_z=g.dim_z, n_source_classes=n_source, hidden=cfg.miner_hidden)), None
