"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training"), and the same ops
applied adaptively as ADA does (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data").

Pure, differentiable, device-agnostic functions on float NCHW images in [-1, 1]. The policy string names the ops
applied in order: any of `color`, `translation`, `cutout`, `flip`, comma-separated; "" is the identity. DiffAugment
applies every op to every image; ADA applies each op to each image with probability p, and moves p after every few
steps by the sign of r_t - target (`ada_update`). Also the flip-and-translate transform T of consistency
regularization (Zhang et al. 2019).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Generator = torch.Generator | None


def _uniform(x: torch.Tensor, gen: Generator) -> torch.Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype, generator=gen)


def brightness(x: torch.Tensor, gen: Generator = None) -> torch.Tensor:
    return x + (_uniform(x, gen) - 0.5)


def saturation(x: torch.Tensor, gen: Generator = None) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(x, gen) * 2) + mean


def contrast(x: torch.Tensor, gen: Generator = None) -> torch.Tensor:
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_uniform(x, gen) + 0.5) + mean


def color(x: torch.Tensor, gen: Generator = None) -> torch.Tensor:
    return contrast(saturation(brightness(x, gen), gen), gen)


def _shift(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Move image i by (dy[i], dx[i]) whole pixels, filling with zeros."""
    n, _, h, w = x.shape
    padded = F.pad(x, [1, 1, 1, 1])
    rows = (torch.arange(h, device=x.device).view(1, h, 1) - dy.view(n, 1, 1) + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) - dx.view(n, 1, 1) + 1).clamp(0, w + 1)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def _reflected(index: torch.Tensor, size: int) -> torch.Tensor:
    """Indices outside [0, size) mirrored back into it (reflection padding, the edge pixel not repeated)."""
    return (size - 1) - ((size - 1) - index.abs()).abs()


def _shift_reflect(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Move image i by (dy[i], dx[i]) whole pixels, filling with the image's own reflection."""
    n, _, h, w = x.shape
    rows = _reflected(torch.arange(h, device=x.device).view(1, h, 1) - dy.view(n, 1, 1), h)
    cols = _reflected(torch.arange(w, device=x.device).view(1, 1, w) - dx.view(n, 1, 1), w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return x.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def translation(x: torch.Tensor, gen: Generator = None, ratio: float = 0.125, reflect: bool = False) -> torch.Tensor:
    """Translate each image by up to `ratio` of its size in each direction, zero-filled (DiffAugment) or
    reflection-padded (`reflect`, as the CR paper and StudioGAN translate)."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (n,), device=x.device, generator=gen)
    dx = torch.randint(-sx, sx + 1, (n,), device=x.device, generator=gen)
    return (_shift_reflect if reflect else _shift)(x, dy, dx)


def cutout(x: torch.Tensor, gen: Generator = None, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of `ratio` times the image size (its centre anywhere in the image)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device, generator=gen)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device, generator=gen)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    top, left = cy - ch // 2, cx - cw // 2
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def flip(x: torch.Tensor, gen: Generator = None) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    mirrored = torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=gen) < 0.5
    return torch.where(mirrored, x.flip(3), x)


OPS = {"color": color, "translation": translation, "cutout": cutout, "flip": flip}


def diff_augment(x: torch.Tensor, policy: str, gen: Generator = None) -> torch.Tensor:
    """Apply the ops named in `policy` (comma-separated, in order). An empty policy returns `x` itself."""
    for name in filter(None, policy.split(",")):
        x = OPS[name](x, gen)
    return x


def adaptive_augment(x: torch.Tensor, policy: str, p: float, gen: Generator = None) -> torch.Tensor:
    """ADA's way of applying the ops of `policy`: each op to each image independently with probability `p`.
    The random draws do not depend on p (p = 0 returns the images unchanged, p = 1 is `diff_augment`'s effect)."""
    for name in filter(None, policy.split(",")):
        hit = torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=gen) < p
        x = torch.where(hit, OPS[name](x, gen), x)
    return x


def ada_update(p: float, r_t: float, target: float, images: int, speed_images: int) -> float:
    """ADA's rule for p after `images` real images with mean r_t = E[sign(D(x_real))]: up by images / speed_images
    when D is surer of the reals than `target` (overfitting), down by as much when less sure, clamped to [0, 1]."""
    direction = (r_t > target) - (r_t < target)
    return min(1.0, max(0.0, p + direction * images / speed_images))


def flip_translate(x: torch.Tensor, gen: Generator = None, ratio: float = 0.125, reflect: bool = False) -> torch.Tensor:
    """CR's transform T: a random horizontal flip, then a translation by up to `ratio` of the image (zero-filled, or
    reflection-padded with `reflect`)."""
    return translation(flip(x, gen), gen, ratio, reflect)
