"""Hostile submissions, as code cells a student could put in a notebook, and honest ones to mix in.

Each hostile cell is plain source text, run end to end by :func:`autograder.sandbox.run_submission`
(``tests/test_hostile.py``) or written into a copy of a release notebook (:func:`notebook_with`) and
graded with ``python -m autograder grade``. Probe functions (``probe_*``) return what they managed to
do, so that a test can assert, outside the sandbox, that they managed nothing.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import nbformat

from autograder import sandbox
from autograder.exercises.ch2 import SPECS
from autograder.runtime import compare_observed

#: The ch2 exercises (in chapter order) whose honest answers are mixed with hostile cells: every one.
HONEST_FUNCTIONS = tuple(spec.reference for spec in SPECS)
#: Per exercise: its kind, public arguments and hidden arguments (which enter the process last).
CALLS = {s.id: (s.kind, s.public_args(), s.hidden_args()) for s in SPECS}
EXPECTED = {s.id: [e for _, e in s.expected(s.public_args() + s.hidden_args())] for s in SPECS}
SPEC = {s.id: s for s in SPECS}
#: The sandbox's only writable places and their sizes.
SCRATCH_CAPS = {sandbox.SANDBOX_TMP: sandbox.SCRATCH_BYTES, "/dev/shm": sandbox.SHM_BYTES}


def verdicts(result: sandbox.RunResult, ids=None) -> dict[str, list[bool]]:
    """Per exercise, whether each case matched the reference (compared here, outside the sandbox); an
    exercise with no outcomes at all fails every case."""
    missing = sandbox.CaseOutcome(value=None, error="no outcome")
    return {i: [o.error is None and compare_observed(e, o.value, SPEC[i].kind, SPEC[i].rtol, SPEC[i].atol) is None
                for e, o in zip(EXPECTED[i], result.outcomes.get(i) or [missing] * len(EXPECTED[i]))]
            for i in (ids or CALLS)}
SETUP = """\
from __future__ import annotations
import math
import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
"""


def honest_cells() -> list[str]:
    """One cell per ch2 exercise holding the reference's source: a submission that earns every point."""
    return [inspect.getsource(fn) for fn in HONEST_FUNCTIONS]


def honest_cell(name: str) -> str:
    """The honest answer of one ch2 exercise."""
    return next(inspect.getsource(fn) for fn in HONEST_FUNCTIONS if fn.__name__ == name)


INFINITE_LOOP = "while True:\n    pass\n"
#: Ignores the in-sandbox alarm and swallows every exception: only the grader's kill stops it.
STUBBORN_LOOP = """\
import signal
signal.signal(signal.SIGALRM, signal.SIG_IGN)
while True:
    try:
        pass
    except BaseException:
        pass
"""
MEMORY_BOMB = "hog = []\nwhile True:\n    hog.append(bytearray(256 * 2**20))\n"
HUGE_ALLOCATION = "x = bytearray(2**40)\n"
#: Every process keeps forking, swallowing the errors once the process limit is reached.
FORK_BOMB = """\
import os
while True:
    try:
        os.fork()
    except BaseException:
        pass
"""
OUTPUT_FLOOD = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n"
RAW_OUTPUT_FLOOD = "import os\nwhile True:\n    os.write(1, b'y' * 65536)\n"
KILL_SELF = "import os\nos.kill(os.getpid(), 9)\n"
HARD_EXIT = "import os\nos._exit(0)\n"
SYS_EXIT = "import sys\nsys.exit(3)\n"
SEGFAULT = "import ctypes\nctypes.string_at(0)\n"
SYNTAX_ERROR = "def broken(:\n    pass\n"
IMPORT_REFERENCE = "from solutions.ch2_gradient_descent import calc_preds\n"


def lingering_processes(token: str) -> str:
    """Processes that try to outlive the run, each running ``sleep`` with ``token`` as its argument.

    A daemon in a new session, and forked children that replace themselves with ``sleep``.
    """
    return f"""\
import os, subprocess
subprocess.Popen(["/bin/sleep", "{token}"], start_new_session=True)
for _ in range(8):
    if os.fork() == 0:
        os.setsid()
        os.execv("/bin/sleep", ["sleep", "{token}"])
"""


#: Writes garbage and forged messages to every file descriptor it can find, including the results pipe.
FORGED_MESSAGES = """\
import os
for fd in range(3, 64):
    for junk in (b'garbage\\n', b'{"t": "result", "id": "nope", "k": 0, "value": 1}\\n',
                 b'{"t": "cell_error", "i": "x"}\\n', b'[[[[[[[[[[[[[[[[[[[[\\n', b'\\xff\\xfe\\n'):
        try:
            os.write(fd, junk)
        except OSError:
            pass
"""
#: Wrong answers plus every comparison the grader might use patched to say "equal".
MONKEYPATCH_COMPARISONS = """\
import builtins, math, sys
import numpy as np
import torch

def calc_preds(coeffs, indeps):
    return torch.zeros(indeps.shape[0])

def mae_loss(preds, targets):
    return torch.tensor(123.0)

always = lambda *a, **k: True
torch.allclose = always
torch.equal = always
torch.isclose = lambda a, b, *r, **k: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
math.isclose = always
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = lambda *a, **k: None
for name, module in list(sys.modules.items()):
    if "runtime" in name:
        module.compare = lambda *a, **k: None
        module.compare_observed = lambda *a, **k: None
"""
#: The same wrong answers, with builtins patched too (this breaks the grader's own code in the sandbox).
MONKEYPATCH_BUILTINS = MONKEYPATCH_COMPARISONS + """\
builtins.isinstance = lambda obj, cls: True
builtins.len = lambda obj: 0
builtins.all = builtins.any = always
"""
#: Walks up the call stack and through every object in memory looking for expected values to copy.
FRAME_INSPECTION = """\
import gc, sys
import torch

def calc_preds(coeffs, indeps):
    frame, seen = sys._getframe(), []
    while frame is not None:
        for key, value in list(frame.f_locals.items()):
            seen.append(key)
            if key in ("expected", "cases", "reference"):
                return value
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict) and "expected" in obj:
            return obj["expected"]
    return torch.full((indeps.shape[0],), float(len(seen)))
"""


def probe_files(project_root: str, course_dir: str) -> str:
    """A function ``probe_files()`` that returns every sensitive path it could see or read."""
    return f'''\
import os, sys

def probe_files():
    found = []
    names = {{"solutions", "course", "gradebook.db", "AUTHORING.md", "pyproject.toml", "chapters",
             "ch2_gradient_descent.py", "ch2_gradient_descent.ipynb", "autograder", ".git",
             "exchange", "inbound", "nbgrader"}}
    path = os.getcwd()
    while True:  # walk up from the working folder
        try:
            found += [os.path.join(path, n) for n in os.listdir(path) if n in names]
        except OSError:
            pass
        if path == os.path.dirname(path):
            break
        path = os.path.dirname(path)
    # the Python installation and environment are visible on purpose: skip them (and /proc, /usr)
    public = {{"/proc", "/sys", "/usr", "/dev", sys.prefix, sys.base_prefix}}
    for root, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in public]
        found += [os.path.join(root, n) for n in dirs + files if n in names]
        if len(found) > 50:
            break
    for folder in ("/usr/local/share/nbgrader", "/srv/nbgrader", "/usr/local", "/home", "/opt"):
        if os.path.exists(folder):  # nbgrader's exchange holds every student's submission
            found.append("exists " + folder)
    for target in ({project_root!r} + "/solutions/ch2_gradient_descent.py", {project_root!r} + "/pyproject.toml",
                   {course_dir!r} + "/gradebook.db", {course_dir!r} + "/source/ch2_gradient_descent/ch2_gradient_descent.ipynb",
                   "/proc/1/environ", "/etc/shadow", "/root/.bash_history"):
        try:
            with open(target, "rb") as f:
                f.read(1)
            found.append("read " + target)
        except OSError:
            pass
    return found
'''


def probe_writes(project_root: str, course_dir: str) -> str:
    """A function ``probe_writes()`` that returns every place outside its scratch folder it could write."""
    return f'''\
import os

def probe_writes():
    written = []
    for folder in ({course_dir!r}, {course_dir!r} + "/submitted", {project_root!r}, {project_root!r} + "/course",
                   {project_root!r} + "/.venv", "/", "/usr", "/etc", "/grader", "/root", "/dev/shm", "/work"):
        path = os.path.join(folder, "pwned.txt")
        try:
            os.makedirs(folder, exist_ok=True)
            with open(path, "w") as f:
                f.write("pwned")
            written.append(path)
        except OSError:
            pass
    return written
'''


def probe_network(port: int) -> str:
    """A function ``probe_network()`` that returns every connection it managed to open or name it resolved."""
    return f'''\
import socket

def probe_network():
    reached = []
    for host, port in (("127.0.0.1", {port}), ("8.8.8.8", 53), ("1.1.1.1", 443), ("::1", {port})):
        try:
            s = socket.create_connection((host, port), timeout=2)
            reached.append(f"{{host}}:{{port}}")
            s.close()
        except OSError:
            pass
    try:
        reached.append(socket.gethostbyname("pypi.org"))
    except OSError:
        pass
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"x", ("8.8.8.8", 53))
        reached.append("udp 8.8.8.8:53")
    except OSError:
        pass
    return reached
'''


PROBE_ENVIRONMENT = "import os\n\ndef probe_environment():\n    return dict(os.environ)\n"


def notebook_with(release: Path, solutions: dict[str, str], extra_cells: list[tuple[str, str]] = ()) -> nbformat.NotebookNode:
    """A copy of a release notebook with ``solutions`` (grade_id -> source) filled in.

    ``extra_cells`` are ``(after_grade_id, source)``: new code cells a student added after that cell.
    """
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
    for after, source in extra_cells:
        index = next(i for i, c in enumerate(nb.cells)
                     if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == after)
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return nb

#: Looks through the whole process's memory for tensors (hidden cases' arguments would be some) and
#: reports their shapes in an error message, the one channel a cell has back to the student.
MEMORY_SNOOP = """\
import gc, torch
shapes = set()
for obj in gc.get_objects():
    items = obj if isinstance(obj, (list, tuple)) else obj.values() if isinstance(obj, dict) else ()
    for item in list(items):
        if isinstance(item, torch.Tensor):
            shapes.add(tuple(item.shape))
raise RuntimeError(f"tensors in memory: {sorted(shapes)}")
"""


# ----------------------------------------------------------------------- issue 15: secrecy and channels

#: Walks every frame and every object in memory for tensors (the hidden cases' arguments would be
#: some) and raises, in the middle of a *public* check, with their shapes: a public check's message is
#: shown verbatim, so it must not be able to carry the hidden inputs.
PUBLIC_CHECK_SNOOP = """\
import gc, sys, torch

def calc_preds(coeffs, indeps):
    shapes = set()
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            for item in (value if isinstance(value, (list, tuple)) else [value]):
                if isinstance(item, torch.Tensor):
                    shapes.add(tuple(item.shape))
        frame = frame.f_back
    for obj in gc.get_objects():
        items = obj if isinstance(obj, (list, tuple)) else obj.values() if isinstance(obj, dict) else ()
        for item in list(items):
            if isinstance(item, torch.Tensor):
                shapes.add(tuple(item.shape))
            elif isinstance(item, dict) and item.get("$") == "tensor":  # an encoded argument, not yet decoded
                shapes.add(tuple(item.get("shape", ())))
    raise RuntimeError(f"seen in memory: {sorted(map(str, shapes))}")
"""

#: Forges the runner's "public cases done" message on every descriptor, then reads whatever the grader
#: sends next from every descriptor it can, and raises with it.
FORGED_PUBLIC_DONE = """\
import os, time
for fd in range(3, 64):
    for junk in (b'{"t": "public_done"}\\n', b'{"t": "cells_done"}\\n'):
        try:
            os.write(fd, junk)
        except OSError:
            pass
stolen = b""
deadline = time.monotonic() + 1.5
while time.monotonic() < deadline:
    for fd in range(3, 64):
        try:
            os.set_blocking(fd, False)
            stolen += os.read(fd, 1 << 20)
        except OSError:
            pass
    time.sleep(0.05)
print("stolen:", stolen[:5000])
raise RuntimeError(f"stolen from the job channel: {stolen[:5000]!r}")
"""

#: A thread that outlives the cells, waits for new tensors to appear (the hidden arguments), and then
#: reports them every way it can: printed output, forged cell errors on every descriptor, exceptions.
LATE_REPORTER = """\
import gc, json, os, threading, time, torch

def _tensors():
    return {tuple(o.shape) for o in gc.get_objects() if isinstance(o, torch.Tensor)}

_before = _tensors()

def _watch():
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new = _tensors() - _before
        if new:
            text = f"LEAK {sorted(new)}"
            print(text, flush=True)
            msg = json.dumps({"t": "cell_error", "i": 1, "error": "ValueError: " + text}).encode() + b"\\n"
            for fd in range(3, 64):
                try:
                    os.write(fd, msg)
                except OSError:
                    pass
        time.sleep(0.005)

threading.Thread(target=_watch, daemon=True).start()
"""

#: During a hidden case, encode the inputs in the *name* of the exception raised, and in a value of a
#: type the wire refuses (whose name would appear in the refusal).
SECRET_IN_NAMES = """\
import torch

def mae_loss(preds, targets):
    name = "Leak_" + "_".join(str(n) for n in preds.shape)
    raise type(name, (Exception,), {})(f"inputs {preds.tolist()}")

def accuracy(*args):
    name = "Leak_" + "_".join(str(n) for n in args[0].shape)
    return type(name, (), {})()
"""


def exception_in_message(text: str) -> str:
    """A public check that fails with ``text`` as its message (for terminal escapes)."""
    return f"def calc_preds(coeffs, indeps):\n    raise ValueError({text!r})\n"


# ------------------------------------------------------------------------ issue 15: memory and leftovers

def hold_memory(kind: str, total_mb: int) -> str:
    """A cell that tries to hold ``total_mb`` MB of one kind of memory no address-space limit sees,
    then raises ``RuntimeError("held N MB")`` with what it managed (or the error that stopped it)."""
    return f"""\
import ctypes, mmap, os
CHUNK = 32 * 2**20
held, keep = 0, []
kind, total = {kind!r}, {total_mb} * 2**20
try:
    if kind == "memfd":  # one file per chunk: no single file reaches the file-size limit
        while held < total:
            fd = os.memfd_create("hog")
            keep.append(fd)
            os.write(fd, b"x" * CHUNK)
            held += CHUNK
    elif kind == "sysv":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmat.restype = ctypes.c_void_p
        while held < total:
            sid = libc.shmget(0, CHUNK, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
            if sid < 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            addr = libc.shmat(sid, None, 0)
            ctypes.memset(addr, 1, CHUNK)
            libc.shmdt(ctypes.c_void_p(addr))  # detached: no process maps it any more
            held += CHUNK
    else:  # files in a memory file system: "/dev/shm" or "/tmp"
        i = 0
        while held < total:
            with open(os.path.join(kind, f"hog{{i}}"), "wb") as f:
                for _ in range(CHUNK // 2**20):
                    f.write(b"x" * 2**20)
            held += CHUNK
            i += 1
except BaseException as err:
    raise RuntimeError(f"held {{held // 2**20}} MB ({{type(err).__name__}}: {{err}})")
raise RuntimeError(f"held {{held // 2**20}} MB")
"""


#: Tries to keep something on the host that a later run could find: a key in the kernel keyring (its
#: uid's), files in /tmp, $HOME and /dev/shm, System V IPC objects, an abstract socket.
PERSIST = """\
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
report = []
for number, name in ((248, "add_key"), (250, "keyctl"), (249, "request_key")):
    if name == "add_key":
        r = libc.syscall(number, b"user", b"autograder-persist", b"secret", 6, ctypes.c_int(-4))  # user keyring
    elif name == "keyctl":
        r = libc.syscall(number, 0, ctypes.c_int(-4), 0)  # KEYCTL_GET_KEYRING_ID
    else:
        r = libc.syscall(number, b"user", b"autograder-persist", None, 0)
    report.append(f"{name}={r}/{ctypes.get_errno()}")
for path in ("/tmp/persist.txt", os.path.expanduser("~/persist.txt"), "/dev/shm/persist"):
    try:
        with open(path, "w") as f:
            f.write("x")
        report.append("wrote " + path)
    except OSError:
        pass
report.append(f"msgget={libc.msgget(0x5eed, 0o1666)}")
try:
    s = socket.socket(socket.AF_UNIX)
    s.bind("\\0autograder-persist")
    s.listen()
    report.append("socket bound")
except OSError:
    pass
raise RuntimeError("; ".join(report))
"""

#: Looks for what PERSIST may have left: any key, file, IPC object or abstract socket.
FIND_PERSISTED = """\
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
found = []
for path in ("/tmp/persist.txt", os.path.expanduser("~/persist.txt"), "/dev/shm/persist"):
    if os.path.exists(path):
        found.append(path)
if libc.msgget(0x5eed, 0) >= 0:
    found.append("msg queue")
if libc.syscall(249, b"user", b"autograder-persist", None, 0) >= 0:
    found.append("key")
try:
    s = socket.socket(socket.AF_UNIX)
    s.connect("\\0autograder-persist")
    found.append("socket")
except OSError:
    pass
raise RuntimeError(f"found {found}")
"""

#: The other calls of Docker's deny list: each must fail with EPERM (ENOSYS for clone3).
DENIED_CALLS = """\
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
out = {}
for name, number, args in (("unshare", 272, (0x10000000,)), ("setns", 308, (0, 0)), ("mount", 165, (b"none", b"/tmp", b"tmpfs", 0, None)),
                           ("ptrace", 101, (16, 1, 0, 0)), ("bpf", 321, (0, 0, 0)), ("perf_event_open", 298, (0, 0, -1, -1, 0)),
                           ("userfaultfd", 323, (0,)), ("kexec_load", 246, (0, 0, 0, 0)), ("io_uring_setup", 425, (1, 0)),
                           ("clone3", 435, (0, 0)), ("keyctl", 250, (0, -4, 0))):
    ctypes.set_errno(0)
    r = libc.syscall(number, *args)
    out[name] = ctypes.get_errno() if r < 0 else "allowed"
raise RuntimeError(repr(sorted(out.items())))
"""


#: Writes one huge results line meant to blow up the grader's JSON parser: ``shape`` is "wide" (tens
#: of millions of tiny values), "deep" (nesting) or "long" (one huge string); ``megabytes`` its size.
def parser_bomb(shape: str, megabytes: int) -> str:
    return f"""\
import os
n = {megabytes} * 2**20
line = {{"wide": b"[" + b"[]," * (n // 3) + b"[]]", "deep": b"[" * n, "long": b'"' + b"x" * n + b'"'}}[{shape!r}]
for fd in range(3, 64):
    try:
        os.set_blocking(fd, True)
        os.write(fd, b'{{"t": "case", "id": "calc_preds", "k": 0}}\\n' + line + b"\\n")
    except OSError:
        pass
"""


#: Every mount the run can write to: (mount point, file system type, mount options, super options), from
#: /proc/self/mountinfo. Only the size-capped scratch tmpfs may be there (and /proc's kind of files).
PROBE_WRITABLE_MOUNTS = """\
def probe_writable_mounts():
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            rest = fields[fields.index("-") + 1:]
            point, options, fstype, super_options = fields[4], fields[5], rest[0], rest[2]
            if "rw" in options.split(",") and "rw" in super_options.split(","):
                found.append([point, fstype, options, super_options])
    return found
"""

#: The device nodes bwrap's /dev holds: writable, but no file can be made on them.
DEVICE_NODES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")


def unbounded_mounts(found: list, caps: dict[str, int] = SCRATCH_CAPS) -> list:
    """Those of :data:`PROBE_WRITABLE_MOUNTS`'s findings that are not a scratch tmpfs capped at most at
    ``caps[mount point]`` bytes, /proc, the pseudo-terminals or a device node."""
    bad = []
    for point, fstype, _, super_options in found:
        sizes = [o.removeprefix("size=") for o in super_options.split(",") if o.startswith("size=")]
        if fstype == "tmpfs" and point in caps and sizes and sizes[0].endswith("k"):
            if int(sizes[0][:-1]) * 1024 <= caps[point]:
                continue
        elif (point, fstype) in (("/proc", "proc"), ("/dev/pts", "devpts")) or point in DEVICE_NODES:
            continue
        bad.append([point, fstype, super_options])
    return bad
