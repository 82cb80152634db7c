"""The durable queue: submissions' states in the database, moved only by short conditional updates.

- **claim**: ``queued -> grading`` by ``UPDATE ... WHERE id = ? AND state = 'queued'``; a row another
  worker took first updates nothing, so two workers (PostgreSQL, several machines) never take the same
  one. The claimer writes its id and a lease (``lease_expires``) that it renews while it grades. Of a
  student's chapter only the oldest unfinished submission is claimable, so a student's submissions are
  graded in the order they came and the last one graded is the one in ``submitted/``.
- **finish**: ``grading -> graded`` only by the worker holding the row; it happens after the grade is
  recorded (gradebook, feedback, ``result.json`` last), so a crash in between leaves a row in
  ``grading`` whose grade is already recorded.
- **recover**: a ``grading`` row whose lease ran out (its worker died) is finished from its recorded
  ``result.json`` if that file is this submission's (the same notebook digest, written after the row was
  claimed), and queued again otherwise. So a service killed at any moment, restarted, grades every accepted
  submission that was not graded, and none twice. A service using SQLite is the only one on its
  database, so at start-up it recovers every ``grading`` row at once instead of waiting for leases.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from autograder.service.db import FAILED, GRADED, GRADING, QUEUED, Event, Submission, utcnow
from autograder.service.outcome import Claimed, Outcome, recorded_outcome

#: How many times a submission whose grading did not complete (machine too busy, gradebook locked,
#: worker killed) is tried before it is marked failed.
MAX_ATTEMPTS = 3


class Queue:
    """One worker's view of the queue."""

    def __init__(self, sessions: sessionmaker[Session], lease_seconds: float = 60.0, worker: str | None = None):
        self.sessions = sessions
        self.lease = timedelta(seconds=lease_seconds)
        self.worker = worker or uuid.uuid4().hex

    def _event(self, s: Session, submission_id: int, kind: str, detail: str = "") -> None:
        s.add(Event(submission_id=submission_id, kind=kind, worker=self.worker, detail=detail))

    def claim(self, n: int) -> list[Claimed]:
        """Up to ``n`` queued submissions, now ``grading`` under this worker's lease."""
        with self.sessions() as s:
            rows = s.execute(select(Submission.id, Submission.student, Submission.assignment, Submission.state)
                             .where(Submission.state.in_((QUEUED, GRADING))).order_by(Submission.id)).all()
        busy, candidates = set(), []
        for sid, student, assignment, state in rows:
            key = (student, assignment)
            if key in busy:
                continue
            busy.add(key)
            if state == QUEUED:
                candidates.append(sid)
        claimed = []
        for sid in candidates:
            if len(claimed) >= n:
                break
            with self.sessions.begin() as s:
                now = utcnow()
                done = s.execute(update(Submission).where(Submission.id == sid, Submission.state == QUEUED).values(
                    state=GRADING, worker=self.worker, lease_expires=now + self.lease, started_at=now,
                    attempts=Submission.attempts + 1)).rowcount
                if done == 1:
                    self._event(s, sid, "claimed")
                    row = s.get(Submission, sid)
                    claimed.append(Claimed.of(row))
        return claimed

    def renew(self, ids: list[int]) -> None:
        """Extend this worker's lease on the rows it is grading."""
        if ids:
            with self.sessions.begin() as s:
                s.execute(update(Submission).where(Submission.id.in_(ids), Submission.worker == self.worker,
                                                   Submission.state == GRADING)
                          .values(lease_expires=utcnow() + self.lease))

    def finish(self, sid: int, outcome: Outcome, kind: str = "graded", worker: str | None = None) -> bool:
        """``grading -> graded`` with its grade; False if this worker no longer holds the row."""
        with self.sessions.begin() as s:
            done = s.execute(update(Submission).where(
                Submission.id == sid, Submission.state == GRADING, Submission.worker == (worker or self.worker))
                .values(state=GRADED, finished_at=utcnow(), score=outcome.score, max_score=outcome.max_score,
                        late_penalty=outcome.late_penalty, feedback_html=outcome.feedback_html, error=None,
                        lease_expires=None)).rowcount
            if done == 1:
                self._event(s, sid, kind)
            return done == 1

    def release(self, sid: int, reason: str, worker: str | None = None, charge: bool = True) -> str | None:
        """A grading that did not complete: queued again, or failed after :data:`MAX_ATTEMPTS`; the new state.
        Without ``charge`` (the grading cluster went away, not the submission's doing) the try is not
        counted, and it is queued again."""
        with self.sessions.begin() as s:
            row = s.get(Submission, sid)
            if row is None or row.state != GRADING or row.worker != (worker or self.worker):
                return None
            if not charge:
                row.attempts = max(0, row.attempts - 1)
            row.state = QUEUED if row.attempts < MAX_ATTEMPTS else FAILED
            row.error, row.lease_expires = reason, None
            if row.state == FAILED:
                row.finished_at = utcnow()
            self._event(s, sid, "requeued" if row.state == QUEUED else "failed", reason)
            return row.state

    def regrade(self, sid: int) -> bool:
        """The instructor's regrade: a graded or failed submission queued again."""
        with self.sessions.begin() as s:
            done = s.execute(update(Submission).where(Submission.id == sid, Submission.state.in_((GRADED, FAILED)))
                             .values(state=QUEUED, attempts=0, error=None)).rowcount
            if done == 1:
                self._event(s, sid, "regrade")
            return done == 1

    def recover(self, course_dir: Path, everything: bool = False) -> int:
        """Rows whose worker died (lease ran out; with ``everything``, every ``grading`` row): finished from
        their recorded result if it is theirs, else queued again. Returns how many were recovered."""
        now = utcnow()
        with self.sessions() as s:
            query = select(Submission).where(Submission.state == GRADING)
            if not everything:
                query = query.where(Submission.lease_expires < now)
            stale = s.scalars(query).all()
        for row in stale:
            outcome = recorded_outcome(course_dir, Claimed.of(row))
            if outcome is not None:
                self.finish(row.id, outcome, kind="graded-recovered", worker=row.worker)
            else:
                self.release(row.id, "the grading was interrupted (the service stopped); graded again",
                             worker=row.worker)
        return len(stale)

    def counts(self) -> dict[str, int]:
        """How many submissions are in each state."""
        from sqlalchemy import func

        with self.sessions() as s:
            found = dict(s.execute(select(Submission.state, func.count(Submission.id)).group_by(Submission.state)).all())
        return {state: int(found.get(state, 0)) for state in (QUEUED, GRADING, GRADED, FAILED)}


def latest_per_chapter(sessions: sessionmaker[Session]) -> list[tuple[str, str, int, str]]:
    """(student, chapter, id, timestamp) of each student's latest submission of each chapter."""
    with sessions() as s:
        rows = s.execute(select(Submission.student, Submission.assignment, Submission.id, Submission.timestamp)
                         .order_by(Submission.id)).all()
    latest: dict[tuple[str, str], Any] = {}
    for student, assignment, sid, timestamp in rows:
        latest[(student, assignment)] = (student, assignment, sid, timestamp)
    return list(latest.values())
