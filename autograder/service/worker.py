"""The service's grading loop: claim from the queue, grade with ``grade-all``'s engine and record path, finish.

:class:`Grader` grades exactly as ``grade-all`` does: :func:`autograder.grading.batch.grade_submissions` on
:class:`autograder.grading.engine.Engine` (Dask: a ``LocalCluster`` by default, ``--scheduler`` for a
cluster), which records each submission by ``grade-all``'s record path (nbgrader's gradebook, the late
policy, ``feedback/``, ``results/``). :func:`autograder.service.outcome.recorded_outcome` then reads the
grade back from there, so the queue never trusts a grade that is not on disk.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from autograder.safe_io import MAX_NOTEBOOK_BYTES, neutral
from autograder.service.intake import archive_folder, republish
from autograder.service.outcome import Claimed, recorded_outcome
from autograder.service.queue import Queue


class Grader:
    """``grade-all``'s engine, kept running: :class:`autograder.grading.engine.Engine` (a Dask
    ``LocalCluster`` by default, ``scheduler`` for a cluster) and
    :func:`autograder.grading.batch.grade_submissions`, which grades and records (a context manager)."""

    def __init__(self, course_dir: Path, workers: int | None = None, scheduler: str | None = None,
                 sandbox: str = "auto", limits: Any = None, max_bytes: int = MAX_NOTEBOOK_BYTES,
                 timeout: float | None = None) -> None:
        self.course_dir, self.workers, self.scheduler = course_dir, workers, scheduler
        #: Seconds to connect to the scheduler, and for its client to reconnect (default: the engine's).
        self.timeout = timeout
        self.sandbox, self.limits, self.max_bytes = sandbox, limits, max_bytes
        self.engine: Any = None
        self._last_slots = max(1, workers or 1)
        self._reconnecting = threading.Lock()

    @property
    def slots(self) -> int:
        """How many submissions to grade at once, each in a claim loop of its own: on a local cluster one
        per Dask worker (``workers``; default one per core); on ``scheduler``'s cluster, its worker threads
        now (:attr:`Engine.capacity`), so that the service follows workers joining and leaving. At least 1."""
        import os

        if self.scheduler is None:
            return max(1, self.workers or os.cpu_count() or 1)
        if self.engine is None or getattr(self.engine.client, "status", None) != "running":
            return self._last_slots  # the scheduler away: as many as when it was last seen
        self._last_slots = max(1, self.engine.capacity)
        return self._last_slots

    def available(self) -> bool:
        """Whether the cluster can grade now. A client that gave up on its scheduler (one restarted or
        away longer than the connection timeout) is replaced by a new connection, or a stopped local
        cluster by a new one; while the client is still reconnecting, or the new start fails, no.
        Never raises."""
        with self._reconnecting:
            try:
                status = getattr(self.engine.client, "status", None)
                if status in ("connecting", "newly-created"):
                    return False
                if status != "running":
                    self.engine.close()
                    self.engine.start()
                return self.engine.client.status == "running"
            except Exception as err:  # noqa: BLE001 - unreachable for now: the caller waits and asks again
                print(f"autograder serve: the grading cluster is unavailable: {type(err).__name__}: "
                      f"{neutral(str(err), False)}", file=sys.stderr)
                return False

    def __enter__(self) -> Grader:
        from autograder.grading.engine import Engine

        timeout = {} if self.timeout is None else {"timeout": self.timeout}
        self.engine = Engine(scheduler=self.scheduler, workers=self.workers, **timeout).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.engine is not None:
            self.engine.__exit__(*exc)

    def grade(self, subs: list[Any]) -> dict[tuple[str, str], tuple[str, str | None]]:
        """Grade and record ``subs`` (at most one per student and chapter); (student, chapter) ->
        (the engine's status for it, its reason)."""
        from autograder.grading.batch import grade_submissions

        summary = grade_submissions(self.course_dir, subs, self.engine, sandbox=self.sandbox, limits=self.limits,
                                    max_bytes=self.max_bytes)
        return {(o.student, o.assignment): (o.status, o.reason) for o in summary.outcomes}


class Worker:
    """Claims, grades and finishes submissions until stopped (run in a thread of the service): one claim
    loop per grading slot (:attr:`Grader.slots`, which follows a cluster's size), each grading one
    submission at a time, so that a slow notebook holds its own slot only and never the next claims of
    the others."""

    def __init__(self, course_dir: Path, sessions: sessionmaker[Session], grader: Grader, queue: Queue,
                 sole: bool, poll: float = 0.5, resize: float = 2.0,
                 backoff: tuple[float, float] = (1.0, 60.0)) -> None:
        self.course_dir, self.sessions, self.grader, self.queue = course_dir, sessions, grader, queue
        #: True when no other service shares the database (SQLite): recover every interrupted row at once.
        self.sole = sole
        self.poll = poll
        #: Seconds between two readings of the number of grading slots (a cluster may grow or shrink).
        self.resize = resize
        #: The grading slots wanted now (:attr:`Grader.slots`, read by :meth:`run`).
        self.wanted = 1
        #: Seconds a claim loop first waits, and waits at most, while the grading cluster is unavailable
        #: (doubling in between).
        self.backoff = backoff
        self.stop = threading.Event()

    def start_up(self) -> None:
        """Finish what a previous run left: interrupted gradings, and ``submitted/`` copies."""
        recovered = self.queue.recover(self.course_dir, everything=self.sole)
        republish(self.course_dir, self.sessions)
        if recovered:
            print(f"autograder serve: {recovered} interrupted grading(s) recovered", file=sys.stderr)

    def run(self) -> None:
        """The claim loops (:meth:`claim_loop`), one per grading slot, until :attr:`stop` is set. The
        number of slots is read again every :attr:`resize` seconds: loops are added when a cluster grows,
        and those beyond its size stop claiming (finishing what they hold) while it is smaller."""
        loops: list[threading.Thread] = []
        while True:
            try:
                self.wanted = self.grader.slots
            except Exception as err:  # the scheduler away for a moment: keep the loops there are
                print(f"autograder serve: grading slots: {type(err).__name__}: {neutral(str(err), False)}",
                      file=sys.stderr)
            while len(loops) < self.wanted:
                slot = len(loops)
                loops.append(threading.Thread(target=self.claim_loop, args=(slot == 0, slot), name=f"grading-{slot}",
                                              daemon=True))
                loops[-1].start()
            if self.stop.wait(self.resize):
                break
        for loop in loops:
            loop.join()

    def claim_loop(self, recovers: bool = True, slot: int = 0) -> None:
        """Claim one submission, grade and finish it, again, until stopped; ``recovers``: this loop also
        takes back rows whose lease ran out (one loop is enough); ``slot``: the loop's number, which
        claims only while there are more slots than that (:attr:`wanted`). Exceptions are reported and
        the loop goes on (a bad moment must not stop grading)."""
        last_recover = time.monotonic()
        wait = 0.0  # while the cluster is unavailable: how long to wait before asking again
        while not self.stop.is_set():
            try:
                if recovers and time.monotonic() - last_recover > self.queue.lease.total_seconds() / 2:
                    self.queue.recover(self.course_dir)
                    last_recover = time.monotonic()
                if slot >= self.wanted:
                    self.stop.wait(self.poll)
                    continue
                if wait and not self.grader.available():  # nothing claimed while the cluster is away
                    self.stop.wait(wait)
                    wait = min(2 * wait, self.backoff[1])
                    continue
                claimed = self.queue.claim(1)
                if not claimed:
                    self.stop.wait(self.poll)
                    continue
                wait = 0.0 if self.grade(claimed[0]) else self.backoff[0]
            except Exception as err:  # the database away for a moment, say
                print(f"autograder serve: grading loop: {type(err).__name__}: {neutral(str(err), False)}",
                      file=sys.stderr)
                self.stop.wait(max(self.poll, 1.0))

    def grade(self, c: Claimed) -> bool:
        """Grade one claimed submission, renewing its lease meanwhile; then finish it if its grade is
        recorded on disk (the engine's "up to date" counts one recorded before the claim), else release it.
        A release counts as one of its tries (:data:`autograder.service.queue.MAX_ATTEMPTS`) only if the
        grading cluster is still there: a cluster that went away (its scheduler restarted, say) costs the
        submission nothing, and ``False`` is returned so that the loop waits for it to come back."""
        from autograder.grading.batch import UP_TO_DATE
        from autograder.grading.batch import Submission as BatchSubmission

        sub = BatchSubmission(c.student, c.assignment, archive_folder(self.course_dir, c.id, c.student, c.assignment))
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(self.queue.lease.total_seconds() / 3):
                try:
                    self.queue.renew([c.id])
                except Exception:  # the next beat tries again; the lease has slack
                    pass

        beat = threading.Thread(target=heartbeat, daemon=True)
        beat.start()
        problem, statuses = None, {}
        try:
            statuses = self.grader.grade([sub])
        except Exception as err:
            problem = f"the grader failed ({type(err).__name__}); it will be tried again"
            print(f"autograder serve: {problem}: {neutral(str(err), False)}", file=sys.stderr)
        finally:
            done.set()
            beat.join()
        status, reason = statuses.get((c.student, c.assignment), (None, problem))
        outcome = recorded_outcome(self.course_dir, c, since_claimed=status != UP_TO_DATE)
        if outcome is not None:
            self.queue.finish(c.id, outcome)
            return True
        available = self.grader.available()
        self.queue.release(c.id, reason or "the grading machine could not grade it this time (busy, or the "
                           "gradebook was locked); it will be tried again", charge=available)
        return available
