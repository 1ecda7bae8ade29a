"""nbgrader's exchange for the course on a JupyterHub: every single-user server's config.

Install it as ``/etc/jupyter/nbgrader_config.py`` in the image of every single-user
server, the students' and the grader's (nbgrader reads that folder, then the working
directory's ``nbgrader_config.py``). It names the course and the exchange, the folder
through which ``nbgrader release_assignment`` / ``fetch_assignment`` / ``submit`` /
``collect`` (and formgrader's Release and Collect buttons, the students' Assignments
tab) pass notebooks: one folder, mounted at the same path on every server.
"""

import os

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

# The course id of grading/nbgrader_config.py (tests/test_jupyterhub.py checks they
# agree): with it set, students see this course's assignments without a
# nbgrader-<course> group on the hub.
c.CourseDirectory.course_id = "diffusion"

# Writable by every user (nbgrader creates inbound/ and outbound/ with the permissions
# each needs); COURSEKIT_EXCHANGE moves it (a test's temporary folder, another mount).
c.Exchange.root = os.environ.get("COURSEKIT_EXCHANGE", "/srv/nbgrader/exchange")
