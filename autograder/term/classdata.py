"""A graded class as the report, the exports and the similarity report read it.

Where each fact comes from, and why:

- **scores**: ``results/<student>/<assignment>/result.json``, which ``grade-all`` writes for every
  submission (``grade --json``'s schema plus ``student`` and ``notes``). Only the results carry each
  exercise's message, which says what kind of difference failed it; the same scores are in nbgrader's
  gradebook, and a submission that is in the gradebook but has no result (graded by ``nbgrader
  autograde``, say) is taken from there, with its total only.
- **late penalty**: a result's optional ``late_penalty`` (points taken off), else the penalty nbgrader
  records on the submission in its gradebook (``late_submission_penalty``). The final score is the
  score less the penalty, never below 0.
- **roster**: nbgrader's ``student`` table (``nbgrader db student import`` fills it: ``id``,
  ``first_name``, ``last_name``, ``email``, ``lms_user_id``), plus any student who has a result or a
  submission folder but is not in the table (with an empty name: the exports say so).
- **due dates**: nbgrader's ``assignment.duedate``, plus a student's ``extension`` if nbgrader has one;
  **submission times**: the gradebook's submission
  timestamp, else nbgrader's ``submitted/<student>/<assignment>/timestamp.txt``. All times are naive
  UTC, as nbgrader stores them.

Nothing here imports :mod:`autograder.grading` (it loads torch, seconds for a command that only
reads files); the folder names are :mod:`autograder.course`'s, the layout ``grade-all`` writes.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from autograder.course import RESULT_FILE, RESULTS_DIR, SUBMITTED_DIR, TIMESTAMP_FILE, CourseError, chapter_order
from autograder.gradebook import GRADEBOOK_FILE, course_id, db_url

#: Largest result file read (a result is a few kB; its messages are capped by the grader).
MAX_RESULT_BYTES = 4 * 1024 * 1024
#: The command that makes what these commands read.
GRADE_ALL_HINT = "python -m autograder grade-all --course-dir {course_dir}"


@dataclass(frozen=True)
class Student:
    """One student of the roster (nbgrader's ``student`` table)."""

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""
    #: False for a student found only in results or submission folders.
    in_roster: bool = True

    @property
    def sortable_name(self) -> str:
        """``Last, First`` as LMS gradebooks list students; the id when no name is known."""
        if self.last_name and self.first_name:
            return f"{self.last_name}, {self.first_name}"
        return self.last_name or self.first_name or self.id


@dataclass
class Submission:
    """One student's graded submission of one assignment."""

    student: str
    assignment: str
    score: float
    max_score: float
    #: Each exercise as in ``result.json``: id, score, max_score, passed, message (empty when the
    #: submission is known from the gradebook only).
    exercises: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timestamp: datetime | None = None
    late_penalty: float = 0.0
    #: nbgrader's per-student extension of the due date (its ``submission.extension``), if any.
    extension: timedelta | None = None

    @property
    def final_score(self) -> float:
        """The score less the late penalty, never below 0."""
        from autograder.late import final_score

        return final_score(self.score, self.late_penalty)

    def is_late(self, duedate: datetime | None) -> bool:
        """Whether it came in after the due date (plus the student's extension, if any)."""
        if duedate is None or self.timestamp is None:
            return False
        return self.timestamp > duedate + (self.extension or timedelta(0))

    @property
    def fraction(self) -> float:
        """The final score as a fraction of the points available (0 if none are)."""
        return self.final_score / self.max_score if self.max_score else 0.0


@dataclass
class Assignment:
    """An assignment with at least one graded submission."""

    name: str
    duedate: datetime | None = None
    max_score: float = 0.0
    #: Exercise ids in notebook order, with their points.
    exercises: dict[str, float] = field(default_factory=dict)


@dataclass
class ClassRecord:
    """Everything the term's commands need about a graded class."""

    course_dir: Path
    students: list[Student]
    assignments: list[Assignment]
    submissions: dict[tuple[str, str], Submission]
    #: Files that could not be read, with why (shown by the commands, never fatal).
    problems: list[str] = field(default_factory=list)

    def submission(self, student: str, assignment: str) -> Submission | None:
        """The student's graded submission of the assignment, if any."""
        return self.submissions.get((student, assignment))

    def assignment(self, name: str) -> Assignment:
        """The assignment called ``name``; a :class:`CourseError` naming the known ones otherwise."""
        for a in self.assignments:
            if a.name == name:
                return a
        known = ", ".join(a.name for a in self.assignments) or "(none)"
        raise CourseError(f"no graded assignment {name!r} in {self.course_dir}; graded assignments: {known}")


def natural_key(name: str) -> tuple:
    """Sort student ids ``s2`` before ``s10``: digit runs compare as numbers. (Assignments are sorted by
    :func:`autograder.course.chapter_order`, as everywhere: chapters by number, other names last.)"""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def check_course_dir(course_dir: Path) -> Path:
    """The course folder, resolved; a clear :class:`CourseError` if it is missing."""
    if not course_dir.exists():
        raise CourseError(f"no course folder at {course_dir} (pass --course-dir, the folder with "
                          f"{SUBMITTED_DIR}/, {RESULTS_DIR}/ and {GRADEBOOK_FILE})")
    if not course_dir.is_dir():
        raise CourseError(f"{course_dir} is not a folder (pass --course-dir, the nbgrader course folder)")
    return course_dir.resolve()


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _read_result(course_dir: Path, student: str, assignment: str, problems: list[str]) -> Submission | None:
    """One ``result.json``, checked against the schema; a problem line and ``None`` if it is unusable."""
    from autograder.safe_io import BadJSON, UnsafeFile, loads_bounded, read_inside

    relative = Path(RESULTS_DIR, student, assignment, RESULT_FILE)
    try:
        data = loads_bounded(read_inside(course_dir, relative, MAX_RESULT_BYTES), MAX_RESULT_BYTES)
    except (UnsafeFile, BadJSON) as err:
        problems.append(f"{relative}: {err}")
        return None
    score, max_score = (_number(data.get(k)) if isinstance(data, dict) else None for k in ("score", "max_score"))
    exercises = data.get("exercises") if isinstance(data, dict) else None
    if score is None or max_score is None or not isinstance(exercises, list):
        problems.append(f"{relative}: not a result of grade-all (needs score, max_score and exercises)")
        return None
    clean = []
    for ex in exercises:
        if isinstance(ex, dict) and isinstance(ex.get("id"), str):
            clean.append({"id": ex["id"], "score": _number(ex.get("score")) or 0.0,
                          "max_score": _number(ex.get("max_score")) or 0.0,
                          "passed": bool(ex.get("passed")), "message": _text(ex.get("message"))})
    notes = [_text(n) for n in data.get("notes", [])] if isinstance(data.get("notes"), list) else []
    penalty = _number(data.get("late_penalty")) or 0.0
    return Submission(student, assignment, score, max_score, clean, notes, late_penalty=max(0.0, penalty))


def _result_folders(course_dir: Path) -> list[tuple[str, str]]:
    """``(student, assignment)`` of every ``results/<student>/<assignment>/`` (no links followed)."""
    root = course_dir / RESULTS_DIR
    if not root.is_dir() or root.is_symlink():
        return []
    found = []
    for student in sorted(root.iterdir()):
        if student.is_dir() and not student.is_symlink():
            found += [(student.name, a.name) for a in sorted(student.iterdir()) if a.is_dir() and not a.is_symlink()]
    return found


def _submitted_students(course_dir: Path) -> set[str]:
    root = course_dir / SUBMITTED_DIR
    if not root.is_dir() or root.is_symlink():
        return set()
    return {p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink()}


def read_timestamp(course_dir: Path, student: str, assignment: str) -> datetime | None:
    """nbgrader's ``timestamp.txt`` of a submission as naive UTC; ``None`` if missing or unreadable."""
    from autograder.late import parse_time
    from autograder.safe_io import MAX_TIMESTAMP_BYTES, UnsafeFile, read_inside

    try:
        text = read_inside(course_dir, Path(SUBMITTED_DIR, student, assignment, TIMESTAMP_FILE),
                           MAX_TIMESTAMP_BYTES).decode("utf-8", errors="replace").strip()
    except UnsafeFile:
        return None
    return parse_time(text)


@dataclass
class _GradebookFacts:
    students: dict[str, Student] = field(default_factory=dict)
    duedates: dict[str, datetime | None] = field(default_factory=dict)
    #: (student, assignment) -> (timestamp, late penalty, score, max_score, extension)
    submissions: dict[tuple[str, str], tuple[datetime | None, float, float, float, timedelta | None]] = field(
        default_factory=dict)


def _read_gradebook(course_dir: Path, problems: list[str]) -> _GradebookFacts:
    """Roster, due dates and submissions from nbgrader's gradebook, if the course has one."""
    facts = _GradebookFacts()
    if not (course_dir / GRADEBOOK_FILE).is_file():
        return facts
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning, SQLAlchemyError

    try:
        with warnings.catch_warnings(), Gradebook(db_url(course_dir), course_id(course_dir)) as gb:
            warnings.simplefilter("ignore", SAWarning)
            for s in gb.students:
                facts.students[s.id] = Student(s.id, _text(s.first_name), _text(s.last_name), _text(s.email),
                                               _text(s.lms_user_id))
            for a in gb.assignments:
                facts.duedates[a.name] = a.duedate
                for sub in a.submissions:
                    facts.submissions[(sub.student.id, a.name)] = (
                        sub.timestamp, float(sub.late_submission_penalty or 0.0),
                        float(sub.score or 0.0), float(sub.max_score or 0.0), sub.extension)
    except (SQLAlchemyError, OSError, ValueError) as err:
        problems.append(f"{GRADEBOOK_FILE}: could not be read ({type(err).__name__}: {err}); "
                        f"names, due dates and times are missing")
    return facts


def read_roster(course_dir: Path, problems: list[str]) -> dict[str, Student]:
    """nbgrader's student table by student id (empty without a gradebook; a read error goes to ``problems``)."""
    return _read_gradebook(course_dir, problems).students


def load_class(course_dir: Path, assignments: list[str] | None = None, progress: bool = False) -> ClassRecord:
    """Read a graded class; a clear :class:`CourseError` if the folder or its results are missing.

    ``assignments`` keeps only those (each must have been graded). ``progress`` shows a bar on stderr
    while the results are read.
    """
    course_dir = check_course_dir(course_dir)
    problems: list[str] = []
    book = _read_gradebook(course_dir, problems)
    folders = _result_folders(course_dir)
    if progress and folders:
        import sys

        from tqdm import tqdm

        folders = tqdm(folders, desc="reading results", unit="result", file=sys.stderr, leave=False)
    submissions: dict[tuple[str, str], Submission] = {}
    for student, assignment in folders:
        sub = _read_result(course_dir, student, assignment, problems)
        if sub is not None:
            submissions[(student, assignment)] = sub
    for key, (_ts, _pen, score, max_score, _ext) in book.submissions.items():
        if key not in submissions and max_score > 0:  # graded by nbgrader itself: its total only
            submissions[key] = Submission(key[0], key[1], score, max_score)
    if not submissions:
        raise CourseError(f"no graded submissions in {course_dir}: neither {RESULTS_DIR}/<student>/<assignment>/"
                          f"{RESULT_FILE} nor scores in {GRADEBOOK_FILE}. Grade the class first: "
                          + GRADE_ALL_HINT.format(course_dir=course_dir))
    for key, sub in submissions.items():
        ts, penalty, _score, _max, sub.extension = book.submissions.get(key, (None, 0.0, 0.0, 0.0, None))
        sub.timestamp = ts or read_timestamp(course_dir, *key)
        if not sub.late_penalty and penalty:
            sub.late_penalty = penalty

    graded = sorted({a for _s, a in submissions}, key=chapter_order)
    if assignments:
        missing = [a for a in assignments if a not in graded]
        if missing:
            raise CourseError(f"no graded submission of {', '.join(missing)} in {course_dir}; graded assignments: "
                              f"{', '.join(graded)}")
        graded = [a for a in graded if a in assignments]
        submissions = {k: v for k, v in submissions.items() if k[1] in graded}

    records = []
    for name in graded:
        subs = [s for s in submissions.values() if s.assignment == name]
        exercises: dict[str, float] = {}
        for s in subs:
            for ex in s.exercises:
                exercises.setdefault(ex["id"], ex["max_score"])
        records.append(Assignment(name, book.duedates.get(name), max(s.max_score for s in subs), exercises))

    ids = set(book.students) | {s for s, _a in submissions} | _submitted_students(course_dir)
    students = [book.students.get(i) or Student(i, in_roster=False) for i in sorted(ids, key=natural_key)]
    return ClassRecord(course_dir, students, records, submissions, problems)


def points(value: float) -> str:
    """Points as an LMS reads them: ``3``, ``2.5`` (no trailing zeros, no exponent)."""
    text = f"{round(float(value), 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
