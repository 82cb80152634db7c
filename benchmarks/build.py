#!/usr/bin/env python3
"""Measure the book build and print the figures with their targets (a measurement, not a test).

    python benchmarks/build.py              # all three measurements, from one run (takes minutes)
    python benchmarks/build.py --no-cold    # only the README's build command with nothing changed
    python benchmarks/build.py --jobs 2     # the cold build with this many kernels side by side

1. The README's build command (``python3 dev.py build``) with nothing changed since the last build
   (the script builds once first if needed). Target: at most 2 s.
2. Cold build: a fresh process builds the book into a temporary folder with an empty execution
   cache (assignments for the download boxes, chapters executed side by side in kernels forked from
   one pre-imported template, ``autograder/warm_kernels.py``; then Sphinx).
3. Serial execution: the expanded chapters of that cold build run with nbclient, one after the
   other, in the same folder and environment as the build, each in a kernel started the ordinary way
   (as Jupyter Book 1 runs them); per-cell times come from nbclient's timing metadata, and the
   slowest cell is printed. Target: cold build at most 0.7 x this.

The machine's load average is printed too: on a shared machine the figures vary with it.
"""

from __future__ import annotations

import argparse
import os
import shutil
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

README_BUILD_TARGET_S = 2.0
COLD_OVER_SERIAL_TARGET = 0.7
CELL_TIMEOUT_S = 600


def _env() -> dict[str, str]:
    """The environment of a build: the project importable, as ``autograder book`` arranges for kernels."""
    path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _timed(cmd: list[str]) -> tuple[float, str]:
    """Run a command in the project folder; its wall time in seconds and output; stop if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def readme_build() -> float:
    """Seconds of ``python3 dev.py build`` with nothing changed (built once first if something had)."""
    python3 = shutil.which("python3.11") or sys.executable  # dev.py needs Python 3.11, as the README says
    cmd = [python3, "dev.py", "build"]
    seconds, out = _timed(cmd)
    if not _nothing_done(out):
        print(f"built first ({seconds:.0f} s): something had changed since the last build", flush=True)
        seconds, out = _timed(cmd)
    if not _nothing_done(out):
        sys.exit(f"`python3 dev.py build` rebuilt twice in a row:\n{out[-3000:]}")
    return seconds


def _nothing_done(out: str) -> bool:
    """Whether the build command's output says it found everything up to date (and did nothing else)."""
    return any(line.startswith("build: ") and "are up to date" in line for line in out.splitlines())


def cold_build(build_dir: Path, jobs: int | None) -> float:
    """Seconds of a build in a fresh process into ``build_dir`` with an empty execution cache."""
    code = ("import sys; from pathlib import Path; from autograder import book; "
            f"sys.exit(book.build_book(build_dir=Path({str(build_dir)!r}), cache=Path({str(build_dir / 'cache')!r}), "
            f"jobs={jobs!r}))")
    seconds, out = _timed([sys.executable, "-c", code])
    for line in out.splitlines():
        if line.startswith("book: execut"):
            print(f"  {line}")
    return seconds


def _seconds(cell) -> float | None:
    """A cell's execution time from nbclient's timing metadata."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    return (datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()


def execute_serially(src: Path) -> tuple[float, list[tuple[float, str]]]:
    """Run every expanded chapter under ``src/chapters`` with nbclient, one after the other: total seconds, cells."""
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


def _load() -> str:
    return f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cold", action="store_true", help="skip the cold build and the serial execution")
    parser.add_argument("--jobs", type=int, default=None, help="kernels side by side in the cold build "
                        f"(default: the build's, one per core: {book.default_jobs()})")
    args = parser.parse_args(argv)
    print(f"load average at start: {_load()}", flush=True)

    readme = readme_build()
    print(f"README build command, nothing changed (python3 dev.py build): {readme:.2f} s   "
          f"target <= {README_BUILD_TARGET_S:.0f} s", flush=True)
    if args.no_cold:
        return 0

    with tempfile.TemporaryDirectory(prefix="book-bench-") as tmp:
        build_dir = Path(tmp)
        cold = cold_build(build_dir, args.jobs)
        print(f"cold build (empty cache, {args.jobs or book.default_jobs()} kernels side by side): {cold:.1f} s",
              flush=True)
        serial, cells = execute_serially(book.site_for(True, build_dir).src)
    print(f"serial execution of the chapters: {serial:.1f} s")
    print(f"cold build / serial execution: {cold / serial:.2f}   target <= {COLD_OVER_SERIAL_TARGET}")
    print(f"slowest cell: {cells[0][0]:.1f} s ({cells[0][1]})")
    for seconds, where in cells[:5]:
        print(f"  {seconds:6.1f} s  {where}")
    print(f"load average at end: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
