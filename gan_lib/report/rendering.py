"""A study's report: report.ipynb executed by papermill for one study and rendered to HTML (code hidden), and the
index page that links every study's report. Nothing is rewritten when its content is unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gan_lib.paths import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
REPORT_CELL_S = 300  # per-cell limit of the report notebook; its slowest cell (a study's figures) takes seconds


def render_report(study: str, results_root: Path, output_root: Path) -> Path:
    """Execute report.ipynb for `study` and render it, code hidden, to `results/reports/<study>.html`.

    The executed notebook (`papermill_runs/<study>/report.ipynb`) is stored without papermill's timestamps and with
    paths relative to the repository, and neither file is rewritten when its content is unchanged: rendering the
    report of unchanged results leaves the working tree unchanged."""
    import nbconvert
    import nbformat

    from gan_lib.notebooks import execute_notebook
    from gan_lib.report.tables import study_outputs

    out = output_root / study / "report.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.ipynb")
    try:
        execute_notebook(NOTEBOOKS / "report.ipynb", tmp, {"results_root": _repo_relative(results_root),
                                                            "study": study}, cell_timeout=REPORT_CELL_S, cwd=REPO_ROOT)
        nb = _without_timestamps(nbformat.read(tmp, as_version=4), out)
    finally:
        tmp.unlink(missing_ok=True)
    _write_if_changed(out, nbformat.writes(nb).encode() + b"\n")
    html, _ = nbconvert.HTMLExporter(exclude_input=True).from_notebook_node(
        nb, resources={"metadata": {"name": f"Study {study}: data-efficient BigGAN report"}})
    return _write_if_changed(study_outputs(results_root, study)["report"], html.encode())


def render_all(results_root: Path, output_root: Path) -> list[Path]:
    """The report of every study with rows under `results_root`, then the index. Each report's conclusions section
    reads the rows of every study, so after one study changes the others' reports are rendered again to agree."""
    from tqdm.auto import tqdm

    from gan_lib.errors import UserError

    runs = results_root / "runs"
    if not runs.is_dir():
        raise UserError(f"{runs}: no study results here; pass --results-root the folder that holds runs/")
    studies = sorted(p.name for p in runs.iterdir() if p.is_dir() and any(p.glob("*.parquet")))
    paths = [render_report(study, results_root, output_root) for study in tqdm(studies, desc="reports", unit="report")]
    return [*paths, render_index(results_root)]


def render_index(results_root: Path) -> Path:
    """`results/report.html`: a page linking every study's report under `results/reports/`."""
    import html

    reports = sorted((results_root / "reports").glob("*.html"))
    items = "\n".join(f'<li><a href="reports/{html.escape(p.name)}">{html.escape(p.stem)}</a></li>' for p in reports)
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>gan-study: reports</title></head>"
            f"<body><h1>Study reports</h1>\n<ul>\n{items}\n</ul>\n<p>One report per study, rendered by "
            "<code>python -m gan_lib.study --study NAME --report-only</code>.</p></body></html>\n")
    return _write_if_changed(results_root / "report.html", page.encode())


def _repo_relative(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _without_timestamps(nb: Any, out: Path) -> Any:
    """The executed notebook without what changes from one execution to the next (times, durations, paths)."""
    meta = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration", "environment_variables"):
        meta.pop(key, None)
    meta["input_path"] = "notebooks/report.ipynb"
    meta["output_path"] = _repo_relative(out)
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"  # papermill gives it a random id
        cell.metadata.pop("execution", None)
        for key in ("start_time", "end_time", "duration"):
            cell.metadata.get("papermill", {}).pop(key, None)
    return nb


def _write_if_changed(path: Path, content: bytes) -> Path:
    from gan_lib.files import atomic_write_bytes

    if not (path.exists() and path.read_bytes() == content):
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, content)
    return path
