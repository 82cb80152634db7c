"""The warm start: a pre-imported interpreter inside the sandbox that forks one isolated child per run.

Started by :mod:`autograder.sandbox` as ``python -I zygote.py CONTROL_FD`` under bubblewrap (the same
read-only view of the system as a cold start, a seccomp filter that still denies everything but the
namespace calls it needs, and the capabilities ``CAP_SYS_ADMIN`` and ``CAP_SETPCAP``; as root, no user
namespace, and ``CAP_SETUID`` and ``CAP_SETGID`` too; without root, a user namespace where the grader's
uid is the only one, so that runs keep it, as a cold start without root does). It imports torch, numpy, pandas
and IPython once (:func:`_runner.prepare`), says ``ready`` on its control socket, and then, for each
request (trusted data only: the run's uid, environment and system-call filter; four descriptors come
with it: the job pipe, the output pipe, the results pipe and a socket of the run's own), forks:

- **C**, the run's keeper, puts the four descriptors on 0-4 and closes every other one (the control
  socket included), says hello on the run's socket (the grader reads C's pid from the kernel's
  credentials, moves it into the run's memory cgroup and answers ``go``), then unshares new mount,
  PID, IPC, network, UTS and cgroup namespaces, mounts a fresh size-capped tmpfs on ``/tmp`` (with
  ``/tmp/work``; ``$HOME`` is ``/tmp``) and on ``/dev/shm``, a new ``/dev/pts``, and forks
- **P1**, PID 1 of the new PID namespace: it mounts a ``/proc`` of that namespace (the zygote and
  every other run are not in it), forks the runner, installs the full filter on itself and reaps
  until the runner ends; then it exits with the runner's status (128 + signal, as bubblewrap does),
  and the kernel kills whatever is left in the namespace;
- **R**, the runner: drops the capability bounding set, and as root every group and root (a uid of the
  run's own, so ``RLIMIT_NPROC`` counts only this run), reseeds numpy's and torch's generators (Python's
  ``random`` reseeds itself after a fork), installs the full seccomp filter (no new privileges), and
  runs the job exactly as a cold start does (:func:`_runner.serve`), under the job's limits.

C waits for P1 and reports its status on the run's socket. No student code ever runs in the zygote,
C or P1; nothing of a run goes through the zygote (the cells, and the hidden cases, travel on the
run's own pipes), and a child can reach nothing of the zygote: its memory is a copy, its descriptors
are closed, its files are not in the child's ``/tmp``, its PID is in no namespace the child sees, and
as root it runs as another uid. P1, which the runner sees, is not dumpable. ``docs/DESIGN.md`` ("Warm
start") gives the reasons.

Self-contained: the standard library, and ``_runner.py`` beside this file (loaded by path).
"""

from __future__ import annotations

import array
import ctypes
import importlib.util
import json
import os
import signal
import socket
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = (
    0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x20000000, 0x40000000)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (1, 2, 4, 8, 32, 4096, 1 << 14,
                                                                                1 << 18)
#: Parts of ``/proc`` bubblewrap makes read-only; a child's own ``/proc`` gets the same.
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus")
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 4, 24, 38, 22, 2
#: Descriptors a request carries: job (read end), output (write end), results (write end), the run's socket.
N_FDS = 4
SYNC_FD = 4
MAX_REQUEST = 1 << 20

_libc = ctypes.CDLL(None, use_errno=True)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


CAPABILITY_VERSION_3 = 0x20080522


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def install_filter(bpf: bytes) -> None:
    """Install a compiled seccomp filter (as bubblewrap's ``--seccomp`` does), no new privileges first."""
    if not bpf or len(bpf) % 8:
        raise ValueError("a seccomp filter is a non-empty list of 8-byte instructions")
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.addressof(buf))
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0), "seccomp")


def _place(fds: list[int]) -> None:
    """Put ``fds`` on descriptors 0, 1, ... in order and close every other one."""
    high = [os.dup2(fd, 200 + i) for i, fd in enumerate(fds)]
    for i, fd in enumerate(high):
        os.dup2(fd, i)
    os.closerange(len(fds), 1 << 16)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code  # killed by a signal: 128 + its number, as bubblewrap reports


def _load_runner():
    spec = importlib.util.spec_from_file_location("_autograder_runner", HERE / "_runner.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _runner(request: dict, runner, prepared) -> None:
    """R: drop every privilege, reseed, filter, then run the job as a cold start would."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh interpreter
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last_cap = int(f.read())
    for cap in range(last_cap + 1):
        _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"dropping capability {cap}")
    if request["uid"] is not None:  # as root: a uid of the run's own; else the grader's, the only one here
        uid = int(request["uid"])
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise OSError("the runner still has uid 0")
    no_caps = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (two words each): none
    _check(_libc.capset(ctypes.byref(_CapHeader(CAPABILITY_VERSION_3, 0)), no_caps), "capset")
    os.chdir(request["work"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.modules["numpy"].random.seed()
    sys.modules["torch"].seed()
    install_filter(bytes.fromhex(request["seccomp"]))
    if request.get("probe"):  # the zygote's first child: everything set up, nothing run
        os._exit(0)
    runner.serve(3, prepared)


def _init(request: dict, runner, prepared) -> None:
    """P1: a /proc of the new PID namespace, the runner as its child, then reap until it ends."""
    os.close(SYNC_FD)
    # not dumpable: without root the runner has this process's uid, and could otherwise open its
    # /proc/1/mem (the runner inherits it, as a change of uid gives it as root; it needs neither)
    _check(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "not dumpable")
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in PROC_READ_ONLY:
        path = f"/proc/{name}"
        if os.path.exists(path):
            _mount(path, path, None, MS_BIND | MS_REC)
            _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            _runner(request, runner, prepared)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            code = 1
        os._exit(code)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in range(4):  # the run's pipes now belong to the runner and its processes only
        os.dup2(null, fd)
    install_filter(bytes.fromhex(request["seccomp"]))
    while True:
        try:
            child, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(1)
        if child == pid:
            os._exit(_exit_code(status))


def _keeper(request: dict, fds: list[int], runner, prepared) -> None:
    """C: the run's descriptors, the cgroup handshake, fresh namespaces and file systems, then P1."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.setsid()
    job, out, results, sync = fds
    _place([job, out, out, results, sync])  # stdin: the job; stdout and stderr: the output; 3: results
    sync = socket.socket(fileno=SYNC_FD)
    sync.send(b"hello")  # the grader reads this process's pid from the kernel's credentials
    if sync.recv(16) != b"go":
        os._exit(0)
    # in the run's cgroup by now: a cgroup namespace makes it the root of what the run sees
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS),
           "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Python's own folders that lie under /tmp (a clone in /tmp, say) are held open before the fresh
    # tmpfs covers them, then bound back on top of it, read-only, as the cold start's bubblewrap does.
    kept = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)) for path in request.get("keep", [])]
    _mount("tmpfs", request["tmp"], "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(request['tmp_bytes'])},mode=1777")
    for path, fd in kept:
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(fd)
    os.mkdir(request["work"])
    os.chmod(request["work"], 0o777)
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(request['shm_bytes'])},mode=1777")
    if os.path.isdir("/dev/pts"):  # its own pseudo-terminals (/dev/ptmx points into it), as bubblewrap makes
        _mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    pid = os.fork()
    if pid == 0:
        try:
            _init(request, runner, prepared)
        finally:
            os._exit(1)
    sync.detach()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in range(4):
        os.dup2(null, fd)
    _, status = os.waitpid(pid, 0)
    os.write(SYNC_FD, json.dumps({"status": _exit_code(status)}).encode())
    os._exit(0)


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    runner = _load_runner()
    prepared = runner.prepare()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the keepers
    control.send(json.dumps({"t": "ready"}).encode())
    while True:
        msg, ancillary, _, _ = control.recvmsg(MAX_REQUEST, socket.CMSG_SPACE(N_FDS * 4))
        if not msg:
            return  # the grader is gone
        fds = array.array("i")
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
        fds = list(fds)
        try:
            request = json.loads(msg)
            ok = len(fds) == N_FDS and isinstance(request, dict)
        except ValueError:
            ok = False
        if ok:
            pid = os.fork()
            if pid == 0:
                try:
                    _keeper(request, fds, runner, prepared)
                except BaseException:
                    traceback.print_exc()  # on the run's output: the grader shows it as a start-up failure
                    sys.stderr.flush()
                finally:
                    os._exit(1)
        for fd in fds:
            os.close(fd)
        if not ok:
            return  # the grader sends only well-formed requests: anything else ends this zygote


if __name__ == "__main__":
    main()
