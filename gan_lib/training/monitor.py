"""What a run watches while it trains: FID/KID evaluations on schedule, losses and D-overfitting signals per log
window (ADA's r_t, Karras et al. 2020), and divergence checks.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, Callable

import torch

from gan_lib.evaluation import evaluate
from gan_lib.models.miner import Sampler

if TYPE_CHECKING:
    from gan_lib.training.state import TrainState

log = logging.getLogger(__name__)


class DivergenceError(RuntimeError):
    """A loss or weight became NaN or infinite."""


def d_diagnostics(real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
    """D-overfitting signals from D's logits on the real and fake batch of a D step (as trained: augmented where
    DiffAugment is on). r_t = E[sign(D(x_real))] is ADA's heuristic (Karras et al. 2020): +1 when D calls every
    real image real. d_accuracy: the share of real logits > 0 and fake logits < 0, averaged over both batches."""
    return {"r_t": real.sign().mean(), "d_real": real.mean(), "d_fake": fake.mean(),
            "d_accuracy": ((real > 0).float().mean() + (fake < 0).float().mean()) / 2}


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


def check_weights(s: TrainState) -> None:
    for name, p in list(s.sampler.named_parameters()) + list(s.D.named_parameters()):
        if not torch.isfinite(p).all():
            raise DivergenceError(f"diverged at step {s.step}: weight {name} is not finite")


def eval_sampler(s: TrainState) -> Sampler:
    return s.ema if s.cfg.g_ema_decay > 0 else s.sampler


def evaluate_state(s: TrainState, dataset: Any, extractor: Any, num: int | None = None) -> dict[str, Any]:
    """FID/KID of the evaluation sampler on `num` samples (default `eval_num_samples`)."""
    sampler = eval_sampler(s)
    was_training = sampler.training
    sampler.eval()
    try:
        return evaluate(sampler, dim_z=sampler.dim_z, n_classes=sampler.n_classes, dataset=dataset,
                        num=num or s.cfg.eval_num_samples, seed=s.cfg.eval_seed, batch_size=s.cfg.eval_batch_size,
                        device=s.device, truncation=s.cfg.eval_truncation, extractor=extractor)
    finally:
        sampler.train(was_training)


def record_evaluation(s: TrainState, dataset: Any, extractor: Any, elapsed: Callable[[], float],
                      on_eval: Callable[[dict[str, Any], Sampler], None] | None, done: bool) -> None:
    """Append this step's evaluation row (step, images seen, seconds, the losses since the last one, FID/KID) to
    `s.rows` and show it to `on_eval`; at the last step also the larger final evaluation, if one is configured."""
    cfg = s.cfg
    row = {"step": s.step, "images_seen": s.step * cfg.d_steps * cfg.opt_batch_size,
           "train_seconds": s.train_seconds, **check_losses(s),
           **evaluate_state(s, dataset, extractor)}
    s.running.clear()
    row["elapsed_seconds"] = elapsed()
    s.rows.append(row)
    log.info("step %d: FID %.2f", s.step, row["fid"])
    if on_eval is not None:
        on_eval(row, eval_sampler(s))
    if done and cfg.eval_final_num_samples:
        final = {**row, **evaluate_state(s, dataset, extractor, cfg.eval_final_num_samples),
                 "eval_kind": "final"}
        final["elapsed_seconds"] = elapsed()
        s.rows.append(final)
        log.info("step %d: FID %.2f on %d samples", s.step, final["fid"], final["num_samples"])
