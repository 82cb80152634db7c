"""The program that runs inside the sandbox: execute a submission's cells, observe its functions.

Started by :mod:`autograder.sandbox` as ``python -I _runner.py RESULT_FD`` in a fresh process (a
cold start), or called (:func:`serve`) in a forked child of a warm zygote (``zygote.py``, which
imported everything with :func:`prepare` first), next to read-only binds of (or beside)
``runtime.py`` and ``wire.py``; it must not import the rest of the project, which the sandbox does
not contain. It reads its job from stdin (moved off fd 0, so
the student's ``input()`` sees an empty stdin) in two parts, one JSON object each:

    {"cells": [code, ...], "skip_cells": {index: reason}, "cell_timeout": seconds,
     "rlimits": {name: value}, "max_message_bytes": n, "too_big": message,
     "calls": [[id, kind, [[k, encoded args], ...]], ...]}          (the public cases; then a newline)
    {"calls": [[id, kind, [[k, encoded args], ...]], ...]}          (the hidden cases; then EOF)

It runs the cells, then the public cases, reports ``public_done`` and only then reads the second
part: the hidden cases' arguments enter this process after everything it reported verbatim. It
writes one JSON message a line to ``RESULT_FD`` (never stdout, which is the student's): ``ready``,
``cell`` (a cell starts), ``cell_error``, ``case`` (a case starts), ``result``, ``public_done``,
``done``.

Everything here runs in the student's process, so the grader trusts none of it: the student's code
can write any of these messages itself. The grader's side (:mod:`autograder.sandbox`) makes that
useless: the comparison happens outside, and from the moment the grader sends the hidden part it
keeps only the kinds of whatever this process says (see ``docs/DESIGN.md``, "Sandbox and protocol").
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import resource
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAX_ERROR_CHARS = 1000


def _load(name: str):
    """Import ``runtime.py`` / ``wire.py`` from this folder under a private module name."""
    spec = importlib.util.spec_from_file_location(f"_autograder_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_limit = [0.0]  # the current time limit in seconds, for the message


class RawOutput(io.TextIOBase):
    """Unbuffered text output on a file descriptor.

    Replaces ``sys.stdout``/``sys.stderr``: a flood interrupted by the time limit leaves no
    half-written buffer behind (a buffered stream then fails on every later print).
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def write(self, text: str) -> int:
        view = memoryview(str(text).encode("utf-8", errors="replace"))
        while view:
            view = view[os.write(self._fd, view):]
        return len(text)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    @property
    def encoding(self) -> str:
        return "utf-8"


class TimeLimitExceeded(BaseException):
    """Raised in the student's code when a cell or a call runs past its time limit."""


def _on_alarm(signum, frame):
    raise TimeLimitExceeded(f"ran longer than its {_limit[0]:g} s limit")


def describe(err: BaseException) -> str:
    """``"ExceptionType: message"`` (just the type when there is no message), never raising."""
    try:
        name = type(err).__name__
        text = str(err)
    except BaseException:  # a hostile __str__
        return "Exception: (its message could not be shown)"
    return (f"{name}: {text}" if text else name)[:MAX_ERROR_CHARS]


def _read_job(fd: int, until_eof: bool) -> dict:
    """One JSON part of the job from ``fd``: up to a newline (nothing is read past it), or to the end."""
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        if not until_eof and chunk.endswith(b"\n"):
            break
    return json.loads(b"".join(chunks))


def prepare():
    """Import what every run needs (torch, numpy and pandas through ``runtime``/``wire``, IPython): the
    slow part of a start, done once by a warm start's zygote (:mod:`zygote`) before it forks."""
    runtime, wire = _load("runtime"), _load("wire")
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    return runtime, wire, InteractiveShell, Config


def serve(out_fd: int, prepared=None) -> None:
    """Read the job's first part from fd 0, set its limits, and run it.

    A cold start imports here, under the job's limits; a warm start's child (:mod:`zygote`) passes
    what its zygote imported before forking (``prepared``), and is isolated already.
    """
    job_fd = os.dup(0)  # the job channel, kept off stdin: the student's input() sees an empty stdin
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    job = _read_job(job_fd, until_eof=False)  # cells and public cases; the hidden ones come last
    for name, value in job.get("rlimits", {}).items():
        resource.setrlimit(getattr(resource, name), (value, value))
    run(job, job_fd, out_fd, prepared or prepare())


def main() -> None:
    """A cold start: ``python -I _runner.py RESULT_FD``."""
    serve(int(sys.argv[1]))


def run(job: dict, job_fd: int, out_fd: int, prepared) -> None:
    """Run one job's cells, then its public cases, report, then read and run the hidden cases."""
    runtime, wire, InteractiveShell, Config = prepared
    main_pid = os.getpid()
    max_message, too_big = int(job["max_message_bytes"]), str(job["too_big"])

    def send(msg: dict) -> None:
        if os.getpid() != main_pid:  # a process the student forked got back into this loop
            os._exit(0)
        data = (json.dumps(msg, separators=(",", ":")) + "\n").encode()
        if len(data) > max_message and "value" in msg:  # the grader would refuse it: say so cheaply
            refusal = {"t": "result", "id": msg["id"], "k": msg["k"], "error": too_big}
            data = (json.dumps(refusal) + "\n").encode()
        while data:
            data = data[os.write(out_fd, data):]

    sys.stdout, sys.stderr = RawOutput(1), RawOutput(2)

    class Shell(InteractiveShell):
        """IPython's shell without a copy of every output in memory (IPython 9 tees stdout into
        its history, so a cell that floods its output would run out of memory)."""

        @contextlib.contextmanager
        def _tee(self, channel):
            yield

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "NoColor"
    shell = Shell.instance(config=config)
    skip_cells = {int(i) for i in job.get("skip_cells", {})}
    timeout = _limit[0] = float(job["cell_timeout"])
    signal.signal(signal.SIGALRM, _on_alarm)
    send({"t": "ready"})

    for i, code in enumerate(job["cells"]):
        if i in skip_cells:
            continue
        send({"t": "cell", "i": i})
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            result = shell.run_cell(code, store_history=False)
            err = result.error_before_exec or result.error_in_exec
        except BaseException as caught:  # raised outside the cell's own code (e.g. the alarm)
            err = caught
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if err is not None:
            send({"t": "cell_error", "i": i, "error": describe(err)})

    namespace = shell.user_ns

    def run_calls(calls: list) -> None:
        for ex_id, kind, cases in calls:
            for k, encoded in cases:
                send({"t": "case", "id": ex_id, "k": k})
                msg = {"t": "result", "id": ex_id, "k": k}
                signal.setitimer(signal.ITIMER_REAL, timeout)
                try:
                    args = wire.decode(encoded)
                    if ex_id not in namespace:
                        raise NameError(f"name {ex_id!r} is not defined")
                    msg["value"] = wire.encode(runtime.observe(namespace[ex_id], args, kind))
                except wire.WireError as err:
                    msg["error"] = str(err)[:MAX_ERROR_CHARS]
                except BaseException as err:
                    msg["error"] = describe(err)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                send(msg)

    run_calls(job["calls"])
    send({"t": "public_done"})
    # Only now do the hidden cases' arguments enter this process: whatever it says from here on, the
    # grader keeps only its kind, never its text.
    hidden = _read_job(job_fd, until_eof=True)
    os.close(job_fd)
    run_calls(hidden["calls"])
    send({"t": "done"})


if __name__ == "__main__":
    main()
