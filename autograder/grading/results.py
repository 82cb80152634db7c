"""What grading produces: a verdict per exercise, the written questions left to the instructor, and
the messages a result may carry. Pure data: nothing here runs or reads anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autograder.course import CourseError

if TYPE_CHECKING:
    from autograder.grading.source import SourceAssignment

#: What a case says when the function still holds nbgrader's stub.
NOT_DONE = "not done yet (it still raises NotImplementedError)"
#: The sandbox's error for a case that never ran because the run ended early.
NOT_RUN = "not run"
#: How the sandbox's ``fatal`` starts when its process failed before any student code ran
#: (``autograder.sandbox._startup_failure``): a problem of the grading machine, not of the notebook.
STARTUP_FAILURE = "the grading process failed to start"
#: Longest message shown for one exercise (cell errors and public differences can be long).
MAX_MESSAGE_CHARS = 400


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters (ending in "...") if longer."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: How a submission that the grader could not read or run starts its message.
NOT_GRADED = "could not be graded"


@dataclass
class ExerciseResult:
    """The verdict on one exercise."""

    id: str
    title: str
    score: float
    max_score: float
    passed: bool
    message: str

    def as_json(self) -> dict[str, Any]:
        """The exercise in the ``--json`` schema."""
        return {"id": self.id, "score": self.score, "max_score": self.max_score,
                "passed": self.passed, "message": self.message}


@dataclass
class ByHandResult:
    """A written question: graded by the instructor, not here, so it has points but no score yet."""

    id: str
    title: str
    max_score: float
    #: Whether the answer cell differs from nbgrader's stub (nbgrader's "changed" solution cell).
    answered: bool

    def as_json(self) -> dict[str, Any]:
        """The question in the ``--json`` schema's optional ``by_hand`` list."""
        return {"id": self.id, "max_score": self.max_score, "answered": self.answered}


class GraderUnavailable(CourseError):
    """The grader itself could not run a notebook (no sandbox, or its process did not start).

    Nothing of the student's was judged, so this is never recorded as a score: ``grade`` exits with
    the message and ``grade-all`` leaves the submission to be graded on its next run.
    """


@dataclass
class GradeResult:
    """The verdict on one notebook: one result per exercise, plus notes about the whole run."""

    assignment: str
    exercises: list[ExerciseResult]
    #: Things worth telling the student that belong to no exercise (an added cell raised, a time limit).
    notes: list[str] = field(default_factory=list)
    #: False when the notebook could not be graded at all (unreadable, wrong assignment, grader crash).
    graded: bool = True
    #: True when the grader, not the notebook, failed: the result must not be recorded.
    retry: bool = False
    #: Set by ``grade-all``'s job: the digest of the notebook bytes graded, and nbgrader's timestamp.
    notebook_sha256: str | None = None
    timestamp: str | None = None
    #: The written questions, to be graded by hand: never part of ``score`` nor ``max_score``.
    by_hand: list[ByHandResult] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Points scored by the autograded exercises."""
        return sum(e.score for e in self.exercises)

    @property
    def max_score(self) -> float:
        """Points available in the autograded exercises."""
        return sum(e.max_score for e in self.exercises)

    @property
    def by_hand_points(self) -> float:
        """Points left to the instructor's grading (the written questions')."""
        return sum(q.max_score for q in self.by_hand)

    def as_json(self) -> dict[str, Any]:
        """Exactly the ``grade --json`` object: assignment, score, max_score and the exercises, plus
        ``by_hand`` (the written questions) when the assignment has any: an optional key, so readers
        of results made before it still work."""
        data = {"assignment": self.assignment, "score": self.score, "max_score": self.max_score,
                "exercises": [e.as_json() for e in self.exercises]}
        if self.by_hand:
            data["by_hand"] = [q.as_json() for q in self.by_hand]
        return data

    @classmethod
    def zero(cls, source: SourceAssignment | None, assignment: str, message: str) -> GradeResult:
        """A submission that could not be graded: every exercise scores 0 with ``message``, and no
        written answer was read (so none is marked as answered)."""
        exercises = [] if source is None else [
            ExerciseResult(ex.id, ex.title, 0, ex.points, False, message) for ex in source.exercises]
        by_hand = [] if source is None else [ByHandResult(q.id, q.title, q.points, False) for q in source.questions]
        return cls(assignment, exercises, [message], graded=False, by_hand=by_hand)
