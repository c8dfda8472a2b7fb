"""Starting, watching and stopping the servers the harness measures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server process group, its URL and its log."""

    name: str
    args: Sequence[str]
    port: int
    health_path: str = "/healthz"
    env: dict[str, str] = field(default_factory=dict)
    log: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> Server:
        """Start and wait until the health path answers."""
        out = open(self.log, "wb") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            list(self.args),
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log}")
            try:
                with urllib.request.urlopen(self.url + self.health_path, timeout=2) as reply:
                    if reply.status < 500:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f}s")

    def peak_rss_mib(self) -> float:
        """The sum of the peak resident sizes of the process and its children."""
        if self.process is None:
            return 0.0
        total_kib = 0
        for pid in _tree(self.process.pid):
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total_kib += int(line.split()[1])
            except OSError:
                continue
        return total_kib / 1024

    def stop(self) -> None:
        """Stop the whole process group."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def activityfeed(
    database_url: str, port: int, workers: int, log: Path, env: dict[str, str] | None = None
) -> Server:
    """The service under test, rate limiting off."""
    return Server(
        f"activityfeed ({database_url.split(':', 1)[0]})",
        [
            sys.executable,
            "-m",
            "activityfeed",
            "serve",
            "--database-url",
            database_url,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        port,
        env={"ACTIVITYFEED_RATE_LIMIT_PER_MINUTE": "0", **(env or {})},
        log=log,
    )


def floor(body_file: Path, port: int, workers: int, log: Path) -> Server:
    """Starlette on uvicorn serving a fixed body."""
    return Server(
        "floor",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "floor_app:app",
            "--app-dir",
            str(Path(__file__).parent),
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        port,
        env={"FLOOR_BODY_FILE": str(body_file)},
        log=log,
    )


def datasette(executable: Path, db_file: Path, port: int, log: Path) -> Server:
    """Datasette on the same SQLite file, immutable mode, generous time limits."""
    return Server(
        "datasette",
        [
            str(executable),
            "serve",
            "-i",
            str(db_file),
            "--port",
            str(port),
            "--setting",
            "sql_time_limit_ms",
            "60000",
            "--setting",
            "max_returned_rows",
            "1000",
            "--setting",
            "num_sql_threads",
            "2",
        ],
        port,
        health_path="/-/versions.json",
        log=log,
    )
