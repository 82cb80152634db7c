"""The web service (``python -m autograder serve``): Tornado, as Jupyter uses, with pages over a JSON API.

Who may do what. Every handler but the sign-in page needs a valid token: an API client sends it as
``Authorization: Bearer <token>``; a browser signs in once (``POST /login``) and then carries a signed,
``HttpOnly``, ``SameSite=Strict`` cookie naming the token, checked against the database on every
request (a revoked token signs out at once). A student sees and submits only their own work; the
instructor's token (``tokens --instructor``) sees everything and may regrade. Forms carry Tornado's
``_xsrf`` token (``xsrf_cookies``), and a cookie-authenticated API call must send it in ``X-XSRFToken``;
a bearer-token call needs none (a token is not sent by the browser on its own, so it cannot be forged
across sites).

Pages are plain HTML built here with every value escaped; the feedback page is ``grade-all``'s own HTML,
served with a Content-Security-Policy that allows no script, no request and no framing.
``docs/SERVICE.md`` documents the API.
"""

from __future__ import annotations

import html
import json
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import tornado.web
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from autograder.course import known_assignments
from autograder.service import tokens
from autograder.service.db import FAILED, GRADED, GRADING, INSTRUCTOR, QUEUED, STUDENT, Submission, cookie_secret
from autograder.service.intake import Rejected, UploadLimits, accept
from autograder.service.queue import Queue

SESSION_COOKIE = "autograder_session"
#: Headers on every response: no framing, no sniffing, no referrer.
SECURITY_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
#: The feedback page may only style itself.
FEEDBACK_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; form-action 'none'"
#: The service's pages: their own inline script and style only.
PAGE_CSP = "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'"
#: Rows the instructor's page lists.
MAX_LISTED = 1000


@dataclass
class Service:
    """What the handlers share."""

    course_dir: Path
    sessions: sessionmaker[Session]
    queue: Queue
    limits: UploadLimits
    #: Serialises uploads (their rate and queue counts) when handlers run in threads.
    lock: threading.Lock


def submission_json(row: Submission) -> dict[str, Any]:
    """A submission as the API shows it (never a path, never the feedback's text: that has its own URL)."""
    return {"id": row.id, "student": row.student, "assignment": row.assignment, "state": row.state,
            "submitted_at": row.timestamp, "score": row.score, "max_score": row.max_score,
            "late_penalty": row.late_penalty, "error": row.error,
            "started_at": _iso(row.started_at), "finished_at": _iso(row.finished_at),
            "feedback_url": f"/submissions/{row.id}/feedback" if row.state == GRADED else None}


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() + "Z" if when else None


def refused(status: int, message: str) -> tornado.web.HTTPError:
    """An error for the client; its message (any text) goes in the body, never in the status line."""
    err = tornado.web.HTTPError(status)
    err.message = message
    return err


class Base(tornado.web.RequestHandler):
    """Authentication, JSON errors for the API, security headers."""

    api = False

    @property
    def service(self) -> Service:
        return self.settings["service"]

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)
        self.set_header("Content-Security-Policy", PAGE_CSP)
        self.set_header("Cache-Control", "no-store")

    def _bearer(self) -> str | None:
        header = self.request.headers.get("Authorization", "")
        return header[7:].strip() if header.startswith("Bearer ") else None

    def get_current_user(self) -> tokens.Identity | None:
        bearer = self._bearer()
        if bearer is not None:
            return tokens.authenticate(self.service.sessions, bearer)
        raw = self.get_signed_cookie(SESSION_COOKIE, max_age_days=31)
        if not raw:
            return None
        try:
            data = json.loads(raw)
            ident = tokens.Identity(data["role"], data["student"], int(data["token"]))
        except (ValueError, KeyError, TypeError):
            return None
        return ident if tokens.token_is_active(self.service.sessions, ident.token_id) else None

    def check_xsrf_cookie(self) -> None:
        if self._bearer() is not None:  # a bearer token is never sent by a browser on its own
            return
        super().check_xsrf_cookie()

    def prepare(self) -> None:
        if self.current_user is None:
            if self.api or self.request.method != "GET":
                raise refused(401, "a valid token is needed")
            self.redirect("/login")

    def require(self, role: str) -> tokens.Identity:
        user = self.current_user
        if user.role != role:
            raise refused(403, f"this needs the {role}'s token")
        return user

    def visible(self, submission_id: int) -> Submission:
        """A submission the current user may see (their own; any, for the instructor), else 404."""
        with self.service.sessions() as s:
            row = s.get(Submission, submission_id)
        user = self.current_user
        if row is None or (user.role != INSTRUCTOR and row.student != user.student):
            raise refused(404, "no such submission")
        return row

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        reason = getattr(exc, "message", None) or self._reason
        if self.api or self.request.path.startswith("/api/"):
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"error": reason, "status": status_code}))
        else:
            self.finish(page(f"{status_code}", f"<p>{html.escape(reason)}</p><p><a href='/'>Back</a></p>"))

    def upload(self, student: str, assignment: str, data: bytes) -> Submission:
        with self.service.lock:
            return accept(self.service.course_dir, self.service.sessions, student, assignment, data,
                          self.service.limits)


def page(title: str, body: str, refresh: bool = False) -> str:
    """A page of the service."""
    meta = '<meta http-equiv="refresh" content="2">' if refresh else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
{meta}<title>{html.escape(title)} - course grader</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:.2rem .5rem;text-align:left}}
.error{{color:#a00;font-weight:bold}}.state-graded{{color:#060}}.state-failed{{color:#a00}}</style></head>
<body><h1>{html.escape(title)}</h1>
{body}
</body></html>"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _score(row: Submission) -> str:
    if row.score is None:
        return ""
    text = f"{row.score:g} / {row.max_score:g}"
    return text + (f" (late: -{row.late_penalty:g})" if row.late_penalty else "")


class LoginHandler(Base):
    """``GET /login``: the sign-in form (a link's ``#token=...`` fills and sends it); ``POST /login``."""

    def prepare(self) -> None:  # the only page without a token
        pass

    def get(self) -> None:
        self.render_form()

    def render_form(self, error: str = "") -> None:
        note = f'<p class="error" role="alert">{_e(error)}</p>' if error else ""
        self.finish(page("Sign in", f"""{note}
<form method="post" action="/login" id="login">{self.xsrf_form_html()}
<label>Your token <input name="token" id="token" type="password" autocomplete="off" size="50"></label>
<button type="submit">Sign in</button></form>
<p>Use the personal link your instructor sent you, or paste its token.</p>
<script>
const m = location.hash.match(/token=([A-Za-z0-9_-]+)/);
if (m) {{ document.getElementById('token').value = m[1]; history.replaceState(null, '', '/login');
          document.getElementById('login').submit(); }}
</script>"""))

    def post(self) -> None:
        ident = tokens.authenticate(self.service.sessions, self.get_body_argument("token", "").strip())
        if ident is None:
            self.set_status(401)
            self.render_form("That token is not valid (mistyped, or replaced by a newer one).")
            return
        self.set_signed_cookie(SESSION_COOKIE, json.dumps({"role": ident.role, "student": ident.student,
                                                           "token": ident.token_id}),
                               expires_days=30, httponly=True, samesite="Strict",
                               secure=self.request.protocol == "https")
        self.redirect("/")


class LogoutHandler(Base):
    def post(self) -> None:
        self.clear_cookie(SESSION_COOKIE)
        self.redirect("/login")


class HomeHandler(Base):
    def get(self) -> None:
        self.redirect("/instructor" if self.current_user.role == INSTRUCTOR else "/student")


class StudentPage(Base):
    """The student's page: submit a chapter, past submissions with state, score and feedback."""

    def get(self) -> None:
        self.show()

    def show(self, error: str = "", status: int = 200) -> None:
        user = self.require(STUDENT)
        with self.service.sessions() as s:
            rows = s.scalars(select(Submission).where(Submission.student == user.student)
                             .order_by(Submission.id.desc())).all()
        chapters = "".join(f'<option value="{_e(a)}">{_e(a)}</option>' for a in known_assignments(self.service.course_dir))
        listed = "".join(
            f'<tr data-id="{r.id}"><td>{r.id}</td><td>{_e(r.assignment)}</td><td>{_e(r.timestamp)}</td>'
            f'<td class="state state-{_e(r.state)}">{_e(r.state)}</td><td>{_e(_score(r))}</td>'
            f'<td>{f"<a href=/submissions/{r.id}/feedback>feedback</a>" if r.state == GRADED else _e(r.error)}</td></tr>'
            for r in rows)
        pending = any(r.state in (QUEUED, GRADING) for r in rows)
        note = f'<p class="error" role="alert">{_e(error)}</p>' if error else ""
        self.set_status(status)
        self.finish(page(f"Submissions of {user.student}", f"""{note}
<form method="post" action="/student/submit" enctype="multipart/form-data">{self.xsrf_form_html()}
<label>Chapter <select name="assignment" id="assignment">{chapters}</select></label>
<label>Notebook <input type="file" name="notebook" id="notebook" accept=".ipynb"></label>
<button type="submit">Submit</button></form>
<h2>Your submissions</h2>
<table id="submissions"><thead><tr><th>#</th><th>Chapter</th><th>Submitted (UTC)</th><th>State</th><th>Score</th>
<th>Feedback</th></tr></thead><tbody>{listed}</tbody></table>
<form method="post" action="/logout">{self.xsrf_form_html()}<button type="submit">Sign out</button></form>""",
                         refresh=pending and not error))

    def post(self) -> None:
        user = self.require(STUDENT)
        files = self.request.files.get("notebook") or []
        if len(files) != 1:
            self.show("Choose one notebook file to submit.", 400)
            return
        try:
            self.upload(user.student, self.get_body_argument("assignment", ""), files[0]["body"])
        except Rejected as err:
            self.show(f"Not accepted: {err}", err.status)
            return
        self.redirect("/student", status=303)


class FeedbackHandler(Base):
    """``grade-all``'s HTML feedback of one submission, under a policy that lets it run nothing."""

    def get(self, submission_id: str) -> None:
        row = self.visible(int(submission_id))
        if row.state != GRADED or row.feedback_html is None:
            raise refused(404, f"submission {row.id} is {row.state}, not graded yet")
        self.set_header("Content-Security-Policy", FEEDBACK_CSP)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(row.feedback_html)


class InstructorPage(Base):
    """The queue, every submission with its result (filter by student), regrade, report and exports."""

    def get(self) -> None:
        self.require(INSTRUCTOR)
        student = self.get_query_argument("student", None)
        with self.service.sessions() as s:
            query = select(Submission).order_by(Submission.id.desc()).limit(MAX_LISTED)
            if student:
                query = query.where(Submission.student == student)
            rows = s.scalars(query).all()
        counts = self.service.queue.counts()
        xsrf = self.xsrf_form_html()
        listed = "".join(
            f'<tr><td>{r.id}</td><td><a href="/instructor?student={_e(r.student)}">{_e(r.student)}</a></td>'
            f'<td>{_e(r.assignment)}</td><td>{_e(r.timestamp)}</td><td class="state-{_e(r.state)}">{_e(r.state)}</td>'
            f'<td>{_e(_score(r))}</td><td>{f"<a href=/submissions/{r.id}/feedback>feedback</a>" if r.state == GRADED else _e(r.error)}</td>'
            f'<td>{f"""<form method=post action=/instructor/regrade/{r.id}>{xsrf}<button>regrade</button></form>""" if r.state in (GRADED, FAILED) else ""}</td></tr>'
            for r in rows)
        queue = ", ".join(f"{n} {state}" for state, n in counts.items())
        self.finish(page("Instructor", f"""<p id="queue">Queue: {_e(queue)}</p>
<p><a href="/instructor/export/canvas">Canvas grades CSV</a> · <a href="/instructor/export/moodle">Moodle grades CSV</a> ·
<a href="/instructor/export/csv">plain CSV</a></p>
<form method="post" action="/instructor/report">{xsrf}<button>Write the class report</button></form>
<p><a href="/instructor/report/index.html">Open the class report</a> (after writing it)</p>
<h2>Submissions{f" of {_e(student)}" if student else ""}</h2>
<table><thead><tr><th>#</th><th>Student</th><th>Chapter</th><th>Submitted (UTC)</th><th>State</th><th>Score</th>
<th>Feedback</th><th></th></tr></thead><tbody>{listed}</tbody></table>
<form method="post" action="/logout">{xsrf}<button type="submit">Sign out</button></form>""",
                         refresh=counts[QUEUED] + counts[GRADING] > 0))


class RegradeHandler(Base):
    def post(self, submission_id: str) -> None:
        self.require(INSTRUCTOR)
        if not self.service.queue.regrade(int(submission_id)):
            raise refused(409, "only a graded or failed submission can be regraded")
        if self.api:
            self.finish({"id": int(submission_id), "state": QUEUED})
        else:
            self.redirect("/instructor", status=303)


class ApiRegradeHandler(RegradeHandler):
    api = True


def _term_args(course_dir: Path, **extra: Any) -> Any:
    import argparse

    return argparse.Namespace(course_dir=course_dir, **extra)


class ReportHandler(Base):
    """``POST /instructor/report`` writes the class report (``python -m autograder report``)."""

    async def post(self) -> None:
        self.require(INSTRUCTOR)
        import asyncio
        import contextlib
        import io

        from autograder.course import CourseError
        from autograder.term import report

        args = _term_args(self.service.course_dir, output=None, low=50.0)
        out = io.StringIO()

        def run() -> None:
            with contextlib.redirect_stdout(out):
                report.report_main(args)
        try:
            await asyncio.get_running_loop().run_in_executor(None, run)
        except CourseError as err:
            raise refused(409, str(err)) from None
        self.redirect("/instructor/report/index.html", status=303)


class ReportFiles(Base, tornado.web.StaticFileHandler):
    """The report's files, to the instructor only."""

    def prepare(self) -> None:
        Base.prepare(self)
        if not self._finished:
            self.require(INSTRUCTOR)

    def set_default_headers(self) -> None:
        Base.set_default_headers(self)
        self.set_header("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'")


class ExportHandler(Base):
    """``GET /instructor/export/<canvas|moodle|csv>``: the grades for an LMS (``python -m autograder export``)."""

    async def get(self, fmt: str) -> None:
        self.require(INSTRUCTOR)
        import asyncio
        import contextlib
        import io
        import tempfile

        from autograder.course import CourseError
        from autograder.term import export

        with tempfile.TemporaryDirectory() as tmp:
            output = Path(tmp) / f"grades-{fmt}.csv"
            args = _term_args(self.service.course_dir, format=fmt, output=output, assignment=None,
                              by_exercise=False, missing_as_zero=False)

            def run() -> None:
                with contextlib.redirect_stdout(io.StringIO()):
                    export.export_main(args)
            try:
                await asyncio.get_running_loop().run_in_executor(None, run)
            except CourseError as err:
                raise refused(409, str(err)) from None
            data = output.read_bytes()
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="grades-{fmt}.csv"')
        self.finish(data)


# --- the JSON API ---------------------------------------------------------------------------------


class ApiBase(Base):
    api = True

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Type", "application/json")


class MeHandler(ApiBase):
    def get(self) -> None:
        user = self.current_user
        self.finish({"role": user.role, "student": user.student})


class AssignmentsHandler(ApiBase):
    def get(self) -> None:
        self.finish({"assignments": known_assignments(self.service.course_dir)})


class SubmissionsHandler(ApiBase):
    """``GET``: the caller's submissions (the instructor's: all, ``?student=``, ``?state=``); ``POST``: submit."""

    def get(self) -> None:
        user = self.current_user
        query = select(Submission).order_by(Submission.id)
        if user.role != INSTRUCTOR:
            query = query.where(Submission.student == user.student)
        elif self.get_query_argument("student", None):
            query = query.where(Submission.student == self.get_query_argument("student"))
        if self.get_query_argument("state", None):
            query = query.where(Submission.state == self.get_query_argument("state"))
        with self.service.sessions() as s:
            rows = s.scalars(query).all()
        self.finish({"submissions": [submission_json(r) for r in rows]})

    def post(self) -> None:
        user = self.require(STUDENT)
        assignment = self.get_query_argument("assignment", None) or self.get_body_argument("assignment", "")
        files = self.request.files.get("notebook") or []
        data = files[0]["body"] if len(files) == 1 else self.request.body
        try:
            row = self.upload(user.student, assignment, data)
        except Rejected as err:
            raise refused(err.status, str(err)) from None
        self.set_status(201)
        self.set_header("Location", f"/api/submissions/{row.id}")
        self.finish(submission_json(row))


class SubmissionHandler(ApiBase):
    def get(self, submission_id: str) -> None:
        self.finish(submission_json(self.visible(int(submission_id))))


class QueueHandler(ApiBase):
    def get(self) -> None:
        self.require(INSTRUCTOR)
        self.finish(self.service.queue.counts())


class ApiFeedbackHandler(FeedbackHandler):
    api = True


class NotFound(Base):
    def prepare(self) -> None:
        Base.prepare(self)
        if not self._finished:  # not already sent to the sign-in page
            raise refused(404, "not found")


def make_app(service: Service) -> tornado.web.Application:
    """The Tornado application of a service."""
    report_dir = service.course_dir / "report"
    return tornado.web.Application([
        (r"/", HomeHandler),
        (r"/login", LoginHandler),
        (r"/logout", LogoutHandler),
        (r"/student", StudentPage),
        (r"/student/submit", StudentPage),
        (r"/submissions/(\d+)/feedback", FeedbackHandler),
        (r"/instructor", InstructorPage),
        (r"/instructor/regrade/(\d+)", RegradeHandler),
        (r"/instructor/report", ReportHandler),
        (r"/instructor/report/(.*)", ReportFiles, {"path": str(report_dir)}),
        (r"/instructor/export/(canvas|moodle|csv)", ExportHandler),
        (r"/api/me", MeHandler),
        (r"/api/assignments", AssignmentsHandler),
        (r"/api/submissions", SubmissionsHandler),
        (r"/api/submissions/(\d+)", SubmissionHandler),
        (r"/api/submissions/(\d+)/feedback", ApiFeedbackHandler),
        (r"/api/submissions/(\d+)/regrade", ApiRegradeHandler),
        (r"/api/queue", QueueHandler),
    ], default_handler_class=NotFound, service=service, cookie_secret=cookie_secret(service.sessions),
        xsrf_cookies=True, xsrf_cookie_kwargs={"httponly": False, "samesite": "Strict"})


def serve_main(args: Any) -> int:
    """``autograder serve``: the web service and its grading loop, until interrupted."""
    import asyncio

    import tornado.httpserver
    import tornado.netutil

    from autograder.grading.options import limits_from_args, max_notebook_bytes, sandbox_mode
    from autograder.service.db import connect, resolve_url
    from autograder.service.worker import Grader, Worker

    course_dir: Path = args.course_dir.resolve()
    url = resolve_url(course_dir, args.db)
    sessions = connect(url)
    queue = Queue(sessions, lease_seconds=args.lease_seconds)
    limits = UploadLimits(max_bytes=max_notebook_bytes(args), per_student=args.max_per_student,
                          window_seconds=args.rate_window, max_queued=args.max_queued)
    service = Service(course_dir, sessions, queue, limits, threading.Lock())
    grader = Grader(course_dir, workers=args.workers, scheduler=args.scheduler, sandbox=sandbox_mode(args),
                    limits=limits_from_args(args), max_bytes=limits.max_bytes)

    if course_dir.is_dir() and course_dir.stat().st_mode & 0o005:  # others may enter it (the umask's mode)
        print(f"autograder serve: note: other users of this machine can read {course_dir} (its submissions, "
              f"grades and source notebooks with the hidden checks); `chmod 700 {course_dir}` keeps it to you",
              file=sys.stderr)
    # The port (or Unix socket) is bound before the cluster starts: one in use is said at once, and none of
    # the cluster's own listeners (which take free ports) can take it first. Port 0 lets the kernel choose;
    # the "listening on" line says which.
    unix_socket = getattr(args, "unix_socket", None)
    try:
        if unix_socket is not None:
            sockets = [tornado.netutil.bind_unix_socket(str(unix_socket), mode=0o660)]
        else:
            sockets = tornado.netutil.bind_sockets(args.port, address=args.host)
    except (OSError, ValueError) as err:  # ValueError: a file that is not a socket is in the way
        asked = f"unix:{unix_socket}" if unix_socket is not None else f"{args.host}:{args.port}"
        print(f"autograder serve: cannot listen on {asked}: {getattr(err, 'strerror', None) or err}",
              file=sys.stderr)
        return 2
    listening = f"unix:{unix_socket}" if unix_socket is not None else f"{args.host}:{sockets[0].getsockname()[1]}"

    async def main() -> None:
        app = make_app(service)
        # through a Unix socket only the proxy (the socket folder's group) reaches the service: it is behind one
        server = tornado.httpserver.HTTPServer(app, xheaders=args.behind_proxy or unix_socket is not None,
                                               max_body_size=2 * limits.max_bytes + 2**20)
        server.add_sockets(sockets)
        where = ("https://<your proxy>" if args.behind_proxy or unix_socket is not None
                 else f"http://{listening}")
        print(f"autograder serve: listening on {listening} ({where}); database {_safe_url(url)}; "
              f"course {course_dir}", file=sys.stderr, flush=True)
        await asyncio.Event().wait()

    try:
        with grader:
            worker = Worker(course_dir, sessions, grader, queue, sole=url.startswith("sqlite"))
            worker.start_up()
            thread = threading.Thread(target=worker.run, name="grading", daemon=True)
            thread.start()
            try:
                asyncio.run(main())
            except KeyboardInterrupt:
                pass
            finally:
                worker.stop.set()
                thread.join(timeout=10)
    finally:
        for sock in sockets:
            sock.close()
        if unix_socket is not None:
            unix_socket.unlink(missing_ok=True)
    return 0


def _safe_url(url: str) -> str:
    """A database URL without its password, for the log."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
