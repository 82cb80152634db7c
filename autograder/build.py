"""``python -m autograder build``: the assignments into ``course/``, then the site into ``_build/html``.

This is what ``python3 dev.py build`` runs. When nothing the two are made from has changed since the
last successful build, and nothing it made was touched, it says so and stops before importing
anything heavy (:mod:`autograder.uptodate`); otherwise it runs ``assign`` (which regenerates only
the assignments whose inputs changed) and ``book`` (which executes only the chapters whose run the
cache lacks, side by side).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from autograder import uptodate
from autograder.course import DEFAULT_COURSE_DIR


def build(course_dir: Path = DEFAULT_COURSE_DIR, jobs: int | None = None) -> int:
    """Generate the assignments and build the site with solutions; 0 when both are complete."""
    start = time.perf_counter()
    site = uptodate.BUILD_DIR / "html"
    digest = uptodate.build_digest()
    if uptodate.is_current(course_dir, site, digest):
        print(f"build: the assignments in {course_dir} and the site in {site} are up to date "
              f"(nothing they are made from has changed; {time.perf_counter() - start:.2f} s)", flush=True)
        return 0
    uptodate.forget()
    from autograder import assign, book

    assign.assign([], course_dir)
    status = book.build_book(jobs=jobs)
    if status == 0:
        uptodate.record(course_dir, site, digest)
    return status


def main(args: argparse.Namespace) -> int:
    """``python -m autograder build [--course-dir DIR] [--jobs N]``."""
    return build(args.course_dir, args.jobs)


if __name__ == "__main__":
    # ``python -m autograder.build`` (what dev.py runs): the same with the defaults, without building the
    # whole command line first (its parser imports the sandbox's modules, hence torch: seconds).
    import sys

    sys.exit(build())
