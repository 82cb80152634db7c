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
from datetime import timedelta
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


def test_grade_rows_missing_from_the_gradebook_are_named_and_nothing_is_marked_done(
        template: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Both ways a record meets a gradebook that lacks grade cells (a new submission, whose rows follow
    the batch's layout of the assignment; one graded before, whose own rows are read) refuse the record,
    name the missing cells, and leave the submission to be graded again; the writer goes on."""
    from autograder.gradebook import Writer, db_path
    from autograder.grading.source import load_assignment

    course = fresh_course(template, tmp_path)
    cells = sorted(load_assignment(NAME, course).grade_cells)
    assert len(cells) >= 2
    with Writer(course) as writer:
        assert save_one(course, "alice", 99, writer)
        # a new submission: the layout the batch read lacks a cell (the gradebook changed under it)
        assignment_id, notebooks = writer.layouts[NAME]
        writer.layouts[NAME] = (assignment_id, [(nb_id, name, [c for c in graded if c[1] != cells[0]], commented)
                                                for nb_id, name, graded, commented in notebooks])
        assert not save_one(course, "bob", 99, writer)
        err = capsys.readouterr().err
        assert "No such grade cell(s) in the gradebook" in err and cells[0] in err and cells[1] not in err
        assert not (course / "results" / "bob" / NAME / "result.json").exists()
    # graded before: one of alice's grade rows is gone
    db = sqlite3.connect(db_path(course))
    with db:
        gone = db.execute("DELETE FROM grade WHERE cell_id IN (SELECT id FROM base_cell WHERE name = ?)",
                          (cells[1],)).rowcount
    assert gone == 1
    db.close()
    with Writer(course) as writer:
        assert not save_one(course, "alice", 1, writer)
        err = capsys.readouterr().err
        assert "No such grade cell(s) in the gradebook" in err and cells[1] in err and cells[0] not in err
        assert save_one(course, "carol", 1, writer)  # the writer goes on
    assert set(auto_scores(course)) == {"alice", "carol"}


def record_with_nbgraders_calls(course: Path, student: str, source, result, timestamp: str, policy) -> None:
    """The same record made the long way, with nbgrader's own API calls one by one (what
    :func:`autograder.gradebook.record` did before it saved round trips): the oracle of the test below."""
    from nbgrader.api import Gradebook

    from autograder.gradebook import course_id, db_url, mark_answer
    from autograder.late import assess

    by_exercise = {e.id: e for e in result.exercises}
    with warnings.catch_warnings(), Gradebook(db_url(course), course_id(course)) as gb:
        warnings.simplefilter("ignore")
        gb.update_or_create_student(student)
        gb.update_or_create_submission(source.name, student, timestamp=timestamp)
        for cell, exercise_id in source.grade_cells.items():
            grade = gb.find_grade(cell, source.notebook_name, source.name, student)
            grade.auto_score = by_exercise[exercise_id].score
            grade.needs_manual_grade = grade.manual_score is not None
        answers = {q.id: q.answered for q in result.by_hand}
        for question in source.questions:
            mark_answer(gb.find_grade(question.answer_cell, source.notebook_name, source.name, student),
                        answers.get(question.id, False))
        submission = gb.find_submission(source.name, student)
        if policy.stated:
            submission.extension = policy.extension(student, source.name) or None
        lateness = assess(policy, result.score, submission.timestamp, submission.assignment.duedate,
                          submission.extension)
        gb.find_submission_notebook(source.notebook_name, source.name, student).late_submission_penalty = \
            lateness.penalty or None
        gb.db.commit()


def gradebook_rows(course: Path) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Everything a record writes, by name (not by the random ids): students, submissions, notebooks,
    grades and comments: ``(grades, comments, students)``."""
    submitted = ("FROM submitted_notebook sn JOIN submitted_assignment sa ON sa.id = sn.assignment_id "
                 "JOIN student st ON st.id = sa.student_id JOIN notebook nb ON nb.id = sn.notebook_id "
                 "JOIN assignment a ON a.id = sa.assignment_id ")
    with sqlite3.connect(course / "gradebook.db") as db:
        return (sorted(db.execute(
            "SELECT st.id, st.first_name, st.email, a.name, sa.timestamp, sa.extension, nb.name, sn.flagged, "
            "sn.late_submission_penalty, bc.name, g.auto_score, g.manual_score, g.needs_manual_grade, g.extra_credit "
            + submitted + "JOIN grade g ON g.notebook_id = sn.id JOIN base_cell bc ON bc.id = g.cell_id").fetchall()),
                sorted(db.execute("SELECT st.id, a.name, nb.name, bc.name, c.auto_comment, c.manual_comment "
                               + submitted + "JOIN comment c ON c.notebook_id = sn.id "
                               "JOIN base_cell bc ON bc.id = c.cell_id").fetchall()),
                sorted(db.execute("SELECT id, first_name, email FROM student").fetchall()))


def test_a_record_writes_what_nbgraders_own_calls_write(tmp_path_factory: pytest.TempPathFactory,
                                                        tmp_path: Path) -> None:
    """A new student, a student of the roster (their names kept), a regrade whose answer the instructor
    has scored by hand (kept, and shown again), a late submission with an extension under a stated policy,
    in an assignment whose gradebook has cells that no result scores (a stale one, another notebook's):
    :func:`autograder.gradebook.record` leaves the gradebook as nbgrader's own calls, one by one, do."""
    from nbgrader.api import Gradebook

    from autograder import gradebook
    from autograder.grading.results import ByHandResult, ExerciseResult, GradeResult
    from autograder.grading.source import load_assignment
    from autograder.late import PER_DAY, Policy

    from test_grade import ASSIGNMENT, generated_course

    template = generated_course(tmp_path_factory)  # chapter 2: exercises and written questions
    courses = {way: fresh_course(template, tmp_path / way) for way in ("ours", "nbgrader")}
    source = load_assignment(ASSIGNMENT, courses["ours"])
    assert source.questions, "the assignment needs a written answer for the manual score's case"
    policy = Policy(method=PER_DAY, percent_per_day=10.0, extensions={("late", ASSIGNMENT): timedelta(days=2)})

    def result(passed: int, answered: bool) -> GradeResult:
        exercises = [ExerciseResult(e.id, e.title, e.points if i < passed else 0, e.points, i < passed, "")
                     for i, e in enumerate(source.exercises)]
        return GradeResult(ASSIGNMENT, exercises,
                           by_hand=[ByHandResult(q.id, q.title, q.points, answered) for q in source.questions])

    plan = [("alice", result(99, True), "2026-11-20 10:00:00.000000 UTC"),
            ("roster", result(1, False), "2026-11-21 10:00:00.000000 UTC"),
            ("late", result(2, True), "2030-01-01 10:00:00.000000 UTC"),
            ("alice", result(0, True), "2026-11-22 10:00:00.000000 UTC")]  # a regrade, after a manual score
    for way, course in courses.items():
        gradebook._ensure_structure(gradebook.db_url(course), gradebook.course_id(course), source)
        with warnings.catch_warnings(), Gradebook(gradebook.db_url(course), gradebook.course_id(course)) as gb:
            warnings.simplefilter("ignore")
            gb.update_or_create_student("roster", first_name="Ro", email="ro@example.org")
            gb.update_or_create_assignment(ASSIGNMENT, duedate="2026-12-01 00:00:00 UTC")
            # cells no result scores: one the source no longer has, and one of another notebook
            gb.update_or_create_grade_cell("stale", source.notebook_name, ASSIGNMENT, max_score=1, cell_type="code")
            gb.update_or_create_notebook("other", ASSIGNMENT)
            gb.update_or_create_grade_cell("elsewhere", "other", ASSIGNMENT, max_score=2, cell_type="code")
        with gradebook.Writer(course) as writer:
            for i, (student, res, when) in enumerate(plan):
                if i == 3:  # meanwhile, the instructor scores alice's first answer by hand in formgrader
                    with warnings.catch_warnings(), Gradebook(gradebook.db_url(course),
                                                              gradebook.course_id(course)) as gb:
                        warnings.simplefilter("ignore")
                        gb.find_grade(source.questions[0].answer_cell, source.notebook_name, ASSIGNMENT,
                                      "alice").manual_score = 0.5
                        gb.db.commit()
                if way == "ours":
                    gradebook.record(course, student, source, res, when, policy, writer)
                else:
                    record_with_nbgraders_calls(course, student, source, res, when, policy)
    ours, theirs = (gradebook_rows(courses[w]) for w in ("ours", "nbgrader"))
    assert ours == theirs
    grades, comments, _students = ours
    assert {row[0] for row in comments} == {"alice", "roster", "late"}  # a comment per answer cell, as nbgrader
    assert not any(row[7] for row in grades)  # no submitted notebook flagged
    assert any(row[0] == "roster" and row[1] == "Ro" for row in grades)
    assert any(row[0] == "alice" and row[11] == 0.5 and row[12] for row in grades)  # kept, and to be reviewed
    assert any(row[0] == "late" and row[5] is not None and row[8] for row in grades)  # extended, still late
