"""Every link, button and download of the built sites leads somewhere (marker ``book``).

Both sites (``_build/html`` and ``_build/html-no-solutions``, built first when not current) are
read as files, page by page:

- every internal link, script, stylesheet and image points at a file of the site, and every
  ``#anchor`` at an id of its page;
- every outside link of the page's buttons (launch, repository, issues) is made from the one
  repository address of ``_config.yml``; the Binder button opens a file that the repository holds,
  with the environment of ``binder/``; there is no Colab button (Colab cannot open MyST Markdown);
- each chapter page has "Do the exercises": a download of exactly the student notebook that
  ``python -m autograder assign`` makes (generated here into a temporary course);
- each chapter's .ipynb download starts with a cell that says what it needs to run.

Outside links in the chapters' prose (to the write-ups the course follows) cannot be checked
without a network; they are not buttons and are left alone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import nbformat
import pytest
import yaml

from autograder import book
from solutions.paths import PROJECT_ROOT

pytestmark = pytest.mark.book

CONFIG = yaml.safe_load((PROJECT_ROOT / book.CONFIG_NAME).read_text(encoding="utf-8"))
REPOSITORY = book.repository_url(PROJECT_ROOT / book.CONFIG_NAME)
BRANCH = CONFIG["repository"]["branch"]
BINDERHUB = CONFIG["launch_buttons"]["binderhub_url"].rstrip("/")
DOCNAMES = book.toc_docnames(PROJECT_ROOT / book.TOC_NAME)
CHAPTER_DOCS = [d for d in DOCNAMES if book.is_notebook(PROJECT_ROOT / f"{d}.md")]
#: The element classes of the buttons in a page's header (launch, repository, download, ...).
BUTTON_AREA = "article-header-buttons"
BINDER_DIR = PROJECT_ROOT / "binder"


class _Page(HTMLParser):
    """The links (tag, attribute, value, inside the header buttons?) and ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, bool]] = []
        self.ids: set[str] = set()
        self.downloads: list[str] = []
        self._button_depth: list[int] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag not in {"br", "img", "link", "meta", "input", "hr", "source"}:
            self._depth += 1
            if BUTTON_AREA in (a.get("class") or "").split():
                self._button_depth.append(self._depth)
        if a.get("id"):
            self.ids.add(a["id"])
        for attr in ("href", "src"):
            if a.get(attr) is not None and tag in {"a", "link", "script", "img", "iframe", "source"}:
                self.links.append((tag, a[attr], bool(self._button_depth)))
        if tag == "a" and "download" in (a.get("class") or "").split() and a.get("href"):
            self.downloads.append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag in {"br", "img", "link", "meta", "input", "hr", "source"}:
            return
        if self._button_depth and self._button_depth[-1] == self._depth:
            self._button_depth.pop()
        self._depth -= 1


def _parse(path: Path) -> _Page:
    parser = _Page()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _ensure_built(with_solutions: bool) -> Path:
    try:
        return book.ensure_built(with_solutions)
    except book.CourseError as err:
        pytest.fail(str(err))


@pytest.fixture(scope="module", params=[True, False], ids=["site", "no-solutions"])
def site(request: pytest.FixtureRequest) -> Path:
    """Each built site in turn."""
    return _ensure_built(request.param)


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The student notebook of every chapter, as ``python -m autograder assign`` makes it."""
    course = tmp_path_factory.mktemp("site-releases") / "course"
    done = subprocess.run([sys.executable, "-m", "autograder", "assign", "--course-dir", str(course)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return {p.parent.name: p.read_bytes() for p in sorted((course / "release").glob("*/*.ipynb"))}


def _tracked(path: str) -> bool:
    """Whether the repository holds ``path`` (committed, or at least added to git's index)."""
    done = subprocess.run(["git", "ls-files", "--error-unmatch", path], cwd=PROJECT_ROOT, capture_output=True)
    return done.returncode == 0


def _check_outside(url: str, where: str) -> str | None:
    """Why an outside link of a page's buttons leads nowhere, or None when it is one of ours."""
    parts = urlsplit(url)
    if "colab" in parts.netloc:
        return f"{where}: a Colab button ({url}); Colab cannot open the MyST chapters"
    if url.startswith(BINDERHUB + "/"):
        owner_repo = urlsplit(REPOSITORY).path.strip("/")
        expected = f"{BINDERHUB}/v2/gh/{owner_repo}/{BRANCH}"
        if url.split("?")[0] != expected:
            return f"{where}: Binder link {url} is not made from the repository of _config.yml ({expected})"
        target = parse_qs(parts.query).get("urlpath", [""])[0].removeprefix("lab/tree/")
        if not target or not (PROJECT_ROOT / target).is_file() or not _tracked(target):
            return f"{where}: Binder opens {target!r}, which the repository does not hold"
        return None
    if url == REPOSITORY or url.startswith(REPOSITORY + "/issues/new?"):
        return None
    return f"{where}: an outside link that is not made from the repository of _config.yml: {url}"


def test_no_link_or_button_leads_nowhere(site: Path) -> None:
    # the theme's Jinja macros under _static/ end in .html but are no pages: no page links them
    pages = sorted(p for p in site.rglob("*.html") if p.relative_to(site).parts[0] != "_static")
    assert len(pages) > len(DOCNAMES)
    parsed = {path: _parse(path) for path in pages}
    problems = []
    binder_links = 0
    for path, page in parsed.items():
        where = path.relative_to(site).as_posix()
        for tag, value, in_buttons in page.links:
            parts = urlsplit(value)
            if parts.scheme in {"http", "https"}:
                if in_buttons:
                    binder_links += value.startswith(BINDERHUB)
                    problem = _check_outside(value, where)
                    if problem:
                        problems.append(problem)
                continue
            if parts.scheme or value.startswith("//"):
                if parts.scheme not in {"mailto", "data"}:
                    problems.append(f"{where}: <{tag}> with an unexpected scheme: {value}")
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or site.resolve() not in target.parents:
                problems.append(f"{where}: <{tag}> {value} leads to no file of the site")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{where}: <{tag}> {value}: no id {parts.fragment!r} in {target.name}")
    assert not problems, f"{len(problems)} dead links or buttons:\n" + "\n".join(problems[:40])
    assert binder_links == len(CHAPTER_DOCS), f"{binder_links} Binder buttons, expected one per chapter"


@pytest.mark.parametrize("doc", CHAPTER_DOCS)
def test_do_the_exercises_downloads_the_student_notebook(site: Path, releases: dict[str, bytes], doc: str) -> None:
    name = Path(doc).name
    page = site / f"{doc}.html"
    html = page.read_text(encoding="utf-8")
    assert book.DO_EXERCISES in html, f"{doc}: no {book.DO_EXERCISES!r} on the page"
    downloads = [d for d in _parse(page).downloads if d.endswith(f"/{name}.ipynb")]
    assert len(downloads) == 1, f"{doc}: {len(downloads)} downloads of {name}.ipynb"
    target = page.parent / unquote(downloads[0])
    assert target.is_file(), f"{doc}: the download {downloads[0]} is not in the site"
    assert target.read_bytes() == releases[name], f"{doc}: the download is not assign's release of {name}"
    nb = nbformat.reads(releases[name], as_version=4)
    assert {c.metadata.get("nbgrader", {}).get("solution") for c in nb.cells} >= {True}, \
        "control: the release's exercise cells are nbgrader solution cells (stubs in the release)"


@pytest.mark.parametrize("doc", CHAPTER_DOCS)
def test_ipynb_download_says_what_it_needs_to_run(site: Path, doc: str) -> None:
    nb = nbformat.read(site / "_sources" / f"{doc}.ipynb", as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.metadata.get(book.DOWNLOAD_NOTE_KEY), \
        f"{doc}: the .ipynb download does not start with the note on what it needs"
    for needed in (REPOSITORY, "python3 dev.py build", f"{doc}.md", f"{Path(doc).name}.ipynb"):
        assert needed in first.source, f"{doc}: the note does not say {needed!r}:\n{first.source}"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "import solutions" in code or "from solutions" in code, \
        "control: the chapter's code imports the course's packages, which is why the note is needed"


def test_binder_environment_is_the_course_environment() -> None:
    """What the Binder button builds: the pinned lock (with jupytext), Python 3.11, the project installed."""
    requirements = (BINDER_DIR / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert "-r ../requirements.lock" in requirements
    lock = (PROJECT_ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert re.search(r"^jupytext==\S+$", lock, re.M), "the lock Binder installs has no jupytext"
    assert re.search(r"^jupyterlab==\S+$", lock, re.M)
    sys.path.insert(0, str(PROJECT_ROOT))
    try:
        import dev
    finally:
        sys.path.remove(str(PROJECT_ROOT))
    major, minor = dev.REQUIRED
    assert (BINDER_DIR / "runtime.txt").read_text().strip() == f"python-{major}.{minor}"
    post_build = BINDER_DIR / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    for path in ("binder/requirements.txt", "binder/runtime.txt", "binder/postBuild", "requirements.lock"):
        assert _tracked(path), f"{path} is not in the repository, so Binder cannot use it"
