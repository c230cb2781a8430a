"""The package's architecture, read from the source: gan_lib is grouped by stage and a stage imports only lower
ones, no import circle between modules, data and evaluation free of the training side, modules short enough to
read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gan_lib"
MAX_LINES = 400
FOUNDATION = ("gan_lib.errors", "gan_lib.files", "gan_lib.paths")
# The pipeline, lowest first: each stage imports only the stages below it (and itself). data and evaluation hold
# no model, models hold no training, the report reads results, the study drives everything; the entry points on
# top (benchmarks, costs, the metrics command) may import anything.
STAGES = {
    "foundations": ("gan_lib", "gan_lib.config", "gan_lib.errors", "gan_lib.paths", "gan_lib.files",
                    "gan_lib.environment", "gan_lib.checkpoint", "gan_lib.notebooks"),
    "data": ("gan_lib.data",),
    "evaluation": ("gan_lib.evaluation",),
    "models": ("gan_lib.models",),
    "training": ("gan_lib.training",),
    "report": ("gan_lib.report",),
    "study": ("gan_lib.study",),
    "entry points": ("gan_lib.bench", "gan_lib.costs", "gan_lib.metrics"),
}
RANK = {"foundations": 0, "data": 1, "evaluation": 2, "models": 2, "training": 3, "report": 4, "study": 5,
        "entry points": 6}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str) -> set[str]:
    """The gan_lib modules that module `name` imports anywhere: at module level, in functions, under TYPE_CHECKING.
    `from pkg import sub` counts as importing `pkg.sub`; a package imported on the way to a submodule does not."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # `pkg.name` where name is not a module: `pkg`
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: imported(name) for name in MODULES}


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in GRAPH[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as [a, b, ..., a], or [] when the graph is acyclic."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_graph_is_read_from_every_module():
    assert {"gan_lib.training.loop", "gan_lib.evaluation.scores", "gan_lib.data.datasets"} <= set(GRAPH)
    assert "gan_lib.evaluation" in GRAPH["gan_lib.training.monitor"]  # a module-level import
    assert "gan_lib.models.build" in GRAPH["gan_lib.metrics"]
    assert "gan_lib.models.pretrained" in GRAPH["gan_lib.models.build"]  # an import inside a function
    assert "gan_lib.data.imageset" in GRAPH["gan_lib.evaluation.scores"]  # under TYPE_CHECKING


def test_find_cycle_reports_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_between_modules():
    assert find_cycle(GRAPH) == []


@pytest.mark.parametrize("layer", ["gan_lib.data", "gan_lib.evaluation"])
def test_data_and_evaluation_stand_on_their_own(layer):
    """Evaluation takes any `sample_fn(z, y)` and knows nothing of training; data knows nothing of either."""
    allowed = (layer, "gan_lib.data.imageset", *FOUNDATION)
    for name in (m for m in MODULES if m == layer or m.startswith(layer + ".")):
        outside = sorted(m for m in reachable(name) if not m.startswith(allowed))
        assert outside == [], f"{name} reaches {outside}"


def test_modules_stay_short():
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def stage_of(module: str) -> str:
    for stage, prefixes in STAGES.items():
        if any(module == p or (p != "gan_lib" and module.startswith(p + ".")) for p in prefixes):
            return stage
    raise AssertionError(f"{module} belongs to no stage: add it to STAGES")


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """'a -> b' for each import of a module from a higher stage, or from another stage of the same rank."""
    return sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                  if (sa := stage_of(a)) != (sb := stage_of(b)) and RANK[sb] >= RANK[sa])


def test_every_module_belongs_to_a_stage_and_imports_only_lower_stages():
    assert upward_imports(GRAPH) == []


def test_an_upward_import_is_caught():
    assert upward_imports({"gan_lib.models.build": {"gan_lib.training.run_dir"}}) == [
        "gan_lib.models.build -> gan_lib.training.run_dir"]
    assert upward_imports({"gan_lib.models.build": {"gan_lib.evaluation.scores"}})  # same rank, other stage
    assert upward_imports({"gan_lib.training.loop": {"gan_lib.models.build", "gan_lib.training.state"}}) == []


def test_the_folders_read_as_the_pipeline():
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert packages == ["data", "evaluation", "models", "report", "study", "training"]
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert all(stage_of(f"gan_lib.{name}") in ("foundations", "entry points") for name in top), top
