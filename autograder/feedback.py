"""What a student reads about a graded notebook: a text table and an HTML page.

Both are made from a :class:`autograder.grade.GradeResult` only, never from the source notebook, so
they cannot show hidden check code or hidden values: the result's messages already describe failed
hidden cases by kind alone. (nbgrader's own feedback renders the graded notebook, hidden tests
included; see nbgrader issue #917.)
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autograder.grade import GradeResult

PASSED, FAILED = "passed", "failed"
#: Widest reason in the text table; the HTML page shows it whole.
TABLE_REASON_CHARS = 90


def _points(value: float) -> str:
    return f"{value:g}"


def render_table(result: GradeResult) -> str:
    """A plain-text table: exercise, points, max, passed/failed, one-line reason; then the total."""
    header = ("exercise", "points", "max", "result", "reason")
    rows = [(e.id, _points(e.score), _points(e.max_score), PASSED if e.passed else FAILED,
             e.message if len(e.message) <= TABLE_REASON_CHARS else e.message[:TABLE_REASON_CHARS - 3] + "...")
            for e in result.exercises]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [f"{result.assignment}"]
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(w) if i != 1 and i != 2 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row[:4], widths))) + "  " + row[4])
    lines.append(f"total: {_points(result.score)} / {_points(result.max_score)}")
    lines.extend(f"note: {note}" for note in result.notes)
    return "\n".join(lines)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td.points { text-align: right; white-space: nowrap; }
.passed { color: #176f2c; } .failed { color: #a4161a; }
.total { font-size: 1.2rem; font-weight: bold; }
"""


def render_html(result: GradeResult, notebook_name: str) -> str:
    """A self-contained HTML page: per exercise its task title, score and reason; the total; notes."""
    e = html.escape
    rows = "\n".join(
        f'<tr><td><strong>{e(x.title)}</strong><br><code>{e(x.id)}</code></td>'
        f'<td class="points">{_points(x.score)} / {_points(x.max_score)}</td>'
        f'<td class="{PASSED if x.passed else FAILED}">{PASSED if x.passed else FAILED}</td>'
        f'<td>{e(x.message)}</td></tr>'
        for x in result.exercises)
    notes = "".join(f"<li>{e(n)}</li>" for n in result.notes)
    notes_html = f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Feedback: {e(result.assignment)}</title><style>{_STYLE}</style></head>
<body>
<h1>Feedback: {e(result.assignment)}</h1>
<p>Notebook: <code>{e(notebook_name)}</code></p>
<p class="total">Score: {_points(result.score)} / {_points(result.max_score)}</p>
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
