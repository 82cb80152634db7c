"""The course's late policy: what a submission after its due date loses, stated once in a file.

The policy is stated in ``<course>/late_policy.toml`` (:data:`POLICY_FILE`), read whenever a grade is
recorded (:func:`autograder.grading.record.save`, the one place ``grade-all`` and the grading service
record through), so no command needs an option for it. Without the file nothing is taken off.

.. code-block:: toml

    policy = "per_day"       # "none", "zero" (score 0 after the due date) or "per_day"
    percent_per_day = 10     # per_day: percent of the score lost per day late, a started day counts
    max_percent = 50         # per_day: at most this percent in all (default 100)

    [extensions]             # days added to a student's due date; "*" is every assignment
    alice = { ch2_gradient_descent = 2 }
    bob = { "*" = 0.5 }

Where the facts come from, as nbgrader keeps them: the due date is the assignment's ``duedate`` in
nbgrader's gradebook (``nbgrader db assignment add NAME --duedate=...``), the submission time is
nbgrader's ``timestamp.txt``, both read as naive UTC (:func:`nbgrader.utils.parse_utc`). A submission
is late when its time is after the due date plus the student's extension, as nbgrader's
``SubmittedAssignment.total_seconds_late`` says; at the due date exactly it is on time. The penalty is
in points, at most the score, and is recorded where nbgrader's ``LateSubmissionPlugin`` records one
(the submitted notebook's ``late_submission_penalty``); the extension goes into the submission's
``extension``, so nbgrader, formgrader and the term's report see the same due date.

Nothing here imports torch or the grader: the term's commands may import it.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from autograder.course import CourseError

#: The policy file in the course folder.
POLICY_FILE = "late_policy.toml"
NONE, ZERO, PER_DAY = "none", "zero", "per_day"
METHODS = (NONE, ZERO, PER_DAY)
#: The extension key that applies to every assignment of a student.
EVERY_ASSIGNMENT = "*"
DAY_SECONDS = 24 * 60 * 60
#: Largest policy file read (a class's extensions fit in a few kB).
MAX_POLICY_BYTES = 1024 * 1024
_KEYS = {NONE: set(), ZERO: set(), PER_DAY: {"percent_per_day", "max_percent"}}


@dataclass(frozen=True)
class Policy:
    """A stated late policy and the students' extensions."""

    method: str = NONE
    percent_per_day: float = 0.0
    max_percent: float = 100.0
    #: ``(student, assignment or "*") -> extension``.
    extensions: Mapping[tuple[str, str], timedelta] = field(default_factory=dict)
    #: False when no policy file exists: nothing is stated, so nothing in the gradebook is changed.
    stated: bool = True

    def describe(self) -> str:
        """The policy in a sentence, as the feedback shows it."""
        if self.method == ZERO:
            return "a late submission scores 0"
        if self.method == PER_DAY:
            cap = f", at most {_number(self.max_percent)}%" if self.max_percent < 100 else ""
            return f"{_number(self.percent_per_day)}% of the score off per day late (a started day counts){cap}"
        return "no penalty for lateness"

    def extension(self, student: str, assignment: str) -> timedelta | None:
        """The student's extension of this assignment's due date (one given for it, else for every one)."""
        return self.extensions.get((student, assignment), self.extensions.get((student, EVERY_ASSIGNMENT)))

    def penalty(self, score: float, seconds_late: float) -> float:
        """Points taken off a score for a submission ``seconds_late`` after its (extended) due date."""
        if seconds_late <= 0 or score <= 0:
            return 0.0
        if self.method == ZERO:
            return float(score)
        if self.method == PER_DAY:
            percent = min(self.max_percent, math.ceil(seconds_late / DAY_SECONDS) * self.percent_per_day)
            return round(score * percent / 100, 6)
        return 0.0


@dataclass(frozen=True)
class Lateness:
    """How late one submission was and what it lost."""

    policy: Policy
    submitted: datetime | None
    #: The assignment's due date, without the extension (naive UTC).
    due: datetime | None
    extension: timedelta | None
    penalty: float

    @property
    def due_with_extension(self) -> datetime | None:
        """The student's own due date."""
        return None if self.due is None else self.due + (self.extension or timedelta(0))

    @property
    def seconds_late(self) -> float:
        """Seconds after the student's own due date, 0 if on time or unknown (nbgrader's ``total_seconds_late``)."""
        due = self.due_with_extension
        if due is None or self.submitted is None:
            return 0.0
        return max(0.0, (self.submitted - due).total_seconds())

    def as_json(self) -> dict[str, Any]:
        """``result.json``'s ``late`` object (times in ISO 8601, UTC)."""
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat() + "Z"
        return {"policy": self.policy.method, "submitted": iso(self.submitted), "due": iso(self.due),
                "extension_days": None if self.extension is None else self.extension.total_seconds() / DAY_SECONDS,
                "seconds_late": self.seconds_late, "penalty": self.penalty}

    def sentences(self) -> list[str]:
        """What the feedback says about the submission's time; empty when there is no due date."""
        due = self.due_with_extension
        if due is None:
            return []
        extended = f" (with your extension of {_duration(self.extension.total_seconds())})" if self.extension else ""
        out = [f"Due: {_when(due)}{extended}."]
        if self.submitted is None:
            out.append("The submission's time is not known, so it is taken as on time.")
        elif self.seconds_late > 0:
            out.append(f"Submitted: {_when(self.submitted)}, {_duration(self.seconds_late)} late.")
            out.append(f"Late policy: {self.policy.describe()}; points taken off: {_number(self.penalty)}.")
        else:
            out.append(f"Submitted: {_when(self.submitted)}, on time.")
        return out


def final_score(score: float, penalty: float) -> float:
    """A score less its late penalty, never below 0 (what the CSV, the exports and the report show)."""
    return max(0.0, float(score) - float(penalty))


def policy_path(course_dir: Path) -> Path:
    """Where a course states its late policy."""
    return Path(course_dir) / POLICY_FILE


def load_policy(course_dir: Path) -> Policy:
    """The course's policy; :class:`Policy` ``()`` unstated if there is no file; a :class:`CourseError`
    naming the file and what is wrong with it otherwise."""
    from autograder.safe_io import UnsafeFile, read_regular

    path = policy_path(course_dir)
    if not path.exists() and not path.is_symlink():
        return Policy(stated=False)

    def bad(why: str) -> CourseError:
        return CourseError(f"{path}: {why}. See the late policy in README.md (Instructors); for example:\n"
                           f'policy = "per_day"\npercent_per_day = 10\nmax_percent = 50')

    try:
        data = tomllib.loads(read_regular(path, MAX_POLICY_BYTES).decode("utf-8"))
    except UnsafeFile as err:
        raise bad(f"cannot be read ({err})") from None
    except UnicodeDecodeError:
        raise bad("is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        raise bad(f"is not valid TOML ({err})") from None
    method = data.get("policy")
    if method not in METHODS:
        raise bad(f"'policy' must be one of {', '.join(repr(m) for m in METHODS)}, got {method!r}")
    unknown = set(data) - {"policy", "extensions"} - _KEYS[method]
    if unknown:
        raise bad(f"unknown setting(s) for policy {method!r}: {', '.join(sorted(unknown))}")
    kwargs: dict[str, float] = {}
    if method == PER_DAY:
        if "percent_per_day" not in data:
            raise bad("policy 'per_day' needs 'percent_per_day' (percent of the score lost per day late)")
        kwargs["percent_per_day"] = _percent(data["percent_per_day"], "percent_per_day", bad)
        kwargs["max_percent"] = _percent(data.get("max_percent", 100), "max_percent", bad)
    extensions = _extensions(data.get("extensions", {}), bad)
    return Policy(method, extensions=extensions, **kwargs)


def _percent(value: Any, key: str, bad) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise bad(f"'{key}' must be a number from 0 to 100, got {value!r}")
    return float(value)


def _extensions(table: Any, bad) -> dict[tuple[str, str], timedelta]:
    if not isinstance(table, dict):
        raise bad("'extensions' must be a table: student = { assignment = days, ... }")
    out = {}
    for student, per_assignment in table.items():
        if not isinstance(per_assignment, dict):
            raise bad(f"extensions of {student!r} must be a table of assignment = days, "
                      f"e.g. {student} = {{ ch2_gradient_descent = 2 }}, got {per_assignment!r}")
        for assignment, days in per_assignment.items():
            if isinstance(days, bool) or not isinstance(days, (int, float)) or not 0 <= days <= 3650 \
                    or not math.isfinite(days):
                raise bad(f"the extension of {student!r} for {assignment!r} must be a number of days "
                          f"(0 or more), got {days!r}")
            out[(student, assignment)] = timedelta(days=days)
    return out


def assess(policy: Policy, score: float, submitted: str | datetime | None, due: datetime | None,
           extension: timedelta | None) -> Lateness:
    """A submission's lateness under ``policy``; ``submitted`` as nbgrader's ``timestamp.txt`` holds it
    (a time that cannot be read counts as unknown, hence on time)."""
    when = parse_time(submitted)
    due = parse_time(due)
    on_time = Lateness(policy, when, due, extension, 0.0)
    return Lateness(policy, when, due, extension, policy.penalty(score, on_time.seconds_late))


def parse_time(value: str | datetime | None) -> datetime | None:
    """A time as naive UTC, as nbgrader stores them; ``None`` for none or an unreadable one."""
    from nbgrader.utils import parse_utc

    if value is None:
        return None
    try:
        return parse_utc(value)
    except Exception:  # dateutil raises several types for text it cannot read
        return None


def _number(value: float) -> str:
    return f"{round(float(value), 4):g}"


def _when(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float) -> str:
    """``2 days 3 hours``, ``5 minutes``, ``less than a minute``."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
             if n]
    return " ".join(parts) or "less than a minute"
