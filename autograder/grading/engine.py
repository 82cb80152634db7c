"""``grade-all``'s batch engine: a Dask distributed cluster, local by default.

:class:`Engine` is a context manager around a ``distributed.Client``: without a scheduler address it
starts a ``LocalCluster`` of one single-threaded worker *process* per core (a student's run is already a
separate sandboxed process; one grading task per worker keeps a worker's memory to one notebook's),
listening on the loopback interface only, without dashboards or HTTP routes, and speaking TLS with
credentials made for it in memory (``Security.temporary()``): loopback is open to every user of the
machine, and a Dask scheduler runs whatever code a client sends, so without them any user could run
code as the grader (read the hidden checks, write grades). Only this process holds the credentials.
Its scratch folder (which Dask puts on ``sys.path``) is a private one of its own, not Dask's shared
``/tmp/dask-scratch-space``.
With ``scheduler`` it connects to an existing cluster (``dask scheduler`` and ``dask worker`` started
by hand, or dask-jobqueue on a batch system), with the TLS settings of Dask's configuration: such a
cluster is its operator's to secure (the README says how). Either way, every worker must run the
client's very code: a worker whose project version, grader code, check specs or reference solutions
differ (:func:`autograder.inputs.environment_digest`) is refused with a
:class:`~autograder.course.CourseError` naming it, since its verdicts would be recorded under the
client's fingerprint.

A worker that dies while grading (killed, out of memory) loses nothing: the scheduler runs its tasks
again on another worker. A task that has taken down :data:`ALLOWED_FAILURES` + 1 workers is given up
(``distributed.KilledWorker``), and ``grade-all`` records that submission as "could not be graded".
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
import tempfile
import threading
from typing import Any

from distributed import WorkerPlugin

from autograder.course import CourseError

#: How many worker deaths a task may cause before it is given up (distributed's
#: ``distributed.scheduler.allowed-failures``): once for a worker killed from outside, once more for
#: bad luck; a notebook that takes its worker down every time costs three workers' restarts at most.
ALLOWED_FAILURES = 2
#: Seconds to wait for a scheduler, and for its workers to show up.
CONNECT_TIMEOUT = 30
#: How many recent messages each of Dask's connections keeps for debugging
#: (``distributed.admin.low-level-log-length``, 1,000 by default). Each message of ours is a whole
#: submission with its assignment's context, about 100 KB, so the default made the client's memory
#: (its connection to the scheduler and, on a local cluster, the scheduler's to each worker) grow
#: with the class by about 0.2 MB per submission, up to hundreds of MB.
MESSAGE_LOG_LENGTH = 10
#: Dask settings of the local cluster's workers. Each worker samples its task thread's stack every
#: 10 ms for the dashboard's profile (``distributed.worker.profile``); the dashboard is off here, so
#: nothing reads it, and with a worker per core the sampling thread's hundred wake-ups a second take
#: the core and the interpreter's lock from the grading (measured in ``docs/DESIGN.md``).
LOCAL_WORKER_CONFIG = {"distributed.worker.profile.enabled": False}
#: No HTTP routes on the local cluster's scheduler and workers. Without a dashboard, Dask still serves
#: its health, metrics, ``/info`` pages (workers, their logs, task names) and a proxy to any user of the
#: machine on loopback; nothing here reads them.
LOCAL_HTTP_CONFIG = {"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}


@functools.lru_cache(maxsize=1)
def worker_identity() -> dict[str, str]:
    """What this process grades with: project version, grader version, and the digest of all the code
    a verdict comes from (:func:`autograder.inputs.environment_digest`). Cached: read once per process."""
    from autograder import inputs

    return {"version": inputs.project_version(), "grader": inputs.grader_version(),
            "environment": inputs.environment_digest()}


def mismatch(theirs: Any, mine: dict[str, str] | None = None) -> str | None:
    """Why a worker's identity differs from this process's, or ``None`` if it is the same."""
    mine = mine or worker_identity()
    if theirs == mine:
        return None
    if not isinstance(theirs, dict):
        return f"it did not say which version it runs ({type(theirs).__name__})"
    for key, what in (("version", "project version"), ("grader", "grader version"),
                      ("environment", "check specs or reference solutions")):
        if theirs.get(key) != mine[key]:
            return f"its {what} differs ({theirs.get(key)} there, {mine[key]} here)"
    return "its environment differs"


class Engine:
    """A Dask cluster to grade on; see the module docstring. ``workers`` is the number of local
    worker processes (default: one per core), or with ``scheduler``, how many to wait for (default 1)."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 allowed_failures: int = ALLOWED_FAILURES, timeout: float = CONNECT_TIMEOUT) -> None:
        if workers is not None and workers < 1:
            raise CourseError(f"--workers must be at least 1, got {workers}")
        self.scheduler = scheduler
        self.workers = workers
        self.allowed_failures = allowed_failures
        self.timeout = timeout
        self.client: Any = None
        self.cluster: Any = None
        self._starting: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self._warmed: set[str] = set()
        self._warming = threading.Lock()  # the service's grading loops share one engine
        #: The local cluster's private scratch folder (mode 0700), removed when it stops.
        self._scratch: str | None = None

    def limit_local_workers(self, jobs: int) -> None:
        """Start no more local workers than there are ``jobs`` (each costs an interpreter)."""
        if self.scheduler is None:
            self.workers = max(1, min(self.workers or os.cpu_count() or 1, jobs))

    def describe(self) -> str:
        """The cluster in a few words, for the progress line."""
        if self.scheduler is not None:
            return f"Dask scheduler {self.scheduler}"
        return f"{self.workers or os.cpu_count() or 1} local Dask workers"

    @property
    def tries(self) -> int | None:
        """How many times a task is tried before it is given up, when this engine decides it (a local
        cluster); ``None`` for an external scheduler, whose own configuration decides."""
        return self.allowed_failures + 1 if self.scheduler is None else None

    def __enter__(self) -> Engine:
        return self.start()

    @property
    def starting(self) -> bool:
        """Whether a :meth:`start_soon` is under way or done and not yet waited for."""
        return self._starting is not None

    def start_soon(self, warm: str | None = None) -> None:
        """Start (:meth:`start`) in a thread of its own while the caller goes on with other work, then
        :meth:`warm` the workers for the ``warm`` sandbox mode if one is given; the next :meth:`start`
        waits for it and raises what it raised. Nothing if started or starting already."""
        if self.client is not None or self._starting is not None:
            return

        def run() -> None:
            try:
                self._start()
                if warm is not None:
                    self.warm(warm)
            except BaseException as err:  # noqa: BLE001 - handed to the thread that waits for the start
                self._start_error = err

        self._starting = threading.Thread(target=run, name="autograder-engine-start", daemon=True)
        self._starting.start()

    def start(self) -> Engine:
        """Start the local cluster, or connect to the scheduler; then check every worker's code. If
        :meth:`start_soon` began that already, wait for it instead (and raise its error)."""
        error = self._join_start()
        if error is not None:
            raise error
        if self.client is None:
            self._start()
        return self

    def warm(self, sandbox: str) -> None:
        """Have every worker, now and joining later, get ready to grade in ``sandbox`` mode as soon as it
        starts (:class:`WarmStart`), rather than on its first submission. Once per mode."""
        with self._warming:
            if sandbox not in self._warmed:
                self.client.register_plugin(WarmStart(sandbox))
                self._warmed.add(sandbox)

    def _start(self) -> None:
        import dask
        from distributed import Client, LocalCluster
        from distributed.security import Security

        # for the life of this process: connections opened later (a worker that restarts) read it too
        dask.config.set({"distributed.admin.low-level-log-length": MESSAGE_LOG_LENGTH})
        try:
            if self.scheduler is None:
                n = self.workers or os.cpu_count() or 1
                # Dask's scratch folder is otherwise /tmp/dask-scratch-space, reused if it exists: a name
                # any user of the machine can make first, and Dask puts it on sys.path (the workers'
                # and this process's), so a module planted there would run as the grader
                self._scratch = tempfile.mkdtemp(prefix="autograder-dask-")
                # one task per worker thread at a time: a notebook that kills its worker is never
                # blamed on (and never costs a try of) a task merely queued behind it
                # (a nanny hands the configuration it was made under to its worker process)
                with dask.config.set({"distributed.scheduler.allowed-failures": self.allowed_failures,
                                      "distributed.scheduler.worker-saturation": 1.0, **LOCAL_WORKER_CONFIG,
                                      **LOCAL_HTTP_CONFIG, "temporary-directory": self._scratch}):
                    self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                                dashboard_address=None, worker_dashboard_address=None,
                                                security=Security.temporary(), silence_logs=logging.ERROR,
                                                # its route-less HTTP server on a free port of loopback,
                                                # not Dask's fixed 8787
                                                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
                self.client = Client(self.cluster)
            else:
                tls = Security().get_tls_config_for_role("client")  # from Dask's settings (DASK_... variables)
                if self.scheduler.startswith("tls://") and tls["ca_file"] is None:
                    raise CourseError(f"the Dask scheduler at {self.scheduler} speaks TLS, and no certificate is "
                                      f"set: give its CA file, certificate and key in Dask's settings "
                                      f"(DASK_DISTRIBUTED__COMM__TLS__CA_FILE, ..._CLIENT__CERT, ..._CLIENT__KEY; "
                                      f"see \"Secure the cluster\" in the README)")
                try:
                    self.client = Client(self.scheduler, timeout=self.timeout)
                except (OSError, TimeoutError) as err:
                    raise CourseError(f"cannot reach the Dask scheduler at {self.scheduler}: {err}; start one with "
                                      f"`dask scheduler` and workers with `dask worker {self.scheduler}` "
                                      f"(see the README)") from None
                try:
                    self.client.wait_for_workers(self.workers or 1, timeout=self.timeout)
                except TimeoutError:
                    raise CourseError(f"the Dask scheduler at {self.scheduler} has fewer than {self.workers or 1} "
                                      f"worker(s) after {self.timeout:g} s; start them with "
                                      f"`dask worker {self.scheduler}`") from None
            self.check_workers()
        except BaseException:
            self._close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect; a local cluster is stopped, an external one is left running (a start still under
        way is waited for first)."""
        self._join_start()
        self._close()

    def _join_start(self) -> BaseException | None:
        """Wait for a :meth:`start_soon` under way, if any; what it raised."""
        if self._starting is None:
            return None
        self._starting.join()
        self._starting, error, self._start_error = None, self._start_error, None
        return error

    def _close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        if self._scratch is not None:
            sys.path[:] = [p for p in sys.path if not p.startswith(self._scratch)]
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
        self._warmed.clear()

    def check_workers(self) -> None:
        """Refuse (:class:`CourseError`) if any connected worker runs other code than this client."""
        theirs = self.client.run(worker_identity)
        bad = {addr: why for addr, ident in theirs.items() if (why := mismatch(ident))}
        if bad:
            listed = "; ".join(f"{addr}: {why}" for addr, why in sorted(bad.items()))
            raise CourseError(f"refusing to grade: {len(bad)} Dask worker(s) run other grading code than this "
                              f"client ({listed}). Install the same version of the project on every worker "
                              f"(pip install -r requirements.lock and the same checkout).")

    @property
    def capacity(self) -> int:
        """How many submissions the cluster grades at once now: its workers' threads (a local cluster's
        workers have one each), asked of the scheduler, so it follows workers that join or leave. Only
        the total is fetched, not the workers' list."""
        return int(self.client.scheduler_info(n_workers=0)["total_threads"])


def warm_up(sandbox: str) -> None:
    """Import the grading code (torch with it) and start the sandbox's warm interpreter
    (:func:`autograder.sandbox.prestart`): what a worker's first submission would otherwise wait for."""
    import importlib

    importlib.import_module("autograder.grading.notebook")  # for its cost (torch), paid now
    from autograder import sandbox as sandbox_module

    sandbox_module.prestart(sandbox)


class WarmStart(WorkerPlugin):
    """A Dask worker plugin: when a worker starts (or the plugin is registered), :func:`warm_up` runs in a
    thread of the worker's own, while the worker waits for its first task (which waits for the warm-up
    where they meet: the imports' lock and the zygote's). A warm-up that fails costs nothing: the first
    task does the same work and says what went wrong."""

    name = "autograder-warm-start"

    def __init__(self, sandbox: str) -> None:
        self.sandbox = sandbox

    def setup(self, worker: Any) -> None:
        threading.Thread(target=warm_up, args=(self.sandbox,), name="autograder-warm-up", daemon=True).start()
