# nbgrader run from the repository root uses the course of grading/ (instead of making
# a gradebook.db here): the configuration is grading/nbgrader_config.py.
load_subconfig("grading/nbgrader_config.py")  # noqa: F821 (provided by traitlets)
