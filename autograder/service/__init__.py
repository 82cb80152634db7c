"""The grading service (``python -m autograder serve``): students submit from anywhere, the same grader grades.

- :mod:`~autograder.service.db`: the service's own tables (tokens, submissions and their states, grading
  events, settings) through SQLAlchemy: SQLite in the course folder by default, PostgreSQL by URL.
- :mod:`~autograder.service.tokens`: personal tokens from nbgrader's roster, stored hashed
  (``python -m autograder tokens``).
- :mod:`~autograder.service.intake`: an upload checked (size, a notebook, of the chapter asked) and
  written in nbgrader's layout with ``timestamp.txt``, then queued.
- :mod:`~autograder.service.queue`: the durable queue: claim, lease, finish, recover after a crash.
- :mod:`~autograder.service.worker`: grades claimed submissions with the engine of ``grade-all`` and
  records them by the same path (nbgrader's gradebook, ``results/``, ``feedback/``).
- :mod:`~autograder.service.app`: the Tornado application (pages, JSON API, CSRF, limits).
- :mod:`~autograder.service.client`: ``python -m autograder submit`` and the release notebooks'
  "submit" cell (standard library only: a student's Python has none of ours).

``docs/SERVICE.md`` documents the API and the deployment.
"""
