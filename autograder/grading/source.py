"""The grader's inputs: a submitted notebook read and validated, and its assignment's nbgrader source
notebook (exercises, points, locked setup cells, written questions), recognised from the notebook."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from autograder import safe_io
from autograder.chapters import chapter_paths, load_exercises
from autograder.notebook_format import ANSWER_PREFIX, CHECK_PREFIX, METADATA_KEY, QUESTION_PREFIX, TASK_PREFIX
from autograder.course import CourseError, course_lock, known_assignments, source_path, unknown_assignment
from autograder.grading.results import NOT_GRADED
from autograder.safe_io import MAX_NOTEBOOK_BYTES, BadJSON, UnsafeFile, loads_bounded

#: Key of the assignment's name in the notebook metadata ``autograder assign`` writes.
ASSIGNMENT_KEY = "assignment"


def sha256_file(path: Path) -> str:
    """Hex digest of a file's bytes (the course's own files; a submission's go through safe_io)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_notebook(data: bytes, name: str, max_bytes: int = MAX_NOTEBOOK_BYTES) -> nbformat.NotebookNode:
    """Validate a submitted notebook's bytes; :class:`CourseError` says what is wrong with them.

    The JSON is parsed with its size, number of values and nesting bounded first
    (:func:`autograder.safe_io.loads_bounded`), so no notebook can drive the grader into recursion or
    unbounded memory; then nbformat's schema.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CourseError(f"{name} is not a notebook: it is not valid JSON (not UTF-8 text: {err.reason} at "
                          f"byte {err.start})") from None
    try:
        loaded = loads_bounded(data.removeprefix(b"\xef\xbb\xbf"), max_bytes)
    except BadJSON as err:
        raise CourseError(f"{name} is not a notebook: {err}") from None
    if not isinstance(loaded, dict) or "nbformat" not in loaded or not isinstance(loaded.get("cells"), list):
        raise CourseError(f"{name} is not a notebook: a Jupyter notebook is a JSON object with "
                          f"'nbformat' and a list of 'cells'")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)  # also joins multi-line sources
            nbformat.validate(nb)
    except Exception as err:  # nbformat raises several types for malformed notebooks
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise CourseError(f"{name} is not a valid Jupyter notebook: {first}") from None
    return nb


def read_submission(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> nbformat.NotebookNode:
    """Read and validate a notebook file given by path (``grade PATH``).

    The file itself is opened without following a symbolic link and without blocking, and must be a
    regular file of at most ``max_bytes`` (:func:`autograder.safe_io.read_regular`).
    """
    try:
        data = safe_io.read_regular(path, max_bytes)
    except safe_io.TooBig as err:
        raise CourseError(f"{NOT_GRADED}: {err} (clear the outputs and save again)") from None
    except UnsafeFile as err:
        raise CourseError(f"{NOT_GRADED}: {err}") from None
    return parse_notebook(data, str(path), max_bytes)


def _nbgrader_meta(cell: nbformat.NotebookNode) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    """The nbgrader ``grade_id`` of a cell, if it has one."""
    gid = _nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


@dataclass(frozen=True)
class ExerciseInfo:
    """An exercise as the source notebook defines it: solution cell id, points, task title."""

    id: str
    points: float
    title: str


@dataclass(frozen=True)
class QuestionInfo:
    """A written question as the source notebook defines it: its id (the answer cell's grade_id is
    ``ANSWER_PREFIX + id``), points and a short title."""

    id: str
    points: float
    title: str

    @property
    def answer_cell(self) -> str:
        """The grade_id of its answer cell (a grade cell in nbgrader's gradebook)."""
        return ANSWER_PREFIX + self.id


@dataclass(frozen=True)
class SourceAssignment:
    """What the grader needs from an assignment's nbgrader source notebook."""

    name: str
    path: Path
    sha256: str
    exercises: tuple[ExerciseInfo, ...]
    #: Locked, ungraded code cells (``setup_code``): grade_id -> source, in notebook order.
    locked_code: dict[str, str]
    #: Every grade cell: grade_id -> the exercise it grades.
    grade_cells: dict[str, str]
    notebook: nbformat.NotebookNode
    #: The written questions (manually graded answer cells), in notebook order.
    questions: tuple[QuestionInfo, ...] = ()

    @property
    def notebook_name(self) -> str:
        """The notebook's name in nbgrader's gradebook (its file stem)."""
        return self.path.stem

    @property
    def gradebook_cells(self) -> frozenset[str]:
        """The grade_ids of every cell nbgrader's gradebook grades: the checks' and the written answers'."""
        return frozenset((*self.grade_cells, *(q.answer_cell for q in self.questions)))


def ensure_source(assignment: str, course_dir: Path) -> Path:
    """The source notebook of ``assignment``, generated with ``autograder assign`` if it is missing."""
    path = source_path(course_dir, assignment)
    if path.is_file():
        return path
    from autograder import assign

    # two of the service's grading loops, or the service and a grade-all, may meet it missing at once
    with course_lock(course_dir, "generate"):
        if path.is_file():
            return path
        how = f"python -m autograder assign {assignment} --course-dir {course_dir}"
        print(f"autograder: no source notebook at {path}; generating it ({how})", file=sys.stderr)
        try:
            with contextlib.redirect_stdout(sys.stderr):
                assign.assign([assignment], course_dir)
        except CourseError as err:
            raise CourseError(f"no source notebook at {path}, and generating it failed: {err}\n"
                              f"Generate it with: {how}") from None
    if not path.is_file():
        raise CourseError(f"no source notebook at {path} after generating it; generate it with: {how}")
    return path


_EXERCISE_HEADING = re.compile(r"^\s*#+\s*(Exercise\b.*?)\s*$", re.MULTILINE)


def _title(markdown: str, fallback: str) -> str:
    """The task's ``### Exercise N.k: title`` heading, without the hashes."""
    m = _EXERCISE_HEADING.search(markdown)
    return m.group(1) if m else fallback


_QUESTION_LABEL = re.compile(r"^\s*\*\*\s*(Question\b[^*]*?)\.?\s*\*\*", re.MULTILINE)


def _question_title(markdown: str, fallback: str) -> str:
    """A question's bold ``**Question N.k.**`` label, without the stars and the final dot."""
    m = _QUESTION_LABEL.search(markdown)
    return m.group(1) if m else fallback


def is_answer_cell(cell: nbformat.NotebookNode) -> bool:
    """Whether a cell is a manually graded written answer: nbgrader's markdown cell with ``solution``
    and ``grade`` true (``autograder assign`` names it ``ANSWER_PREFIX + <question id>``)."""
    meta = _nbgrader_meta(cell)
    return cell.cell_type == "markdown" and bool(meta.get("solution")) and bool(meta.get("grade"))


def source_questions(nb: nbformat.NotebookNode, path: Path) -> tuple[QuestionInfo, ...]:
    """The written questions of a source notebook, in order, from their answer cells."""
    by_id = {gid: cell for cell in nb.cells if (gid := grade_id(cell))}
    questions = []
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid is None or not is_answer_cell(cell):
            continue
        if not gid.startswith(ANSWER_PREFIX):
            raise CourseError(f"{path}: answer cell {gid!r} is not named {ANSWER_PREFIX}<question id>; "
                              f"regenerate the assignment")
        qid = gid.removeprefix(ANSWER_PREFIX)
        question = by_id.get(QUESTION_PREFIX + qid)
        title = _question_title(question.source, qid) if question is not None else qid
        questions.append(QuestionInfo(qid, _number(_nbgrader_meta(cell).get("points", 0)), title))
    return tuple(questions)


def load_assignment(assignment: str, course_dir: Path) -> SourceAssignment:
    """Read an assignment's source notebook (generating it first if needed)."""
    path = ensure_source(assignment, course_dir)
    nb = nbformat.read(path, as_version=4)
    by_id = {gid: cell for cell in nb.cells if (gid := grade_id(cell))}
    exercises: list[ExerciseInfo] = []
    locked: dict[str, str] = {}
    grade_cells: dict[str, str] = {}
    for cell in nb.cells:
        meta, gid = _nbgrader_meta(cell), grade_id(cell)
        if gid is None or cell.cell_type != "code":
            continue
        if meta.get("solution") and not meta.get("grade"):
            check = by_id.get(CHECK_PREFIX + gid)
            if check is None or not _nbgrader_meta(check).get("grade"):
                raise CourseError(f"{path}: solution cell {gid!r} has no grade cell {CHECK_PREFIX + gid!r}; "
                                  f"regenerate the assignment (python -m autograder assign {assignment})")
            task = by_id.get(TASK_PREFIX + gid)
            title = _title(task.source, gid) if task is not None else gid
            exercises.append(ExerciseInfo(gid, _number(_nbgrader_meta(check).get("points", 0)), title))
            grade_cells[CHECK_PREFIX + gid] = gid
        elif meta.get("locked") and not meta.get("grade") and not meta.get("solution"):
            locked[gid] = cell.source
    if not exercises:
        raise CourseError(f"{path} has no exercises (no nbgrader solution cells)")
    return SourceAssignment(assignment, path, sha256_file(path), tuple(exercises), locked, grade_cells, nb,
                            source_questions(nb, path))


def _number(value: Any) -> float:
    """Points as a whole number when they are one (nbgrader stores floats)."""
    value = float(value)
    return int(value) if value.is_integer() else value


def _exercise_ids(assignment: str, course_dir: Path) -> frozenset[str]:
    """The exercise ids of an assignment, from its source notebook if there is one, else its chapter.
    Read once per state of the file (:func:`_ids_in`): a chapter's MyST parse costs tens of milliseconds,
    and the service asks again for each submission it grades."""
    path = source_path(course_dir, assignment)
    if path.is_file():
        return _ids_in(path, _file_state(path))
    chapter = {p.stem: p for p in chapter_paths()}.get(assignment)
    return _ids_in(chapter, _file_state(chapter)) if chapter else frozenset()


def _file_state(path: Path) -> tuple[int, int, int]:
    """What changes when a file is written: its inode, size and modification time."""
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=64)
def _ids_in(path: Path, state: tuple[int, int, int]) -> frozenset[str]:
    """The exercise ids in a source notebook (``.ipynb``) or a chapter, as the file was in ``state``."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        return frozenset(gid for cell in nb.cells if (gid := grade_id(cell)) and _nbgrader_meta(cell).get("solution"))
    return frozenset(ex.id for ex in load_exercises(path))


def assignment_catalogue(course_dir: Path) -> dict[str, frozenset[str]]:
    """Every known assignment and its exercise ids: what :func:`recognise_assignment` needs, as data (a
    grading worker that does not share the course folder recognises notebooks with it)."""
    return {a: _exercise_ids(a, course_dir) for a in known_assignments(course_dir)}


def recognise_assignment(nb: nbformat.NotebookNode, requested: str | None, course_dir: Path | None,
                         catalogue: dict[str, frozenset[str]] | None = None) -> str:
    """The assignment a notebook belongs to; with ``requested``, check that it is that one.

    The known assignments come from ``catalogue`` (:func:`assignment_catalogue`) if given, else from
    ``course_dir``.
    """
    known = list(catalogue) if catalogue is not None else known_assignments(course_dir)
    if requested is not None and requested not in known:
        raise unknown_assignment(requested, known)
    meta = nb.metadata.get(METADATA_KEY)
    claimed = meta.get(ASSIGNMENT_KEY) if isinstance(meta, dict) else None
    if not isinstance(claimed, str):
        ids = {gid for cell in nb.cells if (gid := grade_id(cell))}
        ids_of = catalogue.__getitem__ if catalogue is not None else (lambda a: _exercise_ids(a, course_dir))
        overlap = {a: len(ids & ids_of(a)) for a in known} if ids else {}
        best = max(overlap, key=overlap.get, default=None)
        claimed = best if best is not None and overlap[best] > 0 else None
    if requested is not None:
        if claimed is not None and claimed != requested:
            raise CourseError(f"this notebook is assignment {claimed}, not {requested}")
        return requested
    if claimed is None:
        raise CourseError("cannot tell which assignment this notebook is (it has no 'autograder' metadata "
                          f"and no exercise cells of a known assignment); pass --assignment NAME, one of: "
                          f"{', '.join(known)}")
    if claimed not in known:
        raise unknown_assignment(claimed, known)
    return claimed
