"""A generated, graded class for the term's commands (report, export): results written directly.

``grade-all`` takes a second or two per notebook on a 2-core machine, so the class of 32 students over
three chapters is written as ``grade-all`` leaves it, without grading: one ``result.json`` per
submission in the grader's schema, nbgrader's ``timestamp.txt``, and nbgrader's gradebook (roster with
names, e-mails and LMS ids; assignments with due dates; submissions with their times), through
nbgrader's own :class:`~nbgrader.api.Gradebook`. The failure messages are made with the grader's own
wording (its constants, and :func:`autograder.runtime.compare`'s differences reduced by
:func:`autograder.grading.verdict.difference_kind`), so a report that reads them is tested on real text.

:class:`ClassSpec` is the ground truth the tests compute their expectations from: who passed which
exercise, with which kind of failure, when they submitted, who is missing.
"""

from __future__ import annotations

import json
import random
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import torch

from autograder.chapters import CHAPTERS_DIR, load_exercises

#: The three chapters of the class, and their due dates (naive UTC, as nbgrader stores them).
CHAPTERS = ("ch2_gradient_descent", "ch3_sigmoid", "ch6_deep")
DUE = {"ch2_gradient_descent": datetime(2026, 10, 2, 23, 59), "ch3_sigmoid": datetime(2026, 10, 16, 23, 59),
       "ch6_deep": datetime(2026, 11, 6, 23, 59)}
N_STUDENTS = 32
SEED = 20261203
#: Students with names a spreadsheet would take as formulas, or with CSV's special characters.
TRICKY_NAMES = {"s03": ("=HYPERLINK(\"http://x\")", "@Smith"), "s04": ("Zoë", "O'Brien, \"Jr\""),
                "s05": ("+1", "-Dash"), "s06": ("<script>alert(1)</script>", "<b>Tag</b>")}
#: A student who submitted but is not in nbgrader's student table.
UNLISTED = "zz_unlisted"
#: A student in the roster who never submitted anything.
ABSENT = "s32"
#: Submissions that carry a late penalty (points) in their result ...
PENALTIES = {("s07", "ch3_sigmoid"): 1.0}
#: ... or only in nbgrader's gradebook, as nbgrader records one (on the submitted notebook).
GRADEBOOK_PENALTIES = {("s08", "ch6_deep"): 0.5}
#: Extensions of the due date granted in nbgrader's gradebook: the submission is after the due date
#: but within its extension, so it is not late.
EXTENSIONS = {("s10", "ch2_gradient_descent"): timedelta(days=2)}


def _failure_messages() -> dict[str, str]:
    """One message per kind of failure, in the grader's wording."""
    from autograder.grading.results import NOT_DONE
    from autograder.grading.scan import SOLUTIONS_MESSAGE
    from autograder.grading.verdict import difference_kind
    from autograder.runtime import compare

    shape = compare(torch.zeros(3), torch.zeros(4))
    values = compare(torch.zeros(3), torch.ones(3))
    dtype = compare(torch.zeros(3), torch.zeros(3, dtype=torch.int64))
    return {
        "not done": NOT_DONE,
        "shape": f"hidden check 2 of 5: {difference_kind(shape)} (3 of 5 checks failed)",
        "values": f"public check 1 of 2: {values}",
        "dtype": f"hidden check 1 of 3: {difference_kind(dtype)}",
        "raised": "public check 1 of 2: raised ZeroDivisionError: division by zero (2 of 2 checks failed)",
        "reference": SOLUTIONS_MESSAGE,
    }


#: Kind of failure -> the check that message names first (None: no check named).
FIRST_CHECK = {"not done": None, "shape": "hidden check 2", "values": "public check 1", "dtype": "hidden check 1",
               "raised": "public check 1", "reference": None}


@dataclass
class ClassSpec:
    """The generated class's ground truth."""

    course_dir: Path
    students: dict[str, dict[str, str]]
    points: dict[str, dict[str, int]]
    #: (student, chapter) -> {exercise: None if passed else the kind of failure}
    outcomes: dict[tuple[str, str], dict[str, str | None]] = field(default_factory=dict)
    times: dict[tuple[str, str], datetime] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)

    def score(self, student: str, chapter: str) -> float | None:
        """Points after the late penalty; None when the student did not submit."""
        outcome = self.outcomes.get((student, chapter))
        if outcome is None:
            return None
        raw = sum(self.points[chapter][e] for e, kind in outcome.items() if kind is None)
        return max(0.0, raw - self.penalty(student, chapter))

    def is_late(self, student: str, chapter: str) -> bool:
        """After the due date and any extension."""
        when = self.times.get((student, chapter))
        return when is not None and when > DUE[chapter] + EXTENSIONS.get((student, chapter), timedelta(0))

    def penalty(self, student: str, chapter: str) -> float:
        """Points taken off for lateness."""
        return PENALTIES.get((student, chapter), 0.0) + GRADEBOOK_PENALTIES.get((student, chapter), 0.0)

    def max_score(self, chapter: str) -> int:
        return sum(self.points[chapter].values())


def make_class(course_dir: Path) -> ClassSpec:
    """Write the class into ``course_dir`` (which must not exist) and return its ground truth."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    from autograder.gradebook import course_id, db_url
    from autograder.nbgrader_config import ensure_tools_on_path

    rng = random.Random(SEED)
    points = {c: {e.id: e.points for e in load_exercises(CHAPTERS_DIR / f"{c}.md")} for c in CHAPTERS}
    students = {}
    for i in range(1, N_STUDENTS + 1):
        sid = f"s{i:02d}"
        first, last = TRICKY_NAMES.get(sid, (f"First{i}", f"Last{i}"))
        students[sid] = {"first_name": first, "last_name": last, "email": f"{sid}@uni.example",
                         "lms_user_id": str(1000 + i)}
    spec = ClassSpec(course_dir, students, points, messages=_failure_messages())
    kinds = list(spec.messages)
    # ability per student: some strong, some weak, so that the report has low scorers to list
    ability = {sid: rng.random() for sid in [*students, UNLISTED]}
    for sid in [*students, UNLISTED]:
        for chapter in CHAPTERS:
            if sid == ABSENT or (sid != UNLISTED and rng.random() < 0.08):
                continue  # a missing submission
            outcome = {}
            for ex in points[chapter]:
                passed = rng.random() < 0.25 + 0.7 * ability[sid]
                outcome[ex] = None if passed else kinds[rng.randrange(len(kinds))]
            spec.outcomes[(sid, chapter)] = outcome
            late = rng.random() < 0.1
            offset = timedelta(hours=rng.randrange(1, 72)) if late else -timedelta(hours=rng.randrange(1, 240))
            spec.times[(sid, chapter)] = DUE[chapter] + offset
    spec.outcomes[("s07", "ch3_sigmoid")] = {e: None for e in points["ch3_sigmoid"]}  # penalised, full marks
    spec.times[("s07", "ch3_sigmoid")] = DUE["ch3_sigmoid"] + timedelta(hours=30)
    for (sid, chapter), extension in EXTENSIONS.items():
        spec.outcomes.setdefault((sid, chapter), {e: None for e in points[chapter]})
        spec.times[(sid, chapter)] = DUE[chapter] + extension / 2
    spec.outcomes[("s08", "ch6_deep")] = {e: None for e in points["ch6_deep"]}  # penalised in the gradebook
    spec.times[("s08", "ch6_deep")] = DUE["ch6_deep"] + timedelta(hours=5)

    course_dir.mkdir(parents=True)
    for (sid, chapter), outcome in spec.outcomes.items():
        exercises = [{"id": e, "score": points[chapter][e] if kind is None else 0, "max_score": points[chapter][e],
                      "passed": kind is None,
                      "message": "all 6 checks passed (2 public, 4 hidden)" if kind is None else spec.messages[kind]}
                     for e, kind in outcome.items()]
        result = {"assignment": chapter, "score": sum(e["score"] for e in exercises),
                  "max_score": spec.max_score(chapter), "exercises": exercises, "student": sid, "notes": [],
                  "notebook_sha256": "0" * 64, "source_sha256": "1" * 64}
        if (sid, chapter) in PENALTIES:
            result["late_penalty"] = PENALTIES[(sid, chapter)]
        folder = course_dir / "results" / sid / chapter
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(result, indent=1) + "\n")
        submitted = course_dir / "submitted" / sid / chapter
        submitted.mkdir(parents=True)
        (submitted / "timestamp.txt").write_text(spec.times[(sid, chapter)].strftime("%Y-%m-%d %H:%M:%S.%f UTC"))

    ensure_tools_on_path()
    with warnings.catch_warnings(), Gradebook(db_url(course_dir), course_id(course_dir)) as gb:
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush warnings
        for chapter in CHAPTERS:
            gb.update_or_create_assignment(chapter, duedate=DUE[chapter])
            gb.update_or_create_notebook(chapter, chapter)
        for sid, fields in students.items():
            gb.update_or_create_student(sid, **fields)
        for (sid, chapter) in spec.outcomes:
            if sid in students:
                gb.update_or_create_submission(chapter, sid, timestamp=spec.times[(sid, chapter)])
        for (sid, chapter), extension in EXTENSIONS.items():
            gb.grant_extension(chapter, sid, minutes=extension.total_seconds() / 60)
        for (sid, chapter), penalty in GRADEBOOK_PENALTIES.items():
            gb.find_submission_notebook(chapter, chapter, sid).late_submission_penalty = penalty
        gb.db.commit()
    return spec
