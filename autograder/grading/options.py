"""The command-line options shared by everything that grades (``grade``, ``grade-all``): how student code
is confined and how much of it is read, turned into values, a bad one into a :class:`CourseError`."""

from __future__ import annotations

import argparse

from autograder.course import CourseError
from autograder.safe_io import MAX_NOTEBOOK_BYTES


def limits_from_args(args: argparse.Namespace):
    """The :class:`autograder.sandbox.Limits` the command line asks for; a bad value is a CourseError."""
    from autograder.limits import Limits

    try:
        return Limits(cell_timeout=args.cell_timeout, total_timeout=args.timeout, memory_mb=args.memory_mb,
                      max_processes=args.max_processes, max_output_bytes=args.max_output_bytes)
    except ValueError as err:
        raise CourseError(str(err)) from None


def sandbox_mode(args: argparse.Namespace) -> str:
    """The sandbox the command line asks for, checked to be usable here before any grading starts."""
    from autograder.limits import SandboxUnavailable, resolve_sandbox

    try:
        return resolve_sandbox("none" if args.unsandboxed else "auto")
    except SandboxUnavailable as err:
        raise CourseError(str(err)) from None


def max_notebook_bytes(args: argparse.Namespace) -> int:
    """The notebook size cap the command line asks for (``--max-notebook-mb``)."""
    mb = getattr(args, "max_notebook_mb", None)
    if mb is None:
        return MAX_NOTEBOOK_BYTES
    if not mb > 0:
        raise CourseError(f"--max-notebook-mb must be positive, got {mb}")
    return int(mb * 2**20)
