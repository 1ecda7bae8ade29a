"""Build what a course uploads to Kaggle from the nbgrader student release: ``make kaggle``.

    python -m grading.distribute.kaggle --out outputs/kaggle [--username NAME] [--faces DIR]
                             [--no-deps-download] [--no-weights]

Every released notebook, ``grading/course/release/<assignment>/<notebook>.ipynb`` (made by
``python -m grading.distribute.release``), becomes a Kaggle kernel; the course's ``helpers``
package and the dependencies Kaggle's image lacks become one dataset of wheels, the files
the scores need offline (FID weights, anime-face cascade) a second one, and ``--faces DIR``
packs a folder of face images into the faces dataset. Layout of ``--out``::

    <assignment>/<notebook>.ipynb      the released notebook, a bootstrap cell prepended
    <assignment>/kernel-metadata.json  for `kaggle kernels push -p <out>/<assignment>`
    wheels/dataset-metadata.json       for `kaggle datasets create -p <out>/wheels`
    wheels/diffusion_course_kit-<version>-py3-none-any.whl   helpers/ only, never grading/
    wheels/<dependency>-<version>-*.whl                      what Kaggle's image lacks
    weights/dataset-metadata.json      for `kaggle datasets create -p <out>/weights`
    weights/<file>                     hash-checked copies (helpers.weights.fetch)
    faces/dataset-metadata.json        with --faces: `kaggle datasets create -p <out>/faces --dir-mode zip`
    faces/faces/faces/<image>          mounts as /kaggle/input/<faces slug>/faces/faces

Modules: :mod:`~grading.distribute.kaggle.image` (what Kaggle's image has, from public sources),
:mod:`~grading.distribute.kaggle.wheels`, :mod:`~grading.distribute.kaggle.datasets` (weights and faces),
:mod:`~grading.distribute.kaggle.kernels` (notebooks and their metadata),
:mod:`~grading.distribute.kaggle.bootstrap` (the first cell, real code emitted from its source),
:mod:`~grading.distribute.kaggle.bundle` (all of it), ``__main__`` (the command).
"""

from __future__ import annotations

from pathlib import Path

from grading.course import ASSIGNMENTS, COURSE, REPO, source_notebook

RELEASE = COURSE / "release"
DIST_NAME = "diffusion-course-kit"
DEFAULT_USERNAME = "your-kaggle-username"
# data/README.md: the course's faces dataset mounts at /kaggle/input/diffusion/faces/faces.
DEFAULT_FACES_SLUG = "diffusion"
DEFAULT_WHEELS_SLUG = "diffusion-course-kit-wheels"
DEFAULT_WEIGHTS_SLUG = "diffusion-course-weights"


class BundleError(RuntimeError):
    """The Kaggle bundle cannot be built; the message names the cause and the fix."""


def released_notebooks(release: Path = RELEASE) -> list[Path]:
    """Every ``<assignment>/<notebook>.ipynb`` of the student release, sorted.

    Raises :class:`BundleError` when there is none, or when the instructor's notebook of
    one is newer than its release (the bundle would ship the old text).
    """
    notebooks = sorted(release.glob("*/*.ipynb"))
    if not notebooks:
        raise BundleError(
            f"no released notebooks in {release}/<assignment>/: run `make release` "
            "(python -m grading.distribute.release) first, or `make kaggle`, which does"
        )
    for released in notebooks:
        assignment = released.parent.name
        if assignment in ASSIGNMENTS and source_notebook(assignment).is_file():
            source = source_notebook(assignment)
            if source.stat().st_mtime > released.stat().st_mtime:
                raise BundleError(
                    f"{released} is older than {source.relative_to(REPO)}: run `make release` "
                    "first, or `make kaggle`, which does"
                )
    return notebooks
