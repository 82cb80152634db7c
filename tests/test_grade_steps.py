"""Issue 9, through the real grader: an answer that leaves the reference's run only after the third
training step passes the public check and loses the exercise's points on a hidden check.

The submission is chapter 2's release with every exercise solved from the source notebook except
``one_epoch``, whose answer is right for three epochs and doubles the learning rate at the fourth.
It is graded by ``python -m autograder grade`` in the sandbox, as a student's notebook is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.chapters import CHAPTERS_DIR, load_exercises
from autograder.cli import main as cli_main
from autograder.exercises.ch2 import EXAMPLE_STEPS
from autograder.grading.source import grade_id
from solutions.paths import PROJECT_ROOT

pytestmark = pytest.mark.grading

ASSIGNMENT = "ch2_gradient_descent"
POINTS = {ex.id: ex.points for ex in load_exercises(CHAPTERS_DIR / f"{ASSIGNMENT}.md")}
#: Right for three epochs; at the fourth epoch of a run, a step twice too long.
DRIFTS_AT_STEP_4 = '''
def one_epoch(coeffs, x, y, lr, predict=calc_preds, loss_fn=mae_loss):
    coeffs.epochs_done = getattr(coeffs, "epochs_done", 0) + 1
    loss = loss_fn(predict(coeffs, x), y)
    loss.backward()
    update_coeffs(coeffs, 2 * lr if coeffs.epochs_done == 4 else lr)
    return loss.item()
'''


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    course = tmp_path_factory.mktemp("steps") / "course"
    proc = subprocess.run([sys.executable, "-m", "autograder", "assign", ASSIGNMENT, "--course-dir", str(course)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return course


def _cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {grade_id(c): c for c in nb.cells if grade_id(c)}


def test_an_answer_drifting_at_step_four_loses_the_points_on_a_hidden_check(course: Path, tmp_path: Path,
                                                                             capsys) -> None:
    assert EXAMPLE_STEPS < 4  # the public example cannot see the drift
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    source = _cells(nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4))
    cells = _cells(release)
    for ex_id in POINTS:
        cells[ex_id].source = source[ex_id].source
    cells["one_epoch"].source = DRIFTS_AT_STEP_4.strip()
    path = tmp_path / "submission.ipynb"
    nbformat.write(release, path)

    status = cli_main(["grade", str(path), "--json", "--course-dir", str(course)])
    result = json.loads(capsys.readouterr().out)
    assert status == 0
    by_id = {e["id"]: e for e in result["exercises"]}
    assert by_id["one_epoch"]["score"] == 0
    assert by_id["one_epoch"]["message"].startswith("hidden check "), by_id["one_epoch"]["message"]
    assert "wrong values" in by_id["one_epoch"]["message"]
    assert result["score"] == sum(POINTS.values()) - POINTS["one_epoch"]
