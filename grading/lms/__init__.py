"""The LMS, both ways: a download collected into submitted/<student>/<assignment>/, grades.csv uploaded as its gradebook files."""
