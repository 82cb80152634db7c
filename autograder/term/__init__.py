"""The instructor's term after grading: a class report, LMS grade exports and a similarity report.

One concern per module, none importing another's internals and none importing the grader
(:mod:`autograder.grading` pulls in torch; these commands only read what ``grade-all`` wrote):

- :mod:`autograder.term.classdata` reads a graded class: results, roster, due dates, submission times;
- :mod:`autograder.term.report` writes the static HTML report with its plots (``autograder report``);
- :mod:`autograder.term.export` writes Canvas, Moodle and plain CSV grade files (``autograder export``);
- :mod:`autograder.term.similarity` compares a class's answer cells (``autograder similarity``).
"""
