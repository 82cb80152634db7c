"""Issue 9: exercises of the training-step kind, examples that live once, written questions.

- a run that leaves the reference's only after its third step passes the public check (three
  steps) and fails a hidden one, for every step-comparing exercise; a failed public check names the
  step and the tensor, a hidden one only the kind of difference;
- each example a task refers to by name is the one its check uses: the chapter binds it before the
  check, ``book_checks.check`` compares the values (a chapter copy with an edited example fails), and
  the release's setup cell defines it;
- written questions reach the source and release notebooks as nbgrader's manually graded answers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import torch

from autograder import assign, chapters, notebook_format
from autograder.exercises import all_specs
from autograder.exercises.ch2 import EXAMPLE_STEPS, MIN_HIDDEN_STEPS
from autograder.runtime import STEPS, TRAJECTORY, CheckFailed, run_cases
from solutions.paths import PROJECT_ROOT

CHAPTER_PATHS = chapters.chapter_paths()
EXERCISES = [ex for path in CHAPTER_PATHS for ex in chapters.load_exercises(path)]
SPECS = all_specs()
STEP_SPECS = [spec for spec in SPECS.values() if spec.kind in (STEPS, TRAJECTORY)]
BOOK_FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "book" / "ch0_book_fixture.md"
#: The step after which the mutants below leave the reference's run.
DIVERGES_AT = EXAMPLE_STEPS + 1


def _perturb(value):
    """``value`` moved a little: tensors by 0.01, floats by 1%, containers item by item."""
    if isinstance(value, torch.Tensor):
        return value + 0.01
    if isinstance(value, float):
        return value * 1.01 + 0.01
    if isinstance(value, (list, tuple)):
        return type(value)(_perturb(v) for v in value)
    return value


def _tensors(state) -> list[torch.Tensor]:
    return [state] if isinstance(state, torch.Tensor) else [t for part in state for t in _tensors(part)]


def step_mutant(reference):
    """The reference's one-step function, except that its ``DIVERGES_AT``-th step on a state overshoots."""
    def mutant(state, *rest):
        first = _tensors(state)[0]
        first._steps_taken = getattr(first, "_steps_taken", 0) + 1
        result = reference(state, *rest)
        if first._steps_taken == DIVERGES_AT:
            with torch.no_grad():
                first.add_(0.01)
        return result
    return mutant


def trajectory_mutant(reference):
    """The reference's training loop, except that everything after its third step is a little off."""
    def mutant(*args):
        *trained, losses = reference(*args)
        if len(losses) < DIVERGES_AT:
            return (*trained, losses)
        return (*_perturb(tuple(trained)), [*losses[:DIVERGES_AT], *_perturb(losses[DIVERGES_AT:])])
    return mutant


def test_every_chapter_has_a_multi_step_exercise() -> None:
    kinds = {path.stem: {SPECS[ex.id].kind for ex in chapters.load_exercises(path)} for path in CHAPTER_PATHS}
    # Chapter 1 splits (seed, shuffle, cut), chapter 3 computes the clipped cross-entropy, chapter 6
    # diagnoses a run; the others train step by step.
    multi_step = {"ch1_titanic": "random_split", "ch3_sigmoid": "binary_cross_entropy", "ch6_deep": "dead_units"}
    for name, found in kinds.items():
        if name in multi_step:
            assert multi_step[name] in {ex.id for ex in EXERCISES if ex.chapter == name}
        else:
            assert found & {STEPS, TRAJECTORY}, f"{name} has no exercise of kind steps or trajectory"


@pytest.mark.parametrize("spec", STEP_SPECS, ids=[s.id for s in STEP_SPECS])
def test_public_runs_are_short_and_hidden_runs_take_at_least_four_steps(spec) -> None:
    def steps(args):
        return args[0] if spec.kind == STEPS else args[-1]
    assert [steps(a) for a in spec.public_args()] == [EXAMPLE_STEPS] * len(spec.public_args())
    assert all(steps(a) >= MIN_HIDDEN_STEPS for a in spec.hidden_args())


@pytest.mark.parametrize("spec", STEP_SPECS, ids=[s.id for s in STEP_SPECS])
def test_a_run_leaving_the_reference_after_step_three_fails_a_hidden_check(spec) -> None:
    mutant = (step_mutant if spec.kind == STEPS else trajectory_mutant)(spec.reference)
    run_cases(spec.id, mutant, spec.public_cases(), spec.kind, spec.rtol, spec.atol, label="public check")
    with pytest.raises(CheckFailed) as failed:
        run_cases(spec.id, mutant, spec.hidden_cases(), spec.kind, spec.rtol, spec.atol, label="hidden check")
    assert re.fullmatch(rf"{spec.id}, hidden check \d+ of \d+: wrong values", str(failed.value)), str(failed.value)


@pytest.mark.parametrize("spec", STEP_SPECS, ids=[s.id for s in STEP_SPECS])
def test_a_failed_public_check_names_the_first_differing_step_and_the_tensor(spec) -> None:
    """On a public-sized run that diverges at step 2, the message names step 2 and what differs."""
    global DIVERGES_AT
    saved, DIVERGES_AT = DIVERGES_AT, 2
    try:
        mutant = (step_mutant if spec.kind == STEPS else trajectory_mutant)(spec.reference)
        with pytest.raises(CheckFailed) as failed:
            run_cases(spec.id, mutant, spec.public_cases(), spec.kind, spec.rtol, spec.atol, label="public check")
    finally:
        DIVERGES_AT = saved
    message = str(failed.value)
    if spec.kind == STEPS:
        # The step-2 overshoot shows in the coefficients after step 2.
        assert f"step 2 of {EXAMPLE_STEPS}: your run first leaves the reference's here" in message, message
        assert "the coefficients" in message and "got" in message and "expected" in message, message
    else:
        # The loop's losses after step 2 are off: the first differing loss is step 3's.
        assert f"step 3 of {EXAMPLE_STEPS}: your run first leaves the reference's here (its loss is" in message, message


def test_a_trajectory_with_right_losses_and_wrong_weights_says_so() -> None:
    spec = SPECS["fit_linear_gd"]

    def wrong_weights(*args):
        weight, bias, losses = spec.reference(*args)
        return weight, bias + 1, losses
    with pytest.raises(CheckFailed, match=r"the losses of all 3 steps agree, but item 1 of the result"):
        run_cases(spec.id, wrong_weights, spec.public_cases(), spec.kind, label="public check")


def test_the_long_sourdough_run_reaches_the_normal_equation() -> None:
    """fit_linear_gd's last hidden run is checked against gradient descent, which there is least squares."""
    from solutions.ch7_normal_equation import add_intercept, lstsq

    (x, y, *_), (weight, bias, _) = SPECS["fit_linear_gd"].hidden_cases()[-1]
    theta = lstsq(add_intercept(x), y)
    torch.testing.assert_close(weight, theta[1:].T, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(bias, theta[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("spec_id", ["calc_preds_nn", "calc_preds_deep", "one_epoch_nn"])
def test_hidden_checks_pass_other_activations_and_a_relu_only_answer_fails(spec_id: str) -> None:
    spec = SPECS[spec_id]
    assert any(isinstance(a[-1], dict) for a in spec.hidden_args())
    assert any(not isinstance(a[-1], dict) for a in spec.hidden_args())
    reference = spec.reference

    def relu_only(*args):
        args = list(args)
        if spec.kind == STEPS:  # one_epoch_nn(coeffs, x, y, lr, activation): drop the activation
            return reference(*args[:4])
        return reference(*args[:2])
    run_cases(spec_id, relu_only, spec.public_cases(), spec.kind, spec.rtol, spec.atol)
    with pytest.raises(CheckFailed):
        run_cases(spec_id, relu_only, spec.hidden_cases(), spec.kind, spec.rtol, spec.atol, label="hidden check")


# --- examples that live once -----------------------------------------------------------------------


def _bound_names(source: str) -> set[str]:
    """Top-level names a code cell binds (assignments, imports)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


@pytest.mark.parametrize("ex", EXERCISES, ids=[e.id for e in EXERCISES])
def test_the_chapter_binds_every_shown_example_before_the_check(ex) -> None:
    nb = chapters.read_chapter(chapters.CHAPTERS_DIR / f"{ex.chapter}.md")
    bound = set().union(*(_bound_names(c.source) for c in nb.cells[:ex.check_cell] if c.cell_type == "code"))
    missing = set(SPECS[ex.id].shown) - bound
    assert not missing, f"{ex.chapter}: {ex.id}'s task refers to {sorted(missing)}, which the chapter never defines"


@pytest.mark.parametrize("ex", EXERCISES, ids=[e.id for e in EXERCISES])
def test_every_chapter_variable_a_task_names_is_a_shown_example(ex) -> None:
    """A task that says "the example is `raw`" must list `raw` in its spec, so the release defines it."""
    import inspect

    nb = chapters.read_chapter(chapters.CHAPTERS_DIR / f"{ex.chapter}.md")
    chapter_vars = set().union(*(_bound_names(c.source) for c in nb.cells if c.cell_type == "code"))
    params = set()
    for fn in ([ex.reference] if not inspect.isclass(ex.reference) else
               [v for v in vars(ex.reference).values() if inspect.isfunction(v)]):
        params |= set(inspect.signature(fn).parameters)
    # The sentences that give the example ("The example is `raw` above", "The public check is ...").
    example_sentences = [t for t in re.split(r"(?<=[.:])\s", ex.task) if re.search(r"example|public check", t)]
    named = set(re.findall(r"`([A-Za-z_]\w*)`", " ".join(example_sentences)))
    ids = {e.id for e in EXERCISES}
    unshown = (named & chapter_vars) - params - ids - set(SPECS[ex.id].shown) - {"torch", "F", "nn", "np", "pd"}
    assert not unshown, f"{ex.id}: the task names {sorted(unshown)} from the chapter; add them to the spec's shown"


def _run_chapter(path: Path) -> dict:
    """Execute a (small) chapter's code cells in one namespace, as the book's kernel does."""
    namespace: dict = {"__name__": "__chapter__"}
    for cell in jupytext.read(path).cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, str(path), "exec"), namespace)
    return namespace


def test_fixture_chapter_shows_the_checked_examples() -> None:
    namespace = _run_chapter(BOOK_FIXTURE)
    assert "toy_x" in namespace and "calc_preds" in namespace


@pytest.mark.parametrize("edit", [
    # Typed in again, with one value changed: the page would show another example than the check's.
    ("from autograder.exercises.ch2 import (\n    EXAMPLE_COEFFS as toy_coeffs,",
     "toy_coeffs = torch.tensor([0.2, -0.5])\nfrom autograder.exercises.ch2 import (\n   "),
    # The wrong example imported under the name the task uses.
    ("EXAMPLE_X as toy_x", "EXAMPLE_PREDS as toy_x"),
    # Not shown at all.
    ("EXAMPLE_Y as toy_y,", ""),
], ids=["retyped", "swapped", "missing"])
def test_a_chapter_whose_example_differs_from_its_checks_fails(edit, tmp_path: Path) -> None:
    old, new = edit
    text = BOOK_FIXTURE.read_text()
    assert old in text
    copy = tmp_path / BOOK_FIXTURE.name
    copy.write_text(text.replace(old, new, 1))
    with pytest.raises(CheckFailed, match="the chapter's `toy_|does not define before the check"):
        _run_chapter(copy)


@pytest.mark.parametrize("path", CHAPTER_PATHS, ids=[p.stem for p in CHAPTER_PATHS])
def test_the_release_setup_defines_the_shown_examples(path: Path) -> None:
    from autograder.runtime import compare

    specs = [SPECS[ex.id] for ex in chapters.load_exercises(path)]
    namespace: dict = {}
    exec(compile(assign.setup_source(specs), "<setup>", "exec"), namespace)
    for spec in specs:
        for var, value in spec.shown.items():
            assert compare(value, namespace[var]) is None, f"{path.stem}: the setup cell's {var} differs"


# --- written questions -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", CHAPTER_PATHS, ids=[p.stem for p in CHAPTER_PATHS])
def test_every_chapter_asks_written_questions(path: Path) -> None:
    questions = chapters.load_questions(path)
    assert 1 <= len(questions) <= 4, f"{path.stem}: {len(questions)} written questions"
    ids = [q.id for path in CHAPTER_PATHS for q in chapters.load_questions(path)]
    assert len(ids) == len(set(ids)), "a question id is used twice"


@pytest.mark.parametrize("meta, problem", [
    ({"question": "Bad Id", "points": 1}, "lower-case"),
    ({"question": "q1", "points": 0}, "positive whole number"),
    ({"question": "q1"}, "positive whole number"),
])
def test_a_malformed_question_is_refused(meta: dict, problem: str) -> None:
    cell = nbformat.v4.new_markdown_cell("Why?", metadata=meta)
    with pytest.raises(chapters.ChapterError, match=problem):
        chapters.find_questions(nbformat.v4.new_notebook(cells=[cell]), "chx")


def test_questions_become_manually_graded_answer_cells(tmp_path: Path) -> None:
    """In the source: the question (locked) and an nbgrader answer cell graded by hand, in chapter order."""
    path = chapters.CHAPTERS_DIR / "ch2_gradient_descent.md"
    nb = chapters.read_chapter(path)
    exercises, questions = chapters.find_exercises(nb, path.stem), chapters.find_questions(nb, path.stem)
    source = assign.source_notebook(path.stem, "t", exercises, SPECS, questions)
    by_id = {c.metadata["nbgrader"]["grade_id"]: (i, c) for i, c in enumerate(source.cells)}
    for q in questions:
        i, question = by_id[notebook_format.QUESTION_PREFIX + q.id]
        j, answer = by_id[notebook_format.ANSWER_PREFIX + q.id]
        assert j == i + 1 and question.source == q.text and question.metadata["nbgrader"]["locked"]
        assert answer.cell_type == "markdown" and answer.source == notebook_format.ANSWER_STUB
        meta = answer.metadata["nbgrader"]
        assert (meta["solution"], meta["grade"], meta["locked"], meta["task"], meta["points"]) == \
            (True, True, False, False, q.points)
    order = [c.metadata["nbgrader"]["grade_id"] for c in source.cells]
    last_check = max(order.index(notebook_format.CHECK_PREFIX + e.id) for e in exercises)
    assert all(order.index(notebook_format.QUESTION_PREFIX + q.id) > last_check for q in questions)  # as in the chapter
