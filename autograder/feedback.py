"""What a student reads about a graded notebook: a text table and an HTML page.

Both are made from a :class:`autograder.grading.results.GradeResult` only, never from the source notebook, so
they cannot show hidden check code or hidden values: the result's messages already describe failed
hidden cases by kind alone. (nbgrader's own feedback renders the graded notebook, hidden tests
included; see nbgrader issue #917.)
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING

from autograder.safe_io import neutral

if TYPE_CHECKING:
    from autograder.grading.results import ByHandResult, GradeResult
    from autograder.late import Lateness

PASSED, FAILED = "passed", "failed"
#: The result column of a written question, which the instructor grades.
BY_HAND = "by hand"
#: Width the reason column wraps at in the text table (reasons are shown whole, over several lines).
TABLE_REASON_CHARS = 90


def _points(value: float) -> str:
    return f"{value:g}"


def by_hand_reason(question: ByHandResult) -> str:
    """What the feedback says of a written question: graded by hand, its points, answered or not."""
    points = f"{_points(question.max_score)} point{'' if question.max_score == 1 else 's'}"
    return f"to be graded by hand ({points}); {'answered' if question.answered else 'not answered'}"


def redact_paths(text: str, paths: Mapping[str, str]) -> str:
    """``text`` with each folder of ``paths`` (folder -> label) replaced by its label where it starts a
    path, the longest folder first: ``/srv/course/submitted/x`` -> ``<course>/submitted/x``. A folder
    only counts whole (``/tmp`` is not replaced in ``/tmpfile``)."""
    if not paths:
        return text
    folders = sorted(paths, key=len, reverse=True)
    pattern = re.compile("|".join(f"(?:{re.escape(f.rstrip('/'))})(?![^/\\s'\"`),:;\\]}}>])" for f in folders))
    trimmed = {f.rstrip("/"): label for f, label in paths.items()}
    return pattern.sub(lambda m: trimmed[m.group(0)], text)


def _total(result: GradeResult) -> str:
    """The autograded total, and the points still to be graded by hand if there are any."""
    total = f"{_points(result.score)} / {_points(result.max_score)}"
    if result.by_hand:
        total += f" (plus {_points(result.by_hand_points)} points to be graded by hand)"
    return total


def render_table(result: GradeResult) -> str:
    """A plain-text table: exercise, points, max, passed/failed, reason (wrapped, never cut); the total.

    Written questions follow the exercises, with no points yet and "to be graded by hand" as reason.

    Every text that came from the submission is neutralised (:func:`autograder.safe_io.neutral`):
    control characters and escape sequences are shown as visible escapes, so no submission can
    rewrite what the terminal shows.
    """
    header = ("exercise", "points", "max", "result", "reason")
    rows = [(neutral(e.id, False), _points(e.score), _points(e.max_score), PASSED if e.passed else FAILED,
             neutral(e.message, False)) for e in result.exercises]
    rows += [(neutral(q.id, False), "-", _points(q.max_score), BY_HAND, by_hand_reason(q)) for q in result.by_hand]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    indent = " " * (sum(widths) + 2 * 4)
    lines = [neutral(result.assignment, False)]
    for row in [header, *rows]:
        left = "  ".join(cell.ljust(w) if i != 1 and i != 2 else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(row[:4], widths)))
        wrapped = textwrap.wrap(row[4], TABLE_REASON_CHARS, break_on_hyphens=False) or [""]
        lines.append(f"{left}  {wrapped[0]}".rstrip())
        lines.extend(f"{indent}{more}" for more in wrapped[1:])
    lines.append(f"total: {_total(result)}")
    for note in result.notes:
        wrapped = textwrap.wrap(f"note: {neutral(note, False)}", TABLE_REASON_CHARS + 20, break_on_hyphens=False,
                                subsequent_indent="      ")
        lines.extend(wrapped)
    return "\n".join(lines)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td.points { text-align: right; white-space: nowrap; }
.passed { color: #176f2c; } .failed { color: #a4161a; } .by-hand { color: #555; }
.total { font-size: 1.2rem; font-weight: bold; }
.late { color: #a4161a; }
"""


def _late_html(result: GradeResult, late: Lateness | None) -> str:
    """The submission's time against its due date, and the late penalty with the final score."""
    from autograder.late import final_score

    if late is None or not late.sentences():
        return ""
    lines = "".join(f"<li>{html.escape(s)}</li>" for s in late.sentences())
    final = ""
    if late.penalty:
        final = (f'<p class="total late">Final score, after the late penalty: '
                 f'{_points(final_score(result.score, late.penalty))} / {_points(result.max_score)}</p>')
    return f'<h2>Submission time</h2><ul class="late">{lines}</ul>{final}'


def render_html(result: GradeResult, notebook_name: str, late: Lateness | None = None) -> str:
    """A self-contained HTML page: per exercise its task title, score and reason; per written question
    its title, points and whether it was answered (to be graded by hand); the total; with ``late``, the
    submission's time against its due date and any late penalty; notes."""
    def e(text: str) -> str:  # escaped for HTML, and no control characters or lone surrogates
        return html.escape(neutral(text))

    rows = "\n".join(
        f'<tr><td><strong>{e(x.title)}</strong><br><code>{e(x.id)}</code></td>'
        f'<td class="points">{_points(x.score)} / {_points(x.max_score)}</td>'
        f'<td class="{PASSED if x.passed else FAILED}">{PASSED if x.passed else FAILED}</td>'
        f'<td>{e(x.message)}</td></tr>'
        for x in result.exercises)
    rows += "".join(
        f'\n<tr><td><strong>{e(q.title)}</strong><br><code>{e(q.id)}</code></td>'
        f'<td class="points">- / {_points(q.max_score)}</td>'
        f'<td class="by-hand">{BY_HAND}</td>'
        f'<td>{e(by_hand_reason(q))}</td></tr>'
        for q in result.by_hand)
    notes = "".join(f"<li>{e(n)}</li>" for n in result.notes)
    notes_html = f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Feedback: {e(result.assignment)}</title><style>{_STYLE}</style></head>
<body>
<h1>Feedback: {e(result.assignment)}</h1>
<p>Notebook: <code>{e(notebook_name)}</code></p>
<p class="total">Score: {_total(result)}</p>
{_late_html(result, late)}
<table>
<thead><tr><th>Exercise</th><th>Points</th><th>Result</th><th>Reason</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
{notes_html}
<p>Hidden checks are described by the kind of difference only; their inputs and expected outputs
stay hidden. Run the public checks in your notebook to see values.</p>
</body>
</html>
"""
