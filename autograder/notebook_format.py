"""The assignment notebook's format: what the generator (:mod:`autograder.assign`) writes and the grader
(:mod:`autograder.grading`) reads back, named once. Constants only, so that reading a notebook imports
nothing heavy (the generator imports torch to write expected values; the grading client does not)."""

from __future__ import annotations

#: Version of the notebook format below; bump it when the grader must tell old notebooks apart.
FORMAT: int = 1
#: Notebook metadata key that marks a notebook as one of the course's assignments.
METADATA_KEY: str = "autograder"
#: nbgrader's cell metadata schema version (nbgrader 0.9).
NBGRADER_SCHEMA: int = 3
#: Cell metadata that collapses a code cell's source in JupyterLab and Notebook 7 (the setup cell's:
#: a student sees the "how to work" cell and then the first task, not the check runtime).
HIDDEN_SOURCE: dict = {"jupyter": {"source_hidden": True}}
#: grade_id of the fixed cells; an exercise's cells are "task_<id>", "<id>" and "check_<id>".
SETUP_ID: str = "setup"
SETUP_CODE_ID: str = "setup_code"
TASK_PREFIX: str = "task_"
CHECK_PREFIX: str = "check_"
#: grade_id prefixes of a written question's cells: the question (locked) and the answer, a markdown
#: cell that nbgrader grades by hand (``solution`` and ``grade`` true, ``points``).
QUESTION_PREFIX: str = "question_"
ANSWER_PREFIX: str = "answer_"
#: What the answer cell holds: nbgrader's default ``ClearSolutions.text_stub``.
ANSWER_STUB: str = "YOUR ANSWER HERE"
