"""Build the course site: expand the chapters, then run Jupyter Book 1 on the expanded copy.

``python -m autograder book`` writes an expanded copy of the book (``_config.yml``, ``_toc.yml``,
``intro.md`` and every chapter of the table of contents) to ``_build/book-src/`` and builds it with
Jupyter Book 1 (Sphinx with MyST-NB) into ``_build/html``. Warnings are errors (``-W --keep-going``)
and so is any cell that raises.

Every code cell runs through the jupyter-cache named in ``_config.yml``, but not in Sphinx, which
would run the chapters one after the other: before Sphinx starts, the chapters whose run the cache
lacks are executed side by side, one kernel per core (``--jobs N``), by jupyter-cache's parallel
executor (:func:`execute_chapters`); each is staged under the key MyST-NB will look it up by, so
Sphinx (``execute_notebooks: cache``) only reads outputs. Each chapter's kernel is forked from one
interpreter that has imported torch, pandas and the other slow libraries once
(:mod:`autograder.warm_kernels`), rather than importing them again for every chapter. A chapter that
raises stops the build at once, with its name and traceback; the other chapters' kernels are stopped.

Expanding an exercise (see ``docs/AUTHORING.md``) turns its solution cell,
``from solutions.<module> import <id>``, into

1. a markdown cell showing the stub the student starts from, exactly as nbgrader's release shows it
   (:func:`autograder.chapters.stub`), in a code block that is not executed;
2. a code cell holding the reference's source, exactly as in the package
   (:meth:`autograder.chapters.Exercise.reference_source`), tagged ``hide-input`` so that it sits
   behind a "Show solution" toggle; it is executed, so the code the page shows is the code that runs.

The check cell stays where it is and shows its output. Each chapter with exercises also gets, right
after its title, a "Do the exercises" box: a download of its student notebook, the nbgrader release
that ``python -m autograder assign`` makes (no solution in it). The build runs ``assign`` into a
course folder of its own (``_build/course/``, redone only when the sources change, in a process of
its own while the chapters execute), so the site
never ships a release older than its chapters, and puts the notebooks in ``_exercises/`` of the
expanded copy for Sphinx's download role. Every expanded chapter starts with a removed
cell ``from __future__ import annotations``: IPython keeps a cell's ``__future__`` flags for the
cells after it, so annotations in the reference sources are never evaluated and may name anything,
as in the release notebooks.

With ``--no-solutions`` (for a graded term) the reference source is left out of the site entirely:
the solution cell stays the one-line import, tagged ``remove-input`` so that the chapter still runs,
and there is no toggle. That variant is built in its own folder (``_build/no-solutions/``: sources,
executed notebooks, doctrees) and copied to ``_build/html-no-solutions``, so that nothing of the
other variant can end up in it.

When the output holds a site built from the sources as they are now (a digest of the chapters, the
solutions, the autograder, the data, the config and the lock file), nothing is done. Otherwise files
in the expanded copy are written only when their content changed, and the site is mirrored to its
output the same way, so Sphinx reads and the cache executes only what changed. After
Sphinx, each chapter's executed notebook (``jupyter_execute/`` and the page's .ipynb download) is
rewritten with its outputs from the cache (MyST-NB 1.4 writes it without outputs on a cache hit),
and with a first cell that says what it needs to run: the course's repository (named once, in
``_config.yml``), since its code imports the course's packages.
Builds in one build folder take turns (a file lock), since they share the execution cache.
"""

from __future__ import annotations

import argparse
import copy
import fcntl
import json
import logging
import multiprocessing
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
import yaml
from jupyter_cache.cache.main import JupyterCacheBase
from jupyter_cache.executors.base import ExecutorRunResult
from jupyter_cache.executors.basic import (
    ExecutionWorkerLocalMProc,
    ExecutionWorkerTempMProc,
    JupyterExecutorLocalMproc,
    ProcessData,
)

from autograder import chapters
from autograder.course import CourseError
from autograder.seed import HIDDEN_SEED_ENV
from autograder.uptodate import BUILD_DIR, sources_digest
from autograder.warm_kernels import WarmKernels
from solutions.paths import PROJECT_ROOT

CONFIG_NAME = "_config.yml"
TOC_NAME = "_toc.yml"
#: The expanded sources, inside a site's work folder.
SOURCE_DIR_NAME = "book-src"
#: Where the no-solutions variant is built, inside the build folder.
NO_SOLUTIONS_DIR_NAME = "no-solutions"
#: The default output of the no-solutions variant, inside the build folder.
NO_SOLUTIONS_OUTPUT_NAME = "html-no-solutions"
#: The execution cache when ``_config.yml`` names none (relative to the project root).
DEFAULT_CACHE = "_build/.jupyter_cache"
#: MyST-NB writes executed notebooks to this folder next to the HTML folder (not configurable).
EXECUTED_DIR_NAME = "jupyter_execute"
#: Sphinx writes this file into every HTML output; a folder without it is not ours to overwrite.
SPHINX_BUILDINFO = ".buildinfo"
#: Written into a site's work folder after a successful build: the output folder and the sources' digest.
BUILT_STAMP = ".book-built.json"
#: A build holds this lock (in the build folder) so that two builds never write the same files at once.
LOCK_NAME = ".book.lock"
#: The format of the expanded chapters (the chapters' own).
MYST_FORMAT = "md:myst"

FUTURE_IMPORT = "from __future__ import annotations"
#: Cell tags understood by MyST-NB.
HIDE_INPUT = "hide-input"
REMOVE_INPUT = "remove-input"
REMOVE_CELL = "remove-cell"
#: Metadata keys the expansion puts on the cells it makes (tests find the cells by them).
STUB_OF_KEY = "stub_of"
SOLUTION_OF_KEY = "solution_of"
FUTURE_KEY = "future_annotations"
#: The labels of the solution toggle (MyST-NB cell-level configuration, key ``mystnb``).
SHOW_SOLUTION = "Show solution"
HIDE_SOLUTION = "Hide solution"
STUB_INTRO = "You start from this stub:"
#: Folder of the expanded copy that holds the student notebooks (excluded from pages in _config.yml).
EXERCISES_DIR_NAME = "_exercises"
#: The nbgrader course folder, inside the build folder, where the build runs ``assign`` for them.
RELEASES_COURSE_NAME = "course"
#: Written into that folder: the sources' digest the releases there were made from.
RELEASES_STAMP = ".book-releases.json"
#: The title of the box that links a chapter's student notebook, and the metadata key of its cell.
DO_EXERCISES = "Do the exercises"
EXERCISES_KEY = "exercises_download"
#: The metadata key of the first cell of a chapter's .ipynb download (what it needs to run).
DOWNLOAD_NOTE_KEY = "download_note"


@dataclass(frozen=True)
class Site:
    """Where one variant of the site is built; ``work`` holds everything of that variant."""

    with_solutions: bool
    work: Path

    @property
    def src(self) -> Path:
        """The expanded sources that Jupyter Book builds."""
        return self.work / SOURCE_DIR_NAME

    @property
    def html(self) -> Path:
        """The HTML that Sphinx writes."""
        return self.work / "html"

    @property
    def executed(self) -> Path:
        """The executed notebooks, one per page (``<docname>.ipynb``), as MyST-NB writes them."""
        return self.work / EXECUTED_DIR_NAME

    @property
    def doctrees(self) -> Path:
        """Sphinx's pickled environment and doctrees."""
        return self.work / ".doctrees"


def site_for(with_solutions: bool, build_dir: Path = BUILD_DIR) -> Site:
    """The work folders of the site with or without solutions."""
    return Site(True, build_dir) if with_solutions else Site(False, build_dir / NO_SOLUTIONS_DIR_NAME)


def default_output(with_solutions: bool, build_dir: Path = BUILD_DIR) -> Path:
    """``_build/html``, or ``_build/html-no-solutions`` without solutions."""
    return site_for(True, build_dir).html if with_solutions else build_dir / NO_SOLUTIONS_OUTPUT_NAME


def _read_stamp(site: Site) -> dict:
    """What the last successful build of a site recorded: ``{"digest": ..., "outputs": [...]}``."""
    try:
        stamp = json.loads((site.work / BUILT_STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) else {}


def is_up_to_date(with_solutions: bool, output: Path | None = None, root: Path = PROJECT_ROOT,
                  build_dir: Path = BUILD_DIR) -> bool:
    """Whether ``output`` holds a site built successfully from the sources as they are now."""
    site = site_for(with_solutions, build_dir)
    output = (output or default_output(with_solutions, build_dir)).resolve()
    stamp = _read_stamp(site)
    return (str(output) in stamp.get("outputs", []) and (output / "index.html").is_file()
            and stamp.get("digest") == sources_digest(root))


# --------------------------------------------------------------------------------------------------
# Expansion


def _fenced(code: str, language: str = "python") -> str:
    """``code`` in a fenced block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{code}\n{fence}"


def future_cell() -> nbformat.NotebookNode:
    """The removed first cell that makes the kernel treat every later annotation as a string."""
    return nbformat.v4.new_code_cell(FUTURE_IMPORT, metadata={"tags": [REMOVE_CELL], FUTURE_KEY: True})


def stub_cell(ex: chapters.Exercise, source: str) -> nbformat.NotebookNode:
    """A markdown cell showing the exercise's stub (not executed): what the student starts from."""
    text = f"{STUB_INTRO}\n\n{_fenced(chapters.stub(source))}"
    return nbformat.v4.new_markdown_cell(text, metadata={STUB_OF_KEY: ex.id})


def solution_cell(ex: chapters.Exercise, source: str) -> nbformat.NotebookNode:
    """The reference's source as an executed code cell, collapsed behind a "Show solution" toggle."""
    return nbformat.v4.new_code_cell(source.rstrip("\n"), metadata={
        "tags": [HIDE_INPUT],
        "mystnb": {"code_prompt_show": SHOW_SOLUTION, "code_prompt_hide": HIDE_SOLUTION},
        SOLUTION_OF_KEY: ex.id,
    })


def import_cell(ex: chapters.Exercise, original: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The chapter's one-line import of the reference, run but not shown (no-solutions site)."""
    return nbformat.v4.new_code_cell(original.source.strip(), metadata={"tags": [REMOVE_INPUT], SOLUTION_OF_KEY: ex.id})


def expand_notebook(nb: nbformat.NotebookNode, chapter: str, with_solutions: bool) -> nbformat.NotebookNode:
    """The book's version of a chapter notebook: each exercise's solution cell expanded (module docstring)."""
    by_cell = {ex.solution_cell: ex for ex in chapters.find_exercises(nb, chapter)}
    out = copy.deepcopy(nb)
    cells = [future_cell()]
    for i, cell in enumerate(nb.cells):
        ex = by_cell.get(i)
        if ex is None:
            cells.append(copy.deepcopy(cell))
            continue
        source = ex.reference_source()
        cells.append(stub_cell(ex, source))
        cells.append(solution_cell(ex, source) if with_solutions else import_cell(ex, cell))
    out.cells = cells
    return out


def exercises_cell(name: str) -> nbformat.NotebookNode:
    """The "Do the exercises" box of a chapter: a download of its student notebook ``name``.ipynb."""
    text = (f":::{{admonition}} {DO_EXERCISES}\n:class: tip\n\n"
            f"{{download}}`Download the student notebook {name}.ipynb </{EXERCISES_DIR_NAME}/{name}.ipynb>`: "
            f"this chapter's exercises, each with its task, the stub you fill in and its public checks "
            f"(no solution). Open it in JupyterLab or Notebook 7 and follow its first cell. It needs Python "
            f"with `torch`, `numpy` and `pandas`, nothing else of the course.\n:::")
    return nbformat.v4.new_markdown_cell(text, metadata={EXERCISES_KEY: name})


def with_exercises_download(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The expanded chapter with its "Do the exercises" box after the title cell (first level-1 heading)."""
    titled = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and re.search(r"^# ", c.source, re.M)]
    at = titled[0] + 1 if titled else 0
    out = copy.copy(nb)
    out.cells = nb.cells[:at] + [exercises_cell(name)] + nb.cells[at:]
    return out


def _to_myst(nb: nbformat.NotebookNode, where: str, verified: bytes | None = None) -> str:
    """The notebook as MyST Markdown text, checked to read back with the same cells.

    ``verified`` is text that passed this check before (the file already written): no need to redo it.
    """
    text = jupytext.writes(nb, fmt=MYST_FORMAT)
    if verified is not None and text.encode("utf-8") == verified:
        return text
    back = jupytext.reads(text, fmt=MYST_FORMAT)
    got = [(c.cell_type, c.source.strip()) for c in back.cells]
    want = [(c.cell_type, c.source.strip()) for c in nb.cells]
    if got != want:
        raise CourseError(f"{where}: the expanded chapter does not survive MyST Markdown round-trip "
                          f"(a reference's source or docstring may hold a line that looks like a cell marker)")
    return text


def toc_docnames(toc: Path) -> list[str]:
    """Every document of the table of contents, root first (``intro``, ``chapters/ch1_titanic``, ...)."""
    from sphinx_external_toc.parsing import MalformedError, parse_toc_yaml

    try:
        site_map = parse_toc_yaml(toc)
    except (OSError, MalformedError) as err:
        raise CourseError(f"cannot read the table of contents {toc}: {err}") from err
    names = [site_map.root.docname] + [d for d in site_map if d != site_map.root.docname]
    if site_map.globs():
        raise CourseError(f"{toc}: glob entries are not supported; list each file")
    return names


def is_notebook(path: Path) -> bool:
    """Whether a Markdown file is a MyST notebook (front matter with a kernelspec), not plain text."""
    text = path.read_text(encoding="utf-8")
    m = re.match(r"---\n(.*?)\n---\n", text, flags=re.S)
    if not m:
        return False
    header = yaml.safe_load(m.group(1))
    return isinstance(header, dict) and "kernelspec" in header


def exercise_chapters(root: Path) -> list[str]:
    """The chapters of the table of contents that have exercises (their names, as ``assign`` knows them)."""
    names = []
    for docname in toc_docnames(root / TOC_NAME):
        path = root / f"{docname}.md"
        if path.parent == root / "chapters" and path.is_file() and is_notebook(path):
            try:
                if chapters.load_exercises(path):
                    names.append(path.stem)
            except chapters.ChapterError as err:
                raise CourseError(str(err)) from err
    return names


class StudentNotebooks:
    """Each exercise chapter's student notebook (its nbgrader release), made by ``assign`` in the build folder.

    ``assign`` runs only when the sources' ``digest`` differs from the one the releases there were
    made from (the notebooks are byte-identical on every run anyway), and in a process of its own,
    started here, so that it runs while the chapters execute: only the "Do the exercises" downloads
    need it, not the chapters' code. :meth:`finish` waits for it; :meth:`stop` ends it early.
    """

    def __init__(self, root: Path, build_dir: Path, digest: str) -> None:
        self.course = build_dir / RELEASES_COURSE_NAME
        self.names = exercise_chapters(root)
        self.paths = {name: self.course / "release" / name / f"{name}.ipynb" for name in self.names}
        self.record = {"digest": digest, "names": self.names}
        self.proc: subprocess.Popen | None = None
        stamp = self.course / RELEASES_STAMP
        try:
            current = json.loads(stamp.read_text(encoding="utf-8")) == self.record
        except (OSError, ValueError):
            current = False
        if current and all(p.is_file() for p in self.paths.values()):
            return
        stamp.unlink(missing_ok=True)
        if self.names:
            path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
            # without the instructor's hidden seed: the releases do not depend on it (the same bytes either
            # way), and the source notebooks this course also gets would hold the hidden cases it makes,
            # in a build folder that is not the course's and may be readable by others
            env = {k: v for k, v in os.environ.items() if k != HIDDEN_SEED_ENV}
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "autograder", "assign", *self.names, "--course-dir", str(self.course),
                 "--chapters-dir", str(root / "chapters")], cwd=PROJECT_ROOT, env={**env, "PYTHONPATH": path})
        else:
            self._done()

    def _done(self) -> None:
        self.course.mkdir(parents=True, exist_ok=True)
        (self.course / RELEASES_STAMP).write_text(json.dumps(self.record) + "\n", encoding="utf-8")

    def now(self) -> dict[str, bytes]:
        """The notebooks as they are now (empty for one not made yet): stand-ins until :meth:`finish`."""
        return {name: path.read_bytes() if path.is_file() else b"" for name, path in self.paths.items()}

    def finish(self) -> dict[str, bytes]:
        """The notebooks, once ``assign`` has made them."""
        if self.proc is not None:
            status = self.proc.wait()
            self.proc = None
            if status != 0:
                raise CourseError(f"generating the student notebooks into {self.course} failed "
                                  f"(status {status}): see the error above")
            self._done()
        return {name: path.read_bytes() for name, path in self.paths.items()}

    def stop(self) -> None:
        """End ``assign`` if it still runs (the build failed before it was needed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def book_sources(root: Path, with_solutions: bool, previous: Path | None = None,
                 releases: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """The expanded book: relative path -> content, for the config, the toc and every toc document.

    ``previous`` is the folder of the last expansion, whose chapters need no second round-trip check.
    ``releases`` are the chapters' student notebooks (:class:`StudentNotebooks`): each goes to
    ``_exercises/<name>.ipynb``, and its chapter gets the "Do the exercises" box that links it.
    """
    releases = releases or {}
    files = {}
    for name in (CONFIG_NAME, TOC_NAME):
        if not (root / name).is_file():
            raise CourseError(f"no {name} in {root}")
        files[name] = (root / name).read_bytes()
    for docname in toc_docnames(root / TOC_NAME):
        rel = f"{docname}.md"
        path = root / rel
        if not path.is_file():
            raise CourseError(f"{TOC_NAME} lists {docname!r}, but there is no {path}")
        if not is_notebook(path):
            files[rel] = path.read_bytes()
            continue
        try:
            nb = expand_notebook(chapters.read_chapter(path), path.stem, with_solutions)
        except chapters.ChapterError as err:
            raise CourseError(str(err)) from err
        if path.stem in releases:
            nb = with_exercises_download(nb, path.stem)
            files[f"{EXERCISES_DIR_NAME}/{path.stem}.ipynb"] = releases[path.stem]
        old = previous / rel if previous else None
        files[rel] = _to_myst(nb, rel, old.read_bytes() if old and old.is_file() else None).encode("utf-8")
    return files


# --------------------------------------------------------------------------------------------------
# Files written only when they change


def sync_tree(files: dict[str, bytes], dest: Path) -> list[str]:
    """Make ``dest`` hold exactly ``files``; write only files whose bytes differ; return what changed."""
    changed = []
    for rel, data in sorted(files.items()):
        path = dest / rel
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        changed.append(rel)
    if dest.is_dir():
        for path in sorted(dest.rglob("*"), reverse=True):
            rel = path.relative_to(dest).as_posix()
            if path.is_file() and rel not in files:
                path.unlink()
                changed.append(rel)
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    return changed


def check_output(dest: Path) -> None:
    """Refuse to write a site over a folder that holds something else (it would be emptied)."""
    if dest.is_file() or (dest.is_dir() and any(dest.iterdir()) and not (dest / SPHINX_BUILDINFO).is_file()):
        raise CourseError(f"{dest} is not empty and holds no built site ({SPHINX_BUILDINFO}); "
                          f"choose an empty or new folder for --output")


def mirror(src: Path, dest: Path) -> list[str]:
    """Copy a built site to ``dest`` (only changed files; stale ones removed); refuses foreign folders."""
    check_output(dest)
    files = {p.relative_to(src).as_posix(): p.read_bytes() for p in src.rglob("*") if p.is_file()}
    return sync_tree(files, dest)


# --------------------------------------------------------------------------------------------------
# Jupyter Book


def cache_path(root: Path) -> Path:
    """The execution cache named in ``_config.yml`` (``execute.cache``), relative to the project root."""
    config = yaml.safe_load((root / CONFIG_NAME).read_text(encoding="utf-8")) or {}
    return (root / ((config.get("execute") or {}).get("cache") or DEFAULT_CACHE)).resolve()


@contextmanager
def _kernel_can_import() -> Iterator[None]:
    """Let the chapters' kernels import ``solutions`` and ``autograder`` (they run in book-src)."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT)] + ([old] if old else []))
    try:
        yield
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


def run_jupyter_book(site: Site, cache: Path) -> int:
    """Build ``site.src`` into ``site.html`` with Jupyter Book 1, warnings as errors; Sphinx's status."""
    from jupyter_book.sphinx import build_sphinx

    with _kernel_can_import():
        result = build_sphinx(
            site.src,
            site.html,
            use_external_toc=True,
            noconfig=True,
            path_config=str(site.src / CONFIG_NAME),
            confoverrides=sphinx_overrides(site, cache),
            doctreedir=site.doctrees,
            builder="html",
            warningiserror=True,
            keep_going=True,
        )
    if isinstance(result, BaseException):
        return 1  # Sphinx has printed the error
    return int(result)


# --------------------------------------------------------------------------------------------------
# The chapters executed side by side, into the execution cache that Sphinx then reads

#: How jupyter-cache reads a staged MyST Markdown chapter: MyST-NB's own reader plugin, the one MyST-NB
#: stages a chapter with when it executes it itself.
MYST_NB_READ_DATA = {"type": "plugin", "name": "myst_nb_md"}
#: The logger of the execution workers: their errors (a kernel that died) are printed, the cell errors
#: this module prints itself are not printed twice.
EXECUTION_LOGGER = "autograder.book.execution"


def default_jobs() -> int:
    """One kernel per core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def sphinx_overrides(site: Site, cache: Path) -> dict:
    """The Sphinx settings the build passes on top of ``_config.yml``."""
    return {
        "external_toc_path": (site.src / TOC_NAME).as_posix(),
        "latex_individualpages": False,
        "nb_execution_cache_path": str(cache),
    }


@dataclass(frozen=True)
class Staged:
    """A chapter of the expanded book as MyST-NB will look it up in the execution cache."""

    docname: str
    path: Path
    notebook: nbformat.NotebookNode  # as MyST-NB reads it: its code cells make the cache key
    executes: bool  # whether MyST-NB executes it through the cache (not excluded, not switched off)


def myst_nb_configs(site: Site, cache: Path):
    """MyST-NB's Markdown and notebook settings for ``site``, made as the build's Sphinx makes them.

    Jupyter Book turns ``_config.yml`` (with the build's overrides) into Sphinx settings; MyST-Parser
    and MyST-NB read theirs from the ``myst_*`` and ``nb_*`` ones.
    """
    from jupyter_book.config import get_final_config
    from myst_nb.core.config import NbParserConfig
    from myst_parser.config.main import MdParserConfig

    conf, _ = get_final_config(user_yaml=site.src / CONFIG_NAME, cli_config=sphinx_overrides(site, cache),
                               sourcedir=site.src, use_external_toc=True)
    md = MdParserConfig(**{f.name: conf[f"myst_{f.name}"] for f in MdParserConfig.get_fields()
                           if f"myst_{f.name}" in conf})
    nb = NbParserConfig(**{name: conf[f"nb_{name}"] for name, _, field in NbParserConfig().as_triple()
                           if f"nb_{name}" in conf and not field.metadata.get("sphinx_exclude")})
    return md, nb


def staged_chapters(site: Site, cache: Path) -> list[Staged]:
    """Every notebook page of ``site`` read as MyST-NB's parser reads it (``myst_nb.sphinx_.Parser.parse``).

    The cache key is a hash of the notebook's kernelspec and code cells as MyST-NB reads the page, so
    this reads each page with MyST-NB's own reader and settings, applies the kernel aliases and the
    notebook's own ``mystnb`` settings as it does, and says whether it will execute the page through
    the cache at all.
    """
    from pathlib import PurePosixPath

    from myst_nb.core.read import create_nb_reader
    from myst_nb.core.nb_to_tokens import nb_node_to_dict

    md_config, nb_config = myst_nb_configs(site, cache)
    staged = []
    for docname in toc_docnames(site.src / TOC_NAME):
        path = site.src / f"{docname}.md"
        text = path.read_text(encoding="utf-8")
        reader = create_nb_reader(str(path), md_config, nb_config, text)
        if reader is None:
            continue  # a plain Markdown page
        nb = reader.read(text)
        kernel = nb.metadata.get("kernelspec", {}).get("name")
        for rgx, alias in nb_config.kernel_rgx_aliases.items():
            if kernel is not None and re.fullmatch(rgx, kernel):
                nb.metadata["kernelspec"]["name"] = alias
                break
        config = nb_config
        if nb_config.metadata_key in nb.metadata:
            overrides = nb_node_to_dict(nb.metadata[nb_config.metadata_key])
            overrides.pop("output_folder", None)
            config = nb_config.copy(**overrides)
        excluded = any(PurePosixPath(path.as_posix()).match(p) for p in config.execution_excludepatterns)
        staged.append(Staged(docname, path, nb, config.execution_mode == "cache" and not excluded))
    return staged


def _past_seconds(caches: list, staged: list[Staged]) -> dict[str, float]:
    """Each chapter's last execution time in these caches (either site's copy of it), when known."""
    seconds: dict[str, float] = {}
    ends = {f"/{SOURCE_DIR_NAME}/{s.docname}.md": s.docname for s in staged}
    for record in sorted((r for db in caches for r in db.list_cache_records()), key=lambda r: r.created):
        for end, docname in ends.items():
            if record.uri.endswith(end) and isinstance((record.data or {}).get("execution_seconds"), (int, float)):
                seconds[docname] = float(record.data["execution_seconds"])
    return seconds


class ChapterFailed(CourseError):
    """A chapter raised (or its kernel died) while the cache was being filled."""


#: The lock file, in the execution cache's folder, that the side-by-side workers' writes take turns on.
CACHE_WRITE_LOCK = ".write.lock"


class OneWriterAtATime(JupyterCacheBase):
    """The execution cache as the side-by-side workers write to it: one chapter's caching at a time.

    jupyter-cache 1.0.1 is not safe for two processes caching at once. After adding its record, each
    trims the cache to its size limit (``truncate_caches``) in two queries, the newest records to keep
    and then all the others to delete: a record another process adds between the two queries is taken
    for an old one and deleted (with its notebook, or the other process's caching fails if its notebook
    is not written yet). Sphinx then executed that chapter again. Chapters that end together, as in
    ``test_chapters_run_side_by_side_and_sphinx_executes_none``, met it; so each caching holds a lock.
    """

    def cache_notebook_bundle(self, *args, **kwargs):
        with _exclusive(self.path / CACHE_WRITE_LOCK):
            return super().cache_notebook_bundle(*args, **kwargs)


class _Worker(ExecutionWorkerLocalMProc):
    """jupyter-cache's worker that runs a chapter in its own folder, quiet: the build prints its own progress.

    Its errors (a chapter that could not be read or whose kernel died) still reach stderr; its warning
    for a cell that raised does not, since :func:`execute_chapters` prints that chapter's traceback.
    """

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger(EXECUTION_LOGGER)

    def log_info(self, msg: str) -> None:
        """Nothing: the build prints its own progress."""


class _TempWorker(ExecutionWorkerTempMProc):
    """The same in a temporary folder (``execute.run_in_temp`` of ``_config.yml``)."""

    logger = _Worker.logger
    log_info = _Worker.log_info


class SideBySide(JupyterExecutorLocalMproc):
    """jupyter-cache's ``local-parallel`` executor with a number of processes and a stop at the first failure.

    jupyter-cache 1.0.1's executor maps every notebook over a ``multiprocessing.Pool`` of
    ``os.cpu_count()`` processes and reports after the last one. This subclass keeps its workers
    (reading the staged notebook, running it, caching it, recording a traceback in the project
    record) and changes only the pool: a ``concurrent.futures`` pool of ``jobs`` processes (it
    survives a killed worker, where ``multiprocessing.Pool`` hangs), results taken as they come
    (``on_result(status, uri)``; status 0 executed, 1 a cell raised, 2 could not run), and the
    workers killed as soon as ``on_result`` raises.
    """

    def __init__(self, cache, jobs: int, in_temp: bool, on_result) -> None:
        super().__init__(cache, logging.getLogger(EXECUTION_LOGGER))
        self.jobs = jobs
        self.worker = _TempWorker() if in_temp else _Worker()
        self.on_result = on_result

    def run_and_cache(self, *, filter_uris=None, filter_pks=None, timeout=30, allow_errors=False,
                      force=False) -> ExecutorRunResult:
        """Execute the staged notebooks of ``filter_uris`` that the cache lacks, in that order."""
        records = self.get_records(filter_uris, filter_pks, clear_tracebacks=True, force=force)
        order = {uri: i for i, uri in enumerate(filter_uris or [])}
        records.sort(key=lambda r: order.get(r.uri, len(order)))
        result = ExecutorRunResult()
        if not records:
            return result
        logging.getLogger(EXECUTION_LOGGER).setLevel(logging.ERROR)
        tasks = [ProcessData(r.pk, r.uri, self.cache, timeout, allow_errors) for r in records]
        others = set(multiprocessing.active_children())
        with ProcessPoolExecutor(min(self.jobs, len(records)), mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(self.worker, task) for task in tasks]
            try:
                for future in as_completed(futures):
                    status, uri = future.result()
                    (result.succeeded, result.excepted, result.errored)[status].append(uri)
                    self.on_result(status, uri)
            except BaseException:
                # Stop the other chapters now. A worker running one handles SIGTERM (nbclient's handler
                # shuts its kernel down, and the worker lives on), so the workers are killed; their
                # kernels exit on their own within a second (ipykernel polls its parent process).
                pool.shutdown(wait=False, cancel_futures=True)
                for worker in set(multiprocessing.active_children()) - others:
                    worker.kill()
                raise
        return result


def execute_chapters(site: Site, cache: Path, jobs: int | None = None) -> list[str]:
    """Execute, side by side, the chapters of ``site`` whose run the execution cache lacks; return them.

    Each chapter is staged in the cache's project as MyST-NB stages it and run by jupyter-cache's
    worker in the chapter's folder, with the timeout and error setting MyST-NB would use, ``jobs``
    kernels at a time (default: one per core), the chapters that took longest last time first. Sphinx
    then finds every chapter in the cache and executes nothing. A chapter that raises stops the
    execution at once: its traceback is printed and :class:`ChapterFailed` names it.
    """
    from jupyter_cache import get_cache

    jobs = jobs or default_jobs()
    if jobs < 1:
        raise CourseError(f"--jobs must be at least 1, not {jobs}")
    db = get_cache(str(cache))
    _, nb_config = myst_nb_configs(site, cache)
    staged = [s for s in staged_chapters(site, cache) if s.executes]
    missing = []
    for s in staged:
        try:
            db.match_cache_notebook(s.notebook)
        except KeyError:
            missing.append(s)
    if not missing:
        return []
    # Longest first: times from this cache, or from the project's own (a build into another folder)
    project = cache_path(PROJECT_ROOT)
    others = [get_cache(str(project))] if project != Path(cache).resolve() and project.is_dir() else []
    past = _past_seconds([db, *others], missing)
    missing.sort(key=lambda s: -past.get(s.docname, 0.0))
    for s in missing:
        db.add_nb_to_project(str(s.path), read_data=MYST_NB_READ_DATA)
    by_uri = {str(s.path.absolute()): s for s in missing}
    workers = min(jobs, len(missing))
    print(f"book: executing {len(missing)} chapter(s), {workers} at a time: "
          f"{', '.join(s.docname for s in missing)}", flush=True)
    start = time.perf_counter()

    def report(status: int, uri: str) -> None:
        s = by_uri[uri]
        if status == 0:
            print(f"book: executed {s.docname} ({time.perf_counter() - start:.1f} s since the start)", flush=True)
            return
        record = db.get_project_record(uri)
        if record.traceback:  # nbclient's error (the cell and the kernel's traceback), without our frames
            at = record.traceback.find("nbclient.exceptions.")
            print(record.traceback[at if at >= 0 else 0:], file=sys.stderr, flush=True)
        why = "its traceback is above" if record.traceback else "its kernel could not run it (see above)"
        raise ChapterFailed(f"the chapter {s.docname} ({s.path}) failed to execute: {why}")

    executor = SideBySide(OneWriterAtATime(cache), workers, nb_config.execution_in_temp, report)
    with _kernel_can_import(), WarmKernels():
        executor.run_and_cache(filter_uris=list(by_uri), timeout=nb_config.execution_timeout,
                               allow_errors=nb_config.execution_allow_errors)
    for s in missing:
        try:
            db.match_cache_notebook(s.notebook)
        except KeyError:
            # jupyter-cache's reader of the staged file and MyST-NB's reader with the book's settings
            # disagree about its code cells (a code cell inside a colon fence, say): Sphinx runs it itself.
            print(f"book: warning: {s.docname} is cached under another key than MyST-NB will look up; "
                  f"Sphinx will execute it itself", flush=True)
    return [s.docname for s in missing]


def repository_url(config_file: Path) -> str:
    """The course's repository, as ``_config.yml`` names it (``repository.url``): the one place it is written."""
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    url = (config.get("repository") or {}).get("url")
    if not url:
        raise CourseError(f"{config_file} names no repository (repository.url)")
    return str(url).rstrip("/")


def download_note(docname: str, title: str, repo: str, has_exercises: bool) -> nbformat.NotebookNode:
    """The first cell of a chapter's .ipynb download: what the notebook is and what it needs to run."""
    stem = Path(docname).name
    text = (f"**About this notebook.** This is the page of the course *{title}* made from "
            f"`{docname}.md`, with the outputs of the site's build. Its code imports the course's own "
            f"packages (`solutions`, `autograder`) and reads its data files, so it runs only with the "
            f"course's repository ({repo}) and environment: clone it, run `python3 dev.py build` once, "
            f"then start `.venv/bin/jupyter lab` in it and open this notebook or `{docname}.md` (a MyST "
            f"notebook, opened as one by jupytext). The page's Binder button starts the same without "
            f"installing anything.")
    if has_exercises:
        text += (f"\n\nTo do this chapter's exercises, download the student notebook `{stem}.ipynb` instead "
                 f"(\"{DO_EXERCISES}\" on the page): it needs only Python with `torch`, `numpy` and `pandas`.")
    return nbformat.v4.new_markdown_cell(text, metadata={DOWNLOAD_NOTE_KEY: True})


def write_executed_notebooks(site: Site, cache: Path) -> list[str]:
    """Write each chapter's executed notebook, outputs taken from the execution cache; return what changed.

    MyST-NB 1.4 writes ``jupyter_execute/<doc>.ipynb`` (which the theme copies to ``_sources/`` as the
    page's .ipynb download) without any outputs when it took them from the cache instead of running
    the notebook. This writes the complete notebook to both places, with a first cell that says what
    it needs to run (:func:`download_note`) and cell ids numbered in order so that the same build
    gives the same bytes. It fails if the cache holds no run of a chapter.
    """
    from jupyter_cache import get_cache

    db = get_cache(str(cache))
    config = yaml.safe_load((site.src / CONFIG_NAME).read_text(encoding="utf-8")) or {}
    repo = repository_url(site.src / CONFIG_NAME)
    changed = []
    for docname in toc_docnames(site.src / TOC_NAME):
        path = site.src / f"{docname}.md"
        if not is_notebook(path):
            continue
        try:
            _, nb = db.merge_match_into_notebook(jupytext.read(path, fmt=MYST_FORMAT))
        except KeyError as err:
            raise CourseError(f"the execution cache {cache} holds no run of {path}") from err
        has_exercises = (site.src / EXERCISES_DIR_NAME / f"{Path(docname).name}.ipynb").is_file()
        nb.cells.insert(0, download_note(docname, str(config.get("title", "")), repo, has_exercises))
        for i, cell in enumerate(nb.cells):
            cell.id = f"cell-{i}"
        data = nbformat.writes(nb).encode("utf-8")
        for dest in (site.executed / f"{docname}.ipynb", site.html / "_sources" / f"{docname}.ipynb"):
            if not dest.is_file() or dest.read_bytes() != data:
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
                changed.append(str(dest.relative_to(site.work)))
    return changed


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on a file for the block (another holder waits for this one)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_book(
    with_solutions: bool = True,
    output: Path | None = None,
    root: Path = PROJECT_ROOT,
    build_dir: Path = BUILD_DIR,
    cache: Path | None = None,
    skip_if_current: bool = True,
    jobs: int | None = None,
) -> int:
    """Expand the book of ``root`` and build it; return 0 when the site is complete, else non-zero.

    ``cache`` is the execution cache (default: ``execute.cache`` of ``_config.yml``). The chapters
    whose run it lacks are executed first, ``jobs`` at a time (default: one per core; see
    :func:`execute_chapters`), then Sphinx builds the site from the cache. When the output already
    holds a site built from the sources as they are now (same digest), nothing is done unless
    ``skip_if_current`` is false (then Sphinx runs and finds nothing to do).
    """
    with _exclusive(build_dir / LOCK_NAME):
        return _build_book(with_solutions, output, root, build_dir, cache, skip_if_current, jobs)


def _build_book(with_solutions: bool, output: Path | None, root: Path, build_dir: Path, cache: Path | None,
                skip_if_current: bool, jobs: int | None) -> int:
    """:func:`build_book` under the build folder's lock."""
    start = time.perf_counter()
    site = site_for(with_solutions, build_dir)
    output = (output or default_output(with_solutions, build_dir)).resolve()
    if output != site.html.resolve():
        check_output(output)
    variant = "with solutions" if with_solutions else "without solutions"
    digest = sources_digest(root)  # before the build: a source edited meanwhile makes the site stale
    stamp = _read_stamp(site)
    if skip_if_current and stamp.get("digest") == digest and (site.html / "index.html").is_file():
        if str(output) in stamp.get("outputs", []) and (output / "index.html").is_file():
            print(f"book: the site {variant} in {output} is up to date (its sources have not changed)", flush=True)
            return 0
    else:
        (site.work / BUILT_STAMP).unlink(missing_ok=True)  # a failed build leaves no claim to be current
        stamp = {"digest": digest, "outputs": [str(site.html.resolve())]}
        releases = StudentNotebooks(root, build_dir, digest)
        try:
            files = book_sources(root, with_solutions, previous=site.src, releases=releases.now())
            changed = sync_tree(files, site.src)
            print(f"book: expanded sources {variant} in {site.src} "
                  f"({', '.join(changed) if changed else 'nothing changed'})", flush=True)
            cache = cache or cache_path(root)
            try:
                execute_chapters(site, cache, jobs)
            except ChapterFailed as err:
                print(f"book: the build failed: {err}", flush=True)
                return 1
            files.update({f"{EXERCISES_DIR_NAME}/{name}.ipynb": data for name, data in releases.finish().items()})
            sync_tree(files, site.src)
        finally:
            releases.stop()
        status = run_jupyter_book(site, cache)
        if status != 0:
            print(f"book: the build failed (status {status}): see the errors and warnings above", flush=True)
            return status
        write_executed_notebooks(site, cache)
    if output != site.html.resolve():
        mirror(site.html, output)
    stamp["outputs"] = sorted(set(stamp.get("outputs", [])) | {str(output)})
    (site.work / BUILT_STAMP).write_text(json.dumps(stamp) + "\n", encoding="utf-8")
    print(f"book: site {variant} in {output} ({time.perf_counter() - start:.1f} s); "
          f"open {output / 'index.html'}", flush=True)
    return 0


def ensure_built(with_solutions: bool) -> Path:
    """The default output of a site, built first (``python -m autograder book``) unless it is current.

    For the tests, which read a built site: the build runs in its own process, like a user's.
    """
    output = default_output(with_solutions)
    if is_up_to_date(with_solutions):
        return output
    cmd = [sys.executable, "-m", "autograder", "book", *([] if with_solutions else ["--no-solutions"])]
    path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": path},
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise CourseError(f"`{' '.join(cmd[1:])}` failed ({proc.returncode}):\n"
                          f"{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}")
    return output


def main(args: argparse.Namespace) -> int:
    """``python -m autograder book [--no-solutions] [--output DIR] [--jobs N]``."""
    return build_book(with_solutions=not args.no_solutions, output=args.output, jobs=args.jobs)
