#!/usr/bin/env python3
"""Measure the book build and print the figures with their targets (a measurement, not a test).

    python benchmarks/build.py            # all three measurements (a cold build takes minutes)
    python benchmarks/build.py --no-cold  # only the warm rebuild

1. Warm rebuild: ``python -m autograder book`` on the project with nothing changed since the last
   build (the script builds once first if the site is not current). Target: under 15 s. Measured
   twice: as a user runs it (the sources' digest says the site is current: nothing to do), and with
   that check skipped (expansion and Sphinx run and find nothing to read, execute or write).
2. Cold build: a fresh process builds the book into a temporary folder with an empty execution
   cache. Target: at most 1.5 x the time to execute the chapters alone.
3. Execution alone: the expanded chapters of that cold build run with nbclient, one after the other,
   in the same working folder and environment as the build; per-cell times come from nbclient's
   timing metadata. Target: no cell over 5 s.

The machine's load average is printed too: on a shared machine the figures vary with it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))  # run from a checkout without installing

import jupytext  # noqa: E402
import nbclient  # noqa: E402

from autograder import book  # noqa: E402

WARM_TARGET_S = 15.0
COLD_OVER_EXECUTION_TARGET = 1.5
CELL_TARGET_S = 5.0
CELL_TIMEOUT_S = 600


def _env() -> dict[str, str]:
    """The environment of a build: the project importable, as ``autograder book`` arranges for kernels."""
    path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _timed(cmd: list[str]) -> float:
    """Run a command in the project folder; its wall time in seconds; stop if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def warm_rebuild() -> tuple[float, float]:
    """Seconds of a rebuild with nothing changed: as ``python -m autograder book`` runs, and through Sphinx."""
    cmd = [sys.executable, "-m", "autograder", "book"]
    if not book.is_up_to_date(True):
        print("building the site first (it is not current) ...", flush=True)
        _timed(cmd)
    through_sphinx = [sys.executable, "-c", "import sys; from autograder import book; "
                      "sys.exit(book.build_book(skip_if_current=False))"]
    return _timed(cmd), _timed(through_sphinx)


def cold_build(build_dir: Path) -> float:
    """Seconds of a build in a fresh process into ``build_dir`` with an empty execution cache."""
    code = ("import sys; from pathlib import Path; from autograder import book; "
            f"sys.exit(book.build_book(build_dir=Path({str(build_dir)!r}), cache=Path({str(build_dir / 'cache')!r})))")
    return _timed([sys.executable, "-c", code])


def _seconds(cell) -> float | None:
    """A cell's execution time from nbclient's timing metadata."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    return (datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()


def execute_chapters(src: Path) -> tuple[float, list[tuple[float, str]]]:
    """Run every expanded chapter under ``src/chapters`` with nbclient: total seconds, per-cell times."""
    total, cells = 0.0, []
    os.environ.update(_env())  # the kernels inherit this process's environment
    for path in sorted((src / "chapters").glob("*.md")):
        nb = jupytext.read(path)
        start = time.perf_counter()
        nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, record_timing=True,
                                resources={"metadata": {"path": str(path.parent)}}).execute()
        elapsed = time.perf_counter() - start
        total += elapsed
        print(f"  executed {path.stem:<24} {elapsed:7.1f} s", flush=True)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and (s := _seconds(cell)) is not None:
                first_line = cell.source.strip().split("\n")[0][:60]
                cells.append((s, f"{path.stem}, cell {i}: {first_line}"))
    return total, sorted(cells, reverse=True)


def main(argv: list[str] | None = None) -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cold", action="store_true", help="skip the cold build and the execution run")
    args = parser.parse_args(argv)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")

    warm, warm_sphinx = warm_rebuild()
    for label, seconds in (("warm rebuild (nothing changed)", warm),
                           ("warm rebuild through Sphinx (check skipped)", warm_sphinx)):
        print(f"{label}: {seconds:.1f} s   target < {WARM_TARGET_S:.0f} s   "
              f"ratio {seconds / WARM_TARGET_S:.2f} of target", flush=True)
    if args.no_cold:
        return 0

    with tempfile.TemporaryDirectory(prefix="book-bench-") as tmp:
        build_dir = Path(tmp)
        cold = cold_build(build_dir)
        print(f"cold build (empty cache):       {cold:.1f} s", flush=True)
        execution, cells = execute_chapters(book.site_for(True, build_dir).src)
    print(f"execution of the chapters alone: {execution:.1f} s")
    print(f"cold / execution: {cold / execution:.2f}   target <= {COLD_OVER_EXECUTION_TARGET}   "
          f"(Sphinx and the rest: {cold - execution:.1f} s)")
    slow = [c for c in cells if c[0] > CELL_TARGET_S]
    print(f"slowest cell: {cells[0][0]:.1f} s ({cells[0][1]})   target <= {CELL_TARGET_S:.0f} s   "
          f"cells over target: {len(slow)}")
    for seconds, where in cells[:10]:
        print(f"  {seconds:6.1f} s  {where}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
