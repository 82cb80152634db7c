"""Another user of the grading machine, as a program of theirs: connects to a Dask scheduler and asks it
to run a function (which would run as the grader, outside any sandbox, and writes a marker file).

Three tries: plain TCP to the scheduler's port; Dask's client with TLS credentials of its own; a TLS
client with no certificate that trusts anything (does the scheduler keep such a session?). Run as a
script, in a process of its own (``python intruder.py ADDRESS MARKER``, JSON on stdout); :func:`attempt`
runs it from a test and returns what each try got ("ran", "session kept", or "refused: ...").
"""

from __future__ import annotations

import json
import pathlib
import socket
import ssl
import subprocess
import sys

TRIES = ("plain TCP", "TLS with credentials of its own", "TLS without a certificate")


def main(address: str, marker: str) -> dict[str, str]:
    from distributed import Client
    from distributed.security import Security

    port = int(address.rsplit(":", 1)[1])

    def intrude() -> int:
        pathlib.Path(marker).write_text("ran as the grader")
        return 1

    tried = {}
    for name, where, security in [(TRIES[0], f"tcp://127.0.0.1:{port}", None),
                                  (TRIES[1], address, Security.temporary())]:
        try:
            with Client(where, security=security, timeout=5) as client:
                client.run(intrude)
                client.submit(intrude, pure=False).result(timeout=10)
            tried[name] = "ran"
        except Exception as err:
            tried[name] = "refused: " + type(err).__name__
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as raw, context.wrap_socket(raw) as tls:
            tls.sendall(b"\0" * 8)
            tried[TRIES[2]] = "session kept" if tls.recv(1) else "refused: closed"
    except TimeoutError:
        tried[TRIES[2]] = "session kept"
    except (ssl.SSLError, OSError) as err:
        tried[TRIES[2]] = "refused: " + type(err).__name__ + " " + str(err)[:80]
    return tried


def attempt(address: str, marker: pathlib.Path, cwd: pathlib.Path) -> dict[str, str]:
    """Run the intruder against ``address`` from a new process; what each of :data:`TRIES` got."""
    proc = subprocess.run([sys.executable, __file__, address, str(marker)], capture_output=True, text=True,
                          timeout=300, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tried = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(tried) == set(TRIES), tried
    return tried


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
