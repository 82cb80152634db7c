"""What runs for a submission: the source's locked setup cells restored, the student's solution cells
by their nbgrader ``grade_id``, the student's own cells in order, and no check cell at all (the
verdict never comes from the student's kernel)."""

from __future__ import annotations

from dataclasses import dataclass, field

import nbformat

from autograder.notebook_format import CHECK_PREFIX
from autograder.grading.scan import SOLUTIONS_MESSAGE, UnreadableCell, uses_solutions
from autograder.grading.source import SourceAssignment, grade_id

#: What replaces a cell the grader's own parser cannot read (nested too deeply): it fails, alone.
UNPARSABLE_CELL = ("raise RecursionError('this cell is nested too deeply for the grader to read, "
                   "so it was not run')\n")


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
