"""Every image of the built sites is described (marker ``book``); the checks the browser tests share.

A figure's text alternative is what a screen-reader user hears in place of the plot, so it must say
what the plot shows and what to notice. MyST-NB gives an output image its cell's
``mystnb.image.alt`` metadata as ``alt``; without it Sphinx writes the image's hashed file name
there. Both sites (``_build/html`` and ``_build/html-no-solutions``) are read as files, page by page:
an image whose alternative is missing, empty, a file name or a hash fails, and so does a figure of
a chapter's output whose description is too short to say what it shows and what to notice, or that
types a published figure (descriptions name shapes and trends; the numbers are glued on the page,
see ``solutions/published.py``). The checker is itself checked on crafted pages and on a built page
with one description removed.

The axe-core scan and the keyboard tests run in the browser, in ``tests/test_browser.py``, with the
options and the report defined here (``AXE_OPTIONS``, ``axe_violations``).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import pytest

from autograder import book
from solutions.paths import PROJECT_ROOT
from solutions.published import FIGURES

#: axe-core's rules of WCAG 2.0 and 2.1, levels A and AA (the level courses must meet); only violations.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: ``preload: false``: axe-core 4.12.1 fetches a stylesheet's relative ``@import`` from the page's folder
#: instead of the stylesheet's (dequelabs/axe-core#5268; the theme's ``_static/styles/theme.css`` imports
#: ``../basic.css``), gets a 404 and hands its HTML to ``css-orientation-lock`` as CSS. Without the
#: preload that one rule sees no stylesheet; ``test_no_stylesheet_locks_the_orientation`` checks
#: what it looks for, in every stylesheet of the site.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"], "preload": False}
#: What axe-core's ``css-orientation-lock`` (WCAG 2.1 AA, 1.3.4) inspects: CSS applied only in one orientation.
ORIENTATION_QUERY = re.compile(r"@media[^{]*\borientation\b", re.IGNORECASE)
#: A figure's description says what it shows and what to notice: one short sentence is not enough.
MIN_FIGURE_WORDS = 20
#: The element class of a code cell's output (MyST-NB): the images in it are the chapters' figures.
OUTPUT_CLASS = "cell_output"
IMAGE_SUFFIXES = r"\.(?:png|jpe?g|gif|svg|webp|pdf)\b"
HASH = re.compile(r"\b[0-9a-f]{16,}\b")
DOCNAMES = book.toc_docnames(PROJECT_ROOT / book.TOC_NAME)
CHAPTER_DOCS = [d for d in DOCNAMES if book.is_notebook(PROJECT_ROOT / f"{d}.md")]


def published_numbers() -> set[str]:
    """Every published figure as the write-ups printed it (each value at its places)."""
    out = set()
    for figure in FIGURES.values():
        values = figure.value if isinstance(figure.value, tuple) else (figure.value,)
        out.update(f"{v:.{figure.places}f}" for v in values)
    return out


class _Images(HTMLParser):
    """Each ``<img>`` of a page: its ``src``, its ``alt`` (None when absent), inside a cell's output?"""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[tuple[str, str | None, bool]] = []
        self._stack: list[bool] = []  # per open element: is it (or an ancestor) a cell's output?

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        inside = bool(self._stack and self._stack[-1]) or OUTPUT_CLASS in (a.get("class") or "").split()
        if tag == "img":
            self.images.append((a.get("src") or "", a.get("alt"), inside))
        elif tag not in self.VOID:
            self._stack.append(inside)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self._stack:
            self._stack.pop()


def images(html: str) -> list[tuple[str, str | None, bool]]:
    """The ``(src, alt, is a figure of a cell's output)`` of every image of a page."""
    parser = _Images()
    parser.feed(html)
    return parser.images


def description_problems(html: str, where: str, numbers: set[str] | None = None) -> list[str]:
    """Why each image of a page is not described: no, empty, file-name or hash alternative, and for
    a figure of a cell's output, a description too short or one that types a published number."""
    numbers = published_numbers() if numbers is None else numbers
    problems = []
    for src, alt, figure in images(html):
        name = PurePosixPath(unquote(urlsplit(src).path)).name
        what = f"{where}: <img src={src!r}>"
        text = (alt or "").strip()
        if alt is None:
            problems.append(f"{what} has no alt attribute")
        elif not text:
            problems.append(f"{what} has an empty text alternative")
        elif re.search(IMAGE_SUFFIXES, text, re.IGNORECASE) or (name and name in text):
            problems.append(f"{what} is described by a file name: {text!r}")
        elif HASH.search(text):
            problems.append(f"{what} is described by a hash: {text!r}")
        elif figure and len(text.split()) < MIN_FIGURE_WORDS:
            problems.append(f"{what}: {text!r} is too short ({len(text.split())} words, at least "
                            f"{MIN_FIGURE_WORDS}) to say what the figure shows and what to notice")
        elif figure and (typed := sorted(n for n in numbers if re.search(rf"(?<![\d.]){re.escape(n)}(?!\d)", text))):
            problems.append(f"{what} types the published figure(s) {typed}: describe the shape and let the "
                            f"page's glue give the number")
    return problems


def axe_violations(response: dict) -> list[str]:
    """axe-core's violations as lines a reader can act on: rule, impact, what it asks, each element."""
    lines = []
    for v in response["violations"]:
        lines.append(f"{v['id']} ({v.get('impact')}): {v.get('help', '')} [{v.get('helpUrl', '')}]")
        for node in v["nodes"]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {(node.get('failureSummary') or '').strip()}"
                         .replace("\n", " "))
    return lines


# --- the built sites ----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[True, False], ids=["site", "no-solutions"])
def site(request: pytest.FixtureRequest) -> Path:
    try:
        return book.ensure_built(request.param)
    except book.CourseError as err:
        pytest.fail(str(err))


def _pages(site: Path) -> list[Path]:
    # the theme's Jinja macros under _static/ end in .html but are no pages
    return sorted(p for p in site.rglob("*.html") if p.relative_to(site).parts[0] != "_static")


@pytest.mark.book
def test_every_image_of_the_site_is_described(site: Path) -> None:
    pages = _pages(site)
    assert len(pages) > len(DOCNAMES)
    problems = [p for page in pages
                for p in description_problems(page.read_text(encoding="utf-8"), page.relative_to(site).as_posix())]
    assert not problems, (f"{len(problems)} images not described (a chapter's figure takes its description from "
                          "its cell's metadata `mystnb: {image: {alt: ...}}`, see docs/DESIGN.md):\n"
                          + "\n".join(problems))
    figures = {d: [i for i in images((site / f"{d}.html").read_text(encoding="utf-8")) if i[2]] for d in CHAPTER_DOCS}
    assert all(figures.values()), f"control: chapters without a figure: {[d for d, f in figures.items() if not f]}"


@pytest.mark.book
@pytest.mark.parametrize("kind", ["absent", "empty", "file name"])
def test_a_removed_description_fails(site: Path, kind: str) -> None:
    """One figure of a built chapter page loses its description: exactly that image is reported."""
    doc = CHAPTER_DOCS[0]
    html = (site / f"{doc}.html").read_text(encoding="utf-8")
    src = next(s for s, _, figure in images(html) if figure)
    described = re.compile(r'alt="[^"]*"(?=[^>]*src="' + re.escape(src) + '")')
    assert len(described.findall(html)) == 1, "control: the figure's description is found once on the page"
    assert description_problems(html, doc) == [], "control: the page as built is described"
    replacement = {"absent": "", "empty": 'alt=""', "file name": f'alt="{src}"'}[kind]  # Sphinx writes the src
    problems = description_problems(described.sub(replacement, html), doc)
    assert len(problems) == 1 and src in problems[0], problems


@pytest.mark.book
def test_no_stylesheet_locks_the_orientation(site: Path) -> None:
    """No stylesheet of the site (the theme's included) styles one screen orientation only."""
    sheets = sorted(site.rglob("*.css"))
    assert any(s.name == "basic.css" for s in sheets), "control: the stylesheet axe-core misses is read here"
    locked = [s.relative_to(site).as_posix() for s in sheets if ORIENTATION_QUERY.search(s.read_text(encoding="utf-8"))]
    assert not locked, f"stylesheets with an orientation media query (WCAG 1.3.4): {locked}"
    assert ORIENTATION_QUERY.search("@media screen and (orientation: portrait) { body { transform: rotate(90deg) } }")


# --- the checker on crafted pages ---------------------------------------------------------------

_GOOD = ("Training loss per epoch of a small model: it falls steeply in the first epochs and then "
         "levels off, still decreasing slowly at the end. Notice that most of the learning happens early.")


def _page(img: str, in_output: bool = True) -> str:
    body = f"<div class='cell_output docutils container'>{img}</div>" if in_output else f"<p>{img}</p>"
    return f"<html><body><article>{body}<img alt='Binder logo' src='logo.svg'></article></body></html>"


@pytest.mark.parametrize(("img", "in_output", "expected"), [
    (f"<img alt='{_GOOD}' src='../_images/ab12.png'>", True, None),
    ("<img src='../_images/ab12.png'>", True, "no alt attribute"),
    ("<img alt='  ' src='../_images/ab12.png'>", True, "empty text alternative"),
    ("<img alt='../_images/de8e68888b33e680fba7a91bd01af93e.png' src='../_images/de8e68888b33e680fba7a91bd01af93e.png'>",
     True, "file name"),
    ("<img alt='de8e68888b33e680fba7a91bd01af93e' src='x.png'>", True, "hash"),
    ("<img alt='figure' src='x.png'>", True, "too short"),
    ("<img alt='figure' src='x.png'>", False, None),  # outside an output: a logo may be named briefly
    (f"<img alt='{_GOOD} It ends at 0.7865 accuracy.' src='x.png'>", True, "published figure(s) ['0.7865']"),
    (f"<img alt='{_GOOD} It ends at 0.78650 or 10.7865.' src='x.png'>", True, None),
])
def test_description_checker_on_crafted_pages(img: str, in_output: bool, expected: str | None) -> None:
    assert "0.7865" in published_numbers(), "control: the crafted number is a published figure"
    problems = description_problems(_page(img, in_output), "crafted")
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expected in problems[0], problems


def test_axe_report_names_rule_impact_and_element() -> None:
    response = {"violations": [{"id": "image-alt", "impact": "critical", "help": "Images must have alternative text",
                                "helpUrl": "https://dequeuniversity.com/rules/axe/4.12/image-alt",
                                "nodes": [{"target": ["#fig > img"], "failureSummary": "Fix any of the following:\n  "
                                           "Element does not have an alt attribute"}]}]}
    lines = axe_violations(response)
    assert lines[0].startswith("image-alt (critical): Images must have alternative text")
    assert "#fig > img" in lines[1] and "does not have an alt attribute" in lines[1]
    assert axe_violations({"violations": []}) == []
