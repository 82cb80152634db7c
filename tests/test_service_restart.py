"""The durable queue (marker ``service``): the service killed in the middle and restarted loses nothing and
grades nothing twice; a small version of the load test (``benchmarks/service.py`` runs 50 clients and
200 notebooks).

The kill is ``SIGKILL`` to the service's whole process group (its Dask workers too), as a machine that
loses power would. The recovery rules themselves are also checked on the queue's functions, for the
moment no kill can be aimed at: after the grade was recorded and before the row was marked graded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from service_fixture import STUDENTS, make_course, notebooks, start_service
from sqlalchemy import select
from test_grade import ASSIGNMENT, generated_course
from test_service import graded_events

from autograder.service import db
from autograder.service.intake import UploadLimits, accept
from autograder.service.queue import Queue

pytestmark = pytest.mark.service

#: Who submits what, in order: every student once, then two of them again with other work.
KINDS = ("full", "partial", "untouched")
PLAN = [(s, KINDS[i % 3]) for i, s in enumerate(STUDENTS)] + [("alice", "partial"), ("bob", "untouched")]


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, float]]:
    return notebooks(generated_course(tmp_path_factory))


def _states(course: Path) -> dict[int, str]:
    sessions = db.connect(db.default_url(course))
    with sessions() as s:
        return dict(s.execute(select(db.Submission.id, db.Submission.state)).all())


def test_killed_in_the_middle_and_restarted_nothing_is_lost_and_nothing_graded_twice(
        tmp_path_factory: pytest.TempPathFactory, kinds: dict) -> None:
    from nbgrader.api import Gradebook

    from autograder.gradebook import course_id, db_url

    service = start_service(make_course(tmp_path_factory, "service-restart"), "--lease-seconds", "6")
    try:
        with ThreadPoolExecutor(len(STUDENTS)) as pool:  # the clients submit at once
            answers = list(pool.map(lambda p: service.submit(p[0], kinds[p[1]][0]), PLAN))
        assert [status for status, _ in answers] == [201] * len(PLAN)
        ids = [body["id"] for _, body in answers]
        expected = {body["id"]: kinds[kind][1] for (_, kind), (_, body) in zip(PLAN, answers)}

        deadline = time.monotonic() + 600
        while not any(state == db.GRADED for state in _states(service.course).values()):
            assert time.monotonic() < deadline, f"nothing graded in time:\n{service.tail()}"
            time.sleep(0.5)
        service.stop(signal.SIGKILL)
        at_kill = _states(service.course)
        assert any(state != db.GRADED for state in at_kill.values()), "all were graded before the kill"

        start_service(service, "--lease-seconds", "6")
        final = service.wait_graded(ids)
        assert {i: (s["state"], s["score"]) for i, s in final.items()} == {i: (db.GRADED, expected[i]) for i in ids}
        assert graded_events(service.course) == {i: 1 for i in ids}  # each graded exactly once

        latest = {}  # the clients ran at once: a student's latest is the submission the service took last
        for (student, kind), (_, body) in zip(PLAN, answers):
            if student not in latest or body["id"] > latest[student][1]:
                latest[student] = (kind, body["id"])
        with Gradebook(db_url(service.course), course_id(service.course)) as gb:
            for student, (kind, _) in latest.items():
                assert gb.find_submission(ASSIGNMENT, student).score == kinds[kind][1], student
        for student, (kind, _) in latest.items():
            folder = service.course / "submitted" / student / ASSIGNMENT
            assert (folder / f"{ASSIGNMENT}.ipynb").read_bytes() == kinds[kind][0]
            result = json.loads((service.course / "results" / student / ASSIGNMENT / "result.json").read_text())
            assert result["notebook_sha256"] == hashlib.sha256(kinds[kind][0]).hexdigest()
    finally:
        service.stop()


def test_recovery_keeps_a_recorded_grade_and_queues_an_unrecorded_one(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, kinds: dict) -> None:
    """A worker died after recording alice's grade but before marking it, and while grading bob's: on
    recovery alice's is graded from her recorded result (not graded again), bob's is queued again."""
    course = tmp_path / "course"
    shutil.copytree(generated_course(tmp_path_factory), course)
    sessions = db.connect(db.default_url(course))
    data, _ = kinds["partial"]
    alice = accept(course, sessions, "alice", ASSIGNMENT, data, UploadLimits())
    bob = accept(course, sessions, "bob", ASSIGNMENT, data, UploadLimits())
    dead = Queue(sessions, lease_seconds=600, worker="dead")
    assert [c.id for c in dead.claim(2)] == [alice.id, bob.id]
    recorded = {"assignment": ASSIGNMENT, "score": 2, "max_score": 9, "exercises": [], "student": "alice",
                "notebook_sha256": hashlib.sha256(data).hexdigest()}
    (course / "results" / "alice" / ASSIGNMENT).mkdir(parents=True)
    (course / "results" / "alice" / ASSIGNMENT / "result.json").write_text(json.dumps(recorded))
    (course / "feedback" / "alice" / ASSIGNMENT).mkdir(parents=True)
    (course / "feedback" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.html").write_text(f"<p>feedback from {course}</p>")

    live = Queue(sessions, lease_seconds=60, worker="live")
    assert live.recover(course) == 0  # leases still running: nothing taken over yet
    with sessions.begin() as s:  # the dead worker's leases run out (expired here, not waited for)
        for row in (alice, bob):
            s.get(db.Submission, row.id).lease_expires = db.utcnow() - timedelta(seconds=1)
    assert live.recover(course) == 2
    with sessions() as s:
        a, b = s.get(db.Submission, alice.id), s.get(db.Submission, bob.id)
        assert (a.state, a.score, a.max_score) == (db.GRADED, 2, 9)
        assert str(course) not in a.feedback_html  # the machine's path is not shown to the student
        assert (b.state, b.attempts) == (db.QUEUED, 1)
        events = s.execute(select(db.Event.submission_id, db.Event.kind).order_by(db.Event.id)).all()
    assert (alice.id, "graded-recovered") in events and (bob.id, "requeued") in events
    assert [c.id for c in live.claim(5)] == [bob.id]


def test_a_result_older_than_the_claim_is_not_taken_for_this_submission(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, kinds: dict) -> None:
    """Same bytes graded earlier (an older result on disk) and a crash before this grading recorded
    anything: the submission is graded again, not finished with the old file."""
    course = tmp_path / "course"
    shutil.copytree(generated_course(tmp_path_factory), course)
    sessions = db.connect(db.default_url(course))
    data, _ = kinds["untouched"]
    folder = course / "results" / "carol" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({"score": 0, "max_score": 9,
                                                    "notebook_sha256": hashlib.sha256(data).hexdigest()}))
    time.sleep(1.1)
    row = accept(course, sessions, "carol", ASSIGNMENT, data, UploadLimits())
    Queue(sessions, worker="dead").claim(1)
    with sessions.begin() as s:
        s.get(db.Submission, row.id).lease_expires = db.utcnow() - timedelta(seconds=1)
    Queue(sessions, worker="live").recover(course)
    assert _states(course)[row.id] == db.QUEUED
