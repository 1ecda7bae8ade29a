"""nbgrader configuration of the course directory ``grading/course``.

nbgrader reads this file from its working directory: ``python -m grading.pipeline``
runs every nbgrader command in ``grading/``. Parallel autograding gives each
submission its own copy of the course directory and passes ``--CourseDirectory.root``,
which overrides the root set here.
"""

from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "diffusion"
c.CourseDirectory.root = str(Path(__file__).resolve().parent / "course")

# Measured with 3 workers on a busy 2-core machine: the first cell (imports torch)
# 22-36 s, the heaviest test cell (TODO 1-2-1: 7 tiny DDIM runs and figures) 12-15 s,
# every other cell under 1 s. 120 s leaves room for a slower machine and still stops
# an infinite loop within two minutes.
c.Execute.timeout = 120
# A cell that times out is interrupted and the next cell runs. (A kernel that dies
# ends the run: nbgrader saves no grade for that notebook.)
c.Execute.interrupt_on_timeout = True
# A deleted test cell is put back (with a note) and graded like any other.
c.OverwriteCells.add_missing_cells = True
# nbgrader's feedback shows the autograded notebook, hidden tests included; strip them
# so that the feedback can go to students without giving the hidden tests away.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
