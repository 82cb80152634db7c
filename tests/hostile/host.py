"""What the hostile tests look at on the grading machine itself, outside any sandbox."""

from __future__ import annotations

import os
import pwd

import pytest


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


def nobody() -> tuple[int, int]:
    """The uid and gid of the user ``nobody``: another user of the machine, for the tests that act as one."""
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        pytest.fail("this machine has no user 'nobody' to act as")
    return entry.pw_uid, entry.pw_gid


def as_user(uid: int, gid: int) -> list[str]:
    """The command prefix that runs what follows as ``uid``/``gid``, with no other group (needs root)."""
    return ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
