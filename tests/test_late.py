"""The late policy (``<course>/late_policy.toml``, :mod:`autograder.late`), applied where a grade is recorded.

First the policy alone: each method, extensions, the boundary at the due date, time zones as nbgrader
stores them (naive UTC), and a clear message for each kind of bad policy file. Then recording
(:func:`autograder.grading.record.save`, which ``grade-all`` and the grading service call) on the small
fixture assignment with hand-made results, so no sandbox runs: the penalty lands where nbgrader's
``LateSubmissionPlugin`` puts one (the submitted notebook's ``late_submission_penalty``, with nbgrader's
own ``total_seconds_late`` agreeing), the extension on nbgrader's submission, ``late_penalty`` in
``result.json``, and the feedback, the grades CSV, the LMS exports and the class report show it.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from autograder.course import CourseError
from autograder.late import (
    DAY_SECONDS,
    EVERY_ASSIGNMENT,
    NONE,
    PER_DAY,
    POLICY_FILE,
    ZERO,
    Policy,
    assess,
    final_score,
    load_policy,
)

pytestmark = pytest.mark.grading

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "assign"
NAME = "ch0_assign_fixture"
DUE = datetime(2026, 3, 1, 8, 0)  # naive UTC, as nbgrader stores a due date
SCORE = 8.0


def stamp(t: datetime) -> str:
    """A time as nbgrader's ``submit`` writes ``timestamp.txt`` (UTC)."""
    return t.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def write_policy(course: Path, text: str) -> None:
    course.mkdir(parents=True, exist_ok=True)
    (course / POLICY_FILE).write_text(text)


# --- the policy alone ----------------------------------------------------------------------------------


def test_no_policy_file_takes_nothing_off(tmp_path: Path) -> None:
    policy = load_policy(tmp_path)
    assert policy.method == NONE and not policy.stated
    assert assess(policy, SCORE, stamp(DUE + timedelta(days=30)), DUE, None).penalty == 0


def test_policy_none_takes_nothing_off_but_says_when(tmp_path: Path) -> None:
    write_policy(tmp_path, 'policy = "none"\n')
    policy = load_policy(tmp_path)
    late = assess(policy, SCORE, stamp(DUE + timedelta(hours=5)), DUE, None)
    assert policy.stated and late.penalty == 0 and late.seconds_late == 5 * 3600
    assert any("5 hours late" in s for s in late.sentences())


def test_zero_after_the_due_date(tmp_path: Path) -> None:
    write_policy(tmp_path, 'policy = "zero"\n')
    policy = load_policy(tmp_path)
    assert policy.method == ZERO
    assert assess(policy, SCORE, stamp(DUE + timedelta(seconds=1)), DUE, None).penalty == SCORE
    assert assess(policy, SCORE, stamp(DUE), DUE, None).penalty == 0
    assert assess(policy, SCORE, stamp(DUE - timedelta(days=1)), DUE, None).penalty == 0


@pytest.mark.parametrize(("late_by", "percent"), [
    (timedelta(seconds=1), 10),            # a started day counts
    (timedelta(hours=23, minutes=59), 10),
    (timedelta(days=1), 10),               # exactly one day: one day
    (timedelta(days=1, seconds=1), 20),
    (timedelta(days=3, hours=2), 35),      # four days would be 40%: capped at 35%
    (timedelta(days=40), 35),
])
def test_percent_per_day_with_a_cap(tmp_path: Path, late_by: timedelta, percent: float) -> None:
    write_policy(tmp_path, 'policy = "per_day"\npercent_per_day = 10\nmax_percent = 35\n')
    policy = load_policy(tmp_path)
    assert (policy.method, policy.percent_per_day, policy.max_percent) == (PER_DAY, 10, 35)
    late = assess(policy, SCORE, stamp(DUE + late_by), DUE, None)
    assert late.penalty == pytest.approx(SCORE * percent / 100)
    assert late.seconds_late == late_by.total_seconds()


def test_per_day_without_a_cap_can_take_everything(tmp_path: Path) -> None:
    write_policy(tmp_path, 'policy = "per_day"\npercent_per_day = 25\n')
    policy = load_policy(tmp_path)
    assert policy.max_percent == 100
    assert assess(policy, SCORE, stamp(DUE + timedelta(days=9)), DUE, None).penalty == SCORE
    assert assess(policy, 0, stamp(DUE + timedelta(days=9)), DUE, None).penalty == 0


def test_no_due_date_or_no_time_is_on_time(tmp_path: Path) -> None:
    write_policy(tmp_path, 'policy = "zero"\n')
    policy = load_policy(tmp_path)
    assert assess(policy, SCORE, stamp(DUE), None, None).penalty == 0
    late = assess(policy, SCORE, None, DUE, None)
    assert late.penalty == 0 and any("not known" in s for s in late.sentences())
    assert assess(policy, SCORE, "not a time", DUE, None).penalty == 0


def test_extensions_per_assignment_and_for_every_assignment(tmp_path: Path) -> None:
    every = f'"{EVERY_ASSIGNMENT}"'
    write_policy(tmp_path, f'policy = "zero"\n[extensions]\nalice = {{ {NAME} = 2, other = 1 }}\n'
                           f'bob = {{ {every} = 0.5 }}\ncarol = {{ {every} = 3, {NAME} = 1 }}\n')
    policy = load_policy(tmp_path)
    assert policy.extension("alice", NAME) == timedelta(days=2)
    assert policy.extension("alice", "ch9") is None
    assert policy.extension("bob", NAME) == policy.extension("bob", "ch9") == timedelta(hours=12)
    assert policy.extension("carol", NAME) == timedelta(days=1)  # the assignment's own wins over "*"
    assert policy.extension("dave", NAME) is None
    # the boundary moves with the extension: at the extended due date exactly, on time; a second later, late
    extended = DUE + timedelta(days=2)
    assert assess(policy, SCORE, stamp(extended), DUE, policy.extension("alice", NAME)).penalty == 0
    late = assess(policy, SCORE, stamp(extended + timedelta(seconds=1)), DUE, policy.extension("alice", NAME))
    assert late.penalty == SCORE and late.seconds_late == 1
    assert any("extension of 2 days" in s for s in late.sentences())


@pytest.mark.parametrize("written", [
    "2026-03-01 09:00:00.000000 CET",         # nbgrader's Exchange.timezone set to Europe's CET
    "2026-03-01T09:00:00+01:00",              # ISO 8601
    "2026-03-01 08:00:00.000000 UTC",
])
def test_time_zones_are_read_as_nbgrader_reads_them(tmp_path: Path, written: str) -> None:
    """Every way of writing the due date's instant is on time; one second later is late (naive UTC)."""
    from nbgrader.utils import parse_utc

    policy = Policy(ZERO)
    assert parse_utc(written) == DUE
    assert assess(policy, SCORE, written, DUE, None).penalty == 0
    one_more = parse_utc(written) + timedelta(seconds=1)
    assert assess(policy, SCORE, one_more, DUE, None).penalty == SCORE


@pytest.mark.parametrize(("text", "message"), [
    ('policy = "per_day\n', "is not valid TOML"),
    ('policy = "half"\n', "'policy' must be one of 'none', 'zero', 'per_day', got 'half'"),
    ("percent_per_day = 10\n", "'policy' must be one of"),
    ('policy = "per_day"\n', "policy 'per_day' needs 'percent_per_day'"),
    ('policy = "per_day"\npercent_per_day = 150\n', "'percent_per_day' must be a number from 0 to 100, got 150"),
    ('policy = "per_day"\npercent_per_day = "10%"\n', "'percent_per_day' must be a number from 0 to 100"),
    ('policy = "per_day"\npercent_per_day = 10\nmax_percent = -1\n', "'max_percent' must be a number"),
    ('policy = "zero"\npercent_per_day = 10\n', "unknown setting(s) for policy 'zero': percent_per_day"),
    ('policy = "per_day"\npercent_per_day = 10\ncap = 50\n', "unknown setting(s) for policy 'per_day': cap"),
    ('policy = "zero"\nextensions = 3\n', "'extensions' must be a table"),
    ('policy = "zero"\n[extensions]\nalice = 2\n', "extensions of 'alice' must be a table of assignment = days"),
    ('policy = "zero"\n[extensions]\nalice = { ch2 = "2 days" }\n',
     "the extension of 'alice' for 'ch2' must be a number of days (0 or more), got '2 days'"),
    ('policy = "zero"\n[extensions]\nalice = { ch2 = -1 }\n', "the extension of 'alice' for 'ch2'"),
])
def test_a_bad_policy_file_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    write_policy(tmp_path, text)
    with pytest.raises(CourseError) as err:
        load_policy(tmp_path)
    assert str(tmp_path / POLICY_FILE) in str(err.value) and message in str(err.value), str(err.value)
    assert 'policy = "per_day"' in str(err.value)  # and shows a good one


def test_a_policy_file_that_is_not_a_plain_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.toml").write_text('policy = "zero"\n')
    (tmp_path / POLICY_FILE).symlink_to(tmp_path / "elsewhere.toml")
    with pytest.raises(CourseError, match="cannot be read"):
        load_policy(tmp_path)
    (tmp_path / POLICY_FILE).unlink()
    (tmp_path / POLICY_FILE).write_bytes(b'policy = "zero" # \xff\n')
    with pytest.raises(CourseError, match="not UTF-8"):
        load_policy(tmp_path)


# --- recorded by record.save, shown everywhere ----------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture assignment generated into a course folder (with its gradebook); never modified."""
    from autograder.assign import assign

    course = tmp_path_factory.mktemp("late-template") / "course"
    assign([NAME], course, FIXTURE_DIR)
    return course


@pytest.fixture
def course(template: Path, tmp_path: Path) -> Path:
    import shutil

    from autograder.nbgrader_config import write_config

    course = tmp_path / "course"
    shutil.copytree(template, course)
    write_config(course)
    return course


def set_due_date(course: Path, due: str | datetime) -> None:
    from nbgrader.api import Gradebook

    from autograder.gradebook import course_id, db_url

    with Gradebook(db_url(course), course_id(course)) as gb:
        gb.update_or_create_assignment(NAME, duedate=due)


def record(course: Path, student: str, submitted: datetime | None, passed: int = 99,
           fingerprint: dict[str, str] | None = None):
    """Record a hand-made result of ``student`` (the first ``passed`` exercises passed) through
    ``record.save``, as ``grade-all`` does after grading; the submission folder as nbgrader's collect
    leaves it. Returns the result saved."""
    from autograder.grading.batch import Submission
    from autograder.grading.record import save
    from autograder.grading.results import ExerciseResult, GradeResult
    from autograder.grading.source import load_assignment

    source = load_assignment(NAME, course)
    folder = course / "submitted" / student / NAME
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{NAME}.ipynb").write_text("{}")
    if submitted is not None:
        (folder / "timestamp.txt").write_text(stamp(submitted))
    exercises = [ExerciseResult(e.id, e.title, e.points if i < passed else 0, e.points, i < passed,
                                "passed" if i < passed else "wrong values")
                 for i, e in enumerate(source.exercises)]
    result = GradeResult(NAME, exercises, timestamp=stamp(submitted) if submitted else None)
    assert save(Submission(student, NAME, folder), result, course,
                fingerprint or {"notebook_sha256": "n", "source_sha256": "s"}, source)
    return result


def stored(course: Path, student: str) -> dict:
    return json.loads((course / "results" / student / NAME / "result.json").read_text())


def feedback(course: Path, student: str) -> str:
    return (course / "feedback" / student / NAME / f"{NAME}.html").read_text()


def nbgrader_view(course: Path, student: str) -> tuple[float, float, float, timedelta | None]:
    """nbgrader's own figures: the notebook's late penalty, the submission's total, its seconds late
    (nbgrader's computation, extension included) and extension."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    from autograder.gradebook import course_id, db_url

    with warnings.catch_warnings(), Gradebook(db_url(course), course_id(course)) as gb:
        warnings.simplefilter("ignore", SAWarning)
        sub = gb.find_submission(NAME, student)
        notebook = gb.find_submission_notebook(NAME, NAME, student)
        return notebook.late_submission_penalty, sub.late_submission_penalty, sub.total_seconds_late, sub.extension


def test_save_records_the_penalty_as_nbgrader_does(course: Path) -> None:
    write_policy(course, f'policy = "per_day"\npercent_per_day = 10\nmax_percent = 50\n'
                         f'[extensions]\ncarol = {{ {NAME} = 1 }}\n')
    set_due_date(course, DUE)
    on_time = record(course, "alice", DUE)
    late = record(course, "bob", DUE + timedelta(days=1, hours=3))          # two started days: 20%
    extended = record(course, "carol", DUE + timedelta(days=1))             # within her extension
    after_extension = record(course, "carol2", DUE + timedelta(days=1))     # the same time, no extension
    assert on_time.score == late.score == extended.score == SCORE

    assert stored(course, "alice")["late_penalty"] == 0
    assert nbgrader_view(course, "alice")[:3] == (None, 0, 0)
    assert stored(course, "bob")["late_penalty"] == pytest.approx(SCORE * 0.2)
    penalty, total, seconds, extension = nbgrader_view(course, "bob")
    assert penalty == total == pytest.approx(SCORE * 0.2) and extension is None
    assert seconds == stored(course, "bob")["late"]["seconds_late"] == timedelta(days=1, hours=3).total_seconds()
    assert stored(course, "carol")["late_penalty"] == 0
    assert nbgrader_view(course, "carol") == (None, 0, 0, timedelta(days=1))  # nbgrader sees the extension
    assert stored(course, "carol2")["late_penalty"] == pytest.approx(SCORE * 0.1)
    assert after_extension.score == SCORE

    html = feedback(course, "bob")
    assert "Late policy: 10% of the score off per day late" in html and "at most 50%" in html
    assert "1 day 3 hours late" in html
    assert f"Final score, after the late penalty: {SCORE * 0.8:g} / {SCORE:g}" in html
    assert "with your extension of 1 day" in feedback(course, "carol") and "on time" in feedback(course, "carol")
    assert "Final score" not in feedback(course, "alice")


def test_a_changed_policy_or_extension_replaces_what_was_recorded(course: Path) -> None:
    write_policy(course, 'policy = "zero"\n[extensions]\nbob = { "*" = 2 }\n')
    set_due_date(course, DUE)
    record(course, "bob", DUE + timedelta(days=1))
    assert nbgrader_view(course, "bob")[0] is None and nbgrader_view(course, "bob")[3] == timedelta(days=2)
    write_policy(course, 'policy = "zero"\n')  # the extension withdrawn: the file is the one statement
    record(course, "bob", DUE + timedelta(days=1))
    assert nbgrader_view(course, "bob") == (SCORE, SCORE, DAY_SECONDS, None)
    assert stored(course, "bob")["late_penalty"] == SCORE


def test_without_a_policy_file_nbgrader_extension_is_kept(course: Path) -> None:
    """No file: nothing is taken off, and an extension granted in nbgrader itself stays and is shown."""
    from nbgrader.api import Gradebook

    from autograder.gradebook import course_id, db_url

    set_due_date(course, DUE)
    record(course, "bob", DUE + timedelta(hours=30))
    with Gradebook(db_url(course), course_id(course)) as gb:
        gb.grant_extension(NAME, "bob", days=2)
    record(course, "bob", DUE + timedelta(hours=30))
    assert nbgrader_view(course, "bob") == (None, 0, 0, timedelta(days=2))
    assert stored(course, "bob")["late_penalty"] == 0
    assert "with your extension of 2 days" in feedback(course, "bob")


def test_due_date_with_a_time_zone(course: Path) -> None:
    """``nbgrader db assignment add --duedate="... America/New_York"`` is stored as naive UTC; the
    boundary is that instant."""
    write_policy(course, 'policy = "zero"\n')
    set_due_date(course, "2026-03-01 03:00:00 America/New_York")
    record(course, "alice", DUE)
    record(course, "bob", DUE + timedelta(seconds=1))
    assert stored(course, "alice")["late_penalty"] == 0
    assert stored(course, "bob")["late_penalty"] == SCORE
    assert stored(course, "bob")["late"]["due"] == DUE.isoformat() + "Z"


def test_a_bad_policy_file_records_nothing(course: Path) -> None:
    from autograder.late import PER_DAY

    write_policy(course, 'policy = "per_week"\n')
    set_due_date(course, DUE)
    with pytest.raises(CourseError, match=f"'policy' must be one of .*'{PER_DAY}', got 'per_week'"):
        record(course, "bob", DUE + timedelta(days=1))
    assert not (course / "results" / "bob").exists() and not (course / "feedback" / "bob").exists()


def test_csv_exports_and_report_show_the_penalty(course: Path) -> None:
    """The grades CSV, the LMS exports (final grade; the plain CSV also the penalty) and the report."""
    from autograder.gradebook import CSV_COLUMNS, write_csv
    from autograder.term import export, report
    from autograder.term.classdata import load_class, points

    write_policy(course, 'policy = "per_day"\npercent_per_day = 25\n')
    set_due_date(course, DUE)
    record(course, "alice", DUE - timedelta(hours=1))
    record(course, "bob", DUE + timedelta(hours=2), passed=2)
    bob = stored(course, "bob")
    penalty = bob["late_penalty"]
    assert penalty == pytest.approx(bob["score"] * 0.25) and penalty > 0
    final = bob["score"] - penalty

    out = course / "grades.csv"
    write_csv(out, [("alice", stored(course, "alice")), ("bob", bob)])
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert tuple(next(csv.reader(out.open()))[:len(CSV_COLUMNS)]) == CSV_COLUMNS
    assert float(rows["bob"]["late_penalty"]) == pytest.approx(penalty)
    assert float(rows["bob"]["final_score"]) == pytest.approx(final)
    assert float(rows["alice"]["late_penalty"]) == 0 and float(rows["alice"]["final_score"]) == SCORE

    klass = load_class(course)
    assert klass.submission("bob", NAME).final_score == pytest.approx(final)
    canvas = list(csv.reader(io.StringIO(export.render(klass, "canvas"))))
    login, column = canvas[0].index("SIS Login ID"), canvas[0].index(NAME)
    assert {r[login]: r[column] for r in canvas[2:]} == {"alice": points(SCORE), "bob": points(final)}
    moodle = list(csv.reader(io.StringIO(export.render(klass, "moodle"))))  # no roster: grades only
    column = moodle[0].index(NAME)
    assert sorted(r[column] for r in moodle[1:]) == sorted([points(SCORE), points(final)])
    plain = list(csv.DictReader(io.StringIO(export.render(klass, "csv"))))
    bob_row = next(r for r in plain if r["student"] == "bob")
    assert float(bob_row[NAME]) == pytest.approx(final)
    assert float(bob_row[export.LATE_COLUMN.format(assignment=NAME)]) == pytest.approx(penalty)
    page = report.render_html(klass)
    assert f"(late, −{points(penalty)})" in page


def test_grade_all_sees_a_changed_policy_or_due_date(course: Path) -> None:
    """``grade-all``'s fingerprint of a result covers the policy file and the due date: changing either
    makes the next run record the submissions again; a bad file stops it before any grading."""
    from autograder.grading.batch import is_up_to_date
    from autograder.grading.record import late_fingerprint

    record(course, "bob", DUE + timedelta(days=1))
    unstated = late_fingerprint(course, NAME)
    assert late_fingerprint(course, NAME) == unstated
    set_due_date(course, DUE)
    dated = late_fingerprint(course, NAME)
    write_policy(course, 'policy = "zero"\n')
    zero = late_fingerprint(course, NAME)
    write_policy(course, 'policy = "zero"\n[extensions]\nbob = { "*" = 2 }\n')
    extended = late_fingerprint(course, NAME)
    assert len({str(f) for f in (unstated, dated, zero, extended)}) == 4
    record(course, "bob", DUE + timedelta(days=1), fingerprint=zero)  # as grade-all records it
    assert is_up_to_date(stored(course, "bob"), zero) and not is_up_to_date(stored(course, "bob"), extended)
    write_policy(course, 'policy = "zero"\npercent_per_day = 3\n')
    with pytest.raises(CourseError, match="unknown setting"):
        late_fingerprint(course, NAME)


def test_save_reads_only_plain_files_of_the_submission(course: Path) -> None:
    """A ``timestamp.txt`` or ``submission_secret.txt`` that is a FIFO, a link or oversized is ignored
    (the time is unknown, so on time; the feedback gets a secret of its own), never followed or waited on."""
    import os

    write_policy(course, 'policy = "zero"\n')
    set_due_date(course, DUE - timedelta(days=365))
    folder = course / "submitted" / "mallory" / NAME
    folder.mkdir(parents=True)
    os.mkfifo(folder / "submission_secret.txt")
    (folder / "timestamp.txt").symlink_to("/dev/zero")
    record(course, "mallory", None)
    assert stored(course, "mallory")["late_penalty"] == 0 and stored(course, "mallory")["late"]["submitted"] is None
    feedback_dir = course / "feedback" / "mallory" / NAME
    assert (feedback_dir / "timestamp.txt").read_text() == ""
    assert len((feedback_dir / "submission_secret.txt").read_text()) == 128
    (folder / "timestamp.txt").unlink()
    (folder / "timestamp.txt").write_text("9" * 100_000)
    record(course, "mallory", None)
    assert stored(course, "mallory")["late_penalty"] == 0


def test_grade_all_stops_on_a_bad_policy_before_grading(course: Path) -> None:
    """``grade-all`` itself: exit status 2, the file and what is wrong, and nothing graded or recorded."""
    import shutil

    from test_grade import run_cli

    folder = course / "submitted" / "alice" / NAME
    folder.mkdir(parents=True)
    shutil.copy(course / "release" / NAME / f"{NAME}.ipynb", folder)
    write_policy(course, 'policy = "per_day"\npercent_per_day = 10\nmax_percent = 500\n')
    proc = run_cli("grade-all", "--course-dir", str(course), "--workers", "1")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{course / POLICY_FILE}: 'max_percent' must be a number from 0 to 100, got 500" in proc.stderr
    assert "Traceback" not in proc.stderr and not (course / "results").exists()


def test_nbgrader_export_shows_the_penalty(course: Path, tmp_path: Path) -> None:
    """``nbgrader export`` (run in the course folder) lists the penalty, the raw score and the same final score."""
    import subprocess
    import sys

    from test_grade import _env

    write_policy(course, 'policy = "per_day"\npercent_per_day = 30\n')
    set_due_date(course, DUE)
    record(course, "bob", DUE + timedelta(hours=1))
    out = tmp_path / "nbgrader-grades.csv"
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(out)], cwd=course, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = next(r for r in csv.DictReader(out.open()) if r["student_id"] == "bob")
    assert float(row["late_submission_penalty"]) == pytest.approx(stored(course, "bob")["late_penalty"])
    assert float(row["late_submission_penalty"]) == pytest.approx(SCORE * 0.3)
    assert float(row["raw_score"]) == SCORE  # nbgrader's final score is ours
    assert float(row["score"]) == pytest.approx(final_score(SCORE, stored(course, "bob")["late_penalty"]))
