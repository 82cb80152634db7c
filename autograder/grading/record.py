"""Recording a graded submission: nbgrader's gradebook, the HTML feedback in nbgrader's feedback
layout, and ``result.json`` last (it marks the submission as done)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.course import write_atomic
from autograder.grading.results import GradeResult
from autograder.grading.source import SourceAssignment
from autograder.safe_io import neutral

if TYPE_CHECKING:
    from autograder.grading.batch import Submission


def read_result(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def save(sub: Submission, result: GradeResult, course_dir: Path, fingerprint: dict[str, str | None],
          source: SourceAssignment | None) -> bool:
    """Record one finished job: gradebook, feedback, then result.json last (it marks the job done).

    Returns False (and says why on stderr) if the gradebook could not take it; the job is then not
    marked done, so the next run grades it again.
    """
    from autograder import feedback, gradebook

    if result.notebook_sha256 is not None:  # what the job actually graded
        fingerprint = {**fingerprint, "notebook_sha256": result.notebook_sha256}
    if source is not None and result.exercises:
        try:
            gradebook.record(course_dir, sub.student, source, result, result.timestamp)
        except Exception as err:  # e.g. the database is locked: keep grading the others
            print(f"autograder grade-all: {neutral(sub.student, False)}/{neutral(sub.assignment, False)}: could "
                  f"not record the grade in the gradebook ({type(err).__name__}: {neutral(str(err), False)}); it "
                  f"will be graded again next run", file=sys.stderr)
            return False
    write_atomic(sub.feedback_path(course_dir),
                 feedback.render_html(result, sub.notebook_name() or sub.assignment))
    data = result.as_json() | {"student": sub.student, "notes": result.notes} | fingerprint
    write_atomic(sub.result_path(course_dir), json.dumps(data, indent=1) + "\n")
    return True
