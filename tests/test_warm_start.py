"""The warm start (issue 10, deliverable 3): one zygote per grading process, one fresh child per run.

Every test runs submissions in *this* process, one after the other, so they share its zygote as a
Dask worker's runs do; each checks that the zygote was reused (same pid, no restart) where it should
be, and that a submission graded after a hostile one scores exactly as it does alone. Scores are
computed here, outside the sandbox, from the reference (as the grader does): all or nothing per
exercise. A probe, part of the honest submission, reports what its process sees of the machine
(files, processes, threads, patched modules, memory, descriptors), so "exactly as alone" covers that
too.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from autograder import cgroups, sandbox
from autograder.runtime import compare_observed
from hostile import cells as H
from hostile.host import processes_running

pytestmark = [pytest.mark.hostile,
              pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bubblewrap is not installed")]

LIMITS = sandbox.Limits(cell_timeout=5, total_timeout=120, max_output_bytes=100_000)
SPEC, CALLS, EXPECTED = H.SPEC, H.CALLS, H.EXPECTED

#: The group id the kernel shows for a group not mapped in a user namespace (``/proc/sys/kernel/overflowgid``).
OVERFLOW_GID = int(Path("/proc/sys/kernel/overflowgid").read_text())

#: Part of the honest submission: what its process sees that another run could have left behind.
PROBE = '''\
import gc, os, sys, threading

def leftovers(token):
    import numpy as np, torch
    mark = token + "-" + "MARK"
    def tree(top):
        out = []
        for root, dirs, files in os.walk(top):
            out += sorted(os.path.relpath(os.path.join(root, n), top) for n in dirs + files)
        return sorted(out)
    procs = []
    for entry in sorted(os.listdir("/proc")):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    procs.append(f.read().split(b"\\0")[0].decode(errors="replace").rsplit("/", 1)[-1])
            except OSError:
                pass
    seen = [o for o in gc.get_objects() if isinstance(o, (list, dict, tuple))
            and any(isinstance(v, str) and mark in v for v in (o.values() if isinstance(o, dict) else o))]
    fds = []
    for n in os.listdir("/proc/self/fd"):
        try:
            fds.append(os.readlink(f"/proc/self/fd/{n}").split(":")[0])
        except OSError:  # the descriptor listdir itself used
            pass
    fds.sort()
    return {
        "tmp": tree("/tmp"), "home": tree(os.path.expanduser("~")), "shm": tree("/dev/shm"),
        "processes": procs, "threads": [t.name for t in threading.enumerate()],
        "tasks": len(os.listdir("/proc/self/task")),
        "patched": [name for name, obj in (("Tensor.sum", torch.Tensor.sum), ("torch.abs", torch.abs),
                                           ("Tensor.mean", torch.Tensor.mean), ("np.mean", np.mean),
                                           ("np.allclose", np.allclose))
                    if getattr(obj, "__module__", None) in ("__main__", None) and "lambda" in repr(obj)],
        "marks": [len(seen), hasattr(np, "h2_mark"), hasattr(torch, "h2_mark"), hasattr(sys, "h2_mark"),
                  any(mark in str(v) for v in os.environ.values())],
        "modules": sorted(m for m in sys.modules if "h2" in m),
        "fds": fds, "uid_is_root": os.getuid() == 0, "cwd": os.getcwd(),
    }
'''


def hostile_leftovers(token: str) -> str:
    """Leaves all it can: files in /tmp, $HOME and /dev/shm, a daemon and a double-forked process that
    keep writing files, a thread that keeps patching, monkeypatched torch, numpy and the runner's own
    modules, a marker in memory and the environment, an imported module of its own."""
    return f'''\
import os, subprocess, sys, threading, time, types
import numpy as np, torch
mark = {token!r} + "-" + "MARK"
for path in ("/tmp/left.txt", os.path.expanduser("~/left.txt"), "/tmp/work/left.txt", "/dev/shm/left"):
    with open(path, "w") as f:
        f.write(mark)
subprocess.Popen(["/bin/sleep", {token!r}], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            with open("/tmp/daemon-" + str(time.monotonic_ns()), "w") as f:
                f.write(mark)
            time.sleep(0.01)
    os._exit(0)

def wrong(*a, **k):
    return torch.tensor(12345.0)

def patch():
    torch.Tensor.sum = lambda self, *a, **k: torch.zeros(()) + 7
    torch.Tensor.mean = lambda self, *a, **k: torch.zeros(()) + 7
    torch.abs = lambda x: x * 0 + 3
    np.mean = lambda *a, **k: 7.0
    np.allclose = lambda *a, **k: True
    for name, module in list(sys.modules.items()):
        if "wire" in name or "runtime" in name:
            module.observe = wrong
    np.h2_mark = torch.h2_mark = sys.h2_mark = [mark]

def keep_patching():
    while True:
        patch()
        time.sleep(0.001)

patch()
threading.Thread(target=keep_patching, name="h2-patcher", daemon=False).start()
os.environ["H2_MARK"] = mark
sys.modules["h2_module"] = types.ModuleType("h2_module")
hog = [mark * 1000 for _ in range(1000)]
'''


def matches(expected, outcome: sandbox.CaseOutcome, spec) -> bool:
    """Whether one case's output is the reference's (a shape compare cannot take fails, as in the grader)."""
    if outcome.error is not None:
        return False
    try:
        return compare_observed(expected, outcome.value, spec.kind, spec.rtol, spec.atol) is None
    except Exception:  # noqa: BLE001 - autograder.grading.verdict does the same
        return False


def score(result: sandbox.RunResult) -> dict[str, bool]:
    """All or nothing per ch2 exercise, compared here with the reference's outputs."""
    return {i: len(result.outcomes[i]) == len(EXPECTED[i])
            and all(matches(e, o, SPEC[i]) for e, o in zip(EXPECTED[i], result.outcomes[i])) for i in CALLS}


def honest(token: str) -> tuple[dict[str, bool], dict]:
    """The honest ch2 answers and the probe; its score and what the probe saw."""
    calls = {**CALLS, "leftovers": ("return", [(token,)])}
    result = sandbox.run_submission([H.SETUP, *H.honest_cells(), PROBE], calls, LIMITS, sandbox="bwrap")
    assert result.fatal is None and result.cell_errors == [], (result.fatal, result.cell_errors, result.output)
    (seen,) = result.outcomes["leftovers"]
    assert seen.error is None, seen.error
    return score(result), seen.value


def zygote_state() -> tuple:
    return sandbox._ZYGOTE.pid, sandbox._ZYGOTE.starts


def host_processes_with(token: str) -> list[int]:
    """The live (not zombie) processes of the grading machine whose command line holds ``token``."""
    return [pid for pid in processes_running(token) if sandbox._alive(pid)]


@pytest.fixture
def fresh_zygote(monkeypatch):
    """A zygote started for this test (the warm start on, whatever the environment says)."""
    monkeypatch.delenv(sandbox.COLD_START_VARIABLE, raising=False)
    sandbox._ZYGOTE.stop()
    assert sandbox.warm_start_enabled(), "the warm start should be possible on this machine"
    yield sandbox._ZYGOTE
    sandbox._ZYGOTE.stop()


def test_an_honest_run_after_a_hostile_one_scores_exactly_as_alone(fresh_zygote):
    """The issue's test: files in /tmp and $HOME, a daemon, a thread, patched torch and numpy; then honest."""
    token = f"2000.{uuid.uuid4().int % 10**9}"
    alone_score, alone_seen = honest(token)
    state = zygote_state()
    assert state[0] is not None and all(alone_score.values()), alone_score

    hostile = sandbox.run_submission([H.SETUP, hostile_leftovers(token), *H.honest_cells()], CALLS, LIMITS,
                                     sandbox="bwrap")
    assert hostile.cell_errors == [], hostile.cell_errors
    assert not all(score(hostile).values())  # its own patches do break its own run: the patches work
    time.sleep(0.3)
    assert host_processes_with(token) == []  # its daemons died with its run

    after_score, after_seen = honest(token)
    assert zygote_state() == state  # the same zygote served all three runs
    assert after_score == alone_score
    assert after_seen == alone_seen
    assert alone_seen["patched"] == [] and alone_seen["marks"] == [0, False, False, False, False]
    assert "left.txt" not in alone_seen["tmp"] and alone_seen["shm"] == [] and not alone_seen["uid_is_root"]
    assert set(alone_seen["fds"]) <= {"pipe", "/dev/null"}, alone_seen["fds"]  # nothing of the zygote's


def test_a_run_is_ended_through_its_cgroup_without_walking_proc(fresh_zygote, monkeypatch):
    """Ending a warm run kills what its memory cgroup lists (the keeper joined it before it forked
    anything, and nothing can leave it), not what a walk of all of ``/proc`` finds, whose cost grows with
    every process of the machine: a run that leaves processes behind still ends whole, with no walk."""
    group = cgroups.create(1 << 30)
    if group is None:
        pytest.skip("no memory cgroup can be made here: runs fall back to walking /proc")
    group.remove()
    walks: list[tuple] = []
    monkeypatch.setattr(sandbox, "_process_tree", lambda *args, **kw: walks.append(args) or {})
    monkeypatch.setattr(sandbox, "MEMORY_CHECK_INTERVAL", 3600.0)  # no memory check in this short run
    token = f"2002.{uuid.uuid4().int % 10**9}"
    result = sandbox.run_submission([H.SETUP, H.lingering_processes(token), *H.honest_cells()], CALLS, LIMITS,
                                    sandbox="bwrap")
    assert result.fatal is None and result.cell_errors == [], (result.fatal, result.cell_errors)
    assert all(score(result).values())
    time.sleep(0.3)
    assert host_processes_with(token) == [] and cgroups.leftovers() == []
    assert walks == []


def test_warm_and_cold_starts_give_the_same_score(fresh_zygote, monkeypatch):
    token = f"2001.{uuid.uuid4().int % 10**9}"
    warm_score, warm_seen = honest(token)
    state = zygote_state()
    monkeypatch.setenv(sandbox.COLD_START_VARIABLE, "1")
    assert not sandbox.warm_start_enabled()
    cold_score, cold_seen = honest(token)
    assert zygote_state() == state  # the switch bypasses the zygote
    assert warm_score == cold_score and all(warm_score.values())
    for key in ("tmp", "home", "shm", "patched", "marks", "modules", "fds", "uid_is_root", "cwd"):
        assert warm_seen[key] == cold_seen[key], key
    assert len(warm_seen["processes"]) == len(cold_seen["processes"]) == 2  # an init and the runner


#: Each ``attack()`` returns what it managed against the zygote and other runs: the tests expect nothing.
ATTACKS = {
    "signal every pid": '''\
import os, signal
def attack():
    hit = []
    for pid in range(1, 5000):
        if pid == os.getpid():
            continue
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            try:
                os.kill(pid, sig)
                hit.append(pid)
            except OSError:
                pass
    try:
        os.kill(-1, signal.SIGKILL)  # every process this uid may signal (not itself)
    except OSError:
        pass
    return sorted(set(hit))
''',
    "ptrace every pid": '''\
import ctypes, os
def attack():
    libc = ctypes.CDLL(None, use_errno=True)
    hit = []
    for pid in range(1, 5000):
        if pid != os.getpid():
            for request in (16, 0x4206):  # PTRACE_ATTACH, PTRACE_SEIZE
                if libc.ptrace(request, pid, None, None) == 0:
                    hit.append(pid)
    return hit
''',
    "write the zygote through /proc": '''\
import os
def attack():
    hit = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            for name in ("mem", "environ", "root/grader/zygote.py", "cwd", "fd/0", "fd/3", "fd/5", "fd/6"):
                try:
                    with open(f"/proc/{entry}/{name}", "r+b") as f:
                        f.write(b"x")
                    hit.append(f"{entry}/{name}")
                except OSError:
                    pass
    for path in ("/grader/zygote.py", "/grader/_runner.py", "/proc/sys/kernel/ns_last_pid"):
        try:
            with open(path, "ab") as f:
                f.write(b"x")
            hit.append(path)
        except OSError:
            pass
    return hit
''',
    "write every inherited descriptor": '''\
import os
def attack():
    hit = []
    for fd in range(3, 1024):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if not link.startswith("pipe:"):
            hit.append(link)  # anything but the run's own pipes would be the zygote's
        try:
            os.write(fd, b"garbage\\n" * 100)
        except OSError:
            pass
    return hit
''',
}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_a_child_cannot_reach_the_zygote_or_the_next_run(attack, fresh_zygote):
    token = f"2002.{uuid.uuid4().int % 10**9}"
    alone_score, alone_seen = honest(token)
    state = zygote_state()
    # run as a cell, which reports what it managed in its error: a call's own result line could be
    # spoilt by the garbage it writes on the results pipe
    cell = attack + "raise RuntimeError(f'managed {attack()}')\n"
    result = sandbox.run_submission([H.SETUP, cell], {}, LIMITS, sandbox="bwrap")
    # without root the run's init has the run's uid: a signal to it "succeeds", but the kernel never
    # delivers a signal sent from inside a PID namespace to its init unless it handles it (it does not)
    managed = "[1]" if attack == ATTACKS["signal every pid"] and os.geteuid() != 0 else "[]"
    assert result.fatal is None and result.cell_errors == [(1, f"RuntimeError: managed {managed}")], \
        (result.fatal, result.cell_errors, result.output[-2000:])
    after_score, after_seen = honest(token)
    assert zygote_state() == state and sandbox._ZYGOTE._healthy()
    assert (after_score, after_seen) == (alone_score, alone_seen)


def test_a_run_that_fills_memory_leaves_the_next_one_whole(fresh_zygote):
    token = f"2003.{uuid.uuid4().int % 10**9}"
    alone = honest(token)
    state = zygote_state()
    limits = sandbox.Limits(cell_timeout=60, total_timeout=180, memory_mb=1024)
    for cell in (H.MEMORY_BOMB, H.FORK_BOMB, H.hold_memory("/tmp", 2048), H.hold_memory("/dev/shm", 2048)):
        result = sandbox.run_submission([H.SETUP, cell, *H.honest_cells()], CALLS, limits, sandbox="bwrap")
        assert [i for i, _ in result.cell_errors] == [1], result.cell_errors
        assert all(score(result).values()), result.outcomes
    assert zygote_state() == state
    assert honest(token) == alone


def test_a_zygote_whose_children_cannot_be_set_up_is_given_up_and_runs_start_cold(fresh_zygote, monkeypatch):
    """Where the zygote starts but its children cannot make their namespaces or folders (a user
    namespace whose capabilities a security module takes away, say), its first child, a probe, fails:
    the zygote is given up once, with the reason, and every run starts cold and scores; without the
    probe, every submission would fail to start. Simulated with a scratch folder that cannot be made."""
    monkeypatch.setattr(sandbox._ZYGOTE, "failed", None)  # given up for this test only
    real = sandbox._child_request
    monkeypatch.setattr(sandbox, "_child_request", lambda *a: {**real(*a), "work": "/proc/no/such/folder"})
    token = f"2008.{uuid.uuid4().int % 10**9}"
    for _ in range(2):
        scores, _ = honest(token)
        assert all(scores.values()), scores
    assert "could not be set up" in (sandbox._ZYGOTE.failed or ""), sandbox._ZYGOTE.failed
    assert not sandbox.warm_start_enabled() and sandbox._ZYGOTE.proc is None


def test_a_dead_zygote_is_replaced(fresh_zygote):
    token = f"2004.{uuid.uuid4().int % 10**9}"
    alone = honest(token)
    pid, starts = zygote_state()
    os.kill(pid, signal.SIGKILL)
    assert honest(token) == alone
    new_pid, new_starts = zygote_state()
    assert new_starts == starts + 1 and new_pid != pid


def test_a_traced_zygote_is_never_used_again(fresh_zygote):
    """Tampering from outside (something attached to it): the next run gets a new zygote."""
    token = f"2005.{uuid.uuid4().int % 10**9}"
    alone = honest(token)
    pid, starts = zygote_state()
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.ptrace(0x4206, pid, None, None) == 0, ctypes.get_errno()  # PTRACE_SEIZE: the tracee runs on
    try:
        assert not sandbox._ZYGOTE._healthy()
        assert honest(token) == alone
        assert zygote_state()[1] == starts + 1
    finally:
        libc.ptrace(17, pid, None, None)  # PTRACE_DETACH (the old zygote is killed anyway)


def test_runs_in_parallel_threads_share_the_zygote(fresh_zygote):
    """Two threads of one process (as a threaded worker): each run its own child, both scored right."""
    from concurrent.futures import ThreadPoolExecutor

    token = f"2006.{uuid.uuid4().int % 10**9}"
    alone = honest(token)
    state = zygote_state()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda i: honest(token) if i % 2 else sandbox.run_submission(
            [H.SETUP, hostile_leftovers(token), *H.honest_cells()], CALLS, LIMITS, sandbox="bwrap"), range(4)))
    assert [r for i, r in enumerate(results) if i % 2] == [alone, alone]
    assert zygote_state() == state


def test_a_forked_grading_process_leaves_its_parents_zygote_alone(fresh_zygote):
    """A pool that forks a grading process: the child starts its own zygote; the parent's keeps running."""
    token = f"2007.{uuid.uuid4().int % 10**9}"
    alone = honest(token)
    state = zygote_state()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - reported through the pipe
        try:
            ok = honest(token) == alone and sandbox._ZYGOTE.pid not in (None, state[0])
            os.write(write_end, b"ok" if ok else b"wrong")
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as f:
        assert f.read() == b"ok"
    assert zygote_state() == state and sandbox._ZYGOTE._healthy()
    assert honest(token) == alone


def test_the_child_holds_no_privilege_of_the_zygote(fresh_zygote):
    """The zygote keeps capabilities to make namespaces; the student's process has none of them."""
    cell = '''\
import os
def status():
    with open("/proc/self/status") as f:
        fields = dict(line.rstrip("\\n").split(":\\t", 1) for line in f if ":\\t" in line)
    with open("/proc/self/cgroup") as f:
        cgroups = sorted({line.rstrip("\\n").split(":", 2)[2] for line in f})
    with open("/proc/1/status") as f:
        init = dict(line.rstrip("\\n").split(":\\t", 1) for line in f if ":\\t" in line)
    return {k: fields[k] for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")}, \\
        os.getresuid(), os.getgroups(), os.getpid(), sorted(p for p in os.listdir("/proc") if p.isdigit()), cgroups, \\
        init["SigCgt"]
'''
    result = sandbox.run_submission([cell], {"status": ("return", [()])}, LIMITS, sandbox="bwrap")
    (outcome,) = result.outcomes["status"]
    assert outcome.error is None, (outcome.error, result.output)
    fields, uids, groups, pid, pids, cgroups, init_catches = outcome.value
    assert {k: v for k, v in fields.items() if k.startswith("Cap")} == dict.fromkeys(
        ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"), "0000000000000000")
    assert fields["NoNewPrivs"] == "1" and fields["Seccomp"] == "2"  # filtered, for good
    assert len(set(uids)) == 1
    if os.geteuid() == 0:  # a uid of the run's own
        assert uids[0] in sandbox.process_uids() and groups == []
    else:  # the grader's, the only one its user namespace maps; groups not mapped there show as "nogroup"
        assert uids[0] == os.getuid() and set(groups) <= {os.getgid(), OVERFLOW_GID}, groups
    assert pid == 2 and pids == ["1", "2"]  # its own PID namespace: its init and itself
    # its init handles no signal, so none the runner sends it is delivered (without root it may send them)
    assert init_catches == "0000000000000000"
    assert cgroups == ["/"]  # its own cgroup namespace, rooted at the run's cgroup
