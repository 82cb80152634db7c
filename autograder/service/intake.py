"""An upload checked, then filed in nbgrader's layout and queued.

Order of the checks, cheapest first, and nothing is written before all pass: the chapter exists; the
bytes are within the size cap; the student is within their rate (submissions per window) and the queue
within its total; the bytes are a notebook (:func:`autograder.grading.source.parse_notebook`: UTF-8,
JSON bounded in size, count and depth, nbformat's schema) of the chapter asked
(:func:`~autograder.grading.source.recognise_assignment`). The uploaded file's name is never used: the
notebook is filed as ``<chapter>.ipynb`` under the student's id (a plain name, checked when the token
was issued) and a chapter name from the course's own list.

Each accepted submission is kept in the service's archive, ``service/archive/<id>/<student>/<chapter>/``
(the layout of nbgrader's ``submitted/``, so that the grader reads it as it reads any submission), and
the latest one of a student's chapter is also written to ``submitted/<student>/<chapter>/`` with
nbgrader's ``timestamp.txt``, where ``grade-all``, the report, the exports and ``nbgrader`` find it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from autograder.course import SUBMITTED_DIR, TIMESTAMP_FILE, CourseError, known_assignments, write_atomic
from autograder.safe_io import MAX_NOTEBOOK_BYTES
from autograder.service.db import GRADING, QUEUED, Event, Submission, utcnow
from autograder.service.tokens import valid_student_id

#: The service's own folder in the course folder.
SERVICE_DIR = "service"
ARCHIVE_DIR = "archive"
#: nbgrader's timestamp format (``Exchange.timestamp_format``), in UTC.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"


@dataclass(frozen=True)
class UploadLimits:
    """The bounds on what students may send."""

    #: Largest notebook accepted (the grader's own cap by default).
    max_bytes: int = MAX_NOTEBOOK_BYTES
    #: Submissions one student may make per ``window_seconds``.
    per_student: int = 20
    window_seconds: float = 3600.0
    #: Submissions waiting or being graded, over the whole class, beyond which uploads wait.
    max_queued: int = 2000


class Rejected(Exception):
    """An upload refused; ``status`` is the HTTP status, the message says why in a sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def archive_folder(course_dir: Path, submission_id: int, student: str, assignment: str) -> Path:
    """Where the service keeps a submission, in nbgrader's ``<student>/<chapter>/`` layout."""
    return course_dir / SERVICE_DIR / ARCHIVE_DIR / str(submission_id) / student / assignment


def nbgrader_timestamp(when: datetime) -> str:
    """``timestamp.txt`` as nbgrader's exchange writes it."""
    return when.strftime(TIMESTAMP_FORMAT)


def _write_files(folder: Path, assignment: str, data: bytes, timestamp: str) -> None:
    # the bytes were decoded as UTF-8 by the check; newline="" writes them back unchanged
    write_atomic(folder / f"{assignment}.ipynb", data.decode("utf-8"), newline="")
    write_atomic(folder / TIMESTAMP_FILE, timestamp + "\n")


def publish(course_dir: Path, student: str, assignment: str, submission_id: int, timestamp: str) -> None:
    """Copy an archived submission to nbgrader's ``submitted/<student>/<chapter>/``."""
    src = archive_folder(course_dir, submission_id, student, assignment) / f"{assignment}.ipynb"
    _write_files(course_dir / SUBMITTED_DIR / student / assignment, assignment, src.read_bytes(), timestamp)


def check(course_dir: Path, assignment: str | None, data: bytes, limits: UploadLimits) -> str:
    """Refuse what is not a notebook of ``assignment`` within the size cap (:class:`Rejected`); the chapter.

    Without ``assignment`` the chapter is recognised from the notebook, as ``grade`` does.
    """
    from autograder.grading.source import parse_notebook, recognise_assignment

    known = known_assignments(course_dir)
    if assignment and assignment not in known:
        raise Rejected(400, f"unknown chapter {assignment!r}; the chapters are: {', '.join(known)}")
    if len(data) > limits.max_bytes:
        raise Rejected(413, f"the notebook is {len(data) / 2**20:.1f} MB; at most {limits.max_bytes / 2**20:.1f} MB "
                       f"is accepted (clear the outputs and save again)")
    try:
        nb = parse_notebook(data, "the uploaded file", limits.max_bytes)
        return recognise_assignment(nb, assignment or None, course_dir)
    except CourseError as err:
        raise Rejected(400, str(err)) from None


def accept(course_dir: Path, sessions: sessionmaker[Session], student: str, assignment: str | None, data: bytes,
           limits: UploadLimits, now: datetime | None = None) -> Submission:
    """Check an upload, archive it, queue it and file it in ``submitted/``; the new row. Without
    ``assignment`` the chapter is the one the notebook says it is.

    Runs on the service's one event-loop thread, so the rate and queue counts cannot race each other
    within a process.
    """
    import hashlib

    if not valid_student_id(student):
        raise Rejected(403, "this account cannot submit (its student id is not a plain name)")
    assignment = check(course_dir, assignment, data, limits)
    now = now or utcnow()
    with sessions() as s:
        recent = s.scalar(select(func.count(Submission.id)).where(
            Submission.student == student, Submission.created_at >= now - timedelta(seconds=limits.window_seconds)))
        if recent >= limits.per_student:
            raise Rejected(429, f"you have submitted {recent} times in the last {limits.window_seconds / 60:g} "
                           f"minutes, the most allowed; try again later")
        waiting = s.scalar(select(func.count(Submission.id)).where(Submission.state.in_((QUEUED, GRADING))))
        if waiting >= limits.max_queued:
            raise Rejected(503, f"the grading queue is full ({waiting} submissions waiting); try again in a few "
                           f"minutes")
    timestamp = nbgrader_timestamp(now)
    with sessions() as s:
        row = Submission(student=student, assignment=assignment, state=QUEUED, created_at=now, timestamp=timestamp,
                         notebook_sha256=hashlib.sha256(data).hexdigest(), size=len(data))
        s.add(row)
        s.flush()  # its id names its archive folder
        _write_files(archive_folder(course_dir, row.id, student, assignment), assignment, data, timestamp)
        s.add(Event(submission_id=row.id, kind="accepted", at=now))
        s.commit()
    # after the commit: a crash before this line is repaired at start-up (queue.republish)
    publish(course_dir, student, assignment, row.id, timestamp)
    return row


def republish(course_dir: Path, sessions: sessionmaker[Session]) -> int:
    """At start-up: each student's latest submission of each chapter in ``submitted/`` (a crash between the
    queue's commit and :func:`publish` left the older one there). Returns how many were copied again."""
    import hashlib

    from autograder.safe_io import UnsafeFile, read_inside
    from autograder.service.queue import latest_per_chapter

    copied = 0
    for student, assignment, sid, timestamp in latest_per_chapter(sessions):
        name = f"{assignment}.ipynb"
        try:
            archived = hashlib.sha256(read_inside(archive_folder(course_dir, sid, student, assignment), name,
                                                  MAX_NOTEBOOK_BYTES * 4)).hexdigest()
        except UnsafeFile:
            continue  # archived files removed by hand: nothing to restore
        try:
            current = hashlib.sha256(read_inside(course_dir / SUBMITTED_DIR, Path(student, assignment, name),
                                                 MAX_NOTEBOOK_BYTES * 4)).hexdigest()
        except UnsafeFile:
            current = None
        if current != archived:
            publish(course_dir, student, assignment, sid, timestamp)
            copied += 1
    return copied
