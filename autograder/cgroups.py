"""A memory cgroup per sandboxed run, where this machine lets the grader make one.

A cgroup's memory limit counts every page a submission makes the kernel hold: anonymous memory, files
in memory (``memfd``), System V and POSIX shared memory, tmpfs files, page cache. ``RLIMIT_AS`` counts
only what a process maps. So when the grader can create a child of its own memory cgroup, each run
gets one, limited to ``Limits.memory_mb``; its processes are all killed through it at the end (none
can leave it) and it is removed.

Both cgroup versions are handled: v2 (``memory.max``, ``memory.events``, ``cgroup.kill``) when the
grader's own cgroup may delegate the memory controller, else v1's memory hierarchy
(``memory.limit_in_bytes``, ``memory.oom_control``). Where neither is writable (no root, a read-only
``/sys/fs/cgroup``), :func:`create` returns ``None`` and the sandbox falls back on its other limits and
refuses the kinds of memory they cannot count (see :mod:`autograder.seccomp`). ``docs/DESIGN.md``
says what holds where. ``AUTOGRADER_NO_CGROUP=1`` disables cgroups (to test that fallback).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
import threading
import time
from pathlib import Path

_counter = itertools.count()
_lock = threading.Lock()
DISABLE_VARIABLE = "AUTOGRADER_NO_CGROUP"


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """``(mount point, root, fs type, super options)`` of every cgroup mount."""
    out = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if len(rfields) >= 3 and rfields[0] in ("cgroup", "cgroup2"):
                out.append((fields[4], fields[3], rfields[0], set(rfields[2].split(","))))
    return out


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and under ``""`` its v2 path."""
    out: dict[str, str] = {}
    with contextlib.suppress(OSError), open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
    return out


def _join(mount: str, root: str, path: str) -> Path:
    rel = os.path.relpath(path, root) if path.startswith(root) else path.lstrip("/")
    return Path(mount) / ("" if rel == "." else rel)


def _parent() -> tuple[int, Path] | None:
    """``(version, folder)`` of the cgroup under which runs get theirs, or ``None``."""
    if os.environ.get(DISABLE_VARIABLE) == "1":
        return None
    own = _own_paths()
    for mount, root, kind, options in _mounts():
        if kind == "cgroup2" and "" in own:
            base = _join(mount, root, own[""])
            try:
                if "memory" in (base / "cgroup.controllers").read_text().split():
                    if "memory" not in (base / "cgroup.subtree_control").read_text().split():
                        (base / "cgroup.subtree_control").write_text("+memory")
                    return 2, base
            except OSError:
                pass
    for mount, root, kind, options in _mounts():
        if kind == "cgroup" and "memory" in options and "memory" in own:
            base = _join(mount, root, own["memory"])
            if os.access(base, os.W_OK) and (base / "memory.limit_in_bytes").exists():
                return 1, base
    return None


class MemoryCgroup:
    """One run's memory cgroup: made with :func:`create`, emptied and removed with :meth:`remove`."""

    def __init__(self, version: int, path: Path, limit: int) -> None:
        self.version, self.path, self.limit = version, path, limit

    @property
    def procs(self) -> Path:
        """The file a process writes its pid into to join."""
        return self.path / "cgroup.procs"

    def oom_kills(self) -> int:
        """How many processes the kernel killed for going over the limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def pids(self) -> list[int]:
        """The processes in it now."""
        try:
            return [int(p) for p in self.procs.read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        """Kill every process in it (none can leave it: moving out needs write access to another cgroup)."""
        if self.version == 2:
            with contextlib.suppress(OSError):
                (self.path / "cgroup.kill").write_text("1")
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)

    def remove(self) -> None:
        """Kill what is left in it and remove it (a failure is reported on stderr, never raised: it is
        the machine's problem, not the submission's)."""
        self.kill_all()
        deadline = time.monotonic() + 5.0
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as err:
                if time.monotonic() > deadline:
                    print(f"autograder: could not remove the cgroup {self.path}: {err}", file=sys.stderr)
                    return
                time.sleep(0.02)


def create(limit_bytes: int) -> MemoryCgroup | None:
    """A new memory cgroup limited to ``limit_bytes`` (no swap), or ``None`` where none can be made."""
    parent = _parent()
    if parent is None:
        return None
    version, base = parent
    with _lock:
        n = next(_counter)
    path = base / f"autograder-{os.getpid()}-{n}"
    try:
        path.mkdir()
    except OSError:
        return None
    group = MemoryCgroup(version, path, limit_bytes)
    try:
        if version == 2:
            (path / "memory.max").write_text(str(limit_bytes))
            with contextlib.suppress(OSError):  # without swap accounting, there is no swap to limit
                (path / "memory.swap.max").write_text("0")
        else:
            (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            with contextlib.suppress(OSError):
                (path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
    except OSError:
        group.remove()
        return None
    return group


def leftovers() -> list[Path]:
    """Cgroups of runs of this process still present (for tests: there should be none)."""
    parent = _parent()
    if parent is None:
        return []
    return sorted(parent[1].glob(f"autograder-{os.getpid()}-*"))
