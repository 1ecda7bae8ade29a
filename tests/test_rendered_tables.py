"""Formgrader and the feedback pages render the rubric's markdown tables as tables.

Each page is rendered as nbgrader renders it: the configuration loaded by nbgrader's own
app from ``grading/`` (as formgrader and ``nbgrader generate_feedback`` load it), an
``HTMLExporter`` built from it with nbgrader's ``formgrade`` or ``feedback`` template,
and the CSS preprocessor the configuration names, on Part 1's notebook, whose report
cell holds the FID and AFD tier tables.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

RENDER = """
import json, sys

import nbformat
from nbconvert import HTMLExporter
from nbgrader.apps import NbGrader
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import GetGrades
from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension

pages = {}
# Formgrader: the extension loads nbgrader_config.py of the working directory and
# renders each submission with HTMLExporter(config=its config); these are the resources
# its SubmissionHandler passes.
formgrader = FormgradeExtension()
formgrader.initialize([])
exporter = HTMLExporter(config=formgrader.config)
submission = {
    "assignment_id": "part1", "notebook_id": "part1_anime_faces", "submission_id": "s1",
    "index": 0, "total": 1, "base_url": "", "student": "alice", "last_name": None,
    "first_name": None, "notebook_path": "autograded/alice/part1/part1_anime_faces.ipynb",
}
pages["formgrade"] = exporter.from_filename(sys.argv[1], resources=submission)[0]

# Feedback: GenerateFeedback's exporter, every preprocessor but GetGrades, whose
# gradebook lookups are replaced by what it would add (a score per graded cell, the total).
# As `nbgrader generate_feedback` loads it.
app = NbGrader()
app.load_config_file()
feedback = GenerateFeedback(coursedir=CourseDirectory(config=app.config), config=app.config)
# What GenerateFeedback.start() builds, without GetGrades.
exporter = feedback.exporter_class(parent=feedback, config=feedback.config)
for preprocessor in feedback.preprocessors:
    if preprocessor is not GetGrades:
        exporter.register_preprocessor(preprocessor)
pages["preprocessors"] = [type(p).__name__ for p in exporter._preprocessors if p.enabled]
nb = nbformat.read(sys.argv[1], as_version=4)
for cell in nb.cells:
    meta = cell.metadata.get("nbgrader", {})
    if meta.get("grade") or meta.get("solution"):
        meta.update(score=meta.get("points", 0), comment=None)
grades = {"score": 40.0, "max_score": 40.0, "late_penalty": 0}
resources = {"nbgrader": {"notebook": "part1_anime_faces", **grades}}
pages["feedback"] = exporter.from_notebook_node(nb, resources=resources)[0]
print(json.dumps(pages))
"""


@pytest.fixture(scope="module")
def pages() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", RENDER, str(REPO / "notebooks" / "part1_anime_faces.ipynb")],
        cwd=REPO / "grading",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_feedback_runs_the_table_css_and_no_stock_css_after_it(pages):
    css = [p for p in pages["preprocessors"] if "CSS" in p]
    assert css == ["RenderedTablesCSS"], pages["preprocessors"]


@pytest.mark.parametrize("page", ["formgrade", "feedback"])
def test_the_rubric_tables_are_tables_with_the_notebook_table_css(pages, page):
    html = pages[page]
    # The tier table is an HTML table inside a rendered markdown cell.
    table = re.search(r"<table>.*?FID ≤.*?</table>", html, re.S)
    assert table, "no FID tier table"
    assert re.search(r"<th[^>]*>FID ≤</th>\s*<th[^>]*>50</th>\s*<th[^>]*>60</th>", table[0])
    assert 'class="text_cell_render border-box-sizing rendered_html"' in html
    # ... and the page styles such tables: padding between the cells, a rule under the head.
    styles = "\n".join(re.findall(r"<style[^>]*>(.*?)</style>", html, re.S))
    cells = re.search(r"\.rendered_html td \{([^}]*)\}", styles)
    assert cells and "padding: 0.5em 0.5em" in cells[1], "no padding for table cells"
    assert re.search(r"\.rendered_html thead \{[^}]*border-bottom: 1px solid", styles)
    assert "border-collapse: collapse" in styles


@pytest.mark.parametrize("page", ["formgrade", "feedback"])
def test_mathjax_comes_from_the_jupyter_server_never_a_cdn(pages, page):
    """Issue 28: on an offline grading server formgrader showed raw $...$. The page loads
    the MathJax that jupyter-server-mathjax serves, with nbconvert's configuration."""
    html = pages[page]
    assert "cdn" not in html.lower()
    assert not re.search(r"<script[^>]+src=\"https?:", html), "no script from another host"
    assert (
        "/static/jupyter_server_mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe" in html
    )
    assert "MathJax.Hub.Config" in html and "inlineMath: [ ['$','$']" in html
    assert '<script src=""' not in html


def test_the_served_mathjax_is_installed():
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    assert (static / "MathJax.js").is_file()
    assert (static / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()
