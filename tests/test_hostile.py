"""Hostile submissions against the sandboxed grader (marker ``hostile``; needs bubblewrap).

Every submission here is run end to end: cell lists through :func:`autograder.sandbox.run_submission`,
and release notebooks through ``python -m autograder grade`` / ``grade-all``. Each hostile cell sits
*before* the honest answers of chapter 2, so the test also shows that the honest functions still get
their right outputs, and that each run ends within its limits. Outputs are compared with the
reference here, outside the sandbox, as the grader does.
"""

from __future__ import annotations

import builtins

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
from solutions.paths import PROJECT_ROOT
from hostile import cells as H
from hostile import intruder
from hostile.host import processes_running

pytestmark = [pytest.mark.hostile,
              pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bubblewrap is not installed")]

LIMITS = sandbox.Limits(cell_timeout=3, total_timeout=120, max_output_bytes=100_000)
#: Probes walk the file system (unsandboxed: the host's): slow on a loaded machine.
PROBE_LIMITS = sandbox.Limits(cell_timeout=60, total_timeout=180)
ASSIGNMENT = "ch2_gradient_descent"
CALLS, EXPECTED, SPEC, verdicts = H.CALLS, H.EXPECTED, H.SPEC, H.verdicts
N_CASES = {i: len(EXPECTED[i]) for i in EXPECTED}


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


def test_no_process_outlives_its_run():
    token = f"1000.{uuid.uuid4().int % 10**9}"
    result = run_hostile(H.lingering_processes(token))
    assert_honest_graded(result)
    time.sleep(0.5)
    assert processes_running(token) == []


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
    # /dev/shm is the sandbox's own size-capped tmpfs too
    assert all(p.startswith((sandbox.SANDBOX_TMP + "/", "/dev/shm/")) for p in written), written
    for folder in (course, course / "submitted", PROJECT_ROOT, PROJECT_ROOT / "course", Path("/dev/shm")):
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


@pytest.mark.parametrize("start", ["warm", "cold"])
def test_the_only_places_to_write_are_the_capped_scratch_folders(start, monkeypatch):
    """No mount the run can write to is memory without a cap: the root and /dev that bwrap builds are
    read-only, /tmp and /dev/shm are capped tmpfs (in a warm child, those it mounts itself too)."""
    if start == "cold":
        monkeypatch.setenv(sandbox.COLD_START_VARIABLE, "1")
    found = probe(H.PROBE_WRITABLE_MOUNTS, "probe_writable_mounts")
    assert {point for point, *_ in found} >= {"/tmp", "/dev/shm"}, found
    assert H.unbounded_mounts(found) == [], found
    assert H.unbounded_mounts(probe(H.PROBE_WRITABLE_MOUNTS, "probe_writable_mounts", mode="none"))


# ----------------------------------------------------- attempts to fake a verdict from the inside

@pytest.mark.parametrize("patch", [H.MONKEYPATCH_COMPARISONS, H.MONKEYPATCH_BUILTINS], ids=["torch+numpy", "builtins"])
def test_monkeypatched_comparisons_do_not_change_the_verdict(patch):
    wrong = ("def calc_preds(coeffs, indeps):\n    return torch.zeros(indeps.shape[0])\n"
             "def mae_loss(preds, targets):\n    return torch.tensor(123.0)\n")
    ids = ["calc_preds", "mae_loss"]
    calls = {i: CALLS[i] for i in ids}
    plain = sandbox.run_submission([H.SETUP, wrong], calls, LIMITS, sandbox="bwrap")
    patched = sandbox.run_submission([H.SETUP, patch], calls, LIMITS, sandbox="bwrap")
    assert verdicts(plain, ids) == verdicts(patched, ids) == {i: [False] * N_CASES[i] for i in ids}


def test_frame_inspection_finds_nothing_to_copy():
    result = sandbox.run_submission([H.SETUP, H.FRAME_INSPECTION], {"calc_preds": CALLS["calc_preds"]},
                                    LIMITS, sandbox="bwrap")
    assert verdicts(result, ["calc_preds"]) == {"calc_preds": [False] * N_CASES["calc_preds"]}


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
    cells = [H.SETUP, evil, H.honest_cell("update_coeffs"), H.honest_cell("accuracy")]
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


# =============================================================================== issue 15 (a hostile review)
# Each finding of the review is a class: the reported case plus variants of our own.

#: Shapes only hidden cases' tensors have (computed from the specs): one in a message would be a leak.
HIDDEN_MARKS = sorted({str(tuple(a.shape)) for s in SPECS for args in s.hidden_args() for a in args
                       if hasattr(a, "shape")} - {str(tuple(a.shape)) for s in SPECS for args in s.public_args()
                                                  for a in args if hasattr(a, "shape")})


def leaks(text: str) -> list[str]:
    return [m for m in HIDDEN_MARKS if m in text]


def shown_texts(result: sandbox.RunResult) -> str:
    """Everything of a run that could reach a person verbatim: cell errors, public errors, output."""
    texts = [e for _, e in result.cell_errors] + [result.output, result.fatal or ""]
    texts += [o.error or "" for outs in result.outcomes.values() for o in outs]
    return "\n".join(texts)


def test_hidden_marks_are_distinctive():
    assert len(HIDDEN_MARKS) >= 4, HIDDEN_MARKS


# --- 15.2: hidden inputs reach a public check's message ------------------------------------------

def test_a_public_check_cannot_see_the_hidden_inputs():
    """Finding 2: the function walks frames and memory during a public check; it finds no hidden input."""
    honest = H.honest_cells()
    result = sandbox.run_submission([H.SETUP, H.PUBLIC_CHECK_SNOOP, *honest[1:]], CALLS, LIMITS, sandbox="bwrap")
    uses_calc_preds = {"calc_preds", "one_epoch"}  # one_epoch predicts with calc_preds by default
    public = result.outcomes["calc_preds"][0]
    assert not public.secret and public.error.startswith("RuntimeError: seen in memory"), public
    assert "(3, 2)" in public.error  # the snoop works: it sees the public inputs
    assert leaks(public.error) == [], public.error
    assert all(o.secret for o in result.outcomes["calc_preds"][1:])
    assert all(all(v) for k, v in verdicts(result).items() if k not in uses_calc_preds)


def test_cli_feedback_of_a_snooping_function_holds_no_hidden_input(course, tmp_path):
    result = _grade(course, _submission(course, replace={"calc_preds": H.PUBLIC_CHECK_SNOOP}), tmp_path)
    text = json.dumps(result)
    assert leaks(text) == [] and "seen in memory" in text
    assert {e["id"]: e["score"] for e in result["exercises"]}["mae_loss"] == 1


# --- 15.3: the protocol cannot be advanced to show hidden inputs ---------------------------------

def test_forged_public_done_shows_nothing_of_what_follows():
    """Finding 3: a cell forges the runner's messages and reads the job channel for the hidden inputs."""
    result = run_hostile(H.FORGED_PUBLIC_DONE)
    text = shown_texts(result)
    assert leaks(text) == [], text[:3000]
    assert "stolen" not in text  # its message arrives after the hidden inputs were sent: kind only
    assert dict(result.cell_errors)[1] == "RuntimeError"


def test_a_late_thread_reports_nothing_verbatim():
    """Variant: a thread waits for the hidden tensors and reports them by print, forged errors, output."""
    result = run_hostile(H.LATE_REPORTER)
    text = shown_texts(result)
    assert leaks(text) == [], text[:3000]
    # The thread reports every tensor that appears. One caught while the public cases run is a public
    # input or a tensor of the student's own code (no hidden-only shape, as checked above: allowed, and
    # a matter of timing, seen under CI load); from the moment the hidden inputs enter the process,
    # nothing it says is shown.
    assert sandbox.HIDDEN_OUTPUT_CUT in result.output
    assert "LEAK" not in result.output.partition(sandbox.HIDDEN_OUTPUT_CUT)[2]
    assert result.fatal is None, result.fatal
    # The thread scans every object of its process every 5 ms and writes on every descriptor while the
    # hidden calls run, so now and then it disturbs its own process's hidden calls (seen once in CI: a
    # SystemError): a student can lose points that way, never gain them. What it can never do is show
    # something: public cases are graded as honest ones, every hidden outcome is secret, and a hidden
    # error is kept as a built-in exception's name only.
    for i, ok in verdicts(result).items():
        n_public = len(CALLS[i][1])
        assert all(ok[:n_public]), (i, result.outcomes[i])
        for outcome in result.outcomes[i][n_public:]:
            assert outcome.secret, (i, outcome)
            assert outcome.error is None or outcome.error in vars(builtins), (i, outcome.error)


def test_hidden_inputs_in_exception_names_or_value_types_are_not_shown():
    """Variant: a hidden case's error names a type built from the inputs: only 'an exception' is kept."""
    result = sandbox.run_submission([H.SETUP, H.honest_cell("calc_preds"), H.honest_cell("update_coeffs"),
                                     H.SECRET_IN_NAMES], CALLS, LIMITS, sandbox="bwrap")
    for ex_id in ("mae_loss", "accuracy"):
        hidden = [o for o in result.outcomes[ex_id] if o.secret]
        assert hidden and all(o.error in (sandbox.UNNAMED_ERROR, sandbox.NOT_ACCEPTED) for o in hidden), hidden
        assert "Leak_" in result.outcomes[ex_id][0].error  # the public case keeps its message
    assert leaks(shown_texts(result)) == []


# --- 15.6: the grading process stays bounded whatever the submission sends -----------------------

_PEAK = """\
import json, resource, sys
sys.path.insert(0, {tests!r})
from autograder import sandbox
from hostile import cells as H
cells = [H.SETUP] + json.loads(sys.argv[1]) + H.honest_cells()
calls = {{s.id: (s.kind, s.public_args(), s.hidden_args()) for s in __import__("autograder.exercises.ch2", fromlist=["SPECS"]).SPECS}}
result = sandbox.run_submission(cells, calls, sandbox.Limits(cell_timeout=20, total_timeout=120), sandbox="bwrap")
print(json.dumps({{"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                  "errors": {{k: [o.error for o in v] for k, v in result.outcomes.items()}}, "fatal": result.fatal}}))
"""


def _grader_peak(cells: list[str]) -> dict:
    code = _PEAK.format(tests=str(PROJECT_ROOT / "tests"))
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(cells)], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=300, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def honest_peak() -> int:
    return _grader_peak([])["peak_mb"]


@pytest.mark.parametrize("shape", ["wide", "deep", "long"])
def test_a_results_line_cannot_amplify_the_graders_memory(shape, honest_peak):
    """Finding 6 (wide: ~30 million values in 90 MB) and variants: bounded, and a zero with the reason."""
    run = _grader_peak([H.parser_bomb(shape, 90)])
    assert run["peak_mb"] < honest_peak + 400, (run["peak_mb"], honest_peak)
    assert run["fatal"] is None
    first = run["errors"]["calc_preds"][0]  # a refused line counts against the case it claims: a zero
    if shape == "long":  # one string: parsed within bounds, and not a message at all
        assert first is None, first
    else:
        assert first is not None and first.startswith(sandbox.REFUSED), first
    assert all(e is None for k, v in run["errors"].items() if k != "calc_preds" for e in v), run["errors"]


def test_a_result_with_too_many_values_scores_zero_with_its_reason():
    """Variant: an honest-looking return value of a million and a half numbers is refused, alone."""
    calls = {"many": ("return", [()]), **{k: CALLS[k] for k in ("mae_loss",)}}
    cells = [H.SETUP, "def many():\n    return [0] * 1_500_000\n", H.honest_cell("mae_loss")]
    result = sandbox.run_submission(cells, calls, sandbox.Limits(cell_timeout=30, total_timeout=120), sandbox="bwrap")
    assert result.outcomes["many"][0].error.startswith(sandbox.REFUSED), result.outcomes["many"]
    assert all(verdicts(result, ["mae_loss"])["mae_loss"])


# --- 15.4 / 15.5: all memory counted, nothing left behind -----------------------------------------

MEMORY_LIMITS = sandbox.Limits(cell_timeout=60, total_timeout=180, memory_mb=768)


def _held_mb(error: str) -> int | None:
    import re

    m = re.search(r"held (\d+) MB", error)
    return int(m.group(1)) if m else None


@pytest.fixture(params=["cgroup", "no cgroup"])
def cgroup_mode(request, monkeypatch):
    """Each memory test runs with a memory cgroup (where this machine allows one) and without."""
    from autograder import cgroups

    if request.param == "cgroup":
        probe_group = cgroups.create(2**30)
        if probe_group is None:
            pytest.skip("this machine does not let the grader create a memory cgroup")
        probe_group.remove()
    else:
        monkeypatch.setenv(cgroups.DISABLE_VARIABLE, "1")
    return request.param


@pytest.mark.parametrize("kind", ["memfd", "sysv", "/dev/shm", "/tmp"])
def test_memory_no_address_space_limit_sees_is_bounded(kind, cgroup_mode):
    """Finding 4 (memfd, 3 GB past a 2 GB limit) and variants: System V segments, tmpfs files."""
    result = run_hostile(H.hold_memory(kind, 3 * 1024), limits=MEMORY_LIMITS)
    errors = dict(result.cell_errors)
    assert 1 in errors, result.cell_errors
    held = _held_mb(errors[1])
    assert (held is not None and held <= MEMORY_LIMITS.memory_mb) or errors[1].startswith("MemoryError"), errors[1]
    assert_honest_graded(result)


def _sandbox_uid(uid: int) -> bool:
    """Whether ``uid`` is one this process's sandboxes use (other graders on the machine use others)."""
    return uid in sandbox.process_uids()


def _host_state() -> dict:
    from autograder import cgroups

    keys = []
    with open("/proc/key-users") as f:
        keys = [int(line.split(":")[0]) for line in f if line.strip()]
    procs = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and sandbox._alive(int(entry.name)):  # zombies hold nothing
            try:
                procs.append(os.stat(entry.path).st_uid)
            except OSError:
                pass
    return {"key uids": sorted(u for u in keys if _sandbox_uid(u)),
            "process uids": sorted(u for u in procs if _sandbox_uid(u)),
            "cgroups": cgroups.leftovers(),
            "shm": sorted(n for n in os.listdir("/dev/shm") if "hog" in n or "persist" in n)}


def test_the_keyring_and_the_other_persistence_channels_are_closed():
    """Finding 5 (a key in the uid's keyring outlives the run) and variants: files, IPC, sockets."""
    before = _host_state()
    first = run_hostile(H.PERSIST)
    report = dict(first.cell_errors)[1]
    for call in ("add_key", "keyctl", "request_key"):
        assert f"{call}=-1/1" in report, report  # EPERM from the seccomp filter
    second = run_hostile(H.FIND_PERSISTED)
    assert dict(second.cell_errors)[1] == "RuntimeError: found []", second.cell_errors
    assert_honest_graded(first)
    assert_honest_graded(second)
    time.sleep(0.3)
    assert _host_state() == before


def test_dockers_denied_calls_fail():
    result = run_hostile(H.DENIED_CALLS)
    report = dict(result.cell_errors)[1]
    import ast as _ast

    denied = dict(_ast.literal_eval(report.removeprefix("RuntimeError: ")))
    assert denied.pop("clone3") == 38  # ENOSYS: the C library falls back to clone, which the filter reads
    assert denied == {name: 1 for name in denied}, denied  # EPERM


def test_nothing_of_a_hostile_batch_remains_on_the_host():
    """After runs that fork daemons, fill memory and try every persistence channel: nothing left."""
    before = _host_state()
    token = f"1000.{uuid.uuid4().int % 10**9}"
    for cells in ([H.lingering_processes(token)], [H.PERSIST], [H.hold_memory("memfd", 200)], [H.FORK_BOMB]):
        run_hostile(*cells)
    time.sleep(0.5)
    assert processes_running(token) == []
    assert _host_state() == before


# --- 15.1 / 15.7 / 15.8 / 15.11: only regular files are read --------------------------------------

def _run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=timeout, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})


def test_cli_grade_refuses_links_fifos_and_devices_without_hanging(course, tmp_path):
    source = course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    def unix_socket(path: Path) -> None:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sockets.append(sock)

    sockets: list[socket.socket] = []
    cases = {"link to the source": lambda p: p.symlink_to(source), "link to /dev/zero": lambda p: p.symlink_to("/dev/zero"),
             "dangling link": lambda p: p.symlink_to(tmp_path / "nowhere"), "fifo": lambda p: os.mkfifo(p),
             "folder": lambda p: p.mkdir(), "socket": unix_socket}
    for name, make in cases.items():
        path = tmp_path / f"{name.replace(' ', '_').replace('/', '')}.ipynb"
        make(path)
        started = time.monotonic()
        proc = _run_cli("grade", str(path), "--course-dir", str(course), timeout=120)
        assert time.monotonic() - started < 60
        assert proc.returncode == 2 and "could not be graded" in proc.stderr, (name, proc.stderr)
        assert "Traceback" not in proc.stderr
    proc = _run_cli("grade", "/dev/zero", "--course-dir", str(course), timeout=120)
    assert proc.returncode == 2 and "character device" in proc.stderr, proc.stderr


def test_cli_grade_all_grades_everyone_else_and_names_each_bad_submission(course, tmp_path):
    """The review's 'done when': a FIFO, a device link, a link to the source and a huge timestamp in a
    class; every other student is graded right and each of those is named with its reason."""
    import shutil

    batch = tmp_path / "course"
    shutil.copytree(course, batch)
    source = batch / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    honest = _submission(course)

    def folder(student: str) -> Path:
        path = batch / "submitted" / student / ASSIGNMENT
        path.mkdir(parents=True)
        return path

    nbformat.write(honest, folder("alice") / f"{ASSIGNMENT}.ipynb")
    nbformat.write(honest, folder("=SUM(1,2)") / f"{ASSIGNMENT}.ipynb")  # a formula for a student id
    os.mkfifo(folder("fifo") / f"{ASSIGNMENT}.ipynb")
    (folder("devzero") / f"{ASSIGNMENT}.ipynb").symlink_to("/dev/zero")
    (folder("sourcelink") / f"{ASSIGNMENT}.ipynb").symlink_to(source)
    huge = folder("hugestamp")
    nbformat.write(honest, huge / f"{ASSIGNMENT}.ipynb")
    (huge / "timestamp.txt").write_text("9" * 1_000_000)
    linked_stamp = folder("stamplink")
    nbformat.write(honest, linked_stamp / f"{ASSIGNMENT}.ipynb")
    (linked_stamp / "timestamp.txt").symlink_to("/dev/zero")
    (batch / "submitted" / "linkedfolder").mkdir()
    (batch / "submitted" / "linkedfolder" / ASSIGNMENT).symlink_to(batch / "source" / ASSIGNMENT)
    (batch / "submitted" / "linkedstudent").symlink_to(batch / "submitted" / "alice")
    grades = tmp_path / "grades.csv"
    started = time.monotonic()
    proc = _run_cli("grade-all", "--course-dir", str(batch), "--workers", "2", "--csv", str(grades), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert time.monotonic() - started < 400
    with open(grades, newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    for student in ("alice", "'=SUM(1,2)"):
        assert float(rows[student]["score"]) == float(rows[student]["max_score"]) > 0, rows
    reasons = {"fifo": "FIFO", "devzero": "symbolic link", "sourcelink": "symbolic link", "hugestamp": "timestamp.txt is",
               "stamplink": "timestamp.txt is a symbolic link", "linkedfolder": "symbolic link",
               "linkedstudent": "symbolic link"}
    for student, reason in reasons.items():
        line = next((ln for ln in proc.stdout.splitlines() if ln.strip().startswith(student)), None)
        assert line is not None and "could not be graded" in line and reason in line, (student, proc.stdout)
        if student in rows:
            assert float(rows[student]["score"]) == 0, rows[student]
    assert "'=SUM(1,2)" in grades.read_text() and "\n=" not in grades.read_text()


# --- 15.9 / 15.10: any notebook shape gets a clear message ----------------------------------------

def test_notebook_shapes_the_parser_cannot_take_get_a_message(course, tmp_path):
    """Finding 9 (deep JSON) and variants: wide JSON, a BOM, UTF-16, a lone surrogate, huge numbers."""
    release = _release(course).read_bytes()
    cases = {"deep": (b'{"nbformat": 4, "cells": [], "metadata": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
                      "nested deeper"),
             "medium deep": (b'{"nbformat": 4, "cells": [], "metadata": {"x": ' + b"[" * 500 + b"]" * 500 + b"}}",
                             "nested deeper"),
             "wide": (b'{"nbformat": 4, "cells": [], "metadata": {"x": [' + b"[]," * 3_000_000 + b"[]]}}",
                      "JSON values"),
             "utf-16": (release.decode().encode("utf-16"), "not UTF-8"),
             "huge number": (b'{"nbformat": 4, "cells": [], "metadata": {"x": ' + b"9" * 100_000 + b"}}",
                             "not valid JSON")}
    for name, (content, expected) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.ipynb"
        path.write_bytes(content)
        proc = _run_cli("grade", str(path), "--course-dir", str(course), timeout=120)
        assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr, (name, proc.stderr)
    bom = tmp_path / "bom.ipynb"  # a UTF-8 byte-order mark, and lone surrogates (as JSON escapes)
    nb = _submission(course, ["# \ud800 a lone surrogate in a comment\nx = '\udcff'\nprint(x)\n"])
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(nb, ensure_ascii=True).encode())
    proc = _run_cli("grade", str(bom), "--course-dir", str(course), "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["score"] == result["max_score"] > 0, result


def test_a_cell_too_deep_for_the_parser_fails_alone(course, tmp_path):
    """Finding 10: cells nested deeper than Python's parser takes fail; the honest answers keep their marks."""
    deep = ["x = " + "-" * 100_000 + "1\n", "y = a" + ".b" * 100_000 + "\n", "z = 1" + " + 1" * 200_000 + "\n"]
    result = _grade(course, _submission(course, deep), tmp_path)
    assert result["score"] == result["max_score"] > 0, result


# --- 15.12 / 15.13: text from a submission is neutralised where it is shown ------------------------

ESCAPES = {"clear screen": "\x1b[2J\x1b[H", "osc 52 clipboard": "\x1b]52;c;cm0gLXJmIH4=\x07", "c1 csi": "\x9b31m",
           "carriage return": "all passed\r", "backspace": "\x08\x08\x08", "bidi override": "\u202eevil\u202c",
           "bell": "\x07"}


def test_terminal_escapes_from_a_submission_never_reach_the_terminal(course, tmp_path):
    """Finding 12 and variants: the table of `grade` shows escapes as visible text, and whole."""
    message = "PWNED " + "".join(ESCAPES.values()) + " " + "long " * 40 + "END"
    nb = _submission(course, replace={"calc_preds": H.exception_in_message(message)})
    path = tmp_path / "escapes.ipynb"
    nbformat.write(nb, path)
    proc = _run_cli("grade", str(path), "--course-dir", str(course))
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name, seq in ESCAPES.items():
        for char in seq:
            if not char.isprintable() or char in "\u202e\u202c":
                assert char not in proc.stdout, (name, repr(char))
    assert "\\x1b[2J" in proc.stdout and "\\u202e" in proc.stdout  # shown as visible escapes
    assert "PWNED" in proc.stdout and "END" in proc.stdout  # the reason is wrapped, never cut
    html = (tmp_path / "escapes_feedback.html").read_text()
    assert "\x1b" not in html and "\x9b" not in html


def test_escapes_in_names_and_paths_are_neutralised(course, tmp_path):
    """Variant: an escape in the notebook's claimed assignment and in a student's folder name."""
    nb = nbformat.read(_release(course), as_version=4)
    nb.metadata["autograder"] = {"assignment": "\x1b[31mevil\x1b]0;title\x07"}
    path = tmp_path / "claims.ipynb"
    nbformat.write(nb, path)
    proc = _run_cli("grade", str(path), "--course-dir", str(course))
    assert proc.returncode == 2 and "\x1b" not in proc.stderr and "\\x1b[31mevil" in proc.stderr, proc.stderr
    named = tmp_path / "bad\x1b[31m\u202e.ipynb"
    named.write_bytes(b"not json")
    proc = _run_cli("grade", str(named), "--course-dir", str(course))
    assert proc.returncode == 2 and "\x1b" not in proc.stderr and "\u202e" not in proc.stderr, proc.stderr
    assert "bad\\x1b[31m\\u202e.ipynb" in proc.stderr, proc.stderr


def test_csv_fields_are_prefixed_per_owasp(tmp_path):
    """Finding 13 and variants: every formula-starting text field, in every column, starts with '."""
    from autograder import gradebook

    names = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\uff1d1", "plain", "=cmd|' /C calc'!A0"]
    rows = [(n, {"assignment": n, "score": 1, "max_score": 2, "exercises": [{"id": "e1", "score": 1}]}) for n in names]
    path = tmp_path / "g.csv"
    gradebook.write_csv(path, rows)
    with open(path, newline="") as f:
        read = list(csv.reader(f))
    for row in read[1:]:
        for cell in row[:2]:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "\uff1d")), row
            assert "\r" not in cell and "\t" not in cell
        fields = dict(zip(read[0], row))  # numbers stay numbers, whatever columns come between
        assert (fields["score"], fields["max_score"], fields["e1"]) == ("1", "2", "1"), fields
        assert not any(v.startswith("'") for k, v in fields.items() if k not in ("student", "assignment")), fields
    assert {r[0] for r in read[1:]} >= {"'=1+1", "'+1", "'-1", "'@SUM(A1)", "plain"}


def test_another_user_of_the_machine_cannot_run_code_on_the_local_grading_cluster(tmp_path):
    """Loopback is open to every user of the grading machine, and a Dask scheduler runs what a client
    sends: the local cluster speaks TLS with credentials only the grader holds, so a client without them
    (plain TCP, TLS without a certificate, or with credentials of its own) is refused and runs nothing; and its
    scheduler and workers serve no HTTP route (health, metrics, the /info pages, the proxy)."""
    import urllib.error
    import urllib.request

    from autograder.grading.engine import Engine

    marker = tmp_path / "intruded.txt"
    with Engine(workers=1) as engine:
        address = engine.client.scheduler.address
        assert address.startswith("tls://127.0.0.1:"), address
        assert engine.client.submit(sum, [1, 2], pure=False).result(timeout=60) == 3  # the grader itself can
        tried = intruder.attempt(address, marker, tmp_path)
        assert set(tried) == {"plain TCP", "TLS without a certificate", "TLS with credentials of its own"}
        assert all(v.startswith("refused") for v in tried.values()), tried
        assert not marker.exists()

        assert engine.cluster.scheduler.http_server.address == "127.0.0.1"
        ports = [engine.cluster.scheduler.http_server.port,
                 *engine.client.run(lambda dask_worker: dask_worker.http_server.port).values()]
        for port in ports:
            for path in ("/health", "/metrics", "/info/main/workers.html", "/json/counts.json", "/proxy/1/127.0.0.1/"):
                with pytest.raises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30)
                assert refused.value.code == 404, (port, path)


#: The grader's local cluster started where another user made Dask's usual scratch folder first;
#: prints whether a module planted there can be imported, in the workers and in the grader.
_PLANTED = r'''
import importlib.util, json, sys
from autograder.grading.engine import Engine

def probe():
    """Whether the planted module can be imported; sys.path; the mode and owner of each folder of the
    shared temporary folder that sys.path goes through."""
    import importlib.util, os, sys
    shared = os.environ["TMPDIR"]
    tops = {os.path.join(shared, os.path.relpath(p, shared).split(os.sep)[0]) for p in sys.path
            if p.startswith(shared + os.sep)}
    return (importlib.util.find_spec("planted_by_another_user") is not None, list(sys.path),
            {top: [os.stat(top).st_mode & 0o777, os.stat(top).st_uid] for top in tops})

with Engine(workers=1) as engine:
    assert engine.client.submit(sum, [1, 2], pure=False).result(timeout=60) == 3
    workers = list(engine.client.run(probe).values())
    grader = probe()
print(json.dumps({"workers": workers, "grader": grader, "after": probe()}))
'''


def test_a_scratch_folder_another_user_made_first_is_not_used(tmp_path):
    """Dask's scratch folder is ``$TMPDIR/dask-scratch-space``, reused when it exists, and put on
    ``sys.path``: another user who makes it first (mode 0777) with a module in it would have the
    grader's workers, and the grader, import their code. The local cluster uses a private folder of its
    own instead (mode 0700), and leaves nothing of it on ``sys.path`` when it stops."""
    shared = tmp_path / "shared-tmp"  # stands for /tmp
    planted = shared / "dask-scratch-space"
    planted.mkdir(parents=True)
    os.chmod(shared, 0o1777)
    os.chmod(planted, 0o777)
    (planted / "planted_by_another_user.py").write_text("print('ran as the grader')\n")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TMPDIR": str(shared)}
    proc = subprocess.run([sys.executable, "-c", _PLANTED], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    for found, path, tops in [*seen["workers"], seen["grader"]]:
        assert not found, "a module another user planted can be imported"
        assert not any(p.startswith(str(planted)) for p in path), path
        assert tops and all(mode_uid == [0o700, os.geteuid()] for mode_uid in tops.values()), tops  # its own
    assert not any(p.startswith(str(shared)) for p in seen["after"][1]), seen["after"][1]
    assert [p.name for p in shared.iterdir()] == ["dask-scratch-space"]  # its own folder removed
