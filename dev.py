#!/usr/bin/env python3
"""Set up the course's environment and build or test it: the README's two commands.

    python3 dev.py build   # environment, then assignments and the book into _build/html
    python3 dev.py test    # environment, then the book, then the whole test suite

Only the standard library is used here, so a fresh machine with Python 3.11 needs nothing else.
The environment is a virtual environment in ``.venv`` with the exact versions of
``requirements.lock``; it is reinstalled only when the lock or ``pyproject.toml`` changes.
Extra arguments after ``test`` go to pytest (``python3 dev.py test -m ch2``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".course-installed"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
REQUIRED = (3, 11)


def say(msg: str) -> None:
    """Print a progress line that stands out from the tools' own output."""
    print(f"==> {msg}", flush=True)


def run(*cmd: str | Path) -> None:
    """Run a command in the project folder; stop with its exit code if it fails."""
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT)
    if result.returncode != 0:
        say(f"failed ({result.returncode}): {' '.join(str(c) for c in cmd)}")
        sys.exit(result.returncode)


def lock_digest() -> str:
    """Digest of what decides the environment's contents."""
    h = hashlib.sha256()
    for f in (LOCK, ROOT / "pyproject.toml"):
        h.update(f.read_bytes())
    return h.hexdigest()


def ensure_env() -> None:
    """Create ``.venv`` and install the lock and the project, unless already done for this lock."""
    if sys.version_info[:2] != REQUIRED:
        sys.exit(f"The course needs Python {REQUIRED[0]}.{REQUIRED[1]}; this is {sys.version.split()[0]}. "
                 f"Run: python{REQUIRED[0]}.{REQUIRED[1]} dev.py ...")
    if not PY.exists():
        say(f"creating the virtual environment in {VENV.name}/")
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = lock_digest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    say("installing the pinned packages of requirements.lock (torch 2.13.0, CPU build)")
    run(PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", LOCK)
    run(PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps", "--no-build-isolation", "-e", ".")
    STAMP.write_text(digest + "\n")


#: Debian packages the tests need: a real browser for the site checks, bubblewrap and libseccomp (its
#: system-call filter) for the grading sandbox.
SYSTEM_PACKAGES = {"chromium": "/usr/bin/chromium", "bubblewrap": "/usr/bin/bwrap",
                   "postgresql": "/usr/lib/postgresql",  # the grading service's PostgreSQL tests (initdb, pg_ctl)
                   "libseccomp2": "/usr/lib/x86_64-linux-gnu/libseccomp.so.2"}


def ensure_system_packages() -> None:
    """Install the Debian packages the tests need when missing and possible (root with apt-get); else say how."""
    missing = [pkg for pkg, path in SYSTEM_PACKAGES.items() if not Path(path).exists()]
    if not missing:
        return
    if os.name == "posix" and os.geteuid() == 0 and Path("/usr/bin/apt-get").exists():
        say(f"installing Debian packages: {' '.join(missing)}")
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing)
    else:
        say(f"missing Debian packages {' '.join(missing)}: the browser and sandbox tests will fail. "
            f"Install them with: sudo apt-get install {' '.join(missing)}")


def build() -> None:
    """Generate the assignments and build the book, in one interpreter that first checks whether
    anything they are made from changed (``python -m autograder build``; nothing heavy is imported
    when nothing did)."""
    say("assignments into course/, then the book into _build/html (python -m autograder.build)")
    run(PY, "-m", "autograder.build")


def test(pytest_args: list[str]) -> None:
    """Build everything the tests read, then run the whole suite."""
    ensure_system_packages()
    build()
    say("running the tests")
    run(PY, "-m", "pytest", *pytest_args)


def main(argv: list[str]) -> int:
    """Dispatch ``build`` or ``test``."""
    if not argv or argv[0] not in {"build", "test", "env"}:
        print(__doc__)
        return 2
    ensure_env()
    if argv[0] == "build":
        build()
    elif argv[0] == "test":
        test(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
