"""Submitting to the service from a terminal (``python -m autograder submit``) or from a notebook's cell.

The functions above the line marked ``--- end of the cell's code ---`` use the standard library only,
because :func:`submit_cell` copies their source verbatim into each release notebook's "submit" cell,
which runs in a student's Python (torch, numpy and pandas, none of the course's code). So the command
and the cell are one implementation. The token is never written into a notebook: it comes from the
environment variable ``AUTOGRADER_TOKEN`` or the file ``~/.autograder-token``; the server from
``--server``, ``AUTOGRADER_SERVER`` or the cell's own setting.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

TOKEN_ENV = "AUTOGRADER_TOKEN"
SERVER_ENV = "AUTOGRADER_SERVER"
TOKEN_FILE = "~/.autograder-token"


class SubmitError(Exception):
    """Why a submission did not go through, in a sentence for the student."""


def find_token(token_file=None):
    """The student's token: ``token_file``, else ``$AUTOGRADER_TOKEN``, else ``~/.autograder-token``."""
    if token_file is None and os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV].strip()
    path = os.path.expanduser(token_file or TOKEN_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError:
        raise SubmitError(f"no token: set {TOKEN_ENV} or put the token from your sign-in link in {path}") from None
    if not token:
        raise SubmitError(f"{path} is empty; put the token from your sign-in link in it")
    if os.name == "posix" and os.stat(path).st_mode & 0o077:  # whoever reads it can submit as you
        print(f"warning: other users of this computer can read {path}, and with it submit as you; "
              f"make it yours only: chmod 600 {path}", file=sys.stderr)
    return token


def _request(server, token, path, data=None, content_type=None):
    """One call to the service's JSON API; its answer as a dict, or SubmitError with the service's reason."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(server.rstrip("/") + path, data=data, headers=headers,
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as err:
        try:
            reason = json.loads(err.read().decode("utf-8")).get("error") or err.reason
        except ValueError:
            reason = err.reason
        raise SubmitError(f"the service refused it ({err.code}): {reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise SubmitError(f"cannot reach the service at {server}: {getattr(err, 'reason', err)}") from None


def submit_notebook(path, assignment, server, token, wait=True, poll=2.0, timeout=1800.0, out=None):
    """Upload a notebook file and, with ``wait``, follow it to its grade on one progress line. Without
    ``assignment`` the service recognises the chapter from the notebook.

    Returns the submission as the API describes it (``state``, ``score``, ``max_score``, ``feedback_url``).
    """
    out = out or sys.stdout
    with open(path, "rb") as f:
        data = f.read()
    query = "?" + urllib.parse.urlencode({"assignment": assignment}) if assignment else ""
    sub = _request(server, token, f"/api/submissions{query}", data, "application/x-ipynb+json")
    assignment = sub["assignment"]
    started = time.monotonic()
    while wait and sub["state"] in ("queued", "grading"):
        out.write(f"\rsubmission {sub['id']} of {assignment}: {sub['state']} ({time.monotonic() - started:.0f} s) ")
        out.flush()
        if time.monotonic() - started > timeout:
            break
        time.sleep(poll)
        sub = _request(server, token, f"/api/submissions/{sub['id']}")
    line = f"\rsubmission {sub['id']} of {assignment}: {sub['state']}"
    if sub["state"] == "graded":
        line += f", score {sub['score']:g} / {sub['max_score']:g}"
        if sub.get("late_penalty"):
            line += f" (late: -{sub['late_penalty']:g})"
        line += f"; feedback: {server.rstrip('/')}{sub['feedback_url']}"
    elif sub.get("error"):
        line += f": {sub['error']}"
    out.write(line + "\n")
    out.flush()
    return sub

# --- end of the cell's code ---


#: The functions copied into the "submit" cell, in order.
CELL_FUNCTIONS = (SubmitError, find_token, _request, submit_notebook)


def submit_cell(assignment: str, server: str | None = None) -> str:
    """The source of a release notebook's "submit" cell for ``assignment``: this module's client code, then
    the call. ``server`` is the service's URL; without it the cell reads ``AUTOGRADER_SERVER``."""
    import inspect

    parts = ["\n".join(["# Submit this notebook for grading: save it first (File > Save), then run this cell.",
                        f"# Your token comes from ${TOKEN_ENV} or the file {TOKEN_FILE} (the one in your sign-in "
                        f"link); the service's address from ${SERVER_ENV}.",
                        "import json, os, sys, time, urllib.error, urllib.parse, urllib.request",
                        f"TOKEN_ENV, SERVER_ENV, TOKEN_FILE = {TOKEN_ENV!r}, {SERVER_ENV!r}, {TOKEN_FILE!r}",
                        f"SERVER = os.environ.get(SERVER_ENV) or {server!r}"])]
    parts += [inspect.getsource(obj) for obj in CELL_FUNCTIONS]
    parts.append(f"if not SERVER:\n    print('Set the service address first: os.environ[SERVER_ENV] = \"https://...\"')\n"
                 f"else:\n    try:\n        submit_notebook({assignment + '.ipynb'!r}, {assignment!r}, SERVER, find_token())\n"
                 f"    except (SubmitError, OSError) as err:\n        print(f'not submitted: {{err}}')")
    return "\n\n".join(parts) + "\n"


def submit_main(args) -> int:
    """``autograder submit NOTEBOOK --server URL``: upload, wait for the grade, print it."""
    from autograder.course import CourseError

    server = args.server or os.environ.get(SERVER_ENV)
    if not server:
        raise CourseError(f"no server: pass --server URL or set {SERVER_ENV}")
    try:
        sub = submit_notebook(args.notebook, args.assignment, server, find_token(args.token_file), wait=not args.no_wait)
    except SubmitError as err:
        raise CourseError(str(err)) from None
    except OSError as err:
        raise CourseError(f"cannot read {args.notebook}: {err.strerror or err}") from None
    return 0 if sub["state"] in ("graded", "queued", "grading") else 1

