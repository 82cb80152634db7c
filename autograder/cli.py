"""The command line: ``python -m autograder {assign,book,grade,grade-all,report,export,similarity}``.

Each subcommand's work lives in its own module; this file only parses arguments and turns the
course's own errors into a clear message and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from autograder.course import DEFAULT_COURSE_DIR, CourseError


def _add_sandbox_options(p: argparse.ArgumentParser) -> None:
    """The options of ``grade`` and ``grade-all`` that decide how student code is confined."""
    from autograder.limits import Limits

    d = Limits()
    g = p.add_argument_group("sandbox and limits (per submission)")
    g.add_argument("--unsandboxed", action="store_true",
                   help="run student code without the bubblewrap sandbox (only for work you trust)")
    g.add_argument("--cell-timeout", type=float, default=d.cell_timeout, metavar="SECONDS",
                   help=f"wall-clock limit of one cell (default {d.cell_timeout:g})")
    g.add_argument("--timeout", type=float, default=d.total_timeout, metavar="SECONDS",
                   help=f"wall-clock limit of the whole submission (default {d.total_timeout:g})")
    g.add_argument("--memory-mb", type=int, default=d.memory_mb, metavar="MB",
                   help=f"address-space limit of the student's process (default {d.memory_mb})")
    g.add_argument("--max-processes", type=int, default=d.max_processes, metavar="N",
                   help=f"processes and threads the student's code may have (default {d.max_processes})")
    g.add_argument("--max-output-bytes", type=int, default=d.max_output_bytes, metavar="BYTES",
                   help=f"printed output kept; the rest is cut (default {d.max_output_bytes})")
    from autograder.safe_io import MAX_NOTEBOOK_BYTES

    g.add_argument("--max-notebook-mb", type=float, default=MAX_NOTEBOOK_BYTES / 2**20, metavar="MB",
                   help=f"largest notebook read; a bigger one is not graded (default {MAX_NOTEBOOK_BYTES / 2**20:g})")


def _course_dir_parent() -> argparse.ArgumentParser:
    """``--course-dir``, stated once: every subcommand but ``book`` (the site needs no course) takes it."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--course-dir", type=Path, default=DEFAULT_COURSE_DIR,
                        help="the nbgrader course folder (default: course/ in the project; submit ignores it)")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    course = [_course_dir_parent()]

    # --- assign: chapters -> nbgrader source -> release (autograder/assign.py)
    p = sub.add_parser("assign", parents=course,
                       help="generate nbgrader source and release notebooks from the chapters")
    p.add_argument("assignments", nargs="*", help="assignment names (chapter file stems); default: all")
    p.add_argument("--exchange-root", default=None,
                   help="nbgrader's exchange folder, written to <course-dir>/nbgrader_config.py (default: the "
                   "one already there, else nbgrader's default /usr/local/share/nbgrader/exchange)")
    p.add_argument("--chapters-dir", type=Path, default=None,
                   help="read the chapters from this folder instead of chapters/ (for tests and fixtures)")
    p.add_argument("--force", action="store_true",
                   help="regenerate every assignment named, even those whose inputs have not changed")

    # --- book: build the site (autograder/book.py)
    p = sub.add_parser("book", help="build the book into _build/html (nothing to do if its sources are unchanged)")
    p.add_argument("--no-solutions", action="store_true",
                   help="leave the reference solutions out of the site entirely (for a graded term)")
    p.add_argument("--output", type=Path, default=None, help="output folder (default: _build/html, "
                   "or _build/html-no-solutions with --no-solutions)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="chapters executed side by side, one kernel each (default: one per core)")

    # --- build: assign, then book; nothing when nothing changed (autograder/build.py)
    p = sub.add_parser("build", parents=course, help="generate the assignments and build the book (what "
                       "`python3 dev.py build` runs); with nothing changed it stops at once")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="chapters executed side by side, one kernel each (default: one per core)")

    # --- grade: one notebook (autograder/grading/)
    p = sub.add_parser("grade", parents=course, help="grade one submitted notebook",
                       description="Grade one submitted notebook against the source notebooks of <course-dir> "
                       "(made by assign if missing).")
    p.add_argument("notebook", type=Path, help="the submitted .ipynb file")
    p.add_argument("--assignment", default=None, help="assignment name (default: recognised from the notebook)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the result")
    p.add_argument("--feedback", type=Path, default=None,
                   help="where to write the HTML feedback (default: <notebook>_feedback.html next to it, or in "
                   "<course-dir>/feedback-local/ for a notebook in the course's source/ or release/ folder)")
    _add_sandbox_options(p)

    # --- grade-all: a whole class (autograder/grading/)
    p = sub.add_parser("grade-all", parents=course,
                       help="grade every submission in course/submitted/<student>/<assignment>/",
                       description="Grade every submission in <course-dir>/submitted/<student>/<assignment>/; "
                       "write results/, feedback/ and gradebook.db in <course-dir>.")
    p.add_argument("--workers", type=int, default=None, help="local Dask worker processes, one notebook at a time "
                   "each (default: the number of cores); with --scheduler, how many workers to wait for (default 1)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="grade on an existing Dask cluster, e.g. "
                   "tcp://10.0.0.5:8786 (started with `dask scheduler` and `dask worker`; see the README) instead "
                   "of a local one")
    p.add_argument("--assignment", action="append", default=None, help="only this assignment (repeatable)")
    p.add_argument("--csv", type=Path, default=None, help="grades CSV, one column per exercise "
                   "(default: <course-dir>/grades-by-exercise.csv)")
    _add_sandbox_options(p)
    _add_term_parsers(sub, course)
    _add_service_parsers(sub, course)
    _add_import_parser(sub, course)
    return parser


# --- after grading: report, export, similarity (autograder/term/) ---------------------------------


def _add_term_parsers(sub, course: list[argparse.ArgumentParser]) -> None:
    """The instructor's commands after ``grade-all``; they read results/, submitted/ and the gradebook."""
    p = sub.add_parser("report", parents=course,
                       help="write the class report (static HTML with plots) to <course-dir>/report/")
    p.add_argument("--output", type=Path, default=None, help="report folder (default: <course-dir>/report)")
    p.add_argument("--low", type=float, default=50.0, metavar="PERCENT",
                   help="a student whose score is below this percentage of an assignment is listed (default 50)")

    p = sub.add_parser("export", parents=course,
                       help="write the grades for an LMS: Canvas or Moodle grade import CSV, or plain CSV")
    p.add_argument("--format", choices=("canvas", "moodle", "csv"), default="csv", help="the file's layout")
    p.add_argument("--output", type=Path, default=None, help="the CSV file (default: <course-dir>/grades-<format>.csv)")
    p.add_argument("--assignment", action="append", default=None, help="only this assignment (repeatable)")
    p.add_argument("--by-exercise", action="store_true", help="also one column per exercise")
    p.add_argument("--missing-as-zero", action="store_true",
                   help="give 0 to students with no submission (default: leave their cell empty)")

    p = sub.add_parser("similarity", parents=course,
                       help="compare a class's answer cells (copydetect) and report similar pairs")
    p.add_argument("assignments", nargs="*", help="assignment names (default: every assignment with submissions)")
    p.add_argument("--output", type=Path, default=None,
                   help="report folder (default: <course-dir>/similarity)")
    p.add_argument("--threshold", type=float, default=None, metavar="FRACTION",
                   help="report pairs at least this similar, 0 to 1 (default: autograder.term.similarity.THRESHOLD)")


def _add_import_parser(sub, course: list[argparse.ArgumentParser]) -> None:
    """``import-submissions``: an LMS's bulk download filed into submitted/ (autograder/lms_import.py)."""
    p = sub.add_parser("import-submissions", parents=course, help="file a Canvas or Moodle 'download all "
                       "submissions' zip into <course-dir>/submitted/ for grade-all",
                       description="File an LMS's bulk download into <course-dir>/submitted/ for grade-all, "
                       "matching students against the roster in <course-dir>'s gradebook.")
    p.add_argument("lms", choices=("canvas", "moodle"), help="the LMS the zip came from")
    p.add_argument("zip", type=Path, help="the LMS's bulk download of one assignment's submissions")
    p.add_argument("--assignment", default=None, help="file every notebook as this assignment (default: the "
                   "assignment named by each notebook's file name)")
    p.add_argument("--worksheet", type=Path, default=None, metavar="CSV",
                   help="Moodle only, required: the assignment's grading worksheet (participants and times)")
    p.add_argument("--timezone", default="UTC", metavar="ZONE",
                   help="the time zone of the worksheet's times, an IANA name (default UTC)")


# --- the grading service: serve, submit, tokens (autograder/service/) -----------------------------


def _add_service_parsers(sub, course: list[argparse.ArgumentParser]) -> None:
    """``serve`` (the web service and its grading queue), ``submit`` (a student's upload) and ``tokens``."""
    db_help = ("the service's database as a SQLAlchemy URL, e.g. postgresql://user@host/db, its password in "
               "~/.pgpass (a command line can be read by every user of the machine) (default: "
               "$AUTOGRADER_SERVICE_DB, else SQLite <course-dir>/service.db)")
    p = sub.add_parser("serve", parents=course,
                       help="run the grading service: students submit from anywhere, the queue grades")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: behind a proxy)")
    p.add_argument("--port", type=int, default=8000,
                   help="port to listen on (default 8000; 0: a free one, which the \"listening on\" line says)")
    p.add_argument("--unix-socket", type=Path, default=None, metavar="PATH",
                   help="listen on this Unix socket instead of --host/--port, mode 0660 (for a proxy in the "
                        "socket folder's group): on a machine shared with others, no user can take its place "
                        "while the service is down, as they could take a free port")
    p.add_argument("--db", default=None, help=db_help)
    p.add_argument("--workers", type=int, default=None, help="notebooks graded at once (default: the number of cores); "
                   "with --scheduler, how many workers to wait for at start (default 1)")
    p.add_argument("--scheduler", default=None, help="a Dask scheduler's address to grade on (default: a local "
                   "cluster); as many notebooks are graded at once as its workers have threads, as they join and leave")
    p.add_argument("--behind-proxy", action="store_true",
                   help="trust X-Forwarded-For/-Proto from a TLS-terminating reverse proxy (see the README)")
    p.add_argument("--max-per-student", type=int, default=20, help="submissions per student per --rate-window (default 20)")
    p.add_argument("--rate-window", type=float, default=3600.0, metavar="SECONDS", help="(default 3600)")
    p.add_argument("--max-queued", type=int, default=2000, help="submissions waiting at most, class-wide (default 2000)")
    p.add_argument("--lease-seconds", type=float, default=60.0,
                   help="a grading not renewed for this long is taken as interrupted and recovered (default 60)")
    _add_sandbox_options(p)

    p = sub.add_parser("submit", parents=course,
                       help="submit a notebook to the grading service and wait for its grade")
    p.add_argument("notebook", type=Path)
    p.add_argument("--server", default=None, help="the service's URL (default: $AUTOGRADER_SERVER)")
    p.add_argument("--assignment", default=None, help="chapter (default: the service recognises it from the notebook)")
    p.add_argument("--token-file", default=None, help="file with your token (default: $AUTOGRADER_TOKEN, "
                   "else ~/.autograder-token)")
    p.add_argument("--no-wait", action="store_true", help="return once accepted, without waiting for the grade")

    p = sub.add_parser("tokens", parents=course,
                       help="issue the service's tokens: a sign-in link per student of the roster")
    p.add_argument("--db", default=None, help=db_help)
    p.add_argument("--base-url", default="http://127.0.0.1:8000", help="the service's public URL, for the links")
    p.add_argument("--output", type=Path, default=None, help="links CSV (default: <course-dir>/service-links.csv)")
    p.add_argument("--student", action="append", default=None, help="only this student (repeatable)")
    p.add_argument("--reissue", action="store_true", help="replace students' existing tokens (revokes them)")
    p.add_argument("--instructor", action="store_true", help="issue an instructor token instead, and print it")
    p.add_argument("--label", default="", help="a note stored with an instructor token")


#: Each subcommand's module and function (``function(args) -> exit status``), imported only when run.
COMMANDS: dict[str, tuple[str, str]] = {
    "assign": ("autograder.assign", "main"),
    "book": ("autograder.book", "main"),
    "build": ("autograder.build", "main"),
    "grade": ("autograder.grading.command", "grade_main"),
    "grade-all": ("autograder.grading.batch", "grade_all_main"),
    "import-submissions": ("autograder.lms_import", "import_main"),
    "report": ("autograder.term.report", "report_main"),
    "export": ("autograder.term.export", "export_main"),
    "similarity": ("autograder.term.similarity", "similarity_main"),
    "serve": ("autograder.service.app", "serve_main"),
    "submit": ("autograder.service.client", "submit_main"),
    "tokens": ("autograder.service.tokens", "tokens_main"),
}


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; return the process exit status."""
    args = build_parser().parse_args(argv)
    module, function = COMMANDS[args.command]
    try:
        return getattr(importlib.import_module(module), function)(args)
    except CourseError as err:
        from autograder.safe_io import neutral

        print(f"autograder {args.command}: error: {neutral(str(err))}", file=sys.stderr)
        return 2
