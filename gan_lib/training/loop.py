"""The training loop: BigGAN with optional MineGAN transfer (optionally with FreezeD), DiffAugment or ADA-style
adaptive augmentation, consistency regularization and LeCam regularization.

`train(cfg, run_dir)` is the whole loop. It writes `config.json` before step 0, checkpoints atomically every
`cfg.ckpt_every` steps, at every evaluation and at the end, and resumes from the last checkpoint when started
again on the same folder; on the CPU a resumed run ends bit-identical to an uninterrupted one.

Everything random in training draws from two generators seeded by `train_seed` (model init aside): one on the
CPU for the order of the data, one on the device for latents, labels and augmentation. Both are checkpointed.

Beside the loop: `state` (what a step touches, and its checkpoint form), `gan_lib.models.build` (G, D and the
miner, from scratch or from the source model), `run_dir` (config.json, status.json, scalars.csv, checkpoints,
weights.pt) and `monitor` (evaluations on schedule, scalars per log window, divergence checks).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from gan_lib import checkpoint as ckpt
from gan_lib.config import Config
from gan_lib.data import load_dataset
from gan_lib.errors import UserError
from gan_lib.models.build import build_models
from gan_lib.models.miner import Sampler
from gan_lib.training.augment import ada_update, adaptive_augment, diff_augment, flip_translate
from gan_lib.training.losses import D_LOSSES, G_LOSSES, consistency, lecam
from gan_lib.training.monitor import DivergenceError, check_losses, d_diagnostics, log_scalars, record_evaluation
from gan_lib.training.provenance import check_requested_capability, record_start
from gan_lib.training.run_dir import Checkpointer, prepare_run_dir, slim_run, write_status
from gan_lib.training.state import TrainState

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("train_device='cuda' but no CUDA device is visible; use 'cpu' or 'auto'")
    return torch.device(name)


def set_stage(sampler: Sampler, step: int, cfg: Config) -> int:
    """MineGAN's schedule: stage 1 (G frozen) before `miner_stage1_steps`, then stage 2 (all). In stage 1 G is in
    eval mode (running BatchNorm statistics) with the `mixture` miner, in train mode (batch statistics) with
    MineGAN's own, as its code runs it."""
    stage = 1 if sampler.miner is not None and step < cfg.miner_stage1_steps else 2
    sampler.generator.requires_grad_(stage == 2)
    sampler.generator.train(stage == 2 or cfg.miner_kind == "minegan")
    return stage


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
    opt_d = torch.optim.Adam([p for p in d.parameters() if p.requires_grad], cfg.opt_d_lr, betas, cfg.opt_adam_eps)
    opt_miner = (torch.optim.Adam(sampler.miner.parameters(), cfg.miner_learning_rate, betas, cfg.opt_adam_eps)
                 if sampler.miner is not None else None)
    x = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    x = x.contiguous(memory_format=memory_format)
    noise_gen = torch.Generator(device=device)
    noise_gen.manual_seed(cfg.train_seed)
    data_gen = torch.Generator()
    data_gen.manual_seed(cfg.train_seed)
    return TrainState(cfg, device, sampler, d, ema, opt_g, opt_d, opt_miner, x,
                      torch.from_numpy(labels).to(device), sampler.n_classes, data_gen, noise_gen)


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


def augment(s: TrainState, x: torch.Tensor) -> torch.Tensor:
    """DiffAugment (every op of the policy on every image), or with ADA each op on each image with probability p."""
    if s.cfg.aug_ada_target:
        return adaptive_augment(x, s.cfg.aug_policy, s.aug_p, s.noise_gen)
    return diff_augment(x, s.cfg.aug_policy, s.noise_gen)


def cr_inputs(recipe: str, real: torch.Tensor, real_aug: torch.Tensor, gen: torch.Generator) -> list[torch.Tensor]:
    """What D sees for CR's penalty beside the augmented real and fake batches (`Config.cr_transform`): `stacked`
    T(DA(x)), T = flip + zero-filled translation; `clean` the un-augmented x (the DiffAugment authors' DA+CR);
    `paper` x and T'(x), T' = flip + reflection-padded translation (the CR paper, on un-augmented reals)."""
    if recipe == "stacked":
        return [flip_translate(real_aug, gen)]
    if recipe == "clean":
        return [real]
    return [real, flip_translate(real, gen, reflect=True)]


def cr_logits(recipe: str, logits: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The two logits CR's penalty compares: D(DA(x)) with D's logits on the CR input (`stacked`, `clean`), or
    D(x) with D(T'(x)) (`paper`). `logits` is D's output split as [DA(x), DA(fake), *cr_inputs]."""
    return (logits[2], logits[3]) if recipe == "paper" else (logits[0], logits[2])


def d_step(s: TrainState) -> dict[str, torch.Tensor]:
    """One discriminator update on a real and a fake batch (one D call on both, as BigGAN-PyTorch does)."""
    cfg = s.cfg
    real, y_real = next_real_batch(s)
    z, y_fake = sample_latents(s, len(real))
    with torch.no_grad(), autocast(s):
        fake = s.sampler(z, y_fake).float()
    real_aug = augment(s, real)
    inputs, labels = [real_aug, augment(s, fake)], [y_real, y_fake]
    if cfg.cr_weight:
        extra = cr_inputs(cfg.cr_transform, real, real_aug, s.noise_gen)
        inputs, labels = inputs + extra, labels + [y_real] * len(extra)
    with autocast(s):
        logits = s.D(torch.cat(inputs), torch.cat(labels)).float().split(len(real))
    loss = D_LOSSES[cfg.opt_loss](logits[0], logits[1])
    out = {"d_loss": loss.detach(), **d_diagnostics(logits[0].detach(), logits[1].detach())}
    if cfg.aug_ada_target:
        s.ada_r_t.append(out["r_t"])
    if cfg.cr_weight:
        cr = consistency(*cr_logits(cfg.cr_transform, logits))
        loss = loss + cfg.cr_weight * cr
        out["cr_loss"] = cr.detach()
    if cfg.lecam_weight:
        update_lecam_anchors(s, logits[0].detach(), logits[1].detach())
        penalty = lecam(logits[0], logits[1], *s.lecam_anchors)
        loss = loss + cfg.lecam_weight * penalty
        out["lecam_loss"] = penalty.detach()
    s.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    s.opt_d.step()
    return out


@torch.no_grad()
def update_lecam_anchors(s: TrainState, real: torch.Tensor, fake: torch.Tensor) -> None:
    """LeCam's anchors [a_R, a_F]: moving averages of D's mean logits on the real and the fake batch, updated
    before the penalty reads them (as the authors' code does); the first D step sets them to its means."""
    means = torch.stack([real.mean(), fake.mean()])
    if s.lecam_anchors is None:
        s.lecam_anchors = means
    else:
        s.lecam_anchors.lerp_(means, 1.0 - s.cfg.lecam_decay)


def g_step(s: TrainState, stage: int) -> dict[str, torch.Tensor]:
    """One generator update (in stage 1 of transfer only the miner moves)."""
    z, y = sample_latents(s, s.cfg.opt_batch_size)
    d_params = s.opt_d.param_groups[0]["params"]  # D's trainable parameters (FreezeD's frozen blocks stay off)
    for p in d_params:
        p.requires_grad_(False)
    with autocast(s):
        fake = augment(s, s.sampler(z, y))
        logits = s.D(fake, y).float()
    loss = G_LOSSES[s.cfg.opt_loss](logits)
    s.opt_g.zero_grad(set_to_none=True)
    if s.opt_miner is not None:
        s.opt_miner.zero_grad(set_to_none=True)
    loss.backward()
    for p in d_params:
        p.requires_grad_(True)
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
    if s.cfg.aug_ada_target:
        losses["aug_p"] = torch.tensor(s.aug_p)  # the p this step trained with
        if s.step % s.cfg.aug_ada_interval == 0:
            update_aug_p(s)
    return losses


def update_aug_p(s: TrainState) -> None:
    """ADA: move p by the sign of (r_t - target) over the D steps since the last move, then start a new interval."""
    cfg = s.cfg
    r_t = float(torch.stack(s.ada_r_t).mean())
    images = cfg.opt_batch_size * cfg.d_steps * cfg.aug_ada_interval
    s.aug_p = ada_update(s.aug_p, r_t, cfg.aug_ada_target, images, cfg.aug_ada_images)
    s.ada_r_t = []


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
    check_requested_capability()
    if dataset is None:
        dataset = load_dataset(cfg.data_name, cfg.data_resolution).subset(cfg.data_count, cfg.data_seed)
    if dataset.resolution != cfg.data_resolution:
        raise UserError(f"dataset {dataset.name} is {dataset.resolution} px but data_resolution is "
                        f"{cfg.data_resolution}")
    cfg = cfg.for_dataset_size(len(dataset))
    prepare_run_dir(cfg, run_dir)
    saved = ckpt.load_latest(run_dir)
    exported = ckpt.exported_weights(run_dir) if saved is None else None
    if exported is not None and exported["step"] >= cfg.opt_steps:
        return list(exported["rows"])  # finished and exported: nothing to do
    s = init_state(cfg, dataset.images, dataset.labels, n_classes=max(1, len(dataset.class_names)))
    if saved is not None:
        s.load_state_dict(saved)
        log.info("resumed %s at step %d", run_dir, s.step)
    write_status(run_dir, "running", s.step)
    record_start(run_dir, s.step)
    saver, start_step = Checkpointer(run_dir, s, resumed=saved is not None), s.step

    bar = tqdm(total=cfg.opt_steps, initial=s.step, desc=run_dir.name, disable=not progress, dynamic_ncols=True)
    try:
        while s.step < cfg.opt_steps:
            if stop_after is not None and s.step - start_step >= stop_after:
                saver.save(s)
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
                write_status(run_dir, "running", s.step)  # what a study's step bar reads
            bar.update(1)
            if evaluate_now:
                record_evaluation(s, dataset, extractor, saver.elapsed, on_eval, done)
            if save_now:
                saver.save(s)
    except DivergenceError as err:
        write_status(run_dir, "failed", s.step, str(err))
        raise
    except KeyboardInterrupt:
        write_status(run_dir, "interrupted", s.step, "stopped by Ctrl-C; run the same command again to resume from "
                                                     "the last checkpoint")
        raise
    finally:
        bar.close()
    write_status(run_dir, "finished", s.step)
    if cfg.ckpt_keep_final == "weights":
        slim_run(run_dir)
    return s.rows
