"""Hostile submissions against a grader that runs without root (marker ``hostile``).

An instructor grading on a laptop, or on a cluster through dask-jobqueue, is not root: bubblewrap then
puts the sandbox in a user namespace of its own (``--unshare-all``) and the sandboxed program keeps the
instructor's uid, with no memory cgroup; the warm start's zygote lives in such a namespace too. The
rest of the hostile suite runs as root (this machine's grader), so this file runs the same kinds of
attack as ``nobody``, with warm and with cold starts: the grader is :mod:`hostile.unprivileged`,
started with ``setpriv``, and everything it ran is checked here, outside. The warm start's own suite
(``tests/test_warm_start.py``) is also run whole as ``nobody``.

All the requests of one kind of start go to one grading process (``unprivileged`` fixture), as a batch
would; each test checks its own part of the answers. Needs the tests to run as root (to change to
``nobody``) and a checkout that ``nobody`` can read, like a shared installation.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from autograder import sandbox
from hostile import cells as H
from hostile.host import as_user, nobody, processes_running
from solutions.paths import PROJECT_ROOT

pytestmark = [pytest.mark.hostile,
              pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bubblewrap is not installed"),
              pytest.mark.skipif(os.geteuid() != 0, reason="changing to an unprivileged uid needs root")]

LIMITS = {"cell_timeout": 3, "total_timeout": 120, "max_output_bytes": 100_000}
#: Memory no address-space limit sees (no cgroup counts it without root): it must stay under the limit.
HOLDS = ("memfd", "sysv", "/dev/shm", "/tmp")
MEMORY_LIMITS = {"cell_timeout": 60, "total_timeout": 180, "memory_mb": 768}
#: The cells run before the honest answers, by name; each costs only itself.
CELLS = {"fork bomb": (H.FORK_BOMB, ("MemoryError", "TimeLimitExceeded")),
         "kill -9 itself": (H.KILL_SELF, "ProcessDied: the process was killed by SIGKILL"),
         "loop ignoring the alarm": (H.STUBBORN_LOOP, "TimeLimitExceeded"),
         "huge allocation": (H.HUGE_ALLOCATION, "MemoryError"),
         "import the reference": (H.IMPORT_REFERENCE, "ModuleNotFoundError: No module named 'solutions'")}


#: The environment of the sandbox's process 1: without root that is bubblewrap, with the run's own uid.
PROBE_INIT = """\
def probe_init():
    with open("/proc/1/environ", "rb") as f:
        return dict(item.split("=", 1) for item in f.read().decode().split("\\0") if "=" in item)
"""


class Unprivileged:
    """Each request and what the unprivileged grader answered, and the folders it was given."""

    def __init__(self, answers: list[tuple[dict, dict]], home: Path, course: Path, token: str, port: int, start: str) -> None:
        self.answers, self.home, self.course, self.token, self.port = answers, home, course, token, port
        self.start = start


def _requests(course: Path, token: str, port: int) -> list[dict]:
    project, course_dir = str(PROJECT_ROOT), str(course)
    hostile = [{"op": "hostile", "cells": [cell], "limits": LIMITS} for cell, _ in CELLS.values()]
    holds = [{"op": "hostile", "cells": [H.hold_memory(kind, 3 * 1024)], "limits": MEMORY_LIMITS} for kind in HOLDS]
    return [{"op": "whoami"}, *hostile, *holds,
            {"op": "hostile", "cells": [H.MEMORY_BOMB], "limits": {"cell_timeout": 60, "total_timeout": 180,
                                                                   "memory_mb": 1024}},
            {"op": "hostile", "cells": [H.lingering_processes(token)], "limits": LIMITS},
            {"op": "hostile", "cells": [H.FORGED_MESSAGES], "limits": LIMITS},
            {"op": "hostile", "cells": [H.PERSIST], "limits": LIMITS},
            {"op": "hostile", "cells": [H.FIND_PERSISTED], "limits": LIMITS},
            {"op": "probe", "source": H.probe_files(project, course_dir), "name": "probe_files"},
            {"op": "probe", "source": H.probe_files(project, course_dir), "name": "probe_files", "mode": "none"},
            {"op": "probe", "source": H.probe_writes(project, course_dir), "name": "probe_writes"},
            {"op": "probe", "source": H.probe_network(port), "name": "probe_network"},
            {"op": "probe", "source": H.probe_network(port), "name": "probe_network", "mode": "none"},
            {"op": "probe", "source": H.PROBE_ENVIRONMENT, "name": "probe_environment"},
            {"op": "probe", "source": PROBE_INIT, "name": "probe_init"},
            {"op": "probe", "source": H.PROBE_WRITABLE_MOUNTS, "name": "probe_writable_mounts"},
            {"op": "probe", "source": H.PROBE_WRITABLE_MOUNTS, "name": "probe_writable_mounts", "mode": "none"}]


def _env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join((str(PROJECT_ROOT), str(PROJECT_ROOT / "tests")))}


def _as(uid: int, gid: int) -> list[str]:
    return [*as_user(uid, gid), sys.executable]


def _reachable(uid: int, gid: int, home: Path) -> None:
    """Skip (saying why) if ``uid`` cannot run this checkout's Python or read the project (a checkout in
    a private home folder); then the project must import as it does for its owner."""
    readable = f"import os, sys; sys.exit(0 if os.access({str(PROJECT_ROOT)!r}, os.R_OK | os.X_OK) else 3)"
    reach = subprocess.run(_as(uid, gid) + ["-c", readable], env=_env(home), cwd=home, capture_output=True,
                           text=True, timeout=300)
    if reach.returncode != 0:
        pytest.skip(f"the user 'nobody' cannot run this checkout's Python or read the checkout "
                    f"(status {reach.returncode}): {reach.stderr[-300:]}")
    imports = subprocess.run(_as(uid, gid) + ["-c", "import autograder.sandbox, torch"], env=_env(home), cwd=home,
                             capture_output=True, text=True, timeout=300)
    assert imports.returncode == 0, imports.stderr


def run_as(uid: int, gid: int, home: Path, requests: list[dict], start: str, timeout: float = 900) -> list[dict]:
    """Start :mod:`hostile.unprivileged` as ``uid`` with ``requests``, its runs started ``"warm"`` or
    ``"cold"``; its answers."""
    env = _env(home)
    if start == "cold":
        env[sandbox.COLD_START_VARIABLE] = "1"
    _reachable(uid, gid, home)
    proc = subprocess.run(_as(uid, gid) + ["-m", "hostile.unprivileged"], input=json.dumps(requests), env=env,
                          cwd=home, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", params=["warm", "cold"])
def unprivileged(request):
    uid, gid = nobody()
    scratch = Path(tempfile.mkdtemp(prefix="autograder-unprivileged-"))
    try:
        home, course = scratch / "home", scratch / "course"
        for folder in (home, course, course / "submitted"):
            folder.mkdir()
            os.chown(folder, uid, gid)  # the sandbox, not the file modes, must keep the run out of them
        (course / "gradebook.db").write_text("grades")
        os.chmod(scratch, 0o755)
        token = f"1000.{uuid.uuid4().int % 10**9}"
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()
            port = server.getsockname()[1]
            requests = _requests(course, token, port)
            answers = run_as(uid, gid, home, requests, request.param)
        yield Unprivileged(list(zip(requests, answers)), home, course, token, port, request.param)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _answer(unprivileged: Unprivileged, op: str, key: str, value) -> dict:
    """The answer to the first request of ``op`` whose ``key`` is ``value``."""
    for request, answer in unprivileged.answers:
        if request["op"] == op and request.get(key) == value and request.get("mode", "bwrap") == "bwrap":
            return answer
    raise KeyError(value)


def _control(unprivileged: Unprivileged, name: str) -> dict:
    return next(a for r, a in unprivileged.answers if r.get("name") == name and r.get("mode") == "none")


def _assert_honest_graded(answer: dict) -> None:
    assert answer["fatal"] is None, answer["fatal"]
    assert all(all(v) and v for v in answer["verdicts"].values()), answer["verdicts"]


def test_the_grader_runs_unprivileged(unprivileged):
    whoami = _answer(unprivileged, "whoami", "op", "whoami")
    assert whoami["uid"] == nobody()[0] and whoami["uid"] != 0
    assert whoami["warm"] == (unprivileged.start == "warm")


@pytest.mark.parametrize("name", CELLS)
def test_a_hostile_cell_costs_only_itself(unprivileged, name):
    cell, error = CELLS[name]
    answer = _answer(unprivileged, "hostile", "cells", [cell])
    assert [i for i, _ in answer["cell_errors"]] == [1], answer["cell_errors"]
    assert answer["cell_errors"][0][1].startswith(error), answer["cell_errors"]
    assert answer["output_bytes"] <= LIMITS["max_output_bytes"] + 200
    _assert_honest_graded(answer)


def test_memory_bomb_hits_the_memory_limit(unprivileged):
    answer = _answer(unprivileged, "hostile", "cells", [H.MEMORY_BOMB])
    assert answer["cell_errors"][0][0] == 1 and answer["cell_errors"][0][1].startswith("MemoryError"), answer
    _assert_honest_graded(answer)


@pytest.mark.parametrize("kind", HOLDS)
def test_memory_no_address_space_limit_sees_is_bounded(unprivileged, kind):
    """Without root there is no memory cgroup: the filter refuses memfd and System V segments, and the
    scratch tmpfs are capped, so 3 GB cannot be held past a 768 MB limit."""
    answer = _answer(unprivileged, "hostile", "cells", [H.hold_memory(kind, 3 * 1024)])
    errors = dict(answer["cell_errors"])
    assert 1 in errors, answer["cell_errors"]
    held = re.search(r"held (\d+) MB", errors[1])
    assert (held and int(held.group(1)) <= MEMORY_LIMITS["memory_mb"]) or errors[1].startswith("MemoryError"), errors
    _assert_honest_graded(answer)


def test_no_process_outlives_its_run(unprivileged):
    _assert_honest_graded(_answer(unprivileged, "hostile", "cells", [H.lingering_processes(unprivileged.token)]))
    assert processes_running(unprivileged.token) == []


def test_forged_messages_change_nothing(unprivileged):
    answer = _answer(unprivileged, "hostile", "cells", [H.FORGED_MESSAGES])
    assert answer["cell_errors"] == []
    _assert_honest_graded(answer)


def test_nothing_persists_from_one_run_to_the_next(unprivileged):
    first = _answer(unprivileged, "hostile", "cells", [H.PERSIST])
    report = dict(first["cell_errors"])[1]
    for call in ("add_key", "keyctl", "request_key"):
        assert f"{call}=-1/1" in report, report  # EPERM from the seccomp filter
    second = _answer(unprivileged, "hostile", "cells", [H.FIND_PERSISTED])
    assert dict(second["cell_errors"])[1] == "RuntimeError: found []", second["cell_errors"]
    _assert_honest_graded(first)
    _assert_honest_graded(second)
    assert list(unprivileged.home.iterdir()) == []  # the grader's own $HOME: nothing of the runs


def test_cannot_find_or_read_the_project_or_the_course(unprivileged):
    """As with root, except that a cold start's process 1 (bubblewrap, run by the grader's uid) can be
    read: its environment is the run's own (:func:`test_environment_holds_nothing_of_the_graders`)."""
    found = _answer(unprivileged, "probe", "name", "probe_files")
    assert found["error"] is None and set(found["value"]) <= {"read /proc/1/environ"}, found
    control = _control(unprivileged, "probe_files")  # the probe works: unsandboxed, nobody reads them
    assert f"read {PROJECT_ROOT}/solutions/ch2_gradient_descent.py" in control["value"], control
    assert f"read {unprivileged.course}/gradebook.db" in control["value"], control


def test_cannot_write_outside_its_scratch_folder(unprivileged):
    written = _answer(unprivileged, "probe", "name", "probe_writes")
    assert written["error"] is None, written
    assert all(p.startswith((sandbox.SANDBOX_TMP + "/", "/dev/shm/")) for p in written["value"]), written
    for folder in (unprivileged.course, unprivileged.course / "submitted", PROJECT_ROOT, Path("/dev/shm")):
        assert not (folder / "pwned.txt").exists()


def test_no_network_not_even_the_hosts_loopback(unprivileged):
    reached = _answer(unprivileged, "probe", "name", "probe_network")
    assert reached["error"] is None and reached["value"] == [], reached
    assert f"127.0.0.1:{unprivileged.port}" in _control(unprivileged, "probe_network")["value"]


def test_environment_holds_nothing_of_the_graders(unprivileged):
    """Neither the run's environment nor that of its process 1, bubblewrap, which it can read here."""
    for name in ("probe_environment", "probe_init"):
        answer = _answer(unprivileged, "probe", "name", name)
        if name == "probe_init" and unprivileged.start == "warm":  # the zygote's init is not dumpable
            assert answer["error"].startswith("PermissionError"), answer
            continue
        assert answer["error"] is None, answer
        env = answer["value"]
        assert "PATH" in env and set(env) - {"PWD"} <= set(sandbox._environment(sandbox.SANDBOX_TMP)), env
        assert not any(str(PROJECT_ROOT) in v or str(unprivileged.home) in v for v in env.values()), env


def test_the_only_places_to_write_are_the_capped_scratch_folders(unprivileged):
    """Without root, bwrap's root and /dev are tmpfs the grader's uid owns: they must be read-only."""
    found = _answer(unprivileged, "probe", "name", "probe_writable_mounts")
    assert found["error"] is None and {p for p, *_ in found["value"]} >= {"/tmp", "/dev/shm"}, found
    assert H.unbounded_mounts(found["value"]) == [], found
    assert H.unbounded_mounts(_control(unprivileged, "probe_writable_mounts")["value"])


def test_the_warm_start_suite_holds_as_nobody(tmp_path_factory):
    """``tests/test_warm_start.py`` run whole by ``nobody``: a child reaches neither the zygote nor the
    next run, holds no privilege, and an honest run after a hostile one scores as alone. Its cgroup test
    skips (no cgroup without root), and only it."""
    uid, gid = nobody()
    home = Path(tempfile.mkdtemp(prefix="autograder-unprivileged-"))
    try:
        os.chown(home, uid, gid)
        _reachable(uid, gid, home)
        proc = subprocess.run(_as(uid, gid) + ["-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-q",
                                               "-rs", str(PROJECT_ROOT / "tests" / "test_warm_start.py")],
                              env=_env(home), cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert " failed" not in summary and " error" not in summary and " 1 skipped" in summary, proc.stdout[-3000:]
    assert "no memory cgroup can be made here" in proc.stdout, proc.stdout[-3000:]
