"""Hostile submissions, as code cells a student could put in a notebook, and honest ones to mix in.

Each hostile cell is plain source text, run end to end by :func:`autograder.sandbox.run_submission`
(``tests/test_hostile.py``) or written into a copy of a release notebook (:func:`notebook_with`) and
graded with ``python -m autograder grade``. Probe functions (``probe_*``) return what they managed to
do, so that a test can assert, outside the sandbox, that they managed nothing.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import nbformat

from solutions.ch2_gradient_descent import accuracy, calc_preds, mae_loss, update_coeffs

#: The ch2 exercises (in chapter order) whose honest answers are mixed with hostile cells.
HONEST_FUNCTIONS = (calc_preds, mae_loss, update_coeffs, accuracy)
SETUP = """\
from __future__ import annotations
import math
import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
"""


def honest_cells() -> list[str]:
    """One cell per ch2 exercise holding the reference's source: a submission that earns every point."""
    return [inspect.getsource(fn) for fn in HONEST_FUNCTIONS]


INFINITE_LOOP = "while True:\n    pass\n"
#: Ignores the in-sandbox alarm and swallows every exception: only the grader's kill stops it.
STUBBORN_LOOP = """\
import signal
signal.signal(signal.SIGALRM, signal.SIG_IGN)
while True:
    try:
        pass
    except BaseException:
        pass
"""
MEMORY_BOMB = "hog = []\nwhile True:\n    hog.append(bytearray(256 * 2**20))\n"
HUGE_ALLOCATION = "x = bytearray(2**40)\n"
#: Every process keeps forking, swallowing the errors once the process limit is reached.
FORK_BOMB = """\
import os
while True:
    try:
        os.fork()
    except BaseException:
        pass
"""
OUTPUT_FLOOD = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n"
RAW_OUTPUT_FLOOD = "import os\nwhile True:\n    os.write(1, b'y' * 65536)\n"
KILL_SELF = "import os\nos.kill(os.getpid(), 9)\n"
HARD_EXIT = "import os\nos._exit(0)\n"
SYS_EXIT = "import sys\nsys.exit(3)\n"
SEGFAULT = "import ctypes\nctypes.string_at(0)\n"
SYNTAX_ERROR = "def broken(:\n    pass\n"
IMPORT_REFERENCE = "from solutions.ch2_gradient_descent import calc_preds\n"


def lingering_processes(token: str) -> str:
    """Processes that try to outlive the run, each running ``sleep`` with ``token`` as its argument.

    A daemon in a new session, and forked children that replace themselves with ``sleep``.
    """
    return f"""\
import os, subprocess
subprocess.Popen(["/bin/sleep", "{token}"], start_new_session=True)
for _ in range(8):
    if os.fork() == 0:
        os.setsid()
        os.execv("/bin/sleep", ["sleep", "{token}"])
"""


#: Writes garbage and forged messages to every file descriptor it can find, including the results pipe.
FORGED_MESSAGES = """\
import os
for fd in range(3, 64):
    for junk in (b'garbage\\n', b'{"t": "result", "id": "nope", "k": 0, "value": 1}\\n',
                 b'{"t": "cell_error", "i": "x"}\\n', b'[[[[[[[[[[[[[[[[[[[[\\n', b'\\xff\\xfe\\n'):
        try:
            os.write(fd, junk)
        except OSError:
            pass
"""
#: Wrong answers plus every comparison the grader might use patched to say "equal".
MONKEYPATCH_COMPARISONS = """\
import builtins, math, sys
import numpy as np
import torch

def calc_preds(coeffs, indeps):
    return torch.zeros(indeps.shape[0])

def mae_loss(preds, targets):
    return torch.tensor(123.0)

always = lambda *a, **k: True
torch.allclose = always
torch.equal = always
torch.isclose = lambda a, b, *r, **k: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
math.isclose = always
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = lambda *a, **k: None
for name, module in list(sys.modules.items()):
    if "runtime" in name:
        module.compare = lambda *a, **k: None
        module.compare_observed = lambda *a, **k: None
"""
#: The same wrong answers, with builtins patched too (this breaks the grader's own code in the sandbox).
MONKEYPATCH_BUILTINS = MONKEYPATCH_COMPARISONS + """\
builtins.isinstance = lambda obj, cls: True
builtins.len = lambda obj: 0
builtins.all = builtins.any = always
"""
#: Walks up the call stack and through every object in memory looking for expected values to copy.
FRAME_INSPECTION = """\
import gc, sys
import torch

def calc_preds(coeffs, indeps):
    frame, seen = sys._getframe(), []
    while frame is not None:
        for key, value in list(frame.f_locals.items()):
            seen.append(key)
            if key in ("expected", "cases", "reference"):
                return value
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict) and "expected" in obj:
            return obj["expected"]
    return torch.full((indeps.shape[0],), float(len(seen)))
"""


def probe_files(project_root: str, course_dir: str) -> str:
    """A function ``probe_files()`` that returns every sensitive path it could see or read."""
    return f'''\
import os, sys

def probe_files():
    found = []
    names = {{"solutions", "course", "gradebook.db", "AUTHORING.md", "pyproject.toml", "chapters",
             "ch2_gradient_descent.py", "ch2_gradient_descent.ipynb", "autograder", ".git",
             "exchange", "inbound", "nbgrader"}}
    path = os.getcwd()
    while True:  # walk up from the working folder
        try:
            found += [os.path.join(path, n) for n in os.listdir(path) if n in names]
        except OSError:
            pass
        if path == os.path.dirname(path):
            break
        path = os.path.dirname(path)
    # the Python installation and environment are visible on purpose: skip them (and /proc, /usr)
    public = {{"/proc", "/sys", "/usr", "/dev", sys.prefix, sys.base_prefix}}
    for root, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in public]
        found += [os.path.join(root, n) for n in dirs + files if n in names]
        if len(found) > 50:
            break
    for folder in ("/usr/local/share/nbgrader", "/srv/nbgrader", "/usr/local", "/home", "/opt"):
        if os.path.exists(folder):  # nbgrader's exchange holds every student's submission
            found.append("exists " + folder)
    for target in ({project_root!r} + "/solutions/ch2_gradient_descent.py", {project_root!r} + "/pyproject.toml",
                   {course_dir!r} + "/gradebook.db", {course_dir!r} + "/source/ch2_gradient_descent/ch2_gradient_descent.ipynb",
                   "/proc/1/environ", "/etc/shadow", "/root/.bash_history"):
        try:
            with open(target, "rb") as f:
                f.read(1)
            found.append("read " + target)
        except OSError:
            pass
    return found
'''


def probe_writes(project_root: str, course_dir: str) -> str:
    """A function ``probe_writes()`` that returns every place outside its scratch folder it could write."""
    return f'''\
import os

def probe_writes():
    written = []
    for folder in ({course_dir!r}, {course_dir!r} + "/submitted", {project_root!r}, {project_root!r} + "/course",
                   {project_root!r} + "/.venv", "/", "/usr", "/etc", "/grader", "/root", "/dev/shm", "/work"):
        path = os.path.join(folder, "pwned.txt")
        try:
            os.makedirs(folder, exist_ok=True)
            with open(path, "w") as f:
                f.write("pwned")
            written.append(path)
        except OSError:
            pass
    return written
'''


def probe_network(port: int) -> str:
    """A function ``probe_network()`` that returns every connection it managed to open or name it resolved."""
    return f'''\
import socket

def probe_network():
    reached = []
    for host, port in (("127.0.0.1", {port}), ("8.8.8.8", 53), ("1.1.1.1", 443), ("::1", {port})):
        try:
            s = socket.create_connection((host, port), timeout=2)
            reached.append(f"{{host}}:{{port}}")
            s.close()
        except OSError:
            pass
    try:
        reached.append(socket.gethostbyname("pypi.org"))
    except OSError:
        pass
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"x", ("8.8.8.8", 53))
        reached.append("udp 8.8.8.8:53")
    except OSError:
        pass
    return reached
'''


PROBE_ENVIRONMENT = "import os\n\ndef probe_environment():\n    return dict(os.environ)\n"


def notebook_with(release: Path, solutions: dict[str, str], extra_cells: list[tuple[str, str]] = ()) -> nbformat.NotebookNode:
    """A copy of a release notebook with ``solutions`` (grade_id -> source) filled in.

    ``extra_cells`` are ``(after_grade_id, source)``: new code cells a student added after that cell.
    """
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
    for after, source in extra_cells:
        index = next(i for i, c in enumerate(nb.cells)
                     if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == after)
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return nb

#: Looks through the whole process's memory for tensors (hidden cases' arguments would be some) and
#: reports their shapes in an error message, the one channel a cell has back to the student.
MEMORY_SNOOP = """\
import gc, torch
shapes = set()
for obj in gc.get_objects():
    items = obj if isinstance(obj, (list, tuple)) else obj.values() if isinstance(obj, dict) else ()
    for item in list(items):
        if isinstance(item, torch.Tensor):
            shapes.add(tuple(item.shape))
raise RuntimeError(f"tensors in memory: {sorted(shapes)}")
"""
