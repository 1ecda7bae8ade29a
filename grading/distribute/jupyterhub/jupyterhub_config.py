"""The course's formgrader as a JupyterHub service: merge into the hub's ``jupyterhub_config.py``.

nbgrader's conventions: the service is named after the course id, and the graders are the
group ``formgrade-<course id>``, whose role lets them open it. The service is a
single-user server run as the account ``grader-<course id>`` in ``grading/`` of its
clone of this repository (``make setup`` done there, plus ``jupyterhub`` at the hub's
version in its ``.venv``), so it reads ``grading/nbgrader_config.py`` (the course
directory ``grading/course``, under its root as formgrader requires) and
``/etc/jupyter/nbgrader_config.py`` (``grading/distribute/jupyterhub/nbgrader_config.py``: the exchange).
"""

c = get_config()  # noqa: F821 (provided by traitlets when JupyterHub loads this file)

COURSE = "diffusion"  # CourseDirectory.course_id (tests/test_jupyterhub.py checks it)
GRADER = f"grader-{COURSE}"
CLONE = f"/home/{GRADER}/diffusion-course-kit"

c.JupyterHub.load_groups = {
    # The instructors' and teaching assistants' hub user names.
    f"formgrade-{COURSE}": ["instructor1"],
}
c.JupyterHub.load_roles = [
    {
        "name": f"formgrade-{COURSE}",
        "groups": [f"formgrade-{COURSE}"],
        "scopes": [
            f"access:services!service={COURSE}",
            "list:services",
            f"read:services!service={COURSE}",
        ],
    },
]
c.JupyterHub.services = [
    {
        "name": COURSE,
        "url": "http://127.0.0.1:9999",
        "command": [f"{CLONE}/.venv/bin/jupyterhub-singleuser", "--debug"],
        "user": GRADER,
        "cwd": f"{CLONE}/grading",
        "environment": {"JUPYTERHUB_DEFAULT_URL": "/lab"},
    },
]
