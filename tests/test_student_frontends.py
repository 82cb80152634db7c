"""The student's path in the real front ends (markers ``browser`` and ``grading``).

Chapter 2's assignment is generated with ``python -m autograder assign`` into a temporary course,
and its release notebook is copied into a student's folder with one exercise (``calc_preds``)
answered from the source notebook's solution. A real Jupyter server from this environment
(``jupyter lab``, which also serves Notebook 7 at ``/notebooks/...``) is started on 127.0.0.1 with
a fixed token and a temporary HOME and Jupyter directories, so nobody's own configuration is used.
Headless Chromium (Debian's ``chromium`` package, driven by Playwright, new empty profile) then
opens the notebook in JupyterLab 4 and in Notebook 7, checks that the setup cell's code is folded
away (the first code a student sees is the first exercise's), runs all cells from the Run menu, and
checks the rendered outputs: the setup cell ran without error, the answered exercise's public check shows
its tick, and the next exercise's check says "not done yet". Jupyter's "Run All" stops at the first
cell that raises (the kernel aborts the queue), so the checks after that one are not run; that is
the front ends' normal behaviour. When nbgrader's lab extension is installed, its "Validate"
toolbar button must be there too. Screenshots of both front ends (``<front end>.png``, or
``<front end>-failed.png`` when a test fails) are left in the test's temporary folder
(``pytest --basetemp=DIR`` keeps them somewhere known). Each front end gets its own server, page and
browser context; the one Chromium is shared. Takes about 45 s.

A last test does what Binder's launch button does: with the JupyterLab setting that
``binder/postBuild`` writes (jupytext's default viewer), it opens a copy of chapter 2's MyST
Markdown file at ``lab/tree/chapters/...`` and checks that it shows as a notebook with all its cells.

Outside CI (``CI`` not ``true``) the tests are skipped when ``/usr/bin/chromium`` is missing, with
the command that installs it; in CI they fail instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest
from conftest import CHROMIUM_ARGS, is_local_url

from autograder.notebook_format import CHECK_PREFIX, SETUP_CODE_ID
from autograder.chapters import BEGIN_SOLUTION, END_SOLUTION

pytestmark = [pytest.mark.browser, pytest.mark.grading]

HOST = "127.0.0.1"
TOKEN = "course-frontend-test-token"
ASSIGNMENT = "ch2_gradient_descent"
#: The exercise the test answers, and one it leaves as the stub.
DONE, NOT_DONE = "calc_preds", "mae_loss"
PASSED_MARK = f"\u2713 {DONE}"
NOT_DONE_TEXT = f"{NOT_DONE}: not done yet"
#: The toolbar button of nbgrader's lab extension (``@jupyter/nbgrader``) in both front ends.
NBGRADER_LABEXTENSION = "@jupyter/nbgrader"
VALIDATE_BUTTON = ".validate-button"
SERVER_START_S = 90
TIMEOUT_MS = 60_000
#: Running all cells imports torch and runs the checks; generous for a busy 2-core machine.
RUN_ALL_TIMEOUT_MS = 120_000
#: Now and then (about 1 run in 6 here, always in Notebook 7) a new kernel stays "starting" until
#: jupyter_server's 60 s kernel_info timeout, then works; wait past that rather than fail.
KERNEL_IDLE_TIMEOUT_S = 150
#: How long a kernel may stay "starting" before the test restarts it once (see wait_for_idle_kernel).
KERNEL_RESTART_AFTER_S = 45
#: How long a session may stay unnamed (JupyterLab 4's ``<folder>/<uuid>``) before the test reloads the page once.
KERNEL_RELOAD_AFTER_S = 75
#: How long the reloaded page may go without starting a session before the test starts one for it.
KERNEL_SESSION_AFTER_RELOAD_S = 30
VIEWPORT = {"width": 1400, "height": 1000}
#: Uncaught page errors of the front ends themselves, not of the course: (message part, script part).
#: Notebook 7.6's keyboard-shortcut settings plugin reads ``.schema`` of a plugin it has not loaded
#: (``notebook_core.*.js``); it happens on opening any notebook, with every extension disabled too.
UPSTREAM_PAGE_ERRORS = [("reading 'schema'", "/static/notebook/notebook_core.")]


@dataclass(frozen=True)
class FrontEnd:
    """A Jupyter front end: its name (also its folder and screenshot name) and where it opens a notebook."""

    name: str
    url_prefix: str

    def url(self, base_url: str, notebook: str) -> str:
        """The address that opens ``notebook`` (relative to the server's root) in this front end."""
        return f"{base_url}{self.url_prefix}{quote(notebook)}?token={TOKEN}"


FRONT_ENDS = [FrontEnd("jupyterlab4", "lab/tree/"), FrontEnd("notebook7", "notebooks/")]


@dataclass(frozen=True)
class Server:
    """A running Jupyter server: its address, its root folder and its log file."""

    base_url: str
    root: Path
    log: Path

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> object:
        """Call the server's REST API with the token (``body`` sent as JSON); the decoded JSON answer (None
        when empty)."""
        request = urllib.request.Request(self.base_url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"token {TOKEN}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """Shut down every kernel of the server (a front end's test leaves none for the next)."""
        for kernel in self.api("api/kernels"):
            self.api(f"api/kernels/{kernel['id']}", method="DELETE")

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, for failure messages."""
        text = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])


# --- fixtures --------------------------------------------------------------------------------------

def answered(release: nbformat.NotebookNode, source: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    """A copy of the release notebook whose ``grade_id`` cell holds the source notebook's solution.

    The solution is the source cell without its ``### BEGIN/END SOLUTION`` lines, as a student
    who wrote the reference answer would have it.
    """
    def cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        found = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
        if len(found) != 1:
            raise ValueError(f"{len(found)} cells with grade_id {grade_id!r}, expected 1")
        return found[0]

    markers = {BEGIN_SOLUTION, END_SOLUTION}
    solution = "\n".join(line for line in cell(source).source.splitlines() if line.strip() not in markers)
    out = nbformat.from_dict(json.loads(nbformat.writes(release)))
    cell(out).source = solution
    return out


def cell_index(nb: nbformat.NotebookNode, grade_id: str) -> int:
    """Position of the cell with nbgrader ``grade_id`` (the front ends render cells in order)."""
    for i, c in enumerate(nb.cells):
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise ValueError(f"no cell with grade_id {grade_id!r}")


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A student's folder with chapter 2's release notebook, ``calc_preds`` answered, once per front end.

    Each front end gets its own copy, so that one's autosaved outputs cannot show up in the other.
    """
    tmp = tmp_path_factory.mktemp("student-frontends")
    course = tmp / "course"
    result = subprocess.run([sys.executable, "-m", "autograder", "assign", ASSIGNMENT, "--course-dir", str(course)],
                            capture_output=True, text=True, timeout=300, cwd=tmp)
    assert result.returncode == 0, f"assign failed:\n{result.stdout}\n{result.stderr}"
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    nb = answered(release, source, DONE)
    work = tmp / "work"
    for front_end in FRONT_ENDS:
        (work / front_end.name).mkdir(parents=True)
        nbformat.write(nb, work / front_end.name / f"{ASSIGNMENT}.ipynb")
    return work


def isolated_env(home: Path) -> dict[str, str]:
    """This process's environment with HOME and every Jupyter/IPython directory inside ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    dirs = {"HOME": home, "JUPYTER_CONFIG_DIR": home / "config", "JUPYTER_DATA_DIR": home / "data",
            "JUPYTER_RUNTIME_DIR": home / "runtime", "IPYTHONDIR": home / "ipython",
            "JUPYTERLAB_SETTINGS_DIR": home / "lab-settings", "JUPYTERLAB_WORKSPACES_DIR": home / "lab-workspaces"}
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    return env


@pytest.fixture()
def server(student_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``jupyter lab`` from this environment on a free port of 127.0.0.1, stopped (with its kernels) at the end.

    Each front end gets its own server, so that Notebook 7 does not restore the workspace JupyterLab
    saved (it then runs the unregistered command ``filebrowser:open-path``, an uncaught error).
    """
    with serve(student_dir, tmp_path_factory.mktemp("jupyter-home")) as running:
        yield running


@contextlib.contextmanager
def serve(root: Path, home: Path) -> Iterator[Server]:
    """``jupyter lab`` serving ``root``, with ``home`` as HOME and Jupyter's folders (see isolated_env)."""
    log = home / "server.log"
    # port 0: the server takes a free port itself and writes it to its server-info file, rather than this
    # test picking one and handing it over (another listener could take it in between)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--ServerApp.ip={HOST}",
               "--ServerApp.port=0", "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
               f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with log.open("w") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=isolated_env(home),
                                   cwd=root, start_new_session=True)
    running = Server("", root, log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter lab exited with {process.returncode}:\n{running.log_tail()}")
            info = home / "runtime" / f"jpserver-{process.pid}.json"
            try:
                if not running.base_url and info.is_file():
                    running = Server(f"http://{HOST}:{json.loads(info.read_text())['port']}/", root, log)
                if running.base_url:
                    running.api("api/status")
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer within {SERVER_START_S} s:\n{running.log_tail()}")
            time.sleep(0.5)
        yield running
    finally:
        _stop(process, running)


def _stop(process: subprocess.Popen, server: Server) -> None:
    """Shut the kernels down through the API, then terminate the server's process group."""
    if process.poll() is None:
        try:
            server.shut_down_kernels()
        except (urllib.error.URLError, ConnectionError, TimeoutError, TypeError, ValueError):
            pass  # the server is going away anyway; SIGTERM makes it shut its kernels down too
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(playwright, chromium: Path):
    """One headless Chromium for both front ends (Playwright gives it a new, empty profile)."""
    browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture()
def browser_context(browser, server: Server):
    """A new browser context (no cookies or storage of the other front end); other hosts are aborted."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/*", lambda route: route.continue_() if is_local_url(route.request.url, server.base_url)
                  else route.abort())
    try:
        yield context
    finally:
        context.close()


def nbgrader_labextension_installed() -> bool:
    """Whether ``jupyter labextension list`` (of this environment) lists nbgrader's extension as enabled."""
    result = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"],
                            capture_output=True, text=True, timeout=120)
    listing = result.stdout + result.stderr
    return any(NBGRADER_LABEXTENSION in line and "enabled" in line for line in listing.splitlines())


# --- helpers driving the page ----------------------------------------------------------------------

def wait_for_idle_kernel(server: Server, notebook: str, page=None, timeout_s: float = KERNEL_IDLE_TIMEOUT_S) -> None:
    """Wait until the server has a session for ``notebook`` whose kernel is idle.

    Now and then (more often on a loaded machine) a new kernel stays "starting" in Jupyter's own
    books although nothing is wrong with our notebook; the front end then waits for it for a long
    time. After ``KERNEL_RESTART_AFTER_S`` of that, the notebook's kernel is restarted once through the
    server's API, as a student would press "Restart kernel"; the front end reconnects by itself.

    JupyterLab 4 first starts a session under a made-up path in the notebook's folder
    (``<folder>/<uuid>``) and renames it to the notebook only once its kernel has started; restarting
    that kernel leaves the rename undone (seen in CI). So a session of the folder still not the
    notebook's after ``KERNEL_RELOAD_AFTER_S`` is shut down and ``page`` reloaded, once, as a student
    would reload the tab; the front end then starts a fresh session. Should the reloaded page start
    none (seen once in CI, with Notebook 7) for ``KERNEL_SESSION_AFTER_RELOAD_S``, a session of the
    notebook is started through the server's API and the page reloaded again: a front end opening a
    notebook joins the session the server already has for its path.
    """
    started = time.monotonic()
    deadline = started + timeout_s
    restarted = reloaded = started_one = False
    reloaded_at = 0.0
    sessions: list[tuple[str, str]] = []
    folder = notebook.rpartition("/")[0]
    while time.monotonic() < deadline:
        try:
            listing = server.api("api/sessions")
        except (urllib.error.URLError, ConnectionError, TimeoutError):  # one slow answer: ask again
            time.sleep(0.5)
            continue
        sessions = [(s["path"], s["kernel"]["execution_state"]) for s in listing]
        if (notebook, "idle") in sessions:
            return
        waited = time.monotonic() - started
        stuck = [s["kernel"]["id"] for s in listing if s["path"] == notebook and s["kernel"]["execution_state"] == "starting"]
        if stuck and not restarted and waited > KERNEL_RESTART_AFTER_S:
            server.api(f"api/kernels/{stuck[0]}/restart", method="POST")
            restarted = True
        unnamed = [s["id"] for s in listing if s["path"] != notebook and s["path"].rpartition("/")[0] == folder]
        if unnamed and page is not None and not reloaded and waited > KERNEL_RELOAD_AFTER_S:
            for session in unnamed:
                server.api(f"api/sessions/{session}", method="DELETE")
            page.reload(wait_until="load")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="attached")
            reloaded, reloaded_at = True, time.monotonic()
            deadline = max(deadline, time.monotonic() + KERNEL_RELOAD_AFTER_S)
        elif (reloaded and not started_one and not listing and page is not None
              and time.monotonic() - reloaded_at > KERNEL_SESSION_AFTER_RELOAD_S):
            kernel = json.loads((server.root / notebook).read_text())["metadata"]["kernelspec"]["name"]
            server.api("api/sessions", method="POST", body={
                "path": notebook, "name": notebook.rpartition("/")[2], "type": "notebook",
                "kernel": {"name": kernel}})
            page.reload(wait_until="load")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="attached")
            started_one = True
            deadline = max(deadline, time.monotonic() + KERNEL_RELOAD_AFTER_S)
        time.sleep(0.5)
    pytest.fail(f"no idle kernel for {notebook} after {time.monotonic() - started:.0f} s (restarted once: {restarted}; "
                f"reloaded once: {reloaded}; session started for the page: {started_one}; sessions: {sessions}):\n"
                f"{server.log_tail()}")


def run_all_from_menu(page) -> None:
    """Run > Run All Cells, from the menu bar, as a student would."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item:visible", has_text=re.compile(r"^Run All Cells")).click()


#: The index of the first cell that shows a code editor (a folded cell shows a placeholder instead).
_FIRST_SHOWN_CODE_JS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell'))
  .findIndex(c => c.classList.contains('jp-CodeCell') && c.querySelector('.jp-InputArea-editor'))"""


#: True once a code cell has an output and no code cell is queued or running ("[*]"): Run All put
#: every cell in the queue at once, so it has finished (or stopped at an error). The setup cell's own
#: prompt is not shown (its input is folded away), but the cells queued after it show theirs.
_FINISHED_JS = """() => {
  const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell'));
  const prompt = c => (c.querySelector('.jp-InputPrompt') || {}).textContent || '';
  return cells.some(c => ((c.querySelector('.jp-OutputArea') || {}).textContent || '').trim())
    && cells.every(c => !prompt(c).includes('*'));
}"""


def output_text(page, index: int) -> str:
    """All output text of the notebook's ``index``-th cell (textContent: off-screen cells count too)."""
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea").evaluate(
        "el => el.textContent")


def is_upstream_error(err) -> bool:
    """Whether an uncaught page error is one of the front ends' own, known ones (UPSTREAM_PAGE_ERRORS)."""
    stack = err.stack or ""
    return any(message in str(err) and script in stack for message, script in UPSTREAM_PAGE_ERRORS)


# --- the test --------------------------------------------------------------------------------------

@pytest.mark.parametrize("front_end", FRONT_ENDS, ids=lambda f: f.name)
def test_release_notebook_runs_its_public_checks_in_the_front_end(
        front_end: FrontEnd, server: Server, browser_context) -> None:
    notebook = f"{front_end.name}/{ASSIGNMENT}.ipynb"
    nb = nbformat.read(server.root / notebook, as_version=4)
    setup, done_check, not_done_check = (cell_index(nb, g) for g in
                                         (SETUP_CODE_ID, CHECK_PREFIX + DONE, CHECK_PREFIX + NOT_DONE))
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: None if is_upstream_error(err) else errors.append(f"{err}\n{err.stack}"))
    try:
        page.goto(front_end.url(server.base_url, notebook), wait_until="load")
        cells = page.locator(".jp-Notebook .jp-Cell")
        cells.nth(len(nb.cells) - 1).wait_for(state="attached")
        assert cells.count() == len(nb.cells), f"{front_end.name}: {cells.count()} cells shown, {len(nb.cells)} in the file"
        assert output_text(page, done_check) == "", f"{front_end.name}: outputs before running anything"
        folded = cells.nth(setup)
        assert folded.locator(".jp-InputPlaceholder").count() == 1 and \
            folded.locator(".jp-InputArea-editor").count() == 0, f"{front_end.name}: the setup cell's code is shown"
        first_task = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))
        assert page.evaluate(_FIRST_SHOWN_CODE_JS) == first_task, \
            f"{front_end.name}: the first code shown is not the first exercise's stub"
        wait_for_idle_kernel(server, notebook, page)
        run_all_from_menu(page)
        page.wait_for_function(_FINISHED_JS, timeout=RUN_ALL_TIMEOUT_MS)
        page.locator(".jp-Notebook .jp-Cell").nth(done_check).scroll_into_view_if_needed()
        page.screenshot(path=str(server.root.parent / f"{front_end.name}.png"))

        setup_output = output_text(page, setup)
        assert "Error" not in setup_output and "Traceback" not in setup_output, \
            f"{front_end.name}: the setup cell failed:\n{setup_output}"
        passed = output_text(page, done_check)
        assert PASSED_MARK in passed and "passed" in passed, \
            f"{front_end.name}: the answered exercise's check did not pass:\n{passed}"
        not_done = output_text(page, not_done_check)
        assert NOT_DONE_TEXT in not_done, f"{front_end.name}: the stub's check did not say not done yet:\n{not_done}"
        if nbgrader_labextension_installed():
            validate = page.locator(VALIDATE_BUTTON)
            assert validate.count() == 1 and validate.first.is_visible(), \
                f"{front_end.name}: nbgrader's Validate button is not in the notebook toolbar"
        assert not errors, f"{front_end.name}: uncaught errors in the page:\n" + "\n".join(errors)
    except BaseException:
        with contextlib.suppress(Exception):  # the screenshot helps; its own failure must not hide the first
            page.screenshot(path=str(server.root.parent / f"{front_end.name}-failed.png"))
        raise
    finally:
        page.close()
        server.shut_down_kernels()


# --- Binder: a MyST chapter opens as a notebook -----------------------------------------------------

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The chapter opened as Binder's launch button opens it (``lab/tree/<path in the repository>``).
BINDER_CHAPTER = "chapters/ch2_gradient_descent.md"


def test_binder_opens_a_myst_chapter_as_a_notebook(browser, tmp_path_factory: pytest.TempPathFactory) -> None:
    """With binder/postBuild's jupytext setting, JupyterLab opens the chapter's .md as a notebook.

    The server gets a copy of the chapter (a front end may save what it opens) and a home whose
    Jupyter settings are what postBuild's ``jupytext-config`` line writes, run as written.
    """
    import jupytext

    home = tmp_path_factory.mktemp("binder-home")
    root = tmp_path_factory.mktemp("binder-repo")
    (root / BINDER_CHAPTER).parent.mkdir(parents=True)
    (root / BINDER_CHAPTER).write_bytes((PROJECT_ROOT / BINDER_CHAPTER).read_bytes())
    setting = [line for line in (PROJECT_ROOT / "binder" / "postBuild").read_text().splitlines()
               if line.startswith("jupytext-config")]
    assert len(setting) == 1, "binder/postBuild no longer sets jupytext's default viewer"
    env = {**isolated_env(home), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", setting[0]], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    n_cells = len(jupytext.read(root / BINDER_CHAPTER).cells)
    with serve(root, home) as running:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        context.route("**/*", lambda route: route.continue_() if is_local_url(route.request.url, running.base_url)
                      else route.abort())
        page = context.new_page()
        try:
            page.goto(running.base_url + f"lab/tree/{quote(BINDER_CHAPTER)}?token={TOKEN}", wait_until="load")
            cells = page.locator(".jp-Notebook .jp-Cell")
            cells.nth(n_cells - 1).wait_for(state="attached")
            assert cells.count() == n_cells, f"{cells.count()} cells shown, {n_cells} in the chapter"
            assert page.locator(".jp-Notebook .jp-CodeCell").count() > 0
            page.screenshot(path=str(home / "binder-chapter.png"))
        finally:
            context.close()
            running.shut_down_kernels()
