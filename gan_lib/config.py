"""The one configuration object of a training run, its presets and the study's variants (`VARIANTS`).

A run is `make_config(preset, variant, **overrides)`: the defaults below, then the preset's overrides, then the
variant's method settings, then the caller's overrides. Unknown keys raise; cross-field checks live in
`Config.__post_init__` and raise `ValueError` with a sentence a user can act on.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_lib.errors import UserError

RESOLUTIONS = (16, 32, 64, 128)
LOSSES = ("hinge", "ns")
AUG_OPS = ("color", "translation", "cutout", "flip")
DEVICES = ("auto", "cpu", "cuda")
CKPT_KEEP = ("full", "weights")
CR_TRANSFORMS = ("stacked", "clean", "paper")  # CR's recipes: see cr_transform
MINER_KINDS = ("mixture", "minegan")  # see miner_kind
D_BLOCKS = {16: 3, 32: 4, 64: 5, 128: 6}  # D's blocks per resolution (models.biggan.D_ARCH; a test keeps them equal)
FREEZE_HALF = "half"  # a variant's d_freeze_blocks: half of D's blocks at the run's resolution
DIFFAUGMENT_POLICY = "color,translation,cutout"
ADA_POLICY = "flip,translation,color,cutout"  # ADA's order: geometric, then colour, then cutout
ADA_R_T_TARGET = 0.6  # ADA's target for r_t = E[sign(D(x_real))]: above it D is taken to overfit (Karras et al. 2020)
# LeCam's weight for tl+da+lecam: the authors' BigGAN value (CIFAR, 32 px, hinge loss, DiffAugment: the nearest of
# their settings to ours), taken as it is: no sweep here, so the study cannot tune it to its own numbers
LECAM_WEIGHT = 0.3
# Truncation thresholds (BigGAN's truncation trick; 0 = none) of the study's final-model sweep and the explorer's
# slider, and the samples per FID of that sweep (at most; fewer when eval_num_samples is smaller).
EVAL_TRUNCATIONS = (0.0, 0.5, 1.0, 1.5)
TRUNCATION_SAMPLES = 200
SOURCE_CHECKPOINT = "results/source/openmoji-laptop"  # committed source model of the offline default study
SMOKE_SOURCE = "results/source/openmoji-smoke"  # committed 140 KB source at the smoke architecture (16 px)


@dataclass(frozen=True)
class Config:
    # Identity: which variant of the study this run is ("custom" allows any method settings).
    variant: str = "scratch"  # a name from VARIANTS (below), or custom
    preset: str = "custom"  # name of the preset the run started from (recorded, not used)

    # Data: which images. data_seed picks the subset; train_seed drives everything random in training.
    data_name: str = "fluent-faces"  # a name from `python -m gan_lib.data list`
    data_resolution: int = 32  # px, one of 16, 32, 64, 128
    data_count: int = 0  # images drawn from the dataset with data_seed; 0 = all
    data_seed: int = 0

    # Generator (BigGAN, Brock et al. 2018), names as in BigGAN-PyTorch.
    g_ch: int = 32  # channel width multiplier
    g_attn: str = ""  # resolutions with self-attention, "_"-separated, e.g. "64"; "" = none
    g_dim_z: int = 120  # latent size (rounded down to a multiple of the hierarchical chunks)
    g_shared_dim: int = 128  # size of the shared class embedding
    g_hier: bool = True  # split z into per-block chunks
    g_bn_eps: float = 1e-5
    g_ema_decay: float = 0.999  # 0 disables the EMA copy (samples then come from G itself)
    g_ema_start: int = 0  # step at which EMA starts tracking (copies G before)

    # Discriminator (BigGAN projection D).
    d_ch: int = 32
    d_attn: str = ""
    d_wide: bool = True
    d_steps: int = 1  # D updates per G update
    d_freeze_blocks: int = 0  # FreezeD (Mo et al. 2020): D's lowest (input-side) blocks kept fixed; 0 = none
    sn_eps: float = 1e-6  # spectral-norm epsilon, G and D

    # Transfer learning through a MineGAN miner (Wang et al. 2019). "" = train from scratch.
    transfer_source: str = ""  # run directory of our own source model, or a BigGAN-PyTorch checkpoint folder
    miner_stage1_steps: int = 0  # steps that train only miner and D (G frozen) before fine-tuning all
    miner_hidden: int = 256  # width of the miner MLP
    miner_lr: float = 2e-4  # the mixture miner's; MineGAN's trains at G's (opt_g_lr), as its code does
    # mixture: residual MLP on z (identity at the start) + a softmax mixture of the source classes' embeddings
    #   (stays inside their convex hull); G in eval mode in stage 1.
    # minegan: MineGAN's BigGAN miner (`Minor`): two stacks of spectrally normalised linear layers, z -> z' and
    #   z -> a free class embedding, orthogonal init; G in train mode (batch statistics) in stage 1.
    miner_kind: str = "mixture"

    # DiffAugment (Zhao et al. 2020) on real and fake images. "" = off.
    aug_policy: str = ""  # comma-separated ops of color, translation, cutout, flip, applied in the order named
    # ADA (Karras et al. 2020): each op of aug_policy hits each image with probability p, which moves towards
    # the target of r_t = E[sign(D(x_real))]. 0 = off (every op on every image: DiffAugment); the paper uses 0.6.
    aug_ada_target: float = 0.0
    aug_ada_interval: int = 4  # steps between updates of p
    aug_ada_images: int = 5000  # real images for p to move by 1 (paper: 500k; 5k: 0 to 1 in ~310 steps of 16)

    # Consistency regularization (Zhang et al. 2019) on real images. 0 = off; the paper uses 10.
    cr_weight: float = 0.0
    # What CR's penalty compares. stacked: D(T(DA(x))) with D(DA(x)), T = flip + zero-filled translation after
    #   DiffAugment (DiffAugment-BigGAN's default flag); clean: D(x) with D(DA(x)) (the DiffAugment authors' DA+CR
    #   scripts for limited data, CR_augment ""); paper: D(T'(x)) with D(x), T' = flip + reflection-padded
    #   translation of the un-augmented reals (the CR paper, StudioGAN).
    cr_transform: str = "stacked"

    # LeCam regularization (Tseng et al. 2021): D's logits on real images are pulled below the moving average of
    # its logits on fakes and vice versa, penalty mean(relu(D(x) - a_F)^2) + mean(relu(a_R - D(G(z)))^2) on the
    # batches D's loss sees. 0 = off; the paper's BigGAN runs (hinge loss, 32 px CIFAR) use 0.3.
    lecam_weight: float = 0.0
    lecam_decay: float = 0.99  # per D step, of the anchors a_R, a_F (the paper's); they start at step 0's means

    # Optimization.
    opt_loss: str = "hinge"  # hinge | ns (non-saturating)
    opt_batch_size: int = 16
    opt_steps: int = 1000  # G updates; derived from opt_epochs and the dataset's size when opt_epochs > 0
    opt_epochs: float = 0.0  # training length in epochs (see steps_for_epochs); 0 = the length is opt_steps
    opt_g_lr: float = 1e-4
    opt_d_lr: float = 4e-4
    opt_beta1: float = 0.0
    opt_beta2: float = 0.999
    opt_adam_eps: float = 1e-6
    train_seed: int = 0
    train_device: str = "auto"  # auto | cpu | cuda
    train_threads: int = 0  # CPU threads for torch; 0 = leave torch's default
    train_channels_last: bool = False  # NHWC memory format for models and data (faster convolutions on most CPUs)
    train_bf16: bool = False  # bfloat16 autocast of G and D forward passes (CUDA only; SN and losses stay fp32)
    train_compile: bool = False  # torch.compile of G and D (inductor): the first steps compile, later ones are faster

    # Evaluation (clean-fid FID/KID against the full training dataset).
    eval_every: int = 500  # steps; the final step is always evaluated
    eval_points: int = 0  # > 0: evaluate this many times, evenly spaced (sets eval_every from opt_steps)
    eval_num_samples: int = 500
    eval_final_num_samples: int = 0  # > 0: one more FID/KID at the final step on this many samples
    eval_seed: int = 12345  # seed of the fixed evaluation latents
    eval_batch_size: int = 50
    eval_truncation: float = 0.0  # 0 = no truncation
    ckpt_every: int = 250  # steps between checkpoints (also written at every evaluation and at the end)
    ckpt_keep_final: str = "full"  # what a finished run keeps: full (checkpoint.pt + .prev: exact resume, optimizer
    #   state) | weights (only weights.pt, verified before the checkpoints go; enough to sample, evaluate, transfer)
    log_every: int = 10  # steps averaged into one row of the per-step scalars (losses, D diagnostics)

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError(problems[0])

    @property
    def uses_transfer(self) -> bool:
        return bool(self.transfer_source)

    @property
    def miner_learning_rate(self) -> float:
        """The miner's Adam learning rate: `miner_lr`, or G's for MineGAN's miner (its code trains both at G's)."""
        return self.opt_g_lr if self.miner_kind == "minegan" else self.miner_lr

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True)

    def replace(self, **changes: Any) -> Config:
        _check_keys(changes)
        return dataclasses.replace(self, **changes)

    def for_dataset_size(self, n_images: int) -> Config:
        """This config with the length fixed for a dataset of `n_images` (after `data_count`): `opt_steps` from
        `opt_epochs`, and `eval_every` from `eval_points`. Unchanged when neither is set."""
        changes: dict[str, Any] = {}
        if self.opt_epochs:
            n = min(n_images, self.data_count) if self.data_count else n_images
            changes["opt_steps"] = steps_for_epochs(self.opt_epochs, n, self.opt_batch_size, self.d_steps)
        if self.eval_points:
            changes["eval_every"] = max(1, math.ceil(changes.get("opt_steps", self.opt_steps) / self.eval_points))
        try:
            return self.replace(**changes) if changes else self
        except ValueError as err:
            raise UserError(f"{err} (after fixing the length for {n_images} images)") from None


def steps_for_epochs(epochs: float, n_images: int, batch_size: int, d_steps: int) -> int:
    """G updates for `epochs` epochs. One epoch is one pass of D over the real images: every D step draws one
    real batch, so a G update shows D `batch_size * d_steps` real images; the count is rounded up."""
    if n_images < 1:
        raise UserError("epochs need a dataset with at least one image")
    return max(1, math.ceil(round(epochs * n_images / (batch_size * d_steps), 9)))


def _problems(c: Config) -> list[str]:
    out = []
    if c.variant not in VARIANTS and c.variant != "custom":
        out.append(f"unknown variant {c.variant!r}; choose one of {', '.join(VARIANTS)} (or 'custom')")
    elif c.variant != "custom":
        for key, want in variant_settings(c.variant).items():
            if key == "transfer_source":
                if bool(want) != bool(c.transfer_source):
                    need = "needs a pretrained source (pass --pretrained DIR)" if want else "trains from scratch: drop the pretrained source"
                    out.append(f"variant {c.variant!r} {need}")
            elif getattr(c, key) != frozen_blocks(want, c.data_resolution):
                out.append(f"variant {c.variant!r} fixes {key}={want!r} but got {getattr(c, key)!r}; use variant 'custom' to mix settings")
    if c.data_resolution not in RESOLUTIONS:
        out.append(f"data_resolution must be one of {RESOLUTIONS}, got {c.data_resolution}")
    ops = [op for op in c.aug_policy.split(",") if op]
    if any(op not in AUG_OPS for op in ops):
        out.append(f"aug_policy {c.aug_policy!r} may only name {', '.join(AUG_OPS)} (comma-separated), or be empty")
    if c.opt_loss not in LOSSES:
        out.append(f"opt_loss must be one of {LOSSES}, got {c.opt_loss!r}")
    if c.ckpt_keep_final not in CKPT_KEEP:
        out.append(f"ckpt_keep_final must be one of {', '.join(CKPT_KEEP)}, got {c.ckpt_keep_final!r}")
    if c.train_device not in DEVICES:
        out.append(f"train_device must be one of {DEVICES}, got {c.train_device!r}")
    for key in ("g_ch", "d_ch", "opt_batch_size", "d_steps", "eval_every", "eval_batch_size", "ckpt_every",
                "g_dim_z", "g_shared_dim", "miner_hidden", "log_every", "aug_ada_interval", "aug_ada_images"):
        if getattr(c, key) < 1:
            out.append(f"{key} must be a positive integer, got {getattr(c, key)}")
    for key in ("opt_steps", "data_count", "miner_stage1_steps", "eval_num_samples", "g_ema_start", "train_threads",
                "eval_points", "eval_final_num_samples", "d_freeze_blocks"):
        if getattr(c, key) < 0:
            out.append(f"{key} must be zero or positive, got {getattr(c, key)}")
    for key in ("opt_g_lr", "opt_d_lr", "miner_lr"):
        if not getattr(c, key) > 0:
            out.append(f"{key} must be positive, got {getattr(c, key)}")
    if not 0 <= c.aug_ada_target < 1:
        out.append(f"aug_ada_target must be in [0, 1) (0 = off; ADA uses 0.6), got {c.aug_ada_target}")
    elif c.aug_ada_target and not c.aug_policy:
        out.append("aug_ada_target is set but aug_policy is empty: ADA needs ops to apply with probability p")
    if c.d_freeze_blocks and not c.transfer_source:
        out.append("d_freeze_blocks is set but there is no transfer_source: FreezeD keeps pretrained blocks fixed")
    if c.cr_transform not in CR_TRANSFORMS:
        out.append(f"cr_transform must be one of {', '.join(CR_TRANSFORMS)}, got {c.cr_transform!r}")
    if c.miner_kind not in MINER_KINDS:
        out.append(f"miner_kind must be one of {', '.join(MINER_KINDS)}, got {c.miner_kind!r}")
    if c.lecam_weight < 0:
        out.append(f"lecam_weight must be zero (off) or positive, got {c.lecam_weight}")
    if not 0.0 <= c.lecam_decay < 1.0:
        out.append(f"lecam_decay must be in [0, 1) (0.99: the paper's), got {c.lecam_decay}")
    if c.cr_weight < 0:
        out.append(f"cr_weight must be zero (off) or positive, got {c.cr_weight}")
    if not 0 <= c.g_ema_decay < 1:
        out.append(f"g_ema_decay must be in [0, 1), got {c.g_ema_decay}")
    if not c.opt_epochs >= 0 or not math.isfinite(c.opt_epochs):
        out.append(f"opt_epochs must be positive (or 0 to give the length in opt_steps), got {c.opt_epochs}")
    if c.eval_final_num_samples == 1:
        out.append("eval_final_num_samples must be 0 (none) or at least 2")
    if c.eval_truncation < 0:
        out.append(f"eval_truncation must be zero (off) or positive, got {c.eval_truncation}")
    if c.train_bf16 and c.train_device == "cpu":
        out.append("train_bf16 needs a CUDA device: set train_device to 'cuda' or 'auto', or turn train_bf16 off")
    if c.miner_stage1_steps and not c.transfer_source:
        out.append("miner_stage1_steps is set but there is no transfer_source: the miner only exists when transferring")
    if c.eval_num_samples and c.eval_num_samples < 2:
        out.append("eval_num_samples must be 0 (no evaluation) or at least 2")
    return out


@dataclass(frozen=True)
class Variant:
    """One variant of the study: the method settings it fixes (beside METHOD_DEFAULTS) and a one-line description
    for `--help`, the README and the report. `transfer` asks for a pretrained source (MineGAN miner)."""

    description: str
    transfer: bool = False
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    default_study: bool = False  # part of the default study (the thesis's four)


# The method fields every variant fixes; a variant names only those it changes.
METHOD_DEFAULTS: dict[str, Any] = {"aug_policy": "", "cr_weight": 0.0, "d_freeze_blocks": 0, "aug_ada_target": 0.0,
                                   "cr_transform": "stacked", "miner_kind": "mixture", "lecam_weight": 0.0}

# The study's variants, in the report's order. Adding a variant is one entry here: the config checks, the study
# and train commands, the notebooks and the report all read this table.
VARIANTS: dict[str, Variant] = {
    "scratch": Variant("BigGAN (Brock et al. 2018) trained from scratch on the target", default_study=True),
    "tl": Variant("transfer: a pretrained BigGAN behind a MineGAN miner (Wang et al. 2019), miner first, then "
                  "fine-tuning of all", transfer=True, default_study=True),
    "tl+da": Variant("+ DiffAugment (`color,translation,cutout`) on real and fake images (Zhao et al. 2020)",
                     transfer=True, settings={"aug_policy": DIFFAUGMENT_POLICY}, default_study=True),
    "tl+da+cr": Variant("+ consistency regularization, λ = 10, flip + translation (Zhang et al. 2019)", transfer=True,
                        settings={"aug_policy": DIFFAUGMENT_POLICY, "cr_weight": 10.0}, default_study=True),
    "tl+da+lecam": Variant("+ LeCam regularization, λ = 0.3, anchors decaying by 0.99 per D step, instead of CR "
                           "(Tseng et al. 2021)", transfer=True,
                           settings={"aug_policy": DIFFAUGMENT_POLICY, "lecam_weight": LECAM_WEIGHT}),
    "tl+freezed": Variant("transfer with the lower (input-side) half of D's blocks frozen, 2 of 4 at 32 px, 3 of 6 at "
                          "128 px: FreezeD (Mo et al. 2020)", transfer=True, settings={"d_freeze_blocks": FREEZE_HALF}),
    "tl+ada": Variant("transfer + ADA's p-controller (Karras et al. 2020) steering r_t towards 0.6, driving "
                      "DiffAugment's ops (flip, integer translation, color, cutout), each with probability p; not "
                      "ADA's own pipeline (rotations, scaling, fractional translation, ADA's colour transforms)",
                      transfer=True, settings={"aug_policy": ADA_POLICY, "aug_ada_target": ADA_R_T_TARGET}),
    "scratch+da": Variant("DiffAugment (`color,translation,cutout`) without transfer (Zhao et al. 2020)",
                          settings={"aug_policy": DIFFAUGMENT_POLICY}),
    # Ablations of the references' own recipes (README: faithful to the references)
    "tl+da+cr-clean": Variant("`tl+da+cr` with the DiffAugment authors' DA+CR: the penalty between D on the "
                              "DiffAugmented and on the clean reals", transfer=True,
                              settings={"aug_policy": DIFFAUGMENT_POLICY, "cr_weight": 10.0, "cr_transform": "clean"}),
    "tl+da+cr-paper": Variant("`tl+da+cr` with the CR paper's T: flip + reflection-padded translation of the "
                              "un-augmented reals", transfer=True,
                              settings={"aug_policy": DIFFAUGMENT_POLICY, "cr_weight": 10.0, "cr_transform": "paper"}),
    "tl-minegan": Variant("`tl` through MineGAN's own BigGAN miner (SN linear stacks, a free class embedding, G's "
                          "learning rate, G in train mode in stage 1)", transfer=True, settings={"miner_kind": "minegan"}),
    "tl+da-minegan": Variant("`tl+da` through MineGAN's own BigGAN miner", transfer=True,
                             settings={"aug_policy": DIFFAUGMENT_POLICY, "miner_kind": "minegan"}),
}


def frozen_blocks(setting: int | str, resolution: int) -> int | str:
    """A `d_freeze_blocks` setting as a number of blocks: FREEZE_HALF is half of D's at `resolution` (an unknown
    resolution gives 0, and the config's resolution check says what is wrong)."""
    return D_BLOCKS.get(resolution, 0) // 2 if setting == FREEZE_HALF else setting


def variant_settings(name: str) -> dict[str, Any]:
    """Every method setting variant `name` fixes (transfer_source as a bool: whether it needs one)."""
    v = VARIANTS[name]
    return {"transfer_source": v.transfer, **METHOD_DEFAULTS, **v.settings}


def default_variants() -> list[str]:
    """The variants of the default study, in table order."""
    return [name for name, v in VARIANTS.items() if v.default_study]


PRESETS: dict[str, dict[str, Any]] = {
    # Tiny: a few steps in seconds on a CPU, for tests.
    "smoke": dict(data_resolution=16, g_ch=4, d_ch=4, g_dim_z=20, g_shared_dim=8, opt_batch_size=4,
                  opt_steps=4, eval_every=2, eval_num_samples=8, eval_batch_size=4, ckpt_every=2,
                  miner_hidden=16, miner_stage1_steps=2, train_threads=2, g_ema_start=1, transfer_source=SMOKE_SOURCE),
    # The offline default study on two CPU cores (scale settled with the study: see README).
    # Each run: 240 steps of batch 16 (~1.2 s each here), FID on 200 samples at steps 120 and 240.
    "laptop": dict(data_resolution=32, g_ch=32, d_ch=32, g_attn="", d_attn="", opt_batch_size=16,
                   opt_steps=240, eval_every=120, eval_num_samples=200, eval_batch_size=50, ckpt_every=40,
                   miner_stage1_steps=40, g_ema_decay=0.99, transfer_source=SOURCE_CHECKPOINT,
                   train_threads=2),
    # The original study: 128 px, the BigGAN-PyTorch 128x128 architecture so the released checkpoint loads; 150
    # epochs as the thesis trained (2,344 steps of the 1,000 bedrooms, 235 of the 100 Obama faces). A checkpoint is
    # 2.17 GB here, so a finished run keeps only weights.pt (0.6 GB; README: disk and time of the paper study).
    "paper": dict(data_resolution=128, g_ch=96, d_ch=96, g_attn="64", d_attn="64", g_dim_z=120,
                  g_shared_dim=128, opt_batch_size=32, opt_epochs=150.0, d_steps=2, opt_g_lr=1e-4,
                  opt_d_lr=4e-4, eval_points=5, eval_num_samples=5000, eval_batch_size=100,
                  ckpt_every=500, miner_stage1_steps=200, transfer_source="pretrained/biggan-128",
                  data_name="lsun-bedroom-1000", ckpt_keep_final="weights"),
}


# The thesis's budget at the laptop scale: 150 epochs of each dataset (910 steps of the 97 faces), FID/KID on 200
# samples at 8 evenly spaced points and once more on 1,000 samples at the end.
PRESETS["laptop-150ep"] = {**PRESETS["laptop"], "opt_epochs": 150.0, "eval_points": 8,
                           "eval_final_num_samples": 1000}


def _check_keys(overrides: dict[str, Any]) -> None:
    fields = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise UserError(f"unknown config field(s) {', '.join(unknown)}; valid fields: {', '.join(sorted(fields))}")


def make_config(preset: str = "laptop", variant: str = "scratch", **overrides: Any) -> Config:
    """Defaults, then the preset, then the variant's method settings, then `overrides`.

    A transfer variant keeps the preset's `transfer_source` unless overridden; the others clear it.
    Raises `UserError` for an unknown preset, variant or field, or settings that do not fit together.
    """
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if variant not in VARIANTS and variant != "custom":
        raise UserError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)} (or 'custom')")
    _check_keys(overrides)
    if "opt_steps" in overrides and overrides.get("opt_epochs"):
        raise UserError("give the training length in epochs or in steps, not both (drop --steps or --epochs)")
    values: dict[str, Any] = dict(PRESETS[preset], preset=preset, variant=variant)
    if "opt_steps" in overrides:
        values["opt_epochs"] = 0.0  # a length in steps replaces the preset's length in epochs
    if "eval_every" in overrides:
        values["eval_points"] = 0  # likewise an evaluation interval replaces the preset's number of points
    for key, want in (variant_settings(variant) if variant in VARIANTS else {}).items():
        if key == "transfer_source":
            if not want:
                values[key] = ""
                values["miner_stage1_steps"] = 0
        else:
            values[key] = want
    values.update(overrides)
    values["d_freeze_blocks"] = frozen_blocks(values.get("d_freeze_blocks", 0), values.get("data_resolution", 32))
    try:
        return Config(**values)
    except ValueError as err:
        raise UserError(str(err)) from None


def load_config(path: str | Path) -> Config:
    """Read a `config.json` written by a run. Unknown fields raise a `UserError` naming the file."""
    path = Path(path)
    try:
        values = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path} does not exist: is this a run directory?") from None
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON ({err.msg} at line {err.lineno}); fix or delete it") from None
    try:
        _check_keys(values)
        return Config(**values)
    except (UserError, ValueError) as err:
        raise UserError(f"{path}: {err}") from None
