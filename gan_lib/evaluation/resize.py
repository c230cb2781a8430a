"""clean-fid's `clean` preprocessing: generator output quantized to uint8, resized to 299x299 as Pillow's bicubic
filter does on float32 channels (Parmar, Zhang and Zhu, CVPR 2022).

- `to_uint8` is the quantization of clean-fid's leaderboard script (`(x * 127.5 + 128).clamp(0, 255).to(uint8)`);
- on the CPU the resize is clean-fid's own resizer run on threads (Pillow releases the GIL); on CUDA it is a
  separable float64 re-implementation of Pillow's resampler that is bit-identical to it (tests check this).
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import torch

RESIZE = 299


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] (any layout) -> uint8, as clean-fid's leaderboard script quantizes generator output."""
    return (images.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)


@functools.lru_cache(maxsize=1)
def _resize_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, torch.get_num_threads()), thread_name_prefix="clean-resize")


@functools.lru_cache(maxsize=1)
def _cleanfid_resizer() -> Callable[[np.ndarray], np.ndarray]:
    from cleanfid.resize import build_resizer

    return build_resizer("clean")


def _pil_clean_resize(images_nchw: torch.Tensor) -> torch.Tensor:
    """clean-fid's own resizer (PIL bicubic on float32 channels, clipped to [0, 255]) on threads.
    uint8 [B, 3, H, W] CPU -> float32 [B, 3, 299, 299], channels-last strides."""
    arrays = images_nchw.permute(0, 2, 3, 1).numpy()
    fn = _cleanfid_resizer()
    out = list(_resize_pool().map(fn, arrays)) if len(arrays) > 1 else [fn(a) for a in arrays]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)


def _bicubic(x: float) -> float:
    """Pillow's bicubic kernel (a = -0.5), with the same operation order as `Resample.c`."""
    a = -0.5
    x = -x if x < 0.0 else x
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


@functools.lru_cache(maxsize=32)
def _pil_coeffs(in_size: int, out_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tap indices int64 [out, K] and float64 weights [out, K] of Pillow's `precompute_coeffs` (bicubic)."""
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    ss = 1.0 / filterscale
    idx = np.zeros((out_size, ksize), np.int64)
    weights = np.zeros((out_size, ksize), np.float64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)  # int() truncates toward zero, as the C cast does
        count = min(int(center + support + 0.5), in_size) - xmin
        k = [_bicubic((x + xmin - center + 0.5) * ss) for x in range(count)]
        total = 0.0
        for w in k:
            total += w
        idx[xx, :count] = np.arange(xmin, xmin + count)
        idx[xx, count:] = xmin  # unused taps: any valid index, weight 0
        weights[xx, :count] = [w / total for w in k] if total != 0.0 else k
    return torch.from_numpy(idx), torch.from_numpy(weights)


def _resample_pass(x: torch.Tensor, in_size: int, dim: int) -> torch.Tensor:
    """One pass of Pillow's float resampler along `dim` (-1: width, -2: height): float64 sums taken tap by tap in
    Pillow's order, one rounding to float32 at the end. Separate mul and add kernels keep it FMA-free on CUDA."""
    idx, w = _pil_coeffs(in_size, RESIZE)
    idx, w = idx.to(x.device), w.to(x.device)
    x = x.double()
    acc = None
    for t in range(idx.shape[1]):
        wt = w[:, t] if dim == -1 else w[:, t, None]
        term = x.index_select(dim, idx[:, t]).mul_(wt)
        acc = term if acc is None else acc.add_(term)
    return acc.float()


def _torch_clean_resize(images_nchw: torch.Tensor) -> torch.Tensor:
    """Bit-identical torch version of clean-fid's resize (Pillow: horizontal pass first, then vertical)."""
    x = images_nchw.float()
    h, w = x.shape[-2:]
    if w != RESIZE:
        x = _resample_pass(x, w, -1)
    if h != RESIZE:
        x = _resample_pass(x, h, -2)
    return x.clamp_(0, 255)


def clean_resize(images_uint8_nchw: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 3, H, W] -> float32 [B, 3, 299, 299] in [0, 255], exactly clean-fid's `clean` resize.
    CPU tensors use clean-fid's Pillow resizer on threads, others the bit-identical torch version."""
    if images_uint8_nchw.dtype != torch.uint8 or images_uint8_nchw.ndim != 4 or images_uint8_nchw.shape[1] != 3:
        raise ValueError(f"expected uint8 [B, 3, H, W] images, got {images_uint8_nchw.dtype} "
                         f"{tuple(images_uint8_nchw.shape)}")
    if images_uint8_nchw.device.type == "cpu":
        return _pil_clean_resize(images_uint8_nchw)
    return _torch_clean_resize(images_uint8_nchw)
