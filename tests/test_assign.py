"""Assignment generation (``python -m autograder assign``): literals, golden output, leaks, kernels.

The golden test compares everything ``assign`` makes from the fixture chapter
``tests/fixtures/assign/ch0_assign_fixture.md`` (the ``source/`` and ``release/`` folders) file by
file and byte by byte with the committed folder ``tests/golden/``. After an intended change of the
output (the notebook format, ``autograder/runtime.py``, the literals, the ch2 references or specs the
fixture borrows, nbgrader's version), regenerate it and review the diff before committing:

    UPDATE_GOLDEN=1 PYTHONPATH=. .venv/bin/python -m pytest tests/test_assign.py -k golden
    git diff tests/golden/
"""

from __future__ import annotations

import filecmp
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from nbclient import NotebookClient

from autograder import assign as assign_mod
from autograder import literals
from autograder.assign import assign
from autograder.notebook_format import CHECK_PREFIX, FORMAT, SETUP_CODE_ID, TASK_PREFIX
from autograder.chapters import (
    BEGIN_SOLUTION,
    CHAPTERS_DIR,
    END_SOLUTION,
    chapter_paths,
    load_exercises,
    stub,
    with_markers,
)
from autograder.course import CourseError
from autograder.cli import main as cli_main
from autograder.exercises import all_specs
from autograder.nbgrader_config import CONFIG_FILE, ensure_tools_on_path, load_config
from autograder.runtime import CheckFailed
from autograder.service.client import submit_cell

pytestmark = pytest.mark.grading

HERE = Path(__file__).resolve().parent
FIXTURE_DIR = HERE / "fixtures" / "assign"
FIXTURE = "ch0_assign_fixture"
GOLDEN_DIR = HERE / "golden"
#: The folders of a course that the golden test compares.
GENERATED = ("source", "release")
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"
REAL_CHAPTERS = [p.stem for p in chapter_paths(CHAPTERS_DIR)]
KERNEL_TIMEOUT = 300
_SOLUTIONS_IMPORT = re.compile(r"^\s*(from\s+solutions[\s.]|import\s+solutions\b)", re.MULTILINE)


# --- helpers ---------------------------------------------------------------------------------------

def notebook_path(course: Path, step: str, name: str) -> Path:
    """Where ``assign`` puts an assignment's notebook in nbgrader's layout."""
    return course / step / name / f"{name}.ipynb"


def cells_by_id(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """The cells of a generated notebook by nbgrader grade_id."""
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def run_notebook(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    """Execute a notebook in a fresh python3 kernel, keeping going after errors, as nbgrader does."""
    client = NotebookClient(nb, timeout=KERNEL_TIMEOUT, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def errors(cell: nbformat.NotebookNode) -> list[dict]:
    """The error outputs of an executed cell."""
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def text_of(cell: nbformat.NotebookNode) -> str:
    """The printed text of an executed cell."""
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def no_solutions_module_cell() -> nbformat.NotebookNode:
    """A cell that fails if anything in the kernel imported the ``solutions`` package."""
    return nbformat.v4.new_code_cell(
        'import sys\nassert not any(m == "solutions" or m.startswith("solutions.") for m in sys.modules), '
        '"the notebook imported the solutions package"\nprint("no solutions imported")')


def same_values(a, b) -> bool:
    """Exactly the same value: types, dtypes, shapes, bits (NaN equals NaN), grads, requires_grad."""
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        if a.dtype != b.dtype or a.shape != b.shape or a.requires_grad != b.requires_grad:
            return False
        ga, gb = (a.grad if a.is_leaf else None), (b.grad if b.is_leaf else None)
        if (ga is None) != (gb is None) or (ga is not None and not same_values(ga, gb)):
            return False
        if a.dtype == torch.bfloat16:  # numpy has no bfloat16; float32 holds its values exactly
            a, b = a.float(), b.float()
        return same_values(a.detach().numpy(), b.detach().numpy())
    if isinstance(a, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype.kind == "f":
            return bool(np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b)))
        return bool(np.array_equal(a, b))
    if isinstance(a, pd.DataFrame):
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        except AssertionError:
            return False
        return all(same_values(a[c].to_numpy(), b[c].to_numpy()) if a[c].dtype.kind == "f" else True
                   for c in a.columns)
    if isinstance(a, pd.Series):
        try:
            pd.testing.assert_series_equal(a, b, check_exact=True)
        except AssertionError:
            return False
        return True
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same_values(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_values(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and same_values(np.asarray(a), np.asarray(b))
    return a == b


def _layout_free(text: str) -> str:
    """Literal text without the parts its layout changes (whitespace, trailing commas)."""
    return re.sub(r"[\s,]", "", text)


def assert_round_trip(value) -> None:
    text = literals.to_literal(value)
    back = literals.evaluate(text)
    assert same_values(value, back), f"{value!r} was written as\n{text}\nand read back as {back!r}"


# --- literals --------------------------------------------------------------------------------------

FLOAT_DTYPES = {torch.float32: 32, torch.float64: 64, torch.float16: 16}
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32,
          torch.uint8, torch.bool]


@st.composite
def tensors(draw) -> torch.Tensor:
    """Small tensors of every supported dtype and shape (0-d, empty, 1-3 dims), maybe with grads."""
    dtype = draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
    n = math.prod(shape)
    if dtype == torch.bool:
        values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    elif dtype.is_floating_point:
        width = FLOAT_DTYPES.get(dtype, 32)
        values = draw(st.lists(st.floats(width=width), min_size=n, max_size=n))
    else:
        info = torch.iinfo(dtype)
        values = draw(st.lists(st.integers(info.min, info.max), min_size=n, max_size=n))
    t = torch.tensor(values, dtype=dtype).reshape(shape)
    if dtype.is_floating_point and draw(st.booleans()):
        t.requires_grad_()
        if draw(st.booleans()):
            t.grad = torch.tensor(draw(st.lists(st.floats(width=32), min_size=n, max_size=n)),
                                  dtype=dtype).reshape(shape)
    return t


@st.composite
def arrays(draw) -> np.ndarray:
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64, np.bool_]))
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    n = math.prod(shape)
    if dtype is np.bool_:
        values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    elif dtype is np.int64:
        values = draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n, max_size=n))
    else:
        values = draw(st.lists(st.floats(width=32 if dtype is np.float32 else 64), min_size=n, max_size=n))
    return np.array(values, dtype=dtype).reshape(shape)


@st.composite
def frames(draw) -> pd.DataFrame:
    """Small Titanic-like frames: float columns with NaN, ints, bools, strings with missing values."""
    n = draw(st.integers(0, 5))
    columns = {}
    for i in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["float", "int", "bool", "str", "object", "category"]))
        name = f"{kind}_{i}"
        if kind == "float":
            columns[name] = pd.Series(draw(st.lists(st.floats(), min_size=n, max_size=n)), dtype="float64")
        elif kind == "int":
            columns[name] = pd.Series(draw(st.lists(st.integers(-10**6, 10**6), min_size=n, max_size=n)),
                                      dtype="int64")
        elif kind == "bool":
            columns[name] = pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype="bool")
        elif kind == "category":
            columns[name] = pd.Series(draw(st.lists(st.sampled_from(["S", "C", "Q"]), min_size=n, max_size=n)),
                                      dtype="category")
        else:
            words = st.one_of(st.text(max_size=4), st.just(math.nan)) if kind == "str" else \
                st.one_of(st.text(max_size=4), st.none(), st.integers(-5, 5))
            columns[name] = pd.Series(draw(st.lists(words, min_size=n, max_size=n)),
                                      dtype="str" if kind == "str" else "object")
    df = pd.DataFrame(columns, index=pd.RangeIndex(n))
    if n and draw(st.booleans()):
        df = df.set_axis(pd.Index(draw(st.lists(st.integers(-99, 99), min_size=n, max_size=n, unique=True))))
    return df


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=5),
                    st.just(torch.device("cpu")), st.sampled_from([torch.float32, torch.int64]))
leaves = st.one_of(scalars, tensors(), arrays(), frames(), frames().map(lambda df: df.iloc[:, 0] if df.shape[1]
                                                                       else pd.Series([], dtype="float64")))
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(st.text(max_size=3), inner, max_size=3)), max_leaves=6)


@given(values)
def test_literals_round_trip(value) -> None:
    """Every value a case can hold is written as a literal that gives back exactly the same value."""
    assert_round_trip(value)


@pytest.mark.parametrize("spec_id", sorted(all_specs()))
def test_literals_round_trip_every_real_case(spec_id: str) -> None:
    """The public and hidden cases of every exercise of the course survive their literal form."""
    spec = all_specs()[spec_id]
    for case in spec.public_cases() + spec.hidden_cases():
        assert_round_trip(case)


def test_literals_are_readable() -> None:
    """Short floats for float32 values, gradients and requires_grad spelt out, no unsupported types."""
    t = torch.tensor([0.2, -0.4]).requires_grad_()
    t.grad = torch.tensor([0.1, math.nan])
    assert literals.to_literal(t) == ("with_grad(\n"
                                      "    torch.tensor([0.2, -0.4], dtype=torch.float32).requires_grad_(),\n"
                                      "    torch.tensor([0.1, math.nan], dtype=torch.float32),\n"
                                      ")")
    assert literals.to_literal((1,)) == "(1,)"
    assert literals.to_literal(torch.empty(0, 3, dtype=torch.int64)) == "torch.empty((0, 3), dtype=torch.int64)"
    long = literals.to_literal(torch.rand(30, 30))
    assert max(len(line) for line in long.splitlines()) <= literals.WIDTH
    with pytest.raises(literals.LiteralError, match="cannot write a value of type"):
        literals.to_literal(object())


# --- generating ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixture_course(tmp_path_factory) -> Path:
    """The fixture chapter's course folder, generated once."""
    course = tmp_path_factory.mktemp("fixture") / "course"
    assign([FIXTURE], course, FIXTURE_DIR, exchange_root=course.parent / "exchange")
    return course


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_golden(fixture_course: Path) -> None:
    """The fixture's source and release folders are, byte for byte, the committed tests/golden/."""
    if UPDATE_GOLDEN:
        for step in GENERATED:
            shutil.rmtree(GOLDEN_DIR / step, ignore_errors=True)
            shutil.copytree(fixture_course / step, GOLDEN_DIR / step)
    for step in GENERATED:
        made, golden = fixture_course / step, GOLDEN_DIR / step
        assert _files(made) == _files(golden), f"{step}/: files differ from the golden folder"
        for rel in _files(made):
            assert filecmp.cmp(made / rel, golden / rel, shallow=False), (
                f"{step}/{rel} differs from tests/golden/{step}/{rel}; if intended, regenerate (see the "
                f"docstring of {Path(__file__).name})")


def test_second_run_gives_identical_bytes(fixture_course: Path, tmp_path: Path) -> None:
    """Running again (over an existing course with its gradebook, or into a fresh one) changes no byte."""
    before = {rel: (fixture_course / rel).read_bytes() for rel in _files(fixture_course)
              if rel.split(os.sep)[0] in GENERATED}
    assign([FIXTURE], fixture_course, FIXTURE_DIR)
    assign([FIXTURE], tmp_path / "course", FIXTURE_DIR)
    for course in (fixture_course, tmp_path / "course"):
        after = {rel: (course / rel).read_bytes() for rel in _files(course) if rel.split(os.sep)[0] in GENERATED}
        assert after == before


def test_course_files(fixture_course: Path) -> None:
    """The course folder has nbgrader's config (with the contract's settings) and a gradebook that knows the assignment."""
    config = load_config(fixture_course)
    assert Path(config.CourseDirectory.root) == fixture_course.resolve()
    assert config.ClearSolutions.code_stub == {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    assert config.Exchange.root == str(fixture_course.parent / "exchange")
    from nbgrader.api import Gradebook
    ensure_tools_on_path()
    with Gradebook(f"sqlite:///{fixture_course / 'gradebook.db'}", config.CourseDirectory.course_id) as gb:
        assignment = gb.find_assignment(FIXTURE)
        assert assignment.max_score == sum(e.points for e in load_exercises(FIXTURE_DIR / f"{FIXTURE}.md"))


def test_gradebook_version_read_in_process_is_what_alembic_says(fixture_course: Path) -> None:
    """nbgrader stamps a new gradebook with ``alembic heads`` run as a command; ours reads the same
    revision in-process (:func:`autograder.nbgrader_config.alembic_head`), and the gradebook the
    generator made records it."""
    import sqlite3

    from nbgrader.dbutil import _temp_alembic_ini

    from autograder.nbgrader_config import alembic_head

    ensure_tools_on_path()
    with _temp_alembic_ini("sqlite:////nonexistent/gradebook.db") as ini:
        printed = subprocess.run(["alembic", "-c", ini, "heads"], capture_output=True, text=True, check=True).stdout
    assert printed.split()[0] == alembic_head()
    with sqlite3.connect(fixture_course / "gradebook.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(alembic_head(),)]


def test_notebook_format(fixture_course: Path) -> None:
    """The source notebook's cells, metadata and contents are the documented format."""
    nb = nbformat.read(notebook_path(fixture_course, "source", FIXTURE), as_version=4)
    exercises = load_exercises(FIXTURE_DIR / f"{FIXTURE}.md")
    assert nb.metadata.autograder == {"assignment": FIXTURE, "format": FORMAT}
    assert nb.metadata.kernelspec.name == "python3"
    ids = [c.metadata.nbgrader.grade_id for c in nb.cells]
    assert ids == ["setup", "setup_code"] + [g for e in exercises for g in (TASK_PREFIX + e.id, e.id, CHECK_PREFIX + e.id)] \
        + ["submit"]
    cells = cells_by_id(nb)
    assert cells["submit"].source == submit_cell(FIXTURE)  # the grading service's cell (docs/SERVICE.md), last
    assert cells["setup"].source.startswith("# Assignment: A fixture chapter for the assignment generator")
    assert assign_mod.runtime_source() in cells[SETUP_CODE_ID].source
    assert cells[SETUP_CODE_ID].source.startswith("from __future__ import annotations\n")
    for e in exercises:
        assert cells[TASK_PREFIX + e.id].source == e.task
        assert cells[e.id].source == with_markers(e.reference_source())
        assert cells[e.id].metadata.nbgrader == {"grade": False, "grade_id": e.id, "locked": False,
                                                 "schema_version": 3, "solution": True, "task": False}
        meta = cells[CHECK_PREFIX + e.id].metadata.nbgrader
        assert (meta.grade, meta.solution, meta.locked, meta.points) == (True, False, True, e.points)
        assert cells[CHECK_PREFIX + e.id].source.startswith(f'check("{e.id}", {e.id})\n### BEGIN HIDDEN TESTS\n')
    text = notebook_path(fixture_course, "source", FIXTURE).read_text()
    assert "narrative paragraph" not in text and "demonstration" not in text


def _first_visible_code(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The first code cell whose source Jupyter shows (not folded away with ``source_hidden``)."""
    return next(c for c in nb.cells if c.cell_type == "code"
                and not c.metadata.get("jupyter", {}).get("source_hidden"))


def test_release_starts_with_how_to_work_then_the_first_task(fixture_course: Path) -> None:
    """The setup cell's code is folded (Jupyter's source_hidden): the first code a student sees is a task's."""
    nb = nbformat.read(notebook_path(fixture_course, "release", FIXTURE), as_version=4)
    first = load_exercises(FIXTURE_DIR / f"{FIXTURE}.md")[0]
    setup = cells_by_id(nb)[SETUP_CODE_ID]
    assert nb.cells[0].cell_type == "markdown" and "How to work" in nb.cells[0].source
    assert nb.cells[1] is setup and setup.metadata.jupyter == {"source_hidden": True}
    assert len(setup.source.splitlines()) > 100, "control: the setup cell is long, which is why it is folded"
    assert _first_visible_code(nb).metadata.nbgrader.grade_id == first.id
    assert nb.cells[2].source == first.task and _first_visible_code(nb) is nb.cells[3]


def test_assign_refuses_folders_holding_files_it_did_not_make(tmp_path: Path, capsys) -> None:
    """nbgrader releases whatever sits in source/<name>/ and release/<name>/: assign stops and names it."""
    course = tmp_path / "course"
    assign([FIXTURE], course, FIXTURE_DIR, exchange_root=tmp_path / "exchange")
    release = notebook_path(course, "release", FIXTURE)
    before = release.read_bytes(), release.stat().st_mtime_ns
    checkpoints = course / "source" / FIXTURE / ".ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / f"{FIXTURE}-checkpoint.ipynb").write_text("{}")  # nbgrader never releases these
    assign([FIXTURE], course, FIXTURE_DIR)
    for foreign in (release.parent / f"{FIXTURE}_feedback.html", course / "source" / FIXTURE / "notes.txt"):
        foreign.write_text("not made by assign")
        before = release.read_bytes(), release.stat().st_mtime_ns
        with pytest.raises(CourseError, match=re.escape(foreign.name)):
            assign([FIXTURE], course, FIXTURE_DIR)
        status = cli_main(["assign", FIXTURE, "--course-dir", str(course), "--chapters-dir", str(FIXTURE_DIR)])
        assert status == 2 and foreign.name in capsys.readouterr().err
        assert foreign.read_text() == "not made by assign", "assign touched a file it did not make"
        assert (release.read_bytes(), release.stat().st_mtime_ns) == before, "assign wrote before refusing"
        foreign.unlink()
    assign([FIXTURE], course, FIXTURE_DIR)  # and once they are gone, it runs again


def test_unknown_assignment_names_the_known_ones(tmp_path: Path, capsys) -> None:
    with pytest.raises(CourseError, match=f"unknown assignment.*nope.*known: {FIXTURE}"):
        assign(["nope"], tmp_path / "course", FIXTURE_DIR)
    status = cli_main(["assign", "nope", "--course-dir", str(tmp_path / "course"), "--chapters-dir", str(FIXTURE_DIR)])
    assert status == 2 and FIXTURE in capsys.readouterr().err


def test_cli_shows_one_line_per_assignment(tmp_path: Path, capsys) -> None:
    status = cli_main(["assign", "--course-dir", str(tmp_path / "course"), "--chapters-dir", str(FIXTURE_DIR),
                       "--exchange-root", str(tmp_path / "exchange")])
    out = capsys.readouterr().out
    assert status == 0
    assert [line for line in out.splitlines() if line.startswith("assign:")] == [
        f"assign: {FIXTURE}: 4 exercises, 8 points -> course/release/{FIXTURE}/{FIXTURE}.ipynb"]
    assert (tmp_path / "course" / CONFIG_FILE).is_file()


# --- regenerating only what changed -----------------------------------------------------------------

def _state(course: Path) -> dict[str, tuple[int, bytes]]:
    """Every file of a course folder: its modification time and bytes."""
    return {rel: ((course / rel).stat().st_mtime_ns, (course / rel).read_bytes()) for rel in _files(course)}


def _notebooks_written(before: dict[str, tuple[int, bytes]], after: dict[str, tuple[int, bytes]]) -> set[str]:
    """The generated notebooks (source/ and release/) written between two states."""
    return {rel for rel in after if rel.split(os.sep)[0] in GENERATED and before.get(rel, (None,))[0] != after[rel][0]}


def _own(name: str) -> set[str]:
    return {os.path.join(step, name, f"{name}.ipynb") for step in GENERATED}


def test_nothing_changed_nothing_written(fixture_course: Path, capsys) -> None:
    """A second run with the same inputs writes no file at all (config, notebooks, gradebook, record)."""
    assign([FIXTURE], fixture_course, FIXTURE_DIR)
    before = _state(fixture_course)
    capsys.readouterr()
    assign([FIXTURE], fixture_course, FIXTURE_DIR)
    assert _state(fixture_course) == before, "a run with nothing changed wrote files"
    assert f"assign: {FIXTURE}: up to date" in capsys.readouterr().out


@pytest.fixture()
def two_chapters(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A chapters folder with the fixture chapter under two names, and a course generated from it."""
    chapters, course = tmp_path / "chapters", tmp_path / "course"
    chapters.mkdir()
    names = [FIXTURE, "ch9_assign_fixture_copy"]
    for name in names:
        shutil.copy(FIXTURE_DIR / f"{FIXTURE}.md", chapters / f"{name}.md")
    assign([], course, chapters)
    return chapters, course, names


def _full_regeneration(chapters: Path, fresh: Path, course: Path) -> None:
    """The generated notebooks of ``course`` are byte for byte those of a full generation into ``fresh``."""
    assign([], fresh, chapters)
    made = {rel: data for rel, (_, data) in _state(course).items() if rel.split(os.sep)[0] in GENERATED}
    full = {rel: data for rel, (_, data) in _state(fresh).items() if rel.split(os.sep)[0] in GENERATED}
    assert made == full, "the assignments regenerated one by one differ from a full regeneration"


def test_a_changed_chapter_regenerates_exactly_its_assignment(two_chapters, tmp_path: Path) -> None:
    chapters, course, (first, second) = two_chapters
    before = _state(course)
    chapter = chapters / f"{second}.md"
    chapter.write_text(chapter.read_text().replace("# A fixture chapter for the assignment generator",
                                                   "# A fixture chapter, retitled"))
    assign([], course, chapters)
    after = _state(course)
    assert _notebooks_written(before, after) == _own(second)
    assert after[os.path.join("release", second, f"{second}.ipynb")][1] != \
        before[os.path.join("release", second, f"{second}.ipynb")][1], "control: the new title is in the release"
    _full_regeneration(chapters, tmp_path / "fresh", course)


@pytest.mark.parametrize("digest", ["reference_digest", "specs_digest"])
def test_a_changed_reference_or_spec_regenerates_exactly_its_assignment(
        two_chapters, digest: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The digest of one assignment's references (or check specs) differs: that assignment is regenerated."""
    chapters, course, (first, second) = two_chapters
    before = _state(course)
    original = getattr(assign_mod.inputs, digest)
    monkeypatch.setattr(assign_mod.inputs, digest, lambda name, *a: "changed" if name == first else original(name, *a))
    assign([], course, chapters)
    assert _notebooks_written(before, _state(course)) == _own(first)


@pytest.mark.parametrize("digest", ["grader_version", "generator_digest"])
def test_a_changed_grader_or_generator_regenerates_every_assignment(
        two_chapters, digest: str, monkeypatch: pytest.MonkeyPatch) -> None:
    chapters, course, names = two_chapters
    before = _state(course)
    monkeypatch.setattr(assign_mod.inputs, digest, lambda *a: "changed")
    assign([], course, chapters)
    assert _notebooks_written(before, _state(course)) == set().union(*map(_own, names))


def test_a_changed_hidden_seed_regenerates_every_assignment_as_a_full_run_would(
        two_chapters, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autograder.specs import HIDDEN_SEED, HIDDEN_SEED_ENV

    chapters, course, names = two_chapters
    before = _state(course)
    monkeypatch.setenv(HIDDEN_SEED_ENV, str(HIDDEN_SEED + 1))
    assign([], course, chapters)
    after = _state(course)
    assert _notebooks_written(before, after) == set().union(*map(_own, names))
    source = os.path.join("source", names[0], f"{names[0]}.ipynb")
    assert after[source][1] != before[source][1], "control: other hidden cases in the source notebook"
    _full_regeneration(chapters, tmp_path / "fresh", course)


def test_a_touched_or_missing_output_is_regenerated(two_chapters) -> None:
    """A notebook edited or deleted by hand, or a gradebook that lost the assignment, is made again."""
    chapters, course, (first, second) = two_chapters
    release = notebook_path(course, "release", first)
    good = release.read_bytes()
    release.write_bytes(good.replace(b"YOUR CODE HERE", b"my notes"))
    before = _state(course)
    assign([], course, chapters)
    assert release.read_bytes() == good and _notebooks_written(before, _state(course)) == _own(first)
    notebook_path(course, "source", second).unlink()
    assign([], course, chapters)
    assert notebook_path(course, "source", second).is_file()
    (course / "gradebook.db").unlink()
    before = _state(course)
    assign([], course, chapters)
    assert (course / "gradebook.db").is_file()
    assert _notebooks_written(before, _state(course)) == set().union(*map(_own, (first, second)))


def test_force_regenerates_what_is_current(fixture_course: Path) -> None:
    before = _state(fixture_course)
    status = cli_main(["assign", FIXTURE, "--course-dir", str(fixture_course), "--chapters-dir", str(FIXTURE_DIR),
                       "--force"])
    after = _state(fixture_course)
    assert status == 0 and _notebooks_written(before, after) == _own(FIXTURE)
    assert {rel: after[rel][1] for rel in _own(FIXTURE)} == {rel: before[rel][1] for rel in _own(FIXTURE)}


def nbgrader_validate(course: Path, notebook: Path) -> str:
    """Run ``nbgrader validate`` (the command students' Validate button runs) from the course folder."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(notebook)], cwd=course, env=env,
                          capture_output=True, text=True, timeout=KERNEL_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_nbgrader_validate(fixture_course: Path) -> None:
    """nbgrader's validate passes the source notebook and reports the untouched release's failures."""
    source = nbgrader_validate(fixture_course, notebook_path(fixture_course, "source", FIXTURE))
    assert "Success! Your notebook passes all the tests." in source, source
    release = nbgrader_validate(fixture_course, notebook_path(fixture_course, "release", FIXTURE))
    n = len(load_exercises(FIXTURE_DIR / f"{FIXTURE}.md"))
    assert f"VALIDATION FAILED ON {n} CELL(S)!" in release, release
    # each failing check is reported by its reason (CheckFailed renders without a traceback)
    assert release.count("CheckFailed: ") >= n and release.count("not done yet") >= n


# --- every real chapter ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_course(tmp_path_factory) -> Path:
    """All real chapters' assignments, generated once."""
    if not REAL_CHAPTERS:
        pytest.fail(f"no chapters in {CHAPTERS_DIR}")
    course = tmp_path_factory.mktemp("real") / "course"
    assign([], course)
    return course


@pytest.mark.parametrize("name", REAL_CHAPTERS)
def test_release_leaks_nothing(real_course: Path, name: str) -> None:
    """No solution line, no hidden case, no ``solutions`` import in a release; the stubs are nbgrader's."""
    release = nbformat.read(notebook_path(real_course, "release", name), as_version=4)
    source = nbformat.read(notebook_path(real_course, "source", name), as_version=4)
    specs = all_specs()
    release_cells = cells_by_id(release)
    release_lines = {line.strip() for c in release.cells if c.metadata.nbgrader.grade_id != SETUP_CODE_ID
                     for line in c.source.splitlines()}
    release_text = "\n".join(c.source for c in release.cells)
    source_text = "\n".join(c.source for c in source.cells)
    for nb in (release, source):
        for cell in nb.cells:
            assert not _SOLUTIONS_IMPORT.search(cell.source), f"{name}: imports solutions: {cell.source[:200]}"
    for e in load_exercises(CHAPTERS_DIR / f"{name}.md"):
        marked = with_markers(e.reference_source()).splitlines()
        inside = False
        for line in marked:
            if line.strip() == BEGIN_SOLUTION:
                inside = True
            elif line.strip() == END_SOLUTION:
                inside = False
            elif inside and line.strip():
                assert line.strip() not in release_lines, f"{name}: solution line of {e.id} in the release: {line}"
        assert release_cells[e.id].source == stub(e.reference_source())
        assert "BEGIN HIDDEN" not in release_cells[CHECK_PREFIX + e.id].source
        assert release_cells[CHECK_PREFIX + e.id].source == f'check("{e.id}", {e.id})'
        public = {_layout_free(literals.to_literal(case)) for case in specs[e.id].public_cases()}
        for case in specs[e.id].hidden_cases():
            hidden = _layout_free(literals.to_literal(case))
            if hidden in public:  # a hidden case equal to a public one (pick_device: no arguments)
                continue
            assert hidden in _layout_free(source_text), f"{name}: the leak check cannot find {e.id}'s hidden case"
            assert hidden not in _layout_free(release_text), f"{name}: a hidden case of {e.id} is in the release"
    assert assign_mod.HIDDEN_LABEL not in release_text


@pytest.mark.parametrize("name", REAL_CHAPTERS)
def test_real_release_shows_the_first_task_first(real_course: Path, name: str) -> None:
    release = nbformat.read(notebook_path(real_course, "release", name), as_version=4)
    first = load_exercises(CHAPTERS_DIR / f"{name}.md")[0]
    assert cells_by_id(release)[SETUP_CODE_ID].metadata.jupyter.source_hidden is True
    assert _first_visible_code(release).metadata.nbgrader.grade_id == first.id


@pytest.mark.parametrize("name", REAL_CHAPTERS)
def test_release_then_source_in_a_kernel(real_course: Path, name: str, tmp_path: Path) -> None:
    """In one kernel (one start-up per chapter): the untouched release, then the source notebook.

    The release runs: setup and stubs without error, each check cell fails with "not done yet" and
    the notebook goes on. The source then passes every public and hidden check. Neither imports the
    ``solutions`` package.
    """
    release = nbformat.read(notebook_path(real_course, "release", name), as_version=4)
    source = nbformat.read(notebook_path(real_course, "source", name), as_version=4)
    n = len(release.cells)
    for cell in source.cells:  # cell ids must stay unique in the combined notebook
        cell.id = f"source-{cell.id}"[:64]
    nb = nbformat.v4.new_notebook(cells=release.cells + source.cells + [no_solutions_module_cell()],
                                  metadata=release.metadata)
    run_notebook(nb, tmp_path)
    for cell in nb.cells[:n]:
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        if grade_id.startswith(CHECK_PREFIX):
            errs = errors(cell)
            assert len(errs) == 1 and errs[0].ename == CheckFailed.__name__, (grade_id, errs)
            assert "not done yet" in errs[0].evalue, errs[0].evalue
        elif cell.cell_type == "code":
            assert not errors(cell), ("release", grade_id, errors(cell))
    for cell in nb.cells[n:]:
        assert not errors(cell), ("source", cell.metadata.get("nbgrader", {}).get("grade_id"), errors(cell))
    source_cells = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells[n:-1]}
    for e in load_exercises(CHAPTERS_DIR / f"{name}.md"):
        out = text_of(source_cells[CHECK_PREFIX + e.id])
        assert f"\u2713 {e.id}:" in out and "public check" in out and "hidden checks passed" in out, out
    assert "no solutions imported" in text_of(nb.cells[-1])


def test_kernel_python_is_this_python() -> None:
    """The python3 kernel the tests (and nbgrader) start is this environment's Python."""
    from jupyter_client.kernelspec import KernelSpecManager
    spec = KernelSpecManager().get_kernel_spec("python3")
    argv0 = spec.argv[0]
    assert argv0 in ("python", sys.executable) or Path(argv0).resolve() == Path(sys.executable).resolve(), spec.argv
