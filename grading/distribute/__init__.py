"""What students get: the released notebooks (nbgrader), the student kit, the Kaggle bundle, the JupyterHub exchange."""
