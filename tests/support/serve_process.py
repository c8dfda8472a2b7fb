"""``activityfeed serve`` in a subprocess, for tests of what the real command does."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``activityfeed serve`` in a subprocess, up once every worker has started."""

    def __init__(self, database_url: str, env: dict[str, str], workers: int = 1) -> None:
        self.port = free_port()
        self.lines: list[str] = []
        command = [sys.executable, "-m", "activityfeed", "serve", "--database-url", database_url]
        command += ["--port", str(self.port), "--workers", str(workers), "--log-level", "info"]
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 60
        while sum("Application startup complete" in line for line in self.lines) < workers:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("the server did not start:\n" + "".join(self.lines))
            time.sleep(0.05)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2/activity_histories"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
