"""`make formgrader`, as the READMEs print it, starts JupyterLab with formgrader on the
course, as root too (Jupyter refuses root without ``--allow-root``, which it adds)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.lab_server import lab_from

REPO = Path(__file__).resolve().parents[1]


def test_make_formgrader_serves_formgrader_on_the_course(tmp_path):
    # A copy of what the target reads, so that formgrader's gradebook is the copy's;
    # the repository's environment, and a stamp newer than the pins (no `make setup`).
    copy = tmp_path / "repo"
    shutil.copytree(
        REPO / "grading",
        copy / "grading",
        ignore=shutil.ignore_patterns("course", "__pycache__"),
    )
    for name in ("Makefile", "pyproject.toml", "uv.lock"):
        shutil.copy(REPO / name, copy / name)
    (copy / "stamp").touch()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    command = ["make", "formgrader", f"PY={REPO / '.venv/bin/python'}", f"STAMP={copy / 'stamp'}"]

    with lab_from(command, copy, env) as lab:
        if os.geteuid() == 0:
            assert "--allow-root" in lab.output
        page = lab.page("/formgrader")
        assert "Manage Assignments" in page, page[:2000]
        # The course directory of grading/nbgrader_config.py, found under the server's
        # root (formgrader cannot work otherwise); its API answers (nothing released here).
        assert 'var url_prefix = "course";' in page
        assert str(copy / "grading" / "course") in page
        assert json.loads(lab.page("/formgrader/api/assignments")) == []
        # The MathJax formgrader's pages load (grading/jupyter's mathjax.html.j2), offline.
        mathjax = lab.page("/static/jupyter_server_mathjax/MathJax.js")
        assert "MathJax" in mathjax and len(mathjax) > 10_000
