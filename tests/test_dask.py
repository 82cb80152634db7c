"""Grading on a Dask cluster (``grade-all``'s engine) and the fingerprint that decides "already graded".

The cluster tests share one real cluster per session, started here on loopback as a user starts one on
other machines: a ``dask scheduler`` process and two ``dask worker`` processes (each with its nanny,
which restarts a worker that dies). The workers run in a folder of their own, not the course's: the
submissions reach them as task data. Tests: a worker killed in the middle of a batch loses nothing and
records each submission once with its right score; a notebook that kills its worker every time is
"could not be graded" with the reason after a bounded number of tries, and the batch goes on; an
interrupted client resumes; editing an assignment's reference regrades exactly its submissions; the
client's hidden seed is the one used (the workers' own setting is garbage); a worker running other code
is refused; ``grade-all --scheduler`` end to end. The digests themselves are tested on a temporary copy
of the project, never by editing the repository.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import nbformat
import pytest

from autograder import inputs
from autograder.assign import assign
from autograder.course import CourseError
from autograder.grading import batch
from autograder.grading.batch import (GRADED, UP_TO_DATE, Context, Job, PackedContext, WorkerRefused,
                                      find_submissions, grade_submissions, grade_task)
from autograder.grading.engine import Engine, mismatch, worker_identity
from autograder.grading.results import NOT_GRADED, GradeResult
from autograder.grading.source import assignment_catalogue, load_assignment
from autograder.specs import HIDDEN_SEED_ENV, hidden_seed
from solutions.paths import PROJECT_ROOT
from test_grade import ASSIGNMENT, OTHER_ASSIGNMENT, POINTS, _env, generated_course, notebook, run_cli, submission
from test_grade_all import _course_copy
from conftest import scheduler_address

DASK = Path(sys.executable).parent / "dask"
#: How many times the test scheduler tries a task (its allowed-failures + 1).
SCHEDULER_TRIES = 3


# --- the digests, on a temporary copy of the project ------------------------------------------------

def _project_copy(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("autograder", "solutions", "chapters"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder, ignore=ignore)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def _chapters(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "chapters").glob("ch*.md"))


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_inputs_imports_nothing_heavy() -> None:
    """H4's generator and the client use the digests without loading torch or the references."""
    code = "import sys, autograder.inputs; print(sorted(m for m in ('torch', 'solutions.ch2_gradient_descent', " \
           "'autograder.exercises') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=PROJECT_ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_editing_a_reference_changes_exactly_its_assignments_digest(tmp_path: Path) -> None:
    """A changed reference function changes the reference digest of the assignment checked against it,
    and of no other; the others' specs digests and the grader's version do not move."""
    root = _project_copy(tmp_path)
    names = _chapters(root)
    before = {n: (inputs.reference_digest(n, root), inputs.specs_digest(n, root)) for n in names}
    version = inputs.grader_version(root)
    solutions_file = root / inputs.reference_files(OTHER_ASSIGNMENT, root)[0]
    assert solutions_file.name.startswith(OTHER_ASSIGNMENT)
    _append(solutions_file, "\n\ndef sigmoid(x):  # a fixed reference\n    return 1 / (1 + (-x).exp())\n")
    after = {n: (inputs.reference_digest(n, root), inputs.specs_digest(n, root)) for n in names}
    assert {n for n in names if after[n][0] != before[n][0]} == {OTHER_ASSIGNMENT}
    assert all(after[n][1] == before[n][1] for n in names)
    assert inputs.grader_version(root) == version


def test_specs_grader_and_generator_digests_follow_their_files(tmp_path: Path) -> None:
    """A spec module's edit moves its assignment's specs digest (and those that take its example values);
    grader code moves the grader version, presentation code does not; generator code moves its digest."""
    root = _project_copy(tmp_path)
    names = _chapters(root)
    specs = {n: inputs.specs_digest(n, root) for n in names}
    module = inputs.spec_module(ASSIGNMENT, root).replace(".", "/") + ".py"
    _append(root / module, "\n# a changed tolerance\n")
    users = {n for n in names if module in inputs.specs_files(n, root)}
    assert ASSIGNMENT in users and OTHER_ASSIGNMENT in users  # chapter 3 shows chapter 2's examples
    assert {n for n in names if inputs.specs_digest(n, root) != specs[n]} == users

    version, generator = inputs.grader_version(root), inputs.generator_digest(root)
    _append(root / "autograder" / "feedback.py", "\n# wording\n")
    assert inputs.grader_version(root) == version
    _append(root / "autograder" / "grading" / "verdict.py", "\n# a verdict rule\n")
    assert inputs.grader_version(root) != version
    assert inputs.grader_version(root).startswith(inputs.project_version(root) + "+")
    assert inputs.generator_digest(root) == generator
    _append(root / "autograder" / "assign.py", "\n# generation\n")
    assert inputs.generator_digest(root) != generator


def test_hidden_seed_digest_is_not_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's seed decides; its digest differs per seed, is stable, and shows no trace of it."""
    import hashlib

    monkeypatch.setenv(HIDDEN_SEED_ENV, "987654321")
    digest = inputs.hidden_seed_digest()
    assert digest == inputs.hidden_seed_digest(987654321) != inputs.hidden_seed_digest(987654322)
    assert "987654321" not in digest and digest != hashlib.sha256(b"987654321").hexdigest()
    monkeypatch.delenv(HIDDEN_SEED_ENV)
    assert inputs.hidden_seed_digest() == inputs.hidden_seed_digest(hidden_seed()) != digest


def test_a_worker_running_other_code_refuses_to_grade(tmp_path: Path) -> None:
    """The task itself checks the client's identity against its worker's, before grading anything."""
    other = {**worker_identity(), "version": "0.0.0"}
    assert mismatch(worker_identity()) is None
    assert "project version differs" in mismatch(other)
    context = Context(None, {}, 1, "none", None, 1000, other)
    with pytest.raises(WorkerRefused, match="project version differs"):
        grade_task(Job("s", ASSIGNMENT, "x.ipynb", b"{}"), context)


# --- a real cluster on loopback ----------------------------------------------------------------------

class Cluster:
    """A ``dask scheduler`` and its ``dask worker`` processes, started by the test."""

    def __init__(self, folder: Path, env: dict[str, str], tls: list[str] | None = None) -> None:
        """``tls``: the ``--tls-*`` options of the scheduler and the workers (then the protocol is TLS)."""
        # a private scratch folder, as the README says (not the shared /tmp/dask-scratch-space)
        self.folder, self.env, self.tls = folder, {**env, "DASK_TEMPORARY_DIRECTORY": str(folder)}, tls or []
        self.procs: list[subprocess.Popen] = []
        scheduler_file = folder / "scheduler.json"
        self._start([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(scheduler_file), *(["--protocol", "tls", *self.tls] if tls else [])],
                    "scheduler")
        self.address = scheduler_address(scheduler_file, folder / "scheduler.log")

    def _start(self, argv: list[str], name: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, cwd=self.folder, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def add_workers(self, n: int, timeout: float = 180) -> None:
        """Start ``n`` workers and wait until each has registered with the scheduler (a client's own wait,
        30 s, is short for a worker process starting on a loaded machine)."""
        logs = []
        for i in range(n):
            name = f"worker{len(self.procs)}"
            self._start([str(DASK), "worker", self.address, "--nthreads", "1", "--host", "127.0.0.1",
                         "--no-dashboard", "--name", f"w{len(self.procs)}-{i}", *self.tls], name)
            logs.append(self.folder / f"{name}.log")
        deadline = time.monotonic() + timeout
        while not all("Registered to:" in log.read_text(errors="replace") for log in logs):
            assert time.monotonic() < deadline, "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
            time.sleep(0.2)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _cluster_env(**extra: str) -> dict[str, str]:
    """The cluster's environment: the project's, plus this folder so that the scheduler and the workers
    can import the test's own task function (:func:`_crash_on_purpose`)."""
    env = _env()
    env["PYTHONPATH"] = os.pathsep.join((env["PYTHONPATH"], str(Path(__file__).resolve().parent)))
    env.update({"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(SCHEDULER_TRIES - 1),
                "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}, **extra)
    return env


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """One scheduler and two single-threaded workers for this file's tests (stopped after them: their
    warm workers would otherwise load the machine for the rest of the session). The workers' own hidden
    seed setting is garbage: grading must use the seed the client sends."""
    folder = tmp_path_factory.mktemp("dask-cluster")
    started = Cluster(folder, _cluster_env(**{HIDDEN_SEED_ENV: "not-a-number"}))
    try:
        started.add_workers(2)
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_course(tmp_path_factory)


def _class(course: Path, notebooks: dict[str, nbformat.NotebookNode], assignment: str = ASSIGNMENT) -> None:
    for student, nb in notebooks.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{assignment}.ipynb")


def _result(course: Path, student: str, assignment: str = ASSIGNMENT) -> dict:
    return json.loads((course / "results" / student / assignment / "result.json").read_text())


def _engine(cluster: Cluster) -> Engine:
    return Engine(scheduler=cluster.address, workers=2)


def _mixed(template: Path) -> tuple[dict[str, nbformat.NotebookNode], dict[str, float]]:
    """Four students of mixed quality and their expected scores, from the source's points."""
    solved = {"full": tuple(POINTS), "none": (), "one": ("calc_preds",), "two": ("calc_preds", "accuracy")}
    return ({s: submission(template, solved=ids) for s, ids in solved.items()},
            {s: sum(POINTS[i] for i in ids) for s, ids in solved.items()})


@pytest.mark.grading
@pytest.mark.dask
def test_a_worker_killed_mid_batch_loses_nothing(cluster: Cluster, template: Path, tmp_path: Path) -> None:
    """One of the two workers is killed (SIGKILL) as soon as the first result is in: the batch goes on,
    and every submission is recorded exactly once, with its right score."""
    course = _course_copy(template, tmp_path)
    notebooks, expected = _mixed(template)
    _class(course, notebooks)
    outcomes = []
    with _engine(cluster) as engine:
        pids = engine.client.run(os.getpid)
        assert len(pids) == 2

        def kill_one(outcome) -> None:
            outcomes.append(outcome)
            if len(outcomes) == 1:
                os.kill(pids[min(pids)], signal.SIGKILL)

        summary = grade_submissions(course, find_submissions(course), engine, sandbox="auto", on_outcome=kill_one)
        assert pids[min(pids)] not in engine.client.run(os.getpid).values()  # it really died
    assert sorted(o.student for o in outcomes) == sorted(expected)  # each recorded once
    assert {o.student: o.status for o in summary.outcomes} == {s: GRADED for s in expected}
    assert {s: _result(course, s)["score"] for s in expected} == expected


def _crash_on_purpose(job: Job, context: PackedContext):
    """A notebook that takes its worker down every time it is graded (the others are graded as usual)."""
    if job.student == "crasher":
        os._exit(1)
    return grade_task(job, context)


@pytest.mark.grading
@pytest.mark.dask
def test_a_notebook_that_kills_its_worker_every_time_is_not_graded_and_the_batch_goes_on(
        cluster: Cluster, template: Path, tmp_path: Path) -> None:
    """Beside it, an honest notebook and three untouched ones (more tasks than twice the workers'
    threads: the scheduler queues them and hands a worker one at a time, so no neighbour is blamed)."""
    course = _course_copy(template, tmp_path)
    untouched = {f"bystander{i}": notebook(template, "release") for i in range(3)}
    _class(course, {"crasher": notebook(template, "source"), "honest": notebook(template, "source"), **untouched})
    with _engine(cluster) as engine:
        summary = grade_submissions(course, find_submissions(course), engine, sandbox="auto", task=_crash_on_purpose)
        engine.client.wait_for_workers(2, timeout=60)  # the nannies brought the workers back
    statuses = {o.student: (o.status, o.reason) for o in summary.outcomes}
    assert statuses["honest"] == (GRADED, None)
    assert all(statuses[s] == (GRADED, None) and _result(course, s)["score"] == 0 for s in untouched)
    status, reason = statuses["crasher"]
    assert status == NOT_GRADED and "stopped the grading worker" in reason and "/" not in reason
    crasher = _result(course, "crasher")
    assert crasher["exercises"] == [] and crasher["notes"] == [reason]  # no score, no 0 on any exercise
    assert _result(course, "honest")["score"] == sum(POINTS.values())
    # recorded: the next run does not try it again
    again = grade_submissions(course, find_submissions(course), _engine(cluster), sandbox="auto")
    assert {o.status for o in again.outcomes} == {UP_TO_DATE}


def _not_run(job: Job, context: PackedContext):
    """A zero without running anything: a test of the batch's bookkeeping needs only round trips."""
    return GradeResult.zero(batch.unpack(context).source, job.assignment, "not run")


@pytest.mark.grading
@pytest.mark.dask
def test_the_client_keeps_no_submission_once_recorded(template: Path, tmp_path: Path) -> None:
    """Memory stays flat as the class grows: once recorded, a submission's bytes are dropped by the
    client and, on a local cluster, by the scheduler in the same process. (Dask's connections keep
    their last ``distributed.admin.low-level-log-length`` messages whole: 1,000 by default, which kept
    ~0.2 MB per submission of a class in the client.)"""
    course = _course_copy(template, tmp_path)
    n = 120
    _class(course, {f"s{i:03d}": notebook(template, "release") for i in range(n)})
    with Engine(workers=1) as engine:
        summary = grade_submissions(course, find_submissions(course), engine, sandbox="auto", task=_not_run)
        gc.collect()
        held = sum(isinstance(o, Job) for o in gc.get_objects())
    assert [o.reason for o in summary.outcomes] == ["not run"] * n  # each came back and was recorded
    assert held < n // 3, f"{held} of {n} submissions are still held by the client"


@pytest.mark.grading
@pytest.mark.dask
def test_an_interrupted_client_resumes(cluster: Cluster, template: Path, tmp_path: Path) -> None:
    """The client stops (Ctrl-C) after its first recorded result: that one stays recorded, the next run
    grades exactly the others, and each submission ends with its right score."""
    course = _course_copy(template, tmp_path)
    notebooks, expected = _mixed(template)
    notebooks = {s: notebooks[s] for s in ("full", "two", "none")}
    _class(course, notebooks)

    def interrupt(outcome) -> None:
        raise KeyboardInterrupt

    with _engine(cluster) as engine, pytest.raises(KeyboardInterrupt):
        grade_submissions(course, find_submissions(course), engine, sandbox="auto", on_outcome=interrupt)
    done = {p.parent.parent.name for p in (course / "results").glob(f"*/{ASSIGNMENT}/result.json")}
    assert len(done) == 1
    with _engine(cluster) as engine:
        summary = grade_submissions(course, find_submissions(course), engine, sandbox="auto")
    assert {o.student: o.status for o in summary.outcomes} == \
        {s: UP_TO_DATE if s in done else GRADED for s in notebooks}
    assert {s: _result(course, s)["score"] for s in notebooks} == {s: expected[s] for s in notebooks}


@pytest.mark.grading
@pytest.mark.dask
def test_a_changed_reference_or_seed_regrades_exactly_what_it_affects(
        cluster: Cluster, template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two assignments graded; then the digest of one assignment's reference changes (monkeypatched:
    the repository's solutions are never edited): exactly its submissions are regraded and record the
    new fingerprint. A new hidden seed regrades everything. The workers' own seed setting is garbage,
    so full marks also show the client's seed was the one used."""
    course = _course_copy(template, tmp_path)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        assign([OTHER_ASSIGNMENT], course)
    for name in (ASSIGNMENT, OTHER_ASSIGNMENT):
        source = nbformat.read(course / "source" / name / f"{name}.ipynb", as_version=4)
        _class(course, {"ref": source}, name)
    subs = find_submissions(course)
    with _engine(cluster) as engine:
        first = grade_submissions(course, subs, engine, sandbox="auto")
        assert {o.status for o in first.outcomes} == {GRADED}
        for name in (ASSIGNMENT, OTHER_ASSIGNMENT):
            result = _result(course, "ref", name)
            assert result["score"] == result["max_score"] > 0
            assert result["reference_sha256"] == inputs.reference_digest(name)
            assert result["specs_sha256"] == inputs.specs_digest(name)
            assert result["hidden_seed_digest"] == inputs.hidden_seed_digest()
            assert result["grader_version"] == inputs.grader_version()

        real = inputs.reference_digest
        monkeypatch.setattr(inputs, "reference_digest", lambda a, root=PROJECT_ROOT: real(a, root) + (
            "-fixed" if a == OTHER_ASSIGNMENT else ""))
        second = grade_submissions(course, subs, engine, sandbox="auto")
        assert {o.assignment: o.status for o in second.outcomes} == {ASSIGNMENT: UP_TO_DATE, OTHER_ASSIGNMENT: GRADED}
        assert _result(course, "ref", OTHER_ASSIGNMENT)["reference_sha256"].endswith("-fixed")

        third = grade_submissions(course, subs, engine, sandbox="auto", seed=hidden_seed() + 1)
        assert {o.status for o in third.outcomes} == {GRADED}
        assert _result(course, "ref", ASSIGNMENT)["hidden_seed_digest"] == inputs.hidden_seed_digest(hidden_seed() + 1)


@pytest.mark.grading
@pytest.mark.dask
def test_grade_all_with_scheduler_end_to_end(cluster: Cluster, template: Path, tmp_path: Path) -> None:
    """``grade-all --scheduler ADDRESS`` against the hand-started cluster: results, feedback, CSV written
    by the client; the progress line names the scheduler."""
    course = _course_copy(template, tmp_path)
    notebooks, expected = _mixed(template)
    _class(course, {s: notebooks[s] for s in ("full", "one")})
    proc = run_cli("grade-all", "--course-dir", str(course), "--scheduler", cluster.address, "--workers", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"2 submissions, 2 to grade, 0 up to date; Dask scheduler {cluster.address}" in proc.stderr
    assert {s: _result(course, s)["score"] for s in ("full", "one")} == {s: expected[s] for s in ("full", "one")}
    assert "full," in (course / "grades-by-exercise.csv").read_text()


@pytest.mark.grading
@pytest.mark.dask
def test_grade_all_on_a_cluster_secured_as_the_readme_says(template: Path, tmp_path: Path) -> None:
    """The README's "Secure the cluster": a key and certificate made with openssl, given to the scheduler
    and the worker as options and to ``grade-all`` as Dask settings. Without them ``grade-all`` says what
    to set; with them the class is graded; a client with no key, or a key of its own, is refused and
    runs nothing (the hostile suite's intruder)."""
    from hostile import intruder

    keys = tmp_path / "keys"
    keys.mkdir()
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365", "-subj",
                           "/CN=grading", "-keyout", "grading.key", "-out", "grading.pem"], cwd=keys,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    pem, key = str(keys / "grading.pem"), str(keys / "grading.key")
    (tmp_path / "cluster").mkdir()
    secured = Cluster(tmp_path / "cluster", _cluster_env(),
                      tls=["--tls-ca-file", pem, "--tls-cert", pem, "--tls-key", key])
    try:
        secured.add_workers(1)
        assert secured.address.startswith("tls://127.0.0.1:"), secured.address
        course = _course_copy(template, tmp_path)
        notebooks, expected = _mixed(template)
        _class(course, {s: notebooks[s] for s in ("full", "one")})

        proc = run_cli("grade-all", "--course-dir", str(course), "--scheduler", secured.address)
        assert proc.returncode == 2, proc.stderr[-3000:]
        assert f"the Dask scheduler at {secured.address} speaks TLS, and no certificate is set" in proc.stderr
        assert "Traceback" not in proc.stderr

        settings = {"DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True",
                    "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": pem,
                    "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": pem, "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": key}
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade-all", "--course-dir", str(course),
                               "--scheduler", secured.address], cwd=PROJECT_ROOT, env={**_env(), **settings},
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert {s: _result(course, s)["score"] for s in ("full", "one")} == {s: expected[s] for s in ("full", "one")}

        tried = intruder.attempt(secured.address, tmp_path / "intruded.txt", tmp_path)
        for name in ("plain TCP", "TLS with credentials of its own", "TLS without a certificate"):
            assert tried[name].startswith("refused"), tried
        assert not (tmp_path / "intruded.txt").exists()
    finally:
        secured.stop()


@pytest.mark.grading
@pytest.mark.dask
def test_a_cluster_of_another_version_is_refused(tmp_path: Path) -> None:
    """A worker started from a checkout of another version: the client refuses before grading, naming it."""
    root = _project_copy(tmp_path)
    pyproject = root / "pyproject.toml"
    version = inputs.project_version()
    pyproject.write_text(pyproject.read_text().replace(f'version = "{version}"', 'version = "0.0.1-other"', 1))
    env = _cluster_env(PYTHONPATH=str(root))
    other = Cluster(tmp_path, env)
    try:
        other.add_workers(1)
        with pytest.raises(CourseError, match="project version differs"):
            Engine(scheduler=other.address).start()
    finally:
        other.stop()


def test_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(CourseError, match="cannot reach the Dask scheduler"):
        Engine(scheduler="tcp://127.0.0.1:9", timeout=2).start()


def test_local_engine_starts_quickly_and_grades_nothing_when_all_is_up_to_date(tmp_path: Path) -> None:
    """Nothing to grade: no cluster is started at all."""
    engine = Engine(workers=1)
    summary = grade_submissions(tmp_path, [], engine)
    assert summary.outcomes == [] and engine.client is None and engine.cluster is None
    started = time.monotonic()
    with Engine(workers=1) as running:
        assert running.capacity == 1
        assert running.client.submit(sum, [1, 2]).result() == 3
    assert time.monotonic() - started < 60  # about 1 s; only a hang is caught here (benchmarks measure)


def _never_graded(course: Path) -> None:
    """One submission, never graded, of an assignment the course does not have (nothing to grade it with)."""
    folder = course / "submitted" / "alice" / "nosuch"
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), folder / "nosuch.ipynb")


def _record_start_soon(engine: Engine) -> list[dict]:
    """The arguments of each ``engine.start_soon`` call, recorded as it goes on."""
    began: list[dict] = []
    original = engine.start_soon
    engine.start_soon = lambda **kw: (began.append(kw), original(**kw))  # type: ignore[method-assign]
    return began


def test_a_cluster_started_early_fails_where_the_batch_waits_for_it(tmp_path: Path) -> None:
    """A submission never graded starts the cluster at once, in the background, while the client prepares
    the rest; if that start fails, the batch raises the start's own error where it needs the cluster, and
    nothing is left running or recorded."""
    _never_graded(tmp_path)
    engine = Engine(scheduler="tcp://127.0.0.1:9", timeout=2)
    began = _record_start_soon(engine)
    with pytest.raises(CourseError, match="cannot reach the Dask scheduler"):
        grade_submissions(tmp_path, find_submissions(tmp_path), engine, sandbox="none")
    assert began == [{"warm": "none"}]
    assert engine.client is None and not engine.starting
    assert not (tmp_path / "results").exists()


def test_a_cluster_started_early_is_stopped_when_preparing_the_batch_fails(tmp_path: Path) -> None:
    """The cluster starts before the client has read the course's late policy; a policy that cannot be
    read stops the batch, and the cluster started for it is stopped too (nothing is left running)."""
    _never_graded(tmp_path)
    (tmp_path / "late_policy.toml").write_text("this is [not toml", encoding="utf-8")
    engine = Engine(workers=1)
    began = _record_start_soon(engine)
    with pytest.raises(CourseError, match="late_policy.toml"):
        grade_submissions(tmp_path, find_submissions(tmp_path), engine, sandbox="none", task=_not_run)
    assert began == [{"warm": None}]  # a test's task: no warm-up
    assert engine.client is None and engine.cluster is None and not engine.starting


def _readiness() -> tuple[bool, int | None]:
    from autograder import sandbox
    return "autograder.grading.notebook" in sys.modules, sandbox._ZYGOTE.pid


@pytest.mark.grading
@pytest.mark.dask
@pytest.mark.skipif(os.geteuid() != 0, reason="the warm start needs a grader running as root")
def test_a_warmed_worker_is_ready_before_its_first_submission() -> None:
    """``Engine.warm``: each worker imports the grading code and starts its zygote without being given a
    task (and a worker for unsandboxed runs starts no zygote)."""
    from autograder import sandbox

    assert sandbox.prestart("none") is False
    with Engine(workers=1) as engine:
        assert list(engine.client.run(_readiness).values()) == [(False, None)]  # nothing done before
        engine.warm("auto")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            [(imported, zygote)] = engine.client.run(_readiness).values()
            if imported and zygote is not None:
                break
            time.sleep(0.2)
        assert imported and zygote is not None, "the worker did not get ready on its own"
        [pid] = engine.client.run(os.getpid).values()
        assert zygote != pid and Path(f"/proc/{zygote}").exists()


def _busy(seconds: float) -> int:
    """Python work for ``seconds``, long enough for a stack-sampling profiler to see it many times."""
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


def test_local_workers_do_not_sample_their_stacks() -> None:
    """The local cluster's workers run without Dask's statistical profiler (``LOCAL_WORKER_CONFIG``): its
    samples feed a dashboard that is off, and its thread takes the core from the grading. A task of half
    a second leaves no sample (it would leave about fifty every 10 ms otherwise)."""
    with Engine(workers=1) as engine:
        assert engine.client.submit(_busy, 0.5, pure=False).result() > 0
        assert engine.client.profile()["count"] == 0


@pytest.mark.grading
def test_the_catalogue_is_read_once_per_state_of_its_files(template: Path, tmp_path: Path) -> None:
    """Each batch (each submission, in the service) asks for every assignment's exercise ids: they are
    read again only when a file they come from changes."""
    from autograder.course import source_path

    course = tmp_path / "course"
    shutil.copytree(template, course)
    first, again = assignment_catalogue(course), assignment_catalogue(course)
    assert all(again[name] is ids for name, ids in first.items())  # nothing read twice
    path = source_path(course, ASSIGNMENT)
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
                and c.metadata["nbgrader"].get("grade_id") in first[ASSIGNMENT])
    dropped = cell.metadata["nbgrader"]["grade_id"]
    cell.metadata["nbgrader"]["solution"] = False
    nbformat.write(nb, path)
    edited = assignment_catalogue(course)
    assert edited[ASSIGNMENT] == first[ASSIGNMENT] - {dropped}
    assert all(edited[name] is ids for name, ids in first.items() if name != ASSIGNMENT)


@pytest.mark.grading
def test_context_travels_as_data(template: Path) -> None:
    """What a worker needs survives a pickle round trip, with no path of the course folder in use."""
    source = load_assignment(ASSIGNMENT, template)
    context = Context(source, assignment_catalogue(template), 5, "none", None, 1000, worker_identity())
    again = cloudpickle.loads(cloudpickle.dumps(context))
    assert again.source.exercises == source.exercises and again.catalogue == context.catalogue
    # as it travels: pickled once by the client, opened once per worker and kept
    packed = PackedContext.of(context)
    wire = cloudpickle.dumps(packed)
    assert len(wire) < len(packed.data) + 200  # the bytes themselves, not the context pickled again
    sent = [cloudpickle.loads(wire) for _ in range(2)]
    assert batch.unpack(sent[0]) is batch.unpack(sent[1])
    assert batch.unpack(sent[0]).source.exercises == source.exercises and batch.unpack(context) is context
    other = PackedContext.of(Context(source, context.catalogue, 6, "none", None, 1000, worker_identity()))
    assert batch.unpack(other).seed == 6 and batch.unpack(sent[0]).seed == 5
    assert batch.assignment_fingerprint(ASSIGNMENT, source, 5)["source_sha256"] == source.sha256
