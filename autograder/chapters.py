"""Reading chapters and their exercises: the authoring contract of ``docs/AUTHORING.md`` in code.

A chapter is a MyST Markdown notebook in ``chapters/``. An exercise is marked by cell metadata:

- its *solution cell* has ``exercise: <id>`` and ``points: <n>`` and holds exactly one line,
  ``from solutions.<module> import <id>``: the reference lives once, in the ``solutions`` package;
- its *check cell* has ``check: <id>`` and calls ``check("<id>", <id>)``;
- the markdown cell right before the solution cell is its task statement.

A *written question* is a markdown cell with ``question: <id>`` and ``points: <n>``: its text is
the question; the assignment gives it a manually graded answer cell (nbgrader's ``solution`` and
``grade`` on a markdown cell), which the instructor grades by hand in formgrader.

From these, the book shows the stub, the checks and the reference source behind a toggle, and the
assignment generator writes nbgrader's source notebooks. Both derive the solution's code and the
stub from the function's source with :func:`solution_regions`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

from solutions.paths import PROJECT_ROOT

CHAPTERS_DIR: Path = PROJECT_ROOT / "chapters"
#: Cell metadata keys of the contract.
EXERCISE_KEY = "exercise"
POINTS_KEY = "points"
CHECK_KEY = "check"
QUESTION_KEY = "question"
#: nbgrader's solution markers, and the stub nbgrader puts in their place (its default).
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"

_QUESTION_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_IMPORT_RE = re.compile(r"^from (solutions\.[A-Za-z_][\w.]*) import ([A-Za-z_]\w*)\s*$")
_CHECK_RE = re.compile(r"""^check\((["'])([A-Za-z_]\w*)\1, *([A-Za-z_]\w*)\)\s*$""")


class ChapterError(ValueError):
    """A chapter breaks the authoring contract; the message names the chapter, cell and rule."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter, as marked in its cells."""

    id: str
    points: int
    chapter: str  # the chapter's file stem, which is also the assignment's name
    module: str  # the solutions module that holds the reference
    task: str  # the markdown of the task statement
    solution_cell: int  # index of the solution cell in the chapter notebook
    check_cell: int  # index of the check cell

    @property
    def reference(self):
        """The reference function or class from the solutions package."""
        return getattr(importlib.import_module(self.module), self.id)

    def reference_source(self) -> str:
        """The reference's source code, dedented, exactly as in the solutions package.

        Read from the module's file when the reference is defined there at the top level (the
        contract's case): importing the module would import torch, seconds at the start of every
        book build and assignment generation, for text that is in the file. Anything else (a name the
        module imports from elsewhere) is imported and read with :func:`inspect.getsource`.
        """
        source = top_level_source(self.module, self.id)
        if source is not None:
            return source
        return textwrap.dedent(inspect.getsource(self.reference))


def top_level_source(module: str, name: str) -> str | None:
    """The source of the function or class ``name`` defined at the top level of ``module`` (from its
    first decorator to its last line, as :func:`inspect.getsource` gives it), found without importing
    the module; ``None`` if the module's file does not define it there."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    text = Path(spec.origin).read_text(encoding="utf-8")
    found = [node for node in ast.parse(text).body
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name]
    if len(found) != 1:  # absent, or defined twice (the module's last definition wins): let Python say
        return None
    node = found[0]
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    lines = text.splitlines(keepends=True)[first - 1:node.end_lineno]
    return textwrap.dedent("".join(lines))


@dataclass(frozen=True)
class Question:
    """A written question of a chapter, graded by hand: its id, points and text (markdown)."""

    id: str
    points: int
    chapter: str
    text: str
    cell: int  # index of the question's cell in the chapter notebook


def _points(meta: dict, where: str) -> int:
    points = meta.get(POINTS_KEY)
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise ChapterError(f"{where}: needs 'points' as a positive whole number, got {points!r}")
    return points


def chapter_paths(chapters_dir: Path = CHAPTERS_DIR) -> list[Path]:
    """The chapter files, in order (``ch1_...md`` to ``ch8_...md``)."""
    paths = [p for p in chapters_dir.glob("ch*.md")]
    return sorted(paths, key=lambda p: int(re.match(r"ch(\d+)", p.stem).group(1)))


def read_chapter(path: Path) -> nbformat.NotebookNode:
    """Read a MyST Markdown chapter as a notebook."""
    if not path.is_file():
        raise ChapterError(f"no chapter at {path}")
    return jupytext.read(path)


def find_exercises(nb: nbformat.NotebookNode, chapter: str) -> list[Exercise]:
    """Every exercise of a chapter notebook, in order, checked against the contract."""
    exercises: list[Exercise] = []
    checks: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {})
        if CHECK_KEY in meta:
            cid = meta[CHECK_KEY]
            m = _CHECK_RE.match(cell.source.strip())
            if cell.cell_type != "code" or not m or m.group(2) != cid or m.group(3) != cid:
                raise ChapterError(f"{chapter}, cell {i}: a check cell for {cid!r} must hold exactly "
                                   f"check({cid!r}, {cid})")
            if cid in checks:
                raise ChapterError(f"{chapter}, cell {i}: a second check cell for {cid!r}")
            checks[cid] = i
        if EXERCISE_KEY not in meta:
            continue
        eid = meta[EXERCISE_KEY]
        where = f"{chapter}, cell {i} (exercise {eid!r})"
        if cell.cell_type != "code":
            raise ChapterError(f"{where}: an exercise's solution cell must be a code cell")
        m = _IMPORT_RE.match(cell.source.strip())
        if not m or m.group(2) != eid:
            raise ChapterError(f"{where}: the solution cell must hold exactly one line, "
                               f"'from solutions.<module> import {eid}'")
        points = _points(meta, where)
        if i == 0 or nb.cells[i - 1].cell_type != "markdown":
            raise ChapterError(f"{where}: the cell before a solution cell must be its task, in markdown")
        exercises.append(Exercise(eid, points, chapter, m.group(1), nb.cells[i - 1].source, i, -1))
    out = []
    for ex in exercises:
        if ex.id not in checks:
            raise ChapterError(f"{chapter}: exercise {ex.id!r} has no check cell (metadata check: {ex.id})")
        if checks[ex.id] < ex.solution_cell:
            raise ChapterError(f"{chapter}: the check cell of {ex.id!r} comes before its solution cell")
        out.append(Exercise(ex.id, ex.points, ex.chapter, ex.module, ex.task, ex.solution_cell, checks.pop(ex.id)))
    if checks:
        raise ChapterError(f"{chapter}: check cell(s) without an exercise: {', '.join(checks)}")
    ids = [e.id for e in out]
    if len(set(ids)) != len(ids):
        raise ChapterError(f"{chapter}: an exercise id is used twice: {ids}")
    return out


def find_questions(nb: nbformat.NotebookNode, chapter: str) -> list[Question]:
    """Every written question of a chapter notebook, in order, checked against the contract."""
    questions = []
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {})
        if QUESTION_KEY not in meta:
            continue
        qid = meta[QUESTION_KEY]
        where = f"{chapter}, cell {i} (question {qid!r})"
        if cell.cell_type != "markdown":
            raise ChapterError(f"{where}: a question must be a markdown cell")
        if not isinstance(qid, str) or not _QUESTION_ID_RE.match(qid):
            raise ChapterError(f"{where}: a question id is lower-case letters, digits and underscores")
        if not cell.source.strip():
            raise ChapterError(f"{where}: the question has no text")
        questions.append(Question(qid, _points(meta, where), chapter, cell.source, i))
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise ChapterError(f"{chapter}: a question id is used twice: {ids}")
    return questions


def load_questions(path: Path) -> list[Question]:
    """Read a chapter file and return its written questions."""
    return find_questions(read_chapter(path), path.stem)


def load_exercises(path: Path) -> list[Exercise]:
    """Read a chapter file and return its exercises."""
    return find_exercises(read_chapter(path), path.stem)


def solution_regions(source: str) -> list[tuple[int, int, int]]:
    """Where the solution code of a reference's source is: ``(first_line, last_line, indent)``, 0-based.

    For a function, its body after the docstring; for a class, each method's body after its
    docstring. Everything else (signatures, docstrings, class attributes) is what students start from.
    """
    tree = ast.parse(source)
    top = tree.body[0]
    funcs = [top] if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)) else [
        n for n in getattr(top, "body", []) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    regions = []
    for fn in funcs:
        body = fn.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        if not body:
            raise ChapterError(f"{fn.name} has no code after its docstring")
        first = body[0].lineno - 1
        last = body[-1].end_lineno - 1
        regions.append((first, last, body[0].col_offset))
    return regions


def with_markers(source: str) -> str:
    """The reference's source with nbgrader's solution markers around each solution region."""
    lines = source.rstrip("\n").split("\n")
    for first, last, indent in reversed(solution_regions(source)):
        pad = " " * indent
        lines[last + 1:last + 1] = [pad + END_SOLUTION]
        lines[first:first] = [pad + BEGIN_SOLUTION]
    return "\n".join(lines)


def stub(source: str, code_stub: str = CODE_STUB) -> str:
    """The reference's source with each solution region replaced by the stub, as nbgrader makes it."""
    lines = source.rstrip("\n").split("\n")
    for first, last, indent in reversed(solution_regions(source)):
        pad = " " * indent
        lines[first:last + 1] = [pad + s for s in code_stub.split("\n")]
    return "\n".join(lines)
