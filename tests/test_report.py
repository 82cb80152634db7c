"""``python -m autograder report``: the class report's numbers, its page, and the page in Chromium.

The generated class of ``class_fixture`` (32 students, three chapters, failures of every kind, late
and missing work) is reported; every number is checked against the generator's ground truth. The
failure kinds are read back from messages made by the grader's own functions. The ``browser`` test
opens the report in headless Chromium in the light and in the dark colour scheme: every plot loads
in the scheme's variant, nothing is requested from outside, and nothing is logged as an error.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from class_fixture import CHAPTERS, DUE, EXTENSIONS, FIRST_CHECK, PENALTIES, ClassSpec, make_class
from conftest import CHROMIUM_ARGS

from autograder.cli import main as cli_main
from autograder.term import failures, report
from autograder.term.classdata import load_class

pytestmark = pytest.mark.grading

#: The generator's kinds of failure -> the report's name for them.
KIND_NAMES = {"not done": failures.NOT_DONE, "shape": "wrong shape", "values": "wrong values",
              "dtype": "wrong dtype", "raised": "raised ZeroDivisionError", "reference": failures.REFERENCE_USED}


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> ClassSpec:
    return make_class(tmp_path_factory.mktemp("report") / "course")


@pytest.fixture(scope="module")
def page(klass: ClassSpec) -> Path:
    assert cli_main(["report", "--course-dir", str(klass.course_dir)]) == 0
    return klass.course_dir / "report" / "index.html"


def _judged(expected: list, observed: list, hidden: int) -> str:
    """The message the grader gives an exercise whose checks saw ``observed`` (a value or an error)."""
    from autograder.grading.source import ExerciseInfo
    from autograder.grading.verdict import judge_exercise
    from autograder.runtime import RETURN

    spec = SimpleNamespace(kind=RETURN, rtol=1e-4, atol=1e-5)
    cases = [((), e) for e in expected]
    from autograder.sandbox import CaseOutcome

    outcomes = [CaseOutcome(None, o) if isinstance(o, str) else CaseOutcome(o, None) for o in observed]
    result = judge_exercise(ExerciseInfo("f", 1, "Exercise"), spec, cases[:-hidden or None],
                            cases[len(cases) - hidden:] if hidden else [], outcomes, None, None)
    assert not result.passed
    return result.message


DIFFERENCES = [  # (expected, wrong observed, the kind the report names)
    (torch.zeros(3), torch.zeros(4), "wrong shape"),
    (torch.zeros(3), torch.zeros(3, dtype=torch.int64), "wrong dtype"),
    (torch.zeros(3), torch.ones(3), "wrong values"),
    (torch.zeros(3), [0.0, 0.0, 0.0], "wrong type"),
    (torch.zeros(3, requires_grad=True), torch.zeros(3), "wrong requires_grad"),
    ([1, 2], [1, 2, 3], "wrong length"),
    (pd.DataFrame({"a": [1]}), pd.DataFrame({"b": [1]}), "wrong columns"),
    (torch.zeros(2), "Traceback (most recent call last):\nZeroDivisionError: division by zero", "raised ZeroDivisionError"),
]


@pytest.mark.parametrize("hidden", [0, 2], ids=["public", "hidden"])
@pytest.mark.parametrize("expected,observed,kind", DIFFERENCES, ids=[d[2] for d in DIFFERENCES])
def test_grader_messages_are_classified_by_kind(expected, observed, kind: str, hidden: int) -> None:
    """Public checks give the full difference, hidden ones only its kind: both read back the same."""
    # two cases: the first passes, the second (public or hidden) fails
    message = _judged([expected, expected], [expected, observed], hidden=1 if hidden else 0)
    got = failures.classify(message)
    assert got.kind == kind, message
    assert got.check == ("hidden check 1" if hidden else "public check 2"), message


def test_other_grader_messages_are_classified() -> None:
    from autograder.grading.results import NOT_DONE
    from autograder.grading.scan import SOLUTIONS_MESSAGE

    assert failures.classify(NOT_DONE).kind == failures.NOT_DONE
    assert failures.classify(SOLUTIONS_MESSAGE).kind == failures.REFERENCE_USED
    assert failures.classify("the cell of calc_preds was deleted").kind == failures.DELETED
    assert failures.classify("your cell of calc_preds raised NameError: name 'x' is not defined").kind \
        == "cell raised NameError"
    many = _judged([torch.zeros(2)] * 3, [torch.zeros(3)] * 3, hidden=2)
    assert failures.classify(many).checks_failed == 3


def _failing(spec: ClassSpec) -> dict[tuple[str, str], Counter]:
    out: dict[tuple[str, str], Counter] = {}
    for (_sid, chapter), outcome in spec.outcomes.items():
        for ex, kind in outcome.items():
            out.setdefault((chapter, ex), Counter())
            if kind is not None:
                out[(chapter, ex)][KIND_NAMES[kind]] += 1
    return out


def test_exercise_failure_rates_and_kinds(klass: ClassSpec) -> None:
    stats = report.exercise_stats(load_class(klass.course_dir))
    expected = _failing(klass)
    assert {(s.assignment, s.exercise): s.kinds for s in stats} == expected
    for s in stats:
        assert s.submissions == sum(1 for (_st, c) in klass.outcomes if c == s.assignment)
    rates = [s.rate for s in stats]
    assert rates == sorted(rates, reverse=True) and rates[0] > rates[-1]


def test_check_failure_counts(klass: ClassSpec) -> None:
    stats = report.check_stats(load_class(klass.course_dir))
    expected: Counter = Counter()
    for (_sid, chapter), outcome in klass.outcomes.items():
        for ex, kind in outcome.items():
            if kind is not None and FIRST_CHECK[kind]:
                expected[(chapter, ex, FIRST_CHECK[kind])] += 1
    assert {(s.assignment, s.exercise, s.check): s.failed for s in stats} == dict(expected)


def test_late_submissions_against_the_due_date(klass: ClassSpec) -> None:
    times = {t.assignment: t for t in report.timings(load_class(klass.course_dir))}
    for chapter in CHAPTERS:
        late = sum(1 for (s, c) in klass.times if c == chapter and klass.is_late(s, c))
        assert times[chapter].late == late and late > 0
        extended = [s for (s, c) in EXTENSIONS if c == chapter]
        assert all(klass.times[(s, chapter)] > DUE[chapter] for s in extended)  # late but for the extension
        assert times[chapter].duedate == DUE[chapter]
        assert len(times[chapter].times) == sum(1 for (_s, c) in klass.outcomes if c == chapter)
    for chapter in CHAPTERS:
        assert times[chapter].penalised == sum(1 for s in klass.students if klass.penalty(s, chapter))


def test_students_with_missing_or_low_work(klass: ClassSpec) -> None:
    listed = report.follow_up(load_class(klass.course_dir), low_percent=50)
    expected = set()
    for sid in [*klass.students, *{s for s, _c in klass.outcomes}]:
        for chapter in CHAPTERS:
            score = klass.score(sid, chapter)
            if score is None or score / klass.max_score(chapter) < 0.5:
                expected.add(sid)
    assert set(listed) == expected
    assert 0 < len(expected) < len(klass.students)


def test_page_has_every_student_and_both_variants_of_every_plot(klass: ClassSpec, page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    rows = re.search(r"<table id='student-table'>.*?</table>", text, re.DOTALL).group(0)
    assert rows.count("<tr>") == 1 + len(klass.students) + 1  # header, the roster, the unlisted student
    for sid, fields in klass.students.items():
        assert f"<td>{sid}</td>" in rows
    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # names are escaped
    assert not re.search(r"(src|href|srcset)=['\"]?(https?:)?//", text), "the report must not fetch anything"
    pictures = re.findall(r"srcset='plots/([\w-]+)-dark\.png'", text)
    assert len(pictures) == 5
    for name in pictures:
        for theme in report.THEMES:
            assert (page.parent / "plots" / f"{name}-{theme}.png").read_bytes().startswith(b"\x89PNG")
        assert f"src='plots/{name}-light.png'" in text
    (sid, chapter), penalty = next(iter(PENALTIES.items()))
    assert f"late, −{penalty:g}" in rows


def test_every_plot_is_described_from_the_class_numbers(klass: ClassSpec, page: Path) -> None:
    """Each plot's text alternative says what it shows, in at least a few sentences, with the class's
    own numbers (checked against the generator's ground truth), never a file name."""
    from test_accessibility import MIN_FIGURE_WORDS, description_problems, images

    text = page.read_text(encoding="utf-8")
    assert description_problems(text, "report", numbers=set()) == []
    alts = {Path(src).name.removesuffix("-light.png"): alt for src, alt, _ in images(text)}
    assert set(alts) == {"scores", "exercises", "checks", "timeline", "students"}
    short = {name: alt for name, alt in alts.items() if len(alt.split()) < MIN_FIGURE_WORDS}
    assert not short, f"descriptions too short to say what the plot shows and what to notice: {short}"
    students = {*klass.students, *(s for s, _c in klass.outcomes)}
    for chapter in CHAPTERS:
        submitted = sum(1 for (_s, c) in klass.outcomes if c == chapter)
        late = sum(1 for (s, c) in klass.times if c == chapter and klass.is_late(s, c))
        assert f"{chapter}: {submitted} submissions" in alts["scores"]
        assert f"{chapter}: {submitted} submitted, {late} after the due date" in alts["timeline"]
    missing = sum(1 for sid in students for chapter in CHAPTERS if klass.score(sid, chapter) is None)
    low = sum(1 for sid in students for c in CHAPTERS
              if klass.score(sid, c) is not None and klass.score(sid, c) / klass.max_score(c) < report.LOW_PERCENT / 100)
    assert f"{missing} submissions are missing and {low} scores are below {report.LOW_PERCENT:g}%" in alts["students"]
    failing = _failing(klass)
    rate = {key: sum(kinds.values()) / sum(1 for (_s, c) in klass.outcomes if c == key[0]) for key, kinds in failing.items()}
    chapter, exercise = min(failing, key=lambda key: (-rate[key], -sum(failing[key].values()), *key))
    assert f"Most failed: {chapter}: {exercise}, by {100 * rate[(chapter, exercise)]:.0f}%" in alts["exercises"]


def test_errors_are_clear(tmp_path: Path, capsys) -> None:
    assert cli_main(["report", "--course-dir", str(tmp_path / "nowhere")]) == 2
    assert "no course folder" in capsys.readouterr().err
    assert cli_main(["report", "--course-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no graded submissions" in err and "grade-all" in err


# --- in a real browser --------------------------------------------------------------------------


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        """Keep the test output clean."""


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_report_opens_in_chromium_with_its_plots(playwright, chromium: Path, page: Path, scheme: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(page.parent)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
    try:
        context = browser.new_context(color_scheme=scheme)
        requests, problems = [], []
        context.on("request", lambda r: requests.append(r.url))
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
        tab = context.new_page()
        tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        tab.on("pageerror", lambda err: problems.append(f"uncaught: {err}"))
        tab.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
        tab.goto(base + "index.html", wait_until="load")
        tab.wait_for_function("Array.from(document.images).every(i => i.complete)")
        images = tab.eval_on_selector_all("img", "imgs => imgs.map(i => [i.currentSrc, i.naturalWidth])")
        assert len(images) == 5
        for src, width in images:
            assert width > 0, f"{src} did not load"
            assert src.endswith(f"-{scheme}.png"), f"{scheme} page shows {src}"
        assert tab.locator("#student-table tbody tr").count() == len(load_class(page.parent.parent).students)
        background = tab.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(255, 255, 255)") == (scheme == "light")
        assert not problems, "\n".join(problems)
        outside = [u for u in requests if not u.startswith(base)]
        assert not outside, f"requests outside the report: {outside}"
        context.close()
    finally:
        browser.close()
        server.shutdown()
        server.server_close()
        thread.join()


# --- the whole loop on real grading -------------------------------------------------------------


def test_real_grade_all_results_feed_the_report_the_exports_and_similarity(tmp_path_factory, capsys) -> None:
    """Five chapter 2 submissions graded by ``grade-all`` itself, then report, Canvas, Moodle, similarity."""
    import csv
    import json
    import shutil

    import nbformat
    from test_grade import ADDED_HELPER, ALTERNATIVE, ASSIGNMENT, FIRST_TWO_FEATURES, POINTS, cell_of, \
        generated_course, run_cli, submission

    from autograder.nbgrader_config import write_config
    from autograder.term import similarity

    course = tmp_path_factory.mktemp("real-loop") / "course"
    shutil.copytree(generated_course(tmp_path_factory), course)
    write_config(course)
    reference = submission(course, solved=tuple(POINTS))
    renamed = submission(course, answers={gid: re.sub(r"\bindeps\b", "features", cell_of(reference, gid).source)
                                          for gid in POINTS})
    notebooks = {"alice": reference, "bob": submission(course, answers=ALTERNATIVE, added={"accuracy": ADDED_HELPER}),
                 "carol": renamed, "dave": submission(course), "erin": submission(
                     course, answers={"calc_preds": FIRST_TWO_FEATURES}, solved=tuple(set(POINTS) - {"calc_preds"}))}
    for student, nb in notebooks.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
        (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
    proc = run_cli("grade-all", "--course-dir", str(course), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    total = sum(POINTS.values())
    # what grade-all wrote is what the report and the exports must show
    expected = {s: json.loads((course / "results" / s / ASSIGNMENT / "result.json").read_text())["score"]
                for s in notebooks}
    assert (expected["alice"], expected["carol"], expected["dave"]) == (total, total, 0)
    # erin's calc_preds is wrong beyond two features; one_epoch predicts with it, so it fails too
    assert expected["erin"] == total - POINTS["calc_preds"] - POINTS["one_epoch"]

    record = load_class(course)
    assert {s: record.submission(s, ASSIGNMENT).final_score for s in expected} == expected
    stats = {s.exercise: s for s in report.exercise_stats(record)}
    assert stats["calc_preds"].kinds == Counter({failures.NOT_DONE: 1, "wrong values": 1})
    assert stats["mae_loss"].kinds == Counter({failures.NOT_DONE: 1})
    assert cli_main(["report", "--course-dir", str(course)]) == 0
    assert (course / "report" / "plots" / "exercises-dark.png").is_file()

    for fmt, id_column in (("canvas", "SIS Login ID"), ("moodle", None)):
        out = course / f"{fmt}.csv"
        assert cli_main(["export", "--course-dir", str(course), "--format", fmt, "--output", str(out)]) == 0
        with out.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if id_column:
            grades = {r[id_column]: r[ASSIGNMENT] for r in rows if r[id_column]}
            assert grades == {s: f"{v:g}" for s, v in expected.items()}
        else:
            assert sorted(r[ASSIGNMENT] for r in rows) == sorted(f"{v:g}" for v in expected.values())

    rep = similarity.analyse(course, ASSIGNMENT)
    pairs = {frozenset((p.first.author, p.second.author)) for p in rep.pairs}
    assert frozenset(("alice", "carol")) in pairs and frozenset(("carol", similarity.REFERENCE)) in pairs
    assert all("bob" not in p and "dave" not in p for p in pairs), pairs
    capsys.readouterr()
