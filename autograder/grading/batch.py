"""``python -m autograder grade-all``: a class in nbgrader's ``submitted/<student>/<assignment>/`` layout,
one independent job per submission, recorded by :mod:`autograder.grading.record`. It resumes: a
submission graded before and unchanged is not regraded."""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import safe_io
from autograder.course import (DEFAULT_CSV_NAME, FEEDBACK_DIR, RESULT_FILE, RESULTS_DIR, SUBMITTED_DIR,
                               TIMESTAMP_FILE, CourseError, known_assignments, unknown_assignment)
from autograder.grading.notebook import grade_notebook
from autograder.grading.options import limits_from_args, max_notebook_bytes, sandbox_mode
from autograder.grading.record import read_result, save
from autograder.grading.results import NOT_GRADED, GradeResult, GraderUnavailable
from autograder.grading.source import SourceAssignment, load_assignment, parse_notebook, recognise_assignment
from autograder.grading.verdict import _shorten
from autograder.safe_io import MAX_NOTEBOOK_BYTES, MAX_TIMESTAMP_BYTES, UnsafeFile, neutral


@dataclass(frozen=True)
class Submission:
    """One student's submission of one assignment in nbgrader's ``submitted/`` layout.

    Its files are read only through :mod:`autograder.safe_io`, from ``submitted/`` down, without
    following any symbolic link: a link, a FIFO, a device or an oversized file is "could not be graded"
    with its reason, never followed, never a hang.
    """

    student: str
    assignment: str
    folder: Path

    @property
    def root(self) -> Path:
        """The course's ``submitted/`` folder, where every read starts."""
        return self.folder.parent.parent

    def _inside(self, name: str) -> str:
        return f"{self.student}/{self.assignment}/{name}"

    def notebook_name(self) -> str | None:
        """The notebook's file name: ``<assignment>.ipynb`` if the folder holds an entry of that name
        (of any kind: reading it says what is wrong), else the folder's only ``.ipynb``, else ``None``."""
        own = f"{self.assignment}.ipynb"
        if safe_io.entry_kind(self.folder, own) is not None:
            return own
        found = self.notebooks_found()
        return found[0] if len(found) == 1 else None

    def notebooks_found(self) -> list[str]:
        """The names of the ``.ipynb`` entries in the folder (none is followed)."""
        try:
            with os.scandir(self.folder) as entries:
                return sorted(e.name for e in entries if e.name.endswith(".ipynb"))
        except OSError:
            return []

    def read(self, name: str, max_bytes: int) -> bytes:
        """The bytes of one regular file of the submission; :class:`~autograder.safe_io.UnsafeFile` else."""
        return safe_io.read_inside(self.root, self._inside(name), max_bytes)

    def timestamp(self) -> str | None:
        """nbgrader's ``timestamp.txt``, if there is one (a garbled one reads as ``None``)."""
        if safe_io.entry_kind(self.folder, TIMESTAMP_FILE) is None:
            return None
        try:
            return self.read(TIMESTAMP_FILE, MAX_TIMESTAMP_BYTES).decode("utf-8").strip() or None
        except UnicodeDecodeError:
            return None

    def result_path(self, course_dir: Path) -> Path:
        """Where its result JSON goes."""
        return course_dir / RESULTS_DIR / self.student / self.assignment / RESULT_FILE

    def feedback_path(self, course_dir: Path) -> Path:
        """Where its HTML feedback goes (nbgrader's feedback layout)."""
        return course_dir / FEEDBACK_DIR / self.student / self.assignment / f"{self.assignment}.html"


def _folders(path: Path) -> tuple[list[Path], list[Path]]:
    """The sub-folders of ``path`` and, apart, its symbolic links (never followed)."""
    folders, links = [], []
    try:
        with os.scandir(path) as entries:
            for e in entries:
                if e.is_symlink():
                    links.append(Path(e.path))
                elif e.is_dir(follow_symlinks=False):
                    folders.append(Path(e.path))
    except OSError:
        pass
    return sorted(folders), sorted(links)


def find_submissions(course_dir: Path, assignments: Sequence[str] | None = None,
                     skipped: list[str] | None = None) -> list[Submission]:
    """Every ``submitted/<student>/<assignment>/`` folder, optionally of some assignments only.

    A link in place of an assignment folder is a submission (reading it will say what is wrong); a
    link in place of a student's folder is not followed: it is named in ``skipped`` with its reason.
    """
    root = course_dir / SUBMITTED_DIR
    if not root.is_dir():
        return []
    subs = []
    students, links = _folders(root)
    for link in links:
        if skipped is not None:
            skipped.append(f"{link.name}: {NOT_GRADED}: {SUBMITTED_DIR}/{link.name} is a symbolic link; "
                           f"the grader does not follow links")
    for student in students:
        folders, folder_links = _folders(student)
        for folder in sorted([*folders, *folder_links]):
            if assignments is None or folder.name in assignments:
                subs.append(Submission(student.name, folder.name, folder))
    return subs


def _notebook_digest(sub: Submission, max_bytes: int) -> str | None:
    """The digest of a submission's notebook, or ``None`` if it cannot be read (bounded, never blocking)."""
    name = sub.notebook_name()
    try:
        return hashlib.sha256(sub.read(name, max_bytes)).hexdigest() if name else None
    except UnsafeFile:
        return None


def _fingerprint(digest: str | None, source: SourceAssignment | None) -> dict[str, str | None]:
    """What decides a submission's grade apart from the grader's code: its bytes and its source's."""
    return {"notebook_sha256": digest, "source_sha256": source.sha256 if source else None}


def grade_job(sub: Submission, course_dir: Path, sandbox: str, limits: Any = None,
              max_bytes: int = MAX_NOTEBOOK_BYTES) -> tuple[Submission, GradeResult]:
    """One submission in, one result out; never raises (a broken submission scores 0 with a message).

    The result carries the digest of the notebook bytes it graded and the submission's timestamp.
    """
    try:
        source = load_assignment(sub.assignment, course_dir)
    except CourseError as err:
        return sub, GradeResult.zero(None, sub.assignment, str(err))
    name = sub.notebook_name()
    if name is None:
        found = ", ".join(sub.notebooks_found()) or "none"
        return sub, GradeResult.zero(source, sub.assignment,
                                     f"expected {sub.assignment}.ipynb in {sub.folder}; notebooks found: {found}")
    try:
        data = sub.read(name, max_bytes)
        timestamp = sub.timestamp()
    except UnsafeFile as err:
        return sub, GradeResult.zero(source, sub.assignment, f"{NOT_GRADED}: {err}")
    digest = hashlib.sha256(data).hexdigest()
    try:
        nb = parse_notebook(data, name, max_bytes)
        del data
        recognise_assignment(nb, sub.assignment, course_dir)
        result = grade_notebook(nb, source, sandbox=sandbox, limits=limits)
    except GraderUnavailable as err:
        result = GradeResult.zero(source, sub.assignment, str(err))
        result.retry = True
    except CourseError as err:
        result = GradeResult.zero(source, sub.assignment, str(err))
    except Exception as err:  # a grader crash on one submission must not stop the batch
        result = GradeResult.zero(source, sub.assignment, f"the grader failed on this notebook: "
                                  f"{type(err).__name__}: {_shorten(str(err), 200)}")
    result.notebook_sha256, result.timestamp = digest, timestamp
    return sub, result


def grade_all_main(args: argparse.Namespace) -> int:
    """``autograder grade-all``: grade every new or changed submission in parallel, then export the grades."""
    from tqdm import tqdm

    from autograder import gradebook

    course_dir: Path = args.course_dir.resolve()
    sandbox = sandbox_mode(args)
    limits = limits_from_args(args)
    workers = args.workers or os.cpu_count() or 1
    if workers < 1:
        raise CourseError(f"--workers must be at least 1, got {workers}")
    if not (course_dir / SUBMITTED_DIR).is_dir():
        raise CourseError(f"no submissions: {course_dir / SUBMITTED_DIR} does not exist (nbgrader's layout is "
                          f"{SUBMITTED_DIR}/<student>/<assignment>/<assignment>.ipynb)")
    known = known_assignments(course_dir)
    for name in args.assignment or []:
        if name not in known:
            raise unknown_assignment(name, known)
    max_bytes = max_notebook_bytes(args)
    skipped: list[str] = []
    subs = find_submissions(course_dir, args.assignment, skipped)

    sources: dict[str, SourceAssignment | None] = {}
    problems: dict[str, str] = {}
    for name in sorted({s.assignment for s in subs}):
        try:  # generate missing sources here, once, before the workers need them
            if name not in known:
                raise unknown_assignment(name, known)
            sources[name] = load_assignment(name, course_dir)
        except CourseError as err:
            sources[name], problems[name] = None, str(err)
            print(neutral(f"autograder grade-all: {name}: {err}"), file=sys.stderr)

    todo, fingerprints = [], {}
    for sub in subs:
        fingerprints[sub] = _fingerprint(_notebook_digest(sub, max_bytes), sources[sub.assignment])
        old = read_result(sub.result_path(course_dir))
        if old is None or any(old.get(k) != v for k, v in fingerprints[sub].items()):
            todo.append(sub)
    print(f"autograder grade-all: {len(subs)} submissions, {len(todo)} to grade, "
          f"{len(subs) - len(todo)} up to date; {workers} workers", file=sys.stderr)

    not_graded = list(skipped)

    def note(sub: Submission, result: GradeResult) -> None:
        if not result.graded:
            not_graded.append(f"{sub.student}/{sub.assignment}: {result.notes[0] if result.notes else NOT_GRADED}")

    jobs = [sub for sub in todo if sources[sub.assignment] is not None]
    for sub in todo:
        if sources[sub.assignment] is None:
            result = GradeResult.zero(None, sub.assignment, problems[sub.assignment])
            note(sub, result)
            save(sub, result, course_dir, fingerprints[sub], None)
    if jobs:
        # spawn: each worker is a fresh interpreter (no forked torch or database state)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool, \
                tqdm(total=len(jobs), desc="grading", unit="notebook", file=sys.stderr) as bar:
            futures = [pool.submit(grade_job, sub, course_dir, sandbox, limits, max_bytes) for sub in jobs]
            try:
                for future in as_completed(futures):
                    sub, result = future.result()
                    if result.retry:
                        print(neutral(f"autograder grade-all: {sub.student}/{sub.assignment}: {result.notes[0]} "
                                      f"(left for the next run)", False), file=sys.stderr)
                        saved = False
                    else:
                        saved = save(sub, result, course_dir, fingerprints[sub], sources[sub.assignment])
                    note(sub, result)
                    if not saved and result.graded:
                        not_graded.append(f"{sub.student}/{sub.assignment}: not recorded, graded again next run")
                    bar.update()
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    csv_path = args.csv or course_dir / DEFAULT_CSV_NAME
    rows = [(s, read_result(s.result_path(course_dir))) for s in subs]
    gradebook.write_csv(csv_path, [(s.student, data) for s, data in rows if data is not None])
    print(f"graded {len(todo)} submission(s), {len(subs) - len(todo)} already up to date"
          f"{f', {len(not_graded)} could not be graded' if not_graded else ''}")
    for line in not_graded:
        print(f"  {neutral(line, newlines=False)}")
    print(f"results: {course_dir / RESULTS_DIR}; feedback: {course_dir / FEEDBACK_DIR}")
    print(f"gradebook: {gradebook.db_path(course_dir)}; grades: {csv_path}")
    return 0
