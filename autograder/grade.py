"""Grading submitted notebooks: ``python -m autograder grade`` (one) and ``grade-all`` (a class).

How one notebook is graded:

1. The submission is read and validated (size, JSON, nbformat schema) and its assignment is
   recognised from the notebook's ``autograder`` metadata, or else from its nbgrader cell ids.
2. What runs is rebuilt from the assignment's *source* notebook: its locked code cells (the setup:
   imports, the check runtime, the public cases) are restored, the student's solution cells are taken
   by their nbgrader ``grade_id``, the student's own extra code cells are kept in order, and the check
   cells are not run at all: the verdict never comes from the student's kernel.
3. Cells that reach for the reference ``solutions`` package are found statically (:func:`uses_solutions`);
   those exercises score 0 (the sandbox also makes the import impossible at run time).
4. :func:`autograder.sandbox.run_submission` runs the cells in a fresh, sandboxed process and calls each
   exercise's function on its public and hidden cases' arguments, handing the outputs back as data.
5. Here, outside the student's reach, the outputs are compared with the reference's outputs
   (:func:`autograder.runtime.compare_observed`). An exercise scores its points only if every case
   matches, as nbgrader's all-or-nothing grade cells do. A failed hidden case says only what kind of
   difference it was (shape, dtype, values, ...), never its inputs or expected outputs.
6. Written questions (nbgrader's manually graded markdown answer cells) are not scored here: the
   result lists each as to be graded by hand, with its points and whether the student answered it
   (:func:`read_answers`); the score is the autograded total.

``grade-all`` grades nbgrader's ``submitted/<student>/<assignment>/`` layout: one independent job per
submission in a process pool, results recorded in nbgrader's gradebook, per-submission JSON and HTML
feedback, and a CSV of grades. It resumes: a submission graded before and unchanged is not regraded.
Its ``result.json`` lives in ``results/<student>/<assignment>/``, not in nbgrader's ``autograded/``
folder, so nbgrader's own ``autograde`` can still be run on the same course afterwards.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import json
import multiprocessing
import os
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder.assign import ANSWER_PREFIX, ANSWER_STUB, CHECK_PREFIX, METADATA_KEY, QUESTION_PREFIX, TASK_PREFIX
from autograder.assign import known_assignments as chapter_assignments
from autograder.chapters import load_exercises
from autograder.cli import CourseError, limits_from_args
from autograder.runtime import Difference
from autograder import safe_io
from autograder.safe_io import MAX_NOTEBOOK_BYTES, MAX_TIMESTAMP_BYTES, BadJSON, UnsafeFile, loads_bounded, neutral
from autograder.sandbox import SAFE_EXCEPTION_NAMES

#: Key of the assignment's name in the notebook metadata ``autograder assign`` writes.
ASSIGNMENT_KEY = "assignment"
#: nbgrader's course folders.
SOURCE_DIR = "source"
SUBMITTED_DIR = "submitted"
#: Our per-submission results, beside (not inside) nbgrader's own autograded/ folder, so that a
#: later `nbgrader autograde` does not take a student as already graded.
RESULTS_DIR = "results"
FEEDBACK_DIR = "feedback"
RESULT_FILE = "result.json"
TIMESTAMP_FILE = "timestamp.txt"
#: Not nbgrader's "grades.csv": ``nbgrader export`` run in the course folder would overwrite it.
DEFAULT_CSV_NAME = "grades-by-exercise.csv"
#: The reference package students must not use, and what their feedback says when they do.
SOLUTIONS_PACKAGE = "solutions"
SOLUTIONS_MESSAGE = "uses the reference solutions package, which is not allowed"
#: What a case says when the function still holds nbgrader's stub.
NOT_DONE = "not done yet (it still raises NotImplementedError)"
#: The sandbox's error for a case that never ran because the run ended early.
NOT_RUN = "not run"
#: How the sandbox's ``fatal`` starts when its process failed before any student code ran
#: (``autograder.sandbox._startup_failure``): a problem of the grading machine, not of the notebook.
STARTUP_FAILURE = "the grading process failed to start"
#: Longest message shown for one exercise (cell errors and public differences can be long).
MAX_MESSAGE_CHARS = 400
#: How a submission that the grader could not read or run starts its message.
NOT_GRADED = "could not be graded"
#: Where ``grade`` writes the feedback of a notebook that lies in the course's source or release
#: folders (which ``nbgrader release_assignment`` ships to students): ``<course>/<this>/``.
LOCAL_FEEDBACK_DIR = "feedback-local"
#: Course folders grading never writes into.
PROTECTED_DIRS = ("source", "release")
#: What replaces a cell the grader's own parser cannot read (nested too deeply): it fails, alone.
UNPARSABLE_CELL = ("raise RecursionError('this cell is nested too deeply for the grader to read, "
                   "so it was not run')\n")


# --------------------------------------------------------------------------------------------------
# Results


@dataclass
class ExerciseResult:
    """The verdict on one exercise."""

    id: str
    title: str
    score: float
    max_score: float
    passed: bool
    message: str

    def as_json(self) -> dict[str, Any]:
        """The exercise in the ``--json`` schema."""
        return {"id": self.id, "score": self.score, "max_score": self.max_score,
                "passed": self.passed, "message": self.message}


@dataclass
class ByHandResult:
    """A written question: graded by the instructor, not here, so it has points but no score yet."""

    id: str
    title: str
    max_score: float
    #: Whether the answer cell differs from nbgrader's stub (nbgrader's "changed" solution cell).
    answered: bool

    def as_json(self) -> dict[str, Any]:
        """The question in the ``--json`` schema's optional ``by_hand`` list."""
        return {"id": self.id, "max_score": self.max_score, "answered": self.answered}


class GraderUnavailable(CourseError):
    """The grader itself could not run a notebook (no sandbox, or its process did not start).

    Nothing of the student's was judged, so this is never recorded as a score: ``grade`` exits with
    the message and ``grade-all`` leaves the submission to be graded on its next run.
    """


@dataclass
class GradeResult:
    """The verdict on one notebook: one result per exercise, plus notes about the whole run."""

    assignment: str
    exercises: list[ExerciseResult]
    #: Things worth telling the student that belong to no exercise (an added cell raised, a time limit).
    notes: list[str] = field(default_factory=list)
    #: False when the notebook could not be graded at all (unreadable, wrong assignment, grader crash).
    graded: bool = True
    #: True when the grader, not the notebook, failed: the result must not be recorded.
    retry: bool = False
    #: Set by ``grade-all``'s job: the digest of the notebook bytes graded, and nbgrader's timestamp.
    notebook_sha256: str | None = None
    timestamp: str | None = None
    #: The written questions, to be graded by hand: never part of ``score`` nor ``max_score``.
    by_hand: list[ByHandResult] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Points scored by the autograded exercises."""
        return sum(e.score for e in self.exercises)

    @property
    def max_score(self) -> float:
        """Points available in the autograded exercises."""
        return sum(e.max_score for e in self.exercises)

    @property
    def by_hand_points(self) -> float:
        """Points left to the instructor's grading (the written questions')."""
        return sum(q.max_score for q in self.by_hand)

    def as_json(self) -> dict[str, Any]:
        """Exactly the ``grade --json`` object: assignment, score, max_score and the exercises, plus
        ``by_hand`` (the written questions) when the assignment has any: an optional key, so readers
        of results made before it still work."""
        data = {"assignment": self.assignment, "score": self.score, "max_score": self.max_score,
                "exercises": [e.as_json() for e in self.exercises]}
        if self.by_hand:
            data["by_hand"] = [q.as_json() for q in self.by_hand]
        return data

    @classmethod
    def zero(cls, source: SourceAssignment | None, assignment: str, message: str) -> GradeResult:
        """A submission that could not be graded: every exercise scores 0 with ``message``, and no
        written answer was read (so none is marked as answered)."""
        exercises = [] if source is None else [
            ExerciseResult(ex.id, ex.title, 0, ex.points, False, message) for ex in source.exercises]
        by_hand = [] if source is None else [ByHandResult(q.id, q.title, q.points, False) for q in source.questions]
        return cls(assignment, exercises, [message], graded=False, by_hand=by_hand)


# --------------------------------------------------------------------------------------------------
# Reading the submission


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


# --------------------------------------------------------------------------------------------------
# The assignment: its source notebook


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


def _chapter_order(name: str) -> tuple[int, str]:
    m = re.match(r"ch(\d+)", name)
    return (int(m.group(1)) if m else 10**6, name)


def source_path(course_dir: Path, assignment: str) -> Path:
    """Where nbgrader's source notebook of an assignment is."""
    return course_dir / SOURCE_DIR / assignment / f"{assignment}.ipynb"


def known_assignments(course_dir: Path) -> list[str]:
    """Assignments that exist: one per chapter, plus any source notebook in the course folder."""
    names = set(chapter_assignments())
    src = course_dir / SOURCE_DIR
    if src.is_dir():
        names |= {p.name for p in src.iterdir() if source_path(course_dir, p.name).is_file()}
    return sorted(names, key=_chapter_order)


def _unknown(name: str, known: Sequence[str]) -> CourseError:
    return CourseError(f"unknown assignment {name!r}; known assignments: {', '.join(known) or '(none)'}")


def ensure_source(assignment: str, course_dir: Path) -> Path:
    """The source notebook of ``assignment``, generated with ``autograder assign`` if it is missing."""
    path = source_path(course_dir, assignment)
    if path.is_file():
        return path
    from autograder import assign

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


def _exercise_ids(assignment: str, course_dir: Path) -> set[str]:
    """The exercise ids of an assignment, from its source notebook if there is one, else its chapter."""
    path = source_path(course_dir, assignment)
    if path.is_file():
        nb = nbformat.read(path, as_version=4)
        return {gid for cell in nb.cells if (gid := grade_id(cell)) and _nbgrader_meta(cell).get("solution")}
    chapter = chapter_assignments().get(assignment)
    return {ex.id for ex in load_exercises(chapter)} if chapter else set()


def recognise_assignment(nb: nbformat.NotebookNode, requested: str | None, course_dir: Path) -> str:
    """The assignment a notebook belongs to; with ``requested``, check that it is that one."""
    known = known_assignments(course_dir)
    if requested is not None and requested not in known:
        raise _unknown(requested, known)
    meta = nb.metadata.get(METADATA_KEY)
    claimed = meta.get(ASSIGNMENT_KEY) if isinstance(meta, dict) else None
    if not isinstance(claimed, str):
        ids = {gid for cell in nb.cells if (gid := grade_id(cell))}
        overlap = {a: len(ids & _exercise_ids(a, course_dir)) for a in known} if ids else {}
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
        raise _unknown(claimed, known)
    return claimed


# --------------------------------------------------------------------------------------------------
# What runs


_IMPORT_FUNCS = frozenset({"import_module", "__import__"})
#: Calls whose string arguments may name a module or hold code to run.
_STRING_FUNCS = frozenset({"getattr", "exec", "eval", "compile", "import_module", "__import__", "find_spec",
                           "run_module", "run_path", "reload", "spec_from_file_location", "hasattr",
                           "run_line_magic", "run_cell_magic"})  # IPython magics: %time import ...
_SOLUTIONS_WORD = re.compile(rf"\b{SOLUTIONS_PACKAGE}\b")


def _is_solutions_module(name: str | None) -> bool:
    return bool(name) and (name == SOLUTIONS_PACKAGE or name.startswith(SOLUTIONS_PACKAGE + "."))


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _strings(node: ast.AST) -> Iterator[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            yield sub.value


def _python_source(code: str) -> str:
    """A cell's code with IPython syntax (magics, ``!cmd``) turned into plain Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return TransformerManager().transform_cell(code)
    except Exception:  # IPython missing or the transform failed: parse the cell as it is
        return code


class UnreadableCell(Exception):
    """A cell the grader's own parser cannot take (nested too deeply)."""


def uses_solutions(code: str) -> bool:
    """Whether a cell reaches for the reference ``solutions`` package (found statically with ``ast``).

    Catches ``import solutions...``, ``from solutions... import``, ``import_module``/``__import__`` of
    a name starting with ``solutions``, the word ``solutions`` in a string given to ``getattr``,
    ``exec``, ``eval`` and the like, and ``sys.modules["solutions..."]``. A cell that does not parse
    cannot run either, so it is not flagged. A cell too deep for Python's parser (a recursion or
    memory error in ``ast``) raises :class:`UnreadableCell`: the grader will not run what it cannot read.
    """
    try:
        tree = ast.parse(_python_source(code))
    except (SyntaxError, ValueError):
        return False
    except (RecursionError, MemoryError) as err:
        raise UnreadableCell(type(err).__name__) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(_is_solutions_module(a.name) for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (
                _is_solutions_module(node.module)
                or (node.module is None and any(a.name == SOLUTIONS_PACKAGE for a in node.names))):
            return True
        if isinstance(node, ast.Call):
            name = _call_name(node.func)
            args = [*node.args, *(k.value for k in node.keywords)]
            if name in _IMPORT_FUNCS and args and isinstance(args[0], ast.Constant) \
                    and isinstance(args[0].value, str) and _is_solutions_module(args[0].value.strip()):
                return True
            if name in _STRING_FUNCS and any(_SOLUTIONS_WORD.search(s) for a in args for s in _strings(a)):
                return True
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "modules" and any(_SOLUTIONS_WORD.search(s) for s in _strings(node.slice)):
            return True
    return False


@dataclass
class Program:
    """The code cells to run, in order, and where each came from."""

    cells: list[str] = field(default_factory=list)
    #: For each cell: the exercise whose solution cell it is, or None.
    owners: list[str | None] = field(default_factory=list)
    #: For each cell: how to name it in a message.
    labels: list[str] = field(default_factory=list)
    #: Exercises whose solution cell is not in the submission.
    deleted: set[str] = field(default_factory=set)
    #: Exercises that score 0 for using the reference package: id -> the reason.
    forbidden: dict[str, str] = field(default_factory=dict)

    def add(self, code: str, owner: str | None, label: str) -> None:
        """Append one cell."""
        self.cells.append(code)
        self.owners.append(owner)
        self.labels.append(label)


def _checked(code: str) -> tuple[str, bool]:
    """What runs for a student's cell, and whether it uses the reference package.

    A cell the grader cannot parse is replaced by one that raises: that cell fails, the rest runs.
    """
    try:
        return code, uses_solutions(code)
    except UnreadableCell:
        return UNPARSABLE_CELL, False


def build_program(source: SourceAssignment, nb: nbformat.NotebookNode) -> Program:
    """The cells that run: restored setup, the student's solution cells, the student's own code cells.

    Check (grade) cells are left out: their verdict comes from the grading process instead.
    """
    exercise_ids = {ex.id for ex in source.exercises}
    seen: set[str] = set()
    body = Program()
    restored: set[str] = set()
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        gid = grade_id(cell)
        if gid in source.locked_code:
            body.add(source.locked_code[gid], None, f"the setup cell {gid!r}")
            restored.add(gid)
        elif gid in exercise_ids:
            seen.add(gid)
            code, forbidden = _checked(cell.source)
            body.add(code, gid, f"your cell of {gid}")
            if forbidden:
                body.forbidden[gid] = SOLUTIONS_MESSAGE
        elif gid in source.grade_cells or (gid and gid.startswith(CHECK_PREFIX)):
            continue
        else:
            code, forbidden = _checked(cell.source)
            body.add(code, None, f"cell {number} (a cell you added)")
            if forbidden:
                for eid in exercise_ids:
                    body.forbidden.setdefault(eid, f"cell {number}, a cell you added, {SOLUTIONS_MESSAGE}")
    program = Program(deleted=exercise_ids - seen, forbidden=body.forbidden)
    for gid, code in source.locked_code.items():  # locked cells the student deleted come back first
        if gid not in restored:
            program.add(code, None, f"the setup cell {gid!r}")
    for code, owner, label in zip(body.cells, body.owners, body.labels):
        program.add(code, owner, label)
    return program


# --------------------------------------------------------------------------------------------------
# Verdicts


def _shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_line(error: str) -> str:
    """The last informative line of an error report (``Type: message``)."""
    lines = [ln for ln in error.strip().split("\n") if ln.strip()]  # not splitlines: \r, \x1c... are text
    return lines[-1].strip() if lines else "an error"


def exception_name(error: str) -> str | None:
    """The exception type named by an error report ``Type: message`` (or ``module.Type: ...``)."""
    m = re.match(r"^\s*(?:raised\s+)?([A-Za-z_][\w.]*)\s*(?::|$)", _error_line(error))
    return m.group(1).rsplit(".", 1)[-1] if m else None


def difference_kind(reason: str) -> str:
    """What kind of difference a comparison found, without any of its values.

    ``runtime.compare`` returns a :class:`~autograder.runtime.Difference`, which carries its kind;
    anything else (which should not happen) is reported as wrong values.
    """
    kind = reason.redacted() if isinstance(reason, Difference) else "wrong values"
    m = re.search(r"argument (\d+) after the call", reason)
    if m:
        kind += f" (argument {m.group(1)} after the call)"
    if "instead of zeroed" in reason:  # runtime's hint, which names no value
        kind += ": was .grad set to None instead of zeroed?"
    return kind


def _case_failure(label: str, i: int, n: int, expected: Any, outcome: Any, spec: Any, hidden: bool) -> str | None:
    """Why one case failed (``None`` if it passed), revealing values only for public cases.

    ``hidden`` is also true for a public case whose outcome arrived after the hidden inputs had
    entered the student's process (``CaseOutcome.secret``): its text could carry them.
    """
    from autograder.runtime import compare_observed

    where = f"{label} check {i} of {n}"
    if outcome.error is not None:
        name = exception_name(outcome.error)
        if name == "NotImplementedError":
            return f"{where}: {NOT_DONE}"
        if hidden:
            if name is None:  # not an exception: the sandbox could not carry the value back
                return f"{where}: returned a value of a type the grader does not accept"
            return f"{where}: raised {name if name in SAFE_EXCEPTION_NAMES else 'an exception (type not shown)'}"
        return f"{where}: raised {_error_line(outcome.error)}" if name else f"{where}: {_error_line(outcome.error)}"
    try:
        reason = compare_observed(expected, outcome.value, spec.kind, spec.rtol, spec.atol)
    except Exception as err:  # an output of a shape compare cannot handle at all
        reason = f"the result could not be compared ({type(err).__name__})"
        if hidden:
            return f"{where}: wrong type"
    if reason is None:
        return None
    return f"{where}: {difference_kind(reason)}" if hidden else f"{where}: {reason}"


def judge_exercise(info: ExerciseInfo, spec: Any, public: list, hidden: list, outcomes: list | None,
                   cell_error: str | None, fatal: str | None) -> ExerciseResult:
    """All-or-nothing verdict on one exercise from its cases' outcomes."""
    total = len(public) + len(hidden)

    def fail(message: str) -> ExerciseResult:
        return ExerciseResult(info.id, info.title, 0, info.points, False, _shorten(message))

    not_run = {fatal, NOT_RUN} - {None}
    if outcomes is None or len(outcomes) < total or any(o.error in not_run for o in outcomes):
        if cell_error:
            return fail(f"your cell of {info.id} raised {cell_error}")
        return fail(f"not graded: {fatal or 'the checks did not run'}")
    if all(exception_name(o.error or "") == "NotImplementedError" for o in outcomes):
        return fail(NOT_DONE)
    failures = []
    for label, cases, offset in (("public", public, 0), ("hidden", hidden, len(public))):
        for i, (_args, expected) in enumerate(cases, start=1):
            outcome = outcomes[offset + i - 1]
            why = _case_failure(label, i, len(cases), expected, outcome, spec, label == "hidden" or outcome.secret)
            if why:
                failures.append(why)
    if not failures:
        return ExerciseResult(info.id, info.title, info.points, info.points, True,
                              f"all {total} checks passed ({len(public)} public, {len(hidden)} hidden)")
    if cell_error and len(failures) == total:
        return fail(f"your cell of {info.id} raised {cell_error}")
    more = f" ({len(failures)} of {total} checks failed)" if len(failures) > 1 else ""
    return fail(failures[0] + more)


def answered(cell: nbformat.NotebookNode | None) -> bool:
    """Whether a written answer cell holds an answer: it exists and is neither empty nor nbgrader's stub.

    This is nbgrader's "the solution cell changed" (its checksum test) on the cell's text alone.
    """
    if cell is None:
        return False
    text = cell.get("source", "")
    return isinstance(text, str) and text.strip() not in ("", ANSWER_STUB)


def read_answers(source: SourceAssignment, nb: nbformat.NotebookNode) -> list[ByHandResult]:
    """The submission's written answers, found by grade_id: each question with whether it was answered.

    A deleted answer cell is not answered. Nothing is scored: the instructor grades them.
    """
    cells: dict[str, nbformat.NotebookNode] = {}
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid is not None and gid.startswith(ANSWER_PREFIX):
            cells.setdefault(gid, cell)
    return [ByHandResult(q.id, q.title, q.points, answered(cells.get(q.answer_cell))) for q in source.questions]


def grade_notebook(nb: nbformat.NotebookNode, source: SourceAssignment, sandbox: str = "auto",
                   limits: Any = None) -> GradeResult:
    """Grade a read notebook against its assignment's source; see the module docstring for how."""
    from autograder import sandbox as sandbox_module
    from autograder.exercises import get_spec

    program = build_program(source, nb)
    specs, cases, calls = {}, {}, {}
    for ex in source.exercises:
        try:
            spec = get_spec(ex.id)
        except KeyError as err:
            raise CourseError(str(err.args[0])) from None
        specs[ex.id] = spec
        cases[ex.id] = (spec.public_cases(), spec.hidden_cases())
        if ex.id not in program.deleted and ex.id not in program.forbidden:  # hidden cases last
            calls[ex.id] = (spec.kind, [args for args, _ in cases[ex.id][0]], [args for args, _ in cases[ex.id][1]])
    try:
        run = sandbox_module.run_submission(program.cells, calls, limits or sandbox_module.Limits(), sandbox=sandbox)
    except sandbox_module.SandboxUnavailable as err:
        raise GraderUnavailable(str(err)) from None
    if run.fatal and run.fatal.startswith(STARTUP_FAILURE):
        raise GraderUnavailable(f"nothing was graded: {run.fatal}. This is a problem of the grading machine "
                                f"(for instance too busy to start Python in time), not of the notebook; "
                                f"try again.")

    notes: list[str] = []
    cell_errors: dict[str, str] = {}
    for index, error in run.cell_errors:
        owner = program.owners[index] if 0 <= index < len(program.owners) else None
        text = _shorten(_error_line(error), 200)
        if owner is not None:
            cell_errors.setdefault(owner, text)
        else:
            label = program.labels[index] if 0 <= index < len(program.labels) else f"cell {index + 1}"
            notes.append(f"{label} raised {text}")
    if run.fatal:
        notes.append(f"grading stopped early: {run.fatal}")

    results = []
    for ex in source.exercises:
        if ex.id in program.deleted:
            results.append(ExerciseResult(ex.id, ex.title, 0, ex.points, False, f"the cell of {ex.id} was deleted"))
        elif ex.id in program.forbidden:
            results.append(ExerciseResult(ex.id, ex.title, 0, ex.points, False, program.forbidden[ex.id]))
        else:
            public, hidden = cases[ex.id]
            results.append(judge_exercise(ex, specs[ex.id], public, hidden, run.outcomes.get(ex.id),
                                          cell_errors.get(ex.id), run.fatal))
    return GradeResult(source.name, results, notes, by_hand=read_answers(source, nb))


def grade_path(path: Path, assignment: str | None = None, course_dir: Path | None = None,
               sandbox: str = "auto", limits: Any = None, max_bytes: int = MAX_NOTEBOOK_BYTES) -> GradeResult:
    """Read, recognise and grade one notebook file."""
    from autograder.cli import DEFAULT_COURSE_DIR

    course_dir = (course_dir or DEFAULT_COURSE_DIR).resolve()
    nb = read_submission(path, max_bytes)
    name = recognise_assignment(nb, assignment, course_dir)
    return grade_notebook(nb, load_assignment(name, course_dir), sandbox=sandbox, limits=limits)


# --------------------------------------------------------------------------------------------------
# One notebook from the command line


def write_atomic(path: Path, text: str) -> None:
    """Write a text file so that readers see the old content or the new, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _sandbox_mode(args: argparse.Namespace) -> str:
    """The sandbox the command line asks for, checked to be usable here before any grading starts."""
    from autograder.sandbox import SandboxUnavailable, resolve_sandbox

    try:
        return resolve_sandbox("none" if args.unsandboxed else "auto")
    except SandboxUnavailable as err:
        raise CourseError(str(err)) from None


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
    from autograder.cli import DEFAULT_COURSE_DIR

    notebook: Path = args.notebook
    course_dir = (args.course_dir or DEFAULT_COURSE_DIR).resolve()
    sandbox = _sandbox_mode(args)
    feedback_path = feedback_target(notebook, course_dir, args.feedback)
    # With --json, stdout carries exactly one JSON object: anything printed while grading goes to stderr.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        result = grade_path(notebook, args.assignment, course_dir, sandbox=sandbox,
                            limits=limits_from_args(args), max_bytes=max_notebook_bytes(args))
        try:
            write_atomic(feedback_path, feedback.render_html(result, notebook.name))
        except OSError as err:
            raise CourseError(f"cannot write the feedback to {feedback_path}: {err}") from None
    shown = neutral(str(feedback_path), newlines=False)
    if args.json:
        print(json.dumps(result.as_json()))
        print(f"feedback: {shown}", file=sys.stderr)
    else:
        print(feedback.render_table(result))
        print(f"feedback: {shown}")
    return 0


def max_notebook_bytes(args: argparse.Namespace) -> int:
    """The notebook size cap the command line asks for (``--max-notebook-mb``)."""
    mb = getattr(args, "max_notebook_mb", None)
    if mb is None:
        return MAX_NOTEBOOK_BYTES
    if not mb > 0:
        raise CourseError(f"--max-notebook-mb must be positive, got {mb}")
    return int(mb * 2**20)


# --------------------------------------------------------------------------------------------------
# A whole class


@dataclass(frozen=True)
class Submission:
    """One student's submission of one assignment in nbgrader's ``submitted/`` layout.

    Its files are read only through :mod:`autograder.safe_io`, from ``submitted/`` down, without
    following any symbolic link: a link, a FIFO, a device or an oversized file is "could not be graded"
    with its reason, never followed, never a hang.
    """

    student: str
    assignment: str
    folder: Path

    @property
    def root(self) -> Path:
        """The course's ``submitted/`` folder, where every read starts."""
        return self.folder.parent.parent

    def _inside(self, name: str) -> str:
        return f"{self.student}/{self.assignment}/{name}"

    def notebook_name(self) -> str | None:
        """The notebook's file name: ``<assignment>.ipynb`` if the folder holds an entry of that name
        (of any kind: reading it says what is wrong), else the folder's only ``.ipynb``, else ``None``."""
        own = f"{self.assignment}.ipynb"
        if safe_io.entry_kind(self.folder, own) is not None:
            return own
        found = self.notebooks_found()
        return found[0] if len(found) == 1 else None

    def notebooks_found(self) -> list[str]:
        """The names of the ``.ipynb`` entries in the folder (none is followed)."""
        try:
            with os.scandir(self.folder) as entries:
                return sorted(e.name for e in entries if e.name.endswith(".ipynb"))
        except OSError:
            return []

    def read(self, name: str, max_bytes: int) -> bytes:
        """The bytes of one regular file of the submission; :class:`~autograder.safe_io.UnsafeFile` else."""
        return safe_io.read_inside(self.root, self._inside(name), max_bytes)

    def timestamp(self) -> str | None:
        """nbgrader's ``timestamp.txt``, if there is one (a garbled one reads as ``None``)."""
        if safe_io.entry_kind(self.folder, TIMESTAMP_FILE) is None:
            return None
        try:
            return self.read(TIMESTAMP_FILE, MAX_TIMESTAMP_BYTES).decode("utf-8").strip() or None
        except UnicodeDecodeError:
            return None

    def result_path(self, course_dir: Path) -> Path:
        """Where its result JSON goes."""
        return course_dir / RESULTS_DIR / self.student / self.assignment / RESULT_FILE

    def feedback_path(self, course_dir: Path) -> Path:
        """Where its HTML feedback goes (nbgrader's feedback layout)."""
        return course_dir / FEEDBACK_DIR / self.student / self.assignment / f"{self.assignment}.html"


def _folders(path: Path) -> tuple[list[Path], list[Path]]:
    """The sub-folders of ``path`` and, apart, its symbolic links (never followed)."""
    folders, links = [], []
    try:
        with os.scandir(path) as entries:
            for e in entries:
                if e.is_symlink():
                    links.append(Path(e.path))
                elif e.is_dir(follow_symlinks=False):
                    folders.append(Path(e.path))
    except OSError:
        pass
    return sorted(folders), sorted(links)


def find_submissions(course_dir: Path, assignments: Sequence[str] | None = None,
                     skipped: list[str] | None = None) -> list[Submission]:
    """Every ``submitted/<student>/<assignment>/`` folder, optionally of some assignments only.

    A link in place of an assignment folder is a submission (reading it will say what is wrong); a
    link in place of a student's folder is not followed: it is named in ``skipped`` with its reason.
    """
    root = course_dir / SUBMITTED_DIR
    if not root.is_dir():
        return []
    subs = []
    students, links = _folders(root)
    for link in links:
        if skipped is not None:
            skipped.append(f"{link.name}: {NOT_GRADED}: {SUBMITTED_DIR}/{link.name} is a symbolic link; "
                           f"the grader does not follow links")
    for student in students:
        folders, folder_links = _folders(student)
        for folder in sorted([*folders, *folder_links]):
            if assignments is None or folder.name in assignments:
                subs.append(Submission(student.name, folder.name, folder))
    return subs


def _notebook_digest(sub: Submission, max_bytes: int) -> str | None:
    """The digest of a submission's notebook, or ``None`` if it cannot be read (bounded, never blocking)."""
    name = sub.notebook_name()
    try:
        return hashlib.sha256(sub.read(name, max_bytes)).hexdigest() if name else None
    except UnsafeFile:
        return None


def _fingerprint(digest: str | None, source: SourceAssignment | None) -> dict[str, str | None]:
    """What decides a submission's grade apart from the grader's code: its bytes and its source's."""
    return {"notebook_sha256": digest, "source_sha256": source.sha256 if source else None}


def _read_result(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def grade_job(sub: Submission, course_dir: Path, sandbox: str, limits: Any = None,
              max_bytes: int = MAX_NOTEBOOK_BYTES) -> tuple[Submission, GradeResult]:
    """One submission in, one result out; never raises (a broken submission scores 0 with a message).

    The result carries the digest of the notebook bytes it graded and the submission's timestamp.
    """
    try:
        source = load_assignment(sub.assignment, course_dir)
    except CourseError as err:
        return sub, GradeResult.zero(None, sub.assignment, str(err))
    name = sub.notebook_name()
    if name is None:
        found = ", ".join(sub.notebooks_found()) or "none"
        return sub, GradeResult.zero(source, sub.assignment,
                                     f"expected {sub.assignment}.ipynb in {sub.folder}; notebooks found: {found}")
    try:
        data = sub.read(name, max_bytes)
        timestamp = sub.timestamp()
    except UnsafeFile as err:
        return sub, GradeResult.zero(source, sub.assignment, f"{NOT_GRADED}: {err}")
    digest = hashlib.sha256(data).hexdigest()
    try:
        nb = parse_notebook(data, name, max_bytes)
        del data
        recognise_assignment(nb, sub.assignment, course_dir)
        result = grade_notebook(nb, source, sandbox=sandbox, limits=limits)
    except GraderUnavailable as err:
        result = GradeResult.zero(source, sub.assignment, str(err))
        result.retry = True
    except CourseError as err:
        result = GradeResult.zero(source, sub.assignment, str(err))
    except Exception as err:  # a grader crash on one submission must not stop the batch
        result = GradeResult.zero(source, sub.assignment, f"the grader failed on this notebook: "
                                  f"{type(err).__name__}: {_shorten(str(err), 200)}")
    result.notebook_sha256, result.timestamp = digest, timestamp
    return sub, result


def _save(sub: Submission, result: GradeResult, course_dir: Path, fingerprint: dict[str, str | None],
          source: SourceAssignment | None) -> bool:
    """Record one finished job: gradebook, feedback, then result.json last (it marks the job done).

    Returns False (and says why on stderr) if the gradebook could not take it; the job is then not
    marked done, so the next run grades it again.
    """
    from autograder import feedback, gradebook

    if result.notebook_sha256 is not None:  # what the job actually graded
        fingerprint = {**fingerprint, "notebook_sha256": result.notebook_sha256}
    if source is not None and result.exercises:
        try:
            gradebook.record(course_dir, sub.student, source, result, result.timestamp)
        except Exception as err:  # e.g. the database is locked: keep grading the others
            print(f"autograder grade-all: {neutral(sub.student, False)}/{neutral(sub.assignment, False)}: could "
                  f"not record the grade in the gradebook ({type(err).__name__}: {neutral(str(err), False)}); it "
                  f"will be graded again next run", file=sys.stderr)
            return False
    write_atomic(sub.feedback_path(course_dir),
                 feedback.render_html(result, sub.notebook_name() or sub.assignment))
    data = result.as_json() | {"student": sub.student, "notes": result.notes} | fingerprint
    write_atomic(sub.result_path(course_dir), json.dumps(data, indent=1) + "\n")
    return True


def grade_all_main(args: argparse.Namespace) -> int:
    """``autograder grade-all``: grade every new or changed submission in parallel, then export the grades."""
    from tqdm import tqdm

    from autograder import gradebook

    course_dir: Path = args.course_dir.resolve()
    sandbox = _sandbox_mode(args)
    limits = limits_from_args(args)
    workers = args.workers or os.cpu_count() or 1
    if workers < 1:
        raise CourseError(f"--workers must be at least 1, got {workers}")
    if not (course_dir / SUBMITTED_DIR).is_dir():
        raise CourseError(f"no submissions: {course_dir / SUBMITTED_DIR} does not exist (nbgrader's layout is "
                          f"{SUBMITTED_DIR}/<student>/<assignment>/<assignment>.ipynb)")
    known = known_assignments(course_dir)
    for name in args.assignment or []:
        if name not in known:
            raise _unknown(name, known)
    max_bytes = max_notebook_bytes(args)
    skipped: list[str] = []
    subs = find_submissions(course_dir, args.assignment, skipped)

    sources: dict[str, SourceAssignment | None] = {}
    problems: dict[str, str] = {}
    for name in sorted({s.assignment for s in subs}):
        try:  # generate missing sources here, once, before the workers need them
            if name not in known:
                raise _unknown(name, known)
            sources[name] = load_assignment(name, course_dir)
        except CourseError as err:
            sources[name], problems[name] = None, str(err)
            print(neutral(f"autograder grade-all: {name}: {err}"), file=sys.stderr)

    todo, fingerprints = [], {}
    for sub in subs:
        fingerprints[sub] = _fingerprint(_notebook_digest(sub, max_bytes), sources[sub.assignment])
        old = _read_result(sub.result_path(course_dir))
        if old is None or any(old.get(k) != v for k, v in fingerprints[sub].items()):
            todo.append(sub)
    print(f"autograder grade-all: {len(subs)} submissions, {len(todo)} to grade, "
          f"{len(subs) - len(todo)} up to date; {workers} workers", file=sys.stderr)

    not_graded = list(skipped)

    def note(sub: Submission, result: GradeResult) -> None:
        if not result.graded:
            not_graded.append(f"{sub.student}/{sub.assignment}: {result.notes[0] if result.notes else NOT_GRADED}")

    jobs = [sub for sub in todo if sources[sub.assignment] is not None]
    for sub in todo:
        if sources[sub.assignment] is None:
            result = GradeResult.zero(None, sub.assignment, problems[sub.assignment])
            note(sub, result)
            _save(sub, result, course_dir, fingerprints[sub], None)
    if jobs:
        # spawn: each worker is a fresh interpreter (no forked torch or database state)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool, \
                tqdm(total=len(jobs), desc="grading", unit="notebook", file=sys.stderr) as bar:
            futures = [pool.submit(grade_job, sub, course_dir, sandbox, limits, max_bytes) for sub in jobs]
            try:
                for future in as_completed(futures):
                    sub, result = future.result()
                    if result.retry:
                        print(neutral(f"autograder grade-all: {sub.student}/{sub.assignment}: {result.notes[0]} "
                                      f"(left for the next run)", False), file=sys.stderr)
                        saved = False
                    else:
                        saved = _save(sub, result, course_dir, fingerprints[sub], sources[sub.assignment])
                    note(sub, result)
                    if not saved and result.graded:
                        not_graded.append(f"{sub.student}/{sub.assignment}: not recorded, graded again next run")
                    bar.update()
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    csv_path = args.csv or course_dir / DEFAULT_CSV_NAME
    rows = [(s, _read_result(s.result_path(course_dir))) for s in subs]
    gradebook.write_csv(csv_path, [(s.student, data) for s, data in rows if data is not None])
    print(f"graded {len(todo)} submission(s), {len(subs) - len(todo)} already up to date"
          f"{f', {len(not_graded)} could not be graded' if not_graded else ''}")
    for line in not_graded:
        print(f"  {neutral(line, newlines=False)}")
    print(f"results: {course_dir / RESULTS_DIR}; feedback: {course_dir / FEEDBACK_DIR}")
    print(f"gradebook: {gradebook.db_path(course_dir)}; grades: {csv_path}")
    return 0
