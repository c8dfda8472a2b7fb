"""``serve`` waits for a PostgreSQL server that is down at boot, then serves, or gives up clearly.

The server is a throwaway cluster (``pg_cluster.py``), initialised and not yet
started when ``serve`` starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from conftest import need_service
from support import pg_cluster
from support.sdk_support import make_key

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PASSWORD = "not-to-be-shown"  # trust authentication: the server never asks for it


@pytest.fixture
def stopped_cluster() -> Iterator[pg_cluster.Cluster]:
    reason = pg_cluster.unavailable_reason()
    if reason is not None:
        need_service("initdb/pg_ctl", reason)
    made = pg_cluster.Cluster()
    try:
        made.init()
        yield made
    finally:
        made.destroy()


class Serve:
    """``activityfeed serve`` in a subprocess, its standard error collected line by line."""

    def __init__(self, database_url: str, *options: str) -> None:
        self.port = pg_cluster.free_port()
        self.lines: list[str] = []
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVITYFEED_")}
        env["ACTIVITYFEED_RATE_LIMIT_PER_MINUTE"] = "0"
        command = [sys.executable, "-m", "activityfeed", "serve", "--database-url", database_url]
        command += ["--port", str(self.port), *options]
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, count: int = 1, seconds: float = 60) -> None:
        """Until ``count`` lines hold ``text``; fails if the process ends first."""
        deadline = time.monotonic() + seconds
        while sum(text in line for line in self.lines) < count:
            assert self.process.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, "\n".join(self.lines)
            time.sleep(0.05)

    def exit_code(self, seconds: float = 60) -> int:
        """The exit code, once the process has ended and its output is read."""
        code = self.process.wait(timeout=seconds)
        self._reader.join(timeout=10)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()


def with_password(url: str) -> str:
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)


def test_serve_waits_for_a_database_down_at_boot_and_serves_once_it_is_up(
    stopped_cluster: pg_cluster.Cluster,
) -> None:
    where = f"127.0.0.1:{stopped_cluster.port}"
    server = Serve(with_password(stopped_cluster.url), "--wait-for-db", "60")
    try:
        server.wait_for(where, count=2)  # two attempts, each logged
        stopped_cluster.start()
        server.wait_for("Application startup complete")
        key = make_key(stopped_cluster.url)
        response = httpx.get(
            f"http://127.0.0.1:{server.port}/v2/activity_histories",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{server.port}/readyz").status_code == 200
    finally:
        server.stop()
    waiting = [line for line in server.lines if "waiting for the database" in line]
    assert len(waiting) >= 2
    assert all(where in line for line in waiting)
    assert not [line for line in server.lines if PASSWORD in line or "Traceback" in line]


def test_serve_gives_up_with_one_clear_line_when_the_database_stays_down(
    stopped_cluster: pg_cluster.Cluster,
) -> None:
    where = f"127.0.0.1:{stopped_cluster.port}"
    server = Serve(with_password(stopped_cluster.url), "--wait-for-db", "2")
    try:
        assert server.exit_code() != 0
    finally:
        server.stop()
    errors = [line for line in server.lines if line.startswith("Error:")]
    assert len(errors) == 1, server.lines
    assert where in errors[0] and "2 s" in errors[0]
    assert all(where in line for line in server.lines if "waiting for the database" in line)
    assert not [line for line in server.lines if PASSWORD in line or "Traceback" in line]


def test_serve_without_waiting_fails_at_once(stopped_cluster: pg_cluster.Cluster) -> None:
    server = Serve(stopped_cluster.url, "--wait-for-db", "0")
    try:
        assert server.exit_code() != 0
    finally:
        server.stop()
    assert len(server.lines) == 1, server.lines
    assert server.lines[0].startswith("Error:")
    assert f"127.0.0.1:{stopped_cluster.port}" in server.lines[0]


def test_serve_does_not_wait_for_a_server_that_refuses_it(
    stopped_cluster: pg_cluster.Cluster,
) -> None:
    stopped_cluster.start()
    url = stopped_cluster.url.rsplit("/", 1)[0] + "/no_such_database"
    server = Serve(url, "--wait-for-db", "60")
    try:
        assert server.exit_code(seconds=30) != 0
    finally:
        server.stop()
    assert not [line for line in server.lines if "waiting for the database" in line]
    errors = [line for line in server.lines if line.startswith("Error:")]
    assert len(errors) == 1 and "no_such_database" in errors[0], server.lines
