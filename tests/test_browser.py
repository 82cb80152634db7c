"""The built site in a real browser (marker ``browser``): headless Chromium driven by Playwright.

The site with solutions (``_build/html``, built first if it is not current) is served on 127.0.0.1
and every page is opened in Chromium from Debian's ``chromium`` package, with a new empty profile.
Requests to other hosts (the MathJax CDN, the launch buttons' sites) are blocked, as they are on
the build machines; their failures are not errors of ours.

Outside CI (``CI`` not ``true``) the tests are skipped when ``/usr/bin/chromium`` is missing, with
the command that installs it; in CI they fail instead.
"""

from __future__ import annotations

import functools
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import CHROMIUM_ARGS, is_local_url

from autograder import book, chapters
from solutions.paths import PROJECT_ROOT

pytestmark = pytest.mark.browser

HOST = "127.0.0.1"
#: A word the search page must find, and the page it must find it in.
SEARCH_TERM, SEARCH_PAGE = "sigmoid", "chapters/ch3_sigmoid"
TIMEOUT_MS = 30_000

DOCNAMES = book.toc_docnames(PROJECT_ROOT / book.TOC_NAME)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        """Keep the test output clean."""


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    """The site with solutions, served over HTTP on a free local port for the session."""
    try:
        site = book.ensure_built(True)
    except book.CourseError as err:
        pytest.fail(str(err))
    server = ThreadingHTTPServer((HOST, 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser_context(playwright, chromium: Path, base_url: str):
    """A Chromium with a new empty profile; requests to other hosts are aborted."""
    with tempfile.TemporaryDirectory(prefix="course-chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        context.set_default_timeout(TIMEOUT_MS)
        context.route("**/*", lambda route: route.continue_() if is_local_url(route.request.url, base_url)
                      else route.abort())
        try:
            yield context
        finally:
            context.close()


class _Problems:
    """Console errors, uncaught exceptions and failed requests of our own pages."""

    def __init__(self, page, base_url: str) -> None:
        self.items: list[str] = []
        page.on("console", lambda msg: self._console(msg, base_url))
        page.on("pageerror", lambda err: self.items.append(f"uncaught: {err}"))
        page.on("requestfailed", lambda req: self.items.append(f"failed request: {req.url} ({req.failure})")
                if is_local_url(req.url, base_url) else None)

    def _console(self, msg, base_url: str) -> None:
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        if "net::ERR_FAILED" in msg.text and not is_local_url(where, base_url):
            return  # an external request we blocked
        self.items.append(f"console error: {msg.text} (at {where})")


@pytest.fixture()
def page(browser_context, base_url: str):
    page = browser_context.new_page()
    page.problems = _Problems(page, base_url)
    yield page
    page.close()


def _exercise_count(docname: str) -> int:
    path = PROJECT_ROOT / f"{docname}.md"
    return len(chapters.load_exercises(path)) if book.is_notebook(path) else 0


@pytest.mark.parametrize("docname", DOCNAMES)
def test_page_renders_with_outputs_figures_and_working_solution_toggles(page, base_url: str, docname: str) -> None:
    page.goto(base_url + f"{docname}.html", wait_until="load")
    title = page.locator("article.bd-article h1").first
    assert title.is_visible() and title.inner_text().strip(), f"{docname}: no visible title"
    n_exercises = _exercise_count(docname)
    if n_exercises or book.is_notebook(PROJECT_ROOT / f"{docname}.md"):
        assert page.locator(".cell_output").count() > 0, f"{docname}: no code output on the page"
        page.wait_for_function("Array.from(document.querySelectorAll('.cell_output img')).every(i => i.complete)")
        images = page.eval_on_selector_all(".cell_output img", "imgs => imgs.map(i => [i.src, i.naturalWidth])")
        assert images, f"{docname}: no figure in any output"
        broken = [src for src, width in images if width == 0]
        assert not broken, f"{docname}: figures that did not load: {broken}"
    toggles = page.locator("details.hide.above-input", has_text=book.SHOW_SOLUTION)
    assert toggles.count() == n_exercises, f"{docname}: {toggles.count()} solution toggles, {n_exercises} exercises"
    for i in range(n_exercises):
        toggle = toggles.nth(i)
        code = toggle.locator(".cell_input pre")
        assert not code.is_visible(), f"{docname}: solution {i + 1} is visible before its toggle is clicked"
        toggle.locator("summary").click()
        code.wait_for(state="visible")
        assert "def " in code.inner_text() or "class " in code.inner_text()
    assert not page.problems.items, f"{docname}:\n" + "\n".join(page.problems.items)


def test_search_finds_a_chapter_term(page, base_url: str) -> None:
    page.goto(base_url + f"search.html?q={SEARCH_TERM}", wait_until="load")
    results = page.locator("ul.search li")
    results.first.wait_for(state="visible")
    hrefs = [results.nth(i).locator("a").first.get_attribute("href") or "" for i in range(results.count())]
    assert any(SEARCH_PAGE in href for href in hrefs), f"searching {SEARCH_TERM!r} gave {hrefs}"
    assert not page.problems.items, "\n".join(page.problems.items)
