"""The grading service attacked (markers ``hostile`` and ``service``): no token, a wrong or revoked one,
another student's work, cross-site forms, oversized and non-notebook uploads, path tricks in names,
a flood from one student, a full queue. Nothing refused may be stored anywhere.

Most cases run against the session's SQLite service (:func:`service_fixture.shared_service`); the
queue and token rules are also checked on the service's own functions with a fresh database.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest
from service_fixture import Service
from sqlalchemy import func, select
from test_grade import ASSIGNMENT, OTHER_ASSIGNMENT, generated_course, run_cli

from autograder.course import CourseError
from autograder.service import db, tokens
from autograder.service.intake import Rejected, UploadLimits, accept

pytestmark = [pytest.mark.hostile, pytest.mark.service]

#: Every route of the service but the sign-in page, with a method.
ROUTES = [("GET", "/"), ("GET", "/student"), ("GET", "/instructor"), ("GET", "/submissions/1/feedback"),
          ("GET", "/api/me"), ("GET", "/api/assignments"), ("GET", "/api/submissions"), ("POST", "/api/submissions"),
          ("GET", "/api/submissions/1"), ("GET", "/api/submissions/1/feedback"), ("POST", "/api/submissions/1/regrade"),
          ("GET", "/api/queue"), ("GET", "/instructor/export/csv"), ("POST", "/instructor/report"),
          ("GET", "/instructor/report/index.html"), ("GET", "/no/such/page")]


def count_rows(service: Service) -> int:
    sessions = db.connect(db.default_url(service.course))
    with sessions() as s:
        return s.scalar(select(func.count(db.Submission.id)))


SQLITE_SCRATCH = ("-journal", "-wal", "-shm")


def quiet_state(service: Service) -> tuple[int, set[Path]]:
    """The submissions' count and the course's files, taken once the service is idle (an earlier test's
    submission may still be grading, and its feedback would appear between this test's two snapshots)."""
    service.wait_idle()
    return count_rows(service), files_under(service.course)


def files_under(folder: Path) -> set[Path]:
    """The files kept under `folder`. SQLite's own scratch files (a rollback journal that lives only
    while a write is under way, the WAL and its index) come and go with other students' grading and are
    not anything an upload stored."""
    return {p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(SQLITE_SCRATCH)}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def raw(service: Service, method: str, path: str, token: str | None = None, data: bytes | None = None,
        headers: dict[str, str] | None = None, opener=None) -> tuple[int, dict, bytes]:
    """A request that does not follow redirects."""
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    if method == "POST" and data is None:
        data = b""
    req = urllib.request.Request(service.url + path, data=data, headers=h, method=method)
    opener = opener or urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=120) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.mark.parametrize("token", [None, "", "not-a-token", "x" * 5000, "Bearer"])
def test_every_route_refuses_a_request_without_a_valid_token(service: Service, token: str | None) -> None:
    for method, path in ROUTES:
        status, headers, body = raw(service, method, path, token)
        if method == "GET" and not path.startswith("/api/"):  # a page: sent to the sign-in page
            assert status == 302 and headers["Location"] == "/login", (method, path, status)
        else:
            assert status in (401, 403), (method, path, status, body[:200])
            assert b"<table" not in body and b'"submissions"' not in body and b"alice" not in body


def test_a_reissued_token_revokes_the_old_one(service: Service) -> None:
    old = service.tokens["erin"]
    assert service.api("/api/me", old)[0] == 200
    proc = run_cli("tokens", "--course-dir", str(service.course), "--base-url", service.url, "--student", "erin",
                   "--reissue", "--output", str(service.course.parent / "erin.csv"))
    assert proc.returncode == 0, proc.stderr
    new = (service.course.parent / "erin.csv").read_text().split("#token=")[1].strip()
    assert service.api("/api/me", old)[0] == 401
    assert service.api("/api/me", new) == (200, {"role": "student", "student": "erin"})
    service.tokens["erin"] = new


def test_tokens_are_stored_hashed(service: Service) -> None:
    stored = (service.course / db.DEFAULT_DB_FILE).read_bytes()
    wal = service.course / (db.DEFAULT_DB_FILE + "-wal")
    stored += wal.read_bytes() if wal.exists() else b""
    for token in [*service.tokens.values(), service.instructor]:
        assert token.encode() not in stored
        assert tokens.digest(token).encode() in stored


def test_a_student_sees_and_changes_only_their_own_work(service: Service, kinds: dict) -> None:
    """Bob cannot read, list, regrade or submit as Alice, nor reach the instructor's pages."""
    status, created = service.submit("alice", kinds["untouched"][0])
    assert status == 201
    service.wait_graded([created["id"]])
    bob = service.tokens["bob"]
    for path in (f"/api/submissions/{created['id']}", f"/api/submissions/{created['id']}/feedback",
                 f"/submissions/{created['id']}/feedback"):
        status, _, body = service.request(path, bob)
        assert status == 404 and b"alice" not in body, path
    status, body = service.api("/api/submissions", bob)
    assert status == 200 and all(s["student"] == "bob" for s in body["submissions"])
    for method, path in (("POST", f"/api/submissions/{created['id']}/regrade"), ("GET", "/api/queue"),
                         ("GET", "/instructor"), ("GET", "/instructor/export/canvas"), ("POST", "/instructor/report"),
                         ("GET", "/instructor/report/index.html")):
        status, _, _ = raw(service, method, path, bob)
        assert status == 403, (method, path, status)
    # naming another student in the request changes nothing: the token decides whose work it is
    status, sub = service.api(f"/api/submissions?assignment={ASSIGNMENT}&student=alice", bob, kinds["untouched"][0])
    assert status == 201 and sub["student"] == "bob"
    # and the instructor cannot submit as anyone
    status, _ = service.api(f"/api/submissions?assignment={ASSIGNMENT}", service.instructor, kinds["untouched"][0])
    assert status == 403


def test_forms_are_protected_against_cross_site_requests(service: Service, kinds: dict) -> None:
    """Signed in with the cookie, a form or API call without the _xsrf token is refused (403), one with it works."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    status, _, page = raw(service, "GET", "/login", opener=opener)
    xsrf = re.search(rb'name="_xsrf" value="([^"]+)"', page).group(1).decode()
    form = urllib.parse.urlencode({"token": service.tokens["dave"]}).encode()
    status, _, _ = raw(service, "POST", "/login", data=form, opener=opener)
    assert status == 403  # even signing in needs the form's token
    form = urllib.parse.urlencode({"token": service.tokens["dave"], "_xsrf": xsrf}).encode()
    status, headers, _ = raw(service, "POST", "/login", data=form, opener=opener)
    assert status == 302 and headers["Location"] == "/"
    cookie = next(c for c in jar if c.name == "autograder_session")
    assert cookie.has_nonstandard_attr("HttpOnly") or "httponly" in str(cookie._rest).lower()
    assert raw(service, "GET", "/student", opener=opener)[0] == 200
    before = count_rows(service)
    status, _, _ = raw(service, "POST", f"/api/submissions?assignment={ASSIGNMENT}", data=kinds["untouched"][0],
                       opener=opener)
    assert status == 403
    status, _, _ = raw(service, "POST", "/logout", opener=opener)
    assert status == 403
    assert count_rows(service) == before
    status, _, _ = raw(service, "POST", f"/api/submissions?assignment={ASSIGNMENT}", data=kinds["untouched"][0],
                       headers={"X-XSRFToken": xsrf}, opener=opener)
    assert status == 201


def _not_a_notebook(template: Path) -> dict[str, bytes]:
    release = nbformat.read(template / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    other = release.copy()
    other.metadata = {**release.metadata, "autograder": {"assignment": OTHER_ASSIGNMENT}}
    return {"text": b"print('hello')\n", "empty": b"", "binary": bytes(range(256)) * 64,
            "zip": b"PK\x03\x04" + b"\0" * 200, "not UTF-8": b'{"cells": [], "nbformat": 4, "x": "\xff"}',
            "JSON list": b"[1, 2, 3]", "JSON without cells": b'{"nbformat": 4}',
            "nested": b"[" * 100_000 + b"]" * 100_000,
            "wide": b'{"cells": [' + b"{}," * 3_000_000 + b"{}]}",
            "another chapter's notebook": (nbformat.writes(other) + "\n").encode()}


def test_uploads_that_are_not_a_notebook_of_the_chapter_are_refused_and_not_stored(
        service: Service, tmp_path_factory: pytest.TempPathFactory) -> None:
    before, files = quiet_state(service)
    for name, data in _not_a_notebook(generated_course(tmp_path_factory)).items():
        status, body = service.submit("dave", data)
        assert status == 400 and "error" in body, (name, status, body)
        assert str(service.course) not in body["error"]
    for assignment in ("ch99_nothing", "../" + ASSIGNMENT, f"{ASSIGNMENT}/../../x", "/etc/passwd", ""):
        status, body = service.submit("dave", b"{}", urllib.parse.quote(assignment, safe=""))
        assert status == 400, (assignment, status, body)
    assert count_rows(service) == before
    assert files_under(service.course) == files


def test_oversized_uploads_are_refused_and_not_stored(service: Service, kinds: dict) -> None:
    from autograder.safe_io import MAX_NOTEBOOK_BYTES

    before, files = quiet_state(service)
    base = kinds["untouched"][0]
    padded = base[:-3] + b' ' * (MAX_NOTEBOOK_BYTES + 10) + base[-3:]  # still a valid notebook's JSON, too big
    status, body = service.submit("dave", padded)
    assert status == 413 and "MB" in body["error"]
    try:  # far over the cap: the server stops reading (an error status or a closed connection)
        status, _ = service.submit("dave", b" " * (3 * MAX_NOTEBOOK_BYTES))
        assert status in (400, 413)
    except (urllib.error.URLError, ConnectionError):
        pass
    assert count_rows(service) == before
    assert files_under(service.course) == files


def test_path_tricks_in_file_names_are_ignored(service: Service, kinds: dict) -> None:
    """A multipart upload's file name is never used: the notebook is filed as <chapter>.ipynb under the
    token's student, and nothing appears anywhere else."""
    outside = service.course.parent
    service.wait_idle()
    before = files_under(outside) - files_under(service.course)
    ids = []
    for filename in ("../../../escaped.ipynb", "/tmp/escaped.ipynb", "..\\..\\escaped.ipynb", "a/b/../../../escaped.ipynb"):
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"assignment\"\r\n\r\n{ASSIGNMENT}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"notebook\"; filename=\"{filename}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + kinds["untouched"][0] + \
               f"\r\n--{boundary}--\r\n".encode()
        status, _, data = service.request("/api/submissions", service.tokens["erin"], body, "POST",
                                          {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert status == 201, data
        ids.append(json.loads(data)["id"])
    assert files_under(outside) - files_under(service.course) == before
    assert not Path("/tmp/escaped.ipynb").exists()
    assert not list(service.course.rglob("escaped.ipynb"))
    submitted = service.course / "submitted" / "erin" / ASSIGNMENT
    assert sorted(p.name for p in submitted.iterdir()) == [f"{ASSIGNMENT}.ipynb", "timestamp.txt"]
    service.wait_graded(ids)


def test_a_flood_from_one_student_is_cut_at_their_rate(service: Service, kinds: dict) -> None:
    """The shared service allows 6 submissions per student per hour: the 7th and later are refused (429)."""
    statuses = [service.submit("frank", kinds["untouched"][0])[0] for _ in range(10)]
    assert statuses == [201] * 6 + [429] * 4
    assert service.api("/api/me", service.tokens["frank"])[0] == 200  # refused uploads, not a locked account
    status, body = service.api("/api/submissions", service.tokens["frank"])
    service.wait_graded([s["id"] for s in body["submissions"]])


# --- the rules on the service's own functions, with a fresh database -------------------------------


@pytest.fixture
def fresh(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """A course copy (no service running) and a new SQLite database."""
    import shutil

    course = tmp_path / "course"
    shutil.copytree(generated_course(tmp_path_factory), course)
    return course, db.connect(db.default_url(course))


def test_a_full_queue_refuses_uploads_until_it_drains(fresh, kinds: dict) -> None:
    course, sessions = fresh
    limits = UploadLimits(max_queued=2)
    data = kinds["untouched"][0]
    accept(course, sessions, "alice", ASSIGNMENT, data, limits)
    accept(course, sessions, "bob", ASSIGNMENT, data, limits)
    with pytest.raises(Rejected) as err:
        accept(course, sessions, "carol", ASSIGNMENT, data, limits)
    assert err.value.status == 503
    assert not (course / "submitted" / "carol").exists()
    with sessions.begin() as s:
        s.get(db.Submission, 1).state = db.GRADED
    assert accept(course, sessions, "carol", ASSIGNMENT, data, limits).student == "carol"


@pytest.mark.parametrize("student", ["../alice", "a/b", ".", "..", "", "x" * 300, "-rf", "a\nb", "a b"])
def test_no_token_and_no_submission_for_a_student_id_that_is_not_a_plain_name(fresh, kinds: dict, student: str) -> None:
    course, sessions = fresh
    with pytest.raises(CourseError):
        tokens.issue(sessions, db.STUDENT, student)
    with pytest.raises(Rejected):
        accept(course, sessions, student, ASSIGNMENT, kinds["untouched"][0], UploadLimits())
    assert not (course / "submitted").exists()


def _as_nobody_reads(path: Path) -> bool:
    """Whether the user ``nobody`` can read ``path`` (``cat`` run through ``setpriv``)."""
    import subprocess

    from hostile.host import as_user, nobody

    proc = subprocess.run([*as_user(*nobody()), "/bin/cat", str(path)], capture_output=True, timeout=60)
    assert proc.returncode == 0 or b"Permission denied" in proc.stderr, proc.stderr
    return proc.returncode == 0


def test_another_user_of_the_machine_cannot_read_the_services_secrets(tmp_path_factory: pytest.TempPathFactory) -> None:
    """In a course folder other users may enter (a umask of 022, the usual), the service's database
    (the key that signs its cookies: whoever reads it signs in as the instructor) with its log and
    index, and the links file (every student's token) are readable by their owner only: made so, and
    made so again if found open. The folder's other files stay readable (the control)."""
    import os
    import shutil
    import tempfile

    from nbgrader.api import Gradebook

    from autograder.gradebook import course_id, db_url

    if os.geteuid() != 0:
        pytest.skip("acting as another user (nobody) needs root; CI runs as root")
    folder = Path(tempfile.mkdtemp(prefix="service-secrets-"))  # outside pytest's folder, which is root's only
    umask = os.umask(0o022)
    try:
        os.chmod(folder, 0o755)
        course = folder / "course"
        shutil.copytree(generated_course(tmp_path_factory), course)
        os.chmod(course, 0o755)
        with Gradebook(db_url(course), course_id(course)) as gb:
            gb.update_or_create_student("ann", first_name="Ann", last_name="Test")
        secrets = [course / db.DEFAULT_DB_FILE, course / tokens.LINKS_FILE]
        for round_ in ("made", "found open"):
            proc = run_cli("tokens", "--course-dir", str(course), "--base-url", "http://127.0.0.1:8000", "--reissue")
            assert proc.returncode == 0, proc.stderr
            sessions = db.connect(db.default_url(course))  # open, so that the log and the index are there
            with sessions() as s:
                assert db.cookie_secret(sessions)
                s.connection()
                wal = [course / f"{db.DEFAULT_DB_FILE}-wal", course / f"{db.DEFAULT_DB_FILE}-shm"]
                assert all(p.exists() for p in wal)
                readable = [p.name for p in secrets + wal if _as_nobody_reads(p)]
            sessions.kw["bind"].dispose()
            assert readable == [], f"{round_}: another user can read {readable}"
            assert _as_nobody_reads(course / "nbgrader_config.py")  # the control: the folder is open to others
            for p in secrets:  # the next round finds them open, as an older version or a copy left them
                os.chmod(p, 0o644)
    finally:
        os.umask(umask)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_links_file_planted_by_another_user_is_replaced_not_written_through(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """``tokens --output`` in a folder others can write: a symbolic link planted there (to a file of the
    instructor's) is replaced, not followed, and a file planted there (another user's, open to all) is
    replaced by one of the instructor's, mode 0600: its planter can read no token."""
    import os
    import shutil

    from nbgrader.api import Gradebook

    from autograder.gradebook import course_id, db_url

    course = tmp_path / "course"
    shutil.copytree(generated_course(tmp_path_factory), course)
    with Gradebook(db_url(course), course_id(course)) as gb:
        gb.update_or_create_student("ann", first_name="Ann", last_name="Test")
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o1777)
    victim = tmp_path / "victim.txt"
    victim.write_text("the instructor's own file\n")
    output = shared / "links.csv"
    output.symlink_to(victim)
    planted = [("a symbolic link", None)]
    if os.geteuid() == 0:
        planted.append(("another user's file", 65534))
    for what, owner in planted:
        if owner is not None:
            output.unlink()
            output.write_text("planted\n")
            os.chown(output, owner, owner)
            os.chmod(output, 0o666)
        proc = run_cli("tokens", "--course-dir", str(course), "--output", str(output), "--reissue")
        assert proc.returncode == 0, proc.stderr
        assert victim.read_text() == "the instructor's own file\n", what
        st = os.lstat(output)
        assert not output.is_symlink() and st.st_uid == os.geteuid() and st.st_mode & 0o777 == 0o600, (what, st)
        assert "#token=" in output.read_text(), what
    assert sorted(p.name for p in shared.iterdir()) == ["links.csv"]  # no temporary file left
