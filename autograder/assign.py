"""``python -m autograder assign``: chapters -> nbgrader source notebooks -> student releases.

For each chapter ``chapters/<name>.md`` (the assignment's name is the file's stem) this writes, in
nbgrader's layout under the course folder:

- ``<course>/source/<name>/<name>.ipynb``: the instructor's version, with the reference solutions
  between nbgrader's solution markers and the hidden checks between its hidden-test markers;
- ``<course>/release/<name>/<name>.ipynb``: the students' version, made from it by nbgrader's own
  ``generate_assignment`` (which also records the assignment in ``<course>/gradebook.db``);
- ``<course>/nbgrader_config.py`` (see :mod:`autograder.nbgrader_config`).

nbgrader releases every file of ``source/<name>/`` and ``release/<name>/`` to every student, so
``assign`` refuses to run when either folder holds anything it did not make (feedback written by a
grader, a student's copy, notes): it names the files and leaves them alone.

What the notebooks hold is the format in ``docs/AUTHORING.md`` ("Generated notebooks"): the grader
relies on it. The same commit always gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from importlib import metadata
from typing import Any

import nbformat

from autograder import inputs, literals, runtime
from autograder.chapters import (
    CHAPTERS_DIR,
    BEGIN_HIDDEN,
    END_HIDDEN,
    Exercise,
    Question,
    chapter_paths,
    find_exercises,
    find_questions,
    read_chapter,
    with_markers,
)
from autograder.course import CourseError, write_atomic
from autograder.exercises import all_specs
from autograder.nbgrader_config import KERNEL_NAME, ensure_tools_on_path, load_config, write_config
from autograder.service.client import submit_cell
from autograder.notebook_format import (ANSWER_PREFIX, ANSWER_STUB, CHECK_PREFIX, FORMAT, HIDDEN_SOURCE,
                                         METADATA_KEY, NBGRADER_SCHEMA, QUESTION_PREFIX, SETUP_CODE_ID, SETUP_ID,
                                         TASK_PREFIX)
from autograder.specs import Spec

#: Name of the dict of public cases in the setup cell, and the labels of the two kinds of checks.
PUBLIC_CASES: str = "PUBLIC_CASES"
PUBLIC_LABEL: str = "public check"
HIDDEN_LABEL: str = "hidden check"
#: The imports every exercise may use (docs/AUTHORING.md, rule 5).
IMPORTS: str = """from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F"""
_FUTURE_LINE = "from __future__ import annotations\n"
_TITLE_RE = re.compile(r"^#\s+(.+?)\s*$", re.MULTILINE)


def runtime_source() -> str:
    """``autograder/runtime.py`` verbatim, minus its ``from __future__`` line (the setup cell has it)."""
    text = Path(runtime.__file__).read_text()
    if text.count(_FUTURE_LINE) != 1:
        raise AssertionError(f"{runtime.__file__} must have exactly one line {_FUTURE_LINE.strip()!r}")
    head, tail = text.split(_FUTURE_LINE)
    return (head.rstrip("\n") + "\n\n" + tail.lstrip("\n")).strip("\n")


def _q(text: str) -> str:
    """A string as a double-quoted Python literal."""
    return json.dumps(text)


def cases_literal(cases: Sequence[tuple], indent: int, before: str, after: str) -> str:
    """``before``, a list of ``(args, expected)`` cases as a Python literal, then ``after``."""
    text = literals.to_literal([tuple(c) for c in cases], indent=indent, start=indent + len(before),
                               reserve=len(after))
    return before + text + after


def check_source(spec: Spec, hidden_cases: Sequence[tuple]) -> str:
    """The check cell: the public check, then the hidden cases between nbgrader's hidden-test markers."""
    call = cases_literal(hidden_cases, 0, f"run_cases({_q(spec.id)}, {spec.id}, ",
                         f", {_q(spec.kind)}, {spec.rtol!r}, {spec.atol!r}, label={_q(HIDDEN_LABEL)})")
    return f"check({_q(spec.id)}, {spec.id})\n{BEGIN_HIDDEN}\n{call}\n{END_HIDDEN}"


def setup_source(specs: Sequence[Spec]) -> str:
    """The locked setup cell: imports, the check runtime, the literal helpers, the public cases, ``check``."""
    entries = []
    for spec in specs:
        entries.append(cases_literal(spec.public_cases(), 4,
                                     f"    {_q(spec.id)}: ({_q(spec.kind)}, {spec.rtol!r}, {spec.atol!r}, ", "),"))
    public = f"{PUBLIC_CASES} = {{\n" + "\n".join(entries) + "\n}"
    shown: dict[str, Any] = {}
    for spec in specs:
        for var, value in spec.shown.items():
            if var in shown and runtime.compare(shown[var], value) is not None:
                raise CourseError(f"the example `{var}` has two different values in the specs of one chapter")
            shown[var] = value
    examples = "\n".join(f"{var} = " + literals.to_literal(value, start=len(var) + 3)
                         for var, value in shown.items())
    check = (f'def check(name, fn):\n'
             f'    """Run the public checks of exercise ``name`` on ``fn``; raise with a clear reason if one fails."""\n'
             f'    kind, rtol, atol, cases = {PUBLIC_CASES}[name]\n'
             f'    run_cases(name, fn, cases, kind, rtol, atol, label={_q(PUBLIC_LABEL)})')
    parts = [
        IMPORTS,
        "# --- The check runtime: autograder/runtime.py, verbatim. ---",
        runtime_source(),
        "# --- Helper the case values below use. ---",
        literals.PRELUDE,
        "# --- Each exercise's public cases: (kind, rtol, atol, [(args, expected), ...]). ---",
        public,
        check,
    ]
    if examples:
        parts.append("# --- The examples the tasks refer to by name. ---\n" + examples)
    return "\n\n\n".join(parts) + "\n"


def chapter_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The chapter's title: its first level-1 markdown heading."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = _TITLE_RE.search(cell.source)
            if m:
                return m.group(1)
    return fallback


def intro_source(title: str) -> str:
    """The locked first cell: what the assignment is and how to work on it."""
    return (f"# Assignment: {title}\n\n"
            "How to work:\n\n"
            "1. Run the setup cell below (its code is folded away: click the bar or the three dots to "
            "unfold it). It defines `check` and the public examples.\n"
            "2. For each exercise, read the task, then replace `# YOUR CODE HERE` and "
            "`raise NotImplementedError()` in the cell below it with your code. Keep the function's "
            "name and signature.\n"
            "3. Run the check cell after it: it prints a tick when your function gives the expected "
            "result on the public examples, and says what differs otherwise. A failing check stops "
            "*Run All* there (Jupyter stops at the first error): fix it, or run the later cells one "
            "by one.\n"
            "4. Save the notebook and submit it. The grader runs the same checks and more cases, "
            "so a function that only fits the examples will lose points.\n")


def _nbgrader(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = True,
              points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": NBGRADER_SCHEMA,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _cell(kind: str, source: str, grade_id: str, hidden: bool = False, **nbgrader) -> nbformat.NotebookNode:
    make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
    cell = make(source=source, metadata={**(HIDDEN_SOURCE if hidden else {}), **_nbgrader(grade_id, **nbgrader)})
    cell.id = grade_id.replace(".", "-")[:64]
    return cell


def source_notebook(name: str, title: str, exercises: Sequence[Exercise],
                    specs: dict[str, Spec], questions: Sequence[Question] = ()) -> nbformat.NotebookNode:
    """nbgrader's source notebook of one assignment: exercises and written questions in chapter order."""
    missing = [e.id for e in exercises if e.id not in specs]
    if missing:
        raise CourseError(f"{name}: no check spec for exercise(s) {', '.join(missing)} "
                          f"(add them to autograder/exercises/)")
    chosen = [specs[e.id] for e in exercises]
    cells = [
        _cell("markdown", intro_source(title), SETUP_ID),
        _cell("code", setup_source(chosen), SETUP_CODE_ID, hidden=True),
    ]
    items = [(ex.solution_cell, ex, spec) for ex, spec in zip(exercises, chosen)]
    items += [(q.cell, q, None) for q in questions]
    for _, item, spec in sorted(items, key=lambda i: i[0]):
        if isinstance(item, Question):
            cells.append(_cell("markdown", item.text, QUESTION_PREFIX + item.id))
            cells.append(_cell("markdown", ANSWER_STUB, ANSWER_PREFIX + item.id, solution=True, grade=True,
                               locked=False, points=item.points))
            continue
        ex = item
        cells.append(_cell("markdown", ex.task, TASK_PREFIX + ex.id))
        cells.append(_cell("code", with_markers(ex.reference_source()), ex.id, solution=True, locked=False))
        cells.append(_cell("code", check_source(spec, spec.hidden_cases()), CHECK_PREFIX + ex.id,
                           grade=True, points=ex.points))
    cells.append(_cell("code", submit_cell(name), "submit", hidden=True))  # the grading service's (docs/SERVICE.md)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        METADATA_KEY: {"assignment": name, "format": FORMAT},
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL_NAME},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nb


def generate_release(course_dir: Path, name: str) -> Path:
    """Run nbgrader's ``generate_assignment`` on one source assignment; return the release notebook."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log

    ensure_tools_on_path()
    config = load_config(course_dir)
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = name
    app = GenerateAssignment(coursedir=coursedir, config=config)
    app.force = True
    app.create_assignment = True
    result = capture_log(app)
    if not result["success"]:
        raise CourseError(f"{name}: nbgrader generate_assignment failed:\n{result.get('log', '')}"
                          f"{result.get('error', '')}")
    release = Path(coursedir.format_path(coursedir.release_directory, ".", name)) / f"{name}.ipynb"
    if not release.is_file():
        raise CourseError(f"{name}: nbgrader generate_assignment made no {release}")
    return release


def foreign_files(course_dir: Path, name: str) -> dict[str, list[str]]:
    """Files in ``source/<name>/`` and ``release/<name>/`` that ``assign`` did not make, per folder.

    ``assign`` makes ``<name>.ipynb`` in each. What nbgrader never copies nor releases (its
    ``CourseDirectory.ignore`` patterns, such as ``.ipynb_checkpoints``) does not count.
    """
    from fnmatch import fnmatch

    from nbgrader.coursedir import CourseDirectory

    ignore = CourseDirectory().ignore
    found = {}
    for step in ("source", "release"):
        folder = course_dir / step / name
        if not folder.is_dir():
            continue
        extra = []
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if any(fnmatch(part, pattern) for part in rel.parts for pattern in ignore):
                continue
            if path.is_symlink() or (path.is_file() and rel.as_posix() != f"{name}.ipynb"):
                extra.append(rel.as_posix())
        if extra:
            found[f"{step}/{name}"] = extra
    return found


def refuse_foreign_files(course_dir: Path, names: Sequence[str]) -> None:
    """Stop, before writing anything, if an assignment's folders hold files that nbgrader would release."""
    found = {folder: files for name in names for folder, files in foreign_files(course_dir, name).items()}
    if found:
        listing = "; ".join(f"{course_dir / folder}: {', '.join(files)}" for folder, files in found.items())
        raise CourseError(f"not generating: nbgrader would release these files, which assign did not make, to "
                          f"every student: {listing}. Move them out of {course_dir} (feedback belongs in "
                          f"{course_dir / 'feedback'}) and run assign again")


def chapter_files(chapters_dir: Path = CHAPTERS_DIR) -> dict[str, Path]:
    """Every assignment name (chapter file stem) and its chapter file, in chapter order."""
    return {p.stem: p for p in chapter_paths(chapters_dir)}


#: In the course folder: what each assignment was last generated from, and the digests of the two
#: notebooks that generation wrote (``assign`` regenerates an assignment when either differs).
INPUTS_STAMP = ".assign-inputs.json"
#: Packages whose version can change the generated bytes (beyond the grader's numeric ones).
GENERATOR_PACKAGES: tuple[str, ...] = ("nbgrader", "nbformat")


def assignment_inputs(name: str, chapter: Path) -> dict[str, str]:
    """What an assignment's notebooks are made from, as digests (:mod:`autograder.inputs`).

    The chapter (tasks, questions, which exercises), the reference solutions and the check specs
    with the runtime (the cases' values, the setup cell), the hidden seed, the grader's version
    (its code and the numeric libraries that compute the expected values), the generator's code, and
    the versions of nbgrader and nbformat, which write the notebooks.
    """
    return {
        "chapter": hashlib.sha256(chapter.read_bytes()).hexdigest(),
        "reference": inputs.reference_digest(name),
        "specs": inputs.specs_digest(name),
        "hidden_seed": inputs.hidden_seed_digest(),
        "grader": inputs.grader_version(),
        "generator": inputs.generator_digest(),
        "packages": " ".join(f"{p}=={metadata.version(p)}" for p in GENERATOR_PACKAGES),
    }


def _made_files(course_dir: Path, name: str) -> dict[str, Path]:
    """The two notebooks ``assign`` makes for an assignment, by their path in the course folder."""
    return {f"{step}/{name}/{name}.ipynb": course_dir / step / name / f"{name}.ipynb" for step in ("source", "release")}


def _file_digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _read_inputs_stamp(course_dir: Path) -> dict:
    try:
        stamp = json.loads((course_dir / INPUTS_STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) else {}


def _in_gradebook(course_dir: Path, name: str) -> bool:
    """Whether nbgrader's gradebook records the assignment (``generate_assignment`` adds it)."""
    path = course_dir / "gradebook.db"
    if not path.is_file():
        return False
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
            return db.execute("SELECT 1 FROM assignment WHERE name = ?", (name,)).fetchone() is not None
    except sqlite3.Error:
        return False


def is_current(course_dir: Path, name: str, made_from: dict[str, str]) -> bool:
    """Whether the course holds an assignment generated from ``made_from``, its notebooks untouched since."""
    entry = _read_inputs_stamp(course_dir).get(name)
    if not isinstance(entry, dict) or entry.get("inputs") != made_from:
        return False
    made = entry.get("made") or {}
    return (all(made.get(rel) == _file_digest(path) for rel, path in _made_files(course_dir, name).items())
            and _in_gradebook(course_dir, name))


def _record(course_dir: Path, name: str, made_from: dict[str, str] | None) -> None:
    """Record (or, with ``None``, forget) what an assignment's notebooks in the course were made from."""
    stamp = _read_inputs_stamp(course_dir)
    if made_from is None:
        if stamp.pop(name, None) is None:
            return
    else:
        stamp[name] = {"inputs": made_from, "made": {rel: _file_digest(path)
                                                     for rel, path in _made_files(course_dir, name).items()}}
    write_atomic(course_dir / INPUTS_STAMP, json.dumps(stamp, indent=1, sort_keys=True) + "\n")


def assign(names: Sequence[str], course_dir: Path, chapters_dir: Path = CHAPTERS_DIR,
           exchange_root: str | Path | None = None, force: bool = False) -> list[Path]:
    """Generate the source and release notebooks of ``names`` (all chapters if empty); return the releases.

    An assignment whose inputs (:func:`assignment_inputs`) are those its notebooks in the course were
    made from, with both notebooks unchanged since and the assignment in the gradebook, is left as it
    is (its bytes are those a regeneration would write); ``force`` regenerates it anyway.
    """
    known = chapter_files(chapters_dir)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CourseError(f"unknown assignment(s) {', '.join(unknown)}; known: {', '.join(known) or '(none)'} "
                          f"(the stems of the chapter files in {chapters_dir})")
    if not known:
        raise CourseError(f"no chapters in {chapters_dir}")
    course_dir = Path(course_dir).resolve()
    names = list(names or known)
    refuse_foreign_files(course_dir, names)
    write_config(course_dir, exchange_root)
    made_from = {name: assignment_inputs(name, known[name]) for name in names}
    stale = [name for name in names if force or not is_current(course_dir, name, made_from[name])]
    specs = all_specs() if stale else {}
    releases = []
    for name in names:
        if name not in stale:
            release = course_dir / "release" / name / f"{name}.ipynb"
            releases.append(release)
            print(f"assign: {name}: up to date (made from the same inputs) -> "
                  f"{release.relative_to(course_dir.parent)}", flush=True)
            continue
        _record(course_dir, name, None)  # an interrupted generation leaves the assignment stale
        nb = read_chapter(known[name])
        exercises = find_exercises(nb, name)
        if not exercises:
            raise CourseError(f"{name}: the chapter has no exercises, so there is nothing to assign")
        questions = find_questions(nb, name)
        source_nb = source_notebook(name, chapter_title(nb, name), exercises, specs, questions)
        folder = course_dir / "source" / name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_nb, folder / f"{name}.ipynb")
        release = generate_release(course_dir, name)
        _record(course_dir, name, made_from[name])
        releases.append(release)
        points = sum(e.points for e in exercises)
        by_hand = f", {len(questions)} written questions, {sum(q.points for q in questions)} points graded by hand" \
            if questions else ""
        print(f"assign: {name}: {len(exercises)} exercises, {points} points{by_hand} -> "
              f"{release.relative_to(course_dir.parent)}", flush=True)
    return releases


def main(args: argparse.Namespace) -> int:
    """The ``assign`` subcommand."""
    assign(args.assignments, args.course_dir, args.chapters_dir or CHAPTERS_DIR, args.exchange_root,
           force=args.force)
    return 0
