"""``python -m autograder similarity``: planted copies are flagged, independent honest answers are not.

Chapter 6's assignment is generated once (``autograder assign``); its exercises are a deep network's
initialisation and forward pass, its dead units and the multiplied-out linear model, whose docstrings
dictate much of the code, so honest answers resemble each other more than in most courses: a fair
test of the threshold. Three students write
their own solutions; five copy (one renames every variable, one reorders the cells, one adds
comments and blank lines, one moves the code into helper cells of their own, one copies the reference
solution with renamed variables). Two more hand
in files the grader must not read (a symbolic link to the instructor's source notebook, and a FIFO).
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main as cli_main
from autograder.exercises.ch6 import SPECS
from autograder.runtime import run_cases
from autograder.term import similarity
from solutions.paths import PROJECT_ROOT

pytestmark = pytest.mark.grading

ASSIGNMENT = "ch6_deep"
STUB = "# YOUR CODE HERE\n    raise NotImplementedError()"

#: Independent honest answers, each written differently (loops, comprehensions, while, reduce ...),
#: and each correct: they give the reference's results on the chapter's checks and on random networks.
HONEST = {
    "hana": {
        "init_coeffs_deep": """
    dims = [n_coeff] + list(hiddens) + [1]
    weights = []
    for a, b in zip(dims[:-1], dims[1:]):
        w = (torch.rand(a, b) - 0.3) / b * 4
        w.requires_grad_()
        weights.append(w)
    biases = []
    for _ in weights:
        c = (torch.rand(1)[0] - 0.5) * 0.1
        c.requires_grad_()
        biases.append(c)
    return weights, biases""",
        "calc_preds_deep": """
    weights, biases = coeffs
    x = indeps
    last = len(weights) - 1
    for k in range(len(weights)):
        x = x @ weights[k] + biases[k]
        if k < last:
            x = activation(x)
    return torch.sigmoid(x)""",
        "dead_units": """
    weights, biases = coeffs
    counts = []
    h = x.detach()
    for k in range(len(weights) - 1):
        h = torch.relu(h @ weights[k].detach() + biases[k].detach())
        n_dead = 0
        for col in range(h.shape[1]):
            if h[:, col].max() == 0:
                n_dead += 1
        counts.append(n_dead)
    return counts""",
        "collapse_linear_layers": """
    weights, biases = coeffs
    total = weights[0].detach().clone()
    shift = torch.full((total.shape[1],), biases[0].item())
    for k in range(1, len(weights)):
        w = weights[k].detach()
        total = total @ w
        shift = shift @ w + biases[k].item()
    return total, shift""",
    },
    "ivan": {
        "init_coeffs_deep": """
    sizes = (n_coeff, *hiddens, 1)
    mats = [((torch.rand(i, o) - 0.3) / o * 4).requires_grad_() for i, o in zip(sizes, sizes[1:])]
    bias = [((torch.rand(1)[0] - 0.5) * 0.1).requires_grad_() for m in mats]
    return mats, bias""",
        "calc_preds_deep": """
    mats, bias = coeffs
    out = indeps
    n = len(mats)
    i = 0
    while i < n:
        out = torch.matmul(out, mats[i]) + bias[i]
        out = activation(out) if i + 1 < n else torch.sigmoid(out)
        i += 1
    return out""",
        "dead_units": """
    mats, bias = coeffs
    outs = [x]
    with torch.no_grad():
        for m, b0 in zip(mats[:-1], bias[:-1]):
            outs.append(torch.clamp(outs[-1] @ m + b0, min=0))
    return [int((~(o > 0).any(dim=0)).sum()) for o in outs[1:]]""",
        "collapse_linear_layers": """
    from functools import reduce
    mats = [m.detach() for m in coeffs[0]]
    bias = [float(b0) for b0 in coeffs[1]]
    product = reduce(torch.matmul, mats)
    rest = [reduce(torch.matmul, mats[i + 1:], torch.eye(mats[i].shape[1])) for i in range(len(mats))]
    offset = sum(b0 * r.sum(dim=0) for b0, r in zip(bias, rest))
    return product, offset""",
    },
    "jun": {
        "init_coeffs_deep": """
    shapes = [n_coeff]
    shapes.extend(hiddens)
    shapes.append(1)
    L = []
    for j in range(1, len(shapes)):
        L.append(((torch.rand(shapes[j-1], shapes[j]) - 0.3) * 4 / shapes[j]).requires_grad_(True))
    C = [((torch.rand(1)[0] - 0.5) / 10).requires_grad_(True) for _ in range(len(L))]
    return L, C""",
        "calc_preds_deep": """
    L, C = coeffs
    h = indeps
    for j, (W, c) in enumerate(zip(L, C)):
        h = h @ W + c
        if j == len(L) - 1:
            break
        h = activation(h)
    return h.sigmoid()""",
        "dead_units": """
    L, C = coeffs
    z = x.detach()
    found = []
    j = 0
    while j < len(L) - 1:
        z = F.relu(z @ L[j].detach() + C[j].detach())
        fires = (z != 0).sum(dim=0)
        found.append(int(torch.count_nonzero(fires == 0)))
        j += 1
    return found""",
        "collapse_linear_layers": """
    L, C = coeffs
    with torch.no_grad():
        def through(t):
            for W, c in zip(L, C):
                t = t @ W + c
            return t
        n = L[0].shape[0]
        b = through(torch.zeros(1, n))[0]
        M = through(torch.eye(n)) - b
    return M, b""",
    },
}
RENAMES = {"dims": "layer_sizes", "weights": "Ws", "biases": "bs", "w": "mat", "c": "const", "x": "act",
           "last": "final_idx", "k": "idx", "a": "n_in", "b": "n_out", "counts": "per_layer", "h": "hidden",
           "n_dead": "zeros", "col": "unit", "total": "prod", "shift": "offset"}
REFERENCE_RENAMES = {"layers": "my_layers", "consts": "my_consts", "res": "z", "sizes": "widths"}
#: copier -> (whom they copied, how); the reference is similarity.REFERENCE
PLANTED = {"kim": ("hana", "renamed variables"), "lee": ("ivan", "reordered cells"),
           "max": ("jun", "added comments"), "ned": (similarity.REFERENCE, "the reference, renamed"),
           "rosa": ("hana", "moved into a helper cell")}


def _rename(code: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        code = re.sub(rf"\b{old}\b", new, code)
    return code


def _solution_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    ids = set(similarity.solution_ids(nb))
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") in ids]


def _answered(release: nbformat.NotebookNode, bodies: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(release)
    for cell in _solution_cells(nb):
        gid = cell.metadata.nbgrader.grade_id
        assert STUB in cell.source, "the release's stub changed: update this test"
        cell.source = cell.source.replace(STUB, bodies[gid].strip("\n").lstrip())
    return nb


def _with_comments(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(nb)
    for cell in _solution_cells(nb):
        lines = cell.source.splitlines()
        out = ["# my own work, written late at night", ""]
        for i, line in enumerate(lines):
            out.append(line + ("  # step" if i % 2 and line.strip() and '"""' not in line else ""))
            if i % 3 == 2:
                out.append("")
        cell.source = "\n".join(out)
    return nb


def _reordered(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(nb)
    cells = _solution_cells(nb)
    positions = [nb.cells.index(c) for c in cells]
    for pos, cell in zip(positions, reversed(cells)):
        nb.cells[pos] = cell
    return nb


def _helper_cells(release: nbformat.NotebookNode, bodies: dict[str, str]) -> nbformat.NotebookNode:
    """Each answer's body moved into a function of a cell the student added; the answer only calls it."""
    nb = nbformat.from_dict(release)
    for cell in _solution_cells(nb):
        gid = cell.metadata.nbgrader.grade_id
        helper = f"def _my_{gid}(*args, **kwargs):\n    n_coeff = coeffs = args[0]\n" + bodies[gid].strip("\n")
        nb.cells.insert(nb.cells.index(cell), nbformat.v4.new_code_cell(helper))
        cell.source = cell.source.replace(STUB, f"return _my_{gid}(*locals().values())")
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Chapter 6 generated, and the class's submissions in nbgrader's layout."""
    course = tmp_path_factory.mktemp("similarity") / "course"
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.run([sys.executable, "-m", "autograder", "assign", ASSIGNMENT, "--course-dir", str(course)],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    notebooks = {name: _answered(release, bodies) for name, bodies in HONEST.items()}
    notebooks["kim"] = _answered(release, {g: _rename(b, RENAMES) for g, b in HONEST["hana"].items()})
    notebooks["lee"] = _reordered(notebooks["ivan"])
    notebooks["max"] = _with_comments(notebooks["jun"])
    notebooks["rosa"] = _helper_cells(release, HONEST["hana"])
    ref = nbformat.from_dict(source)
    for cell in _solution_cells(ref):
        cell.source = _rename(re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n", "", cell.source), REFERENCE_RENAMES)
    notebooks["ned"] = ref
    notebooks["olga"] = release  # untouched: only the release's code
    for name, nb in notebooks.items():
        folder = course / "submitted" / name / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
    link = course / "submitted" / "pat" / ASSIGNMENT
    link.mkdir(parents=True)
    (link / f"{ASSIGNMENT}.ipynb").symlink_to(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    fifo = course / "submitted" / "quinn" / ASSIGNMENT
    fifo.mkdir(parents=True)
    os.mkfifo(fifo / f"{ASSIGNMENT}.ipynb")
    return course


@pytest.fixture(scope="module")
def report(course: Path) -> similarity.AssignmentReport:
    return similarity.analyse(course, ASSIGNMENT)


def _pairs(rep: similarity.AssignmentReport) -> set[frozenset[str]]:
    return {frozenset((p.first.author, p.second.author)) for p in rep.pairs}


def test_every_planted_copy_is_flagged(report: similarity.AssignmentReport) -> None:
    flagged = _pairs(report)
    for copier, (original, how) in PLANTED.items():
        assert frozenset((copier, original)) in flagged, f"{copier} copied {original} ({how}) and was not flagged"


def test_independent_honest_answers_are_not_flagged(report: similarity.AssignmentReport) -> None:
    honest = [*HONEST, similarity.REFERENCE]
    wrongly = [set(p) for p in _pairs(report) if set(p) <= set(honest)]
    assert not wrongly, f"independent answers flagged as similar: {wrongly}"
    assert _pairs(report) == _copy_pairs()


def _copy_pairs() -> set[frozenset[str]]:
    """Each original with its copiers, and copiers of the same original with each other: nothing else."""
    families: dict[str, set[str]] = {}
    for copier, (original, _how) in PLANTED.items():
        families.setdefault(original, {original}).add(copier)
    return {frozenset(p) for family in families.values() for p in itertools.combinations(sorted(family), 2)}


def test_honest_similarity_is_well_below_the_threshold(course: Path, report: similarity.AssignmentReport) -> None:
    """The margin, measured: every honest pair scores at most 3/4 of the threshold, every copy above it."""
    answers = [a for a in report.answers if a.author in HONEST or a.is_reference]
    boilerplate = "\n\n".join(c.source for c in nbformat.read(
        course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4).cells
        if c.cell_type == "code")
    everything = similarity.compare_answers(answers, boilerplate, threshold=1e-9)
    assert everything, "honest answers share some code with each other (the same idioms): the test measures it"
    assert max(p.score for p in everything) <= 0.75 * similarity.THRESHOLD
    assert min(p.score for p in report.pairs) >= similarity.THRESHOLD


def test_honest_answers_are_correct(course: Path) -> None:
    """Each honest notebook, run (setup, answers, public checks), passes every exercise's public and
    hidden cases: the honest answers resemble each other because the task dictates it, not by mistake."""
    for name, bodies in HONEST.items():
        assert set(bodies) == {spec.id for spec in SPECS}, f"{name}'s answers are not chapter 6's exercises"
        nb = nbformat.read(course / "submitted" / name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
        namespace: dict = {}
        exec(compile("\n\n".join(c.source for c in nb.cells if c.cell_type == "code"), name, "exec"), namespace)
        for spec in SPECS:
            run_cases(f"{name}: {spec.id}", namespace[spec.id], spec.public_cases() + spec.hidden_cases(),
                      spec.kind, spec.rtol, spec.atol)


def test_the_release_code_is_boilerplate(report: similarity.AssignmentReport) -> None:
    """The untouched release notebook matches nobody, though it shares every docstring and signature."""
    assert "olga" in [a.author for a in report.answers]
    assert all("olga" not in (p.first.author, p.second.author) for p in report.pairs)


def test_unsafe_files_are_not_read(report: similarity.AssignmentReport) -> None:
    skipped = "\n".join(report.skipped)
    assert "pat:" in skipped and "symbolic link" in skipped
    assert "quinn:" in skipped and "FIFO" in skipped
    assert {"pat", "quinn"}.isdisjoint(a.author for a in report.answers)


def test_oversized_notebook_is_not_read(course: Path, monkeypatch) -> None:
    monkeypatch.setattr(similarity, "MAX_NOTEBOOK_BYTES", 1000)
    with pytest.raises(ValueError, match="bytes"):
        similarity.read_submitted(course, "hana", ASSIGNMENT)


def test_command_writes_the_report_with_matching_code_side_by_side(course: Path, capsys) -> None:
    assert cli_main(["similarity", ASSIGNMENT, "--course-dir", str(course)]) == 0
    out = capsys.readouterr().out
    page = (course / "similarity" / "index.html").read_text(encoding="utf-8")
    for copier, (original, _how) in PLANTED.items():
        assert copier in out and original in page
    assert page.count("class='pair'") == len(_copy_pairs())
    assert "<mark>" in page and "<script" not in page and "http" not in page.split("</style>")[0]
    # the renamed copy shows its own names, highlighted, beside the original's
    assert "layer_sizes" in page and "dims" in page


def test_errors_are_clear(course: Path, tmp_path: Path, capsys) -> None:
    assert cli_main(["similarity", "--course-dir", str(tmp_path / "nowhere")]) == 2
    assert "no course folder" in capsys.readouterr().err
    assert cli_main(["similarity", "--course-dir", str(tmp_path)]) == 2
    assert "no submissions" in capsys.readouterr().err
    assert cli_main(["similarity", "ch2_gradient_descent", "--course-dir", str(course)]) == 2
    err = capsys.readouterr().err
    assert "ch2_gradient_descent" in err and ASSIGNMENT in err
    assert cli_main(["similarity", "--course-dir", str(course), "--threshold", "1.5"]) == 2
    assert "--threshold" in capsys.readouterr().err


def test_similarity_is_the_same_in_every_process(course: Path, report: similarity.AssignmentReport) -> None:
    """copydetect hashes with Python's per-process ``hash()``: the result must not depend on it."""
    code = (f"import json; from pathlib import Path; from autograder.term import similarity as s; "
            f"r = s.analyse(Path({str(course)!r}), {ASSIGNMENT!r}, threshold=1e-9); "
            f"print(json.dumps(sorted([p.first.author, p.second.author, round(p.score, 9)] for p in r.pairs)))")
    runs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        runs.add(proc.stdout)
    assert len(runs) == 1
