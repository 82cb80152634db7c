"""The autograder's modules import each other without a circle, counting imports inside functions too.

A circle is how a module that "holds ten concerns" starts: each new import made lazy to dodge the
last circle. ``autograder.course`` (the layout, ``CourseError``) is what everyone may import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from solutions.paths import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "autograder"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports under ``if TYPE_CHECKING:`` (never run, so never a circle)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            lines |= {n.lineno for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return lines


def import_graph() -> dict[str, set[str]]:
    """Each autograder module and the autograder modules it imports (anywhere in its code)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_only(tree)
        deps: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                if base in modules:
                    deps.add(base)
                deps |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules}
        graph[name] = deps - {name}
    return graph


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (as the list of modules around it), or ``None``."""
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and (found := visit(dep, path + [dep])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_the_circle_finder_finds_a_circle() -> None:
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_circle_between_autograder_modules() -> None:
    graph = import_graph()
    assert "autograder.grading.batch" in graph and "autograder.course" in graph["autograder.grading.batch"]
    assert find_circle(graph) is None, f"import circle: {' -> '.join(find_circle(graph))}"


def test_the_course_layout_imports_nothing_of_ours_at_load_time() -> None:
    tree = ast.parse((PACKAGE / "course.py").read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [ast.unparse(n) for n in top if "autograder" in ast.unparse(n)]


def test_every_subcommand_is_dispatched_to_a_function() -> None:
    import importlib

    from autograder.cli import COMMANDS, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)
    for module, function in COMMANDS.values():
        assert callable(getattr(importlib.import_module(module), function)), (module, function)


def test_every_subcommand_but_book_takes_the_course_dir_with_its_default() -> None:
    from autograder.cli import COMMANDS, build_parser
    from autograder.course import DEFAULT_COURSE_DIR

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    takes = {name for name, p in sub.choices.items()
             if any(a.option_strings == ["--course-dir"] and a.default == DEFAULT_COURSE_DIR and a.help
                    for a in p._actions)}
    assert takes == set(COMMANDS) - {"book"}, f"without --course-dir: {sorted(set(COMMANDS) - takes)}"


def _imported_by(statement: str) -> set[str]:
    """The modules a fresh interpreter has imported after ``statement`` (with the project importable)."""
    code = f"{statement}\nimport sys\nprint(' '.join(k for k, v in sys.modules.items() if v is not None))"
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_reading_a_notebook_does_not_build_the_iri_grammars() -> None:
    """nbformat's jsonschema would import rfc3987-syntax (39 Lark grammars, a second or two per process);
    autograder keeps it out, and nbformat still validates a notebook and refuses a broken one."""
    loaded = _imported_by("import autograder.grading.batch, nbformat\n"
                          "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')])\n"
                          "nbformat.validate(nb)\n"
                          "nb.cells[0]['execution_count'] = 'one'\n"
                          "try:\n    nbformat.validate(nb)\nexcept nbformat.ValidationError:\n    pass\n"
                          "else:\n    raise SystemExit('a broken notebook validated')")
    assert "nbformat" in loaded and "jsonschema" in loaded
    assert "rfc3987_syntax" not in loaded and "lark" not in loaded
    assert "rfc3987_syntax" in _imported_by("import jsonschema"), "the package is no longer installed: drop the guard"


def test_the_grading_client_does_not_load_torch() -> None:
    """``grade-all``'s client reads, sends and records submissions; only the workers run checks (and the
    check runtime's torch: seconds and hundreds of MB the client does not need)."""
    client = _imported_by("import argparse, autograder.cli, autograder.grading.batch, autograder.grading.record, "
                          "autograder.grading.engine, autograder.gradebook, autograder.feedback\n"
                          "from autograder.grading import options\n"
                          "options.sandbox_mode(argparse.Namespace(unsandboxed=True))\n"
                          "options.limits_from_args(argparse.Namespace(cell_timeout=1, timeout=2, memory_mb=3, "
                          "max_processes=4, max_output_bytes=5))")
    assert "autograder.grading.batch" in client and "torch" not in client
    assert "torch" in _imported_by("import autograder.grading.notebook"), "the worker's grading no longer loads torch"
