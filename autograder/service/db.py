"""The service's tables, through SQLAlchemy: SQLite in the course folder by default, PostgreSQL by URL.

They are the service's own (tokens, the queue, what happened to each submission), apart from
nbgrader's gradebook, which holds the grades exactly as ``grade-all`` records them. Every state
change is one short transaction, so a service killed at any moment leaves the tables consistent;
:mod:`autograder.service.queue` says how a restart finishes what was left.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (Boolean, DateTime, Float, ForeignKey, Integer, String, Text, create_engine, event,
                        select)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

#: The service's SQLite database in the course folder (beside nbgrader's gradebook.db).
DEFAULT_DB_FILE = "service.db"
#: Environment variable with the database URL (``--db`` wins over it).
DB_URL_ENV = "AUTOGRADER_SERVICE_DB"

#: States of a submission: accepted and waiting, being graded (a worker holds its lease), graded and
#: recorded, or failed (it could not be graded after its retries; the reason is kept).
QUEUED, GRADING, GRADED, FAILED = "queued", "grading", "graded", "failed"
STATES = (QUEUED, GRADING, GRADED, FAILED)
STUDENT, INSTRUCTOR = "student", "instructor"


def utcnow() -> datetime:
    """Now, as naive UTC (nbgrader's convention, and what SQLite stores)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Setting(Base):
    """A value the service keeps across restarts (the key that signs its cookies)."""

    __tablename__ = "service_setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Token(Base):
    """A personal access token: only its SHA-256 is stored, never the token itself."""

    __tablename__ = "service_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    role: Mapped[str] = mapped_column(String(16))
    #: The nbgrader student id (``None`` for an instructor's token).
    student: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Submission(Base):
    """One accepted upload and its way through the queue."""

    __tablename__ = "service_submission"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student: Mapped[str] = mapped_column(String(255), index=True)
    assignment: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), index=True, default=QUEUED)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    #: nbgrader's ``timestamp.txt`` written with it (the time the late policy reads).
    timestamp: Mapped[str] = mapped_column(String(64))
    notebook_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    #: The worker holding it while ``grading``, and until when (a lease it renews while it works).
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    late_penalty: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: The HTML feedback ``grade-all`` writes, as it was for this submission.
    feedback_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Why it failed or waits again (a message for people, never a path of the grading machine).
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Event(Base):
    """What happened to a submission, in order (accepted, claimed, graded, recovered, regrade, failed)."""

    __tablename__ = "service_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("service_submission.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")


def default_url(course_dir: Path) -> str:
    """The SQLite database in the course folder."""
    return f"sqlite:///{(course_dir / DEFAULT_DB_FILE).resolve()}"


def resolve_url(course_dir: Path, given: str | None = None) -> str:
    """The database to use: ``given`` (``--db``), else ``$AUTOGRADER_SERVICE_DB``, else the course's SQLite file.
    A password in ``given`` is used, with a warning: every user of the machine can read a command line."""
    import os
    import sys

    from sqlalchemy.engine import make_url

    try:
        password = bool(given) and make_url(normalise_url(given)).password
    except Exception:  # not a URL: connecting says so
        password = False
    if password:
        print(f"warning: --db holds a password, which other users of this machine can read in its command "
              f"line; put it in ~/.pgpass (or the whole URL in ${DB_URL_ENV}) instead", file=sys.stderr)
    return normalise_url(given or os.environ.get(DB_URL_ENV) or default_url(course_dir.resolve()))


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 (the driver the course pins), as SQLAlchemy spells it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def connect(url: str) -> sessionmaker[Session]:
    """The database at ``url``, its tables created if missing; a factory of sessions."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _keep_private(url)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _sqlite_pragmas(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    Base.metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)


def _keep_private(url: str) -> None:
    """Make the SQLite file (and its write-ahead log and shared-memory index, if there) readable and
    writable by this user only, created so if new: it holds the key that signs the service's cookies
    (whoever reads it can sign in as the instructor), the tokens' hashes and every student's feedback.
    SQLite gives the files it adds the database file's mode; the course folder's mode is the user's."""
    import os

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.stat().st_mode & 0o077:
                os.chmod(file, 0o600)
        except FileNotFoundError:
            pass


def _sqlite_pragmas(engine: Engine) -> None:
    """WAL (readers never wait for the writer) and a busy timeout: the pages read while a worker writes."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()


def setting(sessions: sessionmaker[Session], key: str, make) -> str:
    """A persistent setting, made once with ``make()`` (the first writer wins, every process agrees)."""
    with sessions() as s:
        row = s.get(Setting, key)
        if row is not None:
            return row.value
        s.add(Setting(key=key, value=make()))
        try:
            s.commit()
        except Exception:  # another process made it first
            s.rollback()
        return s.scalars(select(Setting.value).where(Setting.key == key)).one()


def cookie_secret(sessions: sessionmaker[Session]) -> str:
    """The key that signs the service's cookies, the same for every process sharing the database."""
    return setting(sessions, "cookie_secret", lambda: secrets.token_urlsafe(48))
