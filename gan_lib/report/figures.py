"""The report's numbered figures: each saved under the study's figure folder and shown, linked, with its caption."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from gan_lib.report import tables


class Figures:
    """Numbered figures with captions: each is saved under the study's figure folder and shown with its caption
    as the image's alt text. The report links each PNG by its path relative to `link_from` (the folder of the
    rendered HTML, `results/reports/`) instead of embedding it, so a re-render adds no copy of the images to git.
    The executed notebook (`papermill_runs/<study>/`) lies as deep under the repository, so the links resolve
    from it too."""

    def __init__(self, folder: Path, link_from: Path):
        self.folder, self.link_from, self.count = Path(folder), Path(link_from), 0

    def show(self, fig: plt.Figure | Path | None, name: str, caption: str) -> Path | None:
        """Save `fig` (or take the PNG at a path) and show it as a numbered <figure> with its caption."""
        import html
        import os
        import re

        from IPython.display import HTML, display

        if fig is None:
            return None
        path = fig if isinstance(fig, Path) else tables.save(fig, self.folder / f"{name}.png")
        if not isinstance(fig, Path):
            plt.close(fig)
        self.count += 1
        # Up to two folders above the HTML, then down: from results/reports/ and papermill_runs/<study>/ alike.
        top = self.link_from.parent.parent
        src = html.escape(f"../../{Path(os.path.relpath(path, top)).as_posix()}")
        text = html.escape(caption)
        alt, shown = text.replace("`", ""), re.sub(r"`([^`]*)`", r"<code>\1</code>", text)
        display(HTML(f'<figure><img src="{src}" alt="Figure {self.count}: {alt}" '
                     f'style="max-width:100%"><figcaption><b>Figure {self.count}.</b> {shown}</figcaption></figure>'))
        return path
