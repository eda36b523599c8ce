"""The import layers of galmerge, read from the source: no upward import, no cycle, no stage calling another.

Layers, low to high (the same as the project's checker): foundations (errors, tomlfiles, config,
plotting, display); data and runs; mocks, models and adapt; the stages training, catalog,
evaluation and explain; morphology (built on training); pipeline and report; the command line. A module may import
from its own layer and below, with these limits within a layer:

- the stages do not import each other (the pipeline chains them);
- the report reads saved records and does not import the pipeline that made them;
- data does not import runs (runs are made of data).

Function-level imports count the same as module-level ones.
"""

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "galmerge"
LAYERS = [
    {"__init__", "__main__", "errors", "tomlfiles", "config", "plotting", "display", "version", "_version", "typing", "types", "utils", "io"},
    {"data", "runs"},
    {"mocks", "models", "adapt"},
    {"training", "catalog", "evaluation", "explain"},
    {"morphology"},  # CNN morphometry: a regression stage built on the classifier's training machinery
    {"pipeline", "report"},
    {"cli"},
]
LAYERS[0].discard("__main__")
LAYERS[-1].add("__main__")
STAGES = LAYERS[3]
FORBIDDEN = {("report", "pipeline"), ("data", "runs")} | {(a, b) for a in STAGES for b in STAGES if a != b}


def layer_of(name: str) -> int:
    for index, members in enumerate(LAYERS):
        if name in members:
            return index
    raise AssertionError(f"galmerge.{name} has no layer: add it to LAYERS here and to the project's layer checker")


def imports() -> dict[tuple[str, str], list[str]]:
    """(importing top-level module, imported top-level module) -> files, for every import of galmerge inside galmerge."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        top = relative.parts[0].removesuffix(".py")
        package = ["galmerge", *relative.with_suffix("").parts]
        if relative.name == "__init__.py":
            package = package[:-1] + ["__init__"]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level]
                    names = [".".join(base + ([node.module] if node.module else []))]
                else:
                    names = [node.module or ""]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "galmerge" and len(parts) > 1 and parts[1] != top:
                    edges.setdefault((top, parts[1]), []).append(str(relative))
    return edges


def violations(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    """Every upward or forbidden import, and every cycle, of an import graph."""
    found = []
    for (importer, imported), files in sorted(edges.items()):
        where = sorted(set(files))[:3]
        if layer_of(imported) > layer_of(importer):
            found.append(f"galmerge.{importer} imports galmerge.{imported}, a higher layer, in {where}")
        elif (importer, imported) in FORBIDDEN:
            found.append(f"galmerge.{importer} must not import galmerge.{imported} (same layer), in {where}")
    graph: dict[str, set[str]] = {}
    for importer, imported in edges:
        graph.setdefault(importer, set()).add(imported)

    def reachable(start):
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    found += [f"cycle: galmerge.{a} <-> galmerge.{b}" for a, b in sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in reachable(b)})]
    return found


def test_the_package_keeps_its_layers():
    edges = imports()
    assert ("training", "models") in edges and ("cli", "pipeline") in edges  # the walk sees real imports
    assert violations(edges) == []


def test_the_rules_catch_what_they_forbid():
    assert violations({("data", "training"): ["data/x.py"]}) == ["galmerge.data imports galmerge.training, a higher layer, in ['data/x.py']"]
    assert violations({("training", "evaluation"): ["training/train.py"]})[0].startswith("galmerge.training must not import galmerge.evaluation")
    assert violations({("report", "pipeline"): ["r.py"]}) and violations({("data", "runs"): ["d.py"]})
    assert "cycle: galmerge.mocks <-> galmerge.models" in violations({("mocks", "models"): ["a"], ("models", "mocks"): ["b"]})
    assert violations({("pipeline", "training"): ["p.py"], ("runs", "data"): ["r.py"]}) == []
