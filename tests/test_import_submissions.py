"""Importing an LMS's "download all submissions" zip (``python -m autograder import-submissions``).

A Canvas zip and a Moodle zip are built in the LMSs' own formats (Canvas's ``ContentZipper``: flat
``<name>[_LATE]_<user id>_<file id>_<file name>``; Moodle's ``downloader``:
``<full name>_<participant>_assignsubmission_file/<file name>`` with its grading worksheet), with several
students, a late one, a resubmission, an unknown user, a non-notebook, a traversal name, a link and an
oversized member. The tests check the filed layout, the times (nbgrader's ``timestamp.txt`` as the
report reads it), what is listed and why, that a second import changes nothing, that a newer
submission replaces an older one and never the reverse, and, last, that ``grade-all`` grades what
was filed.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
import subprocess
import sys
import warnings
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import nbformat
import pytest

from autograder.cli import main as cli_main
from autograder.course import CourseError
from autograder.lms_import import PROVENANCE_FILE, ZipLimits, import_submissions
from autograder.safe_io import MAX_NOTEBOOK_BYTES
from autograder.term.classdata import read_timestamp

pytestmark = pytest.mark.grading

ASSIGNMENT = "ch2_gradient_descent"
DUE = datetime(2026, 10, 2, 23, 59)
#: The roster as nbgrader's student table holds it: id -> (first, last, email, lms_user_id).
ROSTER = {"alice": ("Alice", "Smith", "alice@uni.example", "1001"),
          "bob": ("Bob", "Jones", "bob@uni.example", "1002"),
          "carol": ("Carol", "King", "carol@uni.example", "1003"),
          "dave": ("Dave", "Brown", "dave@uni.example", "1004")}
#: Moodle's participant numbers of the assignment (not the users' ids).
PARTICIPANT = {"alice": "3100001", "bob": "3100002", "carol": "3100003", "dave": "3100004"}
#: The worksheet's time zone (the downloading teacher's) and the submissions' local times in it.
ZONE = "Europe/Berlin"
MOODLE_TIMES = {"alice": datetime(2026, 10, 1, 18, 5), "bob": datetime(2026, 10, 3, 9, 40),
                "carol": datetime(2026, 9, 30, 12, 0), "dave": datetime(2026, 10, 2, 8, 15)}


def _notebook(student: str, version: int = 1) -> bytes:
    """A small notebook, different per student and version, as Jupyter saves it."""
    cell = nbformat.v4.new_code_cell(f"# {student}, version {version}\nx = {version}", id=f"{student}-{version}")
    nb = nbformat.v4.new_notebook(cells=[cell])
    return nbformat.writes(nb).encode()


def _add_link(archive: zipfile.ZipFile, name: str, target: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive.writestr(info, target)


def _zip(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            _add_link(archive, name, target)
    return path


#: An oversized notebook: one byte over the grader's cap (zeros: a few kB once deflated).
OVERSIZED = b"0" * (MAX_NOTEBOOK_BYTES + 1)


def canvas_members(alice_file: str = "5001", alice_version: int = 1, alice_late: bool = False) -> dict[str, bytes]:
    """Canvas's flat names: sortable name lower-cased without punctuation, LATE, user id, file id, name."""
    late = "_LATE" if alice_late else ""
    suffix = "-1" if alice_version > 1 else ""  # Canvas renames a file name the student used before
    return {
        f"smithalice{late}_1001_{alice_file}_{ASSIGNMENT}{suffix}.ipynb": _notebook("alice", alice_version),
        f"jonesbob_LATE_1002_5002_{ASSIGNMENT}.ipynb": _notebook("bob"),
        f"kingcarol_1003_5003_{ASSIGNMENT}.ipynb": _notebook("carol"),
        f"strangerxavier_9999_5004_{ASSIGNMENT}.ipynb": _notebook("xavier"),
        "kingcarol_1003_5005_screenshot.png": b"\x89PNG\r\n\x1a\n",
        f"../../../brownevil_1004_5006_{ASSIGNMENT}.ipynb": _notebook("evil"),
        f"browndave_1004_5007_{ASSIGNMENT}.ipynb": OVERSIZED,
        f"anon_x7k2p_5008_{ASSIGNMENT}.ipynb": _notebook("anonymous"),
    }


CANVAS_LINK = {f"browndave_1004_5009_{ASSIGNMENT}.ipynb": "/etc/passwd"}


def moodle_members(alice_version: int = 1) -> dict[str, bytes]:
    """Moodle's folder-per-submission names (its default since 3.1)."""
    return {
        f"Alice Smith_{PARTICIPANT['alice']}_assignsubmission_file/{ASSIGNMENT}.ipynb":
            _notebook("alice", alice_version),
        f"Bob Jones_{PARTICIPANT['bob']}_assignsubmission_file/{ASSIGNMENT}.ipynb": _notebook("bob"),
        f"Bob Jones_{PARTICIPANT['bob']}_assignsubmission_onlinetext/onlinetext.html": b"<p>see notebook</p>",
        f"Carol King_{PARTICIPANT['carol']}_assignsubmission_file/../../../../tmp/{ASSIGNMENT}.ipynb":
            _notebook("evil"),
        f"Dave Brown_{PARTICIPANT['dave']}_assignsubmission_file/{ASSIGNMENT}.ipynb": OVERSIZED,
        f"Eve Stranger_3100009_assignsubmission_file/{ASSIGNMENT}.ipynb": _notebook("eve"),
        f"Nobody Listed_3100077_assignsubmission_file/{ASSIGNMENT}.ipynb": _notebook("nobody"),
    }


def _moodle_date(when: datetime) -> str:
    """A time as Moodle's worksheet shows it (``userdate``, ``strftimedatetime``)."""
    return when.strftime("%A, %-d %B %Y, %-I:%M %p")


def worksheet(path: Path, times: dict[str, datetime]) -> Path:
    """Moodle's grading worksheet: one row per participant (Eve is enrolled in Moodle, not in the roster)."""
    columns = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum grade", "Grade can be changed",
               "Last modified (submission)", "Online text", "Last modified (grade)", "Feedback comments"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    people = [(PARTICIPANT[s], f"{ROSTER[s][0]} {ROSTER[s][1]}", ROSTER[s][2], times.get(s)) for s in ROSTER]
    people.append(("3100009", "Eve Stranger", "eve@elsewhere.example", datetime(2026, 10, 1, 10, 0)))
    for number, name, email, when in people:
        writer.writerow([f"Participant {number}", name, email, "Submitted for grading", "", "10.00", "Yes",
                         _moodle_date(when) if when else "-", "", "-", ""])
    path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode())  # Moodle writes a BOM
    return path


@pytest.fixture(scope="module")
def roster_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course folder whose nbgrader gradebook holds the roster and chapter 2's due date (never modified)."""
    course = tmp_path_factory.mktemp("roster") / "course"
    course.mkdir()
    add_roster(course)
    return course


def add_roster(course: Path) -> None:
    """Fill nbgrader's student table (as ``nbgrader db student import`` does) and set the due date."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    from autograder.gradebook import course_id, db_url
    from autograder.nbgrader_config import ensure_tools_on_path

    ensure_tools_on_path()
    with warnings.catch_warnings(), Gradebook(db_url(course), course_id(course)) as gb:
        warnings.simplefilter("ignore", SAWarning)
        gb.update_or_create_assignment(ASSIGNMENT, duedate=DUE)
        for sid, (first, last, email, lms_id) in ROSTER.items():
            gb.update_or_create_student(sid, first_name=first, last_name=last, email=email, lms_user_id=lms_id)


@pytest.fixture
def course(roster_course: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "course"
    shutil.copytree(roster_course, copy)
    return copy


def _run(capsys, *args: str) -> tuple[int, str]:
    status = cli_main(["import-submissions", *args])
    return status, capsys.readouterr().out


def _tree(course: Path) -> dict[str, bytes]:
    """Every file under submitted/, with its bytes."""
    root = course / "submitted"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _assert_left(out: str, expected: dict[str, str]) -> dict[str, str]:
    """The import listed exactly ``expected``'s files as left over, each with a reason containing its
    text; the listed files and their reasons."""
    left = _left(out)
    assert set(left) == set(expected)
    for member, reason in expected.items():
        assert reason in left[member], (member, left[member])
    return left


def _left(out: str) -> dict[str, str]:
    """The 'not placed' lines of the command's output: member -> reason."""
    lines = out.split("not placed:")[1].splitlines()[1:] if "not placed:" in out else []
    return dict(line.strip().split(": ", 1) for line in lines if line.startswith("  "))


def _filed(course: Path, student: str) -> Path:
    return course / "submitted" / student / ASSIGNMENT


# --------------------------------------------------------------------------------------------- Canvas

def test_canvas_zip_is_filed_in_nbgrader_layout(course: Path, tmp_path: Path, capsys) -> None:
    archive = _zip(tmp_path / "canvas.zip", canvas_members(), CANVAS_LINK)
    status, out = _run(capsys, "canvas", str(archive), "--course-dir", str(course))
    assert status == 1  # some files could not be placed, and the command says so
    members = canvas_members()
    for student, member in (("alice", f"smithalice_1001_5001_{ASSIGNMENT}.ipynb"),
                            ("bob", f"jonesbob_LATE_1002_5002_{ASSIGNMENT}.ipynb"),
                            ("carol", f"kingcarol_1003_5003_{ASSIGNMENT}.ipynb")):
        assert (_filed(course, student) / f"{ASSIGNMENT}.ipynb").read_bytes() == members[member]
        provenance = json.loads((_filed(course, student) / PROVENANCE_FILE).read_text())
        assert provenance["user_id"] == ROSTER[student][3] and provenance["member"] == member
        assert provenance["late"] == ("_LATE_" in member)
        # Canvas's zip carries no submission time: none is invented
        assert not (_filed(course, student) / "timestamp.txt").exists()
        assert read_timestamp(course, student, ASSIGNMENT) is None
    assert "bob/ch2_gradient_descent (late)" in out
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["alice", "bob", "carol"]


def test_canvas_leftovers_are_listed_with_their_reasons(course: Path, tmp_path: Path, capsys) -> None:
    archive = _zip(tmp_path / "canvas.zip", canvas_members(), CANVAS_LINK)
    _status, out = _run(capsys, "canvas", str(archive), "--course-dir", str(course))
    left = _assert_left(out, {
        f"strangerxavier_9999_5004_{ASSIGNMENT}.ipynb": "Canvas user 9999 is not in the roster",
        "kingcarol_1003_5005_screenshot.png": "not a notebook",
        f"../../../brownevil_1004_5006_{ASSIGNMENT}.ipynb": "unsafe path",
        f"browndave_1004_5007_{ASSIGNMENT}.ipynb": "a notebook may be at most 20.0 MB",
        f"anon_x7k2p_5008_{ASSIGNMENT}.ipynb": "anonymous grading",
        f"browndave_1004_5009_{ASSIGNMENT}.ipynb": "a symbolic link",
    })
    # nothing escaped the course folder, and dave (oversized, link) got nothing
    assert not (tmp_path / "brownevil_1004_5006_ch2_gradient_descent.ipynb").exists()
    assert not (course / "submitted" / "dave").exists()
    # every member of the archive is accounted for: filed or listed
    assert len(left) + 3 == len(canvas_members()) + len(CANVAS_LINK)


def test_canvas_second_import_changes_nothing_and_a_resubmission_updates_only_that_student(
        course: Path, tmp_path: Path, capsys) -> None:
    first = _zip(tmp_path / "canvas.zip", canvas_members(), CANVAS_LINK)
    _run(capsys, "canvas", str(first), "--course-dir", str(course))
    before = _tree(course)
    mtimes = {p: p.stat().st_mtime_ns for p in (course / "submitted").rglob("*")}

    status, out = _run(capsys, "canvas", str(first), "--course-dir", str(course))
    assert _tree(course) == before and {p: p.stat().st_mtime_ns for p in (course / "submitted").rglob("*")} == mtimes
    assert "filed: 0" in out and "updated: 0" in out and "unchanged: 3" in out

    # alice resubmits after the due date: Canvas gives the new file a larger id and marks it LATE
    second = _zip(tmp_path / "canvas-2.zip", canvas_members("5010", 2, alice_late=True))
    status, out = _run(capsys, "canvas", str(second), "--course-dir", str(course))
    assert "updated: 1" in out and "unchanged: 2" in out
    after = _tree(course)
    assert after[f"alice/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"] == _notebook("alice", 2)
    assert json.loads(after[f"alice/{ASSIGNMENT}/{PROVENANCE_FILE}"])["late"] is True
    assert {k: v for k, v in after.items() if not k.startswith("alice/")} == \
        {k: v for k, v in before.items() if not k.startswith("alice/")}

    # the older download imported again does not take the newer submission back
    status, out = _run(capsys, "canvas", str(first), "--course-dir", str(course))
    assert _tree(course) == after
    assert "not newer than the filed one" in _left(out)[f"smithalice_1001_5001_{ASSIGNMENT}.ipynb"]


def test_canvas_late_mark_withdrawn_is_updated(course: Path, tmp_path: Path, capsys) -> None:
    """The same Canvas file downloaded again without its LATE mark (an extension was granted) updates the mark."""
    late = {f"smithalice_LATE_1001_5001_{ASSIGNMENT}.ipynb": _notebook("alice")}
    _run(capsys, "canvas", str(_zip(tmp_path / "late.zip", late)), "--course-dir", str(course))
    on_time = {f"smithalice_1001_5001_{ASSIGNMENT}.ipynb": _notebook("alice")}
    status, out = _run(capsys, "canvas", str(_zip(tmp_path / "on-time.zip", on_time)), "--course-dir", str(course))
    assert status == 0 and "updated: 1" in out
    assert json.loads((_filed(course, "alice") / PROVENANCE_FILE).read_text())["late"] is False


def test_a_submission_collected_otherwise_is_never_overwritten(course: Path, tmp_path: Path, capsys) -> None:
    folder = _filed(course, "carol")
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_bytes(_notebook("carol", 7))
    (folder / "timestamp.txt").write_text("2026-10-01 10:00:00.000000 UTC")
    archive = _zip(tmp_path / "canvas.zip", canvas_members())
    _status, out = _run(capsys, "canvas", str(archive), "--course-dir", str(course))
    assert (folder / f"{ASSIGNMENT}.ipynb").read_bytes() == _notebook("carol", 7)
    assert "did not file; kept" in _left(out)[f"kingcarol_1003_5003_{ASSIGNMENT}.ipynb"]


def test_a_linked_student_folder_is_not_followed(course: Path, tmp_path: Path, capsys) -> None:
    """A student folder that is a symbolic link (to anywhere) is listed, never written through."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (course / "submitted").mkdir()
    (course / "submitted" / "alice").symlink_to(elsewhere)
    archive = _zip(tmp_path / "canvas.zip", {f"smithalice_1001_6001_{ASSIGNMENT}.ipynb": _notebook("alice")})
    _status, out = _run(capsys, "canvas", str(archive), "--course-dir", str(course))
    assert "submitted/alice is a symbolic link" in _left(out)[f"smithalice_1001_6001_{ASSIGNMENT}.ipynb"]
    assert list(elsewhere.iterdir()) == []


def test_assignment_option_and_unknown_assignments(course: Path, tmp_path: Path, capsys) -> None:
    archive = _zip(tmp_path / "canvas.zip", {"smithalice_1001_6001_my_work.ipynb": _notebook("alice")})
    status, out = _run(capsys, "canvas", str(archive), "--course-dir", str(course))
    assert status == 1 and "pass --assignment" in _left(out)["smithalice_1001_6001_my_work.ipynb"]
    status, out = _run(capsys, "canvas", str(archive), "--course-dir", str(course), "--assignment", ASSIGNMENT)
    assert status == 0 and (_filed(course, "alice") / f"{ASSIGNMENT}.ipynb").read_bytes() == _notebook("alice")
    assert cli_main(["import-submissions", "canvas", str(archive), "--course-dir", str(course),
                     "--assignment", "ch9_nothing"]) == 2
    assert "unknown assignment 'ch9_nothing'" in capsys.readouterr().err


def test_several_notebooks_for_one_submission_are_listed_not_guessed(course: Path, tmp_path: Path, capsys) -> None:
    archive = _zip(tmp_path / "canvas.zip", {f"smithalice_1001_6001_{ASSIGNMENT}.ipynb": _notebook("alice"),
                                             "smithalice_1001_6002_draft.ipynb": _notebook("alice", 2)})
    _status, out = _run(capsys, "canvas", str(archive), "--course-dir", str(course), "--assignment", ASSIGNMENT)
    assert all("several notebooks" in reason for reason in _left(out).values()) and len(_left(out)) == 2
    assert not (course / "submitted").exists()


def test_not_a_notebook_inside_is_listed(course: Path, tmp_path: Path, capsys) -> None:
    archive = _zip(tmp_path / "canvas.zip", {f"smithalice_1001_6001_{ASSIGNMENT}.ipynb": b'{"cells": [ not JSON',
                                             f"jonesbob_1002_6002_{ASSIGNMENT}.ipynb": b'{"a": 1}'})
    _status, out = _run(capsys, "canvas", str(archive), "--course-dir", str(course))
    left = _left(out)
    assert "not valid JSON" in left[f"smithalice_1001_6001_{ASSIGNMENT}.ipynb"]
    assert "'cells'" in left[f"jonesbob_1002_6002_{ASSIGNMENT}.ipynb"]


def test_archive_bombs_and_non_archives_are_refused(course: Path, tmp_path: Path) -> None:
    many = _zip(tmp_path / "many.zip", {f"smithalice_1001_{i}_x{i}.png": b"" for i in range(30)})
    with pytest.raises(CourseError, match="30 entries"):
        import_submissions("canvas", many, course, limits=ZipLimits(max_members=20))
    # a member whose header claims little but unpacks to more is cut at the cap, never read whole
    archive = _zip(tmp_path / "small.zip", {f"smithalice_1001_6001_{ASSIGNMENT}.ipynb": _notebook("alice"),
                                            f"jonesbob_1002_6002_{ASSIGNMENT}.ipynb": _notebook("bob")})
    report = import_submissions("canvas", archive, course, limits=ZipLimits(max_total_bytes=len(_notebook("alice"))))
    assert [r for _m, r in report.left] == [f"the archive's notebooks exceed {len(_notebook('alice')):,} bytes "
                                            f"together; not imported"]
    text = tmp_path / "not.zip"
    text.write_text("hello")
    with pytest.raises(CourseError, match="not a zip archive"):
        import_submissions("canvas", text, course)


def test_errors_are_clear(tmp_path: Path, course: Path, capsys) -> None:
    archive = _zip(tmp_path / "canvas.zip", canvas_members())
    empty = tmp_path / "empty-course"
    empty.mkdir()
    assert cli_main(["import-submissions", "canvas", str(archive), "--course-dir", str(empty)]) == 2
    assert "nbgrader db student import" in capsys.readouterr().err
    assert cli_main(["import-submissions", "moodle", str(archive), "--course-dir", str(course)]) == 2
    assert "--worksheet" in capsys.readouterr().err
    assert cli_main(["import-submissions", "canvas", str(tmp_path / "none.zip"), "--course-dir", str(course)]) == 2
    assert "no archive" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- Moodle

def _utc(local: datetime) -> datetime:
    """A worksheet's local time as naive UTC, as nbgrader stores times."""
    return local.replace(tzinfo=ZoneInfo(ZONE)).astimezone(timezone.utc).replace(tzinfo=None)


def test_moodle_zip_is_filed_with_the_worksheet_times(course: Path, tmp_path: Path, capsys) -> None:
    archive = _zip(tmp_path / "moodle.zip", moodle_members())
    sheet = worksheet(tmp_path / "worksheet.csv", MOODLE_TIMES)
    status, out = _run(capsys, "moodle", str(archive), "--course-dir", str(course), "--worksheet", str(sheet),
                       "--timezone", ZONE)
    assert status == 1
    for student in ("alice", "bob"):
        assert (_filed(course, student) / f"{ASSIGNMENT}.ipynb").read_bytes() == _notebook(student)
        # nbgrader's timestamp.txt, read back as the report and the late policy read it
        assert read_timestamp(course, student, ASSIGNMENT) == _utc(MOODLE_TIMES[student])
    assert read_timestamp(course, "bob", ASSIGNMENT) > DUE > read_timestamp(course, "alice", ASSIGNMENT)
    text = (_filed(course, "alice") / "timestamp.txt").read_text()
    assert text == _utc(MOODLE_TIMES["alice"]).strftime("%Y-%m-%d %H:%M:%S.%f UTC")  # what nbgrader submit writes
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["alice", "bob"]

    _assert_left(out, {
        f"Bob Jones_{PARTICIPANT['bob']}_assignsubmission_onlinetext/onlinetext.html": "not a notebook",
        f"Carol King_{PARTICIPANT['carol']}_assignsubmission_file/../../../../tmp/{ASSIGNMENT}.ipynb": "unsafe path",
        f"Dave Brown_{PARTICIPANT['dave']}_assignsubmission_file/{ASSIGNMENT}.ipynb": "at most 20.0 MB",
        f"Eve Stranger_3100009_assignsubmission_file/{ASSIGNMENT}.ipynb": "is not in the roster",
        f"Nobody Listed_3100077_assignsubmission_file/{ASSIGNMENT}.ipynb": "not in the grading worksheet",
    })


def test_moodle_flat_names_of_older_versions(course: Path, tmp_path: Path, capsys) -> None:
    """Without "download submissions in folders" (and Moodle 3.x's ``_file_/``) the names still map."""
    members = {f"Alice Smith_{PARTICIPANT['alice']}_assignsubmission_file_{ASSIGNMENT}.ipynb": _notebook("alice"),
               f"Bob Jones_{PARTICIPANT['bob']}_assignsubmission_file_/{ASSIGNMENT}.ipynb": _notebook("bob")}
    sheet = worksheet(tmp_path / "worksheet.csv", MOODLE_TIMES)
    status, _out = _run(capsys, "moodle", str(_zip(tmp_path / "m.zip", members)), "--course-dir", str(course),
                        "--worksheet", str(sheet))
    assert status == 0
    assert read_timestamp(course, "bob", ASSIGNMENT) == MOODLE_TIMES["bob"]  # the default zone is UTC


def test_moodle_second_import_and_resubmission(course: Path, tmp_path: Path, capsys) -> None:
    archive = _zip(tmp_path / "moodle.zip", moodle_members())
    sheet = worksheet(tmp_path / "worksheet.csv", MOODLE_TIMES)
    args = ("--course-dir", str(course), "--timezone", ZONE)
    _run(capsys, "moodle", str(archive), "--worksheet", str(sheet), *args)
    before = _tree(course)
    _status, out = _run(capsys, "moodle", str(archive), "--worksheet", str(sheet), *args)
    assert _tree(course) == before and "unchanged: 2" in out

    later = dict(MOODLE_TIMES, alice=MOODLE_TIMES["alice"] + timedelta(days=2))
    sheet2 = worksheet(tmp_path / "worksheet-2.csv", later)
    archive2 = _zip(tmp_path / "moodle-2.zip", moodle_members(alice_version=2))
    _status, out = _run(capsys, "moodle", str(archive2), "--worksheet", str(sheet2), *args)
    assert "updated: 1" in out
    assert (_filed(course, "alice") / f"{ASSIGNMENT}.ipynb").read_bytes() == _notebook("alice", 2)
    assert read_timestamp(course, "alice", ASSIGNMENT) == _utc(later["alice"]) > DUE
    after = _tree(course)
    _status, out = _run(capsys, "moodle", str(archive), "--worksheet", str(sheet), *args)
    assert _tree(course) == after  # the older download does not take it back
    assert "not newer" in _left(out)[f"Alice Smith_{PARTICIPANT['alice']}_assignsubmission_file/{ASSIGNMENT}.ipynb"]


def test_moodle_without_times_cannot_replace_a_filed_submission(course: Path, tmp_path: Path, capsys) -> None:
    """With no time in the worksheet, which download is newer cannot be told: the filed one is kept, and said so."""
    sheet = worksheet(tmp_path / "worksheet.csv", {})  # every participant's time is "-"
    first = {f"Alice Smith_{PARTICIPANT['alice']}_assignsubmission_file/{ASSIGNMENT}.ipynb": _notebook("alice")}
    _run(capsys, "moodle", str(_zip(tmp_path / "1.zip", first)), "--course-dir", str(course), "--worksheet", str(sheet))
    assert not (_filed(course, "alice") / "timestamp.txt").exists()
    second = {name: _notebook("alice", 2) for name in first}
    _status, out = _run(capsys, "moodle", str(_zip(tmp_path / "2.zip", second)), "--course-dir", str(course),
                        "--worksheet", str(sheet))
    assert "cannot tell which is newer" in _left(out)[next(iter(first))]
    assert (_filed(course, "alice") / f"{ASSIGNMENT}.ipynb").read_bytes() == _notebook("alice")


def test_the_import_does_not_load_torch(course: Path, tmp_path: Path) -> None:
    """An import is file work: the module must not pay for the grader's imports (torch: seconds)."""
    archive = _zip(tmp_path / "canvas.zip", {f"smithalice_1001_6001_{ASSIGNMENT}.ipynb": _notebook("alice")})
    code = ("import sys; from pathlib import Path; from autograder.lms_import import import_submissions; "
            f"report = import_submissions('canvas', Path({str(archive)!r}), Path({str(course)!r})); "
            "assert len(report.filed) == 1, report; assert 'torch' not in sys.modules, 'torch was imported'")
    from test_grade import _env

    proc = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------------------------- grading

def test_grade_all_grades_the_imported_class(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path,
                                             capsys) -> None:
    """Two students imported from a Canvas zip, then graded by ``grade-all`` like any nbgrader class."""
    from nbgrader.api import Gradebook

    from autograder.gradebook import course_id, db_url
    from test_grade import POINTS, generated_course, notebook, run_cli, submission
    from test_grade_all import _course_copy

    template = generated_course(tmp_path_factory)
    course = _course_copy(template, tmp_path)
    add_roster(course)
    members = {f"smithalice_1001_7001_{ASSIGNMENT}.ipynb":
               nbformat.writes(submission(template, solved=tuple(POINTS))).encode(),
               f"jonesbob_LATE_1002_7002_{ASSIGNMENT}-1.ipynb": nbformat.writes(notebook(template, "release")).encode()}
    status, _out = _run(capsys, "canvas", str(_zip(tmp_path / "canvas.zip", members)), "--course-dir", str(course))
    assert status == 0
    proc = run_cli("grade-all", "--course-dir", str(course), "--workers", "1", "--assignment", ASSIGNMENT)
    assert proc.returncode == 0, proc.stderr
    scores = {s: json.loads((course / "results" / s / ASSIGNMENT / "result.json").read_text())["score"]
              for s in ("alice", "bob")}
    assert scores == {"alice": sum(POINTS.values()), "bob": 0}
    with Gradebook(db_url(course), course_id(course)) as gb:
        recorded = {s.student.id for s in gb.find_assignment(ASSIGNMENT).submissions}
        assert {"alice", "bob"} <= recorded
        assert gb.find_student("alice").lms_user_id == "1001"
