"""Image decoding and normalisation for the data layer: any Pillow image -> RGB on white -> square -> N x N uint8.

The steps follow the dataset tools of StyleGAN2-ADA (`dataset_tool.py`) and DiffAugment's data preparation:
decode, apply the EXIF orientation, composite transparency on white, center-crop to a square and resize with
antialiasing (Lanczos). Every function here is pure and works on one image.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# What a broken or non-image file raises while Pillow opens or decodes it.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
)

_WHITE = (255, 255, 255, 255)


def decode(data: bytes) -> Image.Image:
    """Fully decode encoded image bytes (raises one of `DECODE_ERRORS` for a bad or truncated file)."""
    img = Image.open(io.BytesIO(data))
    img.load()  # truncated files fail here, not later
    return img


def to_rgb_on_white(img: Image.Image) -> Image.Image:
    """Return an 8-bit RGB image; alpha (RGBA, LA, PA, P or L/RGB with a tRNS colour) is composited on white.

    16-bit and 32-bit integer grayscale (I;16*, I) is scaled to 8 bits (a 16-bit range is assumed when any
    value exceeds 255); float images (F) are clipped to [0, 255]; CMYK, YCbCr and LAB use Pillow's conversion.
    """
    img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(img).astype(np.float64)
        if mode.startswith("I;16") or arr.max(initial=0) > 255:
            arr = arr / 257.0
        return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        arr = np.clip(np.rint(np.asarray(img, dtype=np.float64)), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if mode == "1":
        img = img.convert("L")
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, _WHITE)
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def center_crop_square(img: Image.Image) -> Image.Image:
    """Crop the largest centred square."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img if w == h else img.crop((left, top, left + side, top + side))


def resize_square(img: Image.Image, resolution: int) -> Image.Image:
    """Resize a square image to `resolution` x `resolution` with Lanczos (antialiased when reducing)."""
    if img.size == (resolution, resolution):
        return img
    return img.resize((resolution, resolution), Image.Resampling.LANCZOS, reducing_gap=3.0)


def pixel_hash(img: Image.Image) -> str:
    """SHA-1 of the decoded pixels and size, used to find duplicate images whatever their encoding."""
    h = hashlib.sha1(f"{img.mode}{img.size}".encode())
    h.update(img.tobytes())
    return h.hexdigest()


def as_uint8(img: Image.Image) -> np.ndarray:
    """[H, W, 3] uint8 array of an RGB image."""
    arr = np.asarray(img, dtype=np.uint8)
    assert arr.ndim == 3 and arr.shape[2] == 3, arr.shape
    return arr
