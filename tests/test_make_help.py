"""``make help``: every target of the Makefile, one line each, from the Makefile itself."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_make_help_lists_every_target_once_with_its_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        ["make", "-s", "help"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    listed = [re.match(r"^make (\S+) +(\S.*)$", line) for line in done.stdout.splitlines()]
    assert all(listed), done.stdout
    phony = re.search(r"^\.PHONY: (.*)$", (REPO / "Makefile").read_text(), re.M)[1].split()
    assert sorted(m[1] for m in listed) == sorted(phony), "each .PHONY target, once"
