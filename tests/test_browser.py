"""The built site in a real browser (marker ``browser``): headless Chromium driven by Playwright.

The site with solutions (``_build/html``, built first if it is not current) is served on 127.0.0.1
and every page is opened in Chromium from Debian's ``chromium`` package, with a new empty profile.
Every request that leaves the site is blocked and is an error: a page must render fully offline
(its math typeset by the site's own MathJax, see ``autograder/offline_math.py``), and no request
may fail. The chapter list is opened and closed at a phone's width and at a desktop's.

Accessibility: axe-core (bundled by the pinned ``axe-playwright-python``, injected into the page)
checks every page at 400 px and 1400 px, in light and dark mode, against WCAG 2.0/2.1 A and AA
(options and report in ``tests/test_accessibility.py``), and must find nothing; a page whose figure
loses its description must make it report ``image-alt``. The chapter list, the search, the solution
toggles and the download buttons are reached with Tab and opened with Enter or Space alone.

Outside CI (``CI`` not ``true``) the tests are skipped when ``/usr/bin/chromium`` is missing, with
the command that installs it; in CI they fail instead.
"""

from __future__ import annotations

import functools
import re
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
#: Window sizes of the navigation test: a phone (the chapter list is a drawer) and a desktop (a sidebar).
PHONE, DESKTOP = {"width": 400, "height": 860}, {"width": 1400, "height": 900}
#: True once MathJax has typeset the page (its start-up promise resolved), or at once without math.
_MATH_DONE_JS = """() => !document.querySelector('.math')
  || (window.MathJax && MathJax.startup && MathJax.startup.promise
      && MathJax.startup.promise.then(() => true))"""
#: Every math element of the page: its TeX source untypeset, or a TeX error, as text.
_UNTYPESET_MATH_JS = """() => Array.from(document.querySelectorAll('.math'))
  .filter(el => !el.querySelector('mjx-container') || el.querySelector('mjx-merror'))
  .map(el => el.textContent.trim().slice(0, 80))"""

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
    """A Chromium with a new empty profile; requests to other hosts are aborted (and reported by _Problems)."""
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
    """Console errors, uncaught exceptions, requests that leave the site and failed requests of a page."""

    def __init__(self, page, base_url: str) -> None:
        self.items: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.items.append(f"uncaught: {err}"))
        page.on("request", lambda req: None if is_local_url(req.url, base_url)
                else self.items.append(f"request leaving the site (blocked): {req.url}"))
        page.on("requestfailed", lambda req: self.items.append(f"failed request: {req.url} ({req.failure})"))
        page.on("response", lambda res: self.items.append(f"HTTP {res.status}: {res.url}") if res.status >= 400
                else None)

    def _console(self, msg) -> None:
        if msg.type == "error":
            self.items.append(f"console error: {msg.text} (at {(msg.location or {}).get('url', '')})")


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
    page.wait_for_function(_MATH_DONE_JS)
    untypeset = page.evaluate(_UNTYPESET_MATH_JS)
    assert not untypeset, f"{docname}: math not typeset (raw TeX or a TeX error): {untypeset}"
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


def _math_pages(site: Path) -> list[str]:
    """The pages of the built site that hold math (Sphinx marks each formula with the class ``math``)."""
    return [d for d in DOCNAMES if 'class="math' in (site / f"{d}.html").read_text(encoding="utf-8")]


def test_math_is_typeset_offline(page, base_url: str) -> None:
    """Every formula is typeset by the site's own MathJax, with every outside request blocked."""
    pages = _math_pages(book.default_output(True))
    assert SEARCH_PAGE in pages, f"{SEARCH_PAGE} has no math: the control page of this test is gone"
    for docname in pages:
        page.goto(base_url + f"{docname}.html", wait_until="load")
        page.wait_for_function(_MATH_DONE_JS)
        n = page.locator(".math mjx-container").count()
        assert n and n == page.locator(".math").count(), f"{docname}: {n} of {page.locator('.math').count()} typeset"
        assert not page.evaluate(_UNTYPESET_MATH_JS), f"{docname}: raw TeX or a TeX error"
    assert not page.problems.items, "\n".join(page.problems.items)


def _chapter_link(page, docname: str):
    """The link to ``docname`` in the chapter list (the primary sidebar, or its drawer on a phone)."""
    return page.locator(f"nav.bd-docs-nav a.reference.internal[href$='{Path(docname).name}.html']")


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone-400px", "desktop-1400px"])
def test_chapter_list_opens_closes_and_navigates(page, base_url: str, size: dict) -> None:
    """The one menu button shows and hides the chapter list, whose links work; one search box."""
    start, target = DOCNAMES[1], DOCNAMES[2]
    page.set_viewport_size(size)
    page.goto(base_url + f"{start}.html", wait_until="load")
    menu = page.locator(".primary-toggle")
    assert menu.count() == 1 and menu.is_visible(), f"{menu.count()} menu buttons, expected one, visible"
    search = page.locator(".search-button__button:visible")
    assert search.count() == 1, f"{search.count()} search boxes or buttons shown, expected one"
    link = _chapter_link(page, target)
    phone = size is PHONE
    assert link.is_visible() is not phone, "the chapter list should start closed on a phone, open on a desktop"
    menu.click()
    expect_shown = phone
    link.wait_for(state="visible" if expect_shown else "hidden")
    if phone:  # a drawer: Escape closes it
        page.keyboard.press("Escape")
        link.wait_for(state="hidden")
    menu.click()
    link.wait_for(state="visible")
    link.click()
    page.wait_for_url(re.compile(re.escape(f"{target}.html")))
    assert page.locator("article.bd-article h1").first.is_visible()
    assert not page.problems.items, "\n".join(page.problems.items)


def test_header_buttons_work(page, base_url: str) -> None:
    """Each button of a chapter's header does something: menus open, search, colour mode, full screen."""
    page.set_viewport_size(DESKTOP)
    page.goto(base_url + f"{SEARCH_PAGE}.html", wait_until="load")
    header = page.locator(".article-header-buttons")
    dropdowns = header.locator("button.dropdown-toggle")
    assert dropdowns.count() == 3, "expected the launch, repository and download menus"
    for i in range(dropdowns.count()):  # the book theme opens them on hover (and on a tap or click)
        menu = header.locator(".dropdown-menu").nth(i)
        assert not menu.is_visible()
        dropdowns.nth(i).hover()
        menu.wait_for(state="visible")
        assert menu.locator("a, button").count() > 0
        page.mouse.move(0, DESKTOP["height"] - 1)
        menu.wait_for(state="hidden")
    launch = header.locator(".dropdown-launch-buttons .dropdown-menu a")
    assert [a.inner_text().strip() for a in launch.all()] == ["Binder"], "launch buttons other than Binder"
    mode = page.evaluate("document.documentElement.dataset.mode")
    header.locator(".theme-switch-button").click()
    assert page.evaluate("document.documentElement.dataset.mode") != mode, "the colour-mode button did nothing"
    header.locator(".btn-fullscreen-button").click()
    page.wait_for_function("document.fullscreenElement !== null")
    page.evaluate("document.exitFullscreen()")
    page.locator(".search-button__button:visible").click()  # the sidebar's field (the header's icon on a phone)
    page.locator("#pst-search-dialog input[name=q]").wait_for(state="visible")
    page.keyboard.press("Escape")
    assert not page.problems.items, "\n".join(page.problems.items)


def test_page_contents_open_on_a_phone(page, base_url: str) -> None:
    """On a phone the page's contents (the secondary sidebar) open from their header button and close."""
    page.set_viewport_size(PHONE)
    page.goto(base_url + f"{SEARCH_PAGE}.html", wait_until="load")
    entry = page.locator("#pst-page-toc-nav a").first
    assert not entry.is_visible()
    button = page.locator(".secondary-toggle:visible")
    assert button.count() == 1, f"{button.count()} buttons for the page's contents shown on a phone, expected one"
    button.click()
    entry.wait_for(state="visible")
    page.keyboard.press("Escape")
    entry.wait_for(state="hidden")
    assert not page.problems.items, "\n".join(page.problems.items)


# --- accessibility: axe-core's WCAG 2.0/2.1 A and AA rules, and the keyboard alone ----------------

#: Every page of the site: the book's pages, the search page with its results, the general index.
SCANNED = [f"{d}.html" for d in DOCNAMES] + [f"search.html?q={SEARCH_TERM}", "genindex.html"]
MODES = ["light", "dark"]
#: The element that has the keyboard's focus, in a few words (for a failure's message).
_ACTIVE_JS = """() => { const e = document.activeElement;
  return `${e.tagName.toLowerCase()}.${String(e.className).split(' ').join('.')} ${(e.innerText || e.ariaLabel || '').trim().slice(0, 40)}` }"""


@pytest.fixture(scope="module")
def axe():
    """axe-core as bundled by the pinned axe-playwright-python (injected into each page; nothing downloaded)."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def _set_mode(page, mode: str) -> None:
    """Open every page of this tab in ``mode``, as the theme's colour button leaves it (its localStorage keys)."""
    page.add_init_script(f"localStorage.setItem('mode', '{mode}'); localStorage.setItem('theme', '{mode}');")


def _open_for_axe(page, url: str, size: dict, mode: str) -> None:
    _set_mode(page, mode)
    page.set_viewport_size(size)
    page.goto(url, wait_until="load")
    assert page.evaluate("document.documentElement.dataset.theme") == mode, f"the page did not open in {mode} mode"
    page.wait_for_function(_MATH_DONE_JS)
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    if "search.html?q=" in url:
        page.locator("ul.search li").first.wait_for(state="visible")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone-400px", "desktop-1400px"])
@pytest.mark.parametrize("url", SCANNED)
def test_no_accessibility_violations(page, base_url: str, axe, url: str, size: dict, mode: str) -> None:
    """axe-core finds no violation of WCAG 2.0/2.1 A and AA on the page, at this width, in this mode."""
    from test_accessibility import AXE_OPTIONS, axe_violations

    _open_for_axe(page, base_url + url, size, mode)
    response = axe.run(page, options=AXE_OPTIONS).response
    assert response["passes"], "control: axe-core checked no rule on the page"
    lines = axe_violations(response)
    assert not lines, (f"{url} at {size['width']} px in {mode} mode: axe-core {response['testEngine']['version']} "
                       f"finds {len(response['violations'])} violated rules:\n" + "\n".join(lines))
    assert not page.problems.items, "\n".join(page.problems.items)


def test_axe_reports_a_figure_whose_description_is_removed(page, base_url: str, axe) -> None:
    """The scan is not blind: a built chapter page whose first figure loses its ``alt`` is a violation."""
    from test_accessibility import AXE_OPTIONS, axe_violations

    _open_for_axe(page, base_url + f"{SEARCH_PAGE}.html", DESKTOP, "light")
    assert not axe.run(page, options=AXE_OPTIONS).response["violations"], "control: the page as built passes"
    src = page.eval_on_selector(".cell_output img", "img => { img.removeAttribute('alt'); return img.getAttribute('src') }")
    response = axe.run(page, options=AXE_OPTIONS).response
    assert [(v["id"], v["impact"], len(v["nodes"])) for v in response["violations"]] == [("image-alt", "critical", 1)]
    assert src in response["violations"][0]["nodes"][0]["html"]
    assert axe_violations(response)[0].startswith("image-alt (critical)")


def _tab_to(page, predicate: str, what: str, limit: int = 400) -> None:
    """Press Tab until the focused element satisfies the JavaScript ``predicate`` (an ``el => ...``)."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => ({predicate})(document.activeElement)"):
            return
        seen.append(page.evaluate(_ACTIVE_JS))
    pytest.fail(f"{limit} presses of Tab never reached {what}; the last elements focused: {seen[-6:]}")


def _matches(selector: str) -> str:
    return f"el => el.matches({selector!r})"


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone-400px", "desktop-1400px"])
def test_chapter_list_works_from_the_keyboard(page, base_url: str, size: dict) -> None:
    """Tab to the chapter list (on a phone, through its menu button and Enter) and follow a chapter with Enter."""
    start, target = DOCNAMES[1], DOCNAMES[2]
    page.set_viewport_size(size)
    page.goto(base_url + f"{start}.html", wait_until="load")
    link = _chapter_link(page, target)
    if size is PHONE:
        assert not link.is_visible()
        _tab_to(page, _matches(".primary-toggle"), "the menu button")
        page.keyboard.press("Enter")
        link.wait_for(state="visible")
    _tab_to(page, _matches(f"nav.bd-docs-nav a.reference.internal[href$='{Path(target).name}.html']"),
            f"the chapter list's link to {target}")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(f"{target}.html")))
    assert not page.problems.items, "\n".join(page.problems.items)


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone-400px", "desktop-1400px"])
def test_search_works_from_the_keyboard(page, base_url: str, size: dict) -> None:
    """Tab to the search button, open it with Enter, type, and Enter shows the results."""
    page.set_viewport_size(size)
    page.goto(base_url + f"{DOCNAMES[1]}.html", wait_until="load")
    _tab_to(page, _matches(".search-button__button"), "the search button")
    page.keyboard.press("Enter")
    page.locator("#pst-search-dialog input[name=q]").wait_for(state="visible")
    assert page.evaluate("document.activeElement.name") == "q", "the search field does not have the focus"
    page.keyboard.type(SEARCH_TERM)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"search\.html\?q="))
    results = page.locator("ul.search li")
    results.first.wait_for(state="visible")
    hrefs = [results.nth(i).locator("a").first.get_attribute("href") or "" for i in range(results.count())]
    assert any(SEARCH_PAGE in href for href in hrefs), f"searching {SEARCH_TERM!r} from the keyboard gave {hrefs}"
    assert not page.problems.items, "\n".join(page.problems.items)


def test_solution_toggles_work_from_the_keyboard(page, base_url: str) -> None:
    """Tab to each of the first two "Show solution" toggles; Enter opens one, Space the other."""
    page.set_viewport_size(DESKTOP)
    page.goto(base_url + f"{SEARCH_PAGE}.html", wait_until="load")
    toggles = page.locator("details.hide.above-input", has_text=book.SHOW_SOLUTION)
    assert toggles.count() >= 2, "control: the page has two solutions to open"
    is_toggle = f"el => el.tagName === 'SUMMARY' && el.textContent.includes({book.SHOW_SOLUTION!r})"
    for i, key in enumerate(["Enter", " "]):
        code = toggles.nth(i).locator(".cell_input pre")
        assert not code.is_visible()
        _tab_to(page, is_toggle, f"solution toggle {i + 1}")
        page.keyboard.press(key)
        code.wait_for(state="visible")
        assert "def " in code.inner_text() or "class " in code.inner_text()
    assert not page.problems.items, "\n".join(page.problems.items)


def test_download_buttons_work_from_the_keyboard(page, base_url: str) -> None:
    """The header's download menu opens with Enter and its items fetch the page's .ipynb and .md; the
    chapter's "Do the exercises" link downloads the student notebook."""
    name = Path(SEARCH_PAGE).name
    page.set_viewport_size(DESKTOP)
    page.goto(base_url + f"{SEARCH_PAGE}.html", wait_until="load")
    menu = page.locator(".dropdown-download-buttons .dropdown-menu")
    assert not menu.is_visible()
    _tab_to(page, _matches(".dropdown-download-buttons button.dropdown-toggle"), "the download menu's button")
    page.keyboard.press("Enter")
    menu.wait_for(state="visible")
    for item, suffix in ((".btn-download-notebook-button", ".ipynb"), (".btn-download-source-button", ".md")):
        page.keyboard.press("ArrowDown")
        assert page.evaluate(f"document.activeElement.matches({item!r})"), \
            f"ArrowDown did not reach the {suffix} item: {page.evaluate(_ACTIVE_JS)}"
        wanted = f"_sources/{SEARCH_PAGE}{suffix}"
        with page.context.expect_event("response", lambda r: r.url.endswith(wanted)) as fetched:
            page.keyboard.press("Enter")
        assert fetched.value.status == 200, f"{wanted}: HTTP {fetched.value.status}"
        page.bring_to_front()
        if not menu.is_visible():  # the item's new tab took the focus away and the menu closed: open it again
            _tab_to(page, _matches(".dropdown-download-buttons button.dropdown-toggle"), "the download menu's button")
            page.keyboard.press("Enter")
            menu.wait_for(state="visible")
            page.keyboard.press("ArrowDown")
    _tab_to(page, _matches("a.reference.download"), "the Do the exercises download")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == f"{name}.ipynb"
    assert not page.problems.items, "\n".join(page.problems.items)
