"""nbgrader configuration of the course directory ``grading/course``.

nbgrader reads this file from its working directory: ``python -m grading.pipeline``
runs every nbgrader command in ``grading/``. Parallel autograding gives each
submission its own copy of the course directory and passes ``--CourseDirectory.root``,
which overrides the root set here.
"""

from pathlib import Path

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "diffusion"
c.CourseDirectory.root = str(Path(__file__).resolve().parent / "course")

# The heaviest graded cell is TODO 1-2-1's test (10 tiny DDIM runs and two figures):
# about 10 s on one CPU thread; the first cell imports torch, about 20 s on a busy
# 2-core machine. 120 s leaves room for a loaded grading machine and still stops an
# infinite loop within two minutes.
c.Execute.timeout = 120
# Start the next cell even after a kernel died or a cell timed out.
c.Execute.interrupt_on_timeout = True
# A deleted test cell is put back (with a note) and graded like any other.
c.OverwriteCells.add_missing_cells = True
