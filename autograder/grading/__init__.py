"""Grading submitted notebooks: ``python -m autograder grade`` (one) and ``grade-all`` (a class).

One stage per module, each importable and testable alone (as nbgrader composes named preprocessors
and otter-grader keeps orchestration, isolation and metadata apart):

- :mod:`~autograder.grading.results`: what grading produces (pure data).
- :mod:`~autograder.grading.source`: the submission read and validated (size, bounded JSON, nbformat
  schema) and its assignment recognised, from the notebook's ``autograder`` metadata or else its
  nbgrader cell ids; the assignment's nbgrader *source* notebook read.
- :mod:`~autograder.grading.scan`: cells that reach for the reference ``solutions`` package, found
  statically; those exercises score 0 (the sandbox also makes the import impossible at run time).
- :mod:`~autograder.grading.program`: what runs, rebuilt from the source notebook: its locked setup
  cells restored, the student's solution cells by their ``grade_id``, the student's own extra cells
  in order, and no check cell (the verdict never comes from the student's kernel).
- :mod:`autograder.sandbox` (isolation, outside this package) runs the cells in a fresh, sandboxed
  process and calls each exercise's function on its public and hidden cases' arguments, handing the
  outputs back as data.
- :mod:`~autograder.grading.verdict`: outside the student's reach, the outputs compared with the
  reference's (:func:`autograder.runtime.compare_observed`); all-or-nothing per exercise, as nbgrader's
  grade cells; a failed hidden case says only what kind of difference it was. Written questions are
  listed to be graded by hand, never scored here.
- :mod:`~autograder.grading.notebook`: the stages above for one notebook.
- :mod:`~autograder.grading.options`, :mod:`~autograder.grading.command`: the ``grade`` command.
- :mod:`~autograder.grading.batch`: ``grade-all`` over nbgrader's ``submitted/<student>/<assignment>/``
  layout; :mod:`~autograder.grading.record` records each result (gradebook, feedback, ``result.json``
  in ``results/``, beside nbgrader's own ``autograded/`` so that ``nbgrader autograde`` still works).

The course's folder names and :class:`~autograder.course.CourseError` live in :mod:`autograder.course`,
which every module may import; ``tests/test_layout.py`` fails on any import circle.
"""
