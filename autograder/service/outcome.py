"""A claimed submission, and its grade as ``grade-all``'s record path left it on disk.

The grade of a submission is what :mod:`autograder.grading.record` wrote: ``results/<student>/<chapter>/
result.json`` (written last, so its presence means the gradebook and the feedback are written too) and
the HTML feedback in nbgrader's ``feedback/`` layout. A result is this submission's when it is of the
same notebook bytes and was written after the submission was claimed (a student's submissions of a
chapter are graded one at a time, in order), or when the engine says it was graded before from the
same bytes. What the service shows a student is that same feedback, with any path of the grading
machine replaced by a label (:func:`autograder.grading.record.machine_paths`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any



@dataclass(frozen=True)
class Claimed:
    """What a worker needs of a claimed submission."""

    id: int
    student: str
    assignment: str
    notebook_sha256: str
    timestamp: str
    started_at: datetime | None = None

    @classmethod
    def of(cls, row: Any) -> Claimed:
        """From a :class:`autograder.service.db.Submission` row."""
        return cls(row.id, row.student, row.assignment, row.notebook_sha256, row.timestamp, row.started_at)


@dataclass(frozen=True)
class Outcome:
    """A recorded grade as the service keeps it."""

    score: float | None
    max_score: float | None
    late_penalty: float | None
    feedback_html: str


def recorded_outcome(course_dir: Path, claimed: Claimed, since_claimed: bool = True) -> Outcome | None:
    """The grade recorded for this submission, or ``None`` if it was not (yet) recorded.

    ``since_claimed``: only a result written after the claim counts (crash recovery). The engine's own
    verdict "up to date" (the same bytes graded before by the same grader) passes ``False``.
    """
    from autograder.feedback import redact_paths
    from autograder.grading.batch import Submission as BatchSubmission
    from autograder.grading.record import feedback_folder, machine_paths, read_result

    sub = BatchSubmission(claimed.student, claimed.assignment, Path(claimed.assignment))
    path = sub.result_path(course_dir)
    data = read_result(path)
    if data is None or data.get("notebook_sha256") != claimed.notebook_sha256:
        return None
    if since_claimed and claimed.started_at is not None:
        written = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).replace(tzinfo=None)
        if written < claimed.started_at.replace(microsecond=0):
            return None
    try:
        page = feedback_folder(course_dir, claimed.student, claimed.assignment) / f"{claimed.assignment}.html"
        html = page.read_text(encoding="utf-8")
    except OSError:
        html = ""

    def number(key: str) -> float | None:
        value = data.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    # the recorder already redacts its messages; this also covers anything else in the page
    return Outcome(number("score"), number("max_score"), number("late_penalty"),
                   redact_paths(html, machine_paths(course_dir)))
