"""The grades and their documents: the course gradebook, grades.csv, the rubric, deadlines and late penalties, the class report."""
