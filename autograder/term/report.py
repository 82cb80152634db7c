"""The class report: ``python -m autograder report`` writes ``<course-dir>/report/index.html``.

A static, offline page (no script, no web font, nothing fetched): ``index.html`` and its plots beside
it in ``plots/``. Each plot is drawn twice by matplotlib, for a light and a dark page, and the browser
picks one with ``<picture>`` and ``prefers-color-scheme``, so the plots read well in either theme
(transparent backgrounds, mid-tone data colours, text in the theme's colour). Every number in a plot
is also in a table next to it.

Sections: the score distribution of each assignment; the failure rate of every exercise, sorted, split
by the kind of failure (:mod:`autograder.term.failures`); the checks that failed most; submissions
over time against the due date (late ones counted, with their penalties); the students with missing
or low work across chapters; and a per-student table. The numbers come from
:func:`autograder.term.classdata.load_class`.
"""

from __future__ import annotations

import argparse
import html
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from autograder.course import write_atomic
from autograder.term.classdata import ClassRecord, load_class, points
from autograder.term.failures import check_failures, classify

#: A student whose final score on an assignment is below this percentage is listed for follow-up.
LOW_PERCENT = 50.0
PLOTS_DIR = "plots"
#: The two themes each plot is drawn for: text colour and the faint colour of grid lines.
THEMES = {"light": {"text": "#1d1d1f", "grid": "#c8c8c8"}, "dark": {"text": "#e8e8e8", "grid": "#4a4d52"}}
#: Mid-tone colours that keep their contrast on white and on near-black (Seaborn's "deep", darkened).
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
           "#ccb974", "#64b5cd")
MISSING_COLOUR = "#8c8c8c"
#: How many of the most failed checks the checks' plot shows.
TOP_CHECKS = 20


# ------------------------------------------------------------------------------------ the numbers


@dataclass
class ExerciseStats:
    """How one exercise went across the class."""

    assignment: str
    exercise: str
    submissions: int
    failed: int
    kinds: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.failed / self.submissions if self.submissions else 0.0


@dataclass
class CheckStats:
    """How often one check was (the first) to fail."""

    assignment: str
    exercise: str
    check: str
    submissions: int
    failed: int
    kinds: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.failed / self.submissions if self.submissions else 0.0


def exercise_stats(record: ClassRecord) -> list[ExerciseStats]:
    """Every exercise with its failure count and kinds, most failed first."""
    stats = []
    for a in record.assignments:
        subs = [s for s in record.submissions.values() if s.assignment == a.name and s.exercises]
        for ex_id in a.exercises:
            st = ExerciseStats(a.name, ex_id, 0, 0)
            for s in subs:
                ex = next((e for e in s.exercises if e["id"] == ex_id), None)
                if ex is None:
                    continue
                st.submissions += 1
                if not ex["passed"]:
                    st.failed += 1
                    st.kinds[classify(ex["message"]).kind] += 1
            stats.append(st)
    return sorted(stats, key=lambda s: (-s.rate, -s.failed, s.assignment, s.exercise))


def check_stats(record: ClassRecord) -> list[CheckStats]:
    """Every check that failed at least once, with how often, most failed first."""
    found: dict[tuple[str, str, str], CheckStats] = {}
    for a in record.assignments:
        subs = [s for s in record.submissions.values() if s.assignment == a.name and s.exercises]
        for s in subs:
            for ex in s.exercises:
                for check, kind in check_failures(ex):
                    key = (a.name, ex["id"], check)
                    st = found.setdefault(key, CheckStats(*key, len(subs), 0))
                    st.failed += 1
                    st.kinds[kind] += 1
    return sorted(found.values(), key=lambda s: (-s.rate, s.assignment, s.exercise, s.check))


@dataclass
class Timing:
    """When an assignment's submissions came in."""

    assignment: str
    duedate: datetime | None
    times: list[datetime]
    late: int
    penalised: int
    unknown: int


def timings(record: ClassRecord) -> list[Timing]:
    """Submission times per assignment, and how many were after the due date."""
    out = []
    for a in record.assignments:
        subs = [s for s in record.submissions.values() if s.assignment == a.name]
        times = sorted(s.timestamp for s in subs if s.timestamp is not None)
        late = sum(1 for s in subs if s.is_late(a.duedate))
        out.append(Timing(a.name, a.duedate, times, late, sum(1 for s in subs if s.late_penalty > 0),
                          sum(1 for s in subs if s.timestamp is None)))
    return out


def follow_up(record: ClassRecord, low_percent: float = LOW_PERCENT) -> dict[str, list[str]]:
    """Students with a missing submission or a score below ``low_percent``: student -> what."""
    out: dict[str, list[str]] = {}
    for st in record.students:
        issues = []
        for a in record.assignments:
            sub = record.submission(st.id, a.name)
            if sub is None:
                issues.append(f"{a.name}: missing")
            elif 100 * sub.fraction < low_percent:
                issues.append(f"{a.name}: {points(sub.final_score)} / {points(sub.max_score)}")
        if issues:
            out[st.id] = issues
    return out


# -------------------------------------------------------------------------------------- the plots


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    fig.patch.set_alpha(0)
    return fig


def _style(ax, colours: dict[str, str]) -> None:
    ax.set_facecolor("none")
    for spine in ax.spines.values():
        spine.set_color(colours["grid"])
    ax.tick_params(colors=colours["text"], labelcolor=colours["text"])
    ax.xaxis.label.set_color(colours["text"])
    ax.yaxis.label.set_color(colours["text"])
    ax.title.set_color(colours["text"])
    ax.grid(True, color=colours["grid"], linewidth=0.6, alpha=0.8)
    ax.set_axisbelow(True)


def _legend(ax, colours: dict[str, str], **kwargs) -> None:
    legend = ax.legend(frameon=False, **kwargs)
    for text in legend.get_texts():
        text.set_color(colours["text"])


def plot_scores(record: ClassRecord, theme: str):
    """One histogram of final scores (percent) per assignment."""
    n = len(record.assignments)
    colours = THEMES[theme]
    fig = _figure(min(4.2 * n, 13), 3.2)
    axes = fig.subplots(1, n, sharey=True, squeeze=False)[0]
    bins = [i * 10 for i in range(11)]
    for ax, a, colour in zip(axes, record.assignments, PALETTE * 10):
        values = [100 * s.fraction for s in record.submissions.values() if s.assignment == a.name]
        ax.hist(values, bins=bins, color=colour, edgecolor=colours["text"], linewidth=0.4)
        if values:
            mean = sum(values) / len(values)
            ax.axvline(mean, color=colours["text"], linestyle="--", linewidth=1)
            ax.set_title(f"{a.name}\nn={len(values)}, mean {mean:.0f}%", fontsize=9)
        ax.set_xlabel("final score (%)")
        ax.set_xlim(0, 100)
        _style(ax, colours)
    axes[0].set_ylabel("students")
    return fig


def plot_exercises(stats: list[ExerciseStats], theme: str):
    """Failure rate of every exercise, sorted, each bar split by kind of failure."""
    kinds = [k for k, _ in sum((s.kinds for s in stats), Counter()).most_common()]
    colours = THEMES[theme]
    fig = _figure(9, 0.34 * len(stats) + 1.6)
    ax = fig.subplots()
    labels = [f"{s.assignment}: {s.exercise}" for s in stats][::-1]
    left = [0.0] * len(stats)
    for kind, colour in zip(kinds, PALETTE * 10):
        widths = [100 * s.kinds.get(kind, 0) / s.submissions if s.submissions else 0 for s in stats][::-1]
        ax.barh(labels, widths, left=left, color=colour, label=kind, height=0.7)
        left = [a + b for a, b in zip(left, widths)]
    ax.set_xlabel("submissions that failed the exercise (%)")
    ax.set_xlim(0, 100)
    ax.tick_params(axis="y", labelsize=8)
    _style(ax, colours)
    if kinds:
        _legend(ax, colours, loc="lower right", fontsize=8, title=None)
    return fig


def plot_checks(stats: list[CheckStats], theme: str, top: int = TOP_CHECKS):
    """The checks that failed first most often."""
    shown = stats[:top]
    colours = THEMES[theme]
    fig = _figure(9, 0.32 * max(len(shown), 1) + 1.4)
    ax = fig.subplots()
    labels = [f"{s.exercise}: {s.check}" for s in shown][::-1]
    ax.barh(labels, [100 * s.rate for s in shown][::-1], color=PALETTE[3], height=0.7)
    ax.set_xlabel("submissions in which this check failed first (%)")
    ax.set_xlim(0, 100)
    ax.tick_params(axis="y", labelsize=8)
    _style(ax, colours)
    return fig


def plot_timeline(times: list[Timing], theme: str):
    """Cumulative submissions over time per assignment, each with its due date."""
    import matplotlib.dates as mdates

    colours = THEMES[theme]
    fig = _figure(9, 3.6)
    ax = fig.subplots()
    for t, colour in zip(times, PALETTE * 10):
        if t.times:
            ax.step(t.times, range(1, len(t.times) + 1), where="post", color=colour, linewidth=1.8,
                    label=f"{t.assignment} ({t.late} late)")
        if t.duedate is not None:
            ax.axvline(t.duedate, color=colour, linestyle="--", linewidth=1.2)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.set_ylabel("submissions so far")
    ax.set_xlabel("time (UTC); dashed: due date")
    _style(ax, colours)
    if any(t.times for t in times):
        _legend(ax, colours, loc="upper left", fontsize=8)
    return fig


def plot_students(record: ClassRecord, theme: str):
    """Every student's final score on every assignment; missing work in grey with a cross."""
    import numpy as np
    from matplotlib.colors import LinearSegmentedColormap

    students = record.students
    colours = THEMES[theme]
    fig = _figure(1.3 * len(record.assignments) + 3.2, 0.2 * len(students) + 1.6)
    ax = fig.subplots()
    cmap = LinearSegmentedColormap.from_list("score", [PALETTE[3], PALETTE[8], PALETTE[2]]).with_extremes(
        bad=MISSING_COLOUR)

    grid = np.full((len(students), len(record.assignments)), np.nan)
    for i, st in enumerate(students):
        for j, a in enumerate(record.assignments):
            sub = record.submission(st.id, a.name)
            if sub is not None:
                grid[i, j] = 100 * sub.fraction
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=100, aspect="auto",
                      interpolation="nearest")
    for i, j in zip(*np.where(np.isnan(grid))):
        ax.text(j, i, "×", ha="center", va="center", fontsize=8, color="#ffffff")
    ax.set_xticks(range(len(record.assignments)), [a.name for a in record.assignments], rotation=20,
                  ha="right", fontsize=8)
    ax.set_yticks(range(len(students)), [s.id for s in students], fontsize=7)
    _style(ax, colours)
    ax.grid(False)
    bar = fig.colorbar(image, ax=ax, shrink=0.6)
    bar.set_label("final score (%); grey ×: missing", color=colours["text"])
    bar.ax.tick_params(colors=colours["text"], labelcolor=colours["text"])
    bar.outline.set_edgecolor(colours["grid"])
    return fig


# --------------------------------------------------------------------------------------- the page


_STYLE = """
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #ffffff; --muted: #5f6368; --line: #d0d0d0;
        --bad: #b3261e; --head: #f2f2f2; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e8e8e8; --bg: #16181c; --muted: #a0a4aa; --line: #3a3d42; --bad: #f2b8b5; --head: #202329; }
}
body { font-family: system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 2rem auto;
       max-width: 70rem; padding: 0 1rem; line-height: 1.45; }
nav a { margin-right: 1rem; }
a { color: inherit; }
img { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .92rem; }
th, td { text-align: left; padding: .25rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--head); position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.missing, .late { color: var(--bad); }
figure { margin: 1rem 0; }
"""

_SECTIONS = (("scores", "Score distribution"), ("exercises", "Exercises that fail"), ("checks", "Checks that fail"),
             ("timeline", "Submissions over time"), ("follow-up", "Missing or low work"),
             ("students", "Every student"))


# What each plot shows and what to notice, in words, for a reader who cannot see it (its ``alt``). Each
# is made from the same numbers as its plot and names the table beside it, which holds all of them.


def describe_scores(record: ClassRecord) -> str:
    parts = []
    for a in record.assignments:
        values = [100 * s.fraction for s in record.submissions.values() if s.assignment == a.name]
        parts.append(f"{a.name}: {len(values)} submissions, mean {sum(values) / len(values):.0f}%, from "
                     f"{min(values):.0f}% to {max(values):.0f}%" if values else f"{a.name}: no submission")
    return ("Histograms of the final scores in percent, one per assignment, each with a dashed line at its "
            f"mean. {'; '.join(parts)}. The table below gives each assignment's numbers.")


def describe_exercises(stats: list[ExerciseStats]) -> str:
    head = ("Horizontal bars, one per exercise, of the share of submissions that failed it, the most failed "
            "at the top, each bar split by the kind of failure.")
    if not stats:
        return f"{head} No exercise was graded."
    worst = stats[0]
    kinds = ", ".join(f"{k} {n}" for k, n in worst.kinds.most_common()) or "no failure"
    passed = sum(1 for s in stats if not s.failed)
    clean = (f"{passed} of {len(stats)} exercises were passed by every submission." if passed
             else "Every exercise failed at least once.")
    return (f"{head} Most failed: {worst.assignment}: {worst.exercise}, by {100 * worst.rate:.0f}% of "
            f"{worst.submissions} submissions (by kind: {kinds}). {clean} The table below lists every exercise "
            "with its kinds of failure.")


def describe_checks(stats: list[CheckStats], top: int = TOP_CHECKS) -> str:
    head = (f"Horizontal bars of the checks that failed first most often (the {min(top, len(stats))} most "
            f"frequent of {len(stats)}), as a share of the submissions of their assignment.")
    if not stats:
        return f"{head} No check failed."
    first = stats[0]
    return (f"{head} Most often: {first.assignment}: {first.exercise}: {first.check}, in "
            f"{100 * first.rate:.0f}% of submissions. The table below lists every check that failed.")


def describe_timeline(times: list[Timing]) -> str:
    parts = [f"{t.assignment}: {len(t.times) + t.unknown} submitted, {t.late} after the due date" for t in times]
    return ("Submissions so far against time, one rising step line per assignment, with its due date as a "
            f"dashed vertical line of the same colour. {'; '.join(parts)}. The table below gives the numbers.")


def describe_students(record: ClassRecord, low_percent: float = LOW_PERCENT) -> str:
    missing = sum(1 for st in record.students for a in record.assignments if record.submission(st.id, a.name) is None)
    low = sum(1 for s in record.submissions.values() if 100 * s.fraction < low_percent)
    return (f"A grid of the {len(record.students)} students (rows) by the {len(record.assignments)} assignments "
            "(columns), each cell coloured by the final score from red (low) through yellow to green (high); "
            f"missing work is grey with a cross. {missing} submissions are missing and {low} scores are below "
            f"{low_percent:g}%. The table below lists the students concerned.")


def _picture(name: str, alt: str) -> str:
    e = html.escape
    return (f"<figure><picture><source srcset='{PLOTS_DIR}/{name}-dark.png' media='(prefers-color-scheme: dark)'>"
            f"<img src='{PLOTS_DIR}/{name}-light.png' alt='{e(alt)}'></picture></figure>")


def _kinds(counter: Counter) -> str:
    return ", ".join(f"{html.escape(k)} ({n})" for k, n in counter.most_common())


def _when(t: datetime | None) -> str:
    return "" if t is None else t.strftime("%Y-%m-%d %H:%M UTC")


def render_html(record: ClassRecord, low_percent: float = LOW_PERCENT) -> str:
    """The report page; the plots it shows are written by :func:`write_report`."""
    e = html.escape
    ex_stats, ck_stats, times = exercise_stats(record), check_stats(record), timings(record)
    followed = follow_up(record, low_percent)
    by_id = {s.id: s for s in record.students}
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           "<meta name='viewport' content='width=device-width, initial-scale=1'>",
           f"<title>Class report: {e(record.course_dir.name)}</title><style>{_STYLE}</style></head><body>",
           "<h1>Class report</h1>",
           f"<p class='muted'>{len(record.students)} students, {len(record.assignments)} assignments, "
           f"{len(record.submissions)} graded submissions. Course folder: {e(str(record.course_dir))}.</p>",
           "<nav>" + "".join(f"<a href='#{i}'>{t}</a>" for i, t in _SECTIONS) + "</nav>"]
    if record.problems:
        out.append("<p>Not read:</p><ul>" + "".join(f"<li>{e(p)}</li>" for p in record.problems) + "</ul>")

    out.append("<h2 id='scores'>Score distribution</h2>" + _picture("scores", describe_scores(record)))
    out.append("<table><thead><tr><th>assignment</th><th>due</th><th>submitted</th><th>points</th><th>mean</th>"
               "<th>median</th><th>min</th><th>max</th></tr></thead><tbody>")
    for a in record.assignments:
        finals = sorted(s.final_score for s in record.submissions.values() if s.assignment == a.name)
        median = statistics.median(finals)
        out.append(f"<tr><td>{e(a.name)}</td><td>{_when(a.duedate)}</td><td class='num'>{len(finals)}</td>"
                   f"<td class='num'>{points(a.max_score)}</td><td class='num'>{points(round(sum(finals) / len(finals), 2))}</td>"
                   f"<td class='num'>{points(median)}</td><td class='num'>{points(finals[0])}</td>"
                   f"<td class='num'>{points(finals[-1])}</td></tr>")
    out.append("</tbody></table>")

    out.append("<h2 id='exercises'>Exercises that fail</h2>" + _picture("exercises", describe_exercises(ex_stats)))
    out.append("<table id='exercise-table'><thead><tr><th>assignment</th><th>exercise</th><th>failed</th>"
               "<th>of</th><th>rate</th><th>kinds of failure</th></tr></thead><tbody>")
    for s in ex_stats:
        out.append(f"<tr><td>{e(s.assignment)}</td><td>{e(s.exercise)}</td><td class='num'>{s.failed}</td>"
                   f"<td class='num'>{s.submissions}</td><td class='num'>{100 * s.rate:.0f}%</td>"
                   f"<td>{_kinds(s.kinds)}</td></tr>")
    out.append("</tbody></table>")

    out.append("<h2 id='checks'>Checks that fail</h2><p class='muted'>A result names the first check that failed "
               "in each exercise, so these are counts of first failures.</p>"
               + _picture("checks", describe_checks(ck_stats)))
    out.append("<table id='check-table'><thead><tr><th>assignment</th><th>exercise</th><th>check</th><th>failed</th>"
               "<th>of</th><th>rate</th><th>kinds</th></tr></thead><tbody>")
    for s in ck_stats:
        out.append(f"<tr><td>{e(s.assignment)}</td><td>{e(s.exercise)}</td><td>{e(s.check)}</td>"
                   f"<td class='num'>{s.failed}</td><td class='num'>{s.submissions}</td>"
                   f"<td class='num'>{100 * s.rate:.0f}%</td><td>{_kinds(s.kinds)}</td></tr>")
    out.append("</tbody></table>")

    out.append("<h2 id='timeline'>Submissions over time</h2>" + _picture("timeline", describe_timeline(times)))
    out.append("<table id='timeline-table'><thead><tr><th>assignment</th><th>due</th><th>submitted</th><th>late</th>"
               "<th>with a late penalty</th><th>time unknown</th></tr></thead><tbody>")
    for t in times:
        out.append(f"<tr><td>{e(t.assignment)}</td><td>{_when(t.duedate) or 'no due date'}</td>"
                   f"<td class='num'>{len(t.times) + t.unknown}</td><td class='num'>{t.late}</td>"
                   f"<td class='num'>{t.penalised}</td><td class='num'>{t.unknown}</td></tr>")
    out.append("</tbody></table>")

    out.append(f"<h2 id='follow-up'>Missing or low work</h2><p class='muted'>Students with a missing submission or a "
               f"final score below {low_percent:g}% in any assignment.</p>" + _picture("students", describe_students(record, low_percent)))
    out.append("<table id='follow-up-table'><thead><tr><th>student</th><th>name</th><th>what</th></tr></thead><tbody>")
    for sid, issues in followed.items():
        out.append(f"<tr><td>{e(sid)}</td><td>{e(by_id[sid].sortable_name)}</td><td>{e('; '.join(issues))}</td></tr>")
    out.append("</tbody></table>")

    out.append("<h2 id='students'>Every student</h2><table id='student-table'><thead><tr><th>student</th>"
               "<th>name</th><th>e-mail</th>" + "".join(f"<th>{e(a.name)}</th>" for a in record.assignments)
               + "<th>total</th><th>%</th></tr></thead><tbody>")
    possible = sum(a.max_score for a in record.assignments)
    for st in record.students:
        cells, total = [], 0.0
        for a in record.assignments:
            sub = record.submission(st.id, a.name)
            if sub is None:
                cells.append("<td class='missing'>missing</td>")
                continue
            total += sub.final_score
            late = sub.is_late(a.duedate)
            mark = ""
            if sub.late_penalty:
                mark = f" <span class='late'>(late, −{points(sub.late_penalty)})</span>"
            elif late:
                mark = " <span class='late'>(late)</span>"
            cells.append(f"<td class='num'>{points(sub.final_score)}{mark}</td>")
        pct = f"{100 * total / possible:.0f}" if possible else ""
        out.append(f"<tr><td>{e(st.id)}</td><td>{e(st.sortable_name)}</td><td>{e(st.email)}</td>{''.join(cells)}"
                   f"<td class='num'>{points(total)}</td><td class='num'>{pct}</td></tr>")
    out.append("</tbody></table>")
    out.append("<p class='muted'>Written by python -m autograder report.</p></body></html>\n")
    return "\n".join(out)


def write_report(record: ClassRecord, out_dir: Path, low_percent: float = LOW_PERCENT, progress: bool = False) -> Path:
    """Write ``index.html`` and both themes of every plot into ``out_dir``; return the page's path."""
    from autograder.course import CourseError

    ex_stats, ck_stats = exercise_stats(record), check_stats(record)
    plots = {"scores": lambda th: plot_scores(record, th), "exercises": lambda th: plot_exercises(ex_stats, th),
             "checks": lambda th: plot_checks(ck_stats, th), "timeline": lambda th: plot_timeline(timings(record), th),
             "students": lambda th: plot_students(record, th)}
    jobs = [(name, theme) for name in plots for theme in THEMES]
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc="drawing plots", unit="plot", file=sys.stderr, leave=False)
    plot_dir = out_dir / PLOTS_DIR
    try:
        plot_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CourseError(f"cannot write the report to {out_dir}: {err.strerror or err}") from None
    for name, theme in jobs:
        fig = plots[name](theme)
        fig.savefig(plot_dir / f"{name}-{theme}.png", transparent=True, metadata={"Software": None})
    page = out_dir / "index.html"
    write_atomic(page, render_html(record, low_percent))
    return page


def report_main(args: argparse.Namespace) -> int:
    """``autograder report``: read the graded class and write the report."""
    record = load_class(args.course_dir, progress=True)
    for problem in record.problems:
        print(f"autograder report: skipped {problem}", file=sys.stderr)
    page = write_report(record, args.output or record.course_dir / "report", args.low, progress=True)
    print(f"report of {len(record.students)} students, {len(record.assignments)} assignment(s): {page}")
    return 0
