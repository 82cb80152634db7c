"""The course folder: nbgrader's layout, the one list of assignments, errors a user can fix, safe writes,
and its locks.

Every module of the autograder may import this one: it imports nothing of ours at load time (the
chapter list is read lazily), so no import circle can pass through it. Grading, the book, the
assignment generator and the term's commands all name the course's folders from here, once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from solutions.paths import PROJECT_ROOT

#: Where generated assignments, submissions, the gradebook and grades live (git-ignored).
DEFAULT_COURSE_DIR: Path = PROJECT_ROOT / "course"

#: nbgrader's course folders.
SOURCE_DIR = "source"
RELEASE_DIR = "release"
SUBMITTED_DIR = "submitted"
#: nbgrader's feedback folder: ``feedback/<student>/<assignment>/<notebook>.html`` beside a
#: ``timestamp.txt``, which ``nbgrader release_feedback`` reads.
FEEDBACK_DIR = "feedback"
#: Our per-submission results, beside (not inside) nbgrader's own autograded/ folder, so that a
#: later ``nbgrader autograde`` does not take a student as already graded.
RESULTS_DIR = "results"
RESULT_FILE = "result.json"
TIMESTAMP_FILE = "timestamp.txt"
#: Not nbgrader's "grades.csv": ``nbgrader export`` run in the course folder would overwrite it.
DEFAULT_CSV_NAME = "grades-by-exercise.csv"
#: Where ``grade`` writes the feedback of a notebook that lies in the course's source or release
#: folders (which ``nbgrader release_assignment`` ships to students): ``<course>/<this>/``.
LOCAL_FEEDBACK_DIR = "feedback-local"
#: Course folders grading never writes into.
PROTECTED_DIRS = (SOURCE_DIR, RELEASE_DIR)


class CourseError(Exception):
    """An error the user can fix; its message is printed without a traceback (exit status 2)."""


def chapter_order(name: str) -> tuple[int, str]:
    """Sort key of assignment names: ``ch2`` before ``ch10``, other names last."""
    m = re.match(r"ch(\d+)", name)
    return (int(m.group(1)) if m else 10**6, name)


def source_path(course_dir: Path, assignment: str) -> Path:
    """Where nbgrader's source notebook of an assignment is."""
    return course_dir / SOURCE_DIR / assignment / f"{assignment}.ipynb"


def known_assignments(course_dir: Path | None = None) -> list[str]:
    """Assignments that exist: one per chapter, plus any source notebook in the course folder."""
    from autograder.chapters import chapter_paths

    names = {p.stem for p in chapter_paths()}
    src = (course_dir or DEFAULT_COURSE_DIR) / SOURCE_DIR
    if src.is_dir():
        names |= {p.name for p in src.iterdir() if source_path(course_dir or DEFAULT_COURSE_DIR, p.name).is_file()}
    return sorted(names, key=chapter_order)


def unknown_assignment(name: str, known: list[str]) -> CourseError:
    """The error for an assignment name that does not exist, listing those that do."""
    return CourseError(f"unknown assignment {name!r}; known assignments: {', '.join(known) or '(none)'}")


def write_atomic(path: Path, text: str, newline: str | None = None, mode: int | None = None) -> None:
    """Write a text file that readers see whole or not at all (old content or new, never half).

    ``newline=""`` keeps line ends as given (a CSV's ``\r\n``). ``mode``: the file's permissions
    (default: a new file's, as the umask makes them). The text goes to a new file of this user's with a
    name nobody can guess (``mkstemp``: one per writer, and never a file or link someone planted in a
    folder they can write), renamed over ``path``. A :class:`CourseError` says why the file could not
    be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise CourseError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        os.fchmod(fd, mode if mode is not None else 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
            fd = -1
            f.write(text)
        os.replace(tmp, path)
    except OSError as err:
        if fd != -1:
            os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise CourseError(f"cannot write {path}: {err.strerror or err}") from None


def _umask() -> int:
    """This process's umask, read without changing it (Linux's /proc; else set and set back)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


@contextlib.contextmanager
def course_lock(course_dir: Path, name: str) -> Iterator[None]:
    """Hold the course's lock called ``name`` for the block: one holder at a time among the threads and
    the processes of a machine (a ``grade-all`` and the service on one course, say).

    An advisory ``flock`` on ``<course>/.autograder-<name>.lock``, taken on a descriptor of its own (so
    two threads of one process exclude each other too) and released when the block ends or its holder
    dies: a crash leaves no stale lock.
    """
    course_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(course_dir / f".autograder-{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
