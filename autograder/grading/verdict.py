"""Verdicts, outside the student's reach: each case's outcome compared with the reference's output,
all-or-nothing per exercise; a failed hidden case says only what kind of difference it was."""

from __future__ import annotations

import re
from typing import Any

import nbformat

from autograder.notebook_format import ANSWER_PREFIX, ANSWER_STUB
from autograder.grading.results import NOT_DONE, NOT_RUN, ByHandResult, ExerciseResult, shorten
from autograder.grading.source import ExerciseInfo, SourceAssignment, grade_id
from autograder.runtime import Difference
from autograder.sandbox import SAFE_EXCEPTION_NAMES


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
        return ExerciseResult(info.id, info.title, 0, info.points, False, shorten(message))

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
