"""Collection: which submitted notebook belongs to which assignment, read from its content.

A notebook belongs to the assignment whose nbgrader cells (``grade_id`` metadata) it
carries, whatever its file name: Kaggle names its download after the kernel, LMSs
prefix the student's name. :func:`find_notebook` picks a submission's notebook inside
its folder for the autograder; :func:`collect` takes an LMS-style download (one folder
or zip per student, any file names) into nbgrader's layout::

    python -m grading.collect DOWNLOAD      # make collect ZIP=DOWNLOAD
    # -> grading/submitted/<student>/<assignment>/<notebook>.ipynb (+ the files beside it)

Nothing a student hands in stops a run: every problem is one line of the summary (and,
at grading time, of that student's feedback).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

from grading.course import ASSIGNMENTS, SUBMITTED, source_notebook

IGNORED = {".ipynb_checkpoints", "__MACOSX"}


def grade_ids(notebook: Path) -> set[str] | None:
    """The nbgrader cell ids of ``notebook``; None when it is not a readable notebook."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        return {
            c["metadata"]["nbgrader"]["grade_id"]
            for c in cells
            if isinstance(c.get("metadata", {}).get("nbgrader"), dict)
            and c["metadata"]["nbgrader"].get("grade_id")
        }
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        return None


def assignment_ids() -> dict[str, set[str]]:
    """The nbgrader cell ids of each assignment's source notebook."""
    return {a: grade_ids(source_notebook(a)) or set() for a in ASSIGNMENTS}


def assignment_of(
    notebook: Path, known: dict[str, set[str]] | None = None
) -> tuple[str | None, str]:
    """``(assignment, "")``, or ``(None, why it belongs to none)``."""
    known = known or assignment_ids()
    ids = grade_ids(notebook)
    if ids is None:
        return None, f"{notebook.name}: the file is not a readable notebook (not nbformat JSON)"
    if not ids:
        return None, (
            f"{notebook.name} has no nbgrader metadata: it is not a notebook of this course "
            "(submit the notebook you were given, saved from Jupyter)"
        )
    overlap = {a: len(ids & cells) for a, cells in known.items()}
    best = max(overlap, key=overlap.get)
    if not overlap[best]:
        return None, (
            f"{notebook.name} holds nbgrader cells of no assignment of this course "
            f"({', '.join(known)})"
        )
    return best, ""


def notebooks_in(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*.ipynb")
        if p.is_file() and not IGNORED & set(p.relative_to(folder).parts)
    )


def find_notebook(folder: Path, assignment: str) -> tuple[Path | None, list[str]]:
    """The one notebook of ``assignment`` in a submission folder, or None and the reasons."""
    known = assignment_ids()
    found = notebooks_in(folder) if folder.is_dir() else []
    if not found:
        return None, [f"no notebook (.ipynb) in the {assignment} submission: nothing to grade"]
    matched, problems = [], []
    for notebook in found:
        owner, why = assignment_of(notebook, known)
        if owner == assignment:
            matched.append(notebook)
        else:
            problems.append(why or f"{notebook.name} is a notebook of {owner}, not of {assignment}")
    if len(matched) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in matched)
        return None, [
            f"{len(matched)} notebooks of {assignment} ({names}): submit one; none was graded"
        ]
    if not matched:
        return None, [*problems, f"no notebook of {assignment}: nothing was graded"]
    return matched[0], []


def student_id(name: str) -> str:
    """A folder name as an nbgrader student id: ASCII letters, digits, ``_ . -``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_name.strip()).strip("_.-")


def _unpack(entry: Path, scratch: Path) -> tuple[Path | None, str]:
    """A student's entry as a folder: itself, or its zip extracted into ``scratch``."""
    if entry.is_dir():
        return entry, ""
    if entry.suffix.lower() != ".zip":
        return None, f"{entry.name} is a lone file, not a student's folder or zip: skipped"
    try:
        with zipfile.ZipFile(entry) as archive:
            target = scratch / entry.stem
            for member in archive.infolist():
                member.filename = _utf8_name(member)
                archive.extract(member, target)
        return target, ""
    except (zipfile.BadZipFile, OSError) as error:
        return None, f"{entry.name} is not a readable zip file ({error}): nothing collected"


def _utf8_name(member: zipfile.ZipInfo) -> str:
    """The member's name: zip tools that skip the UTF-8 flag still write UTF-8 names."""
    if member.flag_bits & 0x800:
        return member.filename
    try:
        return member.filename.encode("cp437").decode("utf-8")
    except UnicodeError:
        return member.filename


def _students_folder(root: Path) -> Path:
    """Skip the wrapping folders an LMS puts around the students' entries."""
    while True:
        entries = [p for p in root.iterdir() if p.name not in IGNORED]
        if len(entries) == 1 and entries[0].is_dir() and not notebooks_in_top(entries[0]):
            inner = [p for p in entries[0].iterdir() if p.name not in IGNORED]
            if inner and all(p.is_dir() or p.suffix.lower() == ".zip" for p in inner):
                root = entries[0]
                continue
        return root


def notebooks_in_top(folder: Path) -> bool:
    return any(p.suffix == ".ipynb" for p in folder.iterdir())


def collect(download: Path, out: Path = SUBMITTED) -> list[str]:
    """Take an LMS download (a folder or a zip of per-student folders or zips) into ``out``.

    Each student's notebooks go to ``out/<student>/<assignment>/<notebook>.ipynb`` by
    their content, with the other files of their folder. Returns the summary lines.
    """
    lines: list[str] = []
    known = assignment_ids()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        root, why = _unpack(download, scratch / "download")
        if root is None:
            return [f"error: {why}"]
        root = _students_folder(root)
        taken: dict[str, str] = {}
        for entry in sorted(p for p in root.iterdir() if p.name not in IGNORED):
            raw = entry.name.removesuffix(entry.suffix) if entry.is_file() else entry.name
            student = student_id(raw)
            if not student:
                lines.append(
                    f"{raw!r}: no usable student id (ASCII letters, digits, _ . -): skipped"
                )
                continue
            if student in taken:
                lines.append(
                    f"{raw!r} and {taken[student]!r} are both student {student}: {raw!r} skipped"
                )
                continue
            folder, why = _unpack(entry, scratch / "students")
            if folder is None:
                lines.append(f"{student}: {why}")
                continue
            taken[student] = raw
            if student != raw:
                lines.append(
                    f"{raw!r} collected as student {student} "
                    "(nbgrader ids take ASCII letters, digits, _ . -)"
                )
            lines += _collect_student(folder, out / student, student, known)
    return lines


def _collect_student(
    folder: Path, target: Path, student: str, known: dict[str, set[str]]
) -> list[str]:
    found = notebooks_in(folder)
    if not found:
        return [f"{student}: the folder holds no notebook (.ipynb): nothing submitted"]
    lines, by_assignment = [], {}
    for notebook in found:
        owner, why = assignment_of(notebook, known)
        if owner is None:
            lines.append(f"{student}: {why}: not collected")
        else:
            by_assignment.setdefault(owner, []).append(notebook)
    for assignment, notebooks in sorted(by_assignment.items()):
        dest = target / assignment
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        if len(notebooks) > 1:
            # Both are kept for the instructor; the autograder grades neither and says why.
            names = ", ".join(str(p.relative_to(folder)) for p in notebooks)
            lines.append(
                f"{student}: {len(notebooks)} notebooks of {assignment} ({names}): submit one; none will be graded"
            )
            for notebook in notebooks:
                shutil.copy2(notebook, dest / notebook.name)
            continue
        notebook = notebooks[0]
        shutil.copy2(notebook, dest / f"{ASSIGNMENTS[assignment]}.ipynb")
        # The files beside the notebook (scores.json, the submission zip) belong to it,
        # unless a notebook of the other assignment sits there too.
        if all(
            n.parent != notebook.parent
            for a, ns in by_assignment.items()
            if a != assignment
            for n in ns
        ):
            for extra in notebook.parent.iterdir():
                if extra.is_file() and extra.suffix != ".ipynb":
                    shutil.copy2(extra, dest / extra.name)
        renamed = (
            "" if notebook.name == f"{ASSIGNMENTS[assignment]}.ipynb" else f" (was {notebook.name})"
        )
        lines.append(f"{student}: {assignment} collected{renamed}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.collect", description=__doc__.splitlines()[0]
    )
    parser.add_argument("download", type=Path, help="the LMS download: a zip or a folder")
    parser.add_argument("--out", type=Path, default=SUBMITTED)
    args = parser.parse_args(argv)
    if not args.download.exists():
        print(f"error: {args.download} does not exist", file=sys.stderr)
        return 1
    for line in collect(args.download, args.out):
        print(line)
    print(f"submissions: {args.out}/<student>/<assignment>/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
