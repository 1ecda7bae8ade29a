"""Build what a course uploads to Kaggle from the nbgrader student release: ``make kaggle``.

    python -m grading.kaggle --out outputs/kaggle [--username NAME] [--faces DIR]
                             [--no-deps-download] [--no-weights]

Every released notebook, ``grading/course/release/<assignment>/<notebook>.ipynb`` (made by
``python -m grading.pipeline release``), becomes a Kaggle kernel; the course's ``helpers``
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

Modules: :mod:`~grading.kaggle.image` (what Kaggle's image has, from public sources),
:mod:`~grading.kaggle.wheels`, :mod:`~grading.kaggle.datasets` (weights and faces),
:mod:`~grading.kaggle.kernels` (notebooks and their metadata),
:mod:`~grading.kaggle.bootstrap` (the first cell, real code emitted from its source),
:mod:`~grading.kaggle.bundle` (all of it), ``__main__`` (the command).
"""

from __future__ import annotations

from pathlib import Path

GRADING = Path(__file__).resolve().parents[1]
REPO = GRADING.parent
RELEASE = GRADING / "course" / "release"
DIST_NAME = "diffusion-course-kit"
DEFAULT_USERNAME = "your-kaggle-username"


class BundleError(RuntimeError):
    """The Kaggle bundle cannot be built; the message names the cause and the fix."""
