"""The notebooks' solution regions, written from ``grading/authoring/reference`` (``make notebooks``).

Every reference answer has one source: the linted, tested Python of ``grading/authoring/reference``.
The text between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in a source notebook is a
copy of it, made here:

* a region inside ``def f`` (or ``class C: def f``) is the body of ``grading.authoring.reference.f``
  (``C.f``), re-indented; the notebook's ``def`` line, which students keep, must have the
  reference's parameters, defaults and decorators, or this stops and names the difference;
* a region outside any function is the body of the reference module in
  :data:`MODULE_SOLUTIONS` (a constant such as ``PROMPTS``).

``python -m grading.authoring.solutions`` rewrites the notebooks; ``--check`` changes nothing and
exits 1 naming each stale cell (``tests/test_solutions.py`` runs it).
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import nbformat

import grading.authoring.reference
from grading.authoring.reference import prompts
from grading.course import ASSIGNMENTS, REPO, source_notebook
from grading.notebook_format import grade_id as _grade_id

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
# Solution regions outside any function: the grade id of their cell -> the reference module.
MODULE_SOLUTIONS: dict[str, ModuleType] = {"todo_2_1": prompts}
FIX = "python -m grading.authoring.solutions (make notebooks)"


class SolutionMismatch(ValueError):
    """A notebook's solution cell cannot take the reference (its signature differs)."""


def body_lines(source: str) -> list[str]:
    """The statements of a function (or module) without its ``def`` line(s) and docstring."""
    source = textwrap.dedent(source)
    lines = source.splitlines()
    tree = ast.parse(source)
    node = tree.body[0] if isinstance(tree.body[0], ast.FunctionDef) else tree
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    body = [s for s in body if not (isinstance(s, ast.ImportFrom) and s.module == "__future__")]
    start = body[0].lineno - 1
    # Comments between the signature (or the docstring) and the first statement belong to it.
    while start > 0 and lines[start - 1].strip().startswith("#"):
        start -= 1
    return textwrap.dedent("\n".join(lines[start : body[-1].end_lineno])).splitlines()


def _signature(node: ast.FunctionDef) -> tuple:
    args = node.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    return (
        [ast.unparse(d) for d in node.decorator_list],
        [
            (a.arg, None if d is None else ast.unparse(d))
            for a, d in zip(positional, defaults, strict=True)
        ],
        [a.arg for a in args.kwonlyargs],
        args.vararg and args.vararg.arg,
        args.kwarg and args.kwarg.arg,
    )


def _enclosing_functions(tree: ast.Module) -> dict[int, tuple[str, ast.FunctionDef]]:
    """Line number -> (qualified name, node) of the innermost function holding that line."""
    found: dict[int, tuple[str, ast.FunctionDef]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef):
                for line in range(child.lineno, child.end_lineno + 1):
                    found[line] = (prefix + child.name, child)

    visit(tree, "")
    return found


def _reference_function(qualname: str):
    obj = grading.authoring.reference
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise SolutionMismatch(
                f"grading.authoring.reference has no {qualname}: export it from grading/authoring/reference/__init__.py"
            )
    return inspect.unwrap(obj)


def solved(cell_source: str, grade_id: str) -> str:
    """``cell_source`` with each solution region replaced by the reference's code."""
    lines = cell_source.splitlines()
    # The markers are comments, so the cell parses as it is.
    functions = _enclosing_functions(ast.parse(cell_source))
    out: list[str] = []
    i = 0
    while i < len(lines):
        out.append(lines[i])
        if lines[i].strip() != BEGIN:
            i += 1
            continue
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == END), None)
        if end is None:
            raise SolutionMismatch(f"{grade_id}: {BEGIN} without {END}")
        if i + 1 in functions:
            qualname, node = functions[i + 1]
            reference = _reference_function(qualname)
            reference_node = ast.parse(textwrap.dedent(inspect.getsource(reference))).body[0]
            if _signature(node) != _signature(reference_node):
                raise SolutionMismatch(
                    f"{grade_id}: the notebook's {qualname} has decorators and parameters "
                    f"{_signature(node)}, the reference {_signature(reference_node)}: make them equal"
                )
            code = body_lines(inspect.getsource(reference))
        elif grade_id in MODULE_SOLUTIONS:
            code = body_lines(inspect.getsource(MODULE_SOLUTIONS[grade_id]))
        else:
            raise SolutionMismatch(
                f"{grade_id}: a solution outside a function needs its reference module in "
                "grading.authoring.solutions.MODULE_SOLUTIONS"
            )
        out += [indent + line if line else "" for line in code]
        out.append(lines[end])
        i = end + 1
    return "\n".join(out)


def sync(path: Path, write: bool) -> list[str]:
    """Bring the notebook's solution regions up to date; return the grade ids that were stale."""
    nb = nbformat.read(path, as_version=4)
    stale = []
    for cell in nb.cells:
        if cell.cell_type != "code" or not re.search(rf"^\s*{BEGIN}", cell.source, re.M):
            continue
        new = solved(cell.source, _grade_id(cell) or "(no grade id)")
        if new != cell.source:
            stale.append(_grade_id(cell))
            cell.source = new
    if stale and write:
        nbformat.write(nb, path)
    return stale


LOOP_CASES = ((10, 0.5, 1), (7, 1.0, 2))
"""(S, eta, generator seed) of the visible test's trajectories: S = 7 does not divide T = 100.
The judge's cases (grading.autograde.checks.cases_1_2_1) use other model seeds."""


def loop_cases() -> list[dict]:
    """The reference loop's trajectories that :data:`helpers.tiny_models.LOOP_CASES` holds."""
    import matplotlib.pyplot as plt
    import torch

    from helpers.tiny_models import stand_in_steps, tiny_diffusion

    out = []
    for steps, eta, seed in LOOP_CASES:
        diffusion = tiny_diffusion(stand_in_steps(), sampling_timesteps=steps)
        gen = torch.Generator().manual_seed(seed)
        _, trajectory = grading.authoring.reference.sample_with_progress(
            diffusion, 2, eta=eta, generator=gen, path=None
        )
        plt.close("all")
        out.append(
            {
                "sampling_timesteps": steps,
                "eta": eta,
                "seed": seed,
                "trajectory": trajectory.clone(),
            }
        )
    return out


def same_loop_cases(old: list[dict], new: list[dict]) -> bool:
    """The same cases and trajectories within the visible test's tolerance (rtol 1e-4, atol
    1e-5): torch sums differently with another thread count (up to 6e-6 measured)."""
    import torch

    key = ("sampling_timesteps", "eta", "seed")
    return [[c[k] for k in key] for c in old] == [[c[k] for k in key] for c in new] and all(
        torch.allclose(a["trajectory"], b["trajectory"], rtol=1e-4, atol=1e-5)
        for a, b in zip(old, new, strict=True)
    )


def write_loop_cases() -> Path:
    """Write :data:`helpers.tiny_models.LOOP_CASES` unless it already holds these cases."""
    import torch

    from helpers.tiny_models import LOOP_CASES as path
    from helpers.tiny_models import loop_cases as shipped

    fresh = loop_cases()
    if not (path.is_file() and same_loop_cases(shipped(), fresh)):
        path.parent.mkdir(exist_ok=True)
        torch.save(fresh, path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.authoring.solutions",
        description="Write the notebooks' solution regions from grading/authoring/reference.",
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a notebook is stale"
    )
    args = parser.parse_args(argv)
    status = 0
    for assignment in ASSIGNMENTS:
        path = source_notebook(assignment)
        stale = sync(path, write=not args.check)
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        if stale and args.check:
            print(f"{shown}: stale solution cells {', '.join(stale)}; run {FIX}")
            status = 1
        else:
            print(f"{shown}: " + (f"wrote {', '.join(stale)}" if stale else "up to date"))
    if not args.check:
        written = write_loop_cases()
        shown = written.relative_to(REPO) if written.is_relative_to(REPO) else written
        print(f"{shown}: the visible test's trajectories of TODO 1-2-1")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
