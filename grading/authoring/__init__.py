"""What the instructor writes once: the reference answers, the notebooks' solution and rubric cells, the shipped example submissions."""
