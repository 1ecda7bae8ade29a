"""nbgrader configuration of the course directory ``grading/course``.

nbgrader reads this file from its working directory: run the stock commands in
``grading/`` (the repository root's ``nbgrader_config.py`` loads this one, so they work
from there too). ``python -m grading.autograde.batch`` runs every nbgrader command in
``grading/``; parallel autograding gives each submission its own copy of the course
directory and passes ``--CourseDirectory.root`` and ``--CourseDirectory.submitted_directory``,
which override the values set here.
"""

import importlib.util
import os
import sys
from pathlib import Path

from nbgrader.converters import Autograde
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

GRADING = Path(__file__).resolve().parent

# nbgrader runs the `alembic` script of its environment to create a gradebook, found on
# PATH: `.venv/bin/nbgrader` run without the venv on PATH would crash without this.
os.environ["PATH"] = os.pathsep.join(
    filter(None, [str(Path(sys.executable).parent), os.environ.get("PATH")])
)

# One thread per kernel, as `make autograde` runs them: torch's default of one thread
# per core made the heaviest test cell pass the cell timeout on a busy 2-core machine.
for threads in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(threads, "1")

# The kernels run this Python, and the hidden tests import `grading.authoring.reference`: without
# it every hidden test fails and nbgrader still exits 0 with a silently wrong grade.
if importlib.util.find_spec("grading") is None:
    raise SystemExit(
        f"nbgrader_config.py: {sys.executable} cannot import `grading`, which the hidden tests "
        f"import (grading.authoring.reference). Run `make setup` in {GRADING.parent} (it puts the "
        "repository on .venv's path), then `source .venv/bin/activate` and run nbgrader again."
    )

from grading.autograde.overwrite_cells import OverwriteReleasedCells  # noqa: E402
from grading.course import COURSE_ID  # noqa: E402
from grading.records.late_penalty import DeadlinesLatePenalty  # noqa: E402 (needs the check above)
from grading.records.rendered_tables import RenderedTablesCSS  # noqa: E402

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = COURSE_ID
c.CourseDirectory.root = str(GRADING / "course")
# `make collect` puts the submissions in grading/submitted/<student>/<assignment>/ (an
# absolute path: nbgrader joins it to the root, which keeps an absolute one as it is).
c.CourseDirectory.submitted_directory = str(GRADING / "submitted")

# Measured with 3 workers on a busy 2-core machine: the first cell (imports torch)
# 22-36 s, the heaviest test cell (TODO 1-2-1: 7 tiny DDIM runs and figures) 12-15 s,
# every other cell under 1 s. 120 s leaves room for a slower machine and still stops
# an infinite loop within two minutes.
c.Execute.timeout = 120
# A cell that times out is interrupted and the next cell runs. (A kernel that dies
# ends the run: nbgrader saves no grade for that notebook.)
c.Execute.interrupt_on_timeout = True
# A deleted test cell is put back (with a note) and graded like any other.
c.OverwriteCells.add_missing_cells = True
# Untouched test cells lack their hidden tests: no "checksum has changed!" for them.
c.Autograde.sanitize_preprocessors = [
    OverwriteReleasedCells if p.__name__ == "OverwriteCells" else p
    for p in Autograde.sanitize_preprocessors.default()
]
# nbgrader's feedback shows the autograded notebook, hidden tests included; strip them
# so that the feedback can go to students without giving the hidden tests away.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests]
# nbgrader's formgrader and feedback templates drop the notebook stylesheet, so markdown
# tables (the rubric's tiers) ran together: every HTML page (formgrader's exporter, the
# feedback's) inlines its table rules instead (grading/records/rendered_tables.py). The stock
# CSS preprocessor that the templates add after it would overwrite them: it is off.
c.HTMLExporter.preprocessors = [RenderedTablesCSS]
c.CSSHTMLHeaderPreprocessor.enabled = False
# MathJax from the Jupyter server (jupyter-server-mathjax), never a CDN: an offline grading
# server showed raw $...$. nbconvert finds templates in the Jupyter data folders, the
# JUPYTER_PATH ones first: grading/jupyter holds the kit's mathjax.html.j2 (for the
# classic template, which formgrader's and the feedback's extend). Formgrader sets its
# own template folders over any configuration, so the data path is the one way in.
KIT_DATA = str(GRADING / "jupyter")
if KIT_DATA not in os.environ.get("JUPYTER_PATH", "").split(os.pathsep):
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [KIT_DATA, os.environ.get("JUPYTER_PATH")])
    )
# Late work: grading/deadlines.toml sets the due dates, the extensions and the late policy
# ("none", "zero", "10% per started day, at most 5 days"), here and in `make autograde`
# alike, through this plugin. Your own subclass of LateSubmissionPlugin (its
# late_submission_penalty(student_id, score, total_seconds_late)) can replace it.
c.AssignLatePenalties.plugin_class = DeadlinesLatePenalty
