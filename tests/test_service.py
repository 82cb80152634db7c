"""The grading service on loopback with SQLite (marker ``service``): submit from the command line and from
the release notebook's cell, the same records as ``grade-all``, the instructor's regrade, report and export.

One service per test session (:func:`service_fixture.shared_service`): a real ``python -m autograder
serve`` process grading chapter 2 with one Dask worker. Expected scores come from the chapter's points.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import scheduler_address
from service_fixture import FULL, Service, listening_on
from sqlalchemy import select
from test_grade import ASSIGNMENT, run_cli

from autograder.service.client import submit_cell
from autograder.service.db import Event, connect, default_url

pytestmark = pytest.mark.service


def graded_events(course: Path) -> dict[int, int]:
    """Submission id -> how many times it was recorded as graded (by a worker, or recovered)."""
    sessions = connect(default_url(course))
    with sessions() as s:
        kinds = s.execute(select(Event.submission_id, Event.kind)).all()
    counts: dict[int, int] = {}
    for sid, kind in kinds:
        if kind in ("graded", "graded-recovered"):
            counts[sid] = counts.get(sid, 0) + 1
    return counts


def test_submit_command_grades_and_records_like_grade_all(service: Service, kinds: dict, tmp_path: Path) -> None:
    """``submit`` uploads, waits and prints the score; the notebook is in nbgrader's layout, its grade in
    nbgrader's gradebook, ``results/`` and ``feedback/``, and the service shows that very feedback."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    from autograder.gradebook import course_id, db_url

    data, expected = kinds["full"]
    path = tmp_path / f"{ASSIGNMENT}.ipynb"
    path.write_bytes(data)
    token_file = tmp_path / "token"
    token_file.write_text(service.tokens["alice"] + "\n")
    proc = run_cli("submit", str(path), "--server", service.url, "--token-file", str(token_file))
    assert proc.returncode == 0, proc.stderr
    assert f"graded, score {expected:g} / {FULL:g}" in proc.stdout

    status, body = service.api("/api/submissions", service.tokens["alice"])
    assert status == 200
    sub = body["submissions"][-1]
    assert (sub["student"], sub["assignment"], sub["state"], sub["score"]) == ("alice", ASSIGNMENT, "graded", expected)

    folder = service.course / "submitted" / "alice" / ASSIGNMENT
    assert (folder / f"{ASSIGNMENT}.ipynb").read_bytes() == data
    stamp = (folder / "timestamp.txt").read_text().strip()
    assert stamp == sub["submitted_at"]
    parse_utc(stamp)  # nbgrader reads it

    result = __import__("json").loads((service.course / "results" / "alice" / ASSIGNMENT / "result.json").read_text())
    assert result["score"] == expected and result["notebook_sha256"] == hashlib.sha256(data).hexdigest()
    with Gradebook(db_url(service.course), course_id(service.course)) as gb:
        assert gb.find_submission(ASSIGNMENT, "alice").score == expected

    status, headers, page = service.request(sub["feedback_url"], service.tokens["alice"])
    assert status == 200
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    recorded = (service.course / "feedback" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert page.decode() == recorded
    assert str(service.course) not in page.decode()
    assert graded_events(service.course)[sub["id"]] == 1

    service.wait_idle(timeout=600)
    again = run_cli("grade-all", "--course-dir", str(service.course), "--workers", "1")
    assert again.returncode == 0, again.stderr
    assert " 0 to grade" in again.stderr, again.stderr  # grade-all sees the service's grades as its own


def test_submit_cell_of_a_release_notebook_submits_with_only_the_standard_library(
        service: Service, kinds: dict, tmp_path: Path) -> None:
    """The "submit" cell's code, run by a bare Python (``-I``: nothing of the course importable), submits
    the notebook beside it and prints the grade on its progress line."""
    data, expected = kinds["untouched"]
    (tmp_path / f"{ASSIGNMENT}.ipynb").write_bytes(data)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["AUTOGRADER_TOKEN"] = service.tokens["bob"]
    proc = subprocess.run([sys.executable, "-I", "-c", submit_cell(ASSIGNMENT, service.url)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert f"graded, score {expected:g} / {FULL:g}" in proc.stdout
    assert "queued" in proc.stdout or "grading" in proc.stdout  # the progress line


def test_submit_cell_without_a_token_says_what_to_do(service: Service, kinds: dict, tmp_path: Path) -> None:
    (tmp_path / f"{ASSIGNMENT}.ipynb").write_bytes(kinds["untouched"][0])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AUTOGRADER_TOKEN")}
    env["HOME"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-I", "-c", submit_cell(ASSIGNMENT, service.url)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "not submitted: no token" in proc.stdout and "AUTOGRADER_TOKEN" in proc.stdout


def test_a_token_file_other_users_can_read_is_used_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Whoever reads a student's token file can submit as them: the client says so, with the command that
    makes it private, and still submits (on a laptop of one's own it is harmless)."""
    from autograder.service.client import find_token

    path = tmp_path / ".autograder-token"
    path.write_text("tok-123\n")
    for mode, warned in ((0o644, True), (0o640, True), (0o600, False)):
        os.chmod(path, mode)
        assert find_token(str(path)) == "tok-123"
        err = capsys.readouterr().err
        assert ("other users of this computer can read" in err and f"chmod 600 {path}" in err) == warned, (mode, err)


def test_instructor_regrades_and_exports(service: Service, kinds: dict) -> None:
    """The instructor sees every submission, regrades one (graded again, recorded once more), and downloads
    the grades as an LMS's CSV and the class report."""
    status, created = service.submit("carol", kinds["untouched"][0])
    assert status == 201, created
    first = service.wait_graded([created["id"]])[created["id"]]
    assert first["state"] == "graded" and first["score"] == 0

    status, body = service.api(f"/api/submissions/{created['id']}/regrade", service.instructor, b"", "POST")
    assert status == 200 and body["state"] == "queued"
    again = service.wait_graded([created["id"]])[created["id"]]
    assert again["state"] == "graded" and again["score"] == 0
    assert graded_events(service.course)[created["id"]] == 2

    status, body = service.api("/api/submissions?student=carol", service.instructor)
    assert [s["id"] for s in body["submissions"]] == [created["id"]]
    status, _, page = service.request("/instructor?student=carol", service.instructor)
    assert status == 200
    text = page.decode()
    assert "Queue:" in text and f"/submissions/{created['id']}/feedback" in text
    assert f'action=/instructor/regrade/{created["id"]}' in text and 'name="_xsrf"' in text

    status, headers, data = service.request("/instructor/export/csv", service.instructor)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert any("carol" in row for row in rows[1:]), rows

    status, _, _ = service.request("/instructor/report", service.instructor, b"", "POST")
    assert status == 200  # followed the redirect to the written report
    status, _, page = service.request("/instructor/report/index.html", service.instructor)
    assert status == 200 and b"carol" in page


def _queued(tmp_path: Path, students: tuple[str, ...]):
    """A course folder and its service database holding one queued submission per student, in order."""
    from autograder.service import db

    course = tmp_path / "course"
    course.mkdir()
    sessions = db.connect(db.default_url(course))
    with sessions.begin() as s:
        for student in students:
            s.add(db.Submission(student=student, assignment=ASSIGNMENT, state=db.QUEUED, size=1,
                                timestamp="2026-12-01 10:00:00.000000 UTC", notebook_sha256=student[0] * 64))
    return course, sessions


def _wait_all_graded(sessions, timeout: float = 30) -> None:
    """Until every submission of ``sessions``' database is graded, or ``timeout`` seconds."""
    from autograder.service import db

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sessions() as s:
            if set(s.scalars(select(db.Submission.state)).all()) == {"graded"}:
                return
        time.sleep(0.05)


def _record_result(course: Path, sub, sha: str) -> None:
    """A ``result.json`` as the record path writes it (score 3 of 4), for a stand-in grader."""
    import json

    path = sub.result_path(course)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"notebook_sha256": sha, "score": 3, "max_score": 4}))


class _SlowUntilLaterIsGraded:
    """A stand-in for the service's :class:`~autograder.service.worker.Grader` with two grading slots: the
    student ``slow``'s notebook "runs" until the submission of ``later`` (queued behind it and behind
    ``fast``) is seen graded, or 10 s at most, and notes the states of the other two meanwhile; every
    other notebook is recorded at once."""

    slots = 2

    def __init__(self, course: Path, sessions) -> None:
        self.course, self.sessions = course, sessions
        self.seen_while_slow_ran: dict[str, str] = {}

    def available(self) -> bool:
        return True

    def grade(self, subs):
        from autograder.grading.batch import GRADED
        from autograder.service.db import Submission

        for sub in subs:
            if sub.student == "slow":
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and self.seen_while_slow_ran.get("later") != "graded":
                    with self.sessions() as s:
                        self.seen_while_slow_ran = dict(s.execute(select(Submission.student, Submission.state)
                                                                  .where(Submission.student != "slow")).all())
                    time.sleep(0.05)
            _record_result(self.course, sub, sub.student[0] * 64)
        return {(s.student, s.assignment): (GRADED, None) for s in subs}


def test_serve_on_a_port_in_use_says_so_and_exits(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The port is bound before anything else starts: one in use is said plainly, with status 2, and no
    cluster is started for nothing (the service's tests take port 0 and read the port from the log). A
    course folder other users of the machine can read is pointed out first."""
    import shutil
    import socket

    from test_grade import generated_course

    course = tmp_path / "course"
    shutil.copytree(generated_course(tmp_path_factory), course)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        for mode, noted in ((0o755, True), (0o700, False)):  # and a course others can read is pointed out
            os.chmod(course, mode)
            proc = run_cli("serve", "--course-dir", str(course), "--host", "127.0.0.1", "--port", str(port))
            assert proc.returncode == 2, proc.stderr
            assert f"autograder serve: cannot listen on 127.0.0.1:{port}: Address already in use" in proc.stderr
            assert "Traceback" not in proc.stderr and "listening on" not in proc.stderr
            assert (f"other users of this machine can read {course}" in proc.stderr) == noted, (mode, proc.stderr)


def test_a_slow_notebook_holds_only_its_own_slot_and_not_the_next_claims(tmp_path: Path) -> None:
    """The service's worker runs a claim loop per grading slot: while one slot grades a slow notebook, the
    other grades and finishes the submission claimed beside it, then goes on claiming and grading what
    was queued after it (with one batch per claim of two, the third submission would wait for the slow
    one). Each submission is finished exactly once, with its recorded score."""
    import threading

    from autograder.service import db
    from autograder.service.queue import Queue
    from autograder.service.worker import Worker

    course, sessions = _queued(tmp_path, ("slow", "fast", "later"))
    grader = _SlowUntilLaterIsGraded(course, sessions)
    worker = Worker(course, sessions, grader, Queue(sessions, worker="w"), sole=True, poll=0.05)
    loops = threading.Thread(target=worker.run, daemon=True)
    loops.start()
    try:
        _wait_all_graded(sessions)
    finally:
        worker.stop.set()
        loops.join(timeout=10)
    assert not loops.is_alive()
    assert grader.seen_while_slow_ran.get("fast") == "graded", "the fast submission waited for the slow one"
    assert grader.seen_while_slow_ran.get("later") == "graded", "the submission queued behind a slow one waited for it"
    with sessions() as s:
        rows = {r.student: r for r in s.scalars(select(db.Submission)).all()}
        assert {name: (r.state, r.score, r.max_score) for name, r in rows.items()} == {
            "slow": ("graded", 3, 4), "fast": ("graded", 3, 4), "later": ("graded", 3, 4)}
        finished = s.execute(select(db.Event.submission_id).where(db.Event.kind == "graded")).scalars().all()
    assert sorted(finished) == sorted(r.id for r in rows.values()), "a submission was finished twice or never"


class _Gated:
    """A stand-in for the service's :class:`~autograder.service.worker.Grader` whose number of slots the
    test sets; each notebook "runs" until the test opens its gate, and the notebooks running at once are
    noted."""

    def __init__(self, course: Path) -> None:
        import threading

        self.course, self.slots = course, 1
        self.gates: dict[str, threading.Event] = {}
        self.running: set[str] = set()
        self.most = 0
        self.lock = threading.Lock()

    def grade(self, subs):
        import threading

        from autograder.grading.batch import GRADED

        (sub,) = subs
        with self.lock:
            gate = self.gates.setdefault(sub.student, threading.Event())
            self.running.add(sub.student)
            self.most = max(self.most, len(self.running))
        gate.wait(30)
        with self.lock:
            self.running.discard(sub.student)
        _record_result(self.course, sub, sub.student[0] * 64)
        return {(sub.student, sub.assignment): (GRADED, None)}

    def available(self) -> bool:
        return True

    def wait_running(self, n: int, timeout: float = 10) -> set[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.running) == n:
                    return set(self.running)
            time.sleep(0.02)
        pytest.fail(f"expected {n} notebooks running, found {self.running}")

    def wait_gone(self, students: set[str], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.running & students:
                    return
            time.sleep(0.02)
        pytest.fail(f"{students & self.running} still running after their gates opened")

    def release(self, students: set[str]) -> None:
        import threading

        with self.lock:
            for student in students:
                self.gates.setdefault(student, threading.Event()).set()


def test_the_claim_loops_follow_the_number_of_slots_as_the_cluster_grows_and_shrinks(tmp_path: Path) -> None:
    """With one slot, one notebook is graded at a time; when the cluster grows to two, a second claim
    loop starts at once beside the running one; when it shrinks back, the extra loop finishes what it
    holds and claims nothing more. Every submission is graded exactly once."""
    import threading

    from autograder.service import db
    from autograder.service.queue import Queue
    from autograder.service.worker import Worker

    students = ("ann", "ben", "cal", "dot", "eve")
    course, sessions = _queued(tmp_path, students)
    grader = _Gated(course)
    worker = Worker(course, sessions, grader, Queue(sessions, worker="w"), sole=True, poll=0.02, resize=0.05)
    loops = threading.Thread(target=worker.run, daemon=True)
    loops.start()
    try:
        first = grader.wait_running(1)
        time.sleep(0.5)
        assert grader.most == 1, "a second notebook was graded with one slot"
        grader.slots = 2
        both = grader.wait_running(2)
        assert first < both
        grader.slots = 1
        deadline = time.monotonic() + 60
        while worker.wanted != 1:  # read by the worker: the second loop will claim nothing more
            assert time.monotonic() < deadline, "the worker did not read the new number of slots"
            time.sleep(0.02)
        grader.release(both)
        grader.wait_gone(both)
        with grader.lock:
            grader.most = len(grader.running)
        third = grader.wait_running(1)
        time.sleep(0.5)
        assert grader.most == 1 and grader.running == third, "two notebooks graded after the cluster shrank"
        grader.release(set(students))
        _wait_all_graded(sessions)
    finally:
        grader.release(set(students))
        worker.stop.set()
        loops.join(timeout=10)
    assert not loops.is_alive()
    with sessions() as s:
        assert set(s.scalars(select(db.Submission.state)).all()) == {"graded"}
        finished = s.execute(select(db.Event.submission_id).where(db.Event.kind == "graded")).scalars().all()
    assert len(finished) == len(students) == len(set(finished)), "a submission was finished twice or never"


def test_the_services_slots_on_a_cluster_are_its_worker_threads_now(tmp_path: Path) -> None:
    """On ``--scheduler``'s cluster, the service's slots are the cluster's worker threads, read again as
    workers join and leave (here an in-process cluster scaled from one worker of two threads to two)."""
    from distributed import LocalCluster

    from autograder.service.worker import Grader

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        with Grader(tmp_path, scheduler=cluster.scheduler_address) as grader:
            assert grader.slots == 2
            cluster.scale(2)
            grader.engine.client.wait_for_workers(2, timeout=30)
            assert grader.slots == 4
            cluster.scale(1)
            deadline = time.monotonic() + 30
            while grader.slots != 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert grader.slots == 2


class _Outage:
    """A stand-in grader whose cluster is away while :attr:`down` is set (each grading raises, as
    ``grade_submissions`` does on a closed client), and that records every notebook once it is back.
    With ``broken``, every grading raises although the cluster is there (a fault that is not the
    cluster's)."""

    slots = 2

    def __init__(self, course: Path, broken: bool = False) -> None:
        self.course, self.down, self.broken = course, True, broken
        self.calls = 0
        self.asked = 0

    def available(self) -> bool:
        self.asked += 1
        return not self.down

    def grade(self, subs):
        from autograder.grading.batch import GRADED

        self.calls += 1
        if self.down or self.broken:
            raise RuntimeError("the scheduler is gone")
        for sub in subs:
            _record_result(self.course, sub, sub.student[0] * 64)
        return {(s.student, s.assignment): (GRADED, None) for s in subs}


def _run_worker(course: Path, sessions, grader, seconds: float):
    """A service worker (backing off from 0.05 s to 0.2 s) run for ``seconds``, then left running; stop it
    with the returned function."""
    import threading

    from autograder.service.queue import Queue
    from autograder.service.worker import Worker

    worker = Worker(course, sessions, grader, Queue(sessions, worker="w"), sole=True, poll=0.02, resize=0.05,
                    backoff=(0.05, 0.2))
    loops = threading.Thread(target=worker.run, daemon=True)
    loops.start()
    time.sleep(seconds)

    def stop() -> None:
        worker.stop.set()
        loops.join(timeout=10)
        assert not loops.is_alive()
    return stop


def test_a_cluster_that_goes_away_costs_the_queue_nothing_and_it_is_graded_when_it_comes_back(tmp_path: Path) -> None:
    """While the grading cluster is away, submissions stay queued (never failed: an outage is not the
    student's doing, however long), the loops wait for it, doubling their wait, rather than claiming and
    releasing in a spin; once it is back, each submission is graded exactly once."""
    from autograder.service import db

    students = ("ann", "ben", "cal")
    course, sessions = _queued(tmp_path, students)
    grader = _Outage(course)
    started = time.monotonic()
    stop = _run_worker(course, sessions, grader, seconds=0)

    def states() -> list[tuple[str, int]]:
        with sessions() as s:
            return [(r.state, r.attempts) for r in s.scalars(select(db.Submission)).all()]

    try:
        # each loop's first claim fails and is put back uncounted; then the loops only ask (polled, not
        # timed: the first round's commits may be slow on a loaded machine)
        while not (grader.asked >= 2 and set(states()) == {(db.QUEUED, 0)}):
            assert time.monotonic() - started < 120, (grader.asked, states())
            time.sleep(0.1)
        time.sleep(2.0)  # and it stays so, however long the outage
        assert set(states()) == {(db.QUEUED, 0)}, states()
        assert grader.calls <= grader.slots, f"{grader.calls} gradings tried while the cluster was away"
        # asked again and again, less often as it lasts: the waits double from 0.05 s to 0.2 s, so each
        # loop asks at most once after each of its failed gradings, 3 times at first, then every 0.2 s
        elapsed = time.monotonic() - started
        assert grader.asked <= grader.slots * (5 + elapsed / 0.2), (grader.asked, elapsed)
        grader.down = False
        _wait_all_graded(sessions)
    finally:
        stop()
    with sessions() as s:
        assert set(s.scalars(select(db.Submission.state)).all()) == {db.GRADED}
        finished = s.execute(select(db.Event.submission_id).where(db.Event.kind == "graded")).scalars().all()
    assert len(finished) == len(students) == len(set(finished))


def test_a_grading_that_fails_while_the_cluster_is_there_counts_as_a_try(tmp_path: Path) -> None:
    """The other side: a fault that is not the cluster's costs a try each time, and after the last the
    submission is failed with the reason, so that one notebook cannot hold the queue forever."""
    from autograder.service import db
    from autograder.service.queue import MAX_ATTEMPTS

    course, sessions = _queued(tmp_path, ("ann",))
    grader = _Outage(course, broken=True)
    grader.down = False
    stop = _run_worker(course, sessions, grader, seconds=0)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with sessions() as s:
                if s.scalar(select(db.Submission.state)) == db.FAILED:
                    break
            time.sleep(0.05)
    finally:
        stop()
    with sessions() as s:
        row = s.scalars(select(db.Submission)).one()
        assert (row.state, row.attempts) == (db.FAILED, MAX_ATTEMPTS) and "grader failed" in row.error, row.error
    assert grader.calls == MAX_ATTEMPTS


@pytest.mark.dask
def test_the_service_reconnects_to_a_scheduler_that_was_restarted(tmp_path: Path) -> None:
    """A real scheduler and worker, killed: while the client tries to reconnect the grader says the
    cluster is unavailable (and the loops wait), and once the client has given up it is replaced; a
    scheduler and worker started again on the same address are then used without restarting the
    service."""
    from test_grade import _env

    from autograder.service.worker import Grader

    dask = Path(sys.executable).parent / "dask"
    env = {**_env(), "DASK_TEMPORARY_DIRECTORY": str(tmp_path)}  # a private scratch folder (see the README)
    procs: list[subprocess.Popen] = []

    starts = iter(range(10))

    def start(port: int) -> str:
        """A scheduler on ``port`` (0: one the kernel picks, never one picked here and handed over) and a
        worker; the scheduler's address, from a scheduler file of this start's own."""
        n = next(starts)
        log_path, scheduler_file = tmp_path / f"dask-{n}.log", tmp_path / f"scheduler-{n}.json"
        log = open(log_path, "wb")
        procs.append(subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                       "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                                      env=env, stdout=log, stderr=subprocess.STDOUT))
        address = scheduler_address(scheduler_file, log_path, timeout=90)
        procs.append(subprocess.Popen([str(dask), "worker", address, "--nthreads", "1", "--no-dashboard"], env=env,
                                      stdout=log, stderr=subprocess.STDOUT))
        return address

    def stop() -> None:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=30)
        procs.clear()

    def until(check, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, (tmp_path / "dask-0.log").read_text()[-2000:]
            time.sleep(0.5)

    address = start(0)
    grader = Grader(tmp_path, scheduler=address, timeout=3)  # the client gives up reconnecting after 3 s
    try:
        until(lambda: _connects(grader))
        assert grader.available() and grader.slots == 1
        first = grader.engine.client
        stop()
        until(lambda: grader.engine.client.status != "running", timeout=30)
        assert not grader.available() and grader.slots == 1  # the last size seen, the scheduler away
        until(lambda: first.status == "closed", timeout=60)
        assert not grader.available()  # a new connection is tried, and fails: nobody answers yet
        assert start(int(address.rsplit(":", 1)[1])) == address  # the same address again
        until(grader.available)
        until(lambda: grader.engine.capacity == 1)
        assert grader.engine.client.submit(sum, [1, 2], pure=False).result(timeout=60) == 3
    finally:
        grader.__exit__(None, None, None)
        stop()


def _connects(grader) -> bool:
    """Start ``grader`` (connect to its scheduler); whether it could."""
    from autograder.course import CourseError

    try:
        grader.__enter__()
        return True
    except CourseError:
        return False


def test_a_database_password_on_the_command_line_is_warned_about(capsys: pytest.CaptureFixture) -> None:
    """``--db postgresql://user:secret@host/db`` works but puts the password where every user of the machine
    can read it (/proc/PID/cmdline): the service says so and where to put it instead."""
    from autograder.service.db import resolve_url

    assert resolve_url(Path("/nowhere"), "postgresql://grader:s3cret@db.example/course").startswith(
        "postgresql+psycopg://grader:s3cret@")
    err = capsys.readouterr().err
    assert "--db holds a password" in err and "~/.pgpass" in err and "s3cret" not in err
    resolve_url(Path("/nowhere"), "postgresql://grader@db.example/course")
    resolve_url(Path("/nowhere"), "sqlite:////tmp/x.db")
    assert capsys.readouterr().err == ""


def test_serve_on_a_unix_socket(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """``--unix-socket PATH``: the service answers there (mode 0660, for the proxy's group) and on no TCP
    port; the socket a stopped service left is taken over by the next start; a file that is not a socket
    in the way is said plainly."""
    import http.client
    import shutil
    import signal
    import socket

    from test_grade import _env, generated_course

    from autograder.nbgrader_config import write_config
    from solutions.paths import PROJECT_ROOT

    course = tmp_path / "course"
    shutil.copytree(generated_course(tmp_path_factory), course)
    write_config(course)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "in-the-way").write_text("not a socket\n")
    proc = run_cli("serve", "--course-dir", str(course), "--unix-socket", str(folder / "in-the-way"))
    assert proc.returncode == 2 and f"cannot listen on unix:{folder / 'in-the-way'}" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr

    path = folder / "serve.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # as a stopped service leaves it
    stale.bind(str(path))
    stale.close()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        service = subprocess.Popen([sys.executable, "-m", "autograder", "serve", "--course-dir", str(course),
                                    "--unix-socket", str(path), "--workers", "1"], cwd=PROJECT_ROOT, env=_env(),
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(120)
            self.sock.connect(str(path))

    try:
        deadline = time.monotonic() + 180
        while listening_on(log) != f"unix:{path}":
            assert service.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        assert path.is_socket() and path.stat().st_mode & 0o777 == 0o660
        conn = UnixConnection("localhost")
        conn.request("GET", "/login")
        answer = conn.getresponse()
        assert answer.status == 200 and b"<form" in answer.read()
        conn.close()
        # its TCP listeners are its grading cluster's (TLS, and an HTTP server with no route): none is the service
        ports = [int(line.split()[3].rsplit(":", 1)[1]) for line in
                 subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout.splitlines()
                 if f"pid={service.pid}," in line]
        assert ports
        for port in ports:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", "/login")
                assert conn.getresponse().status != 200, port
            except (OSError, http.client.HTTPException):
                pass  # not HTTP at all (the cluster's TLS)
            finally:
                conn.close()
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=60)
