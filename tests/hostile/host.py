"""What the hostile tests look at on the grading machine itself, outside any sandbox."""

from __future__ import annotations

import os


def processes_running(token: str) -> list[int]:
    """The pids of this machine's processes whose command line contains ``token`` (zombies included)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    if token.encode() in f.read():
                        found.append(int(entry.name))
            except OSError:
                pass
    return found
