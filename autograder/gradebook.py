"""Recording grades where nbgrader and a spreadsheet can read them.

Scores go into nbgrader's own gradebook (``<course>/gradebook.db``, :class:`nbgrader.api.Gradebook`)
as the ``auto_score`` of each grade cell, exactly where ``nbgrader autograde`` would put them, so that
``nbgrader export`` and formgrader see them. Written questions' answer cells are left to formgrader,
as ``nbgrader autograde`` leaves them (:func:`mark_answer`). The assignment's structure (notebook, grade and solution
cells) is taken from its source notebook with nbgrader's own ``SaveCells`` preprocessor when
``nbgrader generate_assignment`` has not recorded it already.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.course import course_lock
from autograder.late import Lateness, Policy, assess, final_score, parse_time
from autograder.safe_io import csv_cell

if TYPE_CHECKING:
    from autograder.grading.results import GradeResult
    from autograder.grading.source import SourceAssignment

#: nbgrader's gradebook file in the course folder (nbgrader's default ``db_url``).
GRADEBOOK_FILE = "gradebook.db"
#: The CSV's leading columns; one column per exercise id follows. ``score`` is the exercises' points,
#: ``late_penalty`` the points the late policy takes off, ``final_score`` what is left.
CSV_COLUMNS = ("student", "assignment", "score", "max_score", "late_penalty", "final_score")


def db_path(course_dir: Path) -> Path:
    """Where the course's gradebook is."""
    return course_dir / GRADEBOOK_FILE


def db_url(course_dir: Path) -> str:
    """The gradebook's SQLAlchemy URL, as nbgrader builds it."""
    return f"sqlite:///{db_path(course_dir).resolve()}"


def course_id(course_dir: Path) -> str:
    """The nbgrader course id: from the course's ``nbgrader_config.py``, else the course's default."""
    from autograder.nbgrader_config import CONFIG_FILE, COURSE_ID, load_config

    if (course_dir / CONFIG_FILE).is_file():
        configured = load_config(course_dir).CourseDirectory.get("course_id")
        if configured:
            return str(configured)
    return COURSE_ID


def due_date(course_dir: Path, assignment: str) -> datetime | None:
    """The assignment's due date in the gradebook (naive UTC), ``None`` if it has none or there is no
    gradebook yet (none is created)."""
    from nbgrader.api import Gradebook, MissingEntry

    if not db_path(course_dir).is_file():
        return None
    from autograder.nbgrader_config import ensure_tools_on_path

    ensure_tools_on_path()
    with Gradebook(db_url(course_dir), course_id(course_dir)) as gb:
        try:
            return gb.find_assignment(assignment).duedate
        except MissingEntry:
            return None


def _ensure_structure(url: str, cid: str, source: SourceAssignment) -> None:
    """Record the assignment's notebook and cells from its source notebook, unless already there."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.preprocessors import SaveCells

    with Gradebook(url, cid) as gb:
        gb.update_or_create_assignment(source.name)
        try:
            notebook = gb.find_notebook(source.notebook_name, source.name)
            if {c.name for c in notebook.grade_cells} >= source.gradebook_cells:
                return
        except MissingEntry:
            pass
    resources = {"nbgrader": {"notebook": source.notebook_name, "assignment": source.name, "db_url": url}}
    SaveCells().preprocess(source.notebook.copy(), resources)


class Writer:
    """One connection to the course's gradebook for a batch of :func:`record` calls.

    Opening nbgrader's :class:`~nbgrader.api.Gradebook` costs a new SQLAlchemy engine, whose cache of
    compiled queries starts empty, and the check of the assignment's structure: most of the client's
    time per submission when each record opened its own. A writer opens the gradebook on the first
    record (nothing is created for a batch that records nothing), checks each assignment's structure
    once, and commits after every submission, so an interrupted batch loses nothing it recorded and
    other writers (formgrader, the service) wait for one submission's transaction at most.
    """

    def __init__(self, course_dir: Path) -> None:
        self.course_dir = course_dir
        self._gb: Any = None
        self._structured: set[str] = set()
        #: Each assignment's layout in the gradebook (:func:`_layout`), read once: it does not change
        #: while the batch records (only :func:`_ensure_structure` writes it, before).
        self.layouts: dict[str, Layout] = {}

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, source: SourceAssignment) -> Any:
        """The open gradebook, with ``source``'s assignment, notebook and cells recorded in it."""
        from nbgrader.api import Gradebook

        from autograder.nbgrader_config import ensure_tools_on_path

        if self._gb is None or source.name not in self._structured:
            ensure_tools_on_path()  # how nbgrader stamps a new gradebook (nbgrader_config)
            self.course_dir.mkdir(parents=True, exist_ok=True)
            url, cid = db_url(self.course_dir), course_id(self.course_dir)
            if source.name not in self._structured:  # SaveCells writes on a connection of its own
                # held while the structure is checked and written, so that two writers (the service's grading
                # loops, or the service and a grade-all) do not both add the same assignment, notebook or cells
                with course_lock(self.course_dir, "gradebook"):
                    _ensure_structure(url, cid, source)
                self._structured.add(source.name)
            if self._gb is None:
                self._gb = Gradebook(url, cid)
        return self._gb

    def close(self) -> None:
        if self._gb is not None:
            self._gb.close()
            self._gb = None


def record(course_dir: Path, student: str, source: SourceAssignment, result: GradeResult,
           timestamp: str | None = None, policy: Policy | None = None, writer: Writer | None = None) -> Lateness:
    """Store one submission's scores as nbgrader's auto scores of its grade cells; flag its written
    answers for the instructor (:func:`mark_answer`); apply the late policy (:func:`apply_late_policy`).
    ``writer`` keeps the gradebook open across a batch (default: opened for this record alone).

    Returns the submission's lateness (its penalty is 0 without a stated policy)."""
    if writer is None:
        with Writer(course_dir) as own:
            return record(course_dir, student, source, result, timestamp, policy, own)
    gb = writer.open(source)
    policy = policy or Policy(stated=False)
    scores = _auto_scores(source, result)
    try:
        submission, lateness = _submission(gb, source, student, timestamp, writer.layouts, scores, result.score,
                                           policy)
        if lateness is None:  # graded before: its rows are there, with the instructor's manual scores
            notebook, grades = _notebook_grades(gb, submission, source)
            for cell_name, score in scores.items():
                grade = grades[cell_name]
                grade.auto_score = score
                grade.needs_manual_grade = _needs_manual_grade(score, grade.manual_score)
            lateness = apply_late_policy(submission, notebook, result.score, policy)
        gb.db.commit()
    except BaseException:
        gb.db.rollback()  # the session stays usable for the batch's next submission
        raise
    return lateness


def _auto_scores(source: SourceAssignment, result: GradeResult) -> dict[str, float | None]:
    """The auto score a record gives each graded cell of the source notebook, by cell name: its exercise's
    score (0 without a result), and a written answer's as ``nbgrader autograde`` gives it (:func:`mark_answer`)."""
    by_exercise = {e.id: e for e in result.exercises}
    scores: dict[str, float | None] = {
        cell: by_exercise[exercise].score if exercise in by_exercise else 0
        for cell, exercise in source.grade_cells.items()}
    answered = {q.id: q.answered for q in result.by_hand}
    for question in source.questions:
        scores[question.answer_cell] = _answer_score(answered.get(question.id, False))
    return scores


def _answer_score(answered: bool) -> float | None:
    """A written answer's auto score as ``nbgrader autograde`` gives it: none if changed, 0 if the stub."""
    return None if answered else 0


def _needs_manual_grade(auto_score: float | None, manual_score: float | None) -> bool:
    """nbgrader's flag for formgrader: no auto score (a written answer), or a score the instructor gave."""
    return auto_score is None or manual_score is not None


#: An assignment in the gradebook: its id, and for each of its notebooks the notebook's id and name, the
#: cells a submission has a grade of (id, name) and the cells it has a comment on (nbgrader's
#: ``add_submission`` order).
Layout = tuple[str, list[tuple[str, str, list[tuple[str, str]], list[str]]]]


def _layout(gb: Any, assignment: str) -> Layout:
    """``assignment``'s :data:`Layout`, read from the gradebook (``MissingEntry`` if it is not there)."""
    found = gb.find_assignment(assignment)
    return found.id, [(nb.id, nb.name, [(c.id, c.name) for c in (*nb.grade_cells, *nb.task_cells)],
                       [c.id for c in (*nb.solution_cells, *nb.task_cells)]) for nb in found.notebooks]


def _submission(gb: Any, source: SourceAssignment, student: str, timestamp: str | None,
                layouts: dict[str, Layout], scores: dict[str, float | None], score: float,
                policy: Policy) -> tuple[Any, Lateness | None]:
    """The student's submission of ``source``'s assignment with its ``timestamp``, as nbgrader's
    ``update_or_create_student`` and ``update_or_create_submission`` leave them, in fewer round trips:
    an unknown student is added in this record's transaction (not committed on its own), a known one is
    not written again. A new submission's rows are written by :func:`_add_submission` with this
    record's ``scores`` and lateness in them, which it returns; for one graded before, ``None``."""
    from nbgrader.api import MissingEntry, Student

    if gb.db.get(Student, student) is None:
        gb.db.add(Student(id=student))
    when = parse_time(timestamp)  # naive UTC, as nbgrader stores it; None for none or an unreadable one
    try:
        submission = gb.find_submission(source.name, student)
    except MissingEntry:
        if source.name not in layouts:
            layouts[source.name] = _layout(gb, source.name)
        return None, _add_submission(gb, layouts[source.name], source, student, when, scores, score, policy)
    if when is not None:
        submission.timestamp = when
    return submission, None


def _add_submission(gb: Any, layout: Layout, source: SourceAssignment, student: str, when: datetime | None,
                    scores: dict[str, float | None], score: float, policy: Policy) -> Lateness:
    """The rows nbgrader's ``add_submission`` writes for a new submission (the submission; per notebook of
    the assignment, a submitted notebook with a grade of each grade cell, a comment on each solution
    cell, and both for each task cell), each table in one statement of this record's transaction: no
    object per row, no commit of its own. The source notebook's grades hold ``scores`` and its
    ``late_submission_penalty`` the lateness, as the update of a submission graded before sets them
    (:func:`record`); every other column takes the model's default, as there. Returns the lateness.
    ``tests/test_gradebook_writer.py`` compares the result with nbgrader's own calls'."""
    from nbgrader.api import Assignment, Comment, Grade, MissingEntry, SubmittedAssignment, SubmittedNotebook, new_uuid
    from sqlalchemy import insert, select

    assignment_id, notebooks = layout
    mine = [cells for _, name, cells, _ in notebooks if name == source.notebook_name]
    if not mine:
        raise MissingEntry(f"No such notebook: {source.name}/{source.notebook_name}")
    _require_cells(scores.keys(), {name for _, name in mine[0]})
    duedate = gb.db.execute(select(Assignment.duedate).where(Assignment.id == assignment_id)).scalar_one()
    extension = (policy.extension(student, source.name) or None) if policy.stated else None
    lateness = assess(policy, score, when, duedate, extension)
    gb.db.flush()  # a student added by this record is written before the submission that names them
    submission_id = new_uuid()
    gb.db.execute(insert(SubmittedAssignment), [{"id": submission_id, "assignment_id": assignment_id,
                                                 "student_id": student, "timestamp": when,
                                                 "extension": extension}])
    rows: dict[Any, list[dict[str, Any]]] = {SubmittedNotebook: [], Grade: [], Comment: []}
    for notebook_id, name, graded, commented in notebooks:
        submitted, ours = new_uuid(), name == source.notebook_name
        rows[SubmittedNotebook].append({"id": submitted, "assignment_id": submission_id, "notebook_id": notebook_id,
                                        "late_submission_penalty": (lateness.penalty or None) if ours else None})
        for cell, cell_name in graded:
            auto = scores.get(cell_name) if ours else None
            given = ours and cell_name in scores  # otherwise the model's defaults: no score, to be graded
            rows[Grade].append({"id": new_uuid(), "notebook_id": submitted, "cell_id": cell, "auto_score": auto,
                                "needs_manual_grade": _needs_manual_grade(auto, None) if given else True})
        rows[Comment] += [{"id": new_uuid(), "notebook_id": submitted, "cell_id": cell} for cell in commented]
    for model, values in rows.items():
        if values:
            gb.db.execute(insert(model), values)
    return lateness


def _notebook_grades(gb: Any, submission: Any, source: SourceAssignment) -> tuple[Any, dict[str, Any]]:
    """The submission's notebook of ``source`` and its grades by grade cell name, in two queries (what
    nbgrader's ``find_submission_notebook`` and one ``find_grade`` per cell would find)."""
    from nbgrader.api import Grade, GradeCell, MissingEntry, Notebook, SubmittedNotebook
    from sqlalchemy.exc import NoResultFound

    try:
        notebook = (gb.db.query(SubmittedNotebook).join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
                    .filter(SubmittedNotebook.assignment_id == submission.id, Notebook.name == source.notebook_name)
                    .one())
    except NoResultFound:
        raise MissingEntry(f"No such submitted notebook: {source.name}/{source.notebook_name}") from None
    grades = dict(gb.db.query(GradeCell.name, Grade).join(Grade, Grade.cell_id == GradeCell.id)
                  .filter(Grade.notebook_id == notebook.id).all())
    _require_cells(source.gradebook_cells, grades.keys())
    return notebook, grades


def _require_cells(wanted: Iterable[str], present: Iterable[str]) -> None:
    """Raise nbgrader's ``MissingEntry`` naming the grade cells ``wanted`` that the gradebook lacks."""
    from nbgrader.api import MissingEntry

    missing = set(wanted) - set(present)
    if missing:
        raise MissingEntry(f"No such grade cell(s) in the gradebook: {', '.join(sorted(missing))}")


def apply_late_policy(submission: Any, notebook: Any, score: float, policy: Policy) -> Lateness:
    """Record a submission's lateness as nbgrader does: the extension on the submission (nbgrader's
    ``extension``), the penalty in points on the submitted notebook (``late_submission_penalty``, what
    nbgrader's ``AssignLatePenalties`` sets; ``None`` when there is none, as nbgrader resets it).

    A stated policy's extensions replace the gradebook's (the file is the one place they are stated);
    without a policy file the gradebook's extension is kept and only read.
    """
    assignment = submission.assignment
    if policy.stated:
        extension = policy.extension(submission.student_id, assignment.name)
        submission.extension = extension if extension else None
    lateness = assess(policy, score, submission.timestamp, assignment.duedate, submission.extension)
    notebook.late_submission_penalty = lateness.penalty or None
    return lateness


def mark_answer(grade: Any, answered: bool) -> None:
    """Set a written answer's nbgrader grade as ``nbgrader autograde`` does (``SaveAutoGrades``).

    A changed answer has no auto score and needs manual grading, so formgrader lists it for the
    instructor; an unchanged one (nbgrader's stub) scores 0 and needs none, unless the instructor
    already graded it. The instructor's ``manual_score`` is never touched.
    """
    grade.auto_score = _answer_score(answered)
    grade.needs_manual_grade = _needs_manual_grade(grade.auto_score, grade.manual_score)


def write_csv(path: Path, rows: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Write the grades: student, assignment, score, max_score, late penalty, final score, then each
    exercise's score.

    ``rows`` are ``(student, result)`` with ``result`` in the ``grade --json`` schema. An exercise
    column is empty for rows of assignments that do not have that exercise. Written questions have no
    column: they are graded by hand in formgrader (``nbgrader export`` has their scores), and a 0 here
    would read as a grade they have not had. Every text field goes
    through :func:`autograder.safe_io.csv_cell` (OWASP's rule against formula injection: a field that
    a spreadsheet would take for a formula starts with ``'``).
    """
    exercise_ids: list[str] = []
    for _student, data in rows:
        for ex in data.get("exercises", []):
            if ex["id"] not in exercise_ids:
                exercise_ids.append(ex["id"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(c) for c in (*CSV_COLUMNS, *exercise_ids)])
    for student, data in sorted(rows, key=lambda r: (str(r[1].get("assignment", "")), r[0])):
        scores = {ex["id"]: ex["score"] for ex in data.get("exercises", [])}
        score = data.get("score")
        scored = isinstance(score, (int, float)) and not isinstance(score, bool)
        penalty = (data.get("late_penalty") or 0) if scored else ""
        final = final_score(score, penalty) if scored else ""  # no score (not graded): no final score either
        writer.writerow([csv_cell(v) for v in (student, data.get("assignment"), data.get("score"),
                                               data.get("max_score"), penalty, final,
                                               *(scores.get(i, "") for i in exercise_ids))])
    from autograder.course import write_atomic

    write_atomic(path, out.getvalue())
