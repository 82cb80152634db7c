"""``check(name, fn)`` as the book's chapters call it: the public cases, expected values from the reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autograder.exercises import get_spec
from autograder.runtime import run_cases


def check(name: str, fn: Callable[..., Any]) -> None:
    """Run the public checks of exercise ``name`` on ``fn``; raise with a clear reason if one fails."""
    spec = get_spec(name)
    run_cases(name, fn, spec.public_cases(), spec.kind, spec.rtol, spec.atol, label="public check")
