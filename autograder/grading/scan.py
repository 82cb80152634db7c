"""The static scan: which cells reach for the reference ``solutions`` package (those exercises score 0;
the sandbox also makes the import impossible at run time)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

#: The reference package students must not use, and what their feedback says when they do.
SOLUTIONS_PACKAGE = "solutions"
SOLUTIONS_MESSAGE = "uses the reference solutions package, which is not allowed"


_IMPORT_FUNCS = frozenset({"import_module", "__import__"})
#: Calls whose string arguments may name a module or hold code to run.
_STRING_FUNCS = frozenset({"getattr", "exec", "eval", "compile", "import_module", "__import__", "find_spec",
                           "run_module", "run_path", "reload", "spec_from_file_location", "hasattr",
                           "run_line_magic", "run_cell_magic"})  # IPython magics: %time import ...
_SOLUTIONS_WORD = re.compile(rf"\b{SOLUTIONS_PACKAGE}\b")


def _is_solutions_module(name: str | None) -> bool:
    return bool(name) and (name == SOLUTIONS_PACKAGE or name.startswith(SOLUTIONS_PACKAGE + "."))


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _strings(node: ast.AST) -> Iterator[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            yield sub.value


def _python_source(code: str) -> str:
    """A cell's code with IPython syntax (magics, ``!cmd``) turned into plain Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return TransformerManager().transform_cell(code)
    except Exception:  # IPython missing or the transform failed: parse the cell as it is
        return code


class UnreadableCell(Exception):
    """A cell the grader's own parser cannot take (nested too deeply)."""


def uses_solutions(code: str) -> bool:
    """Whether a cell reaches for the reference ``solutions`` package (found statically with ``ast``).

    Catches ``import solutions...``, ``from solutions... import``, ``import_module``/``__import__`` of
    a name starting with ``solutions``, the word ``solutions`` in a string given to ``getattr``,
    ``exec``, ``eval`` and the like, and ``sys.modules["solutions..."]``. A cell that does not parse
    cannot run either, so it is not flagged. A cell too deep for Python's parser (a recursion or
    memory error in ``ast``) raises :class:`UnreadableCell`: the grader will not run what it cannot read.
    """
    try:
        tree = ast.parse(_python_source(code))
    except (SyntaxError, ValueError):
        return False
    except (RecursionError, MemoryError) as err:
        raise UnreadableCell(type(err).__name__) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(_is_solutions_module(a.name) for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (
                _is_solutions_module(node.module)
                or (node.module is None and any(a.name == SOLUTIONS_PACKAGE for a in node.names))):
            return True
        if isinstance(node, ast.Call):
            name = _call_name(node.func)
            args = [*node.args, *(k.value for k in node.keywords)]
            if name in _IMPORT_FUNCS and args and isinstance(args[0], ast.Constant) \
                    and isinstance(args[0].value, str) and _is_solutions_module(args[0].value.strip()):
                return True
            if name in _STRING_FUNCS and any(_SOLUTIONS_WORD.search(s) for a in args for s in _strings(a)):
                return True
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "modules" and any(_SOLUTIONS_WORD.search(s) for s in _strings(node.slice)):
            return True
    return False
