"""Digests of what a verdict and an assignment are made from, so that work is redone exactly when an input
changed: ``grade-all`` regrades a submission whose fingerprint (its notebook, its source notebook, and the
digests below) differs from the one its ``result.json`` records; ``assign`` may regenerate only the
assignments whose inputs changed.

Every digest is computed from the files themselves (SHA-256 of their bytes, in a fixed order, each name
hashed with its content), never typed. Reading is static: this module imports nothing heavy at load time
and never imports the reference solutions or the check specs to digest them; which ``solutions`` modules
an assignment uses is read from the ``import`` statements of its check-spec module (and, transitively, of
those ``solutions`` modules). ``root`` is the project folder (a test passes a temporary copy).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from autograder.seed import hidden_seed
from solutions.paths import PROJECT_ROOT

#: The autograder's code that never changes a verdict: orchestration (the batch, its engine, recording,
#: the commands and their options), presentation (feedback, gradebook, the book, the term's reports),
#: the services around grading, this module, and the per-assignment spec modules (each assignment's
#: own are in :func:`specs_digest`). Every other file of the ``autograder`` package, including any new
#: one, counts as grader code (:func:`grader_files`): a module forgotten here regrades too much, never
#: too little.
NOT_GRADER_CODE: tuple[str, ...] = (
    "autograder/__main__.py", "autograder/cli.py", "autograder/inputs.py", "autograder/feedback.py",
    "autograder/gradebook.py", "autograder/book.py", "autograder/book_checks.py", "autograder/offline_math.py",
    "autograder/lms_import.py", "autograder/uptodate.py", "autograder/build.py", "autograder/site_style.py",
    "autograder/grading/batch.py", "autograder/grading/engine.py",
    "autograder/grading/record.py", "autograder/grading/command.py", "autograder/grading/options.py",
    "autograder/grading/__init__.py", "autograder/term/*", "autograder/service/*", "autograder/exercises/ch*.py",
)
#: The code that turns a chapter into its nbgrader source and release notebooks.
GENERATOR_CODE: tuple[str, ...] = (
    "autograder/assign.py", "autograder/chapters.py", "autograder/literals.py", "autograder/nbgrader_config.py",
    "autograder/service/client.py",  # copied into each release's "submit" cell
)
#: The check runtime every spec module relies on (part of :func:`specs_digest`).
RUNTIME_CODE: tuple[str, ...] = ("autograder/specs.py", "autograder/seed.py", "autograder/runtime.py")
#: Installed packages whose version can change a reference's output or a comparison.
NUMERIC_PACKAGES: tuple[str, ...] = ("torch", "numpy", "pandas", "scikit-learn", "lightgbm")
#: Iterations of the key derivation that makes :func:`hidden_seed_digest` slow to invert by guessing.
SEED_DIGEST_ITERATIONS = 200_000

SPECS_PACKAGE = "autograder/exercises"
SOLUTIONS_PACKAGE = "solutions"


def digest_files(root: Path, rel_paths: Iterable[str], *extra: str) -> str:
    """SHA-256 over each file's relative path and bytes, in sorted order (a missing file counts as such)."""
    h = hashlib.sha256()
    for rel in sorted(set(rel_paths)):
        path = root / rel
        h.update(rel.encode() + b"\0")
        h.update(path.read_bytes() if path.is_file() else b"<missing>")
        h.update(b"\0")
    for item in extra:
        h.update(item.encode() + b"\0")
    return h.hexdigest()


def _module_file(root: Path, module: str) -> str | None:
    """The relative path of a module of ours (``solutions.x``, ``autograder.exercises.y``), if it exists."""
    rel = module.replace(".", "/")
    for candidate in (f"{rel}.py", f"{rel}/__init__.py"):
        if (root / candidate).is_file():
            return candidate
    return None


def _imports(root: Path, rel: str, prefix: str) -> set[str]:
    """The modules under ``prefix`` that the file ``rel`` imports (``from x import y`` counts ``x.y`` too)."""
    tree = ast.parse((root / rel).read_text(encoding="utf-8"))
    package = rel.rsplit("/", 1)[0].replace("/", ".")
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's package
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        else:
            continue
        found |= {n for n in names if n == prefix or n.startswith(prefix + ".")}
    return {m for m in found if _module_file(root, m) is not None}


def _closure(root: Path, start: Iterable[str], prefix: str) -> set[str]:
    """The files of ``start`` (module names) and of every module under ``prefix`` they import, transitively."""
    seen: set[str] = set()
    todo = [m for m in start]
    while todo:
        rel = _module_file(root, todo.pop())
        if rel is None or rel in seen:
            continue
        seen.add(rel)
        todo.extend(_imports(root, rel, prefix))
    return seen


def spec_module(assignment: str, root: Path = PROJECT_ROOT) -> str | None:
    """The check-spec module of an assignment (``ch2_gradient_descent`` -> ``autograder.exercises.ch2``),
    or ``None`` for an assignment that is not a chapter's."""
    m = re.match(r"(ch\d+)(?:_|$)", assignment)
    module = f"autograder.exercises.{m.group(1)}" if m else None
    return module if module and _module_file(root, module) else None


def _spec_modules(assignment: str, root: Path) -> list[str]:
    """The assignment's spec module; for an assignment that is no chapter's, every spec module (its
    exercises may come from any of them)."""
    own = spec_module(assignment, root)
    if own is not None:
        return [own]
    return sorted(f"autograder.exercises.{p.stem}" for p in (root / SPECS_PACKAGE).glob("ch*.py"))


def reference_files(assignment: str, root: Path = PROJECT_ROOT) -> list[str]:
    """The ``solutions`` files an assignment's verdicts depend on: those its spec module imports, and
    those they import in turn (``solutions.ch8_modules`` uses ``solutions.ch7_normal_equation``)."""
    start: set[str] = set()
    for module in _spec_modules(assignment, root):
        start |= _imports(root, _module_file(root, module), SOLUTIONS_PACKAGE)
    return sorted(_closure(root, start, SOLUTIONS_PACKAGE))


def specs_files(assignment: str, root: Path = PROJECT_ROOT) -> list[str]:
    """The check-spec files of an assignment: its spec module and the spec modules it takes example
    values from (chapter 3's uses chapter 2's), plus the check runtime."""
    return sorted(_closure(root, _spec_modules(assignment, root), "autograder.exercises") | set(RUNTIME_CODE))


def reference_digest(assignment: str, root: Path = PROJECT_ROOT) -> str:
    """Digest of the source of the reference solutions an assignment's exercises are checked against."""
    return digest_files(root, reference_files(assignment, root))


def specs_digest(assignment: str, root: Path = PROJECT_ROOT) -> str:
    """Digest of an assignment's check specs (public and hidden cases, tolerances, kinds) and the runtime."""
    return digest_files(root, specs_files(assignment, root))


@functools.lru_cache(maxsize=8)
def _seed_digest(seed: int) -> str:
    return hashlib.pbkdf2_hmac("sha256", str(seed).encode(), b"autograder hidden seed", SEED_DIGEST_ITERATIONS).hex()


def hidden_seed_digest(seed: int | None = None) -> str:
    """A digest of the hidden cases' seed (default: :func:`autograder.seed.hidden_seed`), never the seed.

    A key derivation of :data:`SEED_DIGEST_ITERATIONS` rounds, not one hash: a private seed is a whole
    number, and one SHA-256 of a small number is inverted by trying them all; this makes each guess cost
    tens of milliseconds.
    """
    return _seed_digest(int(hidden_seed() if seed is None else seed))


def project_version(root: Path = PROJECT_ROOT) -> str:
    """The project's version, from ``pyproject.toml``."""
    import tomllib

    with open(root / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def _package_versions() -> list[str]:
    versions = []
    for name in NUMERIC_PACKAGES:
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    return versions


def grader_files(root: Path = PROJECT_ROOT) -> list[str]:
    """The grader's own code: every ``.py`` file of the ``autograder`` package but :data:`NOT_GRADER_CODE`
    (reading, recognising and scanning the notebook, the program, the sandbox, its runner, the runtime
    that observes and compares outputs, the wire format, the generator the source notebook comes from)."""
    from fnmatch import fnmatch

    files = (str(p.relative_to(root)) for p in (root / "autograder").rglob("*.py"))
    return sorted(f for f in files if not any(fnmatch(f, pattern) for pattern in NOT_GRADER_CODE))


def grader_version(root: Path = PROJECT_ROOT) -> str:
    """The project version plus a digest of the grader's own code (:func:`grader_files`) and of the
    versions of the numeric libraries outputs are computed and compared with: ``0.1.0+1a2b3c4d5e6f``."""
    return f"{project_version(root)}+{digest_files(root, grader_files(root), *_package_versions())[:12]}"


def generator_digest(root: Path = PROJECT_ROOT) -> str:
    """Digest of the code that generates assignments (:data:`GENERATOR_CODE`)."""
    return digest_files(root, GENERATOR_CODE)


def chapter_digest(assignment: str, root: Path = PROJECT_ROOT) -> str | None:
    """Digest of the chapter an assignment is generated from (``chapters/<assignment>.md``), if any."""
    path = root / "chapters" / f"{assignment}.md"
    return digest_files(root, [f"chapters/{assignment}.md"]) if path.is_file() else None


def environment_digest(root: Path = PROJECT_ROOT) -> str:
    """Digest of everything a worker grades with: the grader's version, every spec module, every
    reference solution. A Dask worker whose digest differs from the client's is refused, so a verdict
    recorded with the client's fingerprint was computed with the client's code."""
    files = [str(p.relative_to(root)) for d in (SPECS_PACKAGE, SOLUTIONS_PACKAGE) for p in (root / d).glob("*.py")]
    return digest_files(root, files, grader_version(root))
