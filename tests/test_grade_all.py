"""Grading a class (``python -m autograder grade-all``) in nbgrader's layout, and parity with nbgrader.

One batch over chapter 2's real assignment: three honest students and one broken notebook, graded
by two workers into a course folder without a gradebook yet. Then: the same scores as ``grade`` on
each notebook, nbgrader's gradebook and ``nbgrader export`` agree, the CSV, a resumed run that
regrades nothing, a changed notebook that is regraded alone, and ``nbgrader autograde``'s own score
on an honest submission equal to ours.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.chapters import CHAPTERS_DIR, load_questions
from autograder.cli import main as cli_main
from autograder.gradebook import CSV_COLUMNS, GRADEBOOK_FILE, course_id, db_url, mark_answer
from autograder.nbgrader_config import ensure_tools_on_path, write_config
from test_grade import (
    ANSWER,
    ASSIGNMENT,
    OTHER_ASSIGNMENT,
    POINTS,
    _env,
    generated_course,
    grade_json,
    notebook,
    run_cli,
    submission,
    write,
)

pytestmark = pytest.mark.grading

TOTAL = sum(POINTS.values())
#: The written questions' points: nbgrader's gradebook counts them in its max_score (graded by hand).
BY_HAND = {f"answer_{q.id}": q.points for q in load_questions(CHAPTERS_DIR / f"{ASSIGNMENT}.md")}
CSV_NAME = "grades-by-exercise.csv"
TIMESTAMP = "2026-11-20 10:00:00.000000 UTC"


def _course_copy(template: Path, folder: Path) -> Path:
    """A copy of the generated course folder, its nbgrader config pointing at the copy."""
    course = folder / "course"
    shutil.copytree(template, course)
    write_config(course)  # the copied config names the template's folder as nbgrader's root
    return course


def _submit(course: Path, student: str, nb: nbformat.NotebookNode | bytes) -> Path:
    """Put a notebook where ``nbgrader collect`` would: submitted/<student>/<assignment>/."""
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "timestamp.txt").write_text(TIMESTAMP)
    path = folder / f"{ASSIGNMENT}.ipynb"
    if isinstance(nb, bytes):
        path.write_bytes(nb)
        return path
    return write(nb, folder, path.name)


def _result(course: Path, student: str) -> dict:
    return json.loads((course / "results" / student / ASSIGNMENT / "result.json").read_text())


def _grade_all(course: Path, *extra: str) -> subprocess.CompletedProcess:
    proc = run_cli("grade-all", "--course-dir", str(course), "--workers", "2",
                   "--csv", str(course / CSV_NAME), *extra)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Chapter 2's generated course (shared with test_grade.py; never modified)."""
    return generated_course(tmp_path_factory)


@pytest.fixture(scope="module")
def honest(template: Path) -> dict[str, nbformat.NotebookNode]:
    """Three students' notebooks: all solved with the written questions answered, half solved, untouched."""
    return {"alice": submission(template, solved=tuple(POINTS), answers={a: ANSWER for a in BY_HAND}),
            "bob": submission(template, solved=("calc_preds", "accuracy")),
            "carol": notebook(template, "release")}


@pytest.fixture(scope="module")
def batch(template: Path, honest: dict, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One grade-all run over the three honest students and one broken notebook; (course, stderr)."""
    course = _course_copy(template, tmp_path_factory.mktemp("batch"))
    (course / GRADEBOOK_FILE).unlink()  # the grader must set up nbgrader's gradebook itself
    for student, nb in honest.items():
        _submit(course, student, nb)
    _submit(course, "dave", b'{"cells": [ this is not JSON')
    return course, _grade_all(course).stderr


def test_batch_gives_the_same_scores_as_grade(batch: tuple[Path, str], honest: dict, tmp_path: Path,
                                              capsys) -> None:
    """Each student's batch result equals ``grade --json`` on the same notebook."""
    course, _ = batch
    expected_scores = {"alice": TOTAL, "bob": POINTS["calc_preds"] + POINTS["accuracy"], "carol": 0}
    for student in honest:
        path = course / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        single = grade_json(path, course, capsys, "--feedback", str(tmp_path / f"{student}.html"))
        stored = _result(course, student)
        assert {k: stored[k] for k in single} == single
        assert single["score"] == expected_scores[student]


def test_broken_submission_scores_zero_with_a_message(batch: tuple[Path, str]) -> None:
    """Invalid JSON does not stop the batch: 0 points and the reason on every exercise."""
    course, stderr = batch
    result = _result(course, "dave")
    assert result["score"] == 0 and result["max_score"] == TOTAL
    assert all("not valid JSON" in e["message"] for e in result["exercises"])
    assert (course / "feedback" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.html").is_file()


def test_feedback_files_hide_the_hidden_checks(batch: tuple[Path, str]) -> None:
    """One HTML page per submission in nbgrader's feedback layout, without hidden check code."""
    course, _ = batch
    for student in ("alice", "bob", "carol", "dave"):
        html = (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        assert "BEGIN HIDDEN" not in html and "run_cases(" not in html


def test_gradebook_holds_the_scores_and_nbgrader_exports_them(batch: tuple[Path, str], tmp_path: Path) -> None:
    """nbgrader's gradebook has each submission's score, and ``nbgrader export`` reads them."""
    course, _ = batch
    ensure_tools_on_path()
    with Gradebook(db_url(course), course_id(course)) as gb:
        stored = {s: gb.find_submission(ASSIGNMENT, s).score for s in ("alice", "bob", "carol", "dave")}
    assert stored == {s: _result(course, s)["score"] for s in stored}

    out = tmp_path / "nbgrader-export.csv"
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(out)], cwd=course,
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = {r["student_id"]: r for r in csv.DictReader(out.open())}
    assert {s: float(rows[s]["score"]) for s in stored} == stored
    assert all(float(rows[s]["max_score"]) == TOTAL + sum(BY_HAND.values()) for s in stored)


def test_csv_has_one_row_per_submission_and_a_column_per_exercise(batch: tuple[Path, str]) -> None:
    """student, assignment, score, max_score, then each exercise's score, as in result.json; no column
    (so no 0) for the written questions, which are graded by hand."""
    course, _ = batch
    with (course / CSV_NAME).open() as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == (*CSV_COLUMNS, *POINTS)
        rows = {r["student"]: r for r in reader}
    assert set(rows) == {"alice", "bob", "carol", "dave"}
    for student, row in rows.items():
        result = _result(course, student)
        assert row["assignment"] == ASSIGNMENT
        assert float(row["score"]) == result["score"] and float(row["max_score"]) == TOTAL
        assert {i: float(row[i]) for i in POINTS} == {e["id"]: e["score"] for e in result["exercises"]}


def test_written_answers_are_left_to_the_instructor(batch: tuple[Path, str]) -> None:
    """result.json lists the questions (answered by alice only) apart from the score; nbgrader's
    gradebook has alice's answers needing manual grading with no auto score, and the unchanged
    answers of the others scored 0 with nothing to grade, as ``nbgrader autograde`` records them."""
    course, _ = batch
    for student in ("alice", "bob", "carol", "dave"):
        result = _result(course, student)
        assert {f"answer_{q['id']}": (q["max_score"], q["answered"]) for q in result["by_hand"]} == \
            {a: (p, student == "alice") for a, p in BY_HAND.items()}
        assert result["max_score"] == TOTAL
    ensure_tools_on_path()
    with Gradebook(db_url(course), course_id(course)) as gb:
        for student in ("alice", "bob", "carol", "dave"):
            for cell in BY_HAND:
                grade = gb.find_grade(cell, ASSIGNMENT, ASSIGNMENT, student)
                state = (grade.auto_score, grade.needs_manual_grade, grade.manual_score)
                assert state == ((None, True, None) if student == "alice" else (0, False, None)), (student, cell)
        assert gb.find_submission(ASSIGNMENT, "alice").needs_manual_grade
        assert not gb.find_submission(ASSIGNMENT, "carol").needs_manual_grade
        assert gb.find_submission(ASSIGNMENT, "alice").score == TOTAL  # ungraded answers add nothing yet


@pytest.mark.parametrize("answered", [True, False])
def test_marking_an_answer_keeps_the_instructors_manual_score(answered: bool) -> None:
    """A regraded answer keeps the instructor's score and is shown again for review, as nbgrader does."""
    grade = SimpleNamespace(auto_score=1.0, manual_score=1.5, needs_manual_grade=False)
    mark_answer(grade, answered)
    assert (grade.auto_score, grade.manual_score, grade.needs_manual_grade) == (None if answered else 0, 1.5, True)
    fresh = SimpleNamespace(auto_score=None, manual_score=None, needs_manual_grade=True)
    mark_answer(fresh, answered)
    assert (fresh.auto_score, fresh.needs_manual_grade) == ((None, True) if answered else (0, False))


def test_second_run_regrades_nothing_and_a_changed_notebook_alone(batch: tuple[Path, str], template: Path) -> None:
    """Resume: unchanged submissions are skipped; a resubmitted notebook is regraded, alone."""
    course, first = batch
    assert "4 submissions, 4 to grade" in first
    results = sorted((course / "results").glob(f"*/{ASSIGNMENT}/result.json"))
    before = {p: p.stat().st_mtime_ns for p in results}
    assert "4 submissions, 0 to grade, 4 up to date" in _grade_all(course).stderr
    assert {p: p.stat().st_mtime_ns for p in results} == before

    _submit(course, "carol", submission(template, solved=("mae_loss",)))
    assert "4 submissions, 1 to grade, 3 up to date" in _grade_all(course).stderr
    assert _result(course, "carol")["score"] == POINTS["mae_loss"]
    assert {p: p.stat().st_mtime_ns for p in results if "carol" not in p.parts} == \
        {p: t for p, t in before.items() if "carol" not in p.parts}
    with Gradebook(db_url(course), course_id(course)) as gb:
        assert gb.find_submission(ASSIGNMENT, "carol").score == POINTS["mae_loss"]


def test_the_same_notebook_submitted_again_later_is_recorded_again(batch: tuple[Path, str]) -> None:
    """The late policy reads a submission's time: the same bytes submitted later are not up to date."""
    course, _ = batch
    assert "0 to grade" in _grade_all(course).stderr
    later = "2026-12-24 09:00:00.000000 UTC"
    assert later != TIMESTAMP and _result(course, "alice")["submission_timestamp"] == TIMESTAMP
    (course / "submitted" / "alice" / ASSIGNMENT / "timestamp.txt").write_text(later)
    assert "4 submissions, 1 to grade, 3 up to date" in _grade_all(course).stderr
    assert _result(course, "alice")["submission_timestamp"] == later
    assert "4 submissions, 0 to grade, 4 up to date" in _grade_all(course).stderr


def test_assignment_filter(batch: tuple[Path, str], capsys) -> None:
    """``--assignment`` limits the batch; an unknown name is an error naming the known ones."""
    course, _ = batch
    assert cli_main(["grade-all", "--course-dir", str(course), "--assignment", "ch99_nothing"]) == 2
    assert "unknown assignment 'ch99_nothing'" in capsys.readouterr().err
    csv_path = course / "other.csv"
    assert cli_main(["grade-all", "--course-dir", str(course), "--assignment", OTHER_ASSIGNMENT,
                     "--csv", str(csv_path)]) == 0
    assert "0 submissions" in capsys.readouterr().err
    assert csv_path.read_text().splitlines() == [",".join(CSV_COLUMNS)]


def test_score_equals_nbgrader_autograde(template: Path, honest: dict, tmp_path: Path, capsys) -> None:
    """Parity: on an honest, half-solved notebook, ``nbgrader autograde`` gives our score."""
    course = _course_copy(template, tmp_path)
    path = _submit(course, "bob", honest["bob"])
    ours = grade_json(path, course, capsys, "--feedback", str(tmp_path / "bob.html"))
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--student", "bob"],
                          cwd=course, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ensure_tools_on_path()
    with Gradebook(db_url(course), course_id(course)) as gb:
        sub = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "bob")
        theirs = {g.cell.name: g.score for g in sub.grades}
        total = gb.find_submission(ASSIGNMENT, "bob").score
    assert total == ours["score"] == POINTS["calc_preds"] + POINTS["accuracy"], (ours, proc.stderr[-2000:])
    # nbgrader scores an unchanged written answer 0 (and a changed one is left to the instructor)
    assert theirs == {**{f"check_{e['id']}": e["score"] for e in ours["exercises"]}, **{a: 0 for a in BY_HAND}}


def test_every_chapter_source_full_marks_release_zero(tmp_path: Path) -> None:
    """Each chapter's assignment, every check kind (return, inplace, seeded, module, pandas): the source
    notebook scores every point, the untouched release none, with 'not done yet' everywhere; each
    chapter's written questions are listed, unanswered, apart from the score."""
    course = tmp_path / "course"
    proc = run_cli("assign", "--course-dir", str(course))
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (course / "source").iterdir())
    for name in names:
        for student, step in (("reference", "source"), ("untouched", "release")):
            folder = course / "submitted" / student / name
            folder.mkdir(parents=True)
            shutil.copy(course / step / name / f"{name}.ipynb", folder)
    proc = run_cli("grade-all", "--course-dir", str(course), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    for name in names:
        for student in ("reference", "untouched"):
            result = json.loads((course / "results" / student / name / "result.json").read_text())
            assert result["max_score"] > 0
            questions = {q.id: q.points for q in load_questions(CHAPTERS_DIR / f"{name}.md")}
            # the source's answer cells hold nbgrader's stub too: nothing answered, nothing counted
            assert {q["id"]: (q["max_score"], q["answered"]) for q in result.get("by_hand", [])} == \
                {q: (p, False) for q, p in questions.items()}
            if student == "reference":
                assert result["score"] == result["max_score"], result
            else:
                assert result["score"] == 0 and all(e["message"].startswith("not done yet")
                                                    for e in result["exercises"]), result
