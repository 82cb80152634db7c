"""Similar answers in a class: ``python -m autograder similarity [ASSIGNMENT ...]``.

For each assignment, every student's *answer cells* (the nbgrader solution cells, found by their
``grade_id``) and any code cells the student added (so that code moved into a helper cell of one's
own is compared too; the notebook's setup and check cells are not) are joined into one document and compared with every
other student's and with the reference solution's, by copydetect (winnowed fingerprints of the code
after Pygments tokenisation, in which every variable, function and class name becomes one letter:
renamed variables, reordered functions and added comments or blank lines do not hide a copy). All
the code of the release notebook (the stubs, docstrings, setup and checks students start from) is
boilerplate: what everyone was given is never a match. The reference solution is one more document,
so a student who copied the reference is flagged like one who copied a classmate.

A pair is reported when the matched code is at least ``--threshold`` of either document (copydetect's
per-file similarity) and at least :data:`MIN_MATCHED_CHARS` characters of tokenised code, so that a
one-line exercise everyone writes alike does not flag its authors. The default threshold
(:data:`THRESHOLD`) sits well above what independent honest solutions of this course's exercises
reach (about 0.4 on chapter 6, whose docstrings dictate much of the code) and well below what a
renamed, reordered or commented copy keeps (above 0.9); ``tests/test_similarity.py`` measures both.
A report is a reason to look, not a verdict.

The HTML report (``<course-dir>/similarity/index.html``, one static file, no script) lists the pairs
per assignment, most similar first, with the two students' answers side by side and the matching code
highlighted. Submitted notebooks are read without following symbolic links, only when they are
regular files of at most :data:`MAX_NOTEBOOK_BYTES`, and with their JSON bounded
(:mod:`autograder.safe_io`).
"""

from __future__ import annotations

import argparse
import html
import io
import itertools
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.course import CourseError
from autograder.course import SUBMITTED_DIR, chapter_order, write_atomic
from autograder.term.classdata import check_course_dir, natural_key

#: Report pairs whose matched code is at least this fraction of either answer.
THRESHOLD = 0.6
#: ... and at least this many characters of tokenised code (names count one character each).
MIN_MATCHED_CHARS = 60
#: copydetect's k-gram length (its noise threshold), in tokenised characters. Every k-gram is kept
#: (window 1, copydetect's guarantee threshold equal to its noise threshold): copydetect hashes with
#: Python's ``hash()``, which is randomised per process, so winnowing would keep different k-grams,
#: and give different similarities, on every run. Answers are short, so keeping all costs little.
NOISE_CHARS = 25
WINDOW = 1
#: Largest submitted notebook read.
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
#: nbgrader's folders with the instructor's and the students' notebooks.
SOURCE_DIR, RELEASE_DIR = "source", "release"
#: The reference solution's name in the report.
REFERENCE = "reference solution"
#: nbgrader's solution-region markers, which the source notebook has and answers do not.
_SOLUTION_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


@dataclass(frozen=True)
class Answer:
    """One document: a student's (or the reference's) answer cells, joined."""

    author: str
    code: str
    is_reference: bool = False


@dataclass(frozen=True)
class Pair:
    """Two answers that match above the threshold."""

    first: Answer
    second: Answer
    #: Fraction of each answer's (tokenised, non-boilerplate) code that matches the other.
    similarity: tuple[float, float]
    matched_chars: int
    #: Each answer's code as HTML, the matching parts in ``<mark>``.
    highlighted: tuple[str, str]

    @property
    def score(self) -> float:
        """The larger of the two similarities."""
        return max(self.similarity)


@dataclass
class AssignmentReport:
    """The similarity of one assignment's class."""

    assignment: str
    answers: list[Answer]
    pairs: list[Pair]
    #: Submissions that could not be read or had no answer of their own, with why.
    skipped: list[str] = field(default_factory=list)


def _cell_source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(s for s in src if isinstance(s, str)) if isinstance(src, list) else str(src)


def _grade_id(cell: Any) -> str | None:
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbg = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
    return gid if isinstance(gid, str) else None


def _code_cells(nb: Any) -> list[dict[str, Any]]:
    cells = nb.get("cells") if isinstance(nb, dict) else None
    return [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"] if isinstance(cells, list) else []


def solution_ids(nb: Any) -> list[str]:
    """The grade ids of a notebook's answer cells (nbgrader solution cells that are not grade cells)."""
    ids = []
    for cell in _code_cells(nb):
        nbg = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(nbg, dict) and nbg.get("solution") and not nbg.get("grade") and _grade_id(cell):
            ids.append(_grade_id(cell))
    return ids


def answer_code(nb: Any, ids: list[str], added: bool = False) -> str:
    """The code of the answer cells ``ids`` in a notebook, joined in the notebook's order.

    With ``added``, also the code cells the student added (cells without an nbgrader id): code moved
    out of an answer cell into a helper cell of one's own is still compared.
    """
    wanted = set(ids)
    return "\n\n".join(_cell_source(c).strip("\n") for c in _code_cells(nb)
                        if _grade_id(c) in wanted or (added and _grade_id(c) is None))


def _instructor_notebook(course_dir: Path, step: str, assignment: str) -> dict[str, Any]:
    import json

    path = course_dir / step / assignment / f"{assignment}.ipynb"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CourseError(f"no {step} notebook at {path}; generate the assignment first: python -m autograder "
                          f"assign {assignment} --course-dir {course_dir}") from None
    except (OSError, ValueError) as err:
        raise CourseError(f"cannot read {path}: {err}") from None


def read_submitted(course_dir: Path, student: str, assignment: str) -> dict[str, Any]:
    """A student's submitted notebook, read safely; :class:`ValueError` says why it cannot be."""
    from autograder.safe_io import entry_kind, loads_bounded, read_inside

    folder = Path(SUBMITTED_DIR, student, assignment)
    name = f"{assignment}.ipynb"
    if entry_kind(course_dir / folder, name) is None:  # nbgrader's name, else the folder's only notebook
        base = course_dir / folder
        found = sorted(p.name for p in base.iterdir() if p.suffix == ".ipynb") if base.is_dir() else []
        if len(found) != 1:
            raise ValueError(f"expected {name} in {folder}; notebooks found: {', '.join(found) or 'none'}")
        name = found[0]
    nb = loads_bounded(read_inside(course_dir, folder / name, MAX_NOTEBOOK_BYTES), MAX_NOTEBOOK_BYTES)
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{folder / name} is not a notebook (no list of cells)")
    return nb


def submitted_assignments(course_dir: Path) -> list[str]:
    """Every assignment someone submitted (``submitted/<student>/<assignment>/``), links not followed."""
    root = course_dir / SUBMITTED_DIR
    names: set[str] = set()
    if root.is_dir() and not root.is_symlink():
        for student in root.iterdir():
            if student.is_dir() and not student.is_symlink():
                names |= {a.name for a in student.iterdir() if a.is_dir() and not a.is_symlink()}
    return sorted(names, key=chapter_order)


def _students(course_dir: Path, assignment: str) -> list[str]:
    root = course_dir / SUBMITTED_DIR
    return sorted((s.name for s in root.iterdir() if not s.is_symlink() and (s / assignment).is_dir()
                   and not (s / assignment).is_symlink()), key=natural_key)


def compare_answers(answers: list[Answer], boilerplate: str, threshold: float = THRESHOLD,
                    progress: bool = False) -> list[Pair]:
    """Every pair of answers above the threshold, most similar first."""
    from copydetect.detector import CodeFingerprint, compare_files
    from copydetect.utils import highlight_overlap

    def fingerprint(name: str, code: str, known: list[int]) -> CodeFingerprint:
        return CodeFingerprint(f"{name}.py", NOISE_CHARS, WINDOW, boilerplate=known,
                               fp=io.StringIO(code), language="python")

    given = list(fingerprint("boilerplate", boilerplate, []).hashes)
    prints = [fingerprint(f"answer{i}", a.code, given) for i, a in enumerate(answers)]
    combos = list(itertools.combinations(range(len(answers)), 2))
    if progress:
        from tqdm import tqdm

        combos = tqdm(combos, desc="comparing", unit="pair", file=sys.stderr, leave=False)
    pairs = []
    for i, j in combos:
        if not prints[i].hashes or not prints[j].hashes:
            continue
        matched, sims, slices = compare_files(prints[i], prints[j])
        if matched < MIN_MATCHED_CHARS or max(sims) < threshold:
            continue
        marked = tuple(highlight_overlap(p.raw_code, s, "<mark>", "</mark>", escape_html=True)[0]
                       for p, s in zip((prints[i], prints[j]), slices))
        pairs.append(Pair(answers[i], answers[j], (float(sims[0]), float(sims[1])), int(matched), marked))
    return sorted(pairs, key=lambda p: (-p.score, p.first.author, p.second.author))


def analyse(course_dir: Path, assignment: str, threshold: float = THRESHOLD, progress: bool = False) -> AssignmentReport:
    """Read one assignment's submissions, its release and its reference, and compare the answers."""
    from autograder.safe_io import BadJSON, UnsafeFile

    source = _instructor_notebook(course_dir, SOURCE_DIR, assignment)
    release = _instructor_notebook(course_dir, RELEASE_DIR, assignment)
    ids = solution_ids(source)
    if not ids:
        raise CourseError(f"the source notebook of {assignment} has no answer (solution) cells")
    boilerplate = "\n\n".join(_cell_source(c) for c in _code_cells(release))
    reference = _SOLUTION_MARKERS.sub("", answer_code(source, ids))
    answers = [Answer(REFERENCE, reference, is_reference=True)]
    skipped = []
    for student in _students(course_dir, assignment):
        try:
            nb = read_submitted(course_dir, student, assignment)
        except (ValueError, UnsafeFile, BadJSON, OSError) as err:
            skipped.append(f"{student}: {err}")
            continue
        code = answer_code(nb, ids, added=True)
        if not code.strip():
            skipped.append(f"{student}: no answer cells (deleted, or another assignment's notebook)")
            continue
        answers.append(Answer(student, code))
    return AssignmentReport(assignment, answers, compare_answers(answers, boilerplate, threshold, progress), skipped)


_STYLE = """
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #ffffff; --muted: #5f6368; --line: #d0d0d0;
        --mark: #ffe08a; --mark-fg: #1d1d1f; --code: #f5f5f5; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e8e8e8; --bg: #16181c; --muted: #a0a4aa; --line: #3a3d42; --mark: #8a6d00; --mark-fg: #ffffff;
          --code: #202329; }
}
body { font-family: system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 2rem auto;
       max-width: 90rem; padding: 0 1rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { text-align: left; padding: .3rem .7rem; border-bottom: 1px solid var(--line); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1rem; margin: 1rem 0 2rem; }
.pair pre { background: var(--code); padding: .7rem; overflow-x: auto; font-size: .85rem; margin: 0;
            line-height: 1.6; }
mark { background: var(--mark); color: var(--mark-fg); }
"""


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def render_html(reports: list[AssignmentReport], threshold: float) -> str:
    """The report: a static page, no script, every text from a submission escaped."""
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>Similarity report</title><style>{_STYLE}</style></head><body>",
             "<h1>Similarity report</h1>",
             f"<p class='muted'>Answer cells compared with copydetect; the release's code is boilerplate and the "
             f"reference solution is compared too. Pairs whose matching code is at least {_pct(threshold)} of "
             f"either answer are listed. A match is a reason to look, not a verdict.</p>"]
    for rep in reports:
        anchor = e(rep.assignment)
        parts.append(f"<h2 id='{anchor}'>{e(rep.assignment)}</h2>")
        parts.append(f"<p>{len(rep.answers) - 1} answers compared; {len(rep.pairs)} pair(s) flagged.</p>")
        if rep.pairs:
            parts.append("<table><thead><tr><th>#</th><th>first</th><th>second</th><th>of first</th>"
                         "<th>of second</th><th>matching characters</th></tr></thead><tbody>")
            for n, p in enumerate(rep.pairs, 1):
                parts.append(f"<tr><td><a href='#{anchor}-{n}'>{n}</a></td><td>{e(p.first.author)}</td>"
                             f"<td>{e(p.second.author)}</td><td class='num'>{_pct(p.similarity[0])}</td>"
                             f"<td class='num'>{_pct(p.similarity[1])}</td><td class='num'>{p.matched_chars}</td></tr>")
            parts.append("</tbody></table>")
            for n, p in enumerate(rep.pairs, 1):
                parts.append(f"<h3 id='{anchor}-{n}'>{n}. {e(p.first.author)} and {e(p.second.author)} "
                             f"({_pct(p.similarity[0])} / {_pct(p.similarity[1])})</h3><div class='pair'>")
                for who, code in zip((p.first, p.second), p.highlighted):
                    parts.append(f"<div><p><strong>{e(who.author)}</strong></p><pre><code>{code}</code></pre></div>")
                parts.append("</div>")
        if rep.skipped:
            parts.append("<p>Not compared:</p><ul>" + "".join(f"<li>{e(s)}</li>" for s in rep.skipped) + "</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def similarity_main(args: argparse.Namespace) -> int:
    """``autograder similarity``: compare each assignment's answers and write the HTML report."""
    course_dir = check_course_dir(args.course_dir)
    threshold = THRESHOLD if args.threshold is None else args.threshold
    if not 0 < threshold <= 1:
        raise CourseError(f"--threshold must be above 0 and at most 1, got {threshold}")
    available = submitted_assignments(course_dir)
    if not available:
        raise CourseError(f"no submissions in {course_dir / SUBMITTED_DIR} (nbgrader's layout is "
                          f"{SUBMITTED_DIR}/<student>/<assignment>/<assignment>.ipynb; nbgrader collect puts them there)")
    wanted = args.assignments or available
    unknown = [a for a in wanted if a not in available]
    if unknown:
        raise CourseError(f"no submissions of {', '.join(unknown)}; submitted assignments: {', '.join(available)}")
    reports = []
    for name in wanted:
        print(f"autograder similarity: {name}", file=sys.stderr)
        reports.append(analyse(course_dir, name, threshold, progress=True))
    out_dir = args.output or course_dir / "similarity"
    write_atomic(out_dir / "index.html", render_html(reports, threshold))
    for rep in reports:
        for skip in rep.skipped:
            print(f"autograder similarity: {rep.assignment}: not compared: {skip}", file=sys.stderr)
        flagged = ", ".join(f"{p.first.author} + {p.second.author} ({_pct(p.score)})" for p in rep.pairs) or "none"
        print(f"{rep.assignment}: {len(rep.answers) - 1} answers, {len(rep.pairs)} similar pair(s): {flagged}")
    print(f"report: {out_dir / 'index.html'}")
    return 0
