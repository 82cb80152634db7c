"""Run one untrusted submission in a fresh, sandboxed process and bring back its outputs as data.

:func:`run_submission` executes a submission's code cells in order in a new Python process
(IPython's ``InteractiveShell``, so magics and ``from __future__`` behave as in a notebook), then
calls the named exercise functions on the given arguments with :func:`autograder.runtime.observe`
and sends what they returned back as data (:mod:`autograder.wire`: JSON, never pickle). The verdict
is never decided in that process: the caller compares the outcomes with the reference's outputs.

The sandbox (``sandbox="auto"`` or ``"bwrap"``) is bubblewrap: the process sees read-only binds of
the system's ``/usr`` and libraries, a few ``/etc`` files, the Python installation and the virtual
environment, and nothing of the project, the course folder or the gradebook; it writes only to a
private, size-capped tmpfs ``/tmp`` (its scratch folder is ``/tmp/work``) and ``/dev/shm``, everything
else being read-only, bwrap's own root and ``/dev`` included; it has no network (a
network namespace of its own: its own empty loopback, nothing of the host's, no route out), its own
PID, IPC and UTS namespaces and session, and dies with the grader. Run as root, bwrap does not create
a user namespace (root mapped to root would be exempt from the process limit); instead the sandboxed
program drops to an unprivileged uid of its own per job with ``setpriv``, so ``RLIMIT_NPROC`` counts
only that job's processes. A seccomp filter like Docker's default (:mod:`autograder.seccomp`) is
installed by bwrap before the runner starts, and where the machine allows it each run gets a memory
cgroup of its own (:mod:`autograder.cgroups`) that counts every kind of memory and through which all
its processes are killed at the end. Limits (:class:`Limits`):
memory (``RLIMIT_AS``), processes (``RLIMIT_NPROC``), file size (``RLIMIT_FSIZE``), CPU time
(``RLIMIT_CPU``), and wall-clock time per cell/call and per submission, enforced by this process,
which kills the whole sandbox; this process also sums the memory of all the sandbox's processes twice
a second and kills it above the limit (a fork bomb's copies add up where ``RLIMIT_AS`` sees one).
Output on stdout/stderr is kept up to a byte cap, the rest dropped; results come back on a pipe of
their own, never on stdout, one JSON line each, every line size-capped and parsed with its number of
values bounded first (:func:`autograder.safe_io.loads_bounded`).

Secrets last: the hidden cases' arguments are written into the process only after it reported its
public results, and from that moment (the grader's own flag, not a message) everything it sends is
reduced to its kind (:func:`reduce_error`, ``CaseOutcome.secret``) and its output is no longer kept.
See ``docs/DESIGN.md``, "Sandbox and protocol", for why that holds although the student's code can
forge any message.

Warm start (the default, with or without root): a run does not start Python. A zygote per
grading process (:mod:`autograder.zygote`, started on first use under bubblewrap as above, kept for
every later run) has imported torch, numpy, pandas and IPython once and forks one child per run, which
unshares new mount, PID, IPC, network and UTS namespaces, mounts a fresh ``/tmp``, ``/dev/shm`` and
``/proc``, joins the run's memory cgroup, drops to the run's uid (as root; without root it keeps the
grader's, as a cold start does) and installs the seccomp filter before any student code runs
(:class:`_Warm`). The zygote never holds a submission's cells or inputs, and it is replaced when it
died or something traces it. ``AUTOGRADER_COLD_START=1`` turns it off (:func:`warm_start_enabled`).
Measured here (2 cores, torch 2.13 CPU, ``benchmarks/warm_start.py``): a cold start costs what
starting Python and importing torch, pandas and IPython cost (about 1.2 s; bwrap adds under 0.1 s), a
warm one a fork and the namespaces (about 0.06 s).

A cell or a call that kills the process (``os._exit``, a segfault, a time limit) is recorded as that
cell's or case's error and the submission is replayed in a new process without it, a few times at
most, so that one hostile cell does not cost the honest functions their marks.

``sandbox="none"`` runs the same program without any isolation (only the resource limits): for
trusted work only; the command line exposes it as ``--unsandboxed``.
"""

from __future__ import annotations

import array
import atexit
import builtins
import contextlib
import functools
import itertools
import re
import json
import os
import select
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import cgroups, seccomp, wire
from autograder.limits import (SANDBOX_LIB, SANDBOX_WORK, Limits, SandboxUnavailable, bwrap_path,
                               resolve_sandbox)
from autograder.runtime import KINDS
from autograder.safe_io import BadJSON, loads_bounded

HERE = Path(__file__).resolve().parent
#: Files the sandboxed program needs; they are bound read-only into the sandbox, nothing else of ours.
RUNNER_FILES = ("_runner.py", "runtime.py", "wire.py", "zygote.py")
SANDBOX_TMP = "/tmp"
#: Size of the sandbox's private tmpfs (its only writable place).
SCRATCH_BYTES = 128 * 1024 * 1024
#: Size of its POSIX shared memory folder ``/dev/shm`` (a tmpfs of its own).
SHM_BYTES = 64 * 1024 * 1024
#: Largest file the submission may write (RLIMIT_FSIZE).
FILE_SIZE_BYTES = 64 * 1024 * 1024
MAX_OPEN_FILES = 1024
#: What the sandbox sees of the system, read-only, when present (top-level symlinks stay symlinks):
#: programs, libraries, time zones, the dynamic linker's cache. Not /usr/local, /usr/share, /srv,
#: /home, /opt or the rest of /etc: nbgrader's exchange (other students' submissions) lives in
#: /usr/local/share/nbgrader/exchange by default (see autograder/nbgrader_config.py).
SYSTEM_PATHS = ("/usr/bin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32", "/usr/share/zoneinfo",
                "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/nsswitch.conf")
#: Prefixes a system's Python shares with everything else installed: never bound whole.
SYSTEM_PREFIXES = ("/", "/usr", "/usr/local")
#: Folders hidden under an empty tmpfs should a bound folder contain them (nbgrader exchanges).
MASKED_PATHS = ("/usr/local/share/nbgrader", "/srv/nbgrader")
#: Seconds past a cell's or call's limit before this process kills the sandbox (the sandbox first
#: raises ``TimeLimitExceeded`` in the student's code itself, which lets the next cells run).
HARD_GRACE = 2.0
#: Seconds the sandboxed program may take to start (Python, torch and IPython imports).
STARTUP_TIMEOUT = 60.0
#: Processes started for one submission at most: the first run and its replays.
MAX_ATTEMPTS = 5
#: Cap on all result messages of one run, and on one value's array data.
RESULT_BYTES_CAP = 256 * 1024 * 1024
VALUE_BYTES_CAP = wire.MAX_BYTES
#: Longest result message accepted (base64 makes array data a third bigger).
MAX_MESSAGE_BYTES = VALUE_BYTES_CAP * 3 // 2 + 1_000_000
#: Values and nesting one result message may hold (a wire value nests two JSON levels a level).
MAX_MESSAGE_ITEMS = wire.MAX_ITEMS + 10_000
MAX_MESSAGE_DEPTH = 2 * wire.MAX_DEPTH + 8
TOO_BIG = "returned more array data than the grader accepts"
REFUSED = "sent a result the grader does not accept"
RESULTS_OVERFLOW = "the process sent more result data than the grader accepts"
#: Exception names a message sent after the hidden inputs may keep: the built-in ones and the
#: sandbox's own. A type defined in the submission could carry hidden inputs in its name.
SAFE_EXCEPTION_NAMES = frozenset(
    name for name, obj in vars(builtins).items() if isinstance(obj, type) and issubclass(obj, BaseException)
) | {"TimeLimitExceeded", "ProcessDied"}
#: What a value or error that cannot be shown becomes once the hidden inputs are in the process.
UNNAMED_ERROR = "an exception (type not shown)"
NOT_ACCEPTED = "returned a value the grader does not accept"
MAX_ERROR_CHARS = 1000
#: How often (seconds) this process measures the memory of all the sandbox's processes together.
MEMORY_CHECK_INTERVAL = 0.5
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
#: Unprivileged uids for sandboxes started by root: one per job, so process limits do not add up. Each
#: grading process has a block of :data:`UIDS_PER_PROCESS` (its pid modulo :data:`UID_BLOCKS` picks it),
#: above :data:`UID_BASE`, or above every account and subordinate-id range of the machine if they reach
#: higher (:func:`uid_base`): a user whose own uid, or whose range in /etc/subuid (which lets them map
#: it in a user namespace of theirs), were a run's could signal that run.
UID_BASE = 1_000_000
UIDS_PER_PROCESS = 64
UID_BLOCKS = 4_194_304
#: Sandbox uids stay below this (2**31: some tools take a uid for a signed number).
UID_LIMIT = 2**31

@dataclass
class CaseOutcome:
    """One case's observed output (``value``), or why there is none (``error``).

    ``secret`` is true when it arrived after the hidden inputs entered the process: then ``error`` is
    already reduced to a kind (:func:`reduce_error`) and nothing about it may be shown but its kind.
    """

    value: Any | None
    error: str | None
    secret: bool = False


@dataclass
class RunResult:
    """What one submission's run gave: outcomes per exercise id, in the order of the cases."""

    outcomes: dict[str, list[CaseOutcome]]
    #: ``(cell index, "ExceptionType: message")`` for each cell that raised, in cell order.
    cell_errors: list[tuple[int, str]]
    #: Why the run ended abnormally (the process died and could not be replayed, or a time limit
    #: of the whole submission); ``None`` for a complete run. What was returned before is kept.
    fatal: str | None
    seconds: float
    #: The run's stdout and stderr, cut at ``Limits.max_output_bytes``.
    output: str = field(default="", repr=False)


# ------------------------------------------------------------------------------------ the sandbox

@functools.lru_cache(maxsize=1)
def _python_paths() -> tuple[str, ...]:
    """The folders the sandboxed Python needs, read-only: the environment, and its installation: the
    whole prefix of a Python of its own (pyenv, conda, uv), but of a system Python (prefix ``/usr``,
    with ``/usr/local``, ``/usr/src`` and the rest) only the standard library, the shared ``libpython``
    and the interpreter's folder. The same for the life of the process (every warm run asks): kept."""
    import site
    import sysconfig

    wanted = {sys.prefix, *site.getsitepackages(), sysconfig.get_path("purelib"), sysconfig.get_path("stdlib"),
              sysconfig.get_path("platstdlib"), os.path.dirname(os.path.realpath(sys.executable)),
              os.path.dirname(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))}
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        wanted.add(sysconfig.get_config_var("LIBDIR"))
    if os.path.realpath(sys.base_prefix) not in SYSTEM_PREFIXES:
        wanted.add(sys.base_prefix)
    paths = sorted({os.path.realpath(p) for p in wanted if p and os.path.isdir(p)})
    # drop folders inside another one, or inside what the sandbox sees of the system anyway
    keep = [p for p in paths if not any(p != q and _inside(p, q) for q in paths)]
    return tuple(p for p in keep if not any(_inside(p, s) for s in SYSTEM_PATHS))


def _check_exposure(paths: tuple[str, ...]) -> None:
    """Refuse to sandbox if a bound folder would expose the project (solutions, course, gradebook)."""
    from solutions.paths import PROJECT_ROOT

    root = os.path.realpath(PROJECT_ROOT)
    for p in [*paths, *SYSTEM_PATHS]:
        if _inside(root, p):
            raise SandboxUnavailable(
                f"the Python environment folder {p} contains the project folder {root}; the sandbox "
                f"would expose the solutions and the course. Use a virtual environment or Python "
                f"installation outside the project (a .venv inside it is fine).")


_uid_counter = itertools.count()
_uid_lock = threading.Lock()


def uid_base(subordinate_ranges: list[str], ids: list[int]) -> int | None:
    """The first sandbox uid: :data:`UID_BASE`, or just above the highest of ``ids`` (the machine's
    accounts and groups) and of the ranges in ``subordinate_ranges`` (texts of /etc/subuid and
    /etc/subgid, ``name:start:count`` lines) if higher. ``None`` if the sandboxes' uids would then not fit
    below :data:`UID_LIMIT`. Ids at the top of the uid space (an ``nfsnobody`` of 2**32-2) are not
    ranges to step over."""
    span = UID_BLOCKS * UIDS_PER_PROCESS
    top = UID_BASE
    for text in subordinate_ranges:
        for line in text.splitlines():
            fields = line.strip().split(":")
            if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                top = max(top, int(fields[1]) + int(fields[2]))
    top = max([top] + [i + 1 for i in ids if i < UID_LIMIT])
    return top if top + span <= UID_LIMIT else None


@functools.lru_cache(maxsize=1)
def _machine_uid_base() -> int:
    """:func:`uid_base` of this machine (local accounts, groups, /etc/subuid and /etc/subgid), once per process;
    :data:`UID_BASE`, with a warning, if the sandboxes' uids cannot be kept clear of them."""
    import grp
    import pwd

    texts = []
    for name in ("/etc/subuid", "/etc/subgid"):
        try:
            texts.append(Path(name).read_text(errors="replace"))
        except OSError:
            pass
    ids = [u.pw_uid for u in pwd.getpwall()] + [g.gr_gid for g in grp.getgrall()]
    base = uid_base(texts, ids)
    if base is None:
        print(f"autograder: warning: this machine's accounts or subordinate-id ranges reach too high to keep "
              f"the sandboxes' uids clear of them; using {UID_BASE} and up", file=sys.stderr)
        return UID_BASE
    return base


def process_uids() -> range:
    """The uids this process's sandboxes run as (when started by root)."""
    first = _machine_uid_base() + (os.getpid() % UID_BLOCKS) * UIDS_PER_PROCESS
    return range(first, first + UIDS_PER_PROCESS)


def _job_uid() -> int:
    """An unprivileged uid no other live sandbox of this machine's graders uses, nor any account of it."""
    with _uid_lock:
        n = next(_uid_counter) % UIDS_PER_PROCESS
    return process_uids()[n]


def _bwrap_argv(result_fd: int, seccomp_fd: int | None, zygote_fd: int | None = None) -> list[str]:
    """The bubblewrap command line that starts the runner; see the module docstring.

    ``seccomp_fd`` is a descriptor bubblewrap reads the compiled system-call filter from. With
    ``zygote_fd`` (a control socket), it starts a warm start's zygote instead: no uid drop (as root each
    child drops to its own), and the capabilities it needs to make each child's namespaces.
    """
    paths = _python_paths()
    _check_exposure(paths)
    root = os.geteuid() == 0
    argv = [bwrap_path() or "bwrap", "--die-with-parent", "--new-session"]
    if root:  # no user namespace: root mapped to root would escape RLIMIT_NPROC; setpriv drops below
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                 "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:  # a user namespace of its own, where the grader's uid is the only one
        argv += ["--unshare-all"]
    if zygote_fd is not None:  # to make each child's namespaces and drop its capabilities (in that namespace)
        argv += ["--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP"]
    # The private /tmp comes first: binds made after it sit on top of it, so an environment that
    # lives under /tmp (a clone in /tmp, say) is still seen instead of being hidden by the tmpfs.
    argv += ["--perms", "1777", "--size", str(SCRATCH_BYTES), "--tmpfs", SANDBOX_TMP]
    made: set[str] = {SANDBOX_TMP}

    def ro_bind(path: str) -> None:
        # folders bwrap creates on the way would copy the host's modes (/root is 0700): make them 0755
        for parent in _ancestors(path):
            if parent not in made:
                made.add(parent)
                argv.extend(("--perms", "0755", "--dir", parent))
        argv.extend(("--ro-bind", path, path))

    for system_path in SYSTEM_PATHS:
        if os.path.islink(system_path):
            argv.extend(("--symlink", os.readlink(system_path), system_path))
        elif os.path.exists(system_path):
            ro_bind(system_path)
    for p in paths:
        ro_bind(p)
    bound = [*SYSTEM_PATHS, *paths]
    for hidden in MASKED_PATHS:  # in case a bound folder holds one: an empty tmpfs over it
        if os.path.isdir(hidden) and any(_inside(hidden, b) for b in bound):
            argv.extend(("--tmpfs", hidden))
    argv += ["--perms", "0755", "--dir", SANDBOX_LIB]
    for name in RUNNER_FILES:
        argv += ["--ro-bind", str(HERE / name), f"{SANDBOX_LIB}/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm",
             "--perms", "0777", "--dir", SANDBOX_WORK, "--chdir", SANDBOX_WORK,
             # the root and /dev that bwrap builds are tmpfs without a size cap, owned by the grader's uid in
             # the user namespace used without root: read-only, or a run could fill the machine's memory
             # through them (the device nodes in /dev stay usable; /tmp and /dev/shm are mounts of their own)
             "--remount-ro", "/dev", "--remount-ro", "/"]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    argv += ["--"]
    if zygote_fd is not None:
        return argv + [sys.executable, "-I", f"{SANDBOX_LIB}/zygote.py", str(zygote_fd)]
    if root:
        uid = str(_job_uid())
        argv += ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--"]
    return argv + [sys.executable, "-I", f"{SANDBOX_LIB}/_runner.py", str(result_fd)]


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or inside it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _ancestors(path: str) -> list[str]:
    """``/a/b/c`` -> ``["/a", "/a/b"]``."""
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _environment(home: str) -> dict[str, str]:
    """The sandboxed program's whole environment: nothing of the grader's."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8",
            "IPYTHONDIR": f"{home}/.ipython", "MPLCONFIGDIR": f"{home}/.matplotlib", "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2", "TMPDIR": home}


def _rlimits(limits: Limits, mode: str) -> dict[str, int]:
    """The resource limits the runner sets on itself before any student code runs."""
    out = {"RLIMIT_AS": limits.memory_mb * 1024 * 1024, "RLIMIT_FSIZE": FILE_SIZE_BYTES,
           "RLIMIT_CPU": int(limits.total_timeout) + 10, "RLIMIT_CORE": 0,
           "RLIMIT_NOFILE": MAX_OPEN_FILES}
    if mode == "bwrap":  # unsandboxed, it would count all of the user's processes
        out["RLIMIT_NPROC"] = limits.max_processes
    return out


# ------------------------------------------------------------------------------------ one process

class _Output:
    """The run's stdout/stderr, kept up to a byte cap."""

    def __init__(self, cap: int) -> None:
        self.cap, self.data, self.dropped, self.closed = cap, bytearray(), 0, False

    def close(self, note: str) -> None:
        """Keep nothing more from now on; ``note`` says so where the output stops."""
        if not self.closed:
            self.feed(f"\n{note}\n".encode())
            self.closed = True

    def feed(self, chunk: bytes) -> None:
        if self.closed:
            return
        room = self.cap - len(self.data)
        self.data += chunk[:max(room, 0)]
        self.dropped += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        return text + (f"\n[... {self.dropped} more bytes of output cut]" if self.dropped else "")


class _Lines:
    """Splits the results stream into lines; a line longer than ``cap`` is dropped (given as ``None``)."""

    def __init__(self, cap: int) -> None:
        self.cap, self.parts, self.size, self.dropping = cap, [], 0, False

    def feed(self, chunk: bytes) -> list[bytes | None]:
        out: list[bytes | None] = []
        *complete, rest = chunk.split(b"\n")
        for piece in complete:
            if not self.dropping:
                out.append(b"".join([*self.parts, piece]))
            self.parts, self.size, self.dropping = [], 0, False
        if not self.dropping:
            self.parts.append(rest)
            self.size += len(rest)
            if self.size > self.cap:
                out.append(None)
                self.parts, self.size, self.dropping = [], 0, True
        return out


_ERROR_NAME = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(?::|$)")


#: What replaces a run's output from the moment its hidden cases start.
HIDDEN_OUTPUT_CUT = "[output after the hidden checks started is not kept]"


def reduce_error(error: str) -> str:
    """What may be shown of an error reported after the hidden inputs entered the process: a
    built-in exception's name, or a fixed phrase; never its text."""
    m = _ERROR_NAME.match(error.strip().splitlines()[-1] if error.strip() else "")
    if m is None:
        return NOT_ACCEPTED
    name = m.group(1).rsplit(".", 1)[-1]
    return name if name in SAFE_EXCEPTION_NAMES else UNNAMED_ERROR


class _Progress:
    """What the runner has reported so far, validated: nothing it sends is trusted.

    ``secret`` is the grader's own state, never a message: it turns true just before the grader
    writes the hidden inputs into the process, and from then on every message is reduced to its kind.
    """

    def __init__(self, n_cells: int, n_cases: dict[str, int]) -> None:
        self.n_cells, self.n_cases = n_cells, n_cases
        self.cell_errors: dict[int, str] = {}
        self.results: dict[tuple[str, int], CaseOutcome] = {}
        self.current: tuple | None = None
        self.ready = self.done = self.public_done = self.secret = False

    def start_attempt(self) -> None:
        """A new process: nothing of the last one's state holds for it."""
        self.current, self.ready, self.done, self.public_done, self.secret = None, False, False, False, False

    def _case(self, msg: dict) -> tuple[str, int] | None:
        ex_id, k = msg.get("id"), msg.get("k")
        if type(ex_id) is str and type(k) is int and 0 <= k < self.n_cases.get(ex_id, 0):
            return ex_id, k
        return None

    def refuse(self, why: str) -> None:
        """The message of the current case's result could not be accepted: that case fails with ``why``."""
        if self.current and self.current[0] == "case":
            self.results.setdefault(self.current[1:], CaseOutcome(None, why, self.secret))

    def _error(self, text: str) -> str:
        return reduce_error(text) if self.secret else text[:MAX_ERROR_CHARS]

    def handle(self, line: bytes) -> bool:
        """Take one message; return whether a new cell or case started (which restarts its clock)."""
        try:
            msg = loads_bounded(line, MAX_MESSAGE_BYTES, MAX_MESSAGE_ITEMS, MAX_MESSAGE_DEPTH)
        except BadJSON as err:
            self.refuse(f"{REFUSED} ({err})" if not self.secret else NOT_ACCEPTED)
            return False
        if type(msg) is not dict:
            return False
        kind = msg.get("t")
        if kind == "ready":
            self.ready = True
            return True
        if kind == "done":
            self.done = True
            return False
        if kind == "public_done":
            self.public_done, self.current = True, None
            return True
        if kind in ("cell", "cell_error"):
            i = msg.get("i")
            if type(i) is not int or not 0 <= i < self.n_cells:
                return False
            if kind == "cell":
                self.current = ("cell", i)
                return True
            if type(msg.get("error")) is str:
                self.cell_errors.setdefault(i, self._error(msg["error"]))
            return False
        case = self._case(msg)
        if case is None:
            return False
        if kind == "case":
            self.current = ("case", *case)
            return True
        if kind == "result" and case not in self.results:
            if type(msg.get("error")) is str and "value" not in msg:
                self.results[case] = CaseOutcome(None, self._error(msg["error"]), self.secret)
            elif "value" in msg and "error" not in msg:
                try:
                    self.results[case] = CaseOutcome(wire.decode(msg["value"], VALUE_BYTES_CAP), None, self.secret)
                except wire.WireError as err:
                    self.results[case] = CaseOutcome(None, self._error(str(err)) if self.secret
                                                     else str(err)[:MAX_ERROR_CHARS], self.secret)
        return False


def _process_tree(root_pid: int, skip: int = 0) -> dict[int, int]:
    """``root_pid`` and all its descendants, each with its private resident memory in bytes.

    Read from ``/proc``. Orphans inside the sandbox are re-parented to its PID namespace's init,
    itself a descendant of bwrap, so this sees every process of the sandbox. Anonymous pages shared
    after a fork are counted in each process: a fork bomb looks as big as it would become.
    ``skip`` leaves out the top levels (a warm run's keeper and init: copies of the zygote that
    only wait, whose pages are the zygote's) while still walking below them.
    """
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{entry.name}/statm", "rb") as f:
                statm = f.read().split()
        except OSError:  # ended meanwhile
            continue
        pid, ppid = int(entry.name), int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = max(int(statm[1]) - int(statm[2]), 0) * PAGE_SIZE
    tree, seen, todo = {}, set(), [(root_pid, 0)]
    while todo:
        pid, depth = todo.pop()
        if pid in rss and pid not in seen:
            seen.add(pid)
            if depth >= skip:
                tree[pid] = rss[pid]
            todo.extend((child, depth + 1) for child in children.get(pid, ()))
    return tree


def _signal_name(status: int) -> str:
    try:
        return signal.Signals(status).name
    except ValueError:
        return f"signal {status}"


def _attempt(mode: str, env: dict[str, str], cwd: str, public_job: bytes, hidden_job: Callable[[], bytes],
             limits: Limits, deadline: float, progress: _Progress, output: _Output) -> str | None:
    """Run the runner once; return ``None`` if it finished, else why it stopped.

    The job goes in two parts (see :mod:`autograder._runner`): the cells with the public cases, then,
    once the runner says the public cases are done, the hidden cases. What starts the second part is
    a message the student's code could forge; it gains nothing by it, because ``progress.secret``
    turns true before the hidden inputs are written, and everything read after that is reduced to
    its kind. The process is a warm zygote's fresh child where that is possible (:class:`_Warm`),
    else a cold start (:class:`_Cold`); the protocol and the limits are the same.
    """
    progress.start_attempt()
    group = cgroups.create(limits.memory_mb * 1024 * 1024) if mode == "bwrap" else None
    try:
        handle = _start(mode, env, cwd, group)
    except BaseException:
        if group is not None:
            group.remove()
        raise

    writers = [threading.Thread(target=handle.write_job, args=(public_job + b"\n", False), daemon=True)]
    writers[0].start()
    sel = selectors.DefaultSelector()
    sel.register(handle.out_fd, selectors.EVENT_READ, "out")
    sel.register(handle.res_fd, selectors.EVENT_READ, "res")
    lines, received = _Lines(MAX_MESSAGE_BYTES), 0
    phase_end = min(deadline, time.monotonic() + STARTUP_TIMEOUT)
    next_check, max_memory = time.monotonic() + MEMORY_CHECK_INTERVAL, limits.memory_mb * 1024 * 1024
    reason: str | None = None
    try:
        while not progress.done:
            now = time.monotonic()
            if now >= next_check:
                next_check = now + MEMORY_CHECK_INTERVAL
                if handle.memory() > max_memory:
                    reason = (f"MemoryError: the submission's processes used more than {limits.memory_mb} MB "
                              f"together (stopped by the grader)")
                    break
            if now >= deadline:
                reason = f"TimeLimitExceeded: the submission ran longer than its {limits.total_timeout:g} s limit"
                break
            if now >= phase_end:
                what = "starting Python" if progress.current is None else "it"
                reason = (f"TimeLimitExceeded: {what} ran longer than its {limits.cell_timeout:g} s limit "
                          f"(stopped by the grader)")
                break
            events = sel.select(timeout=max(min(deadline, phase_end, next_check) - now, 0))
            if not events:
                continue
            closed = False
            for key, _ in events:
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fd)
                    closed = closed or key.data == "res"
                    continue
                if key.data == "out":
                    output.feed(chunk)
                    continue
                received += len(chunk)
                if received > RESULT_BYTES_CAP:
                    reason = RESULTS_OVERFLOW
                    break
                for line in lines.feed(chunk):
                    if line is None:
                        progress.refuse(TOO_BIG if not progress.secret else NOT_ACCEPTED)
                    elif progress.handle(line):
                        phase_end = min(deadline, time.monotonic() + limits.cell_timeout + HARD_GRACE)
                        if progress.public_done and not progress.secret:
                            # from here on nothing the process says is kept verbatim, its output included
                            progress.secret = True
                            output.close(HIDDEN_OUTPUT_CUT)
                            writers.append(threading.Thread(target=handle.write_job, args=(hidden_job(), True),
                                                            daemon=True))
                            writers[1].start()
            if reason:
                break
            if closed and not progress.done:
                # the results pipe closed: the process is ending; say how it ended
                reason = _death(handle.wait(timeout=2.0), output)
                break
    finally:
        handle.kill()
        oom = group.oom_kills() if group is not None else 0
        if group is not None:
            group.remove()  # kills whatever is left in it
        sel.close()
        for writer in writers:
            writer.join(timeout=1.0)
        handle.drain(output)
        handle.close()
    if progress.done:
        return None
    if oom and (reason is None or reason.startswith("ProcessDied")):
        reason = (f"MemoryError: the submission held more than {limits.memory_mb} MB of memory of some kind "
                  f"(stopped by the kernel)")
    return reason


def _death(status: int | None, output: _Output) -> str:
    """How the process ended, in a line (bwrap reports a signal as 128 + its number)."""
    if status is None:
        return "ProcessDied: the process closed its results channel and stopped responding"
    if status < 0 or status > 128:
        sig = -status if status < 0 else status - 128
        return f"ProcessDied: the process was killed by {_signal_name(sig)}"
    return f"ProcessDied: the process exited with status {status}"


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a process that still runs (a zombie holds nothing and does not count)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:][:1] not in (b"Z", b"X")


def _wait_gone(pids, timeout: float = 3.0, pidfd: int | None = None) -> None:
    """Wait until the killed processes are gone, so that nothing of a run outlives it. With ``pidfd``
    (one of them, usually the last to end), wait first for the kernel to say it ended: it becomes
    readable once its exit is done, its memory freed, so the wait ends then rather than at the next
    look (which came up to twice as late)."""
    deadline, pause = time.monotonic() + timeout, 0.0005
    if pidfd is not None:
        with contextlib.suppress(OSError, ValueError):
            select.select([pidfd], [], [], timeout)
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(pause)  # a killed run is usually gone within milliseconds: look again soon, then less often
        pause = min(2 * pause, 0.01)


def _drain_fd(fd: int, output: _Output) -> None:
    """Collect what is left in the output pipe without blocking on a descendant that still holds it."""
    os.set_blocking(fd, False)
    try:
        for _ in range(64):
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            output.feed(chunk)
    except (BlockingIOError, OSError):
        pass


def _start(mode: str, env: dict[str, str], cwd: str, group: cgroups.MemoryCgroup | None):
    """One run's process: a warm zygote's child where possible (sandboxed), else a cold start."""
    if _warm_mode(mode):
        for attempt in range(2):  # a zygote that failed once is replaced; twice, and this process gives up
            try:
                return _Warm(_ZYGOTE, env, group)
            except _WarmUnavailable as why:
                if attempt:
                    _ZYGOTE.give_up(str(why))
    return _Cold(mode, env, cwd, group)


class _Cold:
    """A cold start: bubblewrap (or, unsandboxed, Python) started for this run; it imports everything."""

    def __init__(self, mode: str, env: dict[str, str], cwd: str, group: cgroups.MemoryCgroup | None) -> None:
        filter_r, filter_w = os.pipe() if mode == "bwrap" else (None, None)
        read_fd, write_fd = os.pipe()
        inherited = (write_fd,) if filter_r is None else (write_fd, filter_r)
        try:
            if filter_w is not None:
                os.write(filter_w, seccomp.bpf(count_memory=group is not None))
                os.close(filter_w)
            argv = _argv(mode, write_fd, filter_r)
            if group is not None:  # join the run's cgroup first: every process of the sandbox is born in it
                argv = ["/bin/sh", "-c", 'echo $$ > "$0" || exit 125; exec "$@"', str(group.procs), *argv]
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, pass_fds=inherited, env=env, cwd=cwd,
                                         start_new_session=True)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            for fd in inherited:
                os.close(fd)
        self.out_fd, self.res_fd = self.proc.stdout.fileno(), read_fd

    def write_job(self, data: bytes, close: bool) -> None:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            if close:
                self.proc.stdin.close()
        except (OSError, ValueError):  # the process died before reading its job
            pass

    def memory(self) -> int:
        return sum(_process_tree(self.proc.pid).values())

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """Kill the process, its group and its descendants (with bwrap, the whole sandbox dies with it).

        Unsandboxed, a descendant that left both (a double fork) survives: one more reason to use bwrap.
        """
        proc = self.proc
        if proc.poll() is None:
            descendants = _process_tree(proc.pid)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
            for pid in descendants:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            try:
                proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            _wait_gone(descendants)
        else:
            proc.wait()

    def drain(self, output: _Output) -> None:
        _drain_fd(self.out_fd, output)

    def close(self) -> None:
        os.close(self.res_fd)
        self.proc.stdout.close()
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.close()


# ------------------------------------------------------------------------------------ warm start

#: ``AUTOGRADER_COLD_START=1`` turns the warm start off: every run starts a fresh interpreter.
COLD_START_VARIABLE = "AUTOGRADER_COLD_START"
#: Seconds a zygote's child may take to say hello (it only forks and closes descriptors).
SPAWN_TIMEOUT = 10.0


class _WarmUnavailable(RuntimeError):
    """No warm child could be had; the run starts cold (the message says why)."""


def _warm_mode(mode: str) -> bool:
    """Whether runs in ``mode`` (resolved: ``"bwrap"`` or ``"none"``) fork from the zygote."""
    return mode == "bwrap" and warm_start_enabled()


def warm_start_enabled() -> bool:
    """Whether sandboxed runs fork from a warm zygote (:mod:`autograder.zygote`) instead of starting cold.

    Yes unless ``AUTOGRADER_COLD_START=1`` or this process already found that a zygote cannot start
    here (no user namespaces, say). As root each child drops to a uid of its own; without root, the
    zygote lives in a user namespace where the grader's uid is the only one, so each child keeps it, as
    a cold start without root does, and is kept apart by its namespaces (:mod:`autograder.zygote`). A
    Python installation under ``/tmp`` (a clone there) is bound back, read-only, over each child's
    fresh ``/tmp``.
    """
    if os.environ.get(COLD_START_VARIABLE) == "1" or _ZYGOTE.failed is not None:
        return False
    return hasattr(os, "pidfd_open")


def _identity(pid: int) -> tuple | None:
    """What must not change about a live zygote: its start time, its uid, and that nothing traces it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        with open(f"/proc/{pid}/status", "rb") as f:
            status = dict(line.split(b":", 1) for line in f.read().splitlines() if b":" in line)
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return fields[19], status.get(b"Uid", b"").split()[:1], status.get(b"TracerPid", b"").strip()


class _Zygote:
    """The one warm interpreter of this grading process, started on first use and reused by every run.

    It is restarted when it died or when it no longer looks as it did when it said ready (another
    start time, uid, or something tracing it): a zygote no student code can reach should never
    change, so one that did is never used again. Its process is started from a thread of its own that
    lives as long as this process, because bubblewrap's ``--die-with-parent`` follows the thread that
    started it.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self.pid: int | None = None
        self.stamp: tuple | None = None
        self.stop_keeper: threading.Event | None = None
        self.log = None
        self.starts = 0
        self.failed: str | None = None

    def give_up(self, why: str) -> None:
        """A zygote cannot be had here: cold starts from now on, said once."""
        with self.lock:
            self._stop()
            if self.failed is None:
                self.failed = why
                print(f"autograder: no warm start ({why}); every submission starts a fresh interpreter",
                      file=sys.stderr)

    def _start(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        parent.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        filter_r, filter_w = os.pipe()
        log = tempfile.TemporaryFile()
        box: dict[str, Any] = {}
        started, stop = threading.Event(), threading.Event()
        try:
            os.write(filter_w, seccomp.bpf(count_memory=True, zygote=True))
            os.close(filter_w)
            argv = _bwrap_argv(-1, filter_r, zygote_fd=child.fileno())

            def keep() -> None:
                try:
                    box["proc"] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                                   pass_fds=(child.fileno(), filter_r), cwd="/",
                                                   env=_environment(SANDBOX_TMP), start_new_session=True)
                except BaseException as err:  # noqa: BLE001 - handed to the starting thread
                    box["error"] = err
                started.set()
                stop.wait()

            threading.Thread(target=keep, daemon=True, name="autograder-zygote").start()
            started.wait()
        finally:
            os.close(filter_r)
            child.close()
        if "error" in box:
            parent.close()
            raise _WarmUnavailable(f"the zygote could not be started: {box['error']}")
        self.proc, self.control, self.stop_keeper, self.log = box["proc"], parent, stop, log
        self.starts += 1
        pid, msg = _receive_with_pid(parent, STARTUP_TIMEOUT)
        if msg != b'{"t": "ready"}' or pid is None:
            log.seek(0)
            tail = log.read().decode(errors="replace").strip().splitlines()[-3:]
            self._stop()
            raise _WarmUnavailable(f"the zygote did not start{': ' + ' | '.join(tail) if tail else ''}")
        self.pid, self.stamp = pid, _identity(pid)
        try:
            self._try_a_child()
        except _WarmUnavailable:
            self._stop()
            raise

    def _healthy(self) -> bool:
        return (self.proc is not None and self.proc.poll() is None and self.stamp is not None
                and _identity(self.pid) == self.stamp)

    def _stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5.0)
        for thing in (self.control, self.log):
            if thing is not None:
                thing.close()
        if self.stop_keeper is not None:
            self.stop_keeper.set()
        self.proc = self.control = self.pid = self.stamp = self.stop_keeper = self.log = None

    def stop(self) -> None:
        """Stop the zygote (and with it any child still running)."""
        with self.lock:
            self._stop()

    def _ensure(self) -> None:
        """(Re)start the zygote if it is not as it was (the lock is held)."""
        if not self._healthy():
            self._stop()
            self._start()

    def warm(self) -> None:
        """Start the zygote now if it is not running (:func:`prestart`)."""
        with self.lock:
            self._ensure()

    def spawn(self, request: dict, fds: list[int]) -> None:
        """Ask for one child holding ``fds``; (re)start the zygote first if it is not as it was."""
        with self.lock:
            for _ in range(2):
                self._ensure()
                try:
                    self._send(request, fds)
                    return
                except OSError:
                    self._stop()
        raise _WarmUnavailable("the zygote does not take requests")

    def _send(self, request: dict, fds: list[int]) -> None:
        self.control.sendmsg([json.dumps(request).encode()],
                             [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])

    def _try_a_child(self) -> None:
        """Have the new zygote make one child that sets up everything a run has (namespaces, mounts, no
        privilege, the filter) and exits instead of running anything (the lock is held). Where children
        cannot be made (a user namespace without the capabilities it asked for, say), the zygote is not
        used, rather than every submission failing to start."""
        try:
            probe = _Warm(self, _environment(SANDBOX_TMP), None, probe=True)
        except _WarmUnavailable as why:
            raise _WarmUnavailable(f"a child of the zygote could not be made ({why})") from None
        status = None
        try:
            probe.write_job(b"", close=True)
            status = probe.wait(SPAWN_TIMEOUT)
            if status != 0:
                output = _Output(4000)
                probe.drain(output)
                tail = output.text().strip().splitlines()[-2:]
                raise _WarmUnavailable(f"a child of the zygote could not be set up (status {status})"
                                       f"{': ' + ' | '.join(tail) if tail else ''}")
        finally:
            if status != 0:  # else its keeper said so as it exited, and its namespace's processes are gone
                probe.kill()
            probe.close()

    def discard(self) -> None:
        """A child of this zygote misbehaved before any student code ran: never use the zygote again."""
        with self.lock:
            self._stop()


    def forget(self) -> None:
        """In a process forked from this one: the zygote is the parent's; never use it nor stop it."""
        self.lock = threading.Lock()
        for thing in (self.control, self.log):
            if thing is not None:
                with contextlib.suppress(OSError):
                    thing.close()
        self.proc = self.control = self.pid = self.stamp = self.stop_keeper = self.log = None


_ZYGOTE = _Zygote()
atexit.register(_ZYGOTE.stop)
os.register_at_fork(after_in_child=_ZYGOTE.forget)


def prestart(sandbox: str = "auto") -> bool:
    """Start this process's zygote now, if its runs would use one: a grading worker calls it when it
    starts, so that the zygote imports its libraries while the worker waits for its first submission,
    not after. Never raises; whether a zygote is ready. A zygote that cannot start here is not given up
    on: the first run tries again and says why if it cannot."""
    try:
        if not _warm_mode(resolve_sandbox(sandbox)):
            return False
        _ZYGOTE.warm()
        return True
    except Exception:  # noqa: BLE001 - a warm-up only: the first run starts it, or says why not
        return False


def _receive_with_pid(sock: socket.socket, timeout: float) -> tuple[int | None, bytes]:
    """One message and its sender's pid as the kernel gives it (``SO_PASSCRED``), or ``(None, b"")``."""
    ready, _, _ = select.select([sock], [], [], timeout)
    if not ready:
        return None, b""
    try:
        msg, ancillary, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(struct.calcsize("3i")))
    except OSError:
        return None, b""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(data) >= 12:
            return struct.unpack("3i", data[:12])[0], msg
    return None, msg


def _child_request(env: dict[str, str], cgroup: bool, probe: bool) -> dict:
    """What the zygote is told of one child (trusted data only; :mod:`autograder.zygote`): its uid (as root
    one of its own; without root ``None``, the grader's, the only one its user namespace maps), its
    environment, its system-call filter (memory calls denied where no ``cgroup`` counts them), its
    scratch folders and their sizes, Python folders under ``/tmp`` to keep, and whether it is a
    ``probe`` that sets up and exits."""
    return {"uid": _job_uid() if os.geteuid() == 0 else None, "env": env,
            "seccomp": seccomp.bpf(count_memory=cgroup).hex(), "tmp": SANDBOX_TMP, "work": SANDBOX_WORK,
            "tmp_bytes": SCRATCH_BYTES, "shm_bytes": SHM_BYTES,
            "keep": [p for p in _python_paths() if _inside(p, SANDBOX_TMP)], "probe": probe}


class _Warm:
    """A run in a fresh child of the warm zygote: fresh namespaces, ``/tmp``, uid, filter and cgroup.

    The pipes are the grader's own, made for this run and handed to the child with the request; the
    child's keeper (C) says hello, and the grader learns its pid from the kernel, moves it into the
    run's memory cgroup (so that everything it forks is born there) and holds a pidfd of it (so that
    a recycled pid can never be killed by mistake) before answering ``go``. See :mod:`autograder.zygote`.
    """

    #: The keeper and the namespace's init are copies of the zygote that only wait: their pages are
    #: the zygote's, so the grader's own memory count starts below them.
    SKIP = 2

    def __init__(self, zygote: _Zygote, env: dict[str, str], group: cgroups.MemoryCgroup | None,
                 probe: bool = False) -> None:
        """A child of ``zygote`` for one run; with ``probe``, one that sets up as a run does and then exits
        with status 0 (:meth:`_Zygote._try_a_child`: ``zygote``'s lock is held, and it is not restarted)."""
        job_r, self.job_w = os.pipe()
        self.out_fd, out_w = os.pipe()
        self.res_fd, res_w = os.pipe()
        self.sync, sync_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sync.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.pidfd: int | None = None
        self.status: int | None = None
        self.group = group
        self.job_lock = threading.Lock()
        request = _child_request(env, group is not None, probe)
        try:
            try:
                fds = [job_r, out_w, res_w, sync_child.fileno()]
                if probe:
                    zygote._send(request, fds)
                else:
                    zygote.spawn(request, fds)
            finally:
                for fd in (job_r, out_w, res_w):
                    os.close(fd)
                sync_child.close()
            self.pid, hello = _receive_with_pid(self.sync, SPAWN_TIMEOUT)
            if self.pid is None or hello != b"hello":
                if not probe:
                    zygote.discard()
                raise _WarmUnavailable("the zygote's child did not start")
            self.pidfd = os.pidfd_open(self.pid)
            if group is not None:
                group.procs.write_text(str(self.pid))
            self.sync.send(b"go")
        except BaseException as err:
            self.kill()
            self.close()
            if isinstance(err, OSError):  # e.g. the child died before joining its cgroup
                raise _WarmUnavailable(f"the zygote's child could not be set up ({err})") from None
            raise

    def write_job(self, data: bytes, close: bool) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.job_w, view):]
        except (OSError, TypeError):  # the process died before reading its job, or the run is over
            pass
        if close:
            self._close_job()

    def _close_job(self) -> None:
        with self.job_lock:
            if self.job_w is not None:
                os.close(self.job_w)
                self.job_w = None

    def memory(self) -> int:
        return sum(_process_tree(self.pid, skip=self.SKIP).values()) if self.pid else 0

    def wait(self, timeout: float) -> int | None:
        if self.status is None:
            ready, _, _ = select.select([self.sync], [], [], timeout)
            if ready:
                with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                    self.status = int(json.loads(self.sync.recv(256))["status"])
        return self.status

    def kill(self) -> None:
        """Kill the keeper and every process below it; the namespace's init takes the rest with it."""
        if self.pidfd is None:
            return
        descendants = {p for p in self._processes() if p != self.pid}
        for pid in descendants:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        _wait_gone(descendants | {self.pid}, pidfd=self.pidfd)

    def _processes(self) -> set[int]:
        """Every process of the run: its cgroup's, where it has one (the keeper joined it before it forked
        anything, and nothing can leave it), one file rather than a walk of all of ``/proc``, whose cost
        grows with every process of the machine; else the keeper's process tree."""
        return set(self.group.pids()) if self.group is not None else set(_process_tree(self.pid))

    def drain(self, output: _Output) -> None:
        _drain_fd(self.out_fd, output)

    def close(self) -> None:
        self._close_job()
        for fd in (self.out_fd, self.res_fd, self.pidfd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.out_fd = self.res_fd = self.pidfd = None
        self.sync.close()


# ------------------------------------------------------------------------------------ public API

def run_submission(code_cells: list[str], calls: dict[str, tuple],
                   limits: Limits = Limits(), sandbox: str = "auto") -> RunResult:
    """Run ``code_cells`` in a fresh (sandboxed) process, then observe each exercise on its cases.

    ``calls`` maps an exercise id (the function's or class's name in the notebook) to
    ``(kind, public_args, hidden_args)`` (or ``(kind, args)``: public cases only), each a list of
    argument tuples. The public cases run first and what they report may be shown; the hidden cases'
    arguments enter the process only after that, and their outcomes come back with ``secret`` set.
    Returns every case's output as data, or its error, in the order public then hidden.
    Raises :class:`SandboxUnavailable` if ``sandbox`` is ``"auto"``/``"bwrap"`` and bubblewrap (or
    libseccomp) is missing; never raises because of what the submission does.
    """
    started = time.monotonic()
    mode = resolve_sandbox(sandbox)
    if mode == "bwrap":
        try:
            seccomp.bpf(count_memory=False)
        except seccomp.SeccompUnavailable as err:
            raise SandboxUnavailable(str(err)) from None
    if not all(isinstance(c, str) for c in code_cells):
        raise TypeError("code_cells must be a list of strings")
    split: dict[str, tuple[str, list, list]] = {}
    for ex_id, spec in calls.items():
        kind, public, hidden = (*spec, []) if len(spec) == 2 else spec
        if not ex_id.isidentifier() or kind not in KINDS:
            raise ValueError(f"bad call {ex_id!r}: kind {kind!r} (expected an identifier and one of {KINDS})")
        split[ex_id] = (kind, list(public), list(hidden))
    encoded = {ex_id: (kind, [wire.encode(tuple(a)) for a in public + hidden], len(public))
               for ex_id, (kind, public, hidden) in split.items()}
    progress = _Progress(len(code_cells), {ex_id: len(args) for ex_id, (_, args, _) in encoded.items()})
    output = _Output(limits.max_output_bytes)
    deadline = started + limits.total_timeout
    skip_cells: dict[int, str] = {}
    skip_cases: dict[tuple[str, int], str] = {}
    fatal: str | None = None

    def part(hidden: bool) -> list:
        """The cases still to run, of one part: ``[[id, kind, [[k, encoded args], ...]], ...]``."""
        done = skip_cases.keys() | progress.results.keys()
        out = []
        for ex_id, (kind, args, n_public) in encoded.items():
            ks = range(n_public, len(args)) if hidden else range(n_public)
            out.append([ex_id, kind, [[k, args[k]] for k in ks if (ex_id, k) not in done]])
        return out

    with tempfile.TemporaryDirectory(prefix="autograder-run-") as scratch:
        os.chmod(scratch, 0o700)
        if mode == "bwrap":
            cwd, env = "/", _environment(SANDBOX_TMP)
        else:
            cwd, env = scratch, _environment(scratch)
        for attempt in range(MAX_ATTEMPTS):
            public_job = json.dumps({
                "cells": code_cells, "cell_timeout": limits.cell_timeout,
                "skip_cells": {str(i): r for i, r in skip_cells.items()},
                "rlimits": _rlimits(limits, mode), "max_message_bytes": MAX_MESSAGE_BYTES, "too_big": TOO_BIG,
                "calls": part(hidden=False),
            }).encode()

            def hidden_job() -> bytes:
                return json.dumps({"calls": part(hidden=True)}).encode()

            reason = _attempt(mode, env, cwd, public_job, hidden_job, limits, deadline, progress, output)
            if reason is None:
                break
            current = progress.current
            if current is None or time.monotonic() >= deadline or attempt == MAX_ATTEMPTS - 1 \
                    or reason == RESULTS_OVERFLOW:
                fatal = reason if current is not None or progress.ready else _startup_failure(reason, output)
                break
            if current[0] == "cell":
                skip_cells[current[1]] = reason
                progress.cell_errors.setdefault(current[1], reason)
            else:  # a function that killed the process once would again: its remaining cases fail too
                ex_id, k = current[1:]
                for j in range(k, len(encoded[ex_id][1])):
                    skip_cases[(ex_id, j)] = reason
                    progress.results.setdefault((ex_id, j), CaseOutcome(None, reason, j >= encoded[ex_id][2]))
    missing = fatal or "not run"
    outcomes = {ex_id: [progress.results.get((ex_id, k), CaseOutcome(None, missing, k >= n_public))
                        for k in range(len(args))]
                for ex_id, (_, args, n_public) in encoded.items()}
    return RunResult(outcomes=outcomes, cell_errors=sorted(progress.cell_errors.items()), fatal=fatal,
                     seconds=time.monotonic() - started, output=output.text())


def _argv(mode: str, result_fd: int, seccomp_fd: int | None = None) -> list[str]:
    """The command that starts the runner; its results go to file descriptor ``result_fd``."""
    if mode == "bwrap":
        return _bwrap_argv(result_fd, seccomp_fd)
    return [sys.executable, "-I", str(HERE / "_runner.py"), str(result_fd)]


def _startup_failure(reason: str, output: _Output) -> str:
    """A failure before any student code ran: a problem of the grader's setup, with its output."""
    tail = output.text().strip().splitlines()[-3:]
    return f"the grading process failed to start ({reason}){': ' + ' | '.join(tail) if tail else ''}"
