"""nbgrader's own round trip on what ``assign`` makes, for one student, in a temporary exchange.

The first test runs the README's exchange commands exactly as written (instructor: assign with the
exchange root, release; student: fetch, submit; instructor: collect), with only the README's
example exchange folder replaced by a temporary one, in a stand-in for the project folder.

Instructor: ``assign`` (source -> release, gradebook) then nbgrader's release_assignment, collect,
autograde, generate_feedback and release_feedback. Student: fetch_assignment, submit and
fetch_feedback. The untouched release must score zero and a submission holding the source's
solutions full marks: nbgrader's own autograde works on the generated notebooks as they are
(hidden checks restored from the gradebook). Uses the small fixture chapter to stay fast; the
student is the machine's user (nbgrader's exchange takes the name from the OS).

The last test is the loop with our grader in nbgrader's place: release, fetch, submit, collect,
``grade-all`` (with a late policy and a due date already past), then nbgrader's ``release_feedback``
for the whole class and the student's ``fetch_feedback``, with no ``generate_feedback``: the student
finds our feedback page, late penalty included. Its failures name files of the sandbox and of the
Python installation, and a second submission, put in ``submitted/`` by hand, has neither
``timestamp.txt`` nor ``submission_secret.txt``; no path of the grading machine may appear in any
feedback page or result.
"""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
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
PROJECT_ROOT = Path(__file__).resolve().parent.parent
README = PROJECT_ROOT / "README.md"
#: The example exchange folder the README's commands use; the test replaces it by a temporary one.
README_EXCHANGE = "/srv/nbgrader/exchange"
#: A shell block of the README that this file runs: the comment line right before its fence marks it.
_README_BLOCK = re.compile(r"<!-- tests/test_exchange\.py runs this block as written[^>]*-->\n( *)```bash\n(.*?)\n\1```",
                           re.S)


def readme_blocks() -> list[str]:
    """The README's shell blocks marked as run by this test, in order, dedented."""
    return [textwrap.dedent(m.group(2)) for m in _README_BLOCK.finditer(README.read_text(encoding="utf-8"))]


def run_block(block: str, cwd: Path, env: dict[str, str]) -> str:
    """Run one README block in bash, stopping at the first failing command; its output."""
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"README block failed ({done.returncode}):\n{block}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_readme_exchange_commands_work_as_written(tmp_path: Path) -> None:
    from nbgrader.utils import get_username

    blocks = readme_blocks()
    roles = {"release": "release_assignment", "student": "fetch_assignment", "collect": "nbgrader collect"}
    found = {role: [b for b in blocks if word in b] for role, word in roles.items()}
    assert all(len(b) == 1 for b in found.values()), f"expected one README block per step: {found}"
    assert all(README_EXCHANGE in found[r][0] for r in ("release", "student")), "the exchange folder is not given"
    exchange = tmp_path / "srv" / "exchange"
    release, student, collect = (found[r][0].replace(README_EXCHANGE, str(exchange)) for r in roles)
    project = tmp_path / "project"  # a stand-in for the project folder: the same environment, an empty course
    project.mkdir()
    (project / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("JUPYTER", "VIRTUAL_ENV", "NBGRADER")) and k != "PYTHONPATH"}
    base["PATH"] = os.pathsep.join(p for p in base.get("PATH", "").split(os.pathsep)
                                   if Path(p).resolve() != (PROJECT_ROOT / ".venv" / "bin").resolve())
    instructor_env = {**base, "HOME": str(tmp_path / "instructor")}
    (tmp_path / "instructor").mkdir()
    # a student has nbgrader on PATH (a JupyterHub's environment), their own home and folder
    student_home = tmp_path / "student"
    student_home.mkdir()
    student_env = {**base, "HOME": str(student_home),
                   "PATH": f"{PROJECT_ROOT / '.venv' / 'bin'}{os.pathsep}{base['PATH']}"}

    run_block(release, project, instructor_env)
    assignment = re.search(r"release_assignment (\S+)", release).group(1)
    released = project / "course" / "release" / assignment / f"{assignment}.ipynb"
    assert released.is_file()
    assert (exchange / "linear-to-deep" / "outbound" / assignment / f"{assignment}.ipynb").is_file()
    out = run_block(student, student_home, student_env)
    fetched = student_home / assignment / f"{assignment}.ipynb"
    assert fetched.read_bytes() == released.read_bytes(), f"the student did not fetch the release:\n{out}"
    run_block(collect, project, instructor_env)
    submitted = project / "course" / "submitted" / get_username() / assignment / f"{assignment}.ipynb"
    assert submitted.is_file(), f"collect put nothing in {submitted.parent}"
    assert nbformat.read(submitted, as_version=4).cells == nbformat.read(released, as_version=4).cells


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


def _released_course(tmp_path: Path, monkeypatch) -> tuple:
    """A student's home and the course with the fixture chapter assigned to an exchange in ``tmp_path``:
    (home, course folder, nbgrader config, nbgrader's API, the student's id)."""
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
    return home, course, config, api, student_id


def test_release_fetch_submit_collect_autograde_feedback(tmp_path: Path, monkeypatch) -> None:
    home, course, config, api, student_id = _released_course(tmp_path, monkeypatch)
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


#: The fetched notebook's answers: one fails on a missing file in its working folder (the sandbox's),
#: one on an exception from torch naming a file of the Python installation; the others are solved.
FAILING_ANSWERS = {
    "calc_preds": """
import os
def calc_preds(coeffs, indeps):
    with open(os.path.join(os.getcwd(), "missing.csv")) as f:
        return f.read()
""",
    "mae_loss": """
import os
import torch
def mae_loss(preds, targets):
    return torch.load(os.path.join(os.path.dirname(torch.__file__), "no_such_weights.pt"))
""",
}
#: An added cell whose error names the Python installation's folder (it becomes a note of the result).
NOISY_CELL = "import sys\nraise RuntimeError(f'installed in {sys.prefix}')"


def test_grade_all_feedback_goes_back_through_the_exchange(tmp_path: Path, monkeypatch) -> None:
    import json
    import math
    import shutil
    import sys
    from datetime import datetime, timedelta

    from autograder.late import POLICY_FILE
    from test_grade import run_cli, _env

    home, course, config, api, student_id = _released_course(tmp_path, monkeypatch)

    # the instructor states a due date (nbgrader's own command) 36 hours ago, and a late policy
    due = datetime.utcnow().replace(microsecond=0) - timedelta(hours=36)
    done = subprocess.run([sys.executable, "-m", "nbgrader", "db", "assignment", "add", NAME,
                           f"--duedate={due.isoformat()} UTC"], cwd=course, env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (course / POLICY_FILE).write_text('policy = "per_day"\npercent_per_day = 10\n')

    ok(api.release_assignment(NAME), "release_assignment")
    student = Student(config, home)
    student.run("FetchAssignment")
    solve(student.notebook)
    nb = nbformat.read(student.notebook, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in FAILING_ANSWERS:
            cell.source = FAILING_ANSWERS[gid].strip()
    nb.cells.append(nbformat.v4.new_code_cell(NOISY_CELL))
    nbformat.write(nb, student.notebook)
    student.run("Submit")
    ok(api.collect(NAME), "collect")
    submitted = course / "submitted" / student_id / NAME
    assert (submitted / "submission_secret.txt").is_file() and (submitted / "timestamp.txt").is_file()

    # a submission put in place by hand (no exchange): no timestamp.txt, no submission_secret.txt
    by_hand = course / "submitted" / "zz_by_hand" / NAME
    by_hand.mkdir(parents=True)
    shutil.copy(course / "release" / NAME / f"{NAME}.ipynb", by_hand)
    # and one that cannot be graded (its notebook is a symbolic link)
    linked = course / "submitted" / "zz_linked" / NAME
    linked.mkdir(parents=True)
    (linked / f"{NAME}.ipynb").symlink_to(course / "source" / NAME / f"{NAME}.ipynb")

    graded = run_cli("grade-all", "--course-dir", str(course), "--workers", "2")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert not (course / "autograded").exists()  # nbgrader's autograde and generate_feedback never ran
    if "could not be graded" in graded.stdout:  # grade-all's closing summary names who and why
        summary = graded.stdout[graded.stdout.index("could not be graded"):]
        assert "zz_linked" in summary and "symbolic link" in summary, graded.stdout

    # nbgrader's feedback layout, with what release_feedback reads beside each page
    for who in (student_id, "zz_by_hand", "zz_linked"):
        folder = course / "feedback" / who / NAME
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [f"{NAME}.html", "timestamp.txt", "submission_secret.txt"]), who
    mine = course / "feedback" / student_id / NAME
    assert (mine / "timestamp.txt").read_text() == (submitted / "timestamp.txt").read_text().strip()
    assert (mine / "submission_secret.txt").read_text() == (submitted / "submission_secret.txt").read_text()

    ok(api.release_feedback(NAME), "release_feedback")  # the whole class, nbgrader's own command
    student.run("FetchFeedback")
    fetched = list((student.dir / NAME / "feedback").rglob(f"{NAME}.html"))
    assert len(fetched) == 1, fetched
    html = fetched[0].read_text()
    assert html == (mine / f"{NAME}.html").read_text()

    # what the student reads: our page, the failures' reasons, the late penalty of grade-all's policy
    result = json.loads((course / "results" / student_id / NAME / "result.json").read_text())
    assert f"Feedback: {NAME}" in html and "BEGIN HIDDEN" not in html
    submitted_at = datetime.fromisoformat(result["late"]["submitted"].rstrip("Z"))
    days = math.ceil((submitted_at - due).total_seconds() / (24 * 3600))
    assert days == 2 and result["late_penalty"] == pytest.approx(result["score"] * days * 10 / 100)
    assert result["late_penalty"] > 0 and "Final score, after the late penalty" in html
    messages = {e["id"]: e["message"] for e in result["exercises"]}
    assert "missing.csv" in messages["calc_preds"] and "no_such_weights.pt" in messages["mae_loss"], messages
    assert any("installed in" in n for n in result["notes"]), result["notes"]

    # no path of the grading machine in any page or result
    machine = {str(course), str(course.resolve()), str(tmp_path), str(PROJECT_ROOT), sys.prefix,
               sys.base_prefix, "/tmp/work", "/grader/"}
    for who in (student_id, "zz_by_hand", "zz_linked"):
        texts = [(course / "feedback" / who / NAME / f"{NAME}.html").read_text(),
                 (course / "results" / who / NAME / "result.json").read_text()]
        for text in texts:
            assert not [p for p in machine if p in text], (who, [p for p in machine if p in text], text[:3000])
    assert "<sandbox>/missing.csv" in messages["calc_preds"] or "<tmp>/" in messages["calc_preds"]
    assert "<project>/" in messages["mae_loss"] or "<python>/" in messages["mae_loss"]
