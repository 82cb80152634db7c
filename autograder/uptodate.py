"""Whether the assignments and the site are current, decided before anything heavy is imported.

``python3 dev.py build`` (``python -m autograder build``) with nothing changed must take about the
time Python takes to start, while ``assign`` and ``book`` import nbgrader, jupytext and torch before
they can tell there is nothing to do. So a successful build records, in ``_build/``, a digest of
everything it was made from and the size and modification time of every file it made; the next
build compares both first, importing only the standard library, :mod:`autograder.inputs` and :mod:`autograder.seed`.

What the build is made from: every file of :data:`SOURCE_GLOBS` (chapters, solutions, the
autograder with its check specs, runtime and generator, data, config, and the lock file, which pins
every package), and the hidden seed (``AUTOGRADER_HIDDEN_SEED``, as :func:`autograder.inputs.hidden_seed_digest`
digests it). Any difference, or any made file changed, removed or added, and the real commands run:
they redo only what changed (``assign`` per assignment, ``book`` per chapter).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from autograder import inputs
from autograder.course import RELEASE_DIR, SOURCE_DIR, write_atomic
from autograder.seed import HIDDEN_SEED_ENV
from solutions.paths import PROJECT_ROOT

#: Everything the build makes lives here (git-ignored).
BUILD_DIR: Path = PROJECT_ROOT / "_build"
#: What the site (and the assignments) are made from, relative to the project root (with the pinned
#: environment): a site whose sources' digest differs from the one it was built from is stale.
SOURCE_GLOBS: tuple[str, ...] = ("_config.yml", "_toc.yml", "*.md", "chapters/**/*", "solutions/**/*.py",
                                 "autograder/**/*.py", "data/**/*", "requirements.lock", "pyproject.toml")
#: Written into the build folder after a successful ``python -m autograder build``.
BUILD_STAMP = ".build-stamp.json"


def source_files(root: Path = PROJECT_ROOT) -> list[str]:
    """Every file the site is made from (:data:`SOURCE_GLOBS`, no bytecode caches), relative to ``root``."""
    return sorted({p.relative_to(root).as_posix() for pattern in SOURCE_GLOBS for p in root.glob(pattern)
                   if p.is_file() and "__pycache__" not in p.parts})


def sources_digest(root: Path = PROJECT_ROOT) -> str:
    """A digest of every file the site is made from (names and contents)."""
    return inputs.digest_files(root, source_files(root))


def build_digest(root: Path = PROJECT_ROOT) -> str:
    """A digest of what ``python -m autograder build`` makes the assignments and the site from."""
    value = os.environ.get(HIDDEN_SEED_ENV, "").strip()
    try:
        seed = inputs.hidden_seed_digest(int(value)) if value else "the default seed (in the sources)"
    except ValueError:
        seed = f"not a whole number: {hashlib.sha256(value.encode()).hexdigest()}"
    return hashlib.sha256(f"{sources_digest(root)}\0{seed}".encode()).hexdigest()


def made_files(course_dir: Path, site: Path) -> list[Path]:
    """The files a build makes whose change (by hand, or by another command) makes the build stale."""
    files = [course_dir / "nbgrader_config.py", course_dir / "gradebook.db", site / "index.html"]
    for step in (SOURCE_DIR, RELEASE_DIR):
        files += sorted((course_dir / step).glob("*/*"))
    return files


def _snapshot(course_dir: Path, site: Path) -> dict[str, list[int] | None]:
    """Size and modification time of each made file (the gradebook: only that it exists; grading writes it)."""
    snap: dict[str, list[int] | None] = {}
    for path in made_files(course_dir, site):
        try:
            st = path.stat()
        except OSError:
            snap[str(path)] = None
            continue
        snap[str(path)] = [] if path.name == "gradebook.db" else [st.st_size, st.st_mtime_ns]
    return snap


def is_current(course_dir: Path, site: Path, digest: str, build_dir: Path = BUILD_DIR) -> bool:
    """Whether the last successful build, from inputs of ``digest``, made ``course_dir`` and ``site`` as they are."""
    try:
        stamp = json.loads((build_dir / BUILD_STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(stamp, dict) and stamp.get("digest") == digest
            and stamp.get("made") == _snapshot(course_dir, site)
            and None not in stamp["made"].values())


def record(course_dir: Path, site: Path, digest: str, build_dir: Path = BUILD_DIR) -> None:
    """Record a successful build from inputs of ``digest`` (taken before it started)."""
    write_atomic(build_dir / BUILD_STAMP, json.dumps({"digest": digest, "made": _snapshot(course_dir, site)},
                                                     indent=1, sort_keys=True) + "\n")


def forget(build_dir: Path = BUILD_DIR) -> None:
    """Drop the record (a build is under way: if it fails, the next one runs the real commands)."""
    (build_dir / BUILD_STAMP).unlink(missing_ok=True)
