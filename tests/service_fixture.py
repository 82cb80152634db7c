"""The grading service as the tests run it: a real ``python -m autograder serve`` process on loopback.

A course is chapter 2's assignment generated once per session (``test_grade.generated_course``), copied,
with a roster in nbgrader's student table and tokens issued by ``python -m autograder tokens`` (the
links file is parsed, as an instructor would send it). :func:`shared_service` starts one service per
test session with SQLite, shared by every test file that needs it (grading a notebook takes seconds);
tests that kill their service start their own with :func:`start_service`.

:func:`start_postgres` starts a real PostgreSQL server (Debian's ``postgresql`` package: ``initdb`` and
``pg_ctl``) in a temporary folder on a free port, as an unprivileged user when the tests run as root;
if it cannot, the test fails saying why (never a silent skip).
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from test_grade import ASSIGNMENT, POINTS, _env, generated_course, notebook, run_cli, submission

from autograder.nbgrader_config import write_config
from solutions.paths import PROJECT_ROOT

HOST = "127.0.0.1"
#: The roster of the test class.
STUDENTS = ("alice", "bob", "carol", "dave", "erin", "frank")
#: Seconds to wait for the service to answer after it starts (it loads torch and starts a Dask cluster).
START_TIMEOUT = 180
#: Seconds to wait for one notebook's grade (a shared 2-core machine, sandboxed).
GRADE_TIMEOUT = 300
#: Kinds of notebooks the tests submit, with their expected scores computed from the chapter's points.
FULL = sum(POINTS.values())
PARTIAL_IDS = ("calc_preds", "accuracy")
PARTIAL = sum(POINTS[i] for i in PARTIAL_IDS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def notebooks(template: Path) -> dict[str, tuple[bytes, float]]:
    """Notebooks of mixed quality as a student's Jupyter saves them, with the score each must get."""
    def saved(nb: nbformat.NotebookNode) -> bytes:
        return (nbformat.writes(nb) + "\n").encode("utf-8")

    return {"full": (saved(submission(template, solved=tuple(POINTS))), FULL),
            "partial": (saved(submission(template, solved=PARTIAL_IDS)), PARTIAL),
            "untouched": (saved(notebook(template, "release")), 0)}


@dataclass
class Service:
    """A running service and what a test needs to talk to it."""

    url: str
    course: Path
    tokens: dict[str, str]
    instructor: str
    proc: subprocess.Popen | None = None
    log: Path | None = None
    args: list[str] = field(default_factory=list)

    def request(self, path: str, token: str | None = None, data: bytes | None = None, method: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request; (status, headers, body), an error status included."""
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=data, headers=h, method=method)
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def api(self, path: str, token: str, data: bytes | None = None, method: str | None = None) -> tuple[int, dict]:
        status, _, body = self.request(path, token, data, method)
        return status, json.loads(body or b"{}")

    def submit(self, student: str, data: bytes, assignment: str = ASSIGNMENT) -> tuple[int, dict]:
        return self.api(f"/api/submissions?assignment={assignment}", self.tokens[student], data)

    def wait_graded(self, ids: list[int], timeout: float = GRADE_TIMEOUT) -> dict[int, dict]:
        """Each submission once it is graded or failed; the test fails with the states after ``timeout``."""
        deadline = time.monotonic() + timeout * max(1, len(ids))
        while True:
            status, body = self.api("/api/submissions", self.instructor)
            assert status == 200, body
            by_id = {s["id"]: s for s in body["submissions"] if s["id"] in ids}
            if all(by_id.get(i, {}).get("state") in ("graded", "failed") for i in ids):
                return by_id
            if time.monotonic() > deadline:
                pytest.fail(f"not graded in time: { {i: s['state'] for i, s in by_id.items()} }; log:\n{self.tail()}")
            if self.proc is not None and self.proc.poll() is not None:
                pytest.fail(f"the service stopped (status {self.proc.returncode}); log:\n{self.tail()}")
            time.sleep(1)

    def wait_idle(self, timeout: float = GRADE_TIMEOUT) -> None:
        """Once nothing is queued or being graded: what a test that compares the course's files before and
        after its own requests needs first, since grading another test's submission writes files too."""
        deadline = time.monotonic() + timeout
        while True:
            status, counts = self.api("/api/queue", self.instructor)
            assert status == 200, counts
            if counts["queued"] == 0 and counts["grading"] == 0:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"the queue did not drain in time: {counts}; log:\n{self.tail()}")
            if self.proc is not None and self.proc.poll() is not None:
                pytest.fail(f"the service stopped (status {self.proc.returncode}); log:\n{self.tail()}")
            time.sleep(0.5)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log and self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the service and everything it started (its process group: the Dask workers too)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None


def make_course(tmp_path_factory: pytest.TempPathFactory, name: str, db: str | None = None) -> Service:
    """A copy of chapter 2's course with the roster, and tokens issued by the ``tokens`` command."""
    from nbgrader.api import Gradebook

    from autograder.gradebook import course_id, db_url

    template = generated_course(tmp_path_factory)
    course = tmp_path_factory.mktemp(name) / "course"
    shutil.copytree(template, course)
    write_config(course)
    with Gradebook(db_url(course), course_id(course)) as gb:
        for student in STUDENTS:
            gb.update_or_create_student(student, first_name=student.title(), last_name="Test",
                                        email=f"{student}@example.org")
    db_args = ["--db", db] if db else []
    # the links' address is not the service's (its port is known only once it listens): the tests take
    # the tokens from the links and the address from the service
    proc = run_cli("tokens", "--course-dir", str(course), "--base-url", f"http://{HOST}", *db_args)
    assert proc.returncode == 0, proc.stderr
    with open(course / "service-links.csv", encoding="utf-8") as f:
        links = {row["student"]: row["link"] for row in csv.DictReader(f)}
    assert set(links) == set(STUDENTS)
    tokens = {s: link.split("#token=", 1)[1] for s, link in links.items()}
    proc = run_cli("tokens", "--course-dir", str(course), "--instructor", *db_args)
    assert proc.returncode == 0, proc.stderr
    instructor = proc.stdout.split("keep it secret): ", 1)[1].split()[0]
    return Service("", course, tokens, instructor, args=["--db", db] if db else [])


def listening_on(log: Path, start: int = 0) -> str | None:
    """Where ``autograder serve`` says it listens (``127.0.0.1:PORT`` or ``unix:PATH``), from its log after
    byte ``start`` (a log that earlier starts wrote to); ``None`` until it says so."""
    with open(log, "rb") as f:
        f.seek(start)
        said = re.search(rb"listening on (\S+) \(", f.read())
    return said.group(1).decode() if said else None


def start_service(service: Service, *extra: str) -> Service:
    """Start ``python -m autograder serve`` for ``service`` (in its own process group) on a port the kernel
    chooses, and wait until it says where it listens; ``service.url`` is then that address (a new one on
    each start). The tests never pick a free port and hand it over: another listener (the service's own
    Dask cluster, say) could take it in between, and the test would talk to that."""
    service.log = service.course.parent / "serve.log"
    start = service.log.stat().st_size if service.log.exists() else 0
    log = open(service.log, "a", encoding="utf-8")
    cmd = [sys.executable, "-m", "autograder", "serve", "--course-dir", str(service.course), "--host", HOST,
           "--port", "0", "--workers", "1", *service.args, *extra]
    service.proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            pytest.fail(f"the service exited with status {service.proc.returncode}:\n{service.tail()}")
        said = listening_on(service.log, start)
        if said:
            service.url = f"http://{said}"
            status, _, body = service.request("/login")
            assert status == 200, body[:500]
            return service
        time.sleep(0.5)
    service.stop()
    pytest.fail(f"the service did not say where it listens within {START_TIMEOUT} s:\n{service.tail()}")


_SHARED: dict[str, Service] = {}


def shared_service(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Service:
    """The session's SQLite service, started on first use and stopped at the end of the session."""
    if "sqlite" not in _SHARED:
        service = start_service(make_course(tmp_path_factory, "service-sqlite"),
                                "--max-per-student", "6", "--rate-window", "3600")
        _SHARED["sqlite"] = service
        request.addfinalizer(service.stop)
    return _SHARED["sqlite"]


# --- PostgreSQL -----------------------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    """A PostgreSQL server program: on PATH, else in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/" + name))
    if versions:
        return str(versions[-1])
    pytest.fail(f"PostgreSQL's {name} is missing: the service's PostgreSQL tests need Debian's postgresql package "
                f"(sudo apt-get install postgresql; python3 dev.py test installs it when run as root)")


@dataclass
class Postgres:
    url: str
    datadir: Path
    run_as: list[str]

    def new_database(self, name: str) -> str:
        """A new, empty database on this server; its URL."""
        from sqlalchemy import create_engine, text

        from autograder.service.db import normalise_url

        engine = create_engine(normalise_url(self.url), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        subprocess.run([*self.run_as, _pg_bin("pg_ctl"), "-D", str(self.datadir), "-m", "fast", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_postgres() -> Postgres:
    """A PostgreSQL server of its own in a new temporary folder on a free loopback port (trust auth,
    loopback only); the folder is outside pytest's (whose parents only root may enter)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="autograder-pg-"))
    datadir, sockets = folder / "data", folder / "sock"
    sockets.mkdir(exist_ok=True)
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        user = pwd.getpwnam("nobody")
        for p in (folder, sockets):
            os.chown(p, user.pw_uid, user.pw_gid)
        run_as = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
    proc = subprocess.run([*run_as, _pg_bin("initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres",
                           "--no-sync", "-E", "UTF8"], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"initdb failed, so PostgreSQL cannot run here: {proc.stderr or proc.stdout}")
    # PostgreSQL takes no port 0: a free port is picked here, and another one if something took it before
    # the server bound it
    for _ in range(5):
        port = free_port()
        logfile = folder / f"postgres-{port}.log"
        proc = subprocess.run([*run_as, _pg_bin("pg_ctl"), "-D", str(datadir), "-l", str(logfile), "-w", "-t", "120",
                               "-o", f"-p {port} -k {sockets} -c listen_addresses={HOST} -c fsync=off", "start"],
                              capture_output=True, text=True, timeout=180)
        log = logfile.read_text(errors="replace") if logfile.exists() else ""
        if proc.returncode == 0 or "Address already in use" not in log:
            break
    if proc.returncode != 0:
        pytest.fail(f"PostgreSQL did not start: {proc.stderr or proc.stdout}\n{log[-2000:]}")
    return Postgres(f"postgresql://postgres@{HOST}:{port}/postgres", datadir, run_as)
