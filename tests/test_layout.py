"""grading/ laid out by the jobs of a term: who may import whom, and no circles.

Read from the source (no import runs): every ``import grading...`` and ``from grading...``,
at the top of a module or inside a function, is an edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRADING = REPO / "grading"

MAY_IMPORT = {
    "base": {"base"},
    "records": {"base", "records"},
    "authoring": {"base", "records", "authoring"},
    "distribute": {"base", "authoring", "distribute"},
    "lms": {"base", "records", "lms"},
    "autograde": {"base", "records", "authoring", "distribute", "autograde"},
    "top": {"base", "records", "authoring", "distribute", "lms", "autograde", "top"},
}
"""A job's folder may use the shared modules and the jobs below it, never one above it."""
BASE = {"course", "notebook_format", "nbgrader_commands", "__init__"}
TOP = {"demo", "nbgrader_config"}
"""What wires every job together: the demo's walk, nbgrader's plugins of each job."""
MOST_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in GRADING.rglob("*.py")}


def imports() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] == "grading":
                    for alias in node.names:
                        child = f"{node.module}.{alias.name}"
                        found.add(child if child in known else node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.split(".")[0] == "grading"}
        edges[name] = {m for m in found if m in known and m != name}
    return edges


def job_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in BASE:
        return "base"
    return "top" if parts[1] in TOP else parts[1]


def test_every_module_of_grading_belongs_to_a_job():
    assert {job_of(m) for m in modules()} <= set(MAY_IMPORT), sorted(
        m for m in modules() if job_of(m) not in MAY_IMPORT
    )


def test_no_job_imports_a_job_above_it():
    wrong = [
        f"{source} imports {target}"
        for source, targets in imports().items()
        for target in targets
        if job_of(target) not in MAY_IMPORT[job_of(source)]
    ]
    assert not wrong, wrong


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every circle a depth-first walk of ``edges`` meets, as the path around it."""
    state: dict[str, int] = {}
    found = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_no_modules_import_each_other_in_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert not circles({"a": {"b", "c"}, "b": {"c"}, "c": set()})
    assert not circles(imports()), circles(imports())


def test_no_module_of_grading_is_a_room_of_its_own():
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MOST_LINES
    }
    assert not long, f"split these by what they do: {long}"
