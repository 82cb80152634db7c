"""``check(name, fn)`` as the book's chapters call it: the public cases, expected values from the reference.

It also holds the chapter to its spec's examples: every name the task statement refers to
(``Spec.shown``) must be defined in the chapter, before the check, with the very value the check
uses, so that the page never shows one example and checks another.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from autograder.exercises import get_spec
from autograder.runtime import CheckFailed, compare, run_cases


def shown_differences(name: str, shown: Mapping[str, Any], namespace: Mapping[str, Any]) -> list[str]:
    """Why the examples a chapter shows (``namespace``) are not those of exercise ``name``'s check."""
    problems = []
    for var, value in shown.items():
        if var not in namespace:
            problems.append(f"{name}: the task refers to the example `{var}`, which the chapter does not "
                            f"define before the check (import it from the exercise's spec module)")
            continue
        try:
            reason = compare(value, namespace[var], where=f"the chapter's `{var}`")
        except TypeError:
            reason = f"the chapter's `{var}` cannot be compared with the spec's"
        if reason:
            problems.append(f"{name}: {reason}, but the check uses the spec's example; show the spec's "
                            f"value (import it from autograder.exercises) instead of typing another")
    return problems


def check(name: str, fn: Callable[..., Any]) -> None:
    """Run the public checks of exercise ``name`` on ``fn``; raise with a clear reason if one fails.

    Before that, the examples the task refers to must be the caller's (the chapter's) own names.
    """
    spec = get_spec(name)
    problems = shown_differences(name, spec.shown, sys._getframe(1).f_globals)
    if problems:
        raise CheckFailed("; ".join(problems))
    run_cases(name, fn, spec.public_cases(), spec.kind, spec.rtol, spec.atol, label="public check")
