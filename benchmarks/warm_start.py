"""Benchmark: the start-up cost of one submission's run, cold (a fresh interpreter) against warm (a fork).

Run: ``python benchmarks/warm_start.py [--runs 10]`` (with bubblewrap, as root or not: the warm
start's conditions; see :func:`autograder.sandbox.warm_start_enabled`).

Each mode runs, in this one process and one after the other, ``--runs`` submissions of two sizes:
*empty* (one cell defining a function, one call: the start-up cost and nothing else) and *ch2* (the
honest answers of chapter 2 on every public and hidden case, as a real grading run). It prints per
submission, averaged over the runs:

- wall seconds of :func:`autograder.sandbox.run_submission` (start, cells, calls, teardown);
- CPU seconds of the sandboxed process that ran the submission, as it measures itself
  (``time.process_time()`` at its last call: for a cold start, its interpreter start and imports
  included; a fork starts from zero);
- CPU seconds of this grading process (its threads that feed and read the run).

The warm start's first run, which starts the zygote, is printed apart. The floor is the cost of
forking this process (which has imported torch, numpy and pandas) and waiting for the child, measured
here too. Nothing is assumed: every figure printed is measured in this run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_ROOT), str(PROJECT_ROOT / "tests")]

from autograder import sandbox  # noqa: E402
from autograder.exercises.ch2 import SPECS  # noqa: E402
from hostile.cells import SETUP, honest_cells  # noqa: E402

CPU_PROBE = "import time\n\ndef cpu_seconds():\n    return time.process_time()\n"
LIMITS = sandbox.Limits(cell_timeout=60, total_timeout=300)


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _submissions() -> dict[str, tuple[list[str], dict]]:
    probe = {"cpu_seconds": ("return", [()])}
    ch2 = {s.id: (s.kind, s.public_args(), s.hidden_args()) for s in SPECS}
    return {"empty": ([CPU_PROBE], probe),
            "ch2": ([SETUP, *honest_cells(), CPU_PROBE], {**ch2, **probe})}


def _one(cells: list[str], calls: dict) -> tuple[float, float, float]:
    """(wall, sandboxed process CPU, grader CPU) seconds of one run."""
    wall, cpu = time.perf_counter(), _self_cpu()
    result = sandbox.run_submission(cells, calls, LIMITS, sandbox="bwrap")
    wall, cpu = time.perf_counter() - wall, _self_cpu() - cpu
    outcome = result.outcomes["cpu_seconds"][-1]
    if result.fatal or outcome.error is not None:
        raise SystemExit(f"benchmark: a run failed: {result.fatal or outcome.error}\n{result.output[-2000:]}")
    return wall, float(outcome.value), cpu


def fork_floor(n: int = 20) -> float:
    """Seconds to fork this process (torch imported) and reap the child, median of ``n``."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(mode: str, runs: int) -> dict[str, list[tuple[float, float, float]]]:
    if mode == "cold":
        os.environ[sandbox.COLD_START_VARIABLE] = "1"
    else:
        os.environ.pop(sandbox.COLD_START_VARIABLE, None)
        sandbox._ZYGOTE.stop()
    out: dict[str, list[tuple[float, float, float]]] = {}
    first = None
    if mode == "warm":
        cells, calls = _submissions()["empty"]
        first = _one(cells, calls)  # starts the zygote
        if sandbox._ZYGOTE.pid is None:
            raise SystemExit(f"benchmark: no warm start here ({sandbox._ZYGOTE.failed or 'not enabled'})")
        out["first (starts the zygote)"] = [first]
    for name, (cells, calls) in _submissions().items():
        out[name] = [_one(cells, calls) for _ in range(runs)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="submissions of each size per mode (default 10)")
    args = parser.parse_args()
    if sandbox.bwrap_path() is None or not sandbox.warm_start_enabled():
        raise SystemExit("benchmark: the warm start needs bubblewrap (and AUTOGRADER_COLD_START unset)")
    floor = fork_floor()
    results = {mode: measure(mode, args.runs) for mode in ("cold", "warm")}
    sandbox._ZYGOTE.stop()
    print(f"per submission, mean of {args.runs} runs (sandboxed, {os.cpu_count()} cores)")
    print(f"{'mode':<6}{'submission':<28}{'wall s':>9}{'sandbox CPU s':>15}{'grader CPU s':>14}")
    for mode, table in results.items():
        for name, rows in table.items():
            wall, cpu, grader = (statistics.mean(col) for col in zip(*rows))
            print(f"{mode:<6}{name:<28}{wall:>9.3f}{cpu:>15.3f}{grader:>14.3f}")
    for name in ("empty", "ch2"):
        cold = statistics.mean(r[0] for r in results["cold"][name])
        warm = statistics.mean(r[0] for r in results["warm"][name])
        print(f"{name}: warm start {cold / warm:.1f}x faster in wall time than cold ({cold:.3f} s -> {warm:.3f} s)")
    print(f"floor: forking this process (torch imported) and reaping the child: {floor * 1000:.1f} ms")


if __name__ == "__main__":
    main()
