"""Recording a graded submission: nbgrader's gradebook (with the course's late policy applied), the
HTML feedback in nbgrader's feedback layout, and ``result.json`` last (it marks the submission as done).

Everything a student may read (the feedback, and ``result.json``, whose messages are the same) has
the grading machine's paths replaced by labels (:func:`machine_paths`).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.course import FEEDBACK_DIR, SUBMITTED_DIR, TIMESTAMP_FILE, write_atomic
from autograder.grading.results import GradeResult
from autograder.grading.source import SourceAssignment
from autograder.safe_io import MAX_TIMESTAMP_BYTES, UnsafeFile, neutral, read_inside

if TYPE_CHECKING:
    from autograder import gradebook
    from autograder.grading.batch import Submission
    from autograder.late import Lateness

#: nbgrader's exchange writes this beside a submission (``nbgrader submit``); ``release_feedback``
#: reads it from the feedback folder and names the released file after a hash of it, and the
#: student's ``fetch_feedback`` finds the file with the same secret from its own copy.
SECRET_FILE = "submission_secret.txt"
#: Largest secret read (nbgrader's is 128 hexadecimal characters).
MAX_SECRET_BYTES = 1024


def read_result(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def late_fingerprint(course_dir: Path, assignment: str) -> dict[str, str]:
    """What decides an assignment's late penalties apart from each submission's own time: the policy
    file as written and the assignment's due date. ``grade-all`` adds it to the fingerprint of a result,
    so a changed policy, extension or due date is applied on its next run. The policy is read here, so a
    bad policy file stops ``grade-all`` (a :class:`~autograder.course.CourseError`) before any grading."""
    import hashlib

    from autograder import gradebook, late
    from autograder.safe_io import read_regular

    policy = late.load_policy(course_dir)
    text = read_regular(late.policy_path(course_dir), late.MAX_POLICY_BYTES) if policy.stated else b""
    due = gradebook.due_date(course_dir, assignment)
    digest = hashlib.sha256(text + b"\0" + (due.isoformat() if due else "").encode())
    return {"late_policy_sha256": digest.hexdigest()}


def feedback_folder(course_dir: Path, student: str, assignment: str) -> Path:
    """nbgrader's feedback folder of a submission: ``feedback/<student>/<assignment>/``."""
    return course_dir / FEEDBACK_DIR / student / assignment


def machine_paths(course_dir: Path) -> dict[str, str]:
    """The grading machine's folders that a message may name, each with the label shown instead:
    the course, the project, Python and its packages, the sandbox's own folders, the temporary folder
    and the grader's home."""
    from autograder.limits import SANDBOX_LIB, SANDBOX_WORK
    from solutions.paths import PROJECT_ROOT

    labels: dict[str, str] = {}

    def add(path: Any, label: str) -> None:
        for variant in {str(path), str(Path(path).resolve())}:
            if variant.count("/") >= 1 and variant != "/" and variant not in labels:
                labels[variant] = label

    add(course_dir, "<course>")
    add(PROJECT_ROOT, "<project>")
    for prefix in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix):
        add(prefix, "<python>")
    add(SANDBOX_WORK, "<sandbox>")
    add(SANDBOX_LIB, "<sandbox>")
    add(tempfile.gettempdir(), "<tmp>")
    add(Path.home(), "~")
    return labels


def without_paths(result: GradeResult, course_dir: Path) -> GradeResult:
    """The result with the grading machine's paths in its messages and notes replaced by labels."""
    from autograder.feedback import redact_paths

    paths = machine_paths(course_dir)
    return dataclasses.replace(
        result, notes=[redact_paths(n, paths) for n in result.notes],
        exercises=[dataclasses.replace(e, message=redact_paths(e.message, paths)) for e in result.exercises])


def _submitted_text(course_dir: Path, sub: Submission, name: str, max_bytes: int) -> str | None:
    """A small file of the submission read as text (no link followed), ``None`` if absent or unsafe."""
    try:
        return read_inside(course_dir / SUBMITTED_DIR, f"{sub.student}/{sub.assignment}/{name}",
                           max_bytes).decode("utf-8")
    except (UnsafeFile, UnicodeDecodeError):
        return None


def write_feedback(course_dir: Path, sub: Submission, html: str, timestamp: str | None) -> Path:
    """The feedback page where ``nbgrader generate_feedback`` would put it, with what
    ``nbgrader release_feedback`` reads beside it; its path.

    ``feedback/<student>/<assignment>/<notebook>.html`` (the name of the submitted notebook, which the
    student's ``fetch_feedback`` looks for), ``timestamp.txt`` and ``submission_secret.txt`` copied from
    the submission, as nbgrader's autograde and generate_feedback carry them over. A submission not
    made through the exchange has no secret: it gets one of its own, kept across regrades, so that
    ``release_feedback`` still runs for the whole class (it stops at the first folder without one);
    no student holds that secret, so the page is released where nobody fetches it, and the instructor
    hands it over. Other ``.html`` pages in the folder (of an earlier notebook name) are removed, as
    generate_feedback replaces the folder, so that only the current feedback is released.
    """
    folder = feedback_folder(course_dir, sub.student, sub.assignment)
    notebook = sub.notebook_name() or f"{sub.assignment}.ipynb"
    page = folder / f"{Path(notebook).stem}.html"
    write_atomic(page, html)
    write_atomic(folder / TIMESTAMP_FILE, timestamp or "")
    secret = _submitted_text(course_dir, sub, SECRET_FILE, MAX_SECRET_BYTES)
    if secret is None:
        try:
            secret = (folder / SECRET_FILE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            secret = secrets.token_hex(64)
    write_atomic(folder / SECRET_FILE, secret)
    for old in folder.glob("*.html"):
        if old != page and not old.is_symlink() and old.is_file():
            old.unlink()
    return page


def save(sub: Submission, result: GradeResult, course_dir: Path, fingerprint: dict[str, str | None],
          source: SourceAssignment | None, writer: gradebook.Writer | None = None) -> bool:
    """Record one finished job: gradebook, feedback, then result.json last (it marks the job done).

    The course's late policy (:mod:`autograder.late`) is applied here, so that everything that records
    a grade applies it: a penalty in the gradebook, in ``result.json`` (``late_penalty``, ``late``) and
    in the feedback. A policy file that cannot be read is a :class:`~autograder.course.CourseError`
    (nothing is recorded under a policy nobody stated).

    Returns False (and says why on stderr) if the gradebook could not take it; the job is then not
    marked done, so the next run grades it again. ``writer`` keeps the gradebook open across a batch.
    """
    from autograder import feedback, gradebook, late

    policy = late.load_policy(course_dir)
    if result.notebook_sha256 is not None:  # what the job actually graded
        fingerprint = {**fingerprint, "notebook_sha256": result.notebook_sha256}
    timestamp = result.timestamp or _submitted_text(course_dir, sub, TIMESTAMP_FILE, MAX_TIMESTAMP_BYTES)
    timestamp = timestamp.strip() if timestamp else None
    lateness: Lateness | None = None
    if source is not None and result.exercises:
        try:
            lateness = gradebook.record(course_dir, sub.student, source, result, timestamp, policy, writer)
        except Exception as err:  # e.g. the database is locked: keep grading the others
            print(f"autograder grade-all: {neutral(sub.student, False)}/{neutral(sub.assignment, False)}: could "
                  f"not record the grade in the gradebook ({type(err).__name__}: {neutral(str(err), False)}); it "
                  f"will be graded again next run", file=sys.stderr)
            return False
    shown = without_paths(result, course_dir)
    write_feedback(course_dir, sub, feedback.render_html(shown, sub.notebook_name() or sub.assignment, lateness),
                   timestamp)
    data = shown.as_json() | {"student": sub.student, "notes": shown.notes} | fingerprint
    data["late_penalty"] = lateness.penalty if lateness is not None else 0.0
    if lateness is not None:
        data["late"] = lateness.as_json()
    write_atomic(sub.result_path(course_dir), json.dumps(data, indent=1) + "\n")
    return True
