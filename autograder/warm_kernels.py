"""Warm kernels for the book build: one pre-imported interpreter forks a fresh kernel per chapter.

A chapter's kernel spends seconds importing torch, pandas, matplotlib and scikit-learn before its
first line runs (about 3 s of CPU per chapter on the course machine, a third of the chapters' whole
execution). During a build, :class:`WarmKernels` starts one *template* process that imports them once,
and points Jupyter at a kernelspec of its own (``python3``, in a temporary ``JUPYTER_PATH`` folder) whose
command is a small *launcher* (this file, run with ``python -I -S``: the standard library only). For
each chapter jupyter-cache's worker starts the launcher as it would start ``ipykernel_launcher``; the
launcher hands its working folder, environment, standard streams and kernel arguments to the template,
which forks; the child takes them over and runs ``ipykernel`` exactly as ``python -m ipykernel_launcher``
would. Each chapter still gets a process of its own, a copy of nothing but imported libraries: no
chapter's code ever runs in the template, and no chapter sees another's state.

The launcher stands for the kernel towards Jupyter: it forwards the signals Jupyter sends (interrupt,
terminate), exits with the kernel's status, and a kernel whose launcher is gone (killed with its
worker) exits at once. If the template cannot be reached, the launcher becomes an ordinary kernel
(``exec`` of ``python -m ipykernel_launcher``): a build is never worse than without this module.

The template is used by :func:`autograder.book.execute_chapters` only; everything else (the tests'
notebooks, the benchmark's serial execution) runs the standard kernel.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

#: What the chapters import that is slow to import, imported once in the template. Only libraries:
#: the course's own modules (``solutions``, ``autograder``) are imported fresh by each chapter, and so
#: is ipykernel's application, whose settings read the kernel's environment when its module is imported,
#: and so are pyplot and its inline backend, which hook into the kernel's shell when they are imported
#: (imported here, before there is a shell, a figure would never be shown).
PRELOAD = ("matplotlib", "numpy", "pandas",
           "torch", "torch.nn.functional", "sklearn.linear_model", "sympy", "myst_nb")
#: ipykernel's default matplotlib backend (``kernelapp.py``), set before matplotlib is imported so that
#: a forked kernel starts with the backend a fresh one would choose.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
#: Seconds a launcher waits for its kernel (the template may still be importing), and the build for the
#: template to listen.
READY_TIMEOUT = 120
LISTEN_TIMEOUT = 30
#: Set to 1 to start every chapter's kernel the ordinary way (to compare, or to rule this module out).
DISABLE_VARIABLE = "AUTOGRADER_BOOK_COLD_KERNELS"
#: The kernelspec's name: the one the chapters' notebooks ask for.
KERNEL_NAME = "python3"
#: The launcher and the template check this often (seconds) whether the process that started them is
#: still there.
PARENT_POLL = 1.0


# --------------------------------------------------------------------------------------------------
# The launcher: what Jupyter starts as the kernel (standard library only, run with python -I -S)

def _fresh_kernel(argv: list[str]) -> None:
    """Become an ordinary kernel (the template is not there)."""
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv])


def _read_line(conn: socket.socket, buffer: bytearray) -> bytes | None:
    """The next line from ``conn`` (``b""`` at its end); ``None`` if nothing came within its timeout."""
    while b"\n" not in buffer:
        try:
            data = conn.recv(4096)
        except TimeoutError:
            return None
        if not data:
            return b""
        buffer += data
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


def launch(address: str, argv: list[str]) -> int:
    """Ask the template at ``address`` for a kernel with ``argv``; wait for it and return its status."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    buffer = bytearray()
    try:
        conn.connect(address)
        request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}
        socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
        conn.settimeout(READY_TIMEOUT)
        first = (_read_line(conn, buffer) or b"").split()
        if len(first) != 2 or first[0] != b"pid":
            raise OSError("the template did not start the kernel")
        pid = int(first[1])
    except (OSError, ValueError):
        conn.close()
        _fresh_kernel(argv)
        raise  # not reached: _fresh_kernel replaces this process
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, lambda signum, _frame: os.kill(pid, signum))
    parent = os.getppid()
    conn.settimeout(PARENT_POLL)
    while True:
        line = _read_line(conn, buffer)
        if line is None:
            if os.getppid() != parent:  # whoever started the kernel is gone: so is the kernel
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                return 1
            continue
        words = line.split()
        return int(words[1]) if len(words) == 2 and words[0] == b"exit" else 1


# --------------------------------------------------------------------------------------------------
# The template: imports once, forks a kernel per request

def _kernel(conn: socket.socket, request: dict, fds: list[int], spec_folder: str) -> None:
    """In the forked child: take over the launcher's folder, environment and streams, run ipykernel.
    ``spec_folder`` is the build's kernelspec folder, which the chapter's ``JUPYTER_PATH`` loses."""
    for i, fd in enumerate(fds):
        os.dup2(fd, i)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # the kernelspec's folder is ours, not the chapter's: its JUPYTER_PATH is what it was before the build's
    kept = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep)
            if p and os.path.abspath(p) != spec_folder]
    if kept:
        os.environ["JUPYTER_PATH"] = os.pathsep.join(kept)
    else:
        os.environ.pop("JUPYTER_PATH", None)
    for sig in (signal.SIGTERM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as a fresh interpreter has it

    def watch() -> None:  # the launcher closes its end when it exits: then the kernel goes too
        while True:
            try:
                if not conn.recv(1):
                    break
            except InterruptedError:
                continue
            except OSError:
                break
        os._exit(1)

    threading.Thread(target=watch, name="launcher-watch", daemon=True).start()
    import ipykernel_launcher

    sys.argv = [ipykernel_launcher.__file__, *request["argv"]]
    from ipykernel import kernelapp

    code = 0
    try:
        kernelapp.launch_new_instance()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()  # what a normal interpreter exit runs; the template's frames are not unwound
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def serve(address: str) -> None:
    """Listen on ``address`` (and say ``listening`` on stdout), import :data:`PRELOAD`, then fork a kernel
    for each launcher that connects. Launchers that connect during the imports wait for their kernel."""
    spec_folder = os.path.dirname(os.path.abspath(address))  # the socket lies in the kernelspec's folder
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(64)
    print("listening", flush=True)
    parent = os.getppid()
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    children: dict[int, tuple[socket.socket, int]] = {}  # pidfd -> (launcher's connection, pid)

    def stop(*_: object) -> None:
        for _, pid in children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C reaches the build, which stops this process
    while True:
        if os.getppid() != parent:  # the build is gone (killed): so are this process, its kernels and folder
            shutil.rmtree(spec_folder, ignore_errors=True)
            stop()
        for key, _ in selector.select(PARENT_POLL):
            if key.fileobj is listener:
                conn, _ = listener.accept()
                try:
                    conn.settimeout(10)
                    data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
                    request = json.loads(data)
                    if len(fds) != 3 or not isinstance(request, dict):
                        raise ValueError("a request carries three descriptors and a JSON object")
                except (OSError, ValueError):
                    conn.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    try:
                        selector.close()
                        listener.close()
                        for other, _ in children.values():
                            other.close()
                        for pidfd in children:
                            os.close(pidfd)
                        conn.settimeout(None)
                        os.setsid()
                        _kernel(conn, request, fds, spec_folder)
                    finally:
                        os._exit(1)
                for fd in fds:
                    os.close(fd)
                pidfd = os.pidfd_open(pid)
                children[pidfd] = (conn, pid)
                selector.register(pidfd, selectors.EVENT_READ)
                with contextlib.suppress(OSError):
                    conn.sendall(f"pid {pid}\n".encode())
            else:
                pidfd = key.fd
                selector.unregister(pidfd)
                conn, pid = children.pop(pidfd)
                _, status = os.waitpid(pid, 0)
                os.close(pidfd)
                with contextlib.suppress(OSError):
                    conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                conn.close()


# --------------------------------------------------------------------------------------------------
# The build's side: start the template, point Jupyter at the launcher, stop it all afterwards

class WarmKernels:
    """While entered: a template process, and ``JUPYTER_PATH`` naming a ``python3`` kernelspec whose
    kernels it forks. Entering does not wait for the template's imports (kernels asked for meanwhile
    wait for them), and never fails: a template that does not start leaves Jupyter's own kernelspec in
    place (and says so on stderr)."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.process: subprocess.Popen | None = None
        self.old_path: str | None = None
        self.started = False

    def __enter__(self) -> WarmKernels:
        if os.environ.get(DISABLE_VARIABLE) == "1":
            return self
        self.folder = Path(tempfile.mkdtemp(prefix="book-kernels-"))
        address = str(self.folder / "template.sock")
        # not ``python -P``: a kernel forked from it would have sys.flags.safe_path, and IPython would then
        # leave the working folder off sys.path; the script's own folder is dropped from sys.path by hand
        script = str(Path(__file__).resolve())
        # (sys is built in; runpy is imported only once the working folder is off sys.path)
        boot = f"import sys; del sys.path[0]; import runpy; runpy.run_path({script!r}, run_name='__main__')"
        self.process = subprocess.Popen([sys.executable, "-c", boot, "serve", address],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        if not self._listening():
            print("book: warning: the warm kernel template did not start; every chapter starts a kernel of its own",
                  file=sys.stderr, flush=True)
            self._stop()
            return self
        spec_dir = self.folder / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        spec = {"argv": [sys.executable, "-I", "-S", script, "launch", address,
                         "-f", "{connection_file}"],
                "display_name": "Python 3 (ipykernel, forked from the book build's template)",
                "language": "python", "kernel_protocol_version": "5.5", "metadata": {"debugger": True}}
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
        self.old_path = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(self.folder), self.old_path]))
        self.started = True
        return self

    def _listening(self) -> bool:
        """Whether the template said ``listening`` within :data:`LISTEN_TIMEOUT` seconds."""
        assert self.process is not None and self.process.stdout is not None
        done = threading.Event()
        said: list[bytes] = []
        reader = threading.Thread(target=lambda: (said.append(self.process.stdout.readline()), done.set()),
                                  daemon=True)
        reader.start()
        done.wait(LISTEN_TIMEOUT)
        return bool(said) and said[0].strip() == b"listening"

    def __exit__(self, *exc: object) -> None:
        if self.started:
            if self.old_path is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = self.old_path
        self._stop()

    def _stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "serve":
        serve(argv[1])
        return 0
    if len(argv) >= 2 and argv[0] == "launch":
        return launch(argv[1], argv[2:])
    print(f"usage: {Path(__file__).name} serve ADDRESS | launch ADDRESS KERNEL-ARGS...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
