"""The grading boundary: the wire format and :func:`autograder.sandbox.run_submission`'s semantics.

Hostile submissions are in ``tests/test_hostile.py``; here, the data format both ways (what crosses,
what is refused), and what a run reports for ordinary, broken and partial work, sandboxed and not.
"""

from __future__ import annotations

import base64
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograder import sandbox, wire
from autograder.exercises.ch2 import SPECS
from autograder.runtime import INPLACE, compare, compare_observed
from solutions.paths import PROJECT_ROOT
from hostile.cells import SETUP, honest_cell, honest_cells

HAVE_BWRAP = sandbox.bwrap_path() is not None
#: Both modes where bubblewrap is installed; the unsandboxed one everywhere.
MODES = [pytest.param("bwrap", marks=pytest.mark.skipif(not HAVE_BWRAP, reason="bubblewrap is not installed")),
         "none"]
FAST = sandbox.Limits(cell_timeout=5, total_timeout=60)


def roundtrip(value):
    """Through JSON text, as across the boundary."""
    return wire.loads(wire.dumps(value))


# ------------------------------------------------------------------------------------------ wire

def _grad_tensor() -> torch.Tensor:
    t = torch.tensor([[1.0, -2.0], [3.5, 0.0]]).requires_grad_()
    t.grad = torch.tensor([[0.1, 0.2], [0.3, 0.4]])
    return t


VALUES = [
    None, True, False, 0, -7, 2**70, 2.5, "text", "", (), [], {},
    (1, [2.0, {"a": None, 3: "b"}], ("x",)),
    torch.tensor(3.0), torch.zeros(0, 3), torch.arange(6, dtype=torch.int64).reshape(2, 3),
    torch.tensor([True, False]), torch.ones(2, dtype=torch.bfloat16), torch.ones(3, dtype=torch.float16),
    torch.tensor([1 + 2j]), _grad_tensor(), torch.nn.Parameter(torch.ones(2)),
    torch.arange(12.0).reshape(3, 4).t(),  # not contiguous
    np.arange(6, dtype=np.float32).reshape(2, 3), np.array([True]), np.float64(1.5), np.int32(-3),
    pd.Series([1.0, 2.0], name="x"), pd.Series(["a", None, "c"]), pd.Series([1, 2], index=[10, 20]),
    pd.Series(pd.Categorical(["a", "b", "a"])),
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [True, False], "d": [0.5, float("nan")]}),
    pd.DataFrame(), torch.device("cpu"), torch.Size([2, 3]),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_wire_roundtrip_keeps_values_and_types(value):
    back = roundtrip(value)
    assert type(back) in (type(value), torch.Tensor, tuple)  # Parameter -> Tensor, Size -> tuple
    if isinstance(value, (torch.Tensor, np.ndarray, pd.Series, pd.DataFrame, tuple, list)) and not isinstance(
            value, torch.Size):
        if not (isinstance(value, tuple) and any(isinstance(v, list) for v in value)):
            assert compare(value, back) is None
    if isinstance(value, torch.Tensor):
        assert back.dtype == value.dtype and back.shape == value.shape
        assert back.requires_grad == value.requires_grad
        assert (back.grad is None) == (value.grad is None)
        if value.grad is not None:
            assert torch.equal(back.grad, value.grad)
    elif isinstance(value, pd.DataFrame):
        assert list(back.dtypes.astype(str)) == list(value.dtypes.astype(str))
    elif isinstance(value, pd.Series):
        assert str(back.dtype) == str(value.dtype) and back.name == value.name
        assert list(back.index) == list(value.index)
    elif isinstance(value, (np.generic, float, int, str, dict, torch.device)) or value is None:
        assert back == value and type(back) is type(value)


def test_wire_keeps_special_floats():
    back = roundtrip((float("nan"), float("inf"), -math.inf))
    assert math.isnan(back[0]) and back[1] == math.inf and back[2] == -math.inf


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=20))
def test_wire_roundtrip_any_plain_data(value):
    assert roundtrip(value) == value


@given(st.lists(st.floats(allow_nan=False, width=32), min_size=0, max_size=20),
       st.sampled_from(["float32", "float64", "int64", "int32", "uint8", "bool", "float16", "bfloat16"]))
def test_wire_roundtrip_any_tensor(values, dtype):
    t = torch.tensor(values, dtype=torch.float32).clamp(-100, 100).to(getattr(torch, dtype))
    back = roundtrip(t)
    assert back.dtype == t.dtype and torch.equal(back, t)


class Opaque:
    pass


@pytest.mark.parametrize("value", [Opaque(), lambda: 1, {1, 2}, b"bytes", 1j, object, torch.nn.Linear(2, 2),
                                   np.array(["a"]), np.array([1], dtype="datetime64[s]"), range(3),
                                   pd.Timestamp("2020-01-01"), {(1, 2): 3}],
                         ids=lambda v: type(v).__name__)
def test_wire_refuses_other_types(value):
    with pytest.raises(wire.WireError):
        wire.dumps(value)


def test_wire_refusal_names_the_type():
    with pytest.raises(wire.Unsupported, match="returned a value of unsupported type Opaque"):
        wire.encode(Opaque())


def _tensor_record(**changes) -> dict:
    record = wire.encode(torch.tensor([1.0, 2.0]))
    record.update(changes)
    return record


HOSTILE_RECORDS = {
    "pickle-like tag": {"$": "pickle", "data": base64.b64encode(b"cos\nsystem\n").decode()},
    "unknown field": {**_tensor_record(), "extra": 1},
    "dtype not whitelisted": _tensor_record(dtype="object"),
    "dtype code injection": _tensor_record(dtype="__import__('os').system('true')"),
    "data shorter than shape": _tensor_record(shape=[3]),
    "negative shape": _tensor_record(shape=[-1]),
    "shape too big": _tensor_record(shape=[2**40, 2**40]),
    "too many dimensions": _tensor_record(shape=[1] * 64, data=base64.b64encode(b"\0" * 4).decode()),
    "bad base64": _tensor_record(data="!!!"),
    "requires_grad on integers": {**wire.encode(torch.tensor([1, 2])), "requires_grad": True},
    "grad of another shape": _tensor_record(grad=wire.encode(torch.zeros(3))),
    "grad not a tensor": _tensor_record(grad=[1, 2]),
    "bare JSON object": {"a": 1},
    "dict key a list": {"$": "dict", "items": [[[1], 2]]},
    "bad special float": {"$": "float", "v": "1e999"},
    "series dtype not accepted": {"$": "series", "dtype": "datetime64[ns]", "name": None,
                                  "index": {"$": "range", "start": 0, "stop": 0, "step": 1, "name": None},
                                  "values": []},
    "range index of a billion rows": {"$": "range", "start": 0, "stop": 10**12, "step": 1, "name": None},
    "device of an odd type": {"$": "device", "type": "cpu; rm -rf /", "index": None},
}


@pytest.mark.parametrize("record", HOSTILE_RECORDS.values(), ids=HOSTILE_RECORDS.keys())
def test_wire_decode_rejects_hostile_records(record):
    with pytest.raises(wire.WireError):
        wire.decode(record)


def test_wire_decode_caps_total_bytes_and_depth():
    big = wire.encode(torch.zeros(1000))
    with pytest.raises(wire.WireError, match="more array data"):
        wire.decode([big, big], max_bytes=6000)
    deep: object = 1
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError, match="nested deeper"):
        wire.decode(deep)
    with pytest.raises(wire.WireError):
        wire.loads("[" * 100_000 + "]" * 100_000)
    with pytest.raises(wire.WireError):
        wire.loads(json.dumps({"$": "tuple", "items": [0] * (wire.MAX_ITEMS + 1)}))


def test_wire_decoded_tensors_do_not_share_the_message_buffer():
    record = wire.encode(torch.tensor([1.0, 2.0]))
    a, b = wire.decode(record), wire.decode(record)
    a += 1
    assert torch.equal(b, torch.tensor([1.0, 2.0]))


# ------------------------------------------------------------------------------- run_submission

def ch2_calls() -> dict[str, tuple[str, list[tuple], list[tuple]]]:
    """Every ch2 exercise on its public and (last) hidden cases, as the grader asks."""
    return {s.id: (s.kind, s.public_args(), s.hidden_args()) for s in SPECS}


def all_args(call: tuple) -> list[tuple]:
    """A call's arguments in the order of its outcomes: public, then hidden."""
    return [args for part in call[1:] for args in part]


def passed(result: sandbox.RunResult, calls: dict) -> dict[str, list[bool]]:
    """Per exercise, whether each case's output matches the reference (compared here, never inside)."""
    out = {}
    for spec in SPECS:
        if spec.id not in calls:
            continue
        expected = [e for _, e in spec.expected(all_args(calls[spec.id]))]
        out[spec.id] = [o.error is None and compare_observed(e, o.value, spec.kind, spec.rtol, spec.atol) is None
                        for e, o in zip(expected, result.outcomes[spec.id])]
    return out


@pytest.mark.grading
@pytest.mark.parametrize("mode", MODES)
def test_honest_submission_gets_every_case(mode):
    calls = ch2_calls()
    result = sandbox.run_submission([SETUP, *honest_cells()], calls, FAST, sandbox=mode)
    assert result.fatal is None and result.cell_errors == []
    assert all(all(v) for v in passed(result, calls).values()), result.outcomes
    assert 0 < result.seconds < FAST.total_timeout


@pytest.mark.grading
@pytest.mark.parametrize("mode", MODES)
def test_broken_and_partial_work_is_reported_per_cell_and_case(mode):
    calc_preds, update_coeffs = honest_cell("calc_preds"), honest_cell("update_coeffs")
    cells = [
        SETUP,
        "print('hello from the student')\n%time x = 1\n",  # a magic works as in a notebook
        calc_preds,
        "def mae_loss(preds, targets):\n    raise NotImplementedError()\n",
        "1 / 0\n",
        "def broken(:\n",
        update_coeffs,
        "def accuracy(preds, targets, threshold=0.5):\n    return object()\n",
        "import sys\nsys.exit(2)\n",
    ]
    calls = {**ch2_calls(), "not_there": ("return", [(1,), (2,)])}
    result = sandbox.run_submission(cells, calls, FAST, sandbox=mode)
    assert result.fatal is None
    errors = dict(result.cell_errors)
    assert sorted(errors) == [4, 5, 8]
    assert errors[4] == "ZeroDivisionError: division by zero"
    assert errors[5].startswith("SyntaxError: ")
    assert errors[8] == "SystemExit: 2"
    ok = passed(result, calls)
    assert all(ok["calc_preds"]) and all(ok["update_coeffs"])
    assert [o.error for o in result.outcomes["mae_loss"]] == ["NotImplementedError"] * len(all_args(calls["mae_loss"]))
    n_public = len(calls["accuracy"][1])
    assert {o.error for o in result.outcomes["accuracy"][:n_public]} == {"returned a value of unsupported type object"}
    assert {o.error for o in result.outcomes["accuracy"][n_public:]} == {sandbox.NOT_ACCEPTED}  # hidden: the kind
    assert [o.error for o in result.outcomes["not_there"]] == ["NameError: name 'not_there' is not defined"] * 2
    assert "hello from the student" in result.output


@pytest.mark.grading
@pytest.mark.parametrize("mode", MODES)
def test_each_case_gets_fresh_arguments_and_inplace_state_travels_back(mode):
    cells = [SETUP, "def update_coeffs(coeffs, lr):\n"
                    "    with torch.no_grad():\n"
                    "        coeffs.sub_(coeffs.grad * lr)\n"
                    "        coeffs.grad.zero_()\n"]
    spec = next(s for s in SPECS if s.id == "update_coeffs")
    assert spec.kind == INPLACE
    args = spec.public_args()
    calls = {"update_coeffs": (spec.kind, args + args)}
    result = sandbox.run_submission(cells, calls, FAST, sandbox=mode)
    first, second = (o.value for o in result.outcomes["update_coeffs"])
    assert compare_observed(first, second, INPLACE) is None  # the second call saw untouched arguments
    assert compare_observed(spec.expected(args)[0][1], first, INPLACE) is None
    returned, (state, lr_state) = first
    assert returned is None and lr_state is None
    assert state[1] is not None and not state[1].any()  # .grad came back, zeroed


@pytest.mark.grading
def test_empty_submission_and_no_calls():
    result = sandbox.run_submission([], {}, FAST, sandbox="none")
    assert result.outcomes == {} and result.cell_errors == [] and result.fatal is None


@pytest.mark.grading
@pytest.mark.parametrize("mode", MODES)
def test_total_time_limit_ends_the_run_and_keeps_what_came_back(mode):
    calc_preds = honest_cell("calc_preds")
    cells = [SETUP, calc_preds, "import time\ntime.sleep(2)\n", "time.sleep(2)\n", "time.sleep(2)\n"]
    limits = sandbox.Limits(cell_timeout=5, total_timeout=8)
    calls = ch2_calls()
    result = sandbox.run_submission(cells, calls, limits, sandbox=mode)
    assert result.seconds < limits.total_timeout + 3
    # slow start-up on a loaded machine may or may not leave time for the calls: either way it is reported
    if result.fatal is not None:
        assert result.fatal.startswith("TimeLimitExceeded")
        assert all(o.error == result.fatal for o in result.outcomes["accuracy"])


def test_limits_are_validated():
    with pytest.raises(ValueError, match="cell_timeout"):
        sandbox.Limits(cell_timeout=0)
    with pytest.raises(ValueError, match="memory_mb"):
        sandbox.Limits(memory_mb=-1)


def test_bad_calls_are_refused_before_running():
    with pytest.raises(ValueError, match="kind"):
        sandbox.run_submission([], {"f": ("nonsense", [()])}, sandbox="none")
    with pytest.raises(ValueError, match="unknown sandbox"):
        sandbox.run_submission([], {}, sandbox="docker")


def test_missing_bubblewrap_is_refused_with_a_clear_message(monkeypatch):
    from autograder import limits

    monkeypatch.setattr(limits, "bwrap_path", lambda: None)  # resolve_sandbox's, which the sandbox uses
    for mode in ("auto", "bwrap"):
        with pytest.raises(sandbox.SandboxUnavailable, match="bubblewrap.*apt-get install bubblewrap.*--unsandboxed"):
            sandbox.run_submission(["x = 1"], {}, sandbox=mode)
    assert sandbox.resolve_sandbox("none") == "none"


@pytest.mark.grading
def test_cli_refuses_to_grade_without_bubblewrap(tmp_path):
    """With no bwrap on PATH, ``grade`` stops with the message before reading anything else."""
    empty = tmp_path / "bin"
    empty.mkdir()
    notebook = tmp_path / "any.ipynb"
    notebook.write_text("{}")
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(notebook), "--course-dir", str(tmp_path)],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,
                          env={"PATH": str(empty), "PYTHONPATH": str(PROJECT_ROOT)})
    assert proc.returncode == 2, proc.stderr
    assert "bubblewrap" in proc.stderr and "--unsandboxed" in proc.stderr


@pytest.mark.skipif(not HAVE_BWRAP, reason="bubblewrap is not installed")
@pytest.mark.parametrize("zygote_fd", [None, 5], ids=["cold start", "warm zygote"])
def test_sandbox_command_binds_no_project_folder(zygote_fd):
    argv = sandbox._bwrap_argv(3, 4, zygote_fd=zygote_fd)
    bound = [argv[i + 2] for i, a in enumerate(argv) if a in ("--ro-bind", "--bind")]
    root = str(PROJECT_ROOT.resolve())
    for dest in bound:
        assert not (root == dest or root.startswith(dest.rstrip("/") + "/")), dest
        assert not dest.startswith(root + "/") or dest.startswith(root + "/.venv"), dest
    assert "--bind" not in argv  # nothing writable from the host
    assert "--unshare-net" in argv or "--unshare-all" in argv
    from autograder.nbgrader_config import DEFAULT_EXCHANGE_ROOT

    for dest in bound:  # nbgrader's exchange (every student's submission) is not visible
        assert not DEFAULT_EXCHANGE_ROOT.startswith(dest.rstrip("/") + "/"), dest


# ------------------------------------------------------------------- the protocol: secrets last

@pytest.mark.grading
@pytest.mark.parametrize("mode", MODES)
def test_hidden_cases_come_back_secret_and_after_the_public_ones(mode):
    """Public outcomes are shown as they are; hidden ones are flagged and their errors reduced to a kind."""
    cells = ["import sys\nseen = []\n"
             "class Custom(Exception):\n    pass\n"
             "def f(x):\n    seen.append(x)\n    if x < 0:\n        raise Custom(f'secret {x}')\n"
             "    if x == 0:\n        raise ValueError(f'zero {seen}')\n    return x * 2\n"]
    calls = {"f": ("return", [(1,), (0,)], [(2,), (-7,), (0,)])}
    result = sandbox.run_submission(cells, calls, FAST, sandbox=mode)
    public, hidden = result.outcomes["f"][:2], result.outcomes["f"][2:]
    assert [o.secret for o in public] == [False, False] and all(o.secret for o in hidden)
    assert public[0].value == 2 and public[1].error == "ValueError: zero [1, 0]"  # no hidden input seen yet
    assert hidden[0].value == 4
    assert hidden[1].error == sandbox.UNNAMED_ERROR  # a type of the submission's: not even its name
    assert hidden[2].error == "ValueError"  # a built-in's name only, never its message


def test_reduce_error_keeps_only_builtin_names():
    assert sandbox.reduce_error("ValueError: the input was [1, 2]") == "ValueError"
    assert sandbox.reduce_error("Leak_7_12: x") == sandbox.UNNAMED_ERROR
    assert sandbox.reduce_error("returned a value of unsupported type Leak_7_12") == sandbox.NOT_ACCEPTED
    assert sandbox.reduce_error("TimeLimitExceeded: ran longer") == "TimeLimitExceeded"
    assert sandbox.reduce_error("") == sandbox.NOT_ACCEPTED


def test_progress_reduces_everything_once_the_hidden_inputs_are_sent():
    progress = sandbox._Progress(2, {"f": 2})
    progress.handle(b'{"t": "cell_error", "i": 0, "error": "ValueError: public text"}')
    progress.secret = True
    progress.handle(b'{"t": "cell_error", "i": 1, "error": "KeyError: hidden text"}')
    progress.handle(b'{"t": "result", "id": "f", "k": 1, "error": "RuntimeError: [7, 12]"}')
    assert progress.cell_errors == {0: "ValueError: public text", 1: "KeyError"}
    assert progress.results[("f", 1)] == sandbox.CaseOutcome(None, "RuntimeError", True)


def test_progress_refuses_lines_that_would_amplify_memory():
    progress = sandbox._Progress(0, {"f": 1})
    progress.handle(b'{"t": "case", "id": "f", "k": 0}')
    progress.handle(b"[" + b"[]," * (sandbox.MAX_MESSAGE_ITEMS // 2 + 1) + b"[]]")
    assert progress.results[("f", 0)].error.startswith(sandbox.REFUSED)


# ------------------------------------------------------------------------------------ safe_io

def test_read_inside_reads_only_regular_files_below_the_folder(tmp_path):
    import os

    from autograder import safe_io

    (tmp_path / "s" / "a").mkdir(parents=True)
    (tmp_path / "s" / "a" / "ok.ipynb").write_bytes(b"{}")
    (tmp_path / "s" / "a" / "big").write_bytes(b"x" * 101)
    (tmp_path / "s" / "a" / "zero").symlink_to("/dev/zero")
    (tmp_path / "s" / "a" / "up").symlink_to(tmp_path / "s" / "a" / "ok.ipynb")
    os.mkfifo(tmp_path / "s" / "a" / "fifo")
    (tmp_path / "s" / "linked").symlink_to(tmp_path / "s" / "a")
    assert safe_io.read_inside(tmp_path / "s", "a/ok.ipynb", 100) == b"{}"
    expected = {"a/big": "101 bytes", "a/zero": "symbolic link", "a/up": "symbolic link", "a/fifo": "FIFO",
                "linked/ok.ipynb": "linked is a symbolic link", "a/../a/ok.ipynb": "not a plain path",
                "a": "folder", "a/none": "no such file"}
    for rel, words in expected.items():
        with pytest.raises(safe_io.UnsafeFile, match=words.replace("(", r"\(")):
            safe_io.read_inside(tmp_path / "s", rel, 100)


def test_loads_bounded_refuses_wide_deep_and_long_json():
    from autograder import safe_io

    assert safe_io.loads_bounded(b'{"a": [1, 2, {"b": null}]}', 100) == {"a": [1, 2, {"b": None}]}
    for data, words in ((b"[" + b"[]," * 100 + b"[]]", "more than 50 JSON values"),
                        (b"[" * 50 + b"]" * 50, "nested deeper"), (b"[" * 5000 + b"]" * 5000, "nested deeper"),
                        (b'"' + b"x" * 20_001 + b'"', "bytes of JSON"), (b"{nope", "not valid JSON")):
        with pytest.raises(safe_io.BadJSON, match=words):
            safe_io.loads_bounded(data, 20_000, max_items=50 if b"[]," in data else 20_000, max_depth=20)


def test_neutral_and_csv_cell():
    from autograder import safe_io

    assert safe_io.neutral("a\x1b[31mb\x9bc\u202ed\re\ud800") == "a\\x1b[31mb\\x9bc\\u202ed\\x0de\\ud800"
    assert safe_io.neutral("one\ntwo\tthree", newlines=False) == "one\\ntwo\\tthree"
    assert [safe_io.csv_cell(v) for v in ("=1", "+1", "-1", "@x", "\uff1d1", "ok", 3, 2.5, None)] == \
        ["'=1", "'+1", "'-1", "'@x", "'\uff1d1", "ok", 3, 2.5, None]


def test_waiting_for_a_killed_run_ends_once_its_processes_have_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    """``_wait_gone`` given a process's pidfd (as a warm run's keeper's is) waits on it, not on its own
    looks at ``/proc``: with those looks blinded (every process seems gone), it still returns only once
    that process has ended, and at its timeout for one that does not end."""
    monkeypatch.setattr(sandbox, "_alive", lambda pid: False)
    ending = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    staying = subprocess.Popen(["sleep", "60"])
    fds = [os.pidfd_open(ending.pid), os.pidfd_open(staying.pid)]
    try:
        sandbox._wait_gone({ending.pid}, timeout=30, pidfd=fds[0])
        assert ending.poll() is not None  # it had ended (a zombie until this reaps it)
        started = time.monotonic()
        sandbox._wait_gone({staying.pid}, timeout=0.3, pidfd=fds[1])
        assert 0.3 <= time.monotonic() - started < 10 and staying.poll() is None
    finally:
        staying.kill()
        for proc in (ending, staying):
            proc.wait()
        for fd in fds:
            os.close(fd)


def test_sandbox_uids_step_over_the_machines_accounts_and_subordinate_ranges() -> None:
    """A user whose uid, or whose /etc/subuid range (mappable in a user namespace of theirs), were a
    run's could signal it: the runs' uids start above every account, group and subordinate range."""
    span = sandbox.UID_BLOCKS * sandbox.UIDS_PER_PROCESS
    assert sandbox.uid_base([], [0, 1000, 65534]) == sandbox.UID_BASE
    # Debian gives each new user 65,536 subordinate ids from 100,000: 200 students reach past 13 million
    students = "\n".join(f"s{i}:{100_000 + 65_536 * i}:65536" for i in range(200))
    top = 100_000 + 65_536 * 200
    assert sandbox.uid_base([students, ""], [0, 1000]) == top
    assert sandbox.uid_base(["# comment\nbad line\nx:1:2:3\n"], [2_000_000]) == 2_000_001
    assert sandbox.uid_base([], [0, 4_294_967_294]) == sandbox.UID_BASE  # nfsnobody is no range to step over
    assert sandbox.uid_base([f"big:1000:{sandbox.UID_LIMIT}"], []) is None  # no room left: said, not guessed
    assert sandbox.uid_base([], [sandbox.UID_LIMIT - span - 1]) == sandbox.UID_LIMIT - span

    import grp
    import pwd

    taken = {u.pw_uid for u in pwd.getpwall()} | {g.gr_gid for g in grp.getgrall()}
    ours = sandbox.process_uids()
    assert len(ours) == sandbox.UIDS_PER_PROCESS and not taken & set(ours)
    for name in ("/etc/subuid", "/etc/subgid"):
        try:
            text = Path(name).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                assert ours.start >= int(fields[1]) + int(fields[2]) or ours.stop <= int(fields[1]), line
