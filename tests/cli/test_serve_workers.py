"""``activityfeed serve --workers N`` as a real process tree.

* The workers run the service's protocol (head limits, JSON protocol errors)
  with the limits of the environment.
* No worker outlives the supervisor: after a ``kill -9`` of the supervisor the
  workers stop, the port is free, and a new ``serve`` on it starts.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="finds the workers in /proc"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now (uvicorn binds with SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def children(pid: int) -> set[int]:
    """The live processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


class Serve:
    """``activityfeed serve`` in a subprocess, up once each of its workers has started."""

    def __init__(self, log: Path, database_url: str, port: int, workers: int, **env: str) -> None:
        self.port = port
        self.log = log
        environ = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("ACTIVITYFEED_")
        }
        environ.update({"ACTIVITYFEED_RATE_LIMIT_PER_MINUTE": "0", **env})
        command = [sys.executable, "-m", "activityfeed", "serve", "--database-url", database_url]
        command += ["--port", str(port), "--workers", str(workers), "--log-level", "info"]
        with log.open("w") as stderr:
            self.process = subprocess.Popen(
                command, env=environ, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr
            )
        deadline = time.monotonic() + 60
        while self.log.read_text().count("Application startup complete") < workers:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("serve did not start:\n" + self.log.read_text())
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def serving(tmp_path: Path, port: int, workers: int = 2, **env: str) -> Iterator[Serve]:
    server = Serve(
        tmp_path / f"serve-{port}-{time.monotonic_ns()}.log",
        f"sqlite:///{tmp_path / 'activityfeed.db'}",
        port,
        workers,
        **env,
    )
    try:
        yield server
    finally:
        server.stop()


def raw_answer(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with suppress(OSError):  # the server may answer and close before the end
            sock.sendall(request)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def test_workers_answer_an_oversized_head_with_the_json_431_of_the_configured_limit(
    tmp_path: Path,
) -> None:
    port = free_port()
    with serving(tmp_path, port, ACTIVITYFEED_MAX_HEADER_BYTES="2048"):
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n"
        for _ in range(4):  # whichever worker accepts the connection
            status, headers, body = raw_answer(port, request)
            assert status == 431
            assert headers["content-type"] == "application/json"
            assert headers["connection"] == "close"
            assert json.loads(body) == {
                "error": "Request header fields are over the limit of 2048 bytes"
            }
        status, _, body = raw_answer(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 200


def test_workers_stop_when_the_supervisor_is_killed_and_the_port_can_be_served_again(
    tmp_path: Path,
) -> None:
    port = free_port()
    started: set[int] = set()
    try:
        with serving(tmp_path, port) as server:
            supervisor = server.process.pid
            started = children(supervisor)
            started |= {pid for child in started for pid in children(child)}
            assert len(started) >= 2  # the workers (and multiprocessing's helper)
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200

            os.kill(supervisor, signal.SIGKILL)
            server.process.wait(timeout=10)
            deadline = time.monotonic() + 10
            while (
                any(alive(pid) for pid in started) or not port_is_free(port)
            ) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert [pid for pid in started if alive(pid)] == []
            assert port_is_free(port)

        with serving(tmp_path, port) as again:
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
            again.stop()
    finally:
        for pid in started:  # leave nothing running, whatever failed above
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


ORPHAN = """
import sys, time
sys.platform = "elsewhere"  # no PR_SET_PDEATHSIG: only the portable watch is left
from activityfeed.http.server import exit_with_parent
import os
exit_with_parent(os.getppid())
print("watching", flush=True)
time.sleep(60)
"""

PARENT = """
import subprocess, sys
child = subprocess.Popen(
    [sys.executable, "-c", sys.argv[1]],
    stdout=subprocess.PIPE,
    stderr=subprocess.DEVNULL,
    text=True,
)
assert child.stdout is not None and child.stdout.readline() == "watching\\n"
print(child.pid, flush=True)
"""


def test_without_pdeathsig_a_process_still_stops_when_its_parent_is_gone() -> None:
    parent = subprocess.run(
        [sys.executable, "-c", PARENT, ORPHAN],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    orphan = int(parent.stdout.split()[0])
    try:
        deadline = time.monotonic() + 10
        while alive(orphan) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(orphan)
    finally:
        if alive(orphan):
            os.kill(orphan, signal.SIGKILL)
