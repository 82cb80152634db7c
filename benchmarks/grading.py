"""Benchmark: grading a class of chapter 2 submissions, ours against nbgrader's and the bare floor.

Run: ``python benchmarks/grading.py [--submissions 40] [--workers N] [--keep DIR]``. On a large batch
(``--submissions 400``, where the Dask runs' fixed start-up no longer hides the workers' speed-up),
``--sequential-sample 20`` times the two sequential runs on the first 20 submissions only and scales
their per-submission time (they take seconds per notebook: hours on a large batch).

It generates chapter 2's assignment (``python -m autograder assign``) in a temporary course folder,
derives a batch of submissions of mixed quality from its source and release notebooks (full, empty,
partial, broken: a quarter each), then times, on copies of that course so that no run sees another's
results:

1. ``nbgrader autograde`` (sequential; nbgrader's own grading of the same notebooks);
2. ``python -m autograder grade-all --workers 1`` (sandboxed if bubblewrap is installed);
3. ``python -m autograder grade-all --workers <all cores>``;
4. bare ``nbclient`` execution of the submitted notebooks, one after the other (the floor: a kernel
   per notebook and its cells, no grading at all).

It prints the measured seconds (total and per submission), the CPU seconds per submission of a run
(the machine's busy time while it ran: the client, its Dask workers, their sandboxes; keep the machine
otherwise quiet), and the ratios the course aims at:
all cores against nbgrader (target >= 1.7x faster on 2 cores), one worker against the floor (target
within 1.3x), two Dask workers against one (target >= 1.8x), on the whole runs and once started: a
run's fixed cost (cluster and warm interpreters started, stopped at the end) is measured on a batch
of 8 and taken off. ``--cold`` adds a one-worker run with the warm start turned off
(``AUTOGRADER_COLD_START=1``). ``--repeat K`` times the one-worker and the all-cores runs K times each,
alternating (1, N, N, 1, 1, N, ...), so that a shared machine's drift in speed falls on both alike, and
prints each pair's ratio and the ratio of their total times.

``--class-size N`` (at least 1,000 for the issue's figure) then grades a simulated class of N
generated chapter 2 submissions of the same mixed quality through a local Dask cluster, in a process
of its own, at two sizes (N/4 and N), and prints throughput and the client's peak resident memory at
each: streaming keeps it flat as the class grows. The class's speed is compared with nbgrader's,
sequential, at the per-submission time measured on the small batch (an estimate: nbgrader on the
whole class would take hours). Nothing else is assumed: every figure printed is measured in this run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ch2_gradient_descent"
KINDS = ("full", "empty", "partial", "broken")
TIMESTAMP = "2026-11-20 10:00:00.000000 UTC"
#: A wrong line that breaks an answer in a "broken" submission, by what goes wrong.
BREAKAGES = ("def oops(:\n    pass\n",                 # a syntax error in the answer cell
             "raise ValueError('half-finished')\n",      # an exception at the top of the cell
             "import time\ntime.sleep(0.5)\nx = undefined_name\n")  # a NameError after a pause
SEED = 2026
#: Submissions in the small batch that measures a grading run's fixed cost (start-up and shut-down).
STARTUP_BATCH = 8


def _env() -> dict[str, str]:
    """The environment of every command: the project importable, this Python's tools on PATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    return env


def _run(cmd: list[str], cwd: Path, **env: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env={**_env(), **env}, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark: {' '.join(cmd[:4])} ... failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    return proc.stdout


def _machine_cpu() -> float:
    """CPU seconds the whole machine has spent busy so far (user, nice, system, interrupts: ``/proc/stat``).

    A run's grading happens in processes that are not all reaped by their parents (a Dask worker is
    stopped by its nanny, a sandbox's zygote by its worker), so ``RUSAGE_CHILDREN`` misses much of it;
    on a quiet machine (the load average is printed beside), the machine's busy time is the run's CPU."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()[1:]
    except OSError:  # not Linux: the reaped descendants only (an undercount)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def make_batch(course: Path, n: int) -> dict[str, str]:
    """Write ``n`` submissions into ``course/submitted``; return each student's kind of submission."""
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release_path = course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    answers = {_grade_id(c): c.source for c in source.cells
               if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    ids = sorted(answers)
    rng = random.Random(SEED)
    kinds = {}
    for i in range(n):
        student, kind = f"student{i:04d}", KINDS[i % len(KINDS)]
        nb = nbformat.read(release_path, as_version=4)
        if kind == "full":
            chosen = set(ids)
        elif kind == "partial":
            chosen = set(rng.sample(ids, rng.randint(1, len(ids) - 1)))
        elif kind == "broken":
            chosen = set(ids)
        else:
            chosen = set()
        broken = rng.choice(ids) if kind == "broken" else None
        for cell in nb.cells:
            gid = _grade_id(cell)
            if gid in chosen:
                cell.source = answers[gid]
            if gid == broken:
                cell.source = rng.choice(BREAKAGES) + cell.source
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
        (folder / "timestamp.txt").write_text(TIMESTAMP)
        kinds[student] = kind
    return kinds


def copy_course(template: Path, dest: Path) -> Path:
    """A copy of the course whose nbgrader config points at the copy."""
    from autograder.nbgrader_config import write_config

    shutil.copytree(template, dest)
    write_config(dest)
    return dest


def first_submissions(course: Path, keep: int | None) -> Path:
    """The course with only its first ``keep`` students' submissions (all if ``None``)."""
    if keep is not None:
        for student in sorted((course / "submitted").iterdir())[keep:]:
            shutil.rmtree(student)
    return course


def time_nbgrader(course: Path) -> float:
    """``nbgrader autograde`` on every submission (it grades one after the other)."""
    started = time.perf_counter()
    _run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT], cwd=course)
    return time.perf_counter() - started


#: CPU seconds of each timed run, by label (the machine's busy time while it ran).
CPU: dict[str, float] = {}


def time_ours(course: Path, workers: int, label: str = "", **env: str) -> float:
    """``python -m autograder grade-all`` with ``workers`` local Dask workers; its CPU goes to ``CPU``."""
    cpu, started = _machine_cpu(), time.perf_counter()
    _run([sys.executable, "-m", "autograder", "grade-all", "--course-dir", str(course), "--workers", str(workers),
          "--csv", str(course / "benchmark-grades.csv")], cwd=PROJECT_ROOT, **env)
    seconds = time.perf_counter() - started
    CPU[label] = _machine_cpu() - cpu
    return seconds


def grade_class(course: Path, workers: int) -> dict[str, float]:
    """In this process (run as ``--client COURSE``): grade ``course``'s class on a local cluster through
    :func:`autograder.grading.batch.grade_submissions`; seconds, count and the peak resident memory of
    this process, the client (its workers are other processes)."""
    from autograder.grading.batch import GRADED, find_submissions, grade_submissions
    from autograder.grading.engine import Engine

    subs = find_submissions(course)
    started = time.perf_counter()
    summary = grade_submissions(course, subs, Engine(workers=workers), sandbox="auto")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "submissions": len(subs), "graded": summary.count(GRADED),
            "not_graded": len(summary.not_graded),
            "client_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def time_class(template: Path, root: Path, size: int, workers: int) -> dict[str, float]:
    """A class of ``size`` submissions graded by a fresh client process; its figures."""
    course = copy_course(template, root / f"class{size}")
    shutil.rmtree(course / "submitted", ignore_errors=True)
    make_batch(course, size)
    out = _run([sys.executable, str(Path(__file__).resolve()), "--client", str(course), "--workers", str(workers)],
               PROJECT_ROOT)
    return json.loads(out.strip().splitlines()[-1])


def time_nbclient(course: Path) -> float:
    """Execute each submitted notebook as it is with nbclient, one after the other: the floor."""
    from nbclient import NotebookClient

    notebooks = sorted((course / "submitted").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))
    started = time.perf_counter()
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Build the batch, time the four ways of running it, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="'all cores' (default: all)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the course folders here")
    parser.add_argument("--cold", action="store_true", help="also time one worker with the warm start off")
    parser.add_argument("--class-size", type=int, default=0, help="then grade a simulated class this large")
    parser.add_argument("--sequential-sample", type=int, default=None, metavar="K",
                        help="time the floor and nbgrader (sequential, seconds per notebook) on the batch's first K "
                        "submissions only, so that a large batch for the Dask runs stays affordable; ratios are "
                        "then per submission (default: the whole batch)")
    parser.add_argument("--repeat", type=int, default=1, metavar="K",
                        help="time the one-worker and the all-cores runs K times each, alternating (default 1)")
    parser.add_argument("--client", type=Path, default=None, help=argparse.SUPPRESS)  # the class's client
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_ROOT))
    if args.client is not None:
        print(json.dumps(grade_class(args.client, args.workers)))
        return 0
    from autograder.sandbox import bwrap_path

    if bwrap_path() is None:
        raise SystemExit("benchmark: bubblewrap is not installed; the grader would refuse to grade")
    root = Path(tempfile.mkdtemp(prefix="grading-benchmark-")) if args.keep is None else args.keep
    root.mkdir(parents=True, exist_ok=True)
    try:
        template = root / "template"
        _run([sys.executable, "-m", "autograder", "assign", ASSIGNMENT, "--course-dir", str(template)], PROJECT_ROOT)
        kinds = make_batch(template, args.submissions)
        n = len(kinds)
        counts = {k: sum(v == k for v in kinds.values()) for k in KINDS}
        sample = None if args.sequential_sample is None else min(n, args.sequential_sample)
        #: How many submissions each run graded: the sequential ones may take a sample.
        size = {"nbclient floor (sequential)": sample or n, "nbgrader autograde (sequential)": sample or n}
        print(f"batch: {n} submissions of {ASSIGNMENT} ({', '.join(f'{v} {k}' for k, v in counts.items())}); "
              f"{os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.2f}")
        runs: list[tuple[str, Callable[[], float]]] = [
            ("nbclient floor (sequential)",
             lambda: time_nbclient(first_submissions(copy_course(template, root / "floor"), sample))),
            ("nbgrader autograde (sequential)",
             lambda: time_nbgrader(first_submissions(copy_course(template, root / "nbgrader"), sample))),
            ("ours, grade-all --workers 1",
             lambda: time_ours(copy_course(template, root / "ours1"), 1, "ours, grade-all --workers 1")),
            (f"ours, grade-all --workers {args.workers}",
             lambda: time_ours(copy_course(template, root / "oursN"), args.workers,
                               f"ours, grade-all --workers {args.workers}")),
        ]
        if args.cold:
            runs.append(("ours, cold start, --workers 1",
                         lambda: time_ours(copy_course(template, root / "cold1"), 1, "ours, cold start, --workers 1",
                                           AUTOGRADER_COLD_START="1")))
        seconds = {}
        for label, run in runs:
            count = size.get(label, n)
            seconds[label] = run() / count * n  # per submission, scaled to the batch (equal when count == n)
            cpu = f"  {CPU[label] / count:6.2f} CPU s/submission" if label in CPU else ""
            print(f"{label:36s} {seconds[label] * count / n:8.1f} s for {count:4d}  {seconds[label] / n:6.2f} "
                  f"s/submission{cpu}  "
                  f"(load average {os.getloadavg()[0]:.2f})", flush=True)
        floor, nbg, one, many = (seconds[label] for label, _ in runs[:4])
        print(f"all cores vs nbgrader: {nbg / many:.2f}x faster (target >= 1.7x on 2 cores)")
        print(f"one worker vs the nbclient floor: {one / floor:.2f}x the floor's time (target <= 1.3x)")
        print(f"one worker vs nbgrader: {nbg / one:.2f}x faster")
        print(f"{args.workers} Dask workers vs one: {one / many:.2f}x faster (target >= 1.8x with 2)")
        if args.repeat > 1:
            ones, manys = [one], [many]
            for k in range(1, args.repeat):
                for w in ((args.workers, 1) if k % 2 else (1, args.workers)):
                    course = copy_course(template, root / f"repeat{k}-{w}")
                    (ones if w == 1 else manys).append(time_ours(course, w, f"repeat {k}, --workers {w}"))
                    shutil.rmtree(course, ignore_errors=True)
                cpu = {w: CPU[f"repeat {k}, --workers {w}"] / n for w in (1, args.workers)}
                print(f"repeat {k}: one worker {ones[-1]:.1f} s ({cpu[1]:.2f} CPU s/submission), {args.workers} "
                      f"workers {manys[-1]:.1f} s ({cpu[args.workers]:.2f}): {ones[-1] / manys[-1]:.2f}x "
                      f"(load average {os.getloadavg()[0]:.2f})", flush=True)
            print(f"{args.workers} Dask workers vs one over {args.repeat} runs each, alternating: "
                  f"{sum(ones) / sum(manys):.2f}x faster on their total times (target >= 1.8x with 2)")
        if n >= 10 * STARTUP_BATCH:
            # Each run starts a cluster and a warm interpreter per worker before its first result, and
            # stops them after its last: seconds that one worker and two spend alike. A batch of
            # STARTUP_BATCH measures that fixed cost; the rest of the batch, the workers' speed (on a
            # smaller batch than 10x, the difference of two runs is mostly their noise: not printed).
            fixed = {w: time_ours(first_submissions(copy_course(template, root / f"fixed{w}"), STARTUP_BATCH), w,
                                  f"ours, {STARTUP_BATCH} submissions, --workers {w}")
                     for w in (1, args.workers)}
            rate = {w: (total - fixed[w]) / (n - STARTUP_BATCH) for w, total in ((1, one), (args.workers, many))}
            print(f"fixed cost of a run (start-up, shut-down, {STARTUP_BATCH} submissions): "
                  f"{fixed[1]:.1f} s with one worker, {fixed[args.workers]:.1f} s with {args.workers}")
            print(f"{args.workers} Dask workers vs one, once started (the batch less its fixed cost): "
                  f"{rate[1] / rate[args.workers]:.2f}x faster ({rate[1]:.3f} against {rate[args.workers]:.3f} "
                  f"s/submission)")
        if args.cold:
            print(f"warm start vs cold start, one worker: {seconds[runs[4][0]] / one:.2f}x faster")
        if args.class_size:
            for size in (max(1, args.class_size // 4), args.class_size):
                figures = time_class(template, root, size, args.workers)
                rate = figures["submissions"] / figures["seconds"]
                print(f"class of {size}: {figures['seconds']:.1f} s, {rate:.2f} submissions/s, "
                      f"{figures['graded']} graded, {figures['not_graded']} not graded; client peak memory "
                      f"{figures['client_peak_rss_mb']:.0f} MB (load average {os.getloadavg()[0]:.2f})", flush=True)
            nbgrader_class = nbg / n * figures["submissions"]
            print(f"class of {args.class_size} vs nbgrader sequential (estimated {nbgrader_class:.0f} s at its "
                  f"measured {nbg / n:.2f} s/submission): {nbgrader_class / figures['seconds']:.2f}x faster "
                  f"(target >= 8x)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
