"""A throwaway PostgreSQL cluster that a test can stop, start, freeze and thaw.

PostgreSQL refuses to run as root; when the tests run as root the cluster
runs as the ``postgres`` user (through ``runuser``), in a directory it owns.

Freezing (``SIGSTOP``) is how a hung database looks from the service: its
connections stay open and nothing answers. Every backend of PostgreSQL runs in
a session of its own, so a process group does not reach them; the cluster
signals its postmaster (read from its own data directory) and each of the
postmaster's children, found through ``/proc`` (Linux).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path


def find_bindir() -> Path | None:
    """The newest directory holding both ``initdb`` and ``pg_ctl``, if any."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).parent] if on_path else []
    candidates += [
        Path(p)
        for p in sorted(
            glob.glob("/usr/lib/postgresql/*/bin"),
            key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()],
            reverse=True,
        )
    ]
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    return None


def unavailable_reason() -> str | None:
    """Why a cluster cannot be made here, or ``None``."""
    if find_bindir() is None:
        return "initdb and pg_ctl are not installed (looked on PATH and /usr/lib/postgresql)"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root without runuser to start PostgreSQL as another user"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run PostgreSQL as"
    return None


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """One data directory and server on a free port of 127.0.0.1, trust auth."""

    def __init__(self) -> None:
        bindir = find_bindir()
        assert bindir is not None
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="activityfeed-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        self._frozen: list[int] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        """The URL of its ``postgres`` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, *args], check=True, capture_output=True, timeout=120, cwd=self.root
        )

    def init(self) -> None:
        """Create the data directory."""
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c fsync=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        """Stop the server, disconnecting every client."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def pids(self) -> list[int]:
        """This cluster's postmaster, then every process it started (backends included)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        command = Path(f"/proc/{postmaster}/cmdline").read_bytes().split(b"\0")
        assert str(self.data).encode() in command, "postmaster.pid names another process"
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            # "pid (command) state ppid ...": the command may hold spaces and parentheses.
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(entry.name))
        return [postmaster, *children]

    def freeze(self) -> None:
        """``SIGSTOP`` the whole cluster: the postmaster first (it forks no more), then the rest."""
        postmaster, *_ = self.pids()
        os.kill(postmaster, signal.SIGSTOP)
        self._frozen = self.pids()
        for pid in self._frozen[1:]:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """``SIGCONT`` every process :meth:`freeze` stopped (a no-op when not frozen)."""
        frozen, self._frozen = self._frozen, []
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def destroy(self) -> None:
        """Thaw, stop if running and delete everything."""
        self.thaw()
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):  # already gone
                self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
