"""The check specs of every exercise, one module per chapter, gathered by id."""

from __future__ import annotations

import importlib

from autograder.specs import Spec

CHAPTER_MODULES: tuple[str, ...] = ("ch1", "ch2", "ch3", "ch4", "ch5", "ch6", "ch7", "ch8")


def all_specs() -> dict[str, Spec]:
    """Every exercise's spec, keyed by exercise id (the function's name)."""
    specs: dict[str, Spec] = {}
    for name in CHAPTER_MODULES:
        try:
            module = importlib.import_module(f"autograder.exercises.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"autograder.exercises.{name}":
                continue
            raise
        for spec in module.SPECS:
            if spec.id in specs:
                raise ValueError(f"exercise id {spec.id!r} is defined twice")
            specs[spec.id] = spec
    return specs


def get_spec(exercise_id: str) -> Spec:
    """The spec of one exercise; a clear error names the known ids if it does not exist."""
    specs = all_specs()
    if exercise_id not in specs:
        raise KeyError(f"no check spec for exercise {exercise_id!r}; known: {', '.join(sorted(specs))}")
    return specs[exercise_id]
