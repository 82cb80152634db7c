"""The authoring contract of docs/AUTHORING.md, enforced on every chapter, exercise and spec."""

from __future__ import annotations

import ast
import inspect
import math
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder import chapters
from autograder.exercises import all_specs
from autograder.runtime import CheckFailed, run_cases

#: The names an exercise's reference may use besides its arguments, builtins and earlier exercises.
ALLOWED_GLOBALS: dict[str, object] = {"torch": torch, "F": F, "nn": nn, "np": np, "pd": pd, "math": math}
MIN_EXERCISES, MAX_EXERCISES = 2, 5

CHAPTER_PATHS = chapters.chapter_paths()
EXERCISES = [ex for path in CHAPTER_PATHS for ex in chapters.load_exercises(path)]


def _ids(items) -> list[str]:
    return [getattr(i, "id", getattr(i, "stem", str(i))) for i in items]


def test_there_are_chapters() -> None:
    assert CHAPTER_PATHS, "no chapters found in chapters/"


@pytest.mark.parametrize("path", CHAPTER_PATHS, ids=_ids(CHAPTER_PATHS))
def test_chapter_has_two_to_five_exercises(path: Path) -> None:
    n = len(chapters.load_exercises(path))
    assert MIN_EXERCISES <= n <= MAX_EXERCISES, f"{path.name} has {n} exercises"


@pytest.mark.parametrize("path", CHAPTER_PATHS, ids=_ids(CHAPTER_PATHS))
def test_chapter_holds_no_copy_of_a_reference(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for ex in EXERCISES:
        assert f"def {ex.id}(" not in text and f"class {ex.id}(" not in text, \
            f"{path.name} defines {ex.id} itself; import it from {ex.module} instead"


def test_every_exercise_has_a_spec_and_every_spec_an_exercise() -> None:
    specs = all_specs()
    ids = [ex.id for ex in EXERCISES]
    assert len(ids) == len(set(ids)), "an exercise id is used in two chapters"
    assert sorted(ids) == sorted(specs), (
        f"exercises without spec: {sorted(set(ids) - set(specs))}; specs without exercise: {sorted(set(specs) - set(ids))}")


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _functions(obj) -> list:
    if inspect.isclass(obj):
        return [v for v in vars(obj).values() if inspect.isfunction(v)]
    return [obj]


@pytest.mark.parametrize("ex", EXERCISES, ids=_ids(EXERCISES))
def test_reference_is_self_contained(ex: chapters.Exercise) -> None:
    """Rule 5: a release notebook has no solutions package, so the reference may use only these names."""
    earlier = {e.id for e in EXERCISES if e.chapter == ex.chapter and e.solution_cell < ex.solution_cell}
    earlier.add(ex.id)  # a function may call itself (update_coeffs walks nested lists that way)
    for fn in _functions(ex.reference):
        module_globals = fn.__globals__
        used = {n for n in _global_names(fn.__code__) if n in module_globals}
        for name in used:
            if name in earlier:
                continue
            assert name in ALLOWED_GLOBALS and module_globals[name] is ALLOWED_GLOBALS[name], (
                f"{ex.id} uses the module-level name {name!r}; only {sorted(ALLOWED_GLOBALS)} and earlier "
                f"exercises of its chapter are available in a release notebook")
    tree = ast.parse(ex.reference_source())
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                for name in (n.id for n in ast.walk(default) if isinstance(n, ast.Name) if default is not None):
                    assert name in ALLOWED_GLOBALS or name in earlier - {ex.id}, (
                        f"{ex.id}: the default value uses {name!r}; write the literal (or use an earlier exercise)")


@pytest.mark.parametrize("ex", EXERCISES, ids=_ids(EXERCISES))
def test_reference_source_read_from_the_file_is_what_python_gives(ex: chapters.Exercise) -> None:
    """The book and the assignments read each reference's source from its file without importing it;
    computed the other way, through the imported function and :func:`inspect.getsource`, it is the same."""
    import textwrap

    from_file = chapters.top_level_source(ex.module, ex.id)
    assert from_file is not None and from_file == ex.reference_source()
    assert from_file == textwrap.dedent(inspect.getsource(ex.reference))


def test_top_level_source_finds_decorated_definitions_and_only_top_level_ones(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Decorators are part of the source, as inspect gives it; a nested or imported name is not found."""
    import sys
    import textwrap

    (tmp_path / "srcmod.py").write_text(textwrap.dedent('''\
        import functools
        from math import sqrt


        @functools.lru_cache(maxsize=None)
        @staticmethod
        def cached(x):  # a comment on the def line
            return x


        class Box:
            def inner(self):
                return 1
        '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("srcmod", None)
    import srcmod

    assert chapters.top_level_source("srcmod", "cached") == inspect.getsource(srcmod.cached)
    assert chapters.top_level_source("srcmod", "Box") == inspect.getsource(srcmod.Box)
    assert chapters.top_level_source("srcmod", "inner") is None and chapters.top_level_source("srcmod", "sqrt") is None


@pytest.mark.parametrize("ex", EXERCISES, ids=_ids(EXERCISES))
def test_stub_matches_its_solution(ex: chapters.Exercise) -> None:
    """The stub keeps the reference's signature and docstring, and fails its check as 'not done yet'."""
    source = ex.reference_source()
    stub_source = chapters.stub(source)
    assert stub_source != source
    marked = chapters.with_markers(source)
    assert [line for line in marked.split("\n") if "### " not in line] == source.rstrip("\n").split("\n")
    namespace: dict[str, object] = dict(ALLOWED_GLOBALS)
    # As in a release notebook, the earlier exercises of the chapter are defined above this one.
    namespace.update({e.id: e.reference for e in EXERCISES if e.chapter == ex.chapter and e.solution_cell < ex.solution_cell})
    exec(compile("from __future__ import annotations\n" + stub_source, f"<stub {ex.id}>", "exec"), namespace)
    stub_obj = namespace[ex.id]
    for ref_fn, stub_fn in zip(_functions(ex.reference), _functions(stub_obj)):
        assert ref_fn.__name__ == stub_fn.__name__
        ref_sig, stub_sig = inspect.signature(ref_fn), inspect.signature(stub_fn)
        assert list(ref_sig.parameters) == list(stub_sig.parameters)
        assert [p.default for p in ref_sig.parameters.values()] == [p.default for p in stub_sig.parameters.values()]
        assert inspect.getdoc(ref_fn) == inspect.getdoc(stub_fn), f"{ex.id}: the stub lost the docstring"
        assert inspect.getdoc(ref_fn), f"{ex.id}: the reference needs a docstring saying what to compute"
    spec = all_specs()[ex.id]
    with pytest.raises(CheckFailed, match="not done yet|raised"):
        run_cases(ex.id, stub_obj, spec.public_cases(), spec.kind, spec.rtol, spec.atol)


@pytest.mark.parametrize("ex", EXERCISES, ids=_ids(EXERCISES))
def test_reference_passes_its_own_public_and_hidden_cases(ex: chapters.Exercise) -> None:
    spec = all_specs()[ex.id]
    assert spec.public_args(), f"{ex.id}: no public case"
    assert len(spec.hidden_args()) >= 3, f"{ex.id}: fewer than 3 hidden cases"
    run_cases(ex.id, ex.reference, spec.public_cases(), spec.kind, spec.rtol, spec.atol)
    run_cases(ex.id, ex.reference, spec.hidden_cases(), spec.kind, spec.rtol, spec.atol)


@pytest.mark.parametrize("ex", EXERCISES, ids=_ids(EXERCISES))
def test_hidden_cases_are_deterministic_and_differ_from_public(ex: chapters.Exercise) -> None:
    from autograder.runtime import compare

    spec = all_specs()[ex.id]
    first, second = spec.hidden_args(), spec.hidden_args()
    assert compare(first, second) is None, f"{ex.id}: hidden cases change between calls with the same seed"
    for public in spec.public_args():
        for hidden in first:
            try:
                same = compare(public, hidden) is None
            except TypeError:
                same = False
            assert not same, f"{ex.id}: a hidden case equals the public example"


def test_a_private_hidden_seed_changes_the_hidden_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    """An instructor's private seed (for a graded term) gives other, still deterministic, hidden inputs."""
    from autograder.runtime import compare
    from autograder.specs import HIDDEN_SEED_ENV

    spec = all_specs()["calc_preds"]
    default = spec.hidden_args()
    monkeypatch.setenv(HIDDEN_SEED_ENV, "987654321")
    private = spec.hidden_args()
    assert compare(private, spec.hidden_args()) is None
    assert compare(default, private) is not None
    monkeypatch.setenv(HIDDEN_SEED_ENV, "not a number")
    with pytest.raises(ValueError, match=HIDDEN_SEED_ENV):
        spec.hidden_args()
