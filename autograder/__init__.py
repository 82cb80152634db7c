"""The course's tooling: turns chapters into the book and into nbgrader assignments, and grades.

Command line: ``python -m autograder --help`` (also installed as ``autograder``).
"""
