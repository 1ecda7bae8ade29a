"""Instructor-only grading material: reference solutions, autograder, rubric.

Nothing under this folder ships to students, to Kaggle, or in the ``helpers`` wheel.
"""
