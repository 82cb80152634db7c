"""The grader as an instructor without root runs it: a driver that ``tests/test_hostile_unprivileged.py``
starts as an unprivileged uid (``python -m hostile.unprivileged``).

It reads a JSON list of requests on stdin, runs each through :func:`autograder.sandbox.run_submission`
in this unprivileged process, and prints a JSON list of answers as its last line of stdout:

- ``{"op": "whoami"}``: this process's uid and whether the warm start is on;
- ``{"op": "hostile", "cells": [...], "limits": {...}}``: the setup, the cells, then every honest ch2
  answer, sandboxed; the cell errors, the fatal error, and per exercise whether each case matched the
  reference (compared here, outside the sandbox, as the grader does);
- ``{"op": "probe", "source": ..., "name": ..., "mode": "bwrap" | "none"}``: what a probe function
  (:mod:`hostile.cells`) returned, or its error.
"""

from __future__ import annotations

import json
import os
import sys

from autograder import sandbox
from hostile import cells as H


def _hostile(request: dict) -> dict:
    limits = sandbox.Limits(**request.get("limits", {}))
    result = sandbox.run_submission([H.SETUP, *request["cells"], *H.honest_cells()], H.CALLS, limits,
                                    sandbox="bwrap")
    return {"cell_errors": result.cell_errors, "fatal": result.fatal, "verdicts": H.verdicts(result),
            "output_bytes": len(result.output.encode()), "seconds": result.seconds}


def _probe(request: dict) -> dict:
    limits = sandbox.Limits(cell_timeout=60, total_timeout=180)
    result = sandbox.run_submission([request["source"]], {request["name"]: ("return", [()])}, limits,
                                    sandbox=request.get("mode", "bwrap"))
    (outcome,) = result.outcomes[request["name"]]
    return {"value": outcome.value, "error": outcome.error, "output": result.output[-2000:]}


def _whoami(request: dict) -> dict:
    return {"uid": os.geteuid(), "warm": sandbox.warm_start_enabled()}


OPS = {"hostile": _hostile, "probe": _probe, "whoami": _whoami}


def main() -> None:
    requests = json.loads(sys.stdin.read())
    answers = [OPS[r["op"]](r) for r in requests]
    print(json.dumps(answers))


if __name__ == "__main__":
    main()
