"""Benchmark: the grading service under load, killed in the middle and restarted.

Run: ``python benchmarks/service.py [--clients 50] [--notebooks 200] [--workers N] [--no-kill] [--db URL]
[--keep DIR]``.

It generates chapter 2's assignment in a temporary course folder, puts ``--clients`` students in
nbgrader's roster, issues their tokens with ``python -m autograder tokens``, starts ``python -m
autograder serve`` on loopback, and runs one thread per client: each submits its share of the
``--notebooks`` notebooks of mixed quality (full, partial, untouched, and a broken answer: a quarter
each; every one a distinct file) one after another through the JSON API, and waits for each grade
before the next. Unless ``--no-kill``, the service is killed (``SIGKILL`` to its process group, Dask
workers included) once a third of the notebooks are graded, and started again; clients keep polling
through the outage.

It prints, measured in this run: the wall time, notebooks graded per minute, the time to feedback
(upload accepted -> grade visible) median, 90th percentile and maximum, and it checks that every
notebook was graded exactly once (the service's event log), with the score its kind must get, and
that nbgrader's gradebook holds each student's latest grade. It exits non-zero if a check fails.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ch2_gradient_descent"
KINDS = ("full", "partial", "untouched", "broken")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _run(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=PROJECT_ROOT, env=_env(),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark: autograder {args[0]} failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    return proc.stdout


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def make_notebooks(course: Path, n: int) -> list[tuple[str, bytes]]:
    """``n`` distinct notebooks, a quarter of each kind (each made distinct by a comment cell)."""
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    answers = {_grade_id(c): c.source for c in source.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")
               and c.cell_type == "code"}
    ids = sorted(answers)
    out = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        nb = nbformat.from_dict(json.loads(json.dumps(release)))
        for cell in nb.cells:
            gid = _grade_id(cell)
            if gid in answers and (kind == "full" or (kind in ("partial", "broken") and gid in ids[:2])):
                cell.source = answers[gid]
            if kind == "broken" and gid == ids[0]:
                cell.source = "def oops(:\n    pass\n"
        nb.cells.append(nbformat.v4.new_markdown_cell(f"submission {i}"))
        out.append((kind, (nbformat.writes(nb) + "\n").encode()))
    return out


class Service:
    """``autograder serve`` on a port the kernel picks at the first start (never one picked here and handed
    over, which another listener could take first), and on that same port after a restart."""

    def __init__(self, course: Path, workers: int | None, db: str | None) -> None:
        self.course, self.port, self.workers, self.db = course, 0, workers, db
        self.url = ""
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "autograder", "serve", "--course-dir", str(self.course), "--port", str(self.port),
               "--lease-seconds", "10", "--max-queued", "100000"]
        cmd += ["--workers", str(self.workers)] if self.workers else []
        cmd += ["--db", self.db] if self.db else []
        path = self.course.parent / "serve.log"
        start = path.stat().st_size if path.exists() else 0
        log = open(path, "a")
        self.proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with open(path, "rb") as f:
                f.seek(start)
                said = re.search(rb"listening on 127\.0\.0\.1:(\d+) ", f.read())
            if said:
                self.port = int(said.group(1))
                self.url = f"http://127.0.0.1:{self.port}"
                return
            if self.proc.poll() is not None:
                raise SystemExit(f"benchmark: the service exited; see {path}")
            time.sleep(0.5)
        raise SystemExit("benchmark: the service did not start")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None


def call(url: str, token: str, path: str, data: bytes | None = None) -> dict | None:
    """One API call; ``None`` while the service is down (the client retries)."""
    req = urllib.request.Request(url + path, data=data, headers={"Authorization": f"Bearer {token}"},
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as err:
        raise SystemExit(f"benchmark: {path}: HTTP {err.code}: {err.read()[:300]!r}") from None
    except OSError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--notebooks", type=int, default=200)
    parser.add_argument("--workers", type=int, default=None, help="the service's grading workers (default: cores)")
    parser.add_argument("--no-kill", action="store_true", help="do not kill and restart the service midway")
    parser.add_argument("--db", default=None, help="the service's database URL (default: SQLite in the course)")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="service-bench-"))
    course = work / "course"
    try:
        print(f"generating {ASSIGNMENT} and a roster of {args.clients} students in {course}", flush=True)
        _run("assign", ASSIGNMENT, "--course-dir", str(course))
        from nbgrader.api import Gradebook

        from autograder.gradebook import course_id, db_url

        students = [f"student{i:03d}" for i in range(args.clients)]
        with Gradebook(db_url(course), course_id(course)) as gb:
            for s in students:
                gb.update_or_create_student(s)
        service = Service(course, args.workers, args.db)
        # the links' address is not used: the clients take the tokens from them, the address from the service
        _run("tokens", "--course-dir", str(course), "--base-url", "http://127.0.0.1", *(["--db", args.db] if args.db else []))
        with open(course / "service-links.csv") as f:
            tokens = {row["student"]: row["link"].split("#token=")[1] for row in csv.DictReader(f)}
        nbs = make_notebooks(course, args.notebooks)
        share = {s: [] for s in students}
        for i, item in enumerate(nbs):
            share[students[i % len(students)]].append(item)

        service.start()
        started = time.monotonic()
        feedback_times: list[float] = []
        submitted: list[tuple[str, str, int]] = []  # student, kind, id
        graded = [0]
        lock = threading.Lock()

        def client(student: str) -> None:
            for kind, data in share[student]:
                while (sub := call(service.url, tokens[student], f"/api/submissions?assignment={ASSIGNMENT}", data)) is None:
                    time.sleep(1)
                t0 = time.monotonic()
                with lock:
                    submitted.append((student, kind, sub["id"]))
                state = sub["state"]
                while state in ("queued", "grading"):
                    time.sleep(1)
                    now = call(service.url, tokens[student], f"/api/submissions/{sub['id']}")
                    state = now["state"] if now is not None else state  # None: the service is down
                with lock:
                    feedback_times.append(time.monotonic() - t0)
                    graded[0] += 1

        threads = [threading.Thread(target=client, args=(s,), daemon=True) for s in students]
        for t in threads:
            t.start()
        killed = False
        while any(t.is_alive() for t in threads):
            time.sleep(0.5)
            if not args.no_kill and not killed and graded[0] >= args.notebooks // 3:
                print(f"killing the service after {graded[0]} grades (SIGKILL to its process group)", flush=True)
                service.kill()
                killed = True
                service.start()
                print("service restarted", flush=True)
        wall = time.monotonic() - started
        service.kill(signal.SIGTERM)

        problems = check(course, args.db, submitted, students)
        print(f"\n{len(submitted)} notebooks from {args.clients} clients, {args.workers or os.cpu_count()} grading "
              f"worker(s){', killed and restarted once' if killed else ''}")
        print(f"wall time: {wall:.1f} s; {60 * len(submitted) / wall:.1f} notebooks graded per minute")
        q = statistics.quantiles(feedback_times, n=10) if len(feedback_times) >= 2 else feedback_times * 9
        print(f"time to feedback: median {statistics.median(feedback_times):.1f} s, 90th percentile {q[8]:.1f} s, "
              f"max {max(feedback_times):.1f} s")
        for p in problems:
            print(f"PROBLEM: {p}")
        print("all graded exactly once, with the expected scores" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def check(course: Path, db: str | None, submitted: list[tuple[str, str, int]], students: list[str]) -> list[str]:
    """Exactly-once grading and expected scores, from the service's tables and nbgrader's gradebook."""
    from sqlalchemy import select

    from autograder.service import db as service_db

    sessions = service_db.connect(db or service_db.default_url(course))
    with sessions() as s:
        rows = {r.id: r for r in s.scalars(select(service_db.Submission))}
        events = s.execute(select(service_db.Event.submission_id, service_db.Event.kind)).all()
    once: dict[int, int] = {}
    for sid, kind in events:
        if kind in ("graded", "graded-recovered"):
            once[sid] = once.get(sid, 0) + 1
    problems = []
    scores: dict[str, set[float]] = {}
    for student, kind, sid in submitted:
        row = rows[sid]
        if row.state != service_db.GRADED:
            problems.append(f"submission {sid} is {row.state}: {row.error}")
        if once.get(sid) != 1:
            problems.append(f"submission {sid} was graded {once.get(sid, 0)} times")
        scores.setdefault(kind, set()).add(row.score)
    for kind, found in scores.items():
        if len(found) != 1:
            problems.append(f"notebooks of kind {kind} got different scores: {sorted(found)}")
    if scores.get("full") == scores.get("untouched"):
        problems.append("full and untouched notebooks got the same score")
    from nbgrader.api import Gradebook

    from autograder.gradebook import course_id, db_url

    latest = {student: sid for student, _, sid in sorted(submitted, key=lambda x: x[2])}
    with Gradebook(db_url(course), course_id(course)) as gb:
        for student, sid in latest.items():
            if gb.find_submission(ASSIGNMENT, student).score != rows[sid].score:
                problems.append(f"{student}: gradebook score differs from their latest submission's")
    return problems


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT_ROOT))
    sys.exit(main())
