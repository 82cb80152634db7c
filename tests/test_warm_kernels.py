"""The book build's warm kernels (``autograder/warm_kernels.py``): a kernel forked from the template is a
fresh kernel in all a chapter can see, Jupyter's interrupt and kill reach it, and without the template
a kernel still starts the ordinary way."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import pytest
from jupyter_client import KernelManager

from autograder import warm_kernels

#: What a chapter could notice about its kernel, as JSON: everything but where it came from is compared.
PROBE = """\
import json, os, signal, sys
preloaded = "torch" in sys.modules
import matplotlib
print(json.dumps({
    "preloaded": preloaded, "parent": os.getppid(),
    "path": sys.path, "argv0": sys.argv[0], "flags": str(sys.flags), "cwd": os.getcwd(), "env": dict(os.environ),
    "backend": matplotlib.get_backend(), "main": sorted(k for k in vars(sys.modules["__main__"]) if not k.startswith("_")),
    "signals": {s.name: str(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE)},
}))
"""


#: Cells whose outputs must come out alike: a figure shown, a figure left open (the inline backend
#: shows it after the cell), a table, a magic.
SHOWN = ["import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()",
         "plt.figure()\nplt.plot([3, 2, 1])",
         "import pandas as pd\npd.DataFrame({'a': [1, 2]})",
         "%matplotlib inline\nplt.plot([2, 2])"]


def _probe(cwd: Path) -> dict:
    """The probe's findings, and under ``outputs`` the kinds of output of the :data:`SHOWN` cells."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(code) for code in [PROBE, *SHOWN]]
    client = nbclient.NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(cwd)}})
    client.execute()
    found = json.loads(client.nb.cells[0].outputs[0]["text"])
    found["outputs"] = [[(o["output_type"], sorted(o.get("data", {}))) for o in cell.outputs]
                        for cell in client.nb.cells[1:]]
    return found


@pytest.mark.book
def test_a_forked_kernel_starts_as_a_fresh_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A_CHAPTER_SETTING", "seen")  # the kernel takes the environment of its launcher
    monkeypatch.delenv(warm_kernels.DISABLE_VARIABLE, raising=False)
    fresh = _probe(tmp_path)
    with warm_kernels.WarmKernels() as kernels:
        assert kernels.started
        template = kernels.process.pid
        warm = _probe(tmp_path)
    assert (warm.pop("preloaded"), fresh.pop("preloaded")) == (True, False)
    assert warm.pop("parent") == template != fresh.pop("parent")
    assert warm["env"]["A_CHAPTER_SETTING"] == "seen"
    assert all(any("image/png" in kinds for _, kinds in outputs) for outputs in fresh["outputs"][:2])
    assert warm == fresh


@pytest.mark.book
def test_interrupt_reaches_the_kernel_and_a_killed_launcher_takes_it_down(tmp_path: Path) -> None:
    with warm_kernels.WarmKernels() as kernels:
        assert kernels.started
        km = KernelManager(kernel_name="python3")
        km.start_kernel(cwd=str(tmp_path))
        kc = km.client()
        kc.start_channels()
        outputs: list[dict] = []
        try:
            kc.wait_for_ready(timeout=120)
            reply = kc.execute_interactive("import os\nprint(os.getpid())", timeout=60,
                                           output_hook=lambda msg: outputs.append(msg))
            assert reply["content"]["status"] == "ok"
            pid = int(next(m["content"]["text"] for m in outputs if m["msg_type"] == "stream"))
            assert pid != km.provisioner.pid, "the kernel is the launcher itself"
            msg_id = kc.execute("import time\ntime.sleep(60)")
            # an interrupt that lands before the cell runs (the kernel says it is caught and goes on) is
            # lost: interrupt every 2 s until the cell's reply comes, not once after a guessed pause
            reply: dict = {}
            deadline = time.monotonic() + 50
            while reply.get("parent_header", {}).get("msg_id") != msg_id:
                assert time.monotonic() < deadline, "no interrupt reached the running cell"
                km.interrupt_kernel()
                try:
                    reply = kc.get_shell_msg(timeout=2)
                except queue.Empty:
                    pass
            assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)  # SIGKILL to the launcher: the forked kernel must go with it
        deadline = time.monotonic() + 20
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not Path(f"/proc/{pid}").exists(), f"the kernel (pid {pid}) outlived its killed launcher"


@pytest.mark.book
def test_without_the_template_a_kernel_starts_the_ordinary_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with warm_kernels.WarmKernels() as kernels:
        assert kernels.started
        kernels.process.kill()
        kernels.process.wait()
        probe = _probe(tmp_path)
    assert probe["preloaded"] is False and probe["cwd"] == str(tmp_path)
    monkeypatch.setenv(warm_kernels.DISABLE_VARIABLE, "1")
    with warm_kernels.WarmKernels() as kernels:
        assert not kernels.started
        assert _probe(tmp_path)["preloaded"] is False


@pytest.mark.book
def test_the_template_does_not_outlive_a_killed_build(tmp_path: Path) -> None:
    """A build killed outright (no clean-up of its own runs) leaves no template and no folder behind."""
    build = subprocess.Popen([sys.executable, "-c", "import time\nfrom autograder.warm_kernels import WarmKernels\n"
                              "with WarmKernels() as k:\n    print(k.process.pid, k.folder, flush=True)\n"
                              "    time.sleep(600)"],
                             cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True)
    pid, folder = build.stdout.readline().split()
    template = int(pid)
    assert Path(f"/proc/{template}").exists()
    build.send_signal(signal.SIGKILL)
    build.wait()
    deadline = time.monotonic() + 20
    while Path(f"/proc/{template}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{template}").exists(), "the template outlived the build that started it"
    assert not Path(folder).exists(), "the template's kernelspec folder was left behind"
