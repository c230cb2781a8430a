"""The networks of a run: BigGAN's G and D (Brock et al. 2018) built from the config, or a pretrained source model
behind a new MineGAN miner (Wang et al. 2019) for transfer, with D's lowest blocks frozen for FreezeD (Mo et al.
2020), or a finished run's sampler (`load_sampler`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from gan_lib.checkpoint import trained_weights
from gan_lib.config import Config, load_config
from gan_lib.errors import UserError
from gan_lib.models.biggan import Discriminator, Generator
from gan_lib.models.miner import Sampler, make_miner
from gan_lib.paths import REPO_ROOT

# Config fields that fix the architecture: a transfer source must agree on all of them.
ARCH_FIELDS = ("data_resolution", "g_ch", "d_ch", "g_attn", "d_attn", "g_dim_z", "g_shared_dim", "g_hier")


def load_source(path: str | Path) -> tuple[Generator, Discriminator, dict[str, Any]]:
    """A pretrained (G, D) and its architecture: our own run directory or a BigGAN-PyTorch checkpoint folder."""
    from gan_lib.models.pretrained import load_biggan_pytorch

    path = find_source(path)
    state = trained_weights(path)
    if state is not None:
        if state.get("compact"):
            raise UserError(f"{path} is a compact model (EMA generator only, for sampling and scoring): transfer "
                            f"also needs the source's discriminator; pass the full run folder it was exported from")
        src_cfg = load_config(path / "config.json")
        g_state = state["G_ema"] if "G_ema" in state else state["G"]
        n_g, n_d = g_state["shared.weight"].shape[0], state["D"]["embed.weight"].shape[0]
        g, d = build_gan(src_cfg, n_classes=n_g)
        if n_d != n_g:  # a finished transfer run: its source's class table in G, one class in D (its miner stays)
            with torch.random.fork_rng(devices=[]):  # the global RNG as after one build: the new miner's init too
                _, d = build_gan(src_cfg, n_classes=n_d)
        g.load_state_dict(g_state)
        d.load_state_dict(state["D"])
        return g, d, {key: getattr(src_cfg, key) for key in ARCH_FIELDS}
    g, d = load_biggan_pytorch(path)
    if d is None:
        raise UserError(f"{path} has no D.pth; transfer fine-tunes the discriminator too")
    cfg = json.loads((path / "config.json").read_text())
    attn = {k: "" if str(cfg[k]) == "0" else str(cfg[k]) for k in ("G_attn", "D_attn")}
    arch = dict(data_resolution=cfg["resolution"], g_ch=cfg["G_ch"], d_ch=cfg["D_ch"], g_attn=attn["G_attn"],
                d_attn=attn["D_attn"], g_dim_z=cfg["dim_z"], g_shared_dim=cfg["shared_dim"], g_hier=cfg["hier"])
    return g, d, arch


def find_source(path: str | Path) -> Path:
    """A transfer source's folder (a relative one found in the repository too), or a UserError saying how to get
    one: the released BigGAN for the `paper` preset's `pretrained/biggan-128`, else a run of pretrain_source."""
    path = Path(path)
    if not path.is_absolute() and not path.exists() and (REPO_ROOT / path).exists():
        path = REPO_ROOT / path  # the committed source, named relative to the repository
    if (path / "config.json").exists():
        return path
    hint = ("fetch the released BigGAN with `python -m gan_lib.models.fetch biggan-128`" if path.name == "biggan-128" else
            "train one with notebooks/pretrain_source.ipynb, or fetch the released BigGAN with "
            "`python -m gan_lib.models.fetch biggan-128` and pass pretrained/biggan-128")
    raise UserError(f"transfer source {path} is neither a gan_lib run directory (config.json + checkpoint.pt or "
                    f"weights.pt) nor a BigGAN-PyTorch folder (config.json + G_ema.pth + D.pth); {hint}")


def build_gan(cfg: Config, n_classes: int) -> tuple[Generator, Discriminator]:
    g = Generator(resolution=cfg.data_resolution, ch=cfg.g_ch, dim_z=cfg.g_dim_z, shared_dim=cfg.g_shared_dim,
                  n_classes=n_classes, attention=cfg.g_attn, hier=cfg.g_hier, bn_eps=cfg.g_bn_eps,
                  sn_eps=cfg.sn_eps)
    d = Discriminator(resolution=cfg.data_resolution, ch=cfg.d_ch, n_classes=n_classes, attention=cfg.d_attn,
                      wide=cfg.d_wide, sn_eps=cfg.sn_eps)
    return g, d


def freeze_d_blocks(d: Discriminator, n: int) -> None:
    """FreezeD: D's `n` lowest (input-side) blocks stop learning (requires_grad False, so the training loop leaves
    them out of D's optimizer). Their spectral-norm vectors still update in each forward, as in the source model."""
    if n >= len(d.blocks):
        raise UserError(f"d_freeze_blocks={n} leaves nothing of D's {len(d.blocks)} blocks to fine-tune at "
                        f"{d.resolution} px; freeze at most {len(d.blocks) - 1}")
    d.blocks[:n].requires_grad_(False)


def build_models(cfg: Config, n_classes: int) -> tuple[Sampler, Discriminator]:
    """From scratch: (G, D) for `n_classes`. Transfer: the source (G, D) behind a new miner; D's class
    embedding becomes one target class initialised at the mean of the source classes' rows; D's lowest
    `d_freeze_blocks` blocks frozen (FreezeD)."""
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
    freeze_d_blocks(d, cfg.d_freeze_blocks)
    return Sampler(g, build_miner(cfg, g)), d


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
    return Sampler(g, build_miner(cfg, g)), None


def build_miner(cfg: Config, g: Generator) -> torch.nn.Module:
    """The run's miner (`cfg.miner_kind`) in front of source generator `g`."""
    return make_miner(cfg.miner_kind, dim_z=g.dim_z, n_source_classes=g.n_classes, shared_dim=g.shared_dim,
                      hidden=cfg.miner_hidden, sn_eps=cfg.sn_eps)
