"""Grading one notebook (``python -m autograder grade``), end to end on chapter 2's real assignment.

Submissions are built from the source and release notebooks that ``autograder assign`` generates,
graded by the real grader in the real sandbox; expected scores come from the chapter's points and
expected values from the reference (``autograder.exercises``), never typed in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from autograder.notebook_format import ANSWER_PREFIX, METADATA_KEY
from autograder.chapters import CHAPTERS_DIR, load_exercises, load_questions
from autograder.cli import main as cli_main
from autograder.exercises import get_spec
from autograder.grading.scan import SOLUTIONS_MESSAGE, uses_solutions
from autograder.grading.source import grade_id
from autograder.grading.verdict import difference_kind
from autograder.safe_io import MAX_NOTEBOOK_BYTES
from autograder.runtime import INPLACE, compare, compare_observed, observe
from solutions.paths import PROJECT_ROOT

pytestmark = pytest.mark.grading

ASSIGNMENT = "ch2_gradient_descent"
OTHER_ASSIGNMENT = "ch3_sigmoid"
#: The chapter's points per exercise: what full and partial marks must add up to.
POINTS = {ex.id: ex.points for ex in load_exercises(CHAPTERS_DIR / f"{ASSIGNMENT}.md")}
#: The chapter's written questions and their points: graded by hand, never part of the score.
QUESTIONS = {q.id: q.points for q in load_questions(CHAPTERS_DIR / f"{ASSIGNMENT}.md")}
JSON_KEYS = {"assignment", "score", "max_score", "exercises"}
#: Present when the assignment has written questions (an optional key: older results lack it).
BY_HAND_KEY = "by_hand"
BY_HAND_KEYS = {"id", "max_score", "answered"}
#: A written answer a student might give.
ANSWER = "Without zeroing, `backward()` adds each new gradient to the old one in `.grad`."
EXERCISE_KEYS = {"id", "score", "max_score", "passed", "message"}
#: Honest answers written differently from the reference (loops, ``@`` instead of ``(X * w).sum(1)``).
ALTERNATIVE = {
    "calc_preds": '''
def calc_preds(coeffs, indeps):
    return indeps @ coeffs
''',
    "mae_loss": '''
def mae_loss(preds, targets):
    total = torch.zeros(())
    for p, t in zip(preds, targets):
        total = total + (p - t).abs()
    return total / len(preds)
''',
    "update_coeffs": '''
def update_coeffs(coeffs, lr):
    tensors, todo = [], [coeffs]
    while todo:  # nested lists and tuples, walked without recursion
        item = todo.pop()
        if isinstance(item, (list, tuple)):
            todo.extend(item)
        else:
            tensors.append(item)
    for c in tensors:
        with torch.no_grad():
            c -= c.grad * lr
        c.grad.zero_()
''',
    "one_epoch": '''
def one_epoch(coeffs, x, y, lr, predict=calc_preds, loss_fn=mae_loss):
    loss = loss_fn(predict(coeffs, x), y)
    loss.backward()
    update_coeffs(coeffs, lr)
    return float(loss)
''',
    "accuracy": '''
def accuracy(preds, targets, threshold=0.5):
    hits = sum(int(bool(p > threshold) == bool(t)) for p, t in zip(preds, targets))
    return _share(hits, len(preds))
''',
}
#: A cell the student added, used by the alternative ``accuracy``: added cells run, in order.
ADDED_HELPER = "def _share(part, whole):\n    return part / whole\n"
#: Right on the chapter's two-feature example, wrong in general: only the hidden checks can tell.
FIRST_TWO_FEATURES = '''
def calc_preds(coeffs, indeps):
    return (indeps[:, :2] * coeffs[:2]).sum(1)
'''


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m autograder ...`` in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=PROJECT_ROOT, env=_env(),
                          capture_output=True, text=True, timeout=900)


def generated_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Chapter 2's assignment generated once per test session by ``autograder assign``; do not modify."""
    course = tmp_path_factory.getbasetemp() / "grading-template" / "course"
    if not (course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file():
        proc = run_cli("assign", ASSIGNMENT, "--course-dir", str(course))
        assert proc.returncode == 0, proc.stderr
    return course


def notebook(course: Path, step: str) -> nbformat.NotebookNode:
    """The generated ``source`` or ``release`` notebook."""
    return nbformat.read(course / step / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)


def cell_of(nb: nbformat.NotebookNode, gid: str) -> nbformat.NotebookNode:
    """The cell with nbgrader grade_id ``gid``."""
    return next(c for c in nb.cells if grade_id(c) == gid)


def submission(course: Path, answers: dict[str, str] | None = None, solved: tuple[str, ...] = (),
               delete: tuple[str, ...] = (), added: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The release notebook with some answers: ``solved`` from the source, others as given.

    ``added`` puts a new code cell (no nbgrader metadata) right before the named exercise's cell.
    """
    nb = notebook(course, "release")
    source = notebook(course, "source")
    for gid in solved:
        cell_of(nb, gid).source = cell_of(source, gid).source
    for gid, code in (answers or {}).items():
        cell_of(nb, gid).source = code.strip()
    for gid, code in (added or {}).items():
        nb.cells.insert(nb.cells.index(cell_of(nb, gid)), nbformat.v4.new_code_cell(code))
    nb.cells = [c for c in nb.cells if grade_id(c) not in delete]
    return nb


def write(nb: nbformat.NotebookNode, folder: Path, name: str = "submission.ipynb") -> Path:
    """Save a notebook the way Jupyter does."""
    path = folder / name
    nbformat.write(nb, path)
    return path


def grade_json(path: Path, course: Path, capsys: pytest.CaptureFixture, *extra: str) -> dict:
    """``autograder grade PATH --json`` in this process; the one JSON object it printed."""
    status = cli_main(["grade", str(path), "--json", "--course-dir", str(course), *extra])
    out = capsys.readouterr().out
    assert status == 0
    return json.loads(out)


def scores(result: dict) -> dict[str, float]:
    """Each exercise's score."""
    return {e["id"]: e["score"] for e in result["exercises"]}


def messages(result: dict) -> dict[str, str]:
    """Each exercise's message."""
    return {e["id"]: e["message"] for e in result["exercises"]}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated chapter 2 course folder (read-only for these tests)."""
    return generated_course(tmp_path_factory)


# --- scores --------------------------------------------------------------------------------------


def test_source_notebook_gets_full_marks(course: Path, capsys) -> None:
    """The instructor's source notebook, reference solutions and all, scores every point."""
    result = grade_json(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", course, capsys,
                        "--feedback", str(course.parent / "source_feedback.html"))
    assert result["score"] == result["max_score"] == sum(POINTS.values())
    assert scores(result) == POINTS
    assert all(e["passed"] for e in result["exercises"])


def test_untouched_release_scores_zero_without_error(course: Path, tmp_path: Path, capsys) -> None:
    """The student's starting notebook: 0 points, every exercise 'not done yet', exit status 0."""
    path = write(notebook(course, "release"), tmp_path)
    result = grade_json(path, course, capsys)
    assert result["score"] == 0 and result["max_score"] == sum(POINTS.values())
    assert all("not done yet" in m for m in messages(result).values()), messages(result)
    assert (tmp_path / "submission_feedback.html").is_file()  # default: next to the notebook


def test_partly_solved_scores_exactly_the_solved_exercises(course: Path, tmp_path: Path, capsys) -> None:
    """Two exercises solved, one untouched, one cell deleted: exactly the solved exercises' points.

    The locked setup cell is deleted too: the grader restores it from the source notebook.
    """
    nb = submission(course, solved=("calc_preds", "update_coeffs"), delete=("mae_loss", "setup_code"))
    result = grade_json(write(nb, tmp_path), course, capsys)
    assert scores(result) == {"calc_preds": POINTS["calc_preds"], "mae_loss": 0,
                              "update_coeffs": POINTS["update_coeffs"], "one_epoch": 0, "accuracy": 0}
    assert result["score"] == POINTS["calc_preds"] + POINTS["update_coeffs"]
    assert messages(result)["mae_loss"] == "the cell of mae_loss was deleted"


def test_differently_written_solutions_get_full_marks(course: Path, tmp_path: Path, capsys) -> None:
    """Loops instead of vectorised code, ``X @ w`` instead of ``(X * w).sum(1)``, a helper in an added cell.

    The locked cells were edited as well: the setup is restored from the source, check cells never run.
    """
    tampered = {"setup_code": "raise RuntimeError('edited setup')",
                "check_calc_preds": "raise RuntimeError('edited check')"}
    nb = submission(course, answers={**ALTERNATIVE, **tampered}, added={"accuracy": ADDED_HELPER})
    result = grade_json(write(nb, tmp_path), course, capsys)
    assert result["score"] == result["max_score"], messages(result)


def test_answer_hard_coded_to_the_public_example_fails_the_hidden_checks(course: Path, tmp_path: Path,
                                                                        capsys) -> None:
    """Returning the chapter's example output passes the public check and fails every hidden one."""
    (args, expected), = get_spec("calc_preds").public_cases()
    literal = f"torch.tensor({expected.tolist()!r})"
    nb = submission(course, answers={"calc_preds": f"def calc_preds(coeffs, indeps):\n    return {literal}"},
                    solved=("mae_loss", "update_coeffs", "one_epoch", "accuracy"))
    result = grade_json(write(nb, tmp_path), course, capsys)
    assert scores(result)["calc_preds"] == 0
    # one_epoch predicts with the student's calc_preds (its default argument), so it fails with it.
    assert scores(result)["one_epoch"] == 0
    assert result["score"] == sum(POINTS.values()) - POINTS["calc_preds"] - POINTS["one_epoch"]
    message = messages(result)["calc_preds"]
    assert message.startswith("hidden check 1 of ") and "wrong shape" in message, message


# --- what feedback may say -------------------------------------------------------------------------


def _hidden_numbers(spec_id: str) -> set[str]:
    """Every number of the exercise's hidden cases (inputs and expected outputs) as the runtime prints it."""
    found: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, torch.Tensor):
            for v in value.detach().flatten().tolist():
                found.update({f"{v:.6g}", f"{v:.4f}", repr(v)})
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif isinstance(value, float):
            found.update({f"{value:.6g}", repr(value)})

    for args, expected in get_spec(spec_id).hidden_cases():
        walk(args)
        walk(expected)
    # numbers this short also occur in ordinary text ("1 of 3", "0.5")
    return {s for s in found if len(s.replace("-", "").replace(".", "")) >= 4}


def test_hidden_failures_reveal_no_hidden_values(course: Path, tmp_path: Path, capsys) -> None:
    """A hidden failure says 'wrong values', not the values; the HTML feedback holds no hidden literal.

    The answer uses only the first two features: right on the public example, wrong on the hidden
    cases. The raw comparison of such a case does name hidden numbers (checked here first), so the
    test would catch a grader that passed it through.
    """
    nb = submission(course, answers={"calc_preds": FIRST_TWO_FEATURES}, solved=("mae_loss",))
    feedback = tmp_path / "feedback" / "out.html"
    result = grade_json(write(nb, tmp_path), course, capsys, "--feedback", str(feedback))
    message = messages(result)["calc_preds"]
    assert re.fullmatch(r"hidden check 1 of \d+: wrong values \(\d+ of \d+ checks failed\)", message), message

    spec = get_spec("calc_preds")
    namespace: dict = {"torch": torch}
    exec(FIRST_TWO_FEATURES, namespace)
    args, expected = spec.hidden_cases()[0]
    raw = compare_observed(expected, observe(namespace["calc_preds"], args, spec.kind), spec.kind)
    hidden = set().union(*(_hidden_numbers(e) for e in POINTS))
    assert raw and any(n in raw for n in hidden), raw  # the unfiltered reason does leak

    html = feedback.read_text()
    shown = html + json.dumps(result)
    leaked = sorted(n for n in hidden if n in shown)
    assert not leaked, f"hidden values in the feedback: {leaked[:10]}"
    assert "BEGIN HIDDEN" not in html and "run_cases(" not in html and "hidden check 1 of" in html
    for title in ("Exercise 2.1", "Exercise 2.2"):
        assert title in html


def _grad_state(value: torch.Tensor, grad: torch.Tensor | None) -> tuple:
    """What an in-place call left in one tensor argument, as ``runtime.observe`` reports it."""
    return (None, ((value, grad),))


@pytest.mark.parametrize("expected, actual, kind, want", [
    (torch.tensor([0.123456, 0.5]), torch.tensor([0.654321, 0.5]), "return", "wrong values"),
    (torch.tensor([0.123456, 0.5]), torch.tensor([0.123456]), "return", "wrong shape"),
    (torch.tensor([0.123456]), torch.tensor([0.123456], dtype=torch.float64), "return", "wrong dtype"),
    (torch.tensor([0.123456], requires_grad=True), torch.tensor([0.123456]), "return", "wrong requires_grad"),
    (torch.tensor([0.123456]), [0.123456], "return", "wrong type"),
    (0.123456, 0.654321, "return", "wrong values"),
    ((0.123456, 0.5), (0.123456, 0.5, 0.25), "return", "wrong length"),
    (_grad_state(torch.tensor([0.123456]), torch.zeros(1)), _grad_state(torch.tensor([0.123456]), None),
     INPLACE, "wrong .grad (argument 1 after the call): was .grad set to None instead of zeroed?"),
    (_grad_state(torch.tensor([0.123456]), None), _grad_state(torch.tensor([0.654321]), None),
     INPLACE, "wrong values (argument 1 after the call)"),
])
def test_difference_kind_names_the_kind_and_no_value(expected, actual, kind: str, want: str) -> None:
    """Every kind of difference the runtime reports becomes a label without the values it printed."""
    reason = compare_observed(expected, actual, kind)
    assert reason is not None
    assert difference_kind(reason) == want
    assert not re.search(r"\d\.\d", difference_kind(reason)) and "(1,)" not in difference_kind(reason)
    assert compare(torch.tensor(1.0), torch.tensor(1.0)) is None  # sanity: equal values pass


# --- the reference solutions package ----------------------------------------------------------------


def test_importing_the_reference_scores_zero_for_that_exercise(course: Path, tmp_path: Path, capsys) -> None:
    """Cells that reach for ``solutions`` score 0 with the reason; the other exercises are unaffected."""
    nb = submission(course, answers={
        "calc_preds": "from solutions.ch2_gradient_descent import calc_preds",
        "mae_loss": 'import importlib\nmae_loss = importlib.import_module("solutions.ch2_gradient_descent").mae_loss',
    }, solved=("update_coeffs", "accuracy"))
    result = grade_json(write(nb, tmp_path), course, capsys)
    assert scores(result) == {"calc_preds": 0, "mae_loss": 0, "update_coeffs": POINTS["update_coeffs"],
                              "one_epoch": 0, "accuracy": POINTS["accuracy"]}
    assert messages(result)["calc_preds"] == messages(result)["mae_loss"] == SOLUTIONS_MESSAGE


@pytest.mark.parametrize("code", [
    "import solutions",
    "import solutions.ch2_gradient_descent as s",
    "from solutions.ch2_gradient_descent import calc_preds",
    "from solutions import ch2_gradient_descent",
    "import importlib\nm = importlib.import_module('solutions.ch2_gradient_descent')",
    "from importlib import import_module\nm = import_module('solutions')",
    "m = __import__('solutions.ch2_gradient_descent')",
    "exec('from solutions.ch2_gradient_descent import calc_preds')",
    "f = eval('__import__(\"solutions\")')",
    "import sys\nf = getattr(sys.modules['solutions.ch2_gradient_descent'], 'calc_preds')",
    "%time import solutions",
    "%%time\nimport solutions",
])
def test_uses_solutions_finds_the_reference(code: str) -> None:
    """Each way of naming the reference package in a cell is found statically."""
    assert uses_solutions(code)


@pytest.mark.parametrize("code", [
    "def calc_preds(coeffs, indeps):\n    return indeps @ coeffs",
    "# I checked my solutions twice\nx = 1",
    "my_solutions = [1, 2]\nprint('my solutions', my_solutions)",
    "import solutionsfoo",
    "def broken(:\n    pass",
])
def test_uses_solutions_leaves_honest_cells_alone(code: str) -> None:
    """Comments, other names and cells that do not even parse are not flagged."""
    assert not uses_solutions(code)


# --- the command line ------------------------------------------------------------------------------


def test_json_output_is_exactly_one_object_of_the_schema(course: Path, tmp_path: Path) -> None:
    """``--json`` in a fresh process: stdout is one JSON object with exactly the documented keys."""
    path = write(submission(course, solved=("accuracy",)), tmp_path)
    proc = run_cli("grade", str(path), "--json", "--course-dir", str(course))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # the whole of stdout: one object and nothing else
    assert set(result) == JSON_KEYS | {BY_HAND_KEY}
    assert [q["id"] for q in result[BY_HAND_KEY]] == list(QUESTIONS)
    assert all(set(q) == BY_HAND_KEYS for q in result[BY_HAND_KEY])
    assert result["assignment"] == ASSIGNMENT
    assert [e["id"] for e in result["exercises"]] == list(POINTS)
    for ex in result["exercises"]:
        assert set(ex) == EXERCISE_KEYS
        assert isinstance(ex["passed"], bool) and isinstance(ex["message"], str) and ex["message"]
        assert ex["max_score"] == POINTS[ex["id"]] and ex["score"] in (0, POINTS[ex["id"]])
    assert result["score"] == sum(e["score"] for e in result["exercises"]) == POINTS["accuracy"]
    assert result["max_score"] == sum(POINTS.values())


def test_table_output(course: Path, tmp_path: Path, capsys) -> None:
    """Without ``--json``: one row per exercise with points, passed/failed and a reason, then the total."""
    path = write(submission(course, solved=("calc_preds",)), tmp_path)
    assert cli_main(["grade", str(path), "--course-dir", str(course)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"calc_preds\s+2\s+2\s+passed\s+all \d+ checks passed", out), out
    assert re.search(r"mae_loss\s+0\s+1\s+failed\s+not done yet", out), out
    assert f"total: {POINTS['calc_preds']} / {sum(POINTS.values())}" in out


def _error(capsys, *argv: str) -> str:
    assert cli_main(list(argv)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def test_wrong_assignment_is_refused(course: Path, tmp_path: Path, capsys) -> None:
    """``--assignment`` naming another assignment than the notebook's: exit 2 and which is which."""
    path = write(notebook(course, "release"), tmp_path)
    err = _error(capsys, "grade", str(path), "--assignment", OTHER_ASSIGNMENT, "--course-dir", str(course))
    assert f"this notebook is assignment {ASSIGNMENT}, not {OTHER_ASSIGNMENT}" in err


def test_unknown_assignment_lists_the_known_ones(course: Path, tmp_path: Path, capsys) -> None:
    """A notebook claiming an assignment that does not exist: exit 2, the known ones listed."""
    nb = notebook(course, "release")
    nb.metadata[METADATA_KEY]["assignment"] = "ch99_nothing"
    err = _error(capsys, "grade", str(write(nb, tmp_path)), "--course-dir", str(course))
    assert "unknown assignment 'ch99_nothing'" in err and ASSIGNMENT in err


def test_assignment_recognised_from_cells_without_metadata(course: Path, tmp_path: Path, capsys) -> None:
    """Without the ``autograder`` metadata the nbgrader cell ids still tell the assignment."""
    nb = notebook(course, "release")
    del nb.metadata[METADATA_KEY]
    err = _error(capsys, "grade", str(write(nb, tmp_path)), "--assignment", OTHER_ASSIGNMENT,
                 "--course-dir", str(course))
    assert f"this notebook is assignment {ASSIGNMENT}, not {OTHER_ASSIGNMENT}" in err


@pytest.mark.parametrize("content, expected", [
    (b"print('hello')\n", "not valid JSON"),
    (b'{"cells": []}', "is not a notebook"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}',
     "is not a valid Jupyter notebook"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
])
def test_not_a_notebook_is_refused(course: Path, tmp_path: Path, capsys, content: bytes, expected: str) -> None:
    """Files that are not notebooks: exit 2 and what is wrong, before anything runs."""
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    err = _error(capsys, "grade", str(path), "--course-dir", str(course))
    assert expected in err and str(path) in err


def test_notebook_of_no_assignment_is_refused(course: Path, tmp_path: Path, capsys) -> None:
    """A valid notebook with no assignment metadata and no exercise cells: exit 2, how to say which."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    err = _error(capsys, "grade", str(write(nb, tmp_path)), "--course-dir", str(course))
    assert "cannot tell which assignment" in err and "--assignment" in err and ASSIGNMENT in err


def test_too_big_a_notebook_is_refused(course: Path, tmp_path: Path, capsys) -> None:
    """A notebook over the size limit is refused before it is even parsed."""
    path = tmp_path / "huge.ipynb"
    with path.open("wb") as f:
        f.truncate(MAX_NOTEBOOK_BYTES + 1)
    err = _error(capsys, "grade", str(path), "--course-dir", str(course))
    assert "MB" in err and "clear the outputs" in err


def test_missing_file_and_folder_are_refused(course: Path, tmp_path: Path, capsys) -> None:
    """A path that does not exist, or a folder: exit 2 with the path."""
    assert "no such file" in _error(capsys, "grade", str(tmp_path / "nope.ipynb"), "--course-dir", str(course))
    assert "is not a file" in _error(capsys, "grade", str(tmp_path), "--course-dir", str(course))


def test_missing_source_is_generated(course: Path, tmp_path: Path, capsys) -> None:
    """A course folder without the assignment's source notebook: the grader generates it first."""
    fresh = tmp_path / "fresh-course"
    path = write(submission(course, solved=tuple(POINTS)), tmp_path)
    result = grade_json(path, fresh, capsys)
    assert result["score"] == sum(POINTS.values())
    assert (fresh / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()


@pytest.mark.grading
def test_limits_from_the_command_line_take_effect(course: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``--cell-timeout`` ends a slow cell early; the exercises that did not depend on it still score."""
    slow = "import time\ntime.sleep(60)\n" + cell_of(notebook(course, "source"), "mae_loss").source
    nb = submission(course, solved=("calc_preds",), answers={"mae_loss": slow})
    result = grade_json(write(nb, tmp_path), course, capsys, "--cell-timeout", "3", "--timeout", "40")
    assert scores(result)["calc_preds"] == POINTS["calc_preds"]
    assert scores(result)["mae_loss"] == 0
    message = next(e["message"] for e in result["exercises"] if e["id"] == "mae_loss")
    # the limit the message names is the one given (the default is 30 s), not a wall clock read here
    assert "longer than its 3 s limit" in message, message



# --- grading never writes into course/source or course/release; the table shows reasons whole ------

def test_grading_in_place_writes_nothing_into_source_or_release(course: Path, tmp_path: Path, capsys) -> None:
    """A notebook graded where it lies in release/ or source/ gets its feedback in feedback-local/."""
    import shutil

    own = tmp_path / "course"
    shutil.copytree(course, own)

    def listing() -> list[str]:
        return sorted(str(p.relative_to(own)) for d in ("source", "release") for p in (own / d).rglob("*"))

    before = listing()
    for step in ("release", "source"):
        result = grade_json(own / step / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", own, capsys)
        assert result["max_score"] > 0
        assert (own / "feedback-local" / f"{ASSIGNMENT}_feedback.html").is_file()
    assert listing() == before
    status = cli_main(["grade", str(own / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), "--course-dir", str(own),
                       "--feedback", str(own / "release" / ASSIGNMENT / "fb.html")])
    assert status == 2 and "never writes into" in capsys.readouterr().err
    assert listing() == before


def test_the_table_wraps_long_reasons_and_never_cuts_them() -> None:
    from autograder.feedback import TABLE_REASON_CHARS, render_table
    from autograder.grading.results import ExerciseResult, GradeResult

    words = [f"word{i}" for i in range(80)]
    result = GradeResult("chX", [ExerciseResult("ex", "Exercise", 0, 1, False, " ".join(words) + " \x1b[2J")],
                         notes=["a note " * 30])
    table = render_table(result)
    reason_lines = table.splitlines()[2:table.splitlines().index("total: 0 / 1")]
    assert len(reason_lines) > 1  # wrapped
    assert " ".join(line.split("failed", 1)[-1].strip() for line in reason_lines).split()[:80] == words
    assert "\x1b" not in table and "\\x1b[2J" in table
    assert all(len(line) <= TABLE_REASON_CHARS + 40 for line in table.splitlines())


# --- written questions, graded by hand -------------------------------------------------------------


def by_hand(result: dict) -> dict[str, tuple[float, bool]]:
    """Each written question's (max_score, answered)."""
    return {q["id"]: (q["max_score"], q["answered"]) for q in result[BY_HAND_KEY]}


def test_chapter_two_has_written_questions() -> None:
    """The tests below need questions to grade (the chapter's, read from its file)."""
    assert len(QUESTIONS) >= 2 and all(p > 0 for p in QUESTIONS.values())


def test_filled_answer_is_to_be_graded_by_hand_and_not_counted(course: Path, tmp_path: Path, capsys) -> None:
    """A source notebook with one written answer filled in: that question is listed as answered and to
    be graded by hand, the other as not answered; neither counts in score nor max_score."""
    first, *others = QUESTIONS
    nb = notebook(course, "source")
    cell_of(nb, ANSWER_PREFIX + first).source = ANSWER
    result = grade_json(write(nb, tmp_path), course, capsys)
    assert result["score"] == result["max_score"] == sum(POINTS.values())
    assert by_hand(result) == {first: (QUESTIONS[first], True), **{q: (QUESTIONS[q], False) for q in others}}


def test_release_answers_are_not_answered(course: Path, tmp_path: Path, capsys) -> None:
    """The untouched release (nbgrader's stub in every answer cell) and a deleted answer cell: not answered."""
    result = grade_json(write(notebook(course, "release"), tmp_path), course, capsys)
    assert result["score"] == 0 and result["max_score"] == sum(POINTS.values())
    assert by_hand(result) == {q: (p, False) for q, p in QUESTIONS.items()}
    first = next(iter(QUESTIONS))
    nb = submission(course, answers={ANSWER_PREFIX + first: "   \n"}, delete=tuple(ANSWER_PREFIX + q for q in
                                                                                   list(QUESTIONS)[1:]))
    assert not any(answered for _, answered in by_hand(grade_json(write(nb, tmp_path), course, capsys)).values())


def test_table_and_feedback_say_to_be_graded_by_hand(course: Path, tmp_path: Path, capsys) -> None:
    """The terminal table and the HTML page show each question's points to be graded by hand and
    whether it was answered; the total is the autograded one."""
    first, second = list(QUESTIONS)[:2]
    nb = submission(course, solved=("calc_preds",), answers={ANSWER_PREFIX + first: ANSWER})
    path = write(nb, tmp_path)
    assert cli_main(["grade", str(path), "--course-dir", str(course)]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"{first}\s+-\s+{QUESTIONS[first]}\s+by hand\s+to be graded by hand "
                     rf"\({QUESTIONS[first]} points\); answered", out), out
    assert re.search(rf"{second}\s+-\s+{QUESTIONS[second]}\s+by hand\s+to be graded by hand "
                     rf"\({QUESTIONS[second]} points\); not answered", out), out
    assert f"total: {POINTS['calc_preds']} / {sum(POINTS.values())} " \
           f"(plus {sum(QUESTIONS.values())} points to be graded by hand)" in out
    html = (tmp_path / "submission_feedback.html").read_text()
    assert f"to be graded by hand ({QUESTIONS[first]} points); answered" in html
    assert f"to be graded by hand ({QUESTIONS[second]} points); not answered" in html
    assert ANSWER not in html  # the feedback repeats no answer
