"""The term's commands order assignments as the course does (chapter number, other names last) and
students by their ids' numbers (``s2`` before ``s10``)."""

from __future__ import annotations

import json
from pathlib import Path

from autograder.course import RESULT_FILE, RESULTS_DIR, SUBMITTED_DIR, chapter_order

ASSIGNMENTS = ("ch10_x", "bonus", "ch2_y")  # alphabetical order would put bonus first and ch10 before ch2
STUDENTS = ("s10", "s2", "s1")


def _graded_class(course: Path) -> None:
    for student in STUDENTS:
        for assignment in ASSIGNMENTS:
            (course / SUBMITTED_DIR / student / assignment).mkdir(parents=True)
            result = course / RESULTS_DIR / student / assignment / RESULT_FILE
            result.parent.mkdir(parents=True)
            result.write_text(json.dumps({"score": 1.0, "max_score": 2.0, "exercises": []}))


def test_the_class_record_orders_assignments_by_chapter_and_students_by_number(tmp_path: Path) -> None:
    from autograder.term.classdata import load_class
    from autograder.term.similarity import submitted_assignments

    _graded_class(tmp_path)
    course_order = sorted(ASSIGNMENTS, key=chapter_order)
    assert course_order == ["ch2_y", "ch10_x", "bonus"]
    record = load_class(tmp_path)
    assert [a.name for a in record.assignments] == course_order
    assert submitted_assignments(tmp_path) == course_order
    assert [s.id for s in record.students] == ["s1", "s2", "s10"]
