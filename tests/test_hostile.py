"""Hostile submissions against the sandboxed grader (marker ``hostile``; needs bubblewrap).

Every submission here is run end to end: cell lists through :func:`autograder.sandbox.run_submission`,
and release notebooks through ``python -m autograder grade`` / ``grade-all``. Each hostile cell sits
*before* the honest answers of chapter 2, so the test also shows that the honest functions still get
their right outputs, and that each run ends within its limits. Outputs are compared with the
reference here, outside the sandbox, as the grader does.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from autograder import sandbox
from autograder.exercises.ch2 import SPECS
from autograder.runtime import compare_observed
from solutions.paths import PROJECT_ROOT
from hostile import cells as H

pytestmark = [pytest.mark.hostile,
              pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bubblewrap is not installed")]

LIMITS = sandbox.Limits(cell_timeout=3, total_timeout=120, max_output_bytes=100_000)
#: Probes walk the file system (unsandboxed: the host's): slow on a loaded machine.
PROBE_LIMITS = sandbox.Limits(cell_timeout=60, total_timeout=180)
ASSIGNMENT = "ch2_gradient_descent"
CALLS = {s.id: (s.kind, s.public_args() + s.hidden_args()) for s in SPECS}
EXPECTED = {s.id: [e for _, e in s.expected(CALLS[s.id][1])] for s in SPECS}
SPEC = {s.id: s for s in SPECS}


def verdicts(result: sandbox.RunResult, ids=None) -> dict[str, list[bool]]:
    """Per exercise, whether each case matched the reference (compared here, outside the sandbox)."""
    return {i: [o.error is None and compare_observed(e, o.value, SPEC[i].kind, SPEC[i].rtol, SPEC[i].atol) is None
                for e, o in zip(EXPECTED[i], result.outcomes[i])]
            for i in (ids or CALLS)}


def run_hostile(*hostile: str, limits: sandbox.Limits = LIMITS, calls=None) -> sandbox.RunResult:
    """The setup, the hostile cells, then every honest ch2 answer; sandboxed."""
    return sandbox.run_submission([H.SETUP, *hostile, *H.honest_cells()], calls or CALLS, limits, sandbox="bwrap")


def assert_honest_graded(result: sandbox.RunResult) -> None:
    assert result.fatal is None, result.fatal
    assert all(all(v) for v in verdicts(result).values()), result.outcomes


# ------------------------------------------------------------------- cells that misbehave when run

CELL_CASES = {
    "infinite loop": (H.INFINITE_LOOP, "TimeLimitExceeded"),
    "loop ignoring the alarm": (H.STUBBORN_LOOP, "TimeLimitExceeded"),
    "huge allocation": (H.HUGE_ALLOCATION, "MemoryError"),
    "fork bomb": (H.FORK_BOMB, ("MemoryError", "TimeLimitExceeded")),
    "output flood": (H.OUTPUT_FLOOD, "TimeLimitExceeded"),
    "raw output flood": (H.RAW_OUTPUT_FLOOD, "TimeLimitExceeded"),
    "kill -9 itself": (H.KILL_SELF, "ProcessDied: the process was killed by SIGKILL"),
    "os._exit": (H.HARD_EXIT, "ProcessDied: the process exited with status 0"),
    "sys.exit": (H.SYS_EXIT, "SystemExit: 3"),
    "segfault": (H.SEGFAULT, "ProcessDied: the process was killed by SIGSEGV"),
    "syntax error": (H.SYNTAX_ERROR, "SyntaxError"),
    "import the reference": (H.IMPORT_REFERENCE, "ModuleNotFoundError: No module named 'solutions'"),
}


@pytest.mark.parametrize("cell,error", CELL_CASES.values(), ids=CELL_CASES.keys())
def test_a_hostile_cell_costs_only_itself(cell, error):
    started = time.monotonic()
    result = run_hostile(cell)
    assert time.monotonic() - started < LIMITS.total_timeout + 10
    assert [i for i, _ in result.cell_errors] == [1], result.cell_errors
    assert result.cell_errors[0][1].startswith(error), result.cell_errors
    assert_honest_graded(result)
    assert len(result.output.encode()) <= LIMITS.max_output_bytes + 200  # floods are cut


def test_memory_bomb_hits_the_memory_limit():
    limits = sandbox.Limits(cell_timeout=60, total_timeout=180, memory_mb=1024)
    result = run_hostile(H.MEMORY_BOMB, limits=limits)
    assert result.cell_errors[0][0] == 1 and result.cell_errors[0][1].startswith("MemoryError")
    assert_honest_graded(result)


def test_forged_messages_on_every_descriptor_change_nothing():
    result = run_hostile(H.FORGED_MESSAGES)
    assert result.cell_errors == []
    assert_honest_graded(result)


def _processes_running(token: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    if token.encode() in f.read():
                        found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_no_process_outlives_its_run():
    token = f"1000.{uuid.uuid4().int % 10**9}"
    result = run_hostile(H.lingering_processes(token))
    assert_honest_graded(result)
    time.sleep(0.5)
    assert _processes_running(token) == []


# --------------------------------------------------------------- what a submission cannot reach

@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A real course folder with chapter 2's assignment (source, release, gradebook)."""
    course_dir = tmp_path_factory.mktemp("course")
    subprocess.run([sys.executable, "-m", "autograder", "assign", ASSIGNMENT, "--course-dir", str(course_dir)],
                   check=True, cwd=PROJECT_ROOT, capture_output=True, timeout=600,
                   env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    return course_dir


def probe(source: str, name: str, mode: str = "bwrap"):
    """Run a probe function's cell and return what the function returned."""
    result = sandbox.run_submission([source], {name: ("return", [()])}, PROBE_LIMITS, sandbox=mode)
    (outcome,) = result.outcomes[name]
    assert outcome.error is None, (outcome.error, result.output)
    return outcome.value


def test_cannot_find_or_read_the_project_course_or_solutions(course):
    source = H.probe_files(str(PROJECT_ROOT), str(course))
    assert probe(source, "probe_files") == []
    unsandboxed = probe(source, "probe_files", mode="none")  # the probe itself works
    assert f"read {PROJECT_ROOT}/solutions/ch2_gradient_descent.py" in unsandboxed


def test_cannot_write_outside_its_scratch_folder(course):
    source = H.probe_writes(str(PROJECT_ROOT), str(course))
    written = probe(source, "probe_writes")
    # a folder under /tmp (like pytest's course folder) is recreated in the sandbox's private tmpfs:
    # writing there is writing to its own scratch space, never to the host's folder
    assert all(p.startswith(sandbox.SANDBOX_TMP + "/") for p in written), written
    for folder in (course, course / "submitted", PROJECT_ROOT, PROJECT_ROOT / "course"):
        assert not (folder / "pwned.txt").exists()


def test_no_network_not_even_the_hosts_loopback():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert probe(H.probe_network(port), "probe_network") == []
        assert f"127.0.0.1:{port}" in probe(H.probe_network(port), "probe_network", mode="none")


def test_environment_holds_nothing_of_the_graders():
    env = probe(H.PROBE_ENVIRONMENT, "probe_environment")
    assert set(env) - {"PWD"} <= set(sandbox._environment(sandbox.SANDBOX_TMP))  # bwrap sets PWD
    assert not any(str(PROJECT_ROOT) in v for v in env.values())


# ----------------------------------------------------- attempts to fake a verdict from the inside

@pytest.mark.parametrize("patch", [H.MONKEYPATCH_COMPARISONS, H.MONKEYPATCH_BUILTINS], ids=["torch+numpy", "builtins"])
def test_monkeypatched_comparisons_do_not_change_the_verdict(patch):
    wrong = ("def calc_preds(coeffs, indeps):\n    return torch.zeros(indeps.shape[0])\n"
             "def mae_loss(preds, targets):\n    return torch.tensor(123.0)\n")
    ids = ["calc_preds", "mae_loss"]
    calls = {i: CALLS[i] for i in ids}
    plain = sandbox.run_submission([H.SETUP, wrong], calls, LIMITS, sandbox="bwrap")
    patched = sandbox.run_submission([H.SETUP, patch], calls, LIMITS, sandbox="bwrap")
    assert verdicts(plain, ids) == verdicts(patched, ids) == {i: [False] * len(CALLS[i][1]) for i in ids}


def test_frame_inspection_finds_nothing_to_copy():
    result = sandbox.run_submission([H.SETUP, H.FRAME_INSPECTION], {"calc_preds": CALLS["calc_preds"]},
                                    LIMITS, sandbox="bwrap")
    assert verdicts(result, ["calc_preds"]) == {"calc_preds": [False] * len(CALLS["calc_preds"][1])}


def test_hidden_arguments_are_not_in_memory_while_the_cells_run():
    """A cell's error message reaches the student: it must not be able to carry the hidden inputs."""
    result = sandbox.run_submission([H.SETUP, H.MEMORY_SNOOP, "answer = input()\n"], CALLS, LIMITS, sandbox="bwrap")
    errors = dict(result.cell_errors)
    hidden_shapes = {tuple(a.shape) for spec in SPECS for args in spec.hidden_args() for a in args
                     if hasattr(a, "shape")}
    assert hidden_shapes and errors[1].startswith("RuntimeError: tensors in memory")
    assert not any(str(shape) in errors[1] for shape in hidden_shapes), errors[1]
    assert errors[2].startswith("EOFError")  # stdin is empty, not the grader's job channel


def test_functions_that_misbehave_when_called():
    calls = {**CALLS, "give_object": ("return", [()]), "give_huge": ("return", [()])}
    evil = """\
import os, torch
def calc_preds(coeffs, indeps):
    os.kill(os.getpid(), 9)
def mae_loss(preds, targets):
    while True:
        pass
def give_object():
    return lambda: 1
def give_huge():
    return torch.zeros(20_000_000)
"""
    honest = H.honest_cells()
    cells = [H.SETUP, evil, honest[2], honest[3]]  # update_coeffs and accuracy honest
    result = sandbox.run_submission(cells, calls, LIMITS, sandbox="bwrap")
    assert result.fatal is None
    assert all(o.error.startswith("ProcessDied") for o in result.outcomes["calc_preds"])
    assert all(o.error.startswith("TimeLimitExceeded") for o in result.outcomes["mae_loss"])
    assert result.outcomes["give_object"][0].error == "returned a value of unsupported type function"
    assert result.outcomes["give_huge"][0].error == sandbox.TOO_BIG
    ok = verdicts(result, ["update_coeffs", "accuracy"])
    assert all(ok["update_coeffs"]) and all(ok["accuracy"])


def test_mixed_batch_in_parallel_gives_the_honest_their_marks():
    batch = {"honest 1": [], "fork bomb": [H.FORK_BOMB], "honest 2": [], "stubborn loop": [H.STUBBORN_LOOP],
             "kill": [H.KILL_SELF], "flood": [H.RAW_OUTPUT_FLOOD], "honest 3": []}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(batch, pool.map(lambda cells: run_hostile(*cells), batch.values())))
    for name, result in results.items():
        assert_honest_graded(result)
        assert result.seconds < LIMITS.total_timeout + 10
        if name.startswith("honest"):
            assert result.cell_errors == []
        else:
            assert [i for i, _ in result.cell_errors] == [1], (name, result.cell_errors)


# ------------------------------------------------------------------------- through the command line

def _release(course: Path) -> Path:
    return course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def _submission(course: Path, extra: list[str] = (), replace: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The release notebook with every honest answer, hostile cells after the first, some answers replaced."""
    answers = dict(zip([fn.__name__ for fn in H.HONEST_FUNCTIONS], H.honest_cells()))
    answers.update(replace or {})
    return H.notebook_with(_release(course), answers, [("calc_preds", cell) for cell in extra])


def _grade(course: Path, nb: nbformat.NotebookNode, tmp_path: Path) -> dict:
    path = tmp_path / f"{uuid.uuid4().hex}.ipynb"
    nbformat.write(nb, path)
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(path), "--course-dir", str(course),
                           "--json"], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_cli_grade_hostile_notebook_keeps_honest_marks(course, tmp_path):
    result = _grade(course, _submission(course, [H.KILL_SELF, H.INFINITE_LOOP, H.FORGED_MESSAGES]), tmp_path)
    assert result["score"] == result["max_score"] > 0, result


def test_cli_grade_reference_import_and_patched_comparisons_score_zero(course, tmp_path):
    nb = _submission(course, replace={"calc_preds": H.MONKEYPATCH_COMPARISONS,
                                      "update_coeffs": H.MONKEYPATCH_BUILTINS,
                                      "accuracy": "from solutions.ch2_gradient_descent import accuracy\n"})
    result = _grade(course, nb, tmp_path)
    scores = {e["id"]: e["score"] for e in result["exercises"]}
    # wrong answers with every comparison patched to say "equal", in two answer cells: no marks
    assert scores["calc_preds"] == scores["update_coeffs"] == 0
    assert scores["accuracy"] == 0  # the reference cannot be used
    assert scores["mae_loss"] == 1  # its honest cell comes after the patches: patches cost it nothing


def test_cli_grade_all_mixed_batch(course, tmp_path):
    import shutil

    batch_course = tmp_path / "course"
    shutil.copytree(course, batch_course)
    batch = {"alice": _submission(course), "bob": _submission(course, [H.FORK_BOMB]),
             "carol": _submission(course, [H.STUBBORN_LOOP]), "dave": _submission(course)}
    for student, nb in batch.items():
        folder = batch_course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
    grades = tmp_path / "grades.csv"
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade-all", "--course-dir", str(batch_course),
                           "--workers", "2", "--csv", str(grades)], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(grades, newline="") as f:
        rows = list(csv.DictReader(f))
    by_student = {r["student"]: r for r in rows}
    assert set(by_student) == set(batch), rows
    # the hostile cells cost nothing to the honest answers next to them
    assert all(float(r["score"]) == float(r["max_score"]) > 0 for r in rows), rows
