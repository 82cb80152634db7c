"""``python -m autograder import-submissions canvas|moodle ZIP``: an LMS's bulk download, filed for ``grade-all``.

An LMS's "Download all submissions" zip is filed into nbgrader's layout,
``submitted/<student>/<assignment>/<assignment>.ipynb`` beside nbgrader's ``timestamp.txt``, where
``grade-all``, the report, the exports and ``nbgrader autograde`` read submissions. The formats are the
LMSs' own (read from their source code, since neither documents them beyond "named by student"):

- **Canvas** (``lib/content_zipper.rb``): one flat file per uploaded file,
  ``<name>[_LATE]_<user_id>_<file_id>_<original name>``: ``<name>`` is the student's sortable name,
  lower-cased, without spaces or punctuation; ``LATE`` is Canvas's own verdict against its due date
  (overrides and extensions included); ``<user_id>`` is Canvas's user id, which is nbgrader's
  ``lms_user_id``; ``<file_id>`` is the uploaded file's id (a resubmission is a new, larger id; Canvas
  adds ``-1``, ``-2`` to an original name used before). The zip holds each student's latest submission
  only, and **no submission time** (its entries are dated when the zip was made): the ``LATE`` marker
  is kept, the time is not invented. Anonymous grading names files ``anon_<id>``: they cannot be placed.
- **Moodle** (``mod/assign`` ``downloader``): ``<full name>_<participant>_assignsubmission_file/<name>``
  (a folder per submission, Moodle's default since 3.1; 3.x wrote ``..._file_/<name>``, and without
  "download submissions in folders" it is one flat ``..._assignsubmission_file_<name>``). The number is
  the assignment's *participant* identifier, not the user's id, so Moodle needs the assignment's
  grading worksheet (``--worksheet``: "Download grading worksheet"), whose ``Identifier`` column
  ("Participant 1234567") gives each participant's ``ID number`` (nbgrader's ``lms_user_id``) or
  ``Email address``, and whose ``Last modified (submission)`` column gives the submission's time (in
  the downloading user's time zone: ``--timezone``).

Students come from nbgrader's student table (:func:`autograder.term.classdata.read_roster`). nbgrader's
:class:`~nbgrader.plugins.zipcollect.FileNameCollectorPlugin` matches the names (its ``named_regexp``
contract: ``student_id``, ``file_id``); its ``zip_collect`` app is not used, for the reasons in
docs/DESIGN.md (it extracts the whole archive unchecked and clears a student's folder).

Every member of the archive is accounted for: filed, unchanged, updated, or listed with the reason
it was not placed. The archive is untrusted: its member count, central directory and sizes are
bounded before anything is read, no member path is used to write (destinations are built from the
roster and the assignment), links and unsafe names are never extracted, and each notebook is read
with a size cap and checked to be a notebook. A second import of the same zip changes nothing; a
newer submission of a filed one (Canvas: a larger file id; Moodle: a later submission time) replaces
it, an older one is listed and kept, and a submission that did not come from this LMS's import is
never overwritten.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import logging
import os
import re
import stat
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from autograder.course import (SUBMITTED_DIR, TIMESTAMP_FILE, CourseError, known_assignments, unknown_assignment,
                               write_atomic)
from autograder.safe_io import MAX_NOTEBOOK_BYTES, BadJSON, UnsafeFile, loads_bounded, neutral, read_regular

LMS_NAMES = ("canvas", "moodle")
#: Beside each imported notebook: where it came from (LMS, user id, file id, time, the notebook's
#: digest), so that a later import can tell a newer submission from an older one.
PROVENANCE_FILE = "lms-import.json"
#: Largest grading worksheet read (Moodle's CSV: a few hundred bytes per student).
MAX_WORKSHEET_BYTES = 16 * 1024 * 1024
#: Largest provenance file read.
MAX_PROVENANCE_BYTES = 64 * 1024

#: Canvas: ``<name>[_LATE]_<user_id>_<file_id>_<original name>`` (``get_filename`` and
#: ``add_upload_submission`` of Canvas's ``ContentZipper``), flat.
CANVAS_REGEXP = r"^(?P<name>[^/]*?)(?P<late>_LATE)?_(?P<student_id>\d+)_(?P<lms_file_id>\d+)_(?P<file_id>[^/]+)$"
#: Canvas under anonymous grading: ``[LATE_]anon_<anonymous id>_...``, no user id.
CANVAS_ANONYMOUS = re.compile(r"^(?:LATE_)?anon_")
#: Moodle: ``<full name>_<participant>_assignsubmission_file`` then ``/``, ``_/`` or ``_`` and the file.
MOODLE_REGEXP = r"^(?P<name>[^/]*)_(?P<student_id>\d+)_assignsubmission_file(?:_?/|_)(?P<file_id>.+)$"
#: The form of a name each LMS writes, for the message of a name that does not match.
FORMAT_HINT = {"canvas": "<name>[_LATE]_<user id>_<file id>_<file name>",
               "moodle": "<full name>_<participant>_assignsubmission_file/<file name>"}
#: Canvas appends ``-1``, ``-2`` to a file name the student used before.
_CANVAS_COPY_SUFFIX = re.compile(r"-\d+$")
#: Moodle's worksheet columns (English): the participant, how to find the student, the time.
WS_IDENTIFIER, WS_ID_NUMBER, WS_EMAIL, WS_SUBMITTED = (
    "Identifier", "ID number", "Email address", "Last modified (submission)")


@dataclass(frozen=True)
class ZipLimits:
    """What an archive may hold before the import refuses it (whole) or a member of it (listed)."""

    #: Entries in the archive (its central directory is checked before it is parsed).
    max_members: int = 10_000
    #: One notebook, as the grader reads at most (``--max-notebook-mb`` of ``grade-all``).
    max_member_bytes: int = MAX_NOTEBOOK_BYTES
    #: All notebooks read from one archive together.
    max_total_bytes: int = 2 * 1024**3

    @property
    def max_directory_bytes(self) -> int:
        """The central directory's size at most: a few kB per entry (name, extra field, comment)."""
        return self.max_members * 4096


@dataclass
class _Candidate:
    """A notebook of the archive that maps to one student's submission of one assignment."""

    info: zipfile.ZipInfo
    student: str
    assignment: str
    provenance: dict
    submitted: datetime | None


@dataclass
class ImportReport:
    """What an import did: each list names ``student/assignment`` (and the archive's member)."""

    filed: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: ``(member, reason)`` of every file of the archive that was not placed.
    left: list[tuple[str, str]] = field(default_factory=list)
    #: Remarks that are not about one file (a worksheet time not understood, ...).
    notes: list[str] = field(default_factory=list)

    def leave(self, member: str, reason: str) -> None:
        self.left.append((member, reason))


def _timestamp_format() -> str:
    """nbgrader's own ``timestamp.txt`` format (``Exchange.timestamp_format``, what ``nbgrader submit`` writes)."""
    from nbgrader.exchange.abc.exchange import Exchange

    return Exchange.class_traits()["timestamp_format"].default_value


def _collector(lms: str):
    """nbgrader's file-name collector set up with the LMS's name pattern, quiet (we list what it skips)."""
    from nbgrader.plugins.zipcollect import FileNameCollectorPlugin

    quiet = logging.getLogger("autograder.lms_import.collector")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    return FileNameCollectorPlugin(named_regexp=CANVAS_REGEXP if lms == "canvas" else MOODLE_REGEXP,
                                   valid_ext=[".ipynb"], log=quiet)


# ------------------------------------------------------------------------------------ the archive

def _open_archive(zip_path: Path, limits: ZipLimits) -> zipfile.ZipFile:
    """The archive, its entry count and central directory checked before :mod:`zipfile` parses them."""
    if not zip_path.is_file():
        raise CourseError(f"no archive at {zip_path} (the LMS's 'download all submissions' .zip)")
    try:
        with open(zip_path, "rb") as fp:
            end = zipfile._EndRecData(fp)  # the end record: entry count and directory size, read alone
    except OSError as err:
        raise CourseError(f"cannot read {zip_path}: {err.strerror or err}") from None
    if end is None:
        raise CourseError(f"{zip_path} is not a zip archive")
    entries, directory = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if entries > limits.max_members or directory > limits.max_directory_bytes:
        raise CourseError(f"{zip_path} has {entries:,} entries ({directory:,} bytes of directory); an import takes "
                          f"at most {limits.max_members:,}: split the download, or check where it came from")
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise CourseError(f"{zip_path} is not a readable zip archive ({err})") from None


def _unsafe_name(name: str) -> str | None:
    """Why a member's name is not a plain relative path, or ``None`` when it is."""
    if "\x00" in name or "\\" in name:
        return "its name holds a backslash or a NUL byte"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "its name is an absolute path"
    if any(part in ("..", ".") for part in name.split("/")):
        return "its name climbs out of the archive ('..')"
    return None


def _member_kind(info: zipfile.ZipInfo) -> str | None:
    """What a member is if not a regular file (a link, a device ...), from its Unix mode; ``None`` if regular."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind in (0, stat.S_IFREG):
        return None
    return {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a device",
            stat.S_IFBLK: "a device", stat.S_IFSOCK: "a socket"}.get(kind, "not a regular file")


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"


# ------------------------------------------------------------------------------------ people and times

def _by_lms_user_id(roster: dict) -> dict[str, str]:
    """LMS user id (nbgrader's ``lms_user_id``: Canvas's user id, Moodle's ID number) -> student id."""
    return {s.lms_user_id.strip(): s.id for s in roster.values() if s.lms_user_id.strip()}


def _parse_time(text: str, zone: str) -> datetime | None:
    """A time as the LMS shows it, in the zone ``zone``, as aware UTC; ``None`` for ``-`` or empty."""
    from zoneinfo import ZoneInfo

    from dateutil import parser

    text = text.strip()
    if not text or text == "-":
        return None
    when = parser.parse(text, dayfirst=True)
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(zone))
    return when.astimezone(timezone.utc)


def _moodle_participants(worksheet: Path, roster: dict, zone: str,
                         report: ImportReport) -> dict[str, tuple[str | None, str, datetime | None]]:
    """Participant number -> (student id or ``None``, why not, submission time) from Moodle's grading worksheet."""
    try:
        raw = read_regular(worksheet, MAX_WORKSHEET_BYTES)
    except UnsafeFile as err:
        raise CourseError(f"grading worksheet: {err}") from None
    try:
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as err:
        raise CourseError(f"{worksheet} is not Moodle's grading worksheet (a UTF-8 CSV): {err}") from None
    columns = set(rows[0]) if rows else set()
    if WS_IDENTIFIER not in columns or not ({WS_ID_NUMBER, WS_EMAIL} & columns):
        raise CourseError(f"{worksheet} is not Moodle's grading worksheet: it needs the columns {WS_IDENTIFIER!r} and "
                          f"{WS_ID_NUMBER!r} or {WS_EMAIL!r} (found: {', '.join(sorted(map(str, columns))) or 'none'})")
    by_lms_id = _by_lms_user_id(roster)
    by_email = {s.email.strip().lower(): s.id for s in roster.values() if s.email.strip()}
    people: dict[str, tuple[str | None, str, datetime | None]] = {}
    for row in rows:
        m = re.search(r"(\d+)\s*$", row.get(WS_IDENTIFIER) or "")
        if not m:
            continue
        number = m.group(1)
        id_number = (row.get(WS_ID_NUMBER) or "").strip()
        email = (row.get(WS_EMAIL) or "").strip().lower()
        student = by_lms_id.get(id_number) if id_number else None
        student = student or (by_email.get(email) if email else None)
        why = "" if student else (f"participant {number} (ID number {id_number or '-'}, e-mail {email or '-'}) "
                                  f"is not in the roster (nbgrader's student table: lms_user_id, email)")
        try:
            when = _parse_time(row.get(WS_SUBMITTED) or "", zone)
        except (ValueError, OverflowError):
            when = None
            shown = neutral(row.get(WS_SUBMITTED, ""), newlines=False)
            report.notes.append(f"worksheet: participant {number}'s {WS_SUBMITTED!r} {shown!r} is not a time; "
                                f"filed without one")
        people[number] = (student, why, when)
    return people


def _assignment_of(original: str, lms: str, known: list[str]) -> str | None:
    """The assignment a notebook's original file name names (Canvas's ``-1`` copies included)."""
    stem = PurePosixPath(original).stem
    if lms == "canvas":
        stem = _CANVAS_COPY_SUFFIX.sub("", stem)
    return stem if stem in known else None


# ------------------------------------------------------------------------------------ filing

def _plain_component(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\x00" not in name


def _link_on_the_way(course_dir: Path, student: str, assignment: str) -> str | None:
    """The first symbolic link (or non-folder) on ``submitted/<student>/<assignment>/``, if any."""
    path = course_dir
    for part in (SUBMITTED_DIR, student, assignment):
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(mode):
            return f"{path.relative_to(course_dir)} is a symbolic link"
        if not stat.S_ISDIR(mode):
            return f"{path.relative_to(course_dir)} is not a folder"
    for name in (f"{assignment}.ipynb", TIMESTAMP_FILE, PROVENANCE_FILE):
        target = path / name
        if target.is_symlink() or (target.exists() and not target.is_file()):
            return f"{target.relative_to(course_dir)} is not a regular file"
    return None


def _read_provenance(folder: Path) -> dict | None:
    try:
        data = loads_bounded(read_regular(folder / PROVENANCE_FILE, MAX_PROVENANCE_BYTES), MAX_PROVENANCE_BYTES)
    except (UnsafeFile, BadJSON):
        return None
    return data if isinstance(data, dict) else None


def _is_newer(new: dict, old: dict) -> bool | None:
    """Whether ``new`` is a later submission than ``old`` of the same LMS; ``None`` if it cannot be told."""
    if new.get("lms") == "canvas":
        try:
            return int(new["file_id"]) > int(old["file_id"])
        except (KeyError, TypeError, ValueError):
            return None
    if new.get("submitted_at") and old.get("submitted_at"):
        return new["submitted_at"] > old["submitted_at"]  # ISO 8601 UTC: text order is time order
    return None


def _same_submission(new: dict, old: dict) -> bool:
    """Whether the provenance names the same LMS submission: filing it again updates what the LMS says about
    it (Canvas's ``LATE`` mark after an extension, say) or repairs a half-done write."""
    if new.get("file_id") is None and new.get("submitted_at") is None:
        return False  # nothing identifies it: a Moodle submission without a time
    keys = ("lms", "user_id", "file_id", "submitted_at")
    return all(new.get(k) == old.get(k) for k in keys)


def _file(course_dir: Path, cand: _Candidate, text: str, report: ImportReport) -> None:
    """Write one notebook, its ``timestamp.txt`` and its provenance, unless the filed one is the same or newer."""
    where = f"{cand.student}/{cand.assignment}"
    member = neutral(cand.info.filename, newlines=False)
    if not _plain_component(cand.student):
        report.leave(member, f"the roster's student id {cand.student!r} is not a plain folder name")
        return
    problem = _link_on_the_way(course_dir, cand.student, cand.assignment)
    if problem:
        report.leave(member, f"not filed for {where}: {problem}; the import does not follow or replace it")
        return
    folder = course_dir / SUBMITTED_DIR / cand.student / cand.assignment
    notebook = folder / f"{cand.assignment}.ipynb"
    timestamp = cand.submitted.strftime(_timestamp_format()) if cand.submitted else None
    exists = notebook.exists() or any(folder.glob("*.ipynb")) if folder.is_dir() else False
    verb = "filed"
    if exists:
        old = _read_provenance(folder)
        if old is None or old.get("lms") != cand.provenance["lms"]:
            report.leave(member, f"{where} already holds a submission that this {cand.provenance['lms']} import did "
                                 f"not file; kept (move {SUBMITTED_DIR}/{where} away to import this one)")
            return
        if old == cand.provenance and notebook.is_file() and _current_text(notebook) == text:
            report.unchanged.append(f"{where} ({member})")
            return
        newer = _is_newer(cand.provenance, old)
        if not newer and not _same_submission(cand.provenance, old):
            how = "cannot tell which is newer" if newer is None else "it is not newer than the filed one"
            report.leave(member, f"{where}: {how} ({_describe(old)} filed, {_describe(cand.provenance)} here); kept")
            return
        verb = "updated"
    folder.mkdir(parents=True, exist_ok=True)
    for name in (f for f in os.listdir(folder) if f.endswith(".ipynb") and f != notebook.name):
        report.notes.append(f"{where}: {name} is also in the folder; grade-all grades {notebook.name}")
    if timestamp:
        write_atomic(folder / TIMESTAMP_FILE, timestamp)
    else:
        (folder / TIMESTAMP_FILE).unlink(missing_ok=True)  # a time from an earlier import is not this one's
    write_atomic(notebook, text, newline="")
    write_atomic(folder / PROVENANCE_FILE, json.dumps(cand.provenance, indent=1, sort_keys=True) + "\n")
    late = " (late)" if cand.provenance.get("late") else ""
    (report.filed if verb == "filed" else report.updated).append(f"{where}{late} ({member})")


def _current_text(path: Path) -> str | None:
    try:
        return read_regular(path, MAX_NOTEBOOK_BYTES * 2).decode("utf-8")
    except (UnsafeFile, UnicodeDecodeError):
        return None


def _describe(provenance: dict) -> str:
    if provenance.get("lms") == "canvas":
        return f"Canvas file {provenance.get('file_id')}"
    return f"submitted {provenance.get('submitted_at') or 'at an unknown time'}"


def _notebook_text(data: bytes, max_bytes: int) -> str:
    """The notebook's text, or :class:`BadJSON` saying why it is not a notebook."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJSON("not UTF-8 text") from None
    nb = loads_bounded(text, max_bytes)
    if not (isinstance(nb, dict) and isinstance(nb.get("cells"), list) and isinstance(nb.get("nbformat"), int)):
        raise BadJSON("JSON without a notebook's 'cells' and 'nbformat'")
    return text


# ------------------------------------------------------------------------------------ the import

def import_submissions(lms: str, zip_path: Path, course_dir: Path, assignment: str | None = None,
                       worksheet: Path | None = None, zone: str = "UTC",
                       limits: ZipLimits = ZipLimits()) -> ImportReport:
    """File an LMS's bulk download into ``course_dir``'s ``submitted/``; what was done, and what was not."""
    from autograder.term.classdata import check_course_dir, read_roster

    if lms not in LMS_NAMES:
        raise CourseError(f"unknown LMS {lms!r}; known: {', '.join(LMS_NAMES)}")
    course_dir = check_course_dir(course_dir)
    problems: list[str] = []
    roster = read_roster(course_dir, problems)
    if problems:
        raise CourseError("; ".join(problems))
    if not roster:
        raise CourseError(f"no roster in {course_dir}: fill nbgrader's student table first (in the course folder: "
                          f"nbgrader db student import students.csv, with columns id,first_name,last_name,email,"
                          f"lms_user_id)")
    known = known_assignments(course_dir)
    if assignment is not None and assignment not in known:
        raise unknown_assignment(assignment, known)
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(zone)
    except (ValueError, KeyError, OSError):
        raise CourseError(f"unknown time zone {zone!r} (an IANA name such as Europe/Berlin)") from None
    report = ImportReport()
    if lms == "canvas":
        if worksheet is not None:
            raise CourseError("--worksheet is Moodle's grading worksheet; Canvas's file names carry the user ids")
        canvas_ids = _by_lms_user_id(roster)
        if not canvas_ids:
            raise CourseError("no student of the roster has an lms_user_id (Canvas's user id); add them with "
                              "nbgrader db student import")
        participants = {}
    else:
        if worksheet is None:
            raise CourseError("Moodle names submissions by the assignment's participant number, not the user: pass "
                              "the assignment's grading worksheet with --worksheet FILE.csv (Moodle: View all "
                              "submissions > Download grading worksheet)")
        participants = _moodle_participants(worksheet, roster, zone, report)
        canvas_ids = {}

    collector = _collector(lms)
    with _open_archive(zip_path, limits) as archive:
        candidates: dict[tuple[str, str], list[_Candidate]] = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            member = neutral(info.filename, newlines=False)
            why = _unsafe_name(info.filename)
            kind = _member_kind(info)
            if why:
                report.leave(member, f"unsafe path: {why}; not extracted")
                continue
            if kind:
                report.leave(member, f"{kind}; only regular files are imported")
                continue
            if info.flag_bits & 0x1:
                report.leave(member, "encrypted; not read")
                continue
            if not info.filename.lower().endswith(".ipynb"):
                report.leave(member, "not a notebook (.ipynb); not imported")
                continue
            if info.file_size > limits.max_member_bytes:
                report.leave(member, f"{_mb(info.file_size)}; a notebook may be at most {_mb(limits.max_member_bytes)}")
                continue
            if lms == "canvas" and CANVAS_ANONYMOUS.match(PurePosixPath(info.filename).name):
                report.leave(member, "anonymous grading: Canvas names the file without a user id; "
                                     "download with anonymous grading off to import it")
                continue
            found = collector.collect(info.filename if lms == "moodle" else PurePosixPath(info.filename).name)
            if not found or not found.get("student_id") or not found.get("file_id"):
                report.leave(member, f"name not in {lms.capitalize()}'s format {FORMAT_HINT[lms]}")
                continue
            lms_id, original = found["student_id"], PurePosixPath(found["file_id"]).name
            submitted = None
            if lms == "canvas":
                student = canvas_ids.get(lms_id)
                if student is None:
                    report.leave(member, f"Canvas user {lms_id} is not in the roster (no student with that "
                                         f"lms_user_id in nbgrader's student table)")
                    continue
            else:
                entry = participants.get(lms_id)
                if entry is None:
                    report.leave(member, f"participant {lms_id} is not in the grading worksheet")
                    continue
                student, why_not, submitted = entry
                if student is None:
                    report.leave(member, why_not)
                    continue
            name = assignment or _assignment_of(original, lms, known)
            if name is None:
                report.leave(member, f"cannot tell the assignment from the file name {neutral(original)!r}; pass "
                                     f"--assignment NAME")
                continue
            provenance = {"lms": lms, "user_id": lms_id, "member": info.filename,
                          "file_id": found.get("lms_file_id"), "late": bool(found.get("late")),
                          "submitted_at": submitted.isoformat() if submitted else None}
            candidates.setdefault((student, name), []).append(_Candidate(info, student, name, provenance, submitted))

        total = 0
        for (student, name), group in sorted(candidates.items()):
            if len(group) > 1:
                names = ", ".join(neutral(c.info.filename, newlines=False) for c in group)
                for c in group:
                    report.leave(neutral(c.info.filename, newlines=False),
                                 f"several notebooks for {student}/{name} in this archive ({names}); none filed: "
                                 f"keep one, or pass --assignment for each download")
                continue
            cand = group[0]
            member = neutral(cand.info.filename, newlines=False)
            try:
                with archive.open(cand.info) as stream:
                    data = stream.read(limits.max_member_bytes + 1)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as err:
                report.leave(member, f"cannot be read from the archive ({type(err).__name__}: {err})")
                continue
            except Exception as err:  # zlib, bz2, lzma errors of a damaged member: one file, not the import
                report.leave(member, f"cannot be read from the archive ({type(err).__name__})")
                continue
            if len(data) > limits.max_member_bytes:
                report.leave(member, f"more than {_mb(limits.max_member_bytes)} once unpacked (its header said "
                                     f"{_mb(cand.info.file_size)}); not imported")
                continue
            total += len(data)
            if total > limits.max_total_bytes:
                report.leave(member, f"the archive's notebooks exceed {_mb(limits.max_total_bytes)} together; "
                                     f"not imported")
                continue
            try:
                text = _notebook_text(data, limits.max_member_bytes)
            except BadJSON as err:
                report.leave(member, f"not a notebook ({err}); not imported")
                continue
            cand.provenance["notebook_sha256"] = hashlib.sha256(data).hexdigest()
            _file(course_dir, cand, text, report)
    return report


def import_main(args: argparse.Namespace) -> int:
    """``autograder import-submissions``: 0 if every file was placed (or already was), 1 if some are listed."""
    report = import_submissions(args.lms, args.zip, args.course_dir, args.assignment, args.worksheet,
                                args.timezone)
    out = sys.stdout
    for title, items in (("filed", report.filed), ("updated", report.updated),
                         ("unchanged", report.unchanged)):
        print(f"{title}: {len(items)}", file=out)
        for item in items:
            print(f"  {item}", file=out)
    for note in report.notes:
        print(f"note: {neutral(note)}", file=out)
    if report.left:
        print(f"not placed: {len(report.left)} (nothing else was left out)", file=out)
        for member, reason in report.left:
            print(f"  {member}: {neutral(reason)}", file=out)
    if args.lms == "canvas" and (report.filed or report.updated):
        print("note: Canvas's download carries no submission times; LATE marks are kept in "
              f"{PROVENANCE_FILE}, and no timestamp.txt is written", file=out)
    return 1 if report.left else 0
