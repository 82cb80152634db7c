"""The course's tooling: turns chapters into the book and into nbgrader assignments, and grades.

Command line: ``python -m autograder --help`` (also installed as ``autograder``).
"""

import sys as _sys

# Every process that reads a notebook imports nbformat, whose jsonschema imports ``rfc3987_syntax`` when
# it is installed; that package builds 39 Lark grammars at import, 1-2 s of CPU in each such process (the
# command line, each Dask worker, the book build, the assignments' generation). It adds only jsonschema's
# "iri" format check, which no schema of ours or of nbformat uses, and it cannot be left out of the
# environment (jupyter-events asks for ``jsonschema[format-nongpl]``). So it is not imported here: a
# module set to None in ``sys.modules`` is one Python's import system refuses (jsonschema skips the check).
# A process that has imported it already keeps it.
_sys.modules.setdefault("rfc3987_syntax", None)

