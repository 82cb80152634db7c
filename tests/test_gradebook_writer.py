"""One gradebook connection for a batch (:class:`autograder.gradebook.Writer`), as ``grade-all`` records.

On the small fixture assignment with hand-made results (no sandbox runs): a batch's records through one
writer land in nbgrader's gradebook exactly as records made one by one do; a record the gradebook
cannot take (another program holds it locked) is refused without marking the submission done, and
the same writer records the next submissions, and that one again, once the lock is gone.
"""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.grading

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "assign"
NAME = "ch0_assign_fixture"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from autograder.assign import assign

    course = tmp_path_factory.mktemp("writer-template") / "course"
    assign([NAME], course, FIXTURE_DIR)
    return course


def fresh_course(template: Path, where: Path) -> Path:
    from autograder.nbgrader_config import write_config

    course = where / "course"
    shutil.copytree(template, course)
    write_config(course)
    return course


def save_one(course: Path, student: str, passed: int, writer=None) -> bool:
    """``record.save`` of a hand-made result with the first ``passed`` exercises passed."""
    from autograder.grading.batch import Submission
    from autograder.grading.record import save
    from autograder.grading.results import ExerciseResult, GradeResult
    from autograder.grading.source import load_assignment

    source = load_assignment(NAME, course)
    folder = course / "submitted" / student / NAME
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{NAME}.ipynb").write_text("{}")
    exercises = [ExerciseResult(e.id, e.title, e.points if i < passed else 0, e.points, i < passed,
                                "passed" if i < passed else "wrong values")
                 for i, e in enumerate(source.exercises)]
    return save(Submission(student, NAME, folder), GradeResult(NAME, exercises), course,
                {"notebook_sha256": student, "source_sha256": "s"}, source, writer)


def auto_scores(course: Path) -> dict[str, float]:
    """Each student's total auto score in nbgrader's gradebook, read by nbgrader."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    from autograder.gradebook import course_id, db_url

    with warnings.catch_warnings(), Gradebook(db_url(course), course_id(course)) as gb:
        warnings.simplefilter("ignore", SAWarning)
        return {s.student.id: s.score for s in gb.find_assignment(NAME).submissions}


def test_one_writer_records_a_batch_as_records_one_by_one(template: Path, tmp_path: Path) -> None:
    from autograder.gradebook import Writer

    plan = {"alice": 99, "bob": 1, "carol": 0, "dave": 2}
    alone = fresh_course(template, tmp_path / "alone")
    for student, passed in plan.items():
        assert save_one(alone, student, passed)
    batch = fresh_course(template, tmp_path / "batch")
    with Writer(batch) as writer:
        for student, passed in plan.items():
            assert save_one(batch, student, passed, writer)
        save_one(batch, "bob", 99, writer)  # a regrade in the same batch replaces the score
    expected = auto_scores(alone)
    assert len(expected) == len(plan) and len(set(expected.values())) > 1
    assert auto_scores(batch) == expected | {"bob": expected["alice"]}


def test_a_locked_gradebook_refuses_one_record_and_the_writer_goes_on(template: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    from autograder.gradebook import Writer, db_path

    course = fresh_course(template, tmp_path)
    with Writer(course) as writer:
        assert save_one(course, "alice", 99, writer)
        other = sqlite3.connect(db_path(course), isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another program writing: nothing can be recorded meanwhile
        try:
            assert not save_one(course, "bob", 99, writer)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert "could not record the grade in the gradebook" in capsys.readouterr().err
        assert not (course / "results" / "bob" / NAME / "result.json").exists()  # graded again next run
        assert save_one(course, "carol", 1, writer)
        assert save_one(course, "bob", 99, writer)
    scores = auto_scores(course)
    assert scores["bob"] == scores["alice"] > scores["carol"] > 0
