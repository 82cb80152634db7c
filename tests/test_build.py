"""The build's speed-ups: chapters executed side by side into the execution cache, and nothing redone.

The tests marked ``book`` build small books of their own (a few chapters of a few cells, in a
temporary folder, with their own execution cache): Sphinx and a kernel per chapter take tens of
seconds. The others read the project's chapters and run no kernel.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_cache import get_cache
from myst_nb.core.read import myst_nb_reader_plugin

from autograder import book
from solutions.paths import PROJECT_ROOT

HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""
#: What MyST-NB logs when it takes a page's outputs from the cache, and when it runs the page itself.
CACHE_HIT = "Using cached notebook"
SPHINX_EXECUTES = "Executing notebook"
#: How long a chapter of the tests below waits for the other one (a serial run would wait in vain).
WAIT_S = 90


def _chapter(title: str, *cells: str) -> str:
    body = "\n\n".join(f"```{{code-cell}} ipython3\n{code}\n```" for code in cells)
    return f"{HEADER}\n# {title}\n\n{body}\n"


def _wait_for(path: Path) -> str:
    """Code for a cell that waits until ``path`` exists (and fails after ``WAIT_S`` seconds)."""
    return (f"import time\nfrom pathlib import Path\nend = time.monotonic() + {WAIT_S}\n"
            f"while not Path({str(path)!r}).exists():\n"
            f"    assert time.monotonic() < end, 'the other chapter never ran alongside this one'\n"
            f"    time.sleep(0.1)")


def _book(root: Path, chapters: dict[str, str]) -> None:
    """A book of ``chapters`` (stem -> MyST text) with the project's ``_config.yml``."""
    (root / "chapters").mkdir(parents=True)
    (root / book.CONFIG_NAME).write_bytes((PROJECT_ROOT / book.CONFIG_NAME).read_bytes())
    toc = "".join(f"  - file: chapters/{stem}\n" for stem in chapters)
    (root / book.TOC_NAME).write_text(f"format: jb-book\nroot: intro\nchapters:\n{toc}")
    (root / "intro.md").write_text("# A test book\n\nChapters executed side by side.\n")
    for stem, text in chapters.items():
        (root / "chapters" / f"{stem}.md").write_text(text)


@pytest.mark.book
def test_chapters_run_side_by_side_and_sphinx_executes_none(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Two chapters that each wait for the other finish only when run at the same time; Sphinx then
    takes both from the cache, and a rebuild executes nothing."""
    flags = tmp_path / "flags"
    flags.mkdir()
    root, build_dir, cache = tmp_path / "book", tmp_path / "_build", tmp_path / "cache"
    _book(root, {
        "ch_a": _chapter("A", f"Path = __import__('pathlib').Path\nPath({str(flags / 'a')!r}).touch()",
                         _wait_for(flags / "b"), "print('a done')"),
        "ch_b": _chapter("B", f"Path = __import__('pathlib').Path\nPath({str(flags / 'b')!r}).touch()",
                         _wait_for(flags / "a"), "print('b done')"),
    })
    assert book.build_book(root=root, build_dir=build_dir, cache=cache, jobs=2) == 0
    out = "".join(capfd.readouterr())
    assert "executing 2 chapter(s), 2 at a time" in out
    assert out.count(CACHE_HIT) == 2, f"Sphinx did not take both chapters from the cache:\n{out[-3000:]}"
    assert SPHINX_EXECUTES not in out, "Sphinx executed a chapter itself"
    page = (build_dir / "html" / "chapters" / "ch_b.html").read_text(encoding="utf-8")
    assert "b done" in page

    assert book.build_book(root=root, build_dir=build_dir, cache=cache, skip_if_current=False) == 0
    out = "".join(capfd.readouterr())
    assert "executing" not in out and SPHINX_EXECUTES not in out, "a rebuild with nothing changed executed"


@pytest.mark.book
def test_a_failing_chapter_stops_the_build_at_once_and_leaves_no_kernel(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A chapter raises while another one is still running: the build fails at once, naming the
    chapter and showing its traceback, and the other chapter's kernel does not live on."""
    pid_file = tmp_path / "slow.pid"
    root, build_dir, cache = tmp_path / "book", tmp_path / "_build", tmp_path / "cache"
    _book(root, {
        "ch_fails": _chapter("Fails", _wait_for(pid_file), "def helper():\n    raise ValueError('boom')\n\nhelper()"),
        "ch_slow": _chapter("Slow", f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))",
                            f"time.sleep({WAIT_S})"),
    })
    start = time.monotonic()
    assert book.build_book(root=root, build_dir=build_dir, cache=cache, jobs=2) != 0
    elapsed = time.monotonic() - start
    out = "".join(capfd.readouterr())
    assert elapsed < WAIT_S, f"the build waited for the slow chapter ({elapsed:.0f} s)"
    assert "chapters/ch_fails" in out and "the build failed" in out
    assert "ValueError" in out and "boom" in out and "helper()" in out, f"no traceback:\n{out[-3000:]}"
    assert not (build_dir / "html" / "index.html").exists(), "Sphinx ran after a chapter failed"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists(), f"the slow chapter's kernel (pid {pid}) still runs"
    assert not book.is_up_to_date(True, root=root, build_dir=build_dir)


@pytest.mark.parametrize("with_solutions", [True, False], ids=["site", "no-solutions"])
def test_cache_key_of_every_chapter_is_the_one_myst_nb_looks_up(tmp_path: Path, with_solutions: bool) -> None:
    """For the project's chapters as the build expands them, the notebook staged for execution (what
    jupyter-cache's reader of MyST-NB makes of the file) has the cache key of the notebook MyST-NB's
    parser reads with the book's settings, and of the one the executed downloads are merged into."""
    import jupytext

    site = book.Site(with_solutions, tmp_path)
    book.sync_tree(book.book_sources(PROJECT_ROOT, with_solutions), site.src)
    db = get_cache(str(tmp_path / "cache"))
    staged = book.staged_chapters(site, tmp_path / "cache")
    assert [s.docname for s in staged] == [d for d in book.toc_docnames(PROJECT_ROOT / book.TOC_NAME)
                                           if book.is_notebook(PROJECT_ROOT / f"{d}.md")]
    for s in staged:
        assert s.executes, f"{s.docname} would not be executed through the cache"
        key = db.create_hashed_notebook(s.notebook)[1]
        assert db.create_hashed_notebook(myst_nb_reader_plugin(str(s.path)))[1] == key, s.docname
        assert db.create_hashed_notebook(jupytext.read(s.path, fmt=book.MYST_FORMAT))[1] == key, s.docname
    # control: a changed code cell changes the key
    first = staged[0]
    first.path.write_text(first.path.read_text(encoding="utf-8").replace("```{code-cell} ipython3\n",
                                                                           "```{code-cell} ipython3\n1\n", 1))
    changed = [s for s in book.staged_chapters(site, tmp_path / "cache") if s.docname == first.docname][0]
    assert db.create_hashed_notebook(changed.notebook)[1] != db.create_hashed_notebook(first.notebook)[1]


#: A file that the trimming below creates once it has made its first query (set by the test).
_TRIMMING: list[Path] = []
#: How long the trimming pauses between its queries, at most: it goes on early once the other
#: chapter says its caching has ended (a file beside ``_TRIMMING``'s). With the lock that never happens
#: while it pauses, and a longer pause only makes the test stricter; without it (the control) the pause
#: ends as soon as the other chapter's caching has ended, however slow the machine.
TRIM_PAUSE_S = 0.5
CONTROL_PAUSE_S = 60.0
_PAUSE: list[float] = [TRIM_PAUSE_S]


def _trim_with_a_pause(keep: int, db) -> list[int]:
    """jupyter-cache 1.0.1's ``NbCacheRecord.records_to_delete`` (its two queries) with a pause between
    them, announced by a file: another process's caching lands in between, as it can by chance."""
    from jupyter_cache.cache.db import NbCacheRecord, session_context
    from sqlalchemy import desc

    with session_context(db) as session:
        keep_pks = [pk for pk, in session.query(NbCacheRecord.pk).order_by(desc("accessed")).limit(keep).all()]
        _TRIMMING[0].touch()
        end = time.monotonic() + _PAUSE[0]
        while time.monotonic() < end and not _cached_flag(_TRIMMING[0], "ch_b").exists():
            time.sleep(0.005)
        return [pk for pk, in session.query(NbCacheRecord.pk).filter(NbCacheRecord.pk.notin_(keep_pks)).all()]


def _cache_one(job: tuple) -> str:
    """In a worker process: cache a one-cell executed notebook as a chapter (once ``after`` exists)."""
    from jupyter_cache.cache.main import CacheBundleIn

    cache, name, after = job
    end = time.monotonic() + 30
    while after is not None and not after.exists() and time.monotonic() < end:
        time.sleep(0.005)
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells.append(nbformat.v4.new_code_cell(f"print({name!r})", execution_count=1))
    try:
        cache.cache_notebook_bundle(CacheBundleIn(nb, f"/book/chapters/{name}.md"), check_validity=False,
                                    overwrite=True)
    except Exception as exc:  # jupyter-cache's worker turns this into a failed chapter
        return f"{name}: {type(exc).__name__}: {exc}"
    finally:
        if after is not None:
            _cached_flag(after, name).touch()
    return f"{name}: cached"


def _cached_flag(trimming: Path, name: str) -> Path:
    """The file a chapter's worker creates once its caching has ended (cached or failed)."""
    return trimming.with_name(f"{name}.done")


def _cache_two_at_once(cache) -> tuple[list[str], list[str]]:
    """Two forked workers cache a chapter each, the second once the first is trimming the cache."""
    from concurrent.futures import ProcessPoolExecutor

    flag = _TRIMMING[0]
    flag.unlink(missing_ok=True)
    _cached_flag(flag, "ch_b").unlink(missing_ok=True)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        said = list(pool.map(_cache_one, [(cache, "ch_a", None), (cache, "ch_b", flag)]))
    return said, sorted(Path(r.uri).stem for r in get_cache(str(cache.path)).list_cache_records())


def test_chapters_cached_at_the_same_time_are_both_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers that execute chapters side by side write to the execution cache one at a time: a
    chapter cached while another one's caching trims the cache is kept (jupyter-cache alone loses it)."""
    from jupyter_cache.cache.db import NbCacheRecord

    monkeypatch.setattr(NbCacheRecord, "records_to_delete", staticmethod(_trim_with_a_pause))
    monkeypatch.setattr(sys.modules[__name__], "_TRIMMING", [tmp_path / "trimming"])
    said, kept = _cache_two_at_once(book.OneWriterAtATime(tmp_path / "cache"))
    assert said == ["ch_a: cached", "ch_b: cached"]
    assert kept == ["ch_a", "ch_b"], f"a chapter's record was lost: {kept}"
    # control: the same interleaving without the lock loses ch_b (deleted, or its caching fails)
    monkeypatch.setattr(sys.modules[__name__], "_PAUSE", [CONTROL_PAUSE_S])
    said, kept = _cache_two_at_once(get_cache(str(tmp_path / "plain")))
    assert kept == ["ch_a"], (
        f"without the lock, jupyter-cache kept {kept} ({said}): the pause no longer interleaves the two "
        "cachings, or jupyter-cache now trims in one query (and OneWriterAtATime may go)")


def test_the_books_student_notebooks_are_made_without_the_hidden_seed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The site's "Do the exercises" downloads are nbgrader releases, the same bytes whatever the seed;
    the ``assign`` that makes them also writes source notebooks with hidden cases into the build
    folder, so it runs without the instructor's seed (the cases it makes are the public default's)."""
    from autograder.seed import HIDDEN_SEED_ENV

    started: list[dict] = []

    class Started:
        def __init__(self, argv, **kwargs) -> None:
            started.append({"argv": argv, **kwargs})

    monkeypatch.setenv(HIDDEN_SEED_ENV, "31415926535897932384626433832795")
    monkeypatch.setattr(book.subprocess, "Popen", Started)
    book.StudentNotebooks(PROJECT_ROOT, tmp_path, "a digest no stamp holds")
    assert len(started) == 1 and "assign" in started[0]["argv"]
    assert HIDDEN_SEED_ENV not in started[0]["env"]
    assert os.environ[HIDDEN_SEED_ENV] == "31415926535897932384626433832795"  # the build's own is left alone


def test_default_jobs_is_one_per_core() -> None:
    assert book.default_jobs() == len(os.sched_getaffinity(0))


# --------------------------------------------------------------------------------------------------
# The README's build command with nothing changed: a stamp checked before anything heavy is imported

HEAVY = ("torch", "nbformat", "jupytext", "nbgrader", "sphinx", "jupyter_book", "myst_nb", "pandas")


@pytest.mark.parametrize("seed", [None, "12345"], ids=["default-seed", "private-seed"])
def test_the_up_to_date_check_imports_nothing_heavy(seed: str | None) -> None:
    """What ``python -m autograder.build`` does before deciding: no heavy package is imported."""
    import subprocess

    from autograder.specs import HIDDEN_SEED_ENV

    env = {k: v for k, v in os.environ.items() if k != HIDDEN_SEED_ENV} | ({HIDDEN_SEED_ENV: seed} if seed else {})
    code = ("import sys; from autograder import build, uptodate; "
            "uptodate.is_current(uptodate.BUILD_DIR / 'none', uptodate.BUILD_DIR / 'none', uptodate.build_digest()); "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"the up-to-date check imported {done.stdout.strip()}"


def _made(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A stand-in for a built course and site, and a build folder for the stamp."""
    course, site, build_dir = tmp_path / "course", tmp_path / "html", tmp_path / "_build"
    for path in (course / "source" / "ch1" / "ch1.ipynb", course / "release" / "ch1" / "ch1.ipynb",
                 course / "nbgrader_config.py", course / "gradebook.db", site / "index.html"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("made")
    build_dir.mkdir()
    return course, site, build_dir


def test_the_stamp_is_current_only_for_the_same_inputs_and_untouched_outputs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autograder import uptodate
    from autograder.specs import HIDDEN_SEED_ENV

    monkeypatch.delenv(HIDDEN_SEED_ENV, raising=False)
    course, site, build_dir = _made(tmp_path)
    digest = uptodate.build_digest()
    assert not uptodate.is_current(course, site, digest, build_dir), "current before any build"
    uptodate.record(course, site, digest, build_dir)
    assert uptodate.is_current(course, site, uptodate.build_digest(), build_dir)
    # the inputs: a private hidden seed, or another digest of the sources
    monkeypatch.setenv(HIDDEN_SEED_ENV, "12345")
    assert uptodate.build_digest() != digest
    assert not uptodate.is_current(course, site, uptodate.build_digest(), build_dir)
    monkeypatch.delenv(HIDDEN_SEED_ENV)
    assert not uptodate.is_current(course, site, "another digest", build_dir)
    # the outputs: a release edited, a file added to a released folder, the site or gradebook removed
    release = course / "release" / "ch1" / "ch1.ipynb"
    release.write_text("edited by hand")
    assert not uptodate.is_current(course, site, digest, build_dir)
    uptodate.record(course, site, digest, build_dir)
    (release.parent / "notes.txt").write_text("x")
    assert not uptodate.is_current(course, site, digest, build_dir)
    uptodate.record(course, site, digest, build_dir)
    (course / "gradebook.db").write_text("graded since")  # grading writes the gradebook: still current
    assert uptodate.is_current(course, site, digest, build_dir)
    for made in (course / "gradebook.db", site / "index.html"):
        uptodate.record(course, site, digest, build_dir)
        made.unlink()
        assert not uptodate.is_current(course, site, digest, build_dir), f"{made.name} removed, still current"
        made.write_text("made")


def test_the_sources_digest_follows_every_source(tmp_path: Path) -> None:
    """A changed chapter, solution, autograder module, data file or lock changes the digest; a cache file does not."""
    from autograder import uptodate

    root = tmp_path / "project"
    for rel in ("chapters/ch1_x.md", "solutions/ch1_x.py", "autograder/exercises/ch1.py", "data/d.csv",
                "requirements.lock", "_config.yml"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    base = uptodate.sources_digest(root)
    for rel in ("chapters/ch1_x.md", "solutions/ch1_x.py", "autograder/exercises/ch1.py", "data/d.csv",
                "requirements.lock", "_config.yml"):
        (root / rel).write_text(rel + " changed")
        assert uptodate.sources_digest(root) != base, f"{rel} changed, same digest"
        (root / rel).write_text(rel)
    (root / "autograder" / "__pycache__").mkdir()
    (root / "autograder" / "__pycache__" / "x.pyc").write_text("cache")
    assert uptodate.sources_digest(root) == base
