"""Grades in the form an LMS imports: ``python -m autograder export --format canvas|moodle|csv``.

One row per student of the class (nbgrader's roster plus anyone with a graded submission), one column
per assignment (and with ``--by-exercise`` one per exercise after it). A grade is the final score,
after any late penalty; exercise columns are the exercises' own scores. A student without a
submission has an empty cell (an LMS reads that as "not graded", not as 0) unless
``--missing-as-zero``.

The roster maps nbgrader's student ids to the LMS's: nbgrader's ``student`` table, filled by
``nbgrader db student import`` from a CSV with ``id,first_name,last_name,email,lms_user_id``.

- **Canvas** (Grades > Import): ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per
  assignment, and a second row ``Points Possible`` (as Canvas's own export writes; Canvas skips it and
  uses it for new assignments). Canvas finds the student by ``ID`` (its user id: nbgrader's
  ``lms_user_id``), else by SIS ids; ``SIS Login ID`` carries nbgrader's id, which is usually the
  login name. An assignment column whose name Canvas does not know becomes a new assignment.
- **Moodle** (Grades > Import > CSV file): ``First name, Last name, ID number, Email address``, then
  the grade items. In the import's "Identify user by" choose "Map from: ID number, Map to: User ID
  number" (nbgrader's ``lms_user_id``) or "Email address", then map each column to a grade item.
- **csv**: nbgrader's id and the roster's fields, then the grades, and after an assignment with late
  penalties a column of the points each student lost: for any other tool.

Text cells are safe to open in a spreadsheet (OWASP's CSV-injection rule: text starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``); numbers are written as numbers.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Callable
from pathlib import Path

from autograder.course import write_atomic
from autograder.term.classdata import ClassRecord, Student, load_class, points

FORMATS = ("canvas", "moodle", "csv")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_ROW = "Points Possible"
MOODLE_COLUMNS = ("First name", "Last name", "ID number", "Email address")
CSV_COLUMNS = ("student", "first_name", "last_name", "email", "lms_user_id")
#: What an exercise column is called: ``<assignment>: <exercise>``.
EXERCISE_COLUMN = "{assignment}: {exercise}"
#: The plain CSV's column of late penalties (points taken off the assignment's grade).
LATE_COLUMN = "{assignment}: late penalty"


def _identity(fmt: str, s: Student) -> list[str]:
    if fmt == "canvas":
        return [s.sortable_name, s.lms_user_id, "", s.id, ""]
    if fmt == "moodle":
        return [s.first_name, s.last_name, s.lms_user_id, s.email]
    return [s.id, s.first_name, s.last_name, s.email, s.lms_user_id]


def _grade_columns(record: ClassRecord, by_exercise: bool, penalties: bool) -> list[tuple[str, float, Callable]]:
    """(header, points possible, student id -> grade or None) for each grade column.

    With ``penalties``, an assignment with any late penalty gets a column of the points taken off.
    """
    cols: list[tuple[str, float, Callable]] = []
    for a in record.assignments:
        def total(student: str, name: str = a.name) -> float | None:
            sub = record.submission(student, name)
            return None if sub is None else sub.final_score
        cols.append((a.name, a.max_score, total))
        if penalties and any(s.late_penalty for s in record.submissions.values() if s.assignment == a.name):
            def penalty(student: str, name: str = a.name) -> float | None:
                sub = record.submission(student, name)
                return None if sub is None else sub.late_penalty
            cols.append((LATE_COLUMN.format(assignment=a.name), 0.0, penalty))
        if by_exercise:
            for ex_id, possible in a.exercises.items():
                def exercise(student: str, name: str = a.name, ex_id: str = ex_id) -> float | None:
                    sub = record.submission(student, name)
                    if sub is None:
                        return None
                    return next((e["score"] for e in sub.exercises if e["id"] == ex_id), 0.0)
                cols.append((EXERCISE_COLUMN.format(assignment=a.name, exercise=ex_id), possible, exercise))
    return cols


def render(record: ClassRecord, fmt: str, by_exercise: bool = False, missing_as_zero: bool = False) -> str:
    """The export file's text (CSV, UTF-8, RFC 4180 line ends)."""
    from autograder.safe_io import csv_cell

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {FORMATS}")
    identity = {"canvas": CANVAS_COLUMNS, "moodle": MOODLE_COLUMNS, "csv": CSV_COLUMNS}[fmt]
    cols = _grade_columns(record, by_exercise, penalties=fmt == "csv")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in (*identity, *(c[0] for c in cols))])
    if fmt == "canvas":
        writer.writerow([CANVAS_POINTS_ROW, *[""] * (len(identity) - 1), *(points(c[1]) for c in cols)])
    for s in record.students:
        grades = []
        for _header, _possible, grade in cols:
            value = grade(s.id)
            grades.append("" if value is None and not missing_as_zero else points(value or 0.0))
        writer.writerow([*(csv_cell(v) for v in _identity(fmt, s)), *grades])
    return out.getvalue()


def _unmapped(record: ClassRecord, fmt: str) -> list[str]:
    """Students the LMS may not recognise: not in the roster, or without the id this format matches on."""
    return [s.id for s in record.students if not s.in_roster or (fmt != "csv" and not s.lms_user_id)]


def export_main(args: argparse.Namespace) -> int:
    """``autograder export``: write the grades file and say what it holds."""
    record = load_class(args.course_dir, args.assignment, progress=True)
    for problem in record.problems:
        print(f"autograder export: skipped {problem}", file=sys.stderr)
    output: Path = args.output or record.course_dir / f"grades-{args.format}.csv"
    write_atomic(output, render(record, args.format, args.by_exercise, args.missing_as_zero), newline="")
    unmapped = _unmapped(record, args.format)
    if unmapped:
        print(f"autograder export: {len(unmapped)} student(s) without an LMS id in nbgrader's student table "
              f"(the LMS may not match them): {', '.join(unmapped)}. Add them with: nbgrader db student import "
              f"FILE.csv (columns id,first_name,last_name,email,lms_user_id)", file=sys.stderr)
    graded = len(record.submissions)
    print(f"{args.format} grades of {len(record.students)} students, {len(record.assignments)} assignment(s), "
          f"{graded} graded submission(s): {output}")
    return 0
