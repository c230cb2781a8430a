"""Figures of generated images: sample grids from fixed latents (as BigGAN, Brock et al. 2018, shows them) and the
memorization figure, each sample beside its nearest training image in Inception feature space (the copy check
of few-shot GAN papers, e.g. Karras et al. 2020, "Training GANs with Limited Data").

Images arrive as uint8 (NHWC or NCHW); files are written atomically.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from gan_lib.files import atomic_write_bytes

if TYPE_CHECKING:
    import matplotlib.pyplot as plt

    from gan_lib.evaluation import MemorizationReport, SampleFn

LOSS_KEYS = ("d_loss", "g_loss", "cr_loss", "lecam_loss")  # the losses a run logs (penalties: when on)

def _nhwc(images: np.ndarray | torch.Tensor) -> np.ndarray:
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or 3 not in (arr.shape[1], arr.shape[-1]):
        raise ValueError(f"expected uint8 images [N, H, W, 3] or [N, 3, H, W], got {arr.dtype} {arr.shape}")
    return arr if arr.shape[-1] == 3 else arr.transpose(0, 2, 3, 1)


def image_grid(images: np.ndarray | torch.Tensor, nrow: int | None = None, padding: int = 2,
               pad_value: int = 255) -> np.ndarray:
    """Tile N uint8 images into one uint8 [H', W', 3] image, `nrow` per row (default: a near-square grid)."""
    x = _nhwc(images)
    n, h, w, _ = x.shape
    if n == 0:
        raise ValueError("no images to tile")
    cols = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, 3), pad_value, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = padding + r * (h + padding), padding + c * (w + padding)
        grid[top:top + h, left:left + w] = x[i]
    return grid


def save_image_grid(images: np.ndarray | torch.Tensor, path: str | Path, nrow: int | None = None,
                    padding: int = 2) -> Path:
    """Write `image_grid(images)` as a PNG at `path`."""
    buf = io.BytesIO()
    Image.fromarray(image_grid(images, nrow, padding)).save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


def sample_grid(sample_fn: SampleFn, path: str | Path, *, dim_z: int, n_classes: int, num: int = 64, seed: int = 0,
                device: str | torch.device = "cpu", truncation: float = 0.0, nrow: int | None = None) -> Path:
    """A PNG grid of `num` samples from the fixed latents of `seed` (the same images at every step of a run)."""
    from gan_lib.evaluation import generate_images

    images = generate_images(sample_fn, dim_z=dim_z, n_classes=n_classes, num=num, seed=seed, device=device,
                             truncation=truncation)
    return save_image_grid(images, path, nrow=nrow)


def nearest_neighbour_figure(samples: np.ndarray | torch.Tensor, train_images: np.ndarray | torch.Tensor,
                             report: MemorizationReport, path: str | Path, count: int = 8) -> Path:
    """Pairs (generated sample | nearest training image) for the `count` samples closest to the training set
    (smallest relative distance first), each titled with the feature distance and its ratio to the training
    image's own nearest-neighbour distance. Written as PNG (or any format matplotlib infers from `path`)."""
    import matplotlib

    matplotlib.use("Agg") if not matplotlib.get_backend().lower().startswith(("module://", "nbagg")) else None
    import matplotlib.pyplot as plt

    samples, train = _nhwc(samples), _nhwc(train_images)
    order = np.argsort(report.relative, kind="stable")[:count]
    fig, axes = plt.subplots(len(order), 2, figsize=(4.2, 2.1 * len(order)), squeeze=False)
    for row, i in enumerate(order):
        j = int(report.index[i])
        for ax, img, title in ((axes[row, 0], samples[i], f"sample {i}"),
                               (axes[row, 1], train[j], f"train {j}: d={report.distance[i]:.1f}, "
                                                        f"{report.relative[i]:.2f}x NN")):
            ax.imshow(img, interpolation="nearest")
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.suptitle("generated sample | nearest training image (Inception features)", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", dpi=100)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def training_curves(rows: list[dict]) -> "plt.Figure":
    """FID and the losses against training step, from a run's evaluation rows."""
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r.get("eval_kind", "train") == "train"]  # not the final larger-sample FID
    steps = [r["step"] for r in rows]
    fig, (ax_fid, ax_loss) = plt.subplots(1, 2, figsize=(9, 3))
    ax_fid.plot(steps, [r["fid"] for r in rows], "o-")
    ax_fid.set(xlabel="step", ylabel="FID", title="FID (EMA generator)")
    for key in LOSS_KEYS:
        if any(key in r for r in rows):
            ax_loss.plot(steps, [r.get(key, float("nan")) for r in rows], "o-", label=key)
    ax_loss.set(xlabel="step", title="mean loss since the last evaluation")
    ax_loss.legend()
    fig.tight_layout()
    return fig


def scalar_curves(run_dir: str | Path) -> "plt.Figure | None":
    """The per-step scalars a run logs to `scalars.csv` (losses; D diagnostics r_t and D accuracy) against step;
    None before the first log window."""
    import matplotlib.pyplot as plt
    import pandas as pd

    path = Path(run_dir) / "scalars.csv"
    try:
        data = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):  # not yet written, or no log window yet
        return None
    if data.empty or "step" not in data:
        return None
    fig, (ax_loss, ax_d) = plt.subplots(1, 2, figsize=(9, 3))
    for key in LOSS_KEYS:
        if key in data:
            ax_loss.plot(data.step, data[key], label=key)
    ax_loss.set(xlabel="step", title="losses (per log window)")
    ax_loss.legend()
    for key in ("r_t", "d_accuracy"):
        if key in data:
            ax_d.plot(data.step, data[key], label=key)
    ax_d.set(xlabel="step", title="D diagnostics (towards 1: D overfits)", ylim=(-0.05, 1.05))
    ax_d.legend()
    fig.tight_layout()
    return fig


class LiveProgress:
    """An `on_eval` callback for notebooks: one display, updated in place with samples, the FID curve and (given
    `run_dir`) the per-step scalars logged so far."""

    def __init__(self, num: int = 32, seed: int = 0, run_dir: str | Path | None = None):
        self.num, self.seed, self.rows, self.handle, self.run_dir = num, seed, [], None, run_dir

    def __call__(self, row: dict, sampler: "SampleFn") -> None:
        import matplotlib.pyplot as plt
        from IPython.display import Image as IPyImage
        from IPython.display import display

        from gan_lib.evaluation import generate_images

        self.rows.append(row)
        device = next(sampler.parameters()).device
        images = generate_images(sampler, dim_z=sampler.dim_z, n_classes=sampler.n_classes, num=self.num,
                                 seed=self.seed, device=device)
        buf = io.BytesIO()
        big = Image.fromarray(image_grid(images, nrow=16))
        big.resize((big.width * 2, big.height * 2), Image.NEAREST).save(buf, format="PNG")
        fig = training_curves(self.rows)
        curves = io.BytesIO()
        fig.savefig(curves, format="png", dpi=80)
        plt.close(fig)
        outputs = [IPyImage(buf.getvalue()), IPyImage(curves.getvalue())]
        scalars = scalar_curves(self.run_dir) if self.run_dir is not None else None
        if scalars is not None:
            png = io.BytesIO()
            scalars.savefig(png, format="png", dpi=80)
            plt.close(scalars)
            outputs.append(IPyImage(png.getvalue()))
        if self.handle is None:
            self.handle = [display(o, display_id=True) for o in outputs]
        else:
            for handle, o in zip(self.handle, outputs):
                handle.update(o)
            self.handle += [display(o, display_id=True) for o in outputs[len(self.handle):]]
