"""nbgrader as the kit runs it: its commands, their process environment, its configuration.

(Not ``grading/nbgrader.py``: nbgrader runs in ``grading/``, where such a file would be
imported in place of nbgrader itself.)

Every nbgrader command of the kit runs through :func:`nbgrader`, in ``grading/`` where
nbgrader finds ``nbgrader_config.py`` (the course directory, the kit's plugins);
:func:`nbgrader_config` reads the same files nbgrader reads, for the steps the kit runs
in its own process (merging a submission into the gradebook, late penalties).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from grading.course import COURSE, GRADING, REPO

if TYPE_CHECKING:
    from traitlets.config import Config


def nbgrader(*args: str, root: Path = COURSE, timeout: float | None = None, env=None):
    """Run one nbgrader command on the course directory ``root``; returns the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"],
        cwd=GRADING,  # where nbgrader_config.py is
        env=env or kernel_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def kernel_env() -> dict[str, str]:
    """The environment nbgrader and its kernels run in.

    The kernel must import this checkout's ``helpers`` and ``grading`` (the hidden tests
    import ``grading.authoring.reference``), whatever is installed in the environment. One thread
    per kernel: the workers run side by side, and several multi-threaded torch
    processes on few cores run 20-50x slower than single-threaded ones.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    # nbgrader runs the `alembic` script of this environment to create a gradebook.
    env["PATH"] = os.pathsep.join(filter(None, [str(Path(sys.executable).parent), env.get("PATH")]))
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    return env


def nbgrader_config(course: Path) -> Config:
    """The configuration ``nbgrader`` reads for ``course``: Jupyter's config folders (system,
    then user), then the ``nbgrader_config.py`` beside the course (``grading/``, where the
    kit runs nbgrader), then the course directory's own; a later one wins, as in nbgrader.

    Read once per process, as an nbgrader command reads it once: the file has side effects
    (it extends PATH) that must not pile up over hundreds of merges."""
    return _nbgrader_config(str(Path(course).resolve()))


@functools.cache
def _nbgrader_config(course: str) -> Config:
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

    config = Config()
    for folder in [*reversed(jupyter_config_path()), Path(course).parent, Path(course)]:
        try:
            config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config())
        except ConfigFileNotFound:
            continue
    return config


def database_url(course: Path) -> str:
    return f"sqlite:///{Path(course) / 'gradebook.db'}"
