"""An instructor's term end to end: a generated class of 32 students over three chapters, really graded.

``tests/class_fixture.py`` writes a graded class without grading it (fast, for the report's and the
exports' many cases). Here the same commands run on what ``grade-all`` itself recorded: real
notebooks of mixed quality (each student solves the first k exercises of a chapter, k drawn per
student and chapter; some submit nothing, one submits a broken file, one copies a classmate), due
dates in nbgrader's gradebook, a late policy, then ``grade-all`` (Dask, sandbox), ``report``,
``export --format canvas`` and ``--format moodle``, and ``similarity``. Every expectation is computed
here from the ground truth (which exercises were solved, when each notebook was handed in), never read
back from what the grader wrote. nbgrader's ``release_feedback``/``fetch_feedback`` after ``grade-all``
is covered by ``tests/test_exchange.py``.
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from autograder.cli import main as cli_main
from autograder.gradebook import course_id, db_url
from autograder.grading.source import grade_id, load_assignment
from autograder.nbgrader_config import ensure_tools_on_path
from test_grade import run_cli

pytestmark = pytest.mark.grading

CHAPTERS = ("ch2_gradient_descent", "ch3_sigmoid", "ch6_deep")
N_STUDENTS = 32
DUE = datetime(2026, 11, 2, 23, 59)
#: The late policy of this term (late_policy.toml): 10 % of the score per started day, at most 50 %.
PER_DAY, CAP = 10, 50
POLICY = f'policy = "per_day"\npercent_per_day = {PER_DAY}\nmax_percent = {CAP}\n'
BROKEN, COPIER, COPIED = "s07", "s31", "s30"


@dataclass
class Term:
    """The generated class and its ground truth."""

    course: Path
    points: dict[str, list[float]] = field(default_factory=dict)  # chapter -> points of its exercises, in order
    solved: dict[tuple[str, str], int] = field(default_factory=dict)  # (student, chapter) -> k first solved
    times: dict[tuple[str, str], datetime] = field(default_factory=dict)
    students: dict[str, dict[str, str]] = field(default_factory=dict)
    grade_all: str = ""

    def score(self, sid: str, chapter: str) -> float:
        return sum(self.points[chapter][: self.solved[(sid, chapter)]])

    def penalty(self, sid: str, chapter: str) -> float:
        late = (self.times[(sid, chapter)] - DUE).total_seconds()
        if late <= 0:
            return 0.0
        return self.score(sid, chapter) * min(CAP, PER_DAY * math.ceil(late / 86400)) / 100

    def final(self, sid: str, chapter: str) -> float:
        return self.score(sid, chapter) - self.penalty(sid, chapter)


def _solved_prefix(release: nbformat.NotebookNode, source: nbformat.NotebookNode, ids: list[str],
                   k: int) -> nbformat.NotebookNode:
    """The release with its first ``k`` exercises' cells taken from the source (a later exercise may use
    an earlier one, never the other way round, so exactly the first k pass)."""
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    answers = {grade_id(c): c.source for c in source.cells if grade_id(c) in ids[:k]}
    for cell in nb.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return nb


@pytest.fixture(scope="module")
def term(tmp_path_factory: pytest.TempPathFactory) -> Term:
    course = tmp_path_factory.mktemp("term") / "course"
    proc = run_cli("assign", *CHAPTERS, "--course-dir", str(course))
    assert proc.returncode == 0, proc.stderr
    spec = Term(course)
    rng = random.Random(2026)
    for i in range(1, N_STUDENTS + 1):
        sid = f"s{i:02d}"
        spec.students[sid] = {"first_name": f"First{i}", "last_name": f"Last{i}", "email": f"{sid}@uni.example",
                              "lms_user_id": f"{1000 + i}"}
    for chapter in CHAPTERS:
        source = nbformat.read(course / "source" / chapter / f"{chapter}.ipynb", as_version=4)
        release = nbformat.read(course / "release" / chapter / f"{chapter}.ipynb", as_version=4)
        exercises = load_assignment(chapter, course).exercises
        ids = [e.id for e in exercises]
        spec.points[chapter] = [e.points for e in exercises]
        for sid in spec.students:
            if rng.random() < 0.1 and sid not in (BROKEN, COPIER, COPIED):
                continue  # no submission
            k = rng.randint(0, len(ids))
            when = DUE + timedelta(hours=rng.choice([-200, -30, -1, 5, 30, 80, 200]))
            folder = course / "submitted" / sid / chapter
            folder.mkdir(parents=True)
            (folder / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
            if sid == BROKEN and chapter == CHAPTERS[0]:
                (folder / f"{chapter}.ipynb").write_text('{"cells": [ not a notebook')
                continue
            if sid == COPIER:
                k, when = spec.solved[(COPIED, chapter)], spec.times[(COPIED, chapter)]
                (folder / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
            spec.solved[(sid, chapter)], spec.times[(sid, chapter)] = k, when
            nbformat.write(_solved_prefix(release, source, ids, k), folder / f"{chapter}.ipynb")
    (course / "late_policy.toml").write_text(POLICY)
    ensure_tools_on_path()
    with warnings.catch_warnings(), Gradebook(db_url(course), course_id(course)) as gb:
        warnings.simplefilter("ignore", SAWarning)
        for chapter in CHAPTERS:
            gb.update_or_create_assignment(chapter, duedate=DUE)
        for sid, fields in spec.students.items():
            gb.update_or_create_student(sid, **fields)
    proc = run_cli("grade-all", "--course-dir", str(course), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    spec.grade_all = proc.stdout
    return spec


def test_grade_all_records_every_submission_with_its_true_score_and_late_penalty(term: Term) -> None:
    assert len(term.solved) >= 80 and len({k for _s, k in term.solved.items()}) > 3
    assert any(term.penalty(s, c) > 0 for s, c in term.solved) and any(
        term.penalty(s, c) == 0 and term.times[(s, c)] > DUE for s, c in term.solved), "late, and late with 0"
    for (sid, chapter) in term.solved:
        result = json.loads((term.course / "results" / sid / chapter / "result.json").read_text())
        assert result["score"] == pytest.approx(term.score(sid, chapter)), (sid, chapter)
        assert result.get("late_penalty", 0) == pytest.approx(term.penalty(sid, chapter)), (sid, chapter)


def test_grade_all_names_the_submission_it_could_not_grade(term: Term) -> None:
    assert "1 could not be graded" in term.grade_all
    line = next(ln for ln in term.grade_all.splitlines() if f"{BROKEN}/{CHAPTERS[0]}" in ln)
    assert "not a notebook" in line or "JSON" in line
    assert str(term.course) not in line


def _grades(term: Term, fmt: str, tmp_path: Path) -> list[dict[str, str]]:
    out = tmp_path / f"{fmt}.csv"
    assert cli_main(["export", "--course-dir", str(term.course), "--format", fmt, "--output", str(out)]) == 0
    with out.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _expected(term: Term, sid: str, chapter: str) -> str:
    if sid == BROKEN and chapter == CHAPTERS[0]:
        return "0"  # handed in, but not a notebook: graded 0 with the reason in the feedback
    if (sid, chapter) not in term.solved:
        return ""  # no submission: nothing to import, not a 0
    return f"{term.final(sid, chapter):g}"


def test_canvas_export_holds_each_students_final_grade(term: Term, tmp_path: Path) -> None:
    rows = {r["ID"]: r for r in _grades(term, "canvas", tmp_path) if r["ID"]}
    for sid, fields in term.students.items():
        got = {c: rows[fields["lms_user_id"]][c] for c in CHAPTERS}
        want = {c: _expected(term, sid, c) for c in CHAPTERS}
        assert {c: float(v) if v else v for c, v in got.items()} == pytest.approx(
            {c: float(v) if v else v for c, v in want.items()}), sid


def test_moodle_export_holds_each_students_final_grade(term: Term, tmp_path: Path) -> None:
    rows = {r["ID number"]: r for r in _grades(term, "moodle", tmp_path)}
    for sid, fields in term.students.items():
        record = rows[fields["lms_user_id"]]
        assert record["Email address"] == fields["email"]
        for c in CHAPTERS:
            want = _expected(term, sid, c)
            assert (float(record[c]) if record[c] else "") == (pytest.approx(float(want)) if want else ""), (sid, c)


def test_report_shows_each_chapter_with_described_plots(term: Term) -> None:
    assert cli_main(["report", "--course-dir", str(term.course)]) == 0
    page = (term.course / "report" / "index.html").read_text(encoding="utf-8")
    for chapter in CHAPTERS:
        assert chapter in page
    alts = [a or b for a, b in re.findall(r"""<img[^>]*\balt=(?:"([^"]*)"|'([^']*)')""", page)]
    assert alts and all(len(a.split()) >= 5 for a in alts)


def test_similarity_flags_the_copied_notebook(term: Term, capsys) -> None:
    chapter = next(c for c in CHAPTERS if term.solved[(COPIED, c)] > 0)
    assert cli_main(["similarity", chapter, "--course-dir", str(term.course)]) == 0
    page = (term.course / "similarity" / "index.html").read_text(encoding="utf-8")
    assert COPIER in page and COPIED in page
