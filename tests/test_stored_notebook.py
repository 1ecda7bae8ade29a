"""The autograded notebook as it is stored: sanitised by an allow-list (grading/autograde/sanitize.py)
and with the grader's verdict under each test cell (grading/autograde/batch.py).

tests/test_browser.py opens the same hostile notebook in Chromium; here the pages are
parsed, which takes a second and needs no browser.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

from nbconvert import HTMLExporter
from nbformat import reads

from grading.autograde import judge
from grading.autograde.sanitize import OUTPUT_METADATA, sanitize
from grading.autograde.submission import with_verdicts
from grading.records.verdicts import verdict_text
from tests.hostile_outputs import hostile_notebook

RELEASE = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "cells": [
        {
            "cell_type": "code",
            "id": "todo",
            "execution_count": None,
            "metadata": {"nbgrader": {"grade": False, "grade_id": "todo_1_1_1", "locked": False,
                                      "schema_version": 3, "solution": True}},
            "outputs": [],
            "source": "def schedule_init(): ...",
        },
        {
            "cell_type": "code",
            "id": "test",
            "execution_count": None,
            "metadata": {"nbgrader": {"grade": True, "grade_id": "test_1_1_1", "locked": True,
                                      "points": 4, "schema_version": 3, "solution": False}},
            "outputs": [],
            "source": "assert schedule_init() is None",
        },
    ],
}  # fmt: skip


class Attributes(HTMLParser):
    """Every event-handler attribute and script URL of a page, and its scripts' text."""

    def __init__(self, page: str):
        super().__init__()
        self.found: list[str] = []
        self.script = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.script = tag == "script"
        for name, value in attrs:
            if name.startswith("on") or "javascript:" in (value or "").replace(" ", "").lower():
                self.found.append(f"<{tag} {name}={value}>")

    def handle_data(self, data):
        if self.script and "pwned" in data:
            self.found.append(f"<script>{data}")


def page(nb: dict) -> str:
    """The page nbconvert's classic template (formgrader's and the feedback's) makes of ``nb``."""
    return HTMLExporter(template_name="classic").from_notebook_node(reads(json.dumps(nb), 4))[0]


def test_the_hostile_notebook_runs_script_unsanitised():
    found = Attributes(page(hostile_notebook(RELEASE))).found
    assert any("onload=window.pwned_height" in f for f in found), found


def test_sanitised_nothing_runs_and_only_allowed_metadata_is_left():
    clean = sanitize(hostile_notebook(RELEASE), RELEASE, 64 << 10)
    assert Attributes(page(clean)).found == []
    assert clean["metadata"] == RELEASE["metadata"], "the kernel's widget state is gone"
    markdown = next(c for c in clean["cells"] if c["cell_type"] == "markdown")
    assert markdown["metadata"] == {}
    assert set(markdown["attachments"]) == {"ok.png"}
    assert set(markdown["attachments"]["ok.png"]) == {"image/png"}
    assert "attachment:evil.svg" not in markdown["source"]
    outputs = next(c for c in clean["cells"] if c["id"] == "todo")["outputs"]
    for output in outputs:
        for key, value in output.get("metadata", {}).items():
            values = value.items() if isinstance(value, dict) else [(key, value)]
            assert all(type(v) is OUTPUT_METADATA[k] for k, v in values), output
        assert not {"image/svg+xml", "application/javascript"} & set(output.get("data", {}))
    assert len(outputs) == 6 and outputs[0]["metadata"] == {}, "the image stays, its height not"


def test_the_test_cells_show_the_graders_verdict_not_the_kernels():
    executed = json.loads(json.dumps(RELEASE))
    executed["cells"][1]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "TODO 1-1-1: all tests passed"},
        {"output_type": "error", "ename": "AssertionError", "evalue": "", "traceback": []},
    ]
    said = {"test_1_1_1": verdict_text(4, judge.Verdict(False, "betas differ"), False)}
    stored = with_verdicts(executed, said)
    outputs = stored["cells"][1]["outputs"]
    assert outputs[0]["text"].startswith("Grader: Scored 0: this TODO's code")
    assert "betas differ" in outputs[0]["text"]
    assert "all tests passed" not in json.dumps(stored), "the kernel's claim is gone"
    assert outputs[1]["ename"] == "AssertionError", "the cell's own error stays"
    assert stored["cells"][0] == executed["cells"][0], "other cells are untouched"
