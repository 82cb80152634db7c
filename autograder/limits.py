"""The resource limits of one submission's run, and where the sandbox puts the grader and the run's
work, in a module of their own: the command line shows the limits' defaults, and the grading client
names those folders in messages, without importing the sandbox (which loads torch: seconds, and
hundreds of MB, for a process that never runs a check)."""

from __future__ import annotations

from dataclasses import dataclass

#: Where the sandbox binds the grader's own files (read-only), and the run's working folder.
SANDBOX_LIB = "/grader"
SANDBOX_WORK = "/tmp/work"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's run; all configurable, with defaults for a course."""

    cell_timeout: float = 30.0
    total_timeout: float = 180.0
    memory_mb: int = 2048
    max_processes: int = 64
    max_output_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        for name in ("cell_timeout", "total_timeout", "memory_mb", "max_processes"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)!r}")
        if self.max_output_bytes < 0:
            raise ValueError(f"Limits.max_output_bytes must be >= 0, got {self.max_output_bytes!r}")
