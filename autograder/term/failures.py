"""What made an exercise fail, read back from the message ``grade-all`` stored with it.

A result's exercise carries one message (``autograder.grading.verdict``): ``all N checks passed``, or the first
failing check and how it failed (``hidden check 2 of 5: wrong shape (3 of 5 checks failed)``; a
public check gives the full difference, ``public check 1 of 2: the result has shape (3,), expected
(4,)``), or why the exercise was not run (``not done yet``, a deleted cell, a cell that raised, the
reference package imported, a time limit). :func:`classify` turns it into a *kind* (the category of
:class:`autograder.runtime.Difference` for a wrong result, ``raised <Exception>``, ``not done`` ...)
and the *check* it names. Only the first failing check of an exercise is in its message, so per-check
counts are counts of first failures; a future result that lists every check (an exercise's optional
``checks``: ``[{"name": ..., "passed": ..., "kind": ...}]``) is used instead when present.

``tests/test_report.py`` classifies messages made by the grader's own functions, so a change of
wording there fails a test rather than this silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

NOT_DONE = "not done"
DELETED = "cell deleted"
REFERENCE_USED = "used the reference"
NOT_GRADED = "not graded"
OTHER = "other"

_CHECK = re.compile(r"^(?P<label>public|hidden) check (?P<i>\d+) of (?P<n>\d+): (?P<reason>.*?)"
                    r"(?: \((?P<k>\d+) of (?P<total>\d+) checks failed\))?$", re.DOTALL)
_RAISED = re.compile(r"raised (?:an? )?(?P<name>[A-Za-z_][\w.]*)")
#: A public check's full difference (``autograder.runtime.compare``) -> its kind.
_PUBLIC_KINDS = (
    (re.compile(r"\.grad\b"), "wrong .grad"),
    (re.compile(r"has shape "), "wrong shape"),
    (re.compile(r"has dtype "), "wrong dtype"),
    (re.compile(r"require gradients"), "wrong requires_grad"),
    (re.compile(r"should be a "), "wrong type"),
    (re.compile(r"has columns "), "wrong columns"),
    (re.compile(r"has \d+ (items|rows), expected"), "wrong length"),
    (re.compile(r"could not be compared|a value of a type"), "wrong type"),
    (re.compile(r"differs|\bexpected\b"), "wrong values"),
)


@dataclass(frozen=True)
class Failure:
    """Why one exercise of one submission failed."""

    kind: str
    #: ``public check 2`` / ``hidden check 1``: the first check that failed, if the message names one.
    check: str | None = None
    #: How many of the exercise's checks failed, when the message says.
    checks_failed: int | None = None


def _reason_kind(reason: str) -> str:
    reason = reason.strip()
    if reason.startswith("not done"):
        return NOT_DONE
    m = re.match(r"wrong (\.grad|[\w]+)", reason)
    if m:
        return f"wrong {m.group(1)}"
    if reason.startswith("raised"):
        name = _RAISED.match(reason)
        if name and name.group("name") != "exception":
            return f"raised {name.group('name').rsplit('.', 1)[-1]}"
        return "raised an exception"
    for pattern, kind in _PUBLIC_KINDS:
        if pattern.search(reason):
            return kind
    return OTHER


def classify(message: str) -> Failure:
    """The kind of failure a failed exercise's message describes (see the module docstring)."""
    text = " ".join(str(message).split())
    m = _CHECK.match(text)
    if m:
        n_failed = int(m.group("k")) if m.group("k") else 1
        return Failure(_reason_kind(m.group("reason")), f"{m.group('label')} check {m.group('i')}", n_failed)
    if text.startswith("not done") or "NotImplementedError" in text:
        return Failure(NOT_DONE)
    if "reference solutions package" in text:
        return Failure(REFERENCE_USED)
    if re.match(r"the cell of \S+ was deleted", text):
        return Failure(DELETED)
    cell = re.match(r"your cell of \S+ raised (?P<name>[A-Za-z_][\w.]*)", text)
    if cell:
        return Failure(f"cell raised {cell.group('name').rsplit('.', 1)[-1]}")
    if text.startswith("not graded"):
        return Failure(NOT_GRADED)
    return Failure(OTHER)


def check_failures(exercise: dict[str, Any]) -> list[tuple[str, str]]:
    """``(check, kind)`` of each failed check of an exercise, as far as its result tells."""
    checks = exercise.get("checks")
    if isinstance(checks, list):  # a result that lists every check
        return [(str(c.get("name")), str(c.get("kind") or OTHER)) for c in checks
                if isinstance(c, dict) and not c.get("passed")]
    if exercise.get("passed"):
        return []
    failure = classify(exercise.get("message", ""))
    return [(failure.check, failure.kind)] if failure.check else []
