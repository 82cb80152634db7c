"""nbgrader's own round trip on what ``assign`` makes, for one student, in a temporary exchange.

Instructor: ``assign`` (source -> release, gradebook) then nbgrader's release_assignment, collect,
autograde, generate_feedback and release_feedback. Student: fetch_assignment, submit and
fetch_feedback. The untouched release must score zero and a submission holding the source's
solutions full marks: nbgrader's own autograde works on the generated notebooks as they are
(hidden checks restored from the gradebook). Uses the small fixture chapter to stay fast; the
student is the machine's user (nbgrader's exchange takes the name from the OS).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from autograder.assign import assign
from autograder.chapters import load_exercises
from autograder.nbgrader_config import ensure_tools_on_path, load_config

pytestmark = [pytest.mark.grading,
              # nbgrader's own gradebook code, when a newer submission replaces an older one:
              pytest.mark.filterwarnings("ignore:Object of type .* not in session"),
              # nbgrader's API misspells "authenticator" when it makes the feedback exchange:
              pytest.mark.filterwarnings("ignore:Passing unrecognized arguments to super.ExchangeReleaseFeedback")]

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "assign"
NAME = "ch0_assign_fixture"


def ok(result: dict | None, what: str) -> None:
    """Fail with nbgrader's own log if one of its steps did not succeed."""
    assert result is not None and result["success"], f"{what} failed:\n{result and result.get('log')}\n" \
                                                     f"{result and result.get('error')}"


class Student:
    """A student's side of nbgrader's exchange: their own folder, nbgrader's student commands."""

    def __init__(self, config: Config, home: Path) -> None:
        from nbgrader.auth import Authenticator
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.exchange import ExchangeFactory

        self.dir = home / "work"
        self.dir.mkdir(parents=True)
        self.config = Config(config)
        self.config.Exchange.assignment_dir = str(self.dir)
        self.coursedir = CourseDirectory(config=self.config)
        self.coursedir.assignment_id = NAME
        self.auth = Authenticator(config=self.config)
        self.factory = ExchangeFactory(config=self.config)

    def run(self, step: str) -> None:
        """Run one exchange step (``FetchAssignment``, ``Submit``, ``FetchFeedback``)."""
        from nbgrader.utils import capture_log
        app = getattr(self.factory, step)(coursedir=self.coursedir, authenticator=self.auth, config=self.config)
        ok(capture_log(app), f"student {step}")

    @property
    def notebook(self) -> Path:
        return self.dir / NAME / f"{NAME}.ipynb"


def solve(path: Path) -> None:
    """Fill every solution cell of a fetched release with the reference's source (the source's solution)."""
    nb = nbformat.read(path, as_version=4)
    references = {e.id: e.reference_source() for e in load_exercises(FIXTURE_DIR / f"{NAME}.md")}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in references:
            cell.source = references[grade_id]
    nbformat.write(nb, path)


def test_release_fetch_submit_collect_autograde_feedback(tmp_path: Path, monkeypatch) -> None:
    from nbgrader.apps import NbGraderAPI
    from nbgrader.utils import get_username

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USER", get_username())
    monkeypatch.delenv("JUPYTER_DATA_DIR", raising=False)
    course, exchange = tmp_path / "course", tmp_path / "exchange"
    assign([NAME], course, FIXTURE_DIR, exchange_root=exchange)
    ensure_tools_on_path()
    config = load_config(course)
    config.Exchange.cache = str(tmp_path / "cache")
    api = NbGraderAPI(config=config)
    student_id = get_username()
    full = sum(e.points for e in load_exercises(FIXTURE_DIR / f"{NAME}.md"))

    ok(api.release_assignment(NAME), "release_assignment")
    student = Student(config, home)
    student.run("FetchAssignment")
    assert student.notebook.is_file()

    def grade() -> tuple[float, float]:
        ok(api.collect(NAME), "collect")
        ok(api.autograde(NAME, student_id), "autograde")
        with api.gradebook as gb:
            submission = gb.find_submission(NAME, student_id)
            return submission.score, submission.max_score

    student.run("Submit")  # the untouched release
    assert grade() == (0, full)

    solve(student.notebook)
    student.run("Submit")  # a newer submission with the solutions
    assert grade() == (full, full)

    ok(api.generate_feedback(NAME, student_id), "generate_feedback")
    ok(api.release_feedback(NAME, student_id), "release_feedback")
    student.run("FetchFeedback")
    feedback = list((student.dir / NAME / "feedback").rglob(f"{NAME}.html"))
    assert len(feedback) == 1
    html = feedback[0].read_text()
    assert f"(Score: {float(full)} / {float(full)})" in html
    assert "BEGIN HIDDEN TESTS" not in html and "hidden check&quot;" not in html and 'hidden check"' not in html
