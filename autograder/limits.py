"""What a process that never runs a check needs to know of the sandbox, in a module of its own: the
resource limits of one submission's run, where the sandbox puts the grader and the run's work, and
whether it can be used here. The command line shows the limits' defaults and checks the sandbox, and
the grading client names those folders in messages, without importing :mod:`autograder.sandbox`
(which loads torch: seconds, and hundreds of MB)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

#: The sandbox modes a grading command accepts.
MODES = ("auto", "bwrap", "none")
BWRAP_MISSING = (
    "the sandbox tool bubblewrap (bwrap) is not installed, so untrusted submissions cannot be run "
    "safely. Install it (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install "
    "bubblewrap`) or, only for work you trust, run unsandboxed explicitly (--unsandboxed, "
    "sandbox='none')."
)


class SandboxUnavailable(RuntimeError):
    """The requested sandbox cannot be used here; the message says what to install or pass."""


def bwrap_path() -> str | None:
    """Where bubblewrap is, or ``None``."""
    return shutil.which("bwrap")


def resolve_sandbox(sandbox: str) -> str:
    """``"bwrap"`` or ``"none"`` for a requested mode; raise :class:`SandboxUnavailable` if impossible."""
    if sandbox not in MODES:
        raise ValueError(f"unknown sandbox {sandbox!r}; expected one of {MODES}")
    if sandbox == "none":
        return "none"
    if bwrap_path() is None:
        raise SandboxUnavailable(BWRAP_MISSING)
    return "bwrap"


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
