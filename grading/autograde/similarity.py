"""Similar code between students' submissions, ranked: a check for copying.

    python -m grading.autograde.similarity             # make similarity [SUBMITTED=dir] [ASSIGNMENT=part1]

Per assignment, each submission's code, rebuilt on the release as it is graded (the
release's locked cells, the student's solution cells and added cells), goes into one file, and
`copydetect <https://github.com/blingenf/copydetect>`_ compares every pair of files by
MOSS-style winnowing of token fingerprints. Every code cell of the release (the
``# YOUR CODE HERE`` stubs, the starter code) is copydetect's boilerplate: fingerprints
found there never count, so two students who wrote nothing are not "similar". Prints the
most similar pairs (what share of each one's code the other holds, and the tokens in
common) and writes copydetect's HTML report, the shared code highlighted side by side,
to ``course/similarity/<assignment>.html``. Similar code is a lead to read, not a verdict:
short TODOs leave little room to differ.
"""

from __future__ import annotations

import argparse
import logging
import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from grading import notebook_format as nbcells
from grading.course import ASSIGNMENTS, COURSE, SUBMITTED, released_notebook

NOISE_TOKENS = 10
"""copydetect's ``noise_t``: matches shorter than this many tokens are ignored. Its default
(25) suits whole programs; one TODO is often under 25 tokens, so a shorter k-gram."""
GUARANTEE_TOKENS = 15
"""copydetect's ``guarantee_t``: a match this long is always found (winnowing window)."""
TOP_PAIRS = 10


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    share_first: float
    """Share of ``first``'s code (its fingerprints past the boilerplate) found in ``second``'s."""
    share_second: float
    tokens: int
    """Tokens the two have in common."""

    @property
    def share(self) -> float:
        return max(self.share_first, self.share_second)


def code_of(notebook: dict) -> str:
    return "\n\n".join(nbcells.source(c) for c in notebook["cells"] if c.get("cell_type") == "code")


def graded_code(notebook: Path, release: Path, scratch: Path) -> str:
    """The code cells of ``notebook`` rebuilt on the release (:func:`grading.autograde.restore.restore`),
    in order: the release's locked cells around the student's own. The boilerplate then
    holds the untouched cells and every seam between them, so a TODO left as released
    matches nothing."""
    from grading.autograde.restore import restore

    restore(notebook, release, scratch)
    return code_of(nbcells.read_notebook(scratch))


def write_sources(submitted: Path, assignment: str, course: Path, work: Path) -> list[str]:
    """``work/students/<student>/<assignment>.py`` per submission and
    ``work/boilerplate/<assignment>.py``; notes on the submissions left out."""
    shutil.rmtree(work, ignore_errors=True)
    release = released_notebook(assignment, course)
    (work / "boilerplate").mkdir(parents=True)
    (work / "boilerplate" / f"{assignment}.py").write_text(code_of(nbcells.read_notebook(release)))
    notes = []
    scratch = work / "restored.ipynb"  # outside the compared folders
    for folder in sorted(submitted.glob(f"*/{assignment}")):
        notebook, why = nbcells.find_notebook(folder, assignment)
        try:
            code = graded_code(notebook, release, scratch) if notebook else None
        except nbcells.NotANotebook as error:
            code, why = None, [str(error)]
        if code is None:
            notes.append(f"{folder.parent.name}: left out ({'; '.join(why)})")
            continue
        target = work / "students" / folder.parent.name / f"{assignment}.py"
        target.parent.mkdir(parents=True)
        target.write_text(code)
    return notes


def compare(work: Path, report: Path) -> list[Pair]:
    """copydetect over ``work`` (from :func:`write_sources`): every pair with code in
    common, most similar first."""
    from copydetect import CopyDetector

    logging.getLogger().setLevel(logging.ERROR)  # copydetect logs a warning per empty file
    detector = CopyDetector(
        test_dirs=[str(work / "students")],
        boilerplate_dirs=[str(work / "boilerplate")],
        extensions=["py"],
        noise_t=NOISE_TOKENS,
        guarantee_t=GUARANTEE_TOKENS,
        display_t=0.0,
        autoopen=False,
        silent=True,
        out_file=str(report),
    )
    detector.run()
    files = [Path(f).parent.name for f in detector.test_files]
    pairs = []
    for i in range(len(files)):
        for j in range(i + 1, len(files)):
            first, second = detector.similarity_matrix[i, j]
            if first < 0 or math.isnan(first) or math.isnan(second):
                continue  # not compared: no fingerprint past the boilerplate
            tokens = int(detector.token_overlap_matrix[i, j])
            if tokens <= 0:
                continue  # nothing in common
            pair = [(files[i], float(first)), (files[j], float(second))]
            (a, share_a), (b, share_b) = sorted(pair)
            pairs.append(Pair(a, b, share_a, share_b, tokens))
    if len(files) > 1:
        detector.generate_html_report()
    return sorted(pairs, key=lambda p: (-p.share, -p.tokens, p.first, p.second))


def format_pairs(assignment: str, students: int, pairs: list[Pair], report: Path) -> str:
    lines = [
        f"similarity of {assignment}'s code (copydetect; the release's code excluded), "
        f"{students} submissions: "
        + (
            f"the {min(TOP_PAIRS, len(pairs))} most similar of the {len(pairs)} pairs with "
            "code in common"
            if pairs
            else "no two have code in common"
        ),
        "rank  share  students (share of each one's code found in the other's)  tokens",
    ]
    lines += [
        f"{k:>4}  {p.share:>4.0%}   {p.first} ({p.share_first:.0%}) ↔ {p.second} "
        f"({p.share_second:.0%})  {p.tokens}"
        for k, p in enumerate(pairs[:TOP_PAIRS], 1)
    ]
    lines.append(f"report: {report}" if students > 1 else "report: none (fewer than 2 submissions)")
    return "\n".join(lines)


def check(submitted: Path, assignment: str, course: Path = COURSE) -> str:
    """Compare the submissions of ``assignment``; the ranked list, with the report's path."""
    work = course / "similarity" / assignment
    notes = write_sources(submitted, assignment, course, work)
    report = course / "similarity" / f"{assignment}.html"
    pairs = compare(work, report)
    students = len(list((work / "students").glob("*")))
    return "\n".join([format_pairs(assignment, students, pairs, report), *notes])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.autograde.similarity", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--submitted", type=Path, default=SUBMITTED)
    parser.add_argument("--assignment", choices=sorted(ASSIGNMENTS), help="default: both")
    parser.add_argument("--course", type=Path, default=COURSE)
    args = parser.parse_args(argv)
    assignments = [args.assignment] if args.assignment else list(ASSIGNMENTS)
    missing = [a for a in assignments if not released_notebook(a, args.course).is_file()]
    if missing:
        print(
            f"error: no release of {', '.join(missing)} in {args.course}: run make release",
            file=sys.stderr,
        )
        return 1
    print("\n\n".join(check(args.submitted, a, args.course) for a in assignments))
    return 0


if __name__ == "__main__":
    sys.exit(main())
