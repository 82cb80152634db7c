"""Personal tokens (``python -m autograder tokens``): one per student of the roster, one per instructor.

A token is 32 random bytes (``secrets.token_urlsafe``); the database keeps only its SHA-256, so a copy
of the database signs nobody in. The roster is nbgrader's student table (``nbgrader db student import``),
read as the term's commands read it. The command writes the links to send, one per student, to a CSV
file only its owner can read; the tokens themselves are never shown again (a lost one is reissued,
which revokes the old).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from autograder.course import CourseError, write_atomic
from autograder.safe_io import csv_cell
from autograder.service.db import INSTRUCTOR, STUDENT, Token

#: A student id the service accepts: it becomes a folder name in nbgrader's ``submitted/``.
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
#: The links file ``tokens`` writes (in the course folder unless ``--output``).
LINKS_FILE = "service-links.csv"
#: Where a sign-in link points; the token is in the URL's fragment, which browsers never send to a
#: server or put in a Referer (the sign-in page's script reads it and posts it).
LOGIN_PATH = "/login"


def digest(token: str) -> str:
    """What the database stores of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def valid_student_id(student: str) -> bool:
    """Whether a student id is a plain folder name (no path tricks) the service can file work under."""
    return bool(STUDENT_ID.match(student)) and student not in (".", "..")


def link(base_url: str, token: str) -> str:
    """A student's sign-in link."""
    return f"{base_url.rstrip('/')}{LOGIN_PATH}#token={token}"


@dataclass(frozen=True)
class Identity:
    """Who a valid token belongs to."""

    role: str
    student: str | None
    token_id: int


def authenticate(sessions: sessionmaker[Session], token: str | None) -> Identity | None:
    """The identity of a token, or ``None`` for a missing, unknown or revoked one."""
    if not token or len(token) > 512:
        return None
    with sessions() as s:
        row = s.scalars(select(Token).where(Token.digest == digest(token), Token.revoked.is_(False))).first()
        return Identity(row.role, row.student, row.id) if row is not None else None


def token_is_active(sessions: sessionmaker[Session], token_id: int) -> bool:
    """Whether a token (by id, as a signed cookie names it) is still valid."""
    with sessions() as s:
        row = s.get(Token, token_id)
        return row is not None and not row.revoked


def issue(sessions: sessionmaker[Session], role: str, student: str | None = None, label: str = "") -> str:
    """A new token; a student's earlier tokens are revoked. Returns the token (shown once)."""
    if role == STUDENT and (student is None or not valid_student_id(student)):
        raise CourseError(f"cannot issue a token to student id {student!r}: a student id must be a plain name "
                          f"({STUDENT_ID.pattern})")
    token = secrets.token_urlsafe(32)
    with sessions.begin() as s:
        if role == STUDENT:
            s.execute(update(Token).where(Token.student == student, Token.role == STUDENT).values(revoked=True))
        s.add(Token(digest=digest(token), role=role, student=student if role == STUDENT else None, label=label))
    return token


def students_with_tokens(sessions: sessionmaker[Session]) -> set[str]:
    """Students who hold an active token."""
    with sessions() as s:
        return set(s.scalars(select(Token.student).where(Token.role == STUDENT, Token.revoked.is_(False))))


def roster(course_dir: Path) -> dict:
    """nbgrader's student table: id -> :class:`autograder.term.classdata.Student`."""
    from autograder.term import classdata

    problems: list[str] = []
    students = classdata.read_roster(course_dir, problems)
    if problems:
        raise CourseError("; ".join(problems))
    return students


def tokens_main(args: argparse.Namespace, sessions: sessionmaker[Session] | None = None) -> int:
    """``autograder tokens``: links for the roster's students (or an instructor's token); the database is
    the one ``--db`` names, else the course's (:func:`autograder.service.db.resolve_url`)."""
    if sessions is None:
        from autograder.service import db

        sessions = db.connect(db.resolve_url(args.course_dir, args.db))
    if args.instructor:
        token = issue(sessions, INSTRUCTOR, label=args.label or "instructor")
        print(f"instructor token (shown once; keep it secret): {token}")
        print(f"sign in at: {link(args.base_url, token)}")
        return 0
    students = roster(args.course_dir)
    if not students:
        raise CourseError(f"no students in nbgrader's student table of {args.course_dir}; add them with "
                          f"`nbgrader db student import students.csv` run in the course folder")
    wanted = args.student or sorted(students)
    unknown = [s for s in wanted if s not in students]
    if unknown:
        raise CourseError(f"not in the roster: {', '.join(unknown)}")
    bad = [s for s in wanted if not valid_student_id(s)]
    holding = students_with_tokens(sessions)
    todo = [s for s in wanted if s not in bad and (args.reissue or s not in holding)]
    output = args.output or args.course_dir / LINKS_FILE
    rows = []
    for student in todo:
        info = students[student]
        rows.append((student, info.first_name, info.last_name, info.email,
                     link(args.base_url, issue(sessions, STUDENT, student))))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("student", "first_name", "last_name", "email", "link"))
    writer.writerows([[csv_cell(v) for v in row] for row in rows])
    try:  # a new private file renamed over the path: a file or link planted there is replaced, not used
        write_atomic(output, text.getvalue(), mode=0o600)
    except CourseError as err:
        raise CourseError(f"{err}; the tokens issued now are lost: run again with --reissue") from None
    print(f"{len(rows)} link(s) written to {output} (readable by you only); send each student their own")
    kept = [s for s in wanted if s not in bad and s not in todo]
    if kept:
        print(f"{len(kept)} student(s) already hold a token and were left alone (--reissue replaces them)")
    for student in bad:
        print(f"  skipped {student!r}: not a plain student id ({STUDENT_ID.pattern})")
    return 0
