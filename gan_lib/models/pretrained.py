"""Load BigGAN-PyTorch checkpoints (ajbrock/BigGAN-PyTorch) into this project's Generator/Discriminator.

A checkpoint folder holds `config.json` (BigGAN-PyTorch's option names), `G_ema.pth` or `G.pth`, and optionally
`D.pth`. The released 128x128 ImageNet model that MineGAN starts from must be downloaded by the user (see README).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from gan_lib.errors import UserError
from gan_lib.models.biggan import Discriminator, Generator

CONFIG_KEYS = ("resolution", "G_ch", "D_ch", "G_attn", "D_attn", "hier", "dim_z", "shared_dim", "n_classes",
               "SN_eps", "BN_eps", "D_wide")


def models_from_biggan_config(cfg: dict) -> tuple[Generator, Discriminator]:
    """Build (G, D) from a BigGAN-PyTorch option dict (the keys in CONFIG_KEYS; G_shared must be true)."""
    if not cfg.get("G_shared", True):
        raise UserError("config.json sets G_shared=false; only BigGAN's shared class embedding is supported")
    for nl in ("G_nl", "D_nl"):
        if cfg.get(nl, "relu") != "relu":
            raise UserError(f"config.json sets {nl}={cfg[nl]!r}; only 'relu' is supported")
    g = Generator(resolution=cfg["resolution"], ch=cfg["G_ch"], dim_z=cfg["dim_z"], shared_dim=cfg["shared_dim"],
                  n_classes=cfg["n_classes"], attention=str(cfg["G_attn"]), hier=cfg["hier"],
                  bn_eps=cfg["BN_eps"], sn_eps=cfg["SN_eps"])
    d = Discriminator(resolution=cfg["resolution"], ch=cfg["D_ch"], n_classes=cfg["n_classes"],
                      attention=str(cfg["D_attn"]), wide=cfg["D_wide"], sn_eps=cfg["SN_eps"])
    return g, d


def load_matching_state(model: nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """`load_state_dict`, but a missing, extra or mis-shaped tensor is a one-line error naming the first one."""
    own = model.state_dict()
    for name, tensor in own.items():
        if name not in state:
            raise UserError(f"{source}: checkpoint has no tensor {name!r} (shape {list(tensor.shape)}) that the "
                            f"model needs; check config.json matches the checkpoint")
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise UserError(f"{source}: tensor {name!r} has shape {list(state[name].shape)} but the model built "
                            f"from config.json expects {list(tensor.shape)}; check config.json")
    extra = [name for name in state if name not in own]
    if extra:
        raise UserError(f"{source}: checkpoint tensor {extra[0]!r} has no place in the model built from "
                        f"config.json ({len(extra)} unexpected in all); check config.json")
    model.load_state_dict(state)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt files
        raise UserError(f"{path} could not be read as a PyTorch state dict ({type(err).__name__}); "
                        f"download it again") from None
    if not isinstance(state, dict):
        raise UserError(f"{path} holds a {type(state).__name__}, not a state dict of tensors")
    return state


def load_biggan_pytorch(directory: str | Path) -> tuple[Generator, Discriminator | None]:
    """Load a BigGAN-PyTorch checkpoint folder -> (G, D or None), both in eval mode on the CPU."""
    directory = Path(directory)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise UserError(f"{config_path} not found: a BigGAN-PyTorch checkpoint folder needs config.json with "
                        f"the keys {', '.join(CONFIG_KEYS)}")
    try:
        cfg = json.loads(config_path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{config_path} is not valid JSON ({err.msg}, line {err.lineno})") from None
    missing = [k for k in CONFIG_KEYS if k not in cfg]
    if missing:
        raise UserError(f"{config_path} lacks {', '.join(missing)}; it needs {', '.join(CONFIG_KEYS)}")
    g, d = models_from_biggan_config(cfg)
    g_path = next((directory / n for n in ("G_ema.pth", "G.pth") if (directory / n).is_file()), None)
    if g_path is None:
        raise UserError(f"{directory} holds neither G_ema.pth nor G.pth")
    load_matching_state(g, read_state_dict(g_path), g_path)
    d_path = directory / "D.pth"
    if d_path.is_file():
        load_matching_state(d, read_state_dict(d_path), d_path)
    else:
        d = None
    g.eval()
    if d is not None:
        d.eval()
    return g, d
