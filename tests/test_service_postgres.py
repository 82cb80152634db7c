"""The grading service with PostgreSQL (marker ``service``): a real server the test starts (Debian's
``postgresql``: ``initdb`` and ``pg_ctl`` in a temporary folder, on a free loopback port). If it cannot
start here, the tests fail and say why; they are never skipped.
"""

from __future__ import annotations

import threading

import pytest
from service_fixture import FULL, make_course, notebooks, start_postgres, start_service
from sqlalchemy import select
from test_grade import ASSIGNMENT, generated_course

from autograder.service import db
from autograder.service.queue import Queue

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def postgres():
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


def test_two_workers_sharing_postgresql_never_claim_the_same_submission(postgres) -> None:
    """Two workers (each its own connections) race to claim 40 submissions: each is claimed exactly once."""
    url = postgres.new_database("claims")
    sessions = db.connect(url)
    with sessions.begin() as s:
        for i in range(40):
            s.add(db.Submission(student=f"s{i:02d}", assignment=ASSIGNMENT, state=db.QUEUED,
                                timestamp="2026-12-01 10:00:00.000000 UTC", notebook_sha256="0" * 64, size=1))
    got: dict[str, list[int]] = {"a": [], "b": []}
    ready = threading.Barrier(len(got))

    def work(name: str) -> None:
        queue = Queue(db.connect(url), worker=name)
        queue.claim(0)  # connected (and its first query planned) before the race starts
        ready.wait(timeout=120)
        while claimed := queue.claim(1):
            got[name] += [c.id for c in claimed]

    threads = [threading.Thread(target=work, args=(n,)) for n in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not set(got["a"]) & set(got["b"])
    assert sorted(got["a"] + got["b"]) == list(range(1, 41))
    assert got["a"] and got["b"], "one worker took everything: no race was tested"
    with sessions() as s:
        rows = s.scalars(select(db.Submission)).all()
        assert {(r.state, r.attempts) for r in rows} == {(db.GRADING, 1)}
        assert {r.id: r.worker for r in rows} == {**{i: "a" for i in got["a"]}, **{i: "b" for i in got["b"]}}


def test_the_service_on_postgresql_grades_and_records(postgres, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tokens, queue and states in PostgreSQL; the grade in nbgrader's gradebook and results as ever."""
    url = postgres.new_database("service")
    service = start_service(make_course(tmp_path_factory, "service-pg", db=url))
    try:
        data, expected = notebooks(generated_course(tmp_path_factory))["full"]
        status, created = service.submit("alice", data)
        assert status == 201, created
        done = service.wait_graded([created["id"]])[created["id"]]
        assert (done["state"], done["score"], done["max_score"]) == ("graded", expected, FULL)
        assert not (service.course / db.DEFAULT_DB_FILE).exists()  # nothing of the service's in SQLite
        sessions = db.connect(url)
        with sessions() as s:
            row = s.get(db.Submission, created["id"])
            assert (row.student, row.state, row.score) == ("alice", db.GRADED, expected)
            assert s.scalars(select(db.Token.digest).where(db.Token.student == "alice")).all()
        assert (service.course / "results" / "alice" / ASSIGNMENT / "result.json").is_file()
    finally:
        service.stop()
