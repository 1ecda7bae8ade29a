"""The class report: what the class got right and wrong, TODO by TODO, to see what to re-teach.

    python -m grading.records.class_report      # make class-report; make autograde prints it too

From the course gradebook (:mod:`grading.records.cell_grades`), per assignment: how many students
scored full, partial and no points on each TODO, and the most common reasons for lost
points (the judge's comment, numbers that differ from student to student written ``…``,
so one mistake is one line however its numbers came out) with how many students made
each. Written as a terminal summary, ``course/class_report.png`` and
``course/class_report.html`` (the picture, then every reason with its students).
"""

from __future__ import annotations

import argparse
import base64
import html
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from grading.course import ASSIGNMENTS, COURSE
from grading.notebook_format import todo_of
from grading.records.cell_grades import CellGrades, read_cell_grades
from grading.records.verdicts import JUDGED

PICTURE, PAGE = "class_report.png", "class_report.html"
TOP_REASONS = 8
"""Reasons per assignment in the picture and the summary (the page lists all)."""

_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+(?=e))(?:e[-+]?\d+)?")


def mistake(comment: str) -> str:
    """A lost TODO's comment as one mistake: the judge's reason, its decimals as ``…``."""
    reason = comment.removeprefix(f"Scored 0: {JUDGED} ").removeprefix("gives: ").removesuffix(".")
    return _NUMBER.sub("…", reason)


@dataclass
class TodoSummary:
    cell: str
    points: float
    full: int
    partial: int
    zero: int
    mean: float

    @property
    def todo(self) -> str:
        return todo_of(self.cell)


@dataclass
class AssignmentSummary:
    assignment: str
    students: int
    todos: list[TodoSummary]
    mistakes: list[tuple[str, str, list[str]]]
    """(TODO, mistake, students who made it), most students first."""


def summarize(grades: list[CellGrades], assignment: str) -> AssignmentSummary:
    mine = [g for g in grades if g.assignment == assignment]
    cells = sorted({c for g in mine for c in g.max_scores})
    todos = []
    for cell in cells:
        points = max(g.max_scores.get(cell, 0.0) for g in mine)
        got = [g.scores.get(cell, 0.0) for g in mine]
        todos.append(
            TodoSummary(
                cell,
                points,
                full=sum(s >= points for s in got),
                partial=sum(0 < s < points for s in got),
                zero=sum(s <= 0 for s in got),
                mean=sum(got) / len(got),
            )
        )
    who: dict[tuple[str, str], list[str]] = defaultdict(list)
    for g in mine:
        for cell, comment in g.reasons.items():
            who[todo_of(cell), mistake(comment)].append(g.student)
    ranked = sorted(who.items(), key=lambda item: (-len(item[1]), item[0]))
    return AssignmentSummary(
        assignment, len(mine), todos, [(todo, what, names) for (todo, what), names in ranked]
    )


def format_summary(summaries: list[AssignmentSummary]) -> str:
    blocks = []
    for s in summaries:
        lines = [
            f"class report: {s.assignment} ({ASSIGNMENTS[s.assignment]}), {s.students} students",
            "TODO    points  full  partial  zero  mean",
        ]
        lines += [
            f"{t.todo:<7} {t.points:<7g} {t.full:<5} {t.partial:<8} {t.zero:<5} {t.mean:.1f}"
            for t in s.todos
        ]
        if s.mistakes:
            lines.append("most common reasons for lost points:")
            lines += [
                f"  {len(names):>3} × {todo}: {_shorten(what, 110)}"
                for todo, what, names in s.mistakes[:TOP_REASONS]
            ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _shorten(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def draw(summaries: list[AssignmentSummary], path: Path) -> Path:
    """One row per assignment: the students per TODO by score, and the top mistakes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        len(summaries), 2, figsize=(15, 4.2 * len(summaries)), squeeze=False,
        gridspec_kw={"width_ratios": [1, 1.6]},
    )  # fmt: skip
    for (left, right), s in zip(axes, summaries, strict=True):
        names = [f"TODO {t.todo} ({t.points:g} pts)" for t in s.todos][::-1]
        start = [0] * len(names)
        for what, colour in (("full", "#2e7d32"), ("partial", "#f9a825"), ("zero", "#c62828")):
            counts = [getattr(t, what) for t in s.todos][::-1]
            left.barh(names, counts, left=start, color=colour, label=what)
            start = [a + b for a, b in zip(start, counts, strict=True)]
        left.set_xlabel("students")
        left.set_title(f"{s.assignment}: students per score, {s.students} submissions")
        left.legend(loc="lower right", fontsize=8)
        top = s.mistakes[:TOP_REASONS][::-1]
        labels = [_shorten(f"{todo}: {what}", 70) for todo, what, _ in top]
        right.barh(
            labels or ["(no points lost)"], [len(n) for *_, n in top] or [0], color="#c62828"
        )
        right.set_xlabel("students")
        right.set_title(f"{s.assignment}: most common reasons for lost points")
        right.tick_params(axis="y", labelsize=8)
        for axis in (left, right):
            axis.xaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write_page(summaries: list[AssignmentSummary], picture: Path, path: Path) -> Path:
    """The picture, inlined, then every TODO's numbers and every mistake with its students."""
    image = base64.b64encode(picture.read_bytes()).decode()
    parts = [
        "<html><head><meta charset='utf-8'><title>Class report</title></head><body>",
        "<h1>Class report</h1>",
        f"<img src='data:image/png;base64,{image}' style='max-width:100%'>",
    ]
    for s in summaries:
        parts.append(f"<h2>{s.assignment} ({s.students} students)</h2><table border='1'>")
        parts.append(
            "<tr><th>TODO</th><th>points</th><th>full</th><th>partial</th><th>zero</th><th>mean</th></tr>"
        )
        parts += [
            f"<tr><td>{t.todo}</td><td>{t.points:g}</td><td>{t.full}</td><td>{t.partial}</td>"
            f"<td>{t.zero}</td><td>{t.mean:.2f}</td></tr>"
            for t in s.todos
        ]
        parts.append(
            "</table><table border='1'><tr><th>students</th><th>TODO</th><th>reason</th><th>who</th></tr>"
        )
        parts += [
            f"<tr><td>{len(names)}</td><td>{todo}</td><td>{html.escape(what)}</td>"
            f"<td>{html.escape(', '.join(names))}</td></tr>"
            for todo, what, names in s.mistakes
        ]
        parts.append("</table>")
    path.write_text("\n".join([*parts, "</body></html>"]), encoding="utf-8")
    return path


def write_report(course: Path = COURSE) -> str:
    """Write the picture and the page into ``course``; the terminal summary, with their paths."""
    grades = read_cell_grades(course)
    summaries = [
        summarize(grades, a) for a in ASSIGNMENTS if any(g.assignment == a for g in grades)
    ]
    if not summaries:
        return (
            f"class report: no graded submission in {course / 'gradebook.db'} yet (make autograde)"
        )
    picture = draw(summaries, course / PICTURE)
    page = write_page(summaries, picture, course / PAGE)
    return f"{format_summary(summaries)}\n\npicture: {picture}\npage: {page}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.records.class_report", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--course", type=Path, default=COURSE)
    args = parser.parse_args(argv)
    if not (args.course / "gradebook.db").is_file():
        print(
            f"error: no gradebook in {args.course}: run make release and make autograde",
            file=sys.stderr,
        )
        return 1
    print(write_report(args.course))
    return 0


if __name__ == "__main__":
    sys.exit(main())
