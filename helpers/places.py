"""Where the kit reads and writes, and how much a notebook runs: every setting it takes from
the environment, read when asked (never fixed at import), so that a test or a Kaggle
bootstrap that sets a variable is obeyed by the next call.

=========================== ===================================================== ===========================
variable                    what                                                  default
=========================== ===================================================== ===========================
``COURSEKIT_CACHE``         downloaded weights, FID statistics, data once installed ``~/.cache/diffusion-course-kit``
``COURSEKIT_KAGGLE_INPUT``  the attached Kaggle datasets                          ``/kaggle/input``
``COURSEKIT_OFFLINE``       ``1`` / ``true`` / ``yes``: never download weights      (unset: download)
``COURSEKIT_RESULTS``       a notebook's outputs                                  ``outputs/<assignment>``
``COURSEKIT_MODE``          ``full`` or ``smoke``                                 ``full`` on a CUDA GPU, else ``smoke``
``NBGRADER_EXECUTION``      set by nbgrader while it validates or grades          (unset)
=========================== ===================================================== ===========================
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

__all__ = [
    "MODES",
    "cache_dir",
    "KAGGLE_SEARCH_DEPTH",
    "data_root",
    "find_in_kaggle_input",
    "grading",
    "kaggle_input_dir",
    "mode",
    "notebook_setup",
    "offline",
    "results_dir",
]

MODES = ("full", "smoke")
# A dataset mounts at /kaggle/input/<slug>/, a saved notebook's output there too with the
# assignment's folder below, a model at /kaggle/input/<model>/<framework>/<variation>/<version>/.
KAGGLE_SEARCH_DEPTH = 4
_CHECKOUT = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    """``$COURSEKIT_CACHE``, default ``~/.cache/diffusion-course-kit`` (not created here)."""
    return Path(
        os.environ.get("COURSEKIT_CACHE") or Path.home() / ".cache" / "diffusion-course-kit"
    )


def kaggle_input_dir() -> Path:
    """``/kaggle/input``, or ``$COURSEKIT_KAGGLE_INPUT`` (a folder that imitates it, in tests)."""
    return Path(os.environ.get("COURSEKIT_KAGGLE_INPUT", "/kaggle/input"))


def find_in_kaggle_input(pattern: str, root: Path | None = None) -> list[Path]:
    """Files matching ``pattern`` (a glob of a file name) under ``root``, the shallowest first.

    ``root`` defaults to :func:`kaggle_input_dir`; the search goes ``KAGGLE_SEARCH_DEPTH``
    folders down, whatever the attached datasets' slugs and versions mount as, and sorts
    the hits of each depth by path. The first code cell of the course's Kaggle notebooks
    runs this function's source before the kit is installed, so it uses only ``glob``,
    ``Path`` and that constant.
    """
    root = kaggle_input_dir() if root is None else root
    return [
        Path(hit)
        for depth in range(KAGGLE_SEARCH_DEPTH + 1)
        for hit in sorted(glob.glob(str(root.joinpath(*["*"] * depth, pattern))))
    ]


def data_root() -> Path:
    """``data/`` of the repository in a checkout; ``$COURSEKIT_CACHE/data`` once installed.

    An installed wheel (Kaggle) has no repository: its ``data/`` would land inside
    site-packages, which may be read-only and is lost with the environment.
    """
    if (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT / "data"
    return cache_dir() / "data"


def offline() -> bool:
    """Whether downloads are off (``COURSEKIT_OFFLINE=1``, ``true`` or ``yes``)."""
    return os.environ.get("COURSEKIT_OFFLINE", "") in ("1", "true", "yes")


def results_dir(assignment: str) -> Path:
    """``$COURSEKIT_RESULTS``, default ``outputs/<assignment>`` below the working directory."""
    return Path(os.environ.get("COURSEKIT_RESULTS", f"outputs/{assignment}"))


def mode() -> str:
    """``$COURSEKIT_MODE`` when set, else ``full`` on a CUDA GPU and ``smoke`` without one."""
    chosen = os.environ.get("COURSEKIT_MODE")
    if not chosen:
        import torch

        return "full" if torch.cuda.is_available() else "smoke"
    if chosen not in MODES:
        raise ValueError(f"COURSEKIT_MODE must be 'full' or 'smoke', not {chosen!r}")
    return chosen


def grading() -> bool:
    """Whether nbgrader is validating or grading (it sets ``NBGRADER_EXECUTION``).

    Then a notebook runs only the TODOs and their tests, never training or generation.
    """
    return "NBGRADER_EXECUTION" in os.environ


def notebook_setup(assignment: str) -> tuple[str, bool, Path]:
    """The configuration cell of a notebook: ``MODE, GRADING, RESULTS``, printed on one line.

    Creates the results folder, so that every later cell may write into it.
    """
    results = results_dir(assignment)
    results.mkdir(parents=True, exist_ok=True)
    current_mode, is_grading = mode(), grading()
    print(f"mode: {current_mode}, grading: {is_grading}, results in {results.resolve()}")
    return current_mode, is_grading, results
