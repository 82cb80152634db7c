"""``python -m autograder grade-all``: a class in nbgrader's ``submitted/<student>/<assignment>/`` layout,
one Dask task per submission (:mod:`autograder.grading.engine`), recorded by the client alone with
:mod:`autograder.grading.record` as results stream back. It resumes: a submission whose fingerprint
(its notebook, its source notebook, the assignment's reference code and check specs, the hidden seed's
digest and the grader's version) equals the one its ``result.json`` records is not regraded."""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import safe_io
from autograder.course import (DEFAULT_CSV_NAME, FEEDBACK_DIR, RESULT_FILE, RESULTS_DIR, SUBMITTED_DIR,
                               TIMESTAMP_FILE, CourseError, known_assignments, unknown_assignment)
from autograder.grading.options import limits_from_args, max_notebook_bytes, sandbox_mode
from autograder.grading.record import late_fingerprint, read_result, save
from autograder.grading.results import NOT_GRADED, GradeResult, GraderUnavailable, shorten
from autograder.grading.source import SourceAssignment, load_assignment, parse_notebook, recognise_assignment
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


#: What a submission's outcome can be in a batch's summary.
GRADED = "graded"
UP_TO_DATE = "up to date"
LEFT_FOR_NEXT_RUN = "left for the next run"


def _notebook_digest(sub: Submission, max_bytes: int) -> str | None:
    """The digest of a submission's notebook, or ``None`` if it cannot be read (bounded, never blocking)."""
    name = sub.notebook_name()
    try:
        return hashlib.sha256(sub.read(name, max_bytes)).hexdigest() if name else None
    except UnsafeFile:
        return None


def _timestamp(sub: Submission) -> str | None:
    """The submission's time (``timestamp.txt``), or ``None`` if it has none or it cannot be read safely."""
    try:
        return sub.timestamp()
    except UnsafeFile:
        return None


def submission_fingerprint(digest: str | None, timestamp: str | None) -> dict[str, str | None]:
    """What decides one submission's result apart from its assignment: the notebook's bytes and the time
    it was submitted (the late policy reads it: the same notebook submitted again later may be late)."""
    return {"notebook_sha256": digest, "submission_timestamp": timestamp}


def assignment_fingerprint(assignment: str, source: SourceAssignment | None, seed: int) -> dict[str, str | None]:
    """What decides the grades of an assignment's submissions apart from each notebook's bytes: its source
    notebook, its reference solutions and check specs, the hidden seed (a digest of it) and the grader's
    version (:mod:`autograder.inputs`). Changing any of them regrades that assignment's submissions."""
    from autograder import inputs

    return {"source_sha256": source.sha256 if source else None,
            "reference_sha256": inputs.reference_digest(assignment),
            "specs_sha256": inputs.specs_digest(assignment),
            "hidden_seed_digest": inputs.hidden_seed_digest(seed),
            "grader_version": inputs.grader_version()}


def is_up_to_date(recorded: dict[str, Any] | None, fingerprint: dict[str, str | None]) -> bool:
    """Whether a recorded result was made from exactly these inputs (every key of the fingerprint equal)."""
    return recorded is not None and all(recorded.get(k) == v for k, v in fingerprint.items())


@dataclass(frozen=True)
class Job:
    """One submission as task data: what a worker grades, without any path of the course folder."""

    student: str
    assignment: str
    notebook_name: str
    data: bytes


@dataclass(frozen=True)
class Context:
    """What every task of one assignment shares, built once by the client and sent with each task: the
    source notebook (read by the client), the known assignments' exercise ids (to recognise a notebook),
    the hidden seed (the client's; it reaches the worker as data and never a sandbox), how to confine
    student code, and the identity of the client's code, which the worker checks against its own."""

    source: SourceAssignment
    catalogue: dict[str, frozenset[str]]
    seed: int
    sandbox: str
    limits: Any
    max_bytes: int
    identity: dict[str, str]


@dataclass(frozen=True)
class PackedContext:
    """A :class:`Context` pickled once by the client, as it travels with each task: bytes are copied, not
    pickled again, on the way through the scheduler (which, on a local cluster, shares the client's
    process), and each worker unpickles an assignment's context once (:func:`unpack`), not once a task."""

    data: bytes

    @classmethod
    def of(cls, context: Context) -> PackedContext:
        return cls(pickle.dumps(context, protocol=pickle.HIGHEST_PROTOCOL))


def unpack(context: Context | PackedContext) -> Context:
    """The context itself; a packed one is unpickled once per worker and kept (read only: grading never
    changes its context), for the last few assignments, by its bytes."""
    return context if isinstance(context, Context) else _unpickled(context.data)


@functools.lru_cache(maxsize=8)
def _unpickled(data: bytes) -> Context:
    return pickle.loads(data)


class WorkerRefused(CourseError):
    """A worker runs other grading code than the client: nothing it grades may be recorded."""


def grade_task(job: Job, context: Context | PackedContext) -> GradeResult:
    """Grade one submission on a worker: bytes in, result out, nothing read from or written to the course
    folder. Never raises for a bad notebook (it scores 0 with a message); raises :class:`WorkerRefused`
    on a worker whose code differs from the client's."""
    from autograder.grading.engine import mismatch
    from autograder.grading.notebook import grade_notebook  # the worker's: the client never grades (nor imports torch)

    context = unpack(context)
    why = mismatch(context.identity)
    if why is not None:
        raise WorkerRefused(f"a Dask worker runs other grading code than this client: {why}")
    source = context.source
    try:
        nb = parse_notebook(job.data, job.notebook_name, context.max_bytes)
        recognise_assignment(nb, job.assignment, None, context.catalogue)
        return grade_notebook(nb, source, sandbox=context.sandbox, limits=context.limits, seed=context.seed)
    except GraderUnavailable as err:
        result = GradeResult.zero(source, job.assignment, str(err))
        result.retry = True
        return result
    except CourseError as err:
        return GradeResult.zero(source, job.assignment, str(err))
    except Exception as err:  # a grader crash on one submission must not stop the batch
        return GradeResult.zero(source, job.assignment, f"the grader failed on this notebook: "
                                f"{type(err).__name__}: {shorten(str(err), 200)}")


def read_job(sub: Submission, max_bytes: int) -> tuple[Job | None, str | None, str]:
    """``(job, timestamp, "")`` for a readable submission, else ``(None, None, reason)``; the reason names
    the submission by student and assignment, never by a path of the grading machine."""
    name = sub.notebook_name()
    if name is None:
        found = ", ".join(sub.notebooks_found()) or "none"
        return None, None, f"expected {sub.assignment}.ipynb in the submission; notebooks found: {found}"
    try:
        data = sub.read(name, max_bytes)
        timestamp = sub.timestamp()
    except UnsafeFile as err:
        return None, None, f"{NOT_GRADED}: {err}"
    return Job(sub.student, sub.assignment, name, data), timestamp, ""


def killed_worker_result(assignment: str, tries: int | None) -> GradeResult:
    """A notebook whose grading took its worker down every time: not graded, no score at all (no
    exercise scored 0, nothing in the gradebook), with the reason."""
    times = f"each of the {tries} times" if tries else "every time"
    return GradeResult(assignment, [], [f"{NOT_GRADED}: grading this notebook stopped the grading worker {times} it "
                                        f"was tried (killed, or out of memory); it has no score. The instructor "
                                        f"can look at it by hand"], graded=False)


@dataclass
class Outcome:
    """One submission's line in a batch's summary: what happened and, if it was not graded, why."""

    student: str
    assignment: str
    status: str
    reason: str | None = None


@dataclass
class BatchSummary:
    """What a batch did, per submission (small records only: the results themselves are on disk)."""

    outcomes: list[Outcome]

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def not_graded(self) -> list[Outcome]:
        """The submissions that could not be graded (or not be recorded), with their reasons."""
        return [o for o in self.outcomes if o.status not in (GRADED, UP_TO_DATE)]


def grade_submissions(course_dir: Path, subs: Sequence[Submission], engine: Any, *, sandbox: str = "auto",
                      limits: Any = None, max_bytes: int = MAX_NOTEBOOK_BYTES, seed: int | None = None,
                      progress: bool = False, on_outcome: Callable[[Outcome], None] | None = None,
                      task: Callable[[Job, PackedContext], GradeResult] | None = None,
                      window: int | None = None) -> BatchSummary:
    """Grade (those not up to date) and record ``subs`` on ``engine``'s cluster; return the summary.

    ``engine`` is an :class:`~autograder.grading.engine.Engine`, started already or not (then it is
    started only if something needs grading, with no more local workers than submissions, and stopped at
    the end). Each submission's bytes go to the cluster as task data, at most ``window`` at a time
    (default: four per worker thread), and each result is recorded as soon as it comes back, then dropped: the
    client's memory does not grow with the class. ``seed`` is the hidden seed (default:
    :func:`autograder.seed.hidden_seed`). ``task`` replaces :func:`grade_task` (for tests; it is given
    the packed context, which :func:`unpack` opens). Each outcome is also passed to ``on_outcome`` as it
    is known. A submission never graded starts an engine not yet started at once, in the background
    (:meth:`~autograder.grading.engine.Engine.start_soon`), while the rest is prepared here.
    """
    from concurrent.futures import CancelledError

    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    from autograder import gradebook
    from autograder.grading.engine import worker_identity
    from autograder.grading.source import assignment_catalogue
    from autograder.seed import hidden_seed

    course_dir = course_dir.resolve()
    owned = engine.client is None
    if owned and any(not sub.result_path(course_dir).exists() for sub in subs):
        # something has never been graded: start the cluster now, while the rest is prepared here
        engine.limit_local_workers(len(subs))
        engine.start_soon(warm=sandbox if task is None else None)
    try:  # until the batch's own try below: a cluster started early is stopped if preparing fails
        seed = hidden_seed() if seed is None else seed
        known = known_assignments(course_dir)
        sources: dict[str, SourceAssignment | None] = {}
        problems: dict[str, str] = {}
        for name in sorted({s.assignment for s in subs}):
            try:  # generate missing sources here, once, before any worker needs them
                if name not in known:
                    raise unknown_assignment(name, known)
                sources[name] = load_assignment(name, course_dir)
            except CourseError as err:
                sources[name], problems[name] = None, str(err)
                print(neutral(f"autograder grade-all: {name}: {err}"), file=sys.stderr)
        parts = {name: assignment_fingerprint(name, source, seed) | late_fingerprint(course_dir, name)
                 for name, source in sources.items()}

        outcomes: list[Outcome] = []

        def tell(sub: Submission, status: str, reason: str | None = None) -> None:
            outcome = Outcome(sub.student, sub.assignment, status, reason)
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

        todo = []
        for sub in subs:
            if is_up_to_date(read_result(sub.result_path(course_dir)),
                             submission_fingerprint(_notebook_digest(sub, max_bytes), _timestamp(sub))
                             | parts[sub.assignment]):
                tell(sub, UP_TO_DATE)
            else:
                todo.append(sub)
        if owned and todo and not engine.starting:
            engine.limit_local_workers(len(todo))
        print(f"autograder grade-all: {len(subs)} submissions, {len(todo)} to grade, "
              f"{len(subs) - len(todo)} up to date; {engine.describe()}", file=sys.stderr)

        def record(sub: Submission, result: GradeResult, digest: str | None, timestamp: str | None) -> None:
            if result.retry:
                print(neutral(f"autograder grade-all: {sub.student}/{sub.assignment}: {result.notes[0]} "
                              f"(left for the next run)", False), file=sys.stderr)
                tell(sub, LEFT_FOR_NEXT_RUN, result.notes[0] if result.notes else None)
                return
            result.notebook_sha256, result.timestamp = digest, timestamp
            fingerprint = submission_fingerprint(digest, timestamp) | parts[sub.assignment]
            saved = save(sub, result, course_dir, fingerprint, sources[sub.assignment], writer)
            if not result.graded:
                tell(sub, NOT_GRADED, result.notes[0] if result.notes else NOT_GRADED)
            elif not saved:
                tell(sub, LEFT_FOR_NEXT_RUN, "not recorded, graded again next run")
            else:
                tell(sub, GRADED)
    except BaseException:
        if owned:
            engine.close()
        raise

    if not todo:
        if owned:
            engine.close()  # one started early for submissions that turned out not to need it
        return BatchSummary(outcomes)
    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc="grading", unit="notebook", file=sys.stderr, disable=not progress)
    writer = gradebook.Writer(course_dir)  # one gradebook connection for the batch, opened on first use
    pending = iter(todo)
    inflight: dict[Any, tuple[Submission, str, str | None]] = {}
    contexts: dict[str, PackedContext] = {}
    catalogue: dict[str, frozenset[str]] | None = None
    try:
        if owned:
            engine.start()
        if task is None:
            engine.warm(sandbox)
        client = engine.client
        finished = as_completed()
        identity = worker_identity()

        def submit_next() -> bool:
            """Send the next submission to the cluster (recording at once those that cannot be read)."""
            nonlocal catalogue
            for sub in pending:
                source = sources[sub.assignment]
                if source is None:
                    record(sub, GradeResult.zero(None, sub.assignment, problems[sub.assignment]), None, _timestamp(sub))
                    bar.update()
                    continue
                job, timestamp, reason = read_job(sub, max_bytes)
                if job is None:
                    record(sub, GradeResult.zero(source, sub.assignment, reason), None, _timestamp(sub))
                    bar.update()
                    continue
                if sub.assignment not in contexts:
                    catalogue = catalogue if catalogue is not None else assignment_catalogue(course_dir)
                    contexts[sub.assignment] = PackedContext.of(
                        Context(source, catalogue, seed, sandbox, limits, max_bytes, identity))
                # the context travels inline with each task (tens of kilobytes): a task with no dependency
                # goes to any idle worker, and is queued on the scheduler rather than on a worker
                future = client.submit(task or grade_task, job, contexts[sub.assignment], pure=False)
                inflight[future] = (sub, hashlib.sha256(job.data).hexdigest(), timestamp)
                finished.add(future)
                return True
            return False

        for _ in range(window or max(4, 4 * engine.capacity)):
            if not submit_next():
                break
        for future in finished:
            sub, digest, timestamp = inflight.pop(future)
            source = sources[sub.assignment]
            try:  # a result held by a worker that died since is computed again, here transparently
                result = future.result()
            except WorkerRefused as err:
                raise CourseError(str(err)) from None
            except KilledWorker:
                result = killed_worker_result(sub.assignment, engine.tries)
            except CancelledError:
                result = GradeResult.zero(source, sub.assignment, "the cluster cancelled this notebook's grading")
                result.retry = True
            except Exception as err:  # outside grade_task's own guard: the cluster's failure, not the notebook's
                result = GradeResult.zero(source, sub.assignment, f"the grading cluster failed ({type(err).__name__}: "
                                          f"{shorten(str(err), 200)})")
                result.retry = True
            future.release()
            del future
            record(sub, result, digest, timestamp)
            bar.update()
            submit_next()
    except BaseException:
        for future in list(inflight):
            future.cancel()
        raise
    finally:
        bar.close()
        writer.close()
        if owned:
            engine.close()
    return BatchSummary(outcomes)


def _csv_row(data: dict[str, Any]) -> dict[str, Any]:
    """The few fields of a result the grades CSV needs (rows are gathered from disk, one small row per
    submission); a result without exercises (not graded at all) has an empty score, never a 0."""
    exercises = [{"id": e.get("id"), "score": e.get("score")} for e in data.get("exercises", []) if isinstance(e, dict)]
    return {"assignment": data.get("assignment"), "score": data.get("score") if exercises else "",
            "max_score": data.get("max_score") if exercises else "", "exercises": exercises,
            "late_penalty": data.get("late_penalty")}  # the late policy's, for the CSV's final score


def grade_all_main(args: argparse.Namespace) -> int:
    """``autograder grade-all``: grade every new or changed submission on a Dask cluster, then export the grades."""
    from autograder import gradebook
    from autograder.grading.engine import Engine

    course_dir: Path = args.course_dir.resolve()
    sandbox = sandbox_mode(args)
    limits = limits_from_args(args)
    engine = Engine(scheduler=getattr(args, "scheduler", None), workers=args.workers)
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
    summary = grade_submissions(course_dir, subs, engine, sandbox=sandbox, limits=limits, max_bytes=max_bytes,
                                progress=True)

    csv_path = args.csv or course_dir / DEFAULT_CSV_NAME
    rows = []
    for sub in subs:
        data = read_result(sub.result_path(course_dir))
        if data is not None:
            rows.append((sub.student, _csv_row(data)))
    gradebook.write_csv(csv_path, rows)
    not_graded = [*skipped, *(f"{o.student}/{o.assignment}: {o.reason or o.status}" for o in summary.not_graded)]
    graded = len(summary.outcomes) - summary.count(UP_TO_DATE)
    print(f"graded {graded} submission(s), {summary.count(UP_TO_DATE)} already up to date"
          f"{f', {len(not_graded)} could not be graded' if not_graded else ''}")
    for line in not_graded:
        print(f"  {neutral(line, newlines=False)}")
    print(f"results: {course_dir / RESULTS_DIR}; feedback: {course_dir / FEEDBACK_DIR}")
    print(f"gradebook: {gradebook.db_path(course_dir)}; grades: {csv_path}")
    return 0
