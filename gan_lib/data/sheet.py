"""Contact sheets: a PNG grid of a prepared dataset, seeded, one labelled row per class when it has classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gan_lib.data.datasets import load_dataset
from gan_lib.files import atomic_write


def contact_sheet(name: str, resolution: int, path: Path, columns: int = 8, rows: int = 8, seed: int = 0) -> Path:
    """Write a PNG grid of the dataset: `rows` x `columns` seeded images, or one labelled row per class."""
    ds = load_dataset(name, resolution)
    rng = np.random.default_rng(seed)
    if len(ds.class_names) > 1:
        grid = [(c, rng.permutation(np.flatnonzero(ds.labels == k))[:columns]) for k, c in enumerate(ds.class_names)]
    else:
        picks = rng.permutation(len(ds))[: rows * columns]
        grid = [("", picks[r * columns:(r + 1) * columns]) for r in range((len(picks) + columns - 1) // columns)]
    font = ImageFont.load_default(size=max(10, min(14, resolution // 4)))
    label_w = max((int(font.getlength(c)) + 8 for c, _ in grid if c), default=0)
    pad = 2
    cell = resolution + pad
    sheet = Image.new("RGB", (label_w + columns * cell + pad, len(grid) * cell + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, idx) in enumerate(grid):
        if label:
            draw.text((4, r * cell + pad + resolution // 2), label, fill="black", font=font, anchor="lm")
        for c, i in enumerate(idx):
            sheet.paste(Image.fromarray(ds.images[i]), (label_w + pad + c * cell, pad + r * cell))
    path = Path(path)
    return atomic_write(path, lambda f: sheet.save(f, format="PNG"))
