"""``python -m autograder export``: Canvas's and Moodle's grade import CSV, and plain CSV.

A generated class of 32 students over three chapters (``class_fixture``) is exported and read back
the way each LMS reads its import file: Canvas takes the header row, finds students by ``ID`` (else
the SIS ids), skips the ``Points Possible`` row and treats every column after ``Section`` as an
assignment; Moodle takes the header row, maps users by one identifier column (here ``ID number``) and
every other column can be mapped to a grade item. Expected grades come from the generator's ground
truth, never from the exporter.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from class_fixture import ABSENT, CHAPTERS, GRADEBOOK_PENALTIES, PENALTIES, UNLISTED, ClassSpec, make_class

from autograder.cli import main as cli_main
from autograder.term.export import CANVAS_COLUMNS, CANVAS_POINTS_ROW, MOODLE_COLUMNS

pytestmark = pytest.mark.grading

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> ClassSpec:
    return make_class(tmp_path_factory.mktemp("export") / "course")


def _export(spec: ClassSpec, tmp_path: Path, capsys, *args: str) -> tuple[list[list[str]], str]:
    out = tmp_path / "grades.csv"
    assert cli_main(["export", "--course-dir", str(spec.course_dir), "--output", str(out), *args]) == 0
    raw = out.read_bytes()
    assert b"\r\n" in raw and not raw.startswith(b"\xef\xbb\xbf"), "RFC 4180 line ends, UTF-8 without BOM"
    with out.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f)), capsys.readouterr().err


def _expected(spec: ClassSpec, student: str, chapter: str, missing: str = "") -> str:
    score = spec.score(student, chapter)
    return missing if score is None else f"{score:g}"


def _read_canvas(rows: list[list[str]]) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Canvas's rules: (points possible, grades by ID, grades by SIS Login ID)."""
    header = rows[0]
    assert tuple(header[:5]) == CANVAS_COLUMNS
    assignments = header[5:]
    possible, by_id, by_login = {}, {}, {}
    for row in rows[1:]:
        record = dict(zip(header, row))
        grades = {a: record[a] for a in assignments}
        if CANVAS_POINTS_ROW in record["Student"]:
            possible = grades
            continue
        if record["ID"]:
            by_id[record["ID"]] = grades
        by_login[record["SIS Login ID"]] = grades
    return possible, by_id, by_login


def test_canvas_import_file_reads_back_with_canvas_rules(klass: ClassSpec, tmp_path: Path, capsys) -> None:
    rows, err = _export(klass, tmp_path, capsys, "--format", "canvas")
    possible, by_id, by_login = _read_canvas(rows)
    assert rows[0][5:] == list(CHAPTERS)
    assert possible == {c: f"{klass.max_score(c)}" for c in CHAPTERS}
    assert len(rows) == 2 + len(klass.students) + 1  # header, points, the roster, the unlisted student
    for sid, fields in klass.students.items():
        assert by_id[fields["lms_user_id"]] == {c: _expected(klass, sid, c) for c in CHAPTERS}, sid
    assert by_login[UNLISTED] == {c: _expected(klass, UNLISTED, c) for c in CHAPTERS}
    assert UNLISTED in err and "nbgrader db student import" in err


def test_canvas_student_column_is_last_name_first(klass: ClassSpec, tmp_path: Path, capsys) -> None:
    rows, _ = _export(klass, tmp_path, capsys, "--format", "canvas")
    by_id = {r[1]: r[0] for r in rows[2:] if r[1]}
    fields = klass.students["s01"]
    assert by_id[fields["lms_user_id"]] == f"{fields['last_name']}, {fields['first_name']}"


def test_moodle_import_file_maps_users_by_id_number(klass: ClassSpec, tmp_path: Path, capsys) -> None:
    rows, _ = _export(klass, tmp_path, capsys, "--format", "moodle")
    header = rows[0]
    assert tuple(header[:4]) == MOODLE_COLUMNS
    items = [h for h in header if h not in MOODLE_COLUMNS]
    assert items == list(CHAPTERS)
    by_number = {r[header.index("ID number")]: dict(zip(header, r)) for r in rows[1:]}
    for sid, fields in klass.students.items():
        record = by_number[fields["lms_user_id"]]
        assert record["Email address"] == fields["email"]
        assert {c: record[c] for c in items} == {c: _expected(klass, sid, c) for c in CHAPTERS}, sid


def test_missing_work_is_empty_unless_asked_for_zero(klass: ClassSpec, tmp_path: Path, capsys) -> None:
    absent_id = klass.students[ABSENT]["lms_user_id"]
    missing = [(s, c) for s in klass.students for c in CHAPTERS if klass.score(s, c) is None]
    assert len(missing) > len(CHAPTERS), "the generated class must have missing submissions"
    rows, _ = _export(klass, tmp_path, capsys, "--format", "canvas")
    _, by_id, _ = _read_canvas(rows)
    assert by_id[absent_id] == {c: "" for c in CHAPTERS}
    rows, _ = _export(klass, tmp_path, capsys, "--format", "canvas", "--missing-as-zero")
    _, by_id, _ = _read_canvas(rows)
    for sid, fields in klass.students.items():
        assert by_id[fields["lms_user_id"]] == {c: _expected(klass, sid, c, missing="0") for c in CHAPTERS}


@pytest.mark.parametrize("where", ["result", "gradebook"])
def test_late_penalty_is_taken_off_the_exported_grade(klass: ClassSpec, tmp_path: Path, capsys, where: str) -> None:
    """A penalty in the result (``late_penalty``) or in nbgrader's gradebook (as nbgrader records it)."""
    (sid, chapter), penalty = next(iter((PENALTIES if where == "result" else GRADEBOOK_PENALTIES).items()))
    rows, _ = _export(klass, tmp_path, capsys, "--format", "csv")
    record = next(dict(zip(rows[0], r)) for r in rows[1:] if r[0] == sid)
    assert float(record[chapter]) == klass.max_score(chapter) - penalty  # full marks, then the penalty
    assert float(record[f"{chapter}: late penalty"]) == penalty
    penalised = [c for c in CHAPTERS if any(klass.penalty(s, c) for s in klass.students)]
    assert [h for h in rows[0] if h.endswith("late penalty")] == [f"{c}: late penalty" for c in penalised]
    rows, _ = _export(klass, tmp_path, capsys, "--format", "canvas")
    assert not [h for h in rows[0] if "penalty" in h], "Canvas would make a penalty column a new assignment"


def test_by_exercise_adds_one_column_per_exercise(klass: ClassSpec, tmp_path: Path, capsys) -> None:
    rows, _ = _export(klass, tmp_path, capsys, "--format", "csv", "--by-exercise")
    header = rows[0]
    for chapter in CHAPTERS:
        for ex in klass.points[chapter]:
            assert f"{chapter}: {ex}" in header
    for row in rows[1:]:
        record = dict(zip(header, row))
        for chapter in CHAPTERS:
            outcome = klass.outcomes.get((record["student"], chapter))
            for ex, pts in klass.points[chapter].items():
                want = "" if outcome is None else f"{pts if outcome[ex] is None else 0:g}"
                assert record[f"{chapter}: {ex}"] == want


def test_text_cells_cannot_become_formulas(klass: ClassSpec, tmp_path: Path, capsys) -> None:
    for fmt in ("canvas", "moodle", "csv"):
        rows, _ = _export(klass, tmp_path, capsys, "--format", fmt)
        cells = [c for r in rows for c in r]
        dangerous = [c for c in cells if c.startswith(FORMULA_START)]
        assert not dangerous, f"{fmt}: cells a spreadsheet would run: {dangerous}"
        # the names that started with = + - @ are all there; alone in a cell, behind one quote
        for fields in klass.students.values():
            for name in (fields["first_name"], fields["last_name"]):
                if name.startswith(FORMULA_START):
                    assert any(name in c for c in cells), (fmt, name)
                    assert fmt == "canvas" or "'" + name in cells, (fmt, name)
    rows, _ = _export(klass, tmp_path, capsys, "--format", "moodle")
    names = {(r[0], r[1]) for r in rows[1:]}
    assert ("Zoë", "O'Brien, \"Jr\"") in names  # commas, quotes and accents survive the round trip


def test_assignment_option_keeps_those_columns(klass: ClassSpec, tmp_path: Path, capsys) -> None:
    rows, _ = _export(klass, tmp_path, capsys, "--format", "moodle", "--assignment", CHAPTERS[1])
    assert [h for h in rows[0] if h not in MOODLE_COLUMNS] == [CHAPTERS[1]]


def test_errors_are_clear(klass: ClassSpec, tmp_path: Path, capsys) -> None:
    assert cli_main(["export", "--course-dir", str(tmp_path / "nowhere")]) == 2
    assert "no course folder" in capsys.readouterr().err
    empty = tmp_path / "empty-course"
    empty.mkdir()
    assert cli_main(["export", "--course-dir", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "no graded submissions" in err and "grade-all" in err
    assert cli_main(["export", "--course-dir", str(klass.course_dir), "--assignment", "ch9_nothing"]) == 2
    err = capsys.readouterr().err
    assert "ch9_nothing" in err and CHAPTERS[0] in err


def test_roster_from_nbgrader_db_student_import(klass: ClassSpec, tmp_path: Path, capsys) -> None:
    """The roster an instructor loads with ``nbgrader db student import`` is the one the export uses."""
    import os
    import shutil
    import subprocess
    import sys

    from autograder.nbgrader_config import write_config

    course = tmp_path / "course"
    shutil.copytree(klass.course_dir, course)
    write_config(course)
    roster = tmp_path / "roster.csv"
    with roster.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "first_name", "last_name", "email", "lms_user_id"])
        writer.writerow(["s01", "Ada", "Lovelace", "ada@uni.example", "777"])
        writer.writerow([UNLISTED, "Una", "Listed", "una@uni.example", "778"])
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "db", "student", "import", str(roster)], cwd=course,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "moodle.csv"
    assert cli_main(["export", "--course-dir", str(course), "--format", "moodle", "--output", str(out)]) == 0
    assert UNLISTED not in capsys.readouterr().err  # now in the roster, with an LMS id
    with out.open(newline="", encoding="utf-8") as f:
        rows = {r["ID number"]: r for r in csv.DictReader(f)}
    assert (rows["777"]["First name"], rows["777"]["Email address"]) == ("Ada", "ada@uni.example")
    assert rows["777"][CHAPTERS[0]] == _expected(klass, "s01", CHAPTERS[0])
    assert rows["778"][CHAPTERS[0]] == _expected(klass, UNLISTED, CHAPTERS[0])
