"""Grading one notebook: build its program, run it in the sandbox, judge the outcomes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

from autograder.course import DEFAULT_COURSE_DIR, CourseError
from autograder.grading.program import build_program
from autograder.grading.results import STARTUP_FAILURE, ExerciseResult, GradeResult, GraderUnavailable, shorten
from autograder.grading.source import SourceAssignment, load_assignment, read_submission, recognise_assignment
from autograder.grading.verdict import _error_line, judge_exercise, read_answers
from autograder.safe_io import MAX_NOTEBOOK_BYTES


def grade_notebook(nb: nbformat.NotebookNode, source: SourceAssignment, sandbox: str = "auto",
                   limits: Any = None, seed: int | None = None) -> GradeResult:
    """Grade a read notebook against its assignment's source; see the module docstring for how.

    ``seed`` is the hidden cases' seed (default: :func:`autograder.seed.hidden_seed` of this process;
    ``grade-all`` passes its client's to the worker as task data)."""
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
        cases[ex.id] = (spec.public_cases(), spec.hidden_cases(seed))
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
        text = shorten(_error_line(error), 200)
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

    course_dir = (course_dir or DEFAULT_COURSE_DIR).resolve()
    nb = read_submission(path, max_bytes)
    name = recognise_assignment(nb, assignment, course_dir)
    return grade_notebook(nb, load_assignment(name, course_dir), sandbox=sandbox, limits=limits)
