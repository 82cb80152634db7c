"""The book build (``python -m autograder book``) and the sites it makes.

The first tests check the expansion of a fixture chapter and need no build (no marker); one builds
that fixture chapter as a small book of its own. The others (marker ``book``) read the built sites,
``_build/html`` and ``_build/html-no-solutions``; a session fixture builds a site with
``python -m autograder book [--no-solutions]`` when it was not built from the sources as they are
now, so ``pytest tests/test_book.py`` also works on its own (a cold build takes minutes).
"""

from __future__ import annotations

import ast
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import jupytext
import nbformat
import pytest

from autograder import assign, book, chapters
from solutions import published
from solutions.paths import PROJECT_ROOT

FIXTURE_CHAPTER = Path(__file__).parent / "fixtures" / "book" / "ch0_book_fixture.md"
DOCNAMES: list[str] = book.toc_docnames(PROJECT_ROOT / book.TOC_NAME)
#: The toc documents that are notebooks (the chapters); missing files are reported by a test below.
CHAPTER_DOCS: list[str] = [d for d in DOCNAMES
                           if (PROJECT_ROOT / f"{d}.md").is_file() and book.is_notebook(PROJECT_ROOT / f"{d}.md")]
TRACEBACK = "Traceback (most recent call last)"
#: A solution line shorter than this (without spaces) is too generic to call a leak (``return x``, ``)``).
MIN_LEAK_CHARS = 8
#: Site folders that hold the theme's assets and images, not text made from our sources.
ASSET_DIRS = ("_static", "_images")


# --------------------------------------------------------------------------------------------------
# Expansion of a fixture chapter (no build needed)


def _fixture_exercises() -> tuple[nbformat.NotebookNode, list[chapters.Exercise]]:
    nb = chapters.read_chapter(FIXTURE_CHAPTER)
    return nb, chapters.find_exercises(nb, FIXTURE_CHAPTER.stem)


def _code_block(markdown: str) -> str:
    """The code of the one fenced block in a markdown cell."""
    m = re.search(r"^(`{3,})python\n(.*?)\n\1$", markdown, flags=re.S | re.M)
    assert m, f"no fenced python block in:\n{markdown}"
    return m.group(2)


def _cell_with(nb: nbformat.NotebookNode, key: str, value: str) -> int:
    """The index of the one cell whose metadata ``key`` is ``value``."""
    found = [i for i, c in enumerate(nb.cells) if c.metadata.get(key) == value]
    assert len(found) == 1, f"{len(found)} cells with {key}={value!r}, expected 1"
    return found[0]


def test_expansion_with_solutions_shows_stub_then_reference_behind_a_toggle() -> None:
    nb, exercises = _fixture_exercises()
    out = book.expand_notebook(nb, FIXTURE_CHAPTER.stem, with_solutions=True)
    assert out.cells[0].source == book.FUTURE_IMPORT and book.REMOVE_CELL in out.cells[0].metadata["tags"]
    for ex in exercises:
        source = ex.reference_source()
        stub, sol = _cell_with(out, book.STUB_OF_KEY, ex.id), _cell_with(out, book.SOLUTION_OF_KEY, ex.id)
        assert out.cells[stub - 1].source == ex.task, "the stub must follow the task statement"
        assert sol == stub + 1
        assert _code_block(out.cells[stub].source) == chapters.stub(source)
        assert out.cells[sol].cell_type == "code" and out.cells[sol].source == source.rstrip("\n")
        assert out.cells[sol].metadata["tags"] == [book.HIDE_INPUT]
        assert out.cells[sol].metadata["mystnb"]["code_prompt_show"] == book.SHOW_SOLUTION
    # every other cell is kept, in order: the original minus solution cells, plus future/stub/solution
    kept = [c.source for c in out.cells[1:] if not {book.STUB_OF_KEY, book.SOLUTION_OF_KEY} & set(c.metadata)]
    assert kept == [c.source for i, c in enumerate(nb.cells) if i not in {e.solution_cell for e in exercises}]


def test_expansion_without_solutions_keeps_the_import_and_leaves_the_reference_out() -> None:
    nb, exercises = _fixture_exercises()
    out = book.expand_notebook(nb, FIXTURE_CHAPTER.stem, with_solutions=False)
    text = book._to_myst(out, FIXTURE_CHAPTER.name)
    for ex in exercises:
        sol = out.cells[_cell_with(out, book.SOLUTION_OF_KEY, ex.id)]
        assert sol.source == f"from {ex.module} import {ex.id}"
        assert sol.metadata["tags"] == [book.REMOVE_INPUT]
        for line in _solution_lines(ex):
            assert line not in text, f"solution line of {ex.id} in the no-solutions chapter: {line!r}"


def test_expanded_chapter_survives_myst_round_trip() -> None:
    nb, _ = _fixture_exercises()
    out = book.expand_notebook(nb, FIXTURE_CHAPTER.stem, with_solutions=True)
    back = jupytext.reads(book._to_myst(out, FIXTURE_CHAPTER.name), fmt=book.MYST_FORMAT)
    assert [(c.cell_type, c.source) for c in back.cells] == [(c.cell_type, c.source) for c in out.cells]
    assert [c.metadata.get("tags") for c in back.cells] == [c.metadata.get("tags") for c in out.cells]


def test_stub_fence_is_longer_than_backticks_inside() -> None:
    assert book._fenced("x = '```'").startswith("````python\n")
    assert book._fenced("x = 1") == "```python\nx = 1\n```"


def test_sync_tree_writes_only_what_changed(tmp_path: Path) -> None:
    files = {"a.md": b"one", "sub/b.md": b"two"}
    assert sorted(book.sync_tree(files, tmp_path)) == ["a.md", "sub/b.md"]
    os.utime(tmp_path / "a.md", (1, 1))
    assert book.sync_tree(files, tmp_path) == []
    assert (tmp_path / "a.md").stat().st_mtime == 1, "an unchanged file was rewritten"
    assert book.sync_tree({"a.md": b"one!"}, tmp_path) == ["a.md", "sub/b.md"]
    assert not (tmp_path / "sub").exists(), "a stale file or folder was left behind"


def test_mirror_refuses_a_folder_that_is_not_a_site(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("x")
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("do not delete")
    with pytest.raises(book.CourseError, match="holds no built site"):
        book.mirror(tmp_path / "site", tmp_path / "precious")
    assert (tmp_path / "precious" / "thesis.tex").exists()


def test_toc_lists_the_intro_then_every_chapter_in_order() -> None:
    missing = [d for d in DOCNAMES if not (PROJECT_ROOT / f"{d}.md").is_file()]
    assert not missing, f"{book.TOC_NAME} lists documents that do not exist: {missing}"
    expected = ["intro"] + [f"chapters/{p.stem}" for p in chapters.chapter_paths()]
    assert DOCNAMES == expected, f"{book.TOC_NAME} should list the intro, then every chapter in order"


@pytest.mark.book
def test_fixture_book_builds_rebuilds_warm_and_fails_on_warnings_and_cell_errors(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A one-chapter book built for real: a site with toggles; a rebuild writes nothing; errors fail."""
    root, build_dir = tmp_path / "book", tmp_path / "_build"
    (root / "chapters").mkdir(parents=True)
    (root / book.CONFIG_NAME).write_bytes((PROJECT_ROOT / book.CONFIG_NAME).read_bytes())
    (root / book.TOC_NAME).write_text(f"format: jb-book\nroot: intro\nchapters:\n  - file: chapters/{FIXTURE_CHAPTER.stem}\n")
    (root / "intro.md").write_text("# A fixture book\n\nOne chapter.\n")
    chapter = root / "chapters" / FIXTURE_CHAPTER.name
    chapter.write_bytes(FIXTURE_CHAPTER.read_bytes())

    def build(**kwargs) -> int:
        return book.build_book(root=root, build_dir=build_dir, **kwargs)

    assert build() == 0
    html = (build_dir / "html" / "chapters" / f"{FIXTURE_CHAPTER.stem}.html").read_text(encoding="utf-8")
    assert html.count(f'<p class="collapsed admonition-title">{book.SHOW_SOLUTION}</p>') == 2
    src = book.site_for(True, build_dir).src
    mtimes = {p: p.stat().st_mtime_ns for p in src.rglob("*") if p.is_file()}
    assert book.is_up_to_date(True, root=root, build_dir=build_dir)
    assert build(skip_if_current=False) == 0, "a rebuild with nothing changed failed"
    assert {p: p.stat().st_mtime_ns for p in src.rglob("*") if p.is_file()} == mtimes, "a rebuild rewrote sources"

    (root / "intro.md").write_text("# A fixture book\n\nSee {ref}`no-such-label`.\n")
    capfd.readouterr()
    assert build() != 0, "a Sphinx warning (an unknown reference) did not fail the build"
    assert "no-such-label" in "".join(capfd.readouterr())
    assert not book.is_up_to_date(True, root=root, build_dir=build_dir)
    (root / "intro.md").write_text("# A fixture book\n\nOne chapter.\n")
    chapter.write_text(chapter.read_text() + "\n```{code-cell} ipython3\nraise ValueError('boom')\n```\n")
    assert build() != 0, "a cell that raises did not fail the build"
    assert "boom" in "".join(capfd.readouterr()), "the failing cell's error was not reported"


# --------------------------------------------------------------------------------------------------
# The built sites


def _ensure_built(with_solutions: bool) -> Path:
    """The site's output folder, built first if it is not current."""
    try:
        return book.ensure_built(with_solutions)
    except book.CourseError as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def site() -> Path:
    """The site with solutions (``_build/html``)."""
    return _ensure_built(True)


@pytest.fixture(scope="session")
def bare_site() -> Path:
    """The site without solutions (``_build/html-no-solutions``)."""
    return _ensure_built(False)


def _executed(with_solutions: bool, docname: str) -> nbformat.NotebookNode:
    """The executed notebook of a page, as the build wrote it."""
    path = book.site_for(with_solutions).executed / f"{docname}.ipynb"
    assert path.is_file(), f"no executed notebook {path}"
    return nbformat.read(path, as_version=4)


def _glued(nb: nbformat.NotebookNode) -> dict[str, object]:
    """The values a notebook glued (``myst_nb.glue``), read from the outputs' ``scrapbook`` metadata."""
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("scrapbook")
            if meta:
                text = out["data"][meta.get("mime_prefix", "") + "text/plain"]
                values[meta["name"]] = ast.literal_eval(text)
    return values


def _all_glued(with_solutions: bool) -> dict[str, object]:
    values: dict[str, object] = {}
    for doc in CHAPTER_DOCS:
        for name, value in _glued(_executed(with_solutions, doc)).items():
            assert name not in values, f"{name!r} is glued twice"
            values[name] = value
    return values


@pytest.mark.book
@pytest.mark.parametrize("with_solutions", [True, False], ids=["site", "no-solutions"])
def test_every_page_exists(with_solutions: bool, request: pytest.FixtureRequest) -> None:
    output = request.getfixturevalue("site" if with_solutions else "bare_site")
    assert (output / "index.html").is_file() and (output / "search.html").is_file()
    missing = [d for d in DOCNAMES if not (output / f"{d}.html").is_file()]
    assert not missing, f"pages missing from {output}: {missing}"


@pytest.mark.book
@pytest.mark.parametrize("with_solutions", [True, False], ids=["site", "no-solutions"])
@pytest.mark.parametrize("doc", CHAPTER_DOCS)
def test_every_cell_ran_without_error(doc: str, with_solutions: bool, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("site" if with_solutions else "bare_site")
    nb = _executed(with_solutions, doc)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            assert out.output_type != "error", f"{doc}, cell {i}: {out.get('ename')}: {out.get('evalue')}"
            if out.output_type == "stream" and out.name == "stderr":
                assert TRACEBACK not in out.text, f"{doc}, cell {i} printed a traceback:\n{out.text}"


@pytest.mark.book
@pytest.mark.parametrize("doc", CHAPTER_DOCS)
def test_exercises_show_stub_then_the_package_source_then_checks(doc: str, site: Path) -> None:
    exercises = chapters.load_exercises(PROJECT_ROOT / f"{doc}.md")  # the chapter obeys the contract
    nb = _executed(True, doc)
    for ex in exercises:
        source = ex.reference_source()
        stub, sol = _cell_with(nb, book.STUB_OF_KEY, ex.id), _cell_with(nb, book.SOLUTION_OF_KEY, ex.id)
        check = _cell_with(nb, chapters.CHECK_KEY, ex.id)
        assert nb.cells[stub - 1].source == ex.task and sol == stub + 1 and check > sol
        assert _code_block(nb.cells[stub].source) == chapters.stub(source)
        # the executed code is the package's code, not a copy that could drift
        assert nb.cells[sol].source == source.rstrip("\n"), f"{ex.id}: the book's solution differs from the package"
        assert book.HIDE_INPUT in nb.cells[sol].metadata["tags"]
        assert nb.cells[check].outputs, f"{ex.id}: the check cell shows no output"
    html = (site / f"{doc}.html").read_text(encoding="utf-8")
    toggles = html.count(f'<p class="collapsed admonition-title">{book.SHOW_SOLUTION}</p>')
    assert toggles == len(exercises), f"{doc}: {toggles} solution toggles for {len(exercises)} exercises"


@pytest.mark.book
@pytest.mark.parametrize("doc", CHAPTER_DOCS)
def test_no_solutions_site_runs_the_import_and_shows_no_toggle(doc: str, bare_site: Path) -> None:
    nb = _executed(False, doc)
    for ex in chapters.load_exercises(PROJECT_ROOT / f"{doc}.md"):
        sol = nb.cells[_cell_with(nb, book.SOLUTION_OF_KEY, ex.id)]
        assert sol.source == f"from {ex.module} import {ex.id}" and book.REMOVE_INPUT in sol.metadata["tags"]
        _cell_with(nb, book.STUB_OF_KEY, ex.id)
        assert nb.cells[_cell_with(nb, chapters.CHECK_KEY, ex.id)].outputs, f"{ex.id}: no check output"
    assert book.SHOW_SOLUTION not in (bare_site / f"{doc}.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# Published figures: glued by the chapters, computed again here with the reference package


def _glued_pages(with_solutions: bool) -> dict[str, tuple[str, object]]:
    """Glue name -> (the chapter that glued it, the value)."""
    found: dict[str, tuple[str, object]] = {}
    for doc in CHAPTER_DOCS:
        for name, value in _glued(_executed(with_solutions, doc)).items():
            found[name] = (doc, value)
    return found


def _printed(nb: nbformat.NotebookNode) -> str:
    """Everything a notebook's code cells printed (stream outputs and plain-text results)."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "text/plain" in out.get("data", {}):
                parts.append(out["data"]["text/plain"])
    return "\n".join(parts)


#: Tolerance between a glued figure and the reference's (float32 and float64 ways of taking a mean).
FIGURE_ABS_TOL = 1e-6


@pytest.mark.book
@pytest.mark.parametrize("name", list(published.FIGURES))
def test_published_figure_is_on_its_page_computed_and_labelled(name: str, site: Path) -> None:
    """Each published figure is glued by the chapter that computes it, equals the reference's value and
    the published one, and its caption (the line it belongs to, ours and the published) is on the page."""
    glued = _glued_pages(True)
    assert name in glued, f"no chapter glues {name!r} (myst_nb.glue); glued: {sorted(glued)}"
    doc, value = glued[name]
    reference = published.reproduce(name)
    if isinstance(reference, tuple):
        assert isinstance(value, list) and len(value) >= len(reference), f"{name} is glued as {value!r}"
        assert value[: len(reference)] == pytest.approx(list(reference), abs=FIGURE_ABS_TOL)
    else:
        assert isinstance(value, float), f"{name} is glued as {value!r}, not a float"
        assert abs(value - reference) <= FIGURE_ABS_TOL, f"{name}: book {value}, reference {reference}"
    assert published.matches(name, value), f"{name}: book {value}, published {published.FIGURES[name].value}"
    caption = published.caption(name, value)
    assert caption in _printed(_executed(True, doc)), f"{doc}: the caption {caption!r} is not printed"
    page_text = " ".join("".join(_page(site / f"{doc}.html").text).split())
    assert caption in page_text, f"{doc}.html does not show {caption!r}"


@pytest.mark.book
def test_two_builds_give_the_same_numbers(site: Path, bare_site: Path) -> None:
    """The two sites execute every chapter separately (different notebooks): the same glued figures."""
    assert _all_glued(True) == _all_glued(False)


# --------------------------------------------------------------------------------------------------
# Pages: plots, downloads, launch buttons


class _Page(HTMLParser):
    """The text of an HTML page, and the images inside code-cell outputs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.output_images: list[str] = []
        self._stack: list[bool] = []  # per open div: is it a cell output?

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "div":
            self._stack.append("cell_output" in (a.get("class") or "").split())
        elif tag == "img" and any(self._stack):
            self.output_images.append(a.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _page(path: Path) -> _Page:
    parser = _Page()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.mark.book
@pytest.mark.parametrize("doc", CHAPTER_DOCS)
def test_every_chapter_shows_a_plot(doc: str, site: Path) -> None:
    page = site / f"{doc}.html"
    images = _page(page).output_images
    assert images, f"{doc}: no image in any code cell's output"
    for src in images:
        assert (page.parent / src).is_file(), f"{doc}: image {src} is not in the site"


@pytest.mark.book
@pytest.mark.parametrize("with_solutions", [True, False], ids=["site", "no-solutions"])
@pytest.mark.parametrize("doc", CHAPTER_DOCS)
def test_downloads_and_launch_buttons(doc: str, with_solutions: bool, request: pytest.FixtureRequest) -> None:
    output = request.getfixturevalue("site" if with_solutions else "bare_site")
    ipynb = output / "_sources" / f"{doc}.ipynb"
    assert ipynb.is_file() and (output / "_sources" / f"{doc}.md").is_file()
    executed = book.site_for(with_solutions).executed / f"{doc}.ipynb"
    assert ipynb.read_bytes() == executed.read_bytes(), f"{ipynb} is not this build's executed notebook"
    html = (output / f"{doc}.html").read_text(encoding="utf-8")
    for link in (f"_sources/{doc}.ipynb", f"_sources/{doc}.md", "mybinder.org/v2/gh/"):
        assert link in html, f"{doc}: no link to {link}"


# --------------------------------------------------------------------------------------------------
# The no-solutions site leaks no solution


def _solution_lines(ex: chapters.Exercise) -> list[str]:
    """The stripped lines of an exercise's solution regions (what students must write)."""
    source = ex.reference_source()
    lines = source.split("\n")
    return [lines[i].strip() for first, last, _ in chapters.solution_regions(source) for i in range(first, last + 1)]


def _public_text() -> str:
    """What the book shows on purpose: its sources as written (task statements included), the same
    without Markdown's backticks (as a page renders them), every exercise's stub (docstrings), and the
    check runtime that each student notebook ("Do the exercises") holds in its setup cell."""
    sources = "\n".join((PROJECT_ROOT / f"{d}.md").read_text(encoding="utf-8")
                        for d in DOCNAMES if (PROJECT_ROOT / f"{d}.md").is_file())
    stubs = "\n".join(chapters.stub(ex.reference_source()) for doc in CHAPTER_DOCS
                      for ex in chapters.load_exercises(PROJECT_ROOT / f"{doc}.md"))
    return "\n".join([sources, sources.replace("`", ""), stubs, stubs.replace("`", ""), assign.runtime_source(),
                      _helper_sources()])


def _helper_sources() -> str:
    """The source of every function and class of ``solutions`` that is not an exercise: the course's
    own helper code (training loops, the published write-ups' functions), which chapters may show on
    purpose. A solution line that also stands there is the course's teaching, not a leaked answer."""
    import importlib
    import inspect
    import pkgutil

    import solutions

    exercise_ids = {ex.id for doc in CHAPTER_DOCS for ex in chapters.load_exercises(PROJECT_ROOT / f"{doc}.md")}
    parts = []
    for info in pkgutil.iter_modules(solutions.__path__):
        module = importlib.import_module(f"solutions.{info.name}")
        for name, obj in vars(module).items():
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__ \
                    and name not in exercise_ids:
                parts.append(inspect.getsource(obj))
    return "\n".join(parts)


def _leak_probes() -> dict[str, list[str]]:
    """Per exercise, its solution lines that are distinctive and that the book does not show on purpose."""
    public = _public_text()
    return {ex.id: [line for line in _solution_lines(ex)
                    if len(re.sub(r"\s", "", line)) >= MIN_LEAK_CHARS and line not in public]
            for doc in CHAPTER_DOCS for ex in chapters.load_exercises(PROJECT_ROOT / f"{doc}.md")}


def _notebook_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        parts.append(cell.source)
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.extend(v for v in out.get("data", {}).values() if isinstance(v, str))
    return "\n".join(parts)


def _site_texts(output: Path) -> dict[str, str]:
    """The text of every file of a site made from our sources (pages, sources, downloads, search index)."""
    texts = {}
    for path in sorted(output.rglob("*")):
        rel = path.relative_to(output)
        if not path.is_file() or rel.parts[0] in ASSET_DIRS:
            continue
        if path.suffix == ".html":
            texts[str(rel)] = "".join(_page(path).text)
        elif path.suffix == ".ipynb":
            texts[str(rel)] = _notebook_text(path)
        else:
            texts[str(rel)] = path.read_bytes().decode("utf-8", errors="replace")
    return texts


def _found(probes: dict[str, list[str]], texts: dict[str, str]) -> list[tuple[str, str, str]]:
    return [(ex_id, line, rel) for ex_id, lines in probes.items() for line in lines
            for rel, text in texts.items() if line in text]


@pytest.mark.book
def test_no_solutions_site_holds_no_solution_line(site: Path, bare_site: Path) -> None:
    probes = _leak_probes()
    assert sum(map(len, probes.values())) >= len(probes), "too few solution lines to probe with"
    leaks = _found(probes, _site_texts(bare_site))
    assert not leaks, "solution lines in the no-solutions site:\n" + "\n".join(
        f"  {ex_id}: {line!r} in {rel}" for ex_id, line, rel in leaks[:30])
    # control: the same probes find every line in the site with solutions (the detector sees code)
    found = {(ex_id, line) for ex_id, line, _ in _found(probes, _site_texts(site))}
    missed = [(ex_id, line) for ex_id, lines in probes.items() for line in lines if (ex_id, line) not in found]
    assert not missed, f"the leak detector misses solution lines in the site with solutions: {missed[:10]}"


def _search_index(output: Path) -> tuple[list[str], dict[str, set[int]]]:
    """Sphinx's search index of a site: its docnames and each term's documents."""
    text = (output / "searchindex.js").read_text(encoding="utf-8")
    data = json.loads(text[text.index("(") + 1:text.rindex(")")])
    terms = {t: set(d if isinstance(d, list) else [d]) for t, d in data["terms"].items()}
    return data["docnames"], terms


def _index_terms(text: str) -> set[str]:
    """The search terms Sphinx's English indexer makes of a text (split, stem, filter as it does)."""
    from sphinx.search.en import SearchEnglish

    lang = SearchEnglish({})
    terms = set()
    for word in lang.split(text):
        stemmed = lang.stem(word).lower()
        if not lang.word_filter(stemmed) and lang.word_filter(word):
            stemmed = word
        if lang.word_filter(stemmed):
            terms.add(stemmed)
    return terms


@pytest.mark.book
def test_no_solutions_search_index_holds_no_solution_term(site: Path, bare_site: Path) -> None:
    """Terms that only a chapter's solutions use (not its text, stubs or outputs) are not indexed for it."""
    bare_docs, bare_terms = _search_index(bare_site)
    docs, terms = _search_index(site)
    checked = 0
    for doc in CHAPTER_DOCS:
        exercises = chapters.load_exercises(PROJECT_ROOT / f"{doc}.md")
        solution = _index_terms("\n".join(line for ex in exercises for line in _solution_lines(ex)))
        public = _index_terms((PROJECT_ROOT / f"{doc}.md").read_text(encoding="utf-8")
                              + "\n".join(chapters.stub(ex.reference_source()) for ex in exercises)
                              + _notebook_text(book.site_for(False).executed / f"{doc}.ipynb"))
        only_solution = solution - public
        leaked = sorted(t for t in only_solution if bare_docs.index(doc) in bare_terms.get(t, ()))
        assert not leaked, f"{doc}: the no-solutions search index holds solution-only terms {leaked}"
        checked += sum(docs.index(doc) in terms.get(t, ()) for t in only_solution)
    assert checked, "control failed: no solution-only term is indexed even in the site with solutions"
