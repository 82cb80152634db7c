"""``python -m autograder grade NOTEBOOK``: one notebook, its table (or JSON) and its HTML feedback."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from autograder.course import DEFAULT_COURSE_DIR, LOCAL_FEEDBACK_DIR, PROTECTED_DIRS, CourseError, write_atomic
from autograder.grading.notebook import grade_path
from autograder.grading.options import limits_from_args, max_notebook_bytes, sandbox_mode
from autograder.safe_io import neutral


def _protected(path: Path, course_dir: Path) -> bool:
    """Whether ``path`` lies in the course's source or release folder (which grading never writes)."""
    real = Path(os.path.realpath(path))
    return any(real.is_relative_to(os.path.realpath(course_dir / d)) for d in PROTECTED_DIRS)


def feedback_target(notebook: Path, course_dir: Path, explicit: Path | None) -> Path:
    """Where ``grade`` writes a notebook's HTML feedback.

    ``--feedback`` if given; else ``<notebook>_feedback.html`` beside the notebook, unless the notebook
    lies in the course's ``source/`` or ``release/`` folder (``nbgrader release_assignment`` would ship
    the page to every student): then ``<course>/feedback-local/<notebook>_feedback.html``. A target
    inside those folders is refused.
    """
    name = f"{notebook.stem}_feedback.html"
    target = explicit or notebook.with_name(name)
    if explicit is None and _protected(notebook.parent, course_dir):
        target = course_dir / LOCAL_FEEDBACK_DIR / name
    if _protected(target.parent, course_dir):
        raise CourseError(f"will not write feedback to {target}: grading never writes into the course's "
                          f"{' or '.join(d + '/' for d in PROTECTED_DIRS)} folders; choose another --feedback")
    return target


def grade_main(args: argparse.Namespace) -> int:
    """``autograder grade NOTEBOOK``: print the table (or ``--json``) and write the HTML feedback."""
    from autograder import feedback

    notebook: Path = args.notebook
    course_dir = (args.course_dir or DEFAULT_COURSE_DIR).resolve()
    sandbox = sandbox_mode(args)
    feedback_path = feedback_target(notebook, course_dir, args.feedback)
    # With --json, stdout carries exactly one JSON object: anything printed while grading goes to stderr.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        result = grade_path(notebook, args.assignment, course_dir, sandbox=sandbox,
                            limits=limits_from_args(args), max_bytes=max_notebook_bytes(args))
        write_atomic(feedback_path, feedback.render_html(result, notebook.name))
    shown = neutral(str(feedback_path), newlines=False)
    if args.json:
        print(json.dumps(result.as_json()))
        print(f"feedback: {shown}", file=sys.stderr)
    else:
        print(feedback.render_table(result))
        print(f"feedback: {shown}")
    return 0
