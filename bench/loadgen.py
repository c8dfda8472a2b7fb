"""Load generation: wrk when it is installed, a small threaded generator otherwise.

wrk (Debian's package) is the real measuring tool; the fallback exists so that
the CI smoke run exercises the harness on a machine without it, and its figures
are marked as such in the report.
"""

from __future__ import annotations

import http.client
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Load:
    """One request shape to replay."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None
    # For writes that must not repeat an id: a template with "{n}" replaced per request.
    body_template: str | None = None


@dataclass(frozen=True)
class Measure:
    """What one load run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str


def have_wrk() -> bool:
    """Whether wrk is on the PATH."""
    return shutil.which("wrk") is not None


def run(load: Load, concurrency: int, seconds: float) -> Measure:
    """Replay ``load`` with ``concurrency`` connections for ``seconds``."""
    if have_wrk():
        return _wrk(load, concurrency, seconds)
    return _threads(load, concurrency, seconds)


def _lua(load: Load) -> str:
    headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in load.headers.items())
    if load.body_template is None:
        body = "" if load.body is None else f"wrk.body = {_lua_string(load.body.decode())}\n"
        return f'wrk.method = "{load.method}"\n{headers}{body}'
    nonce = secrets.token_hex(4)  # a fresh id space for every run
    # Each wrk thread has its own Lua state: number requests per thread.
    return (
        f'wrk.method = "{load.method}"\n{headers}'
        f"local template = {_lua_string(load.body_template)}\n"
        "local threads = 0\n"
        "function setup(thread) threads = threads + 1; thread:set('tid', threads) end\n"
        "counter = 0\n"
        "function request()\n  counter = counter + 1\n"
        f"  local n = '{nonce}-' .. tid .. '-' .. counter\n"
        "  local body = (string.gsub(template, '{n}', n))\n"
        "  return wrk.format(nil, nil, nil, body)\nend\n"
    )


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def _wrk(load: Load, concurrency: int, seconds: float) -> Measure:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(load))
    threads = max(1, min(2, concurrency))
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            script.name,
            load.url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(script.name).unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    n_errors = int(errors.group(1)) if errors else 0
    if socket_errors:
        n_errors += sum(int(x) for x in socket_errors.groups())
    return Measure(
        rps, _ms(latency.get("50", "0ms")), _ms(latency.get("99", "0ms")), n_errors, "wrk"
    )


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else 0.0


def _threads(load: Load, concurrency: int, seconds: float) -> Measure:
    parts = urlsplit(load.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    nonce = secrets.token_hex(4)

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        counter = 0
        mine: list[float] = []
        while time.perf_counter() < stop:
            counter += 1
            body = load.body
            if load.body_template is not None:
                body = load.body_template.replace("{n}", f"{nonce}-{index}-{counter}").encode()
            started = time.perf_counter()
            conn.request(load.method, path, body=body, headers=load.headers)
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - started) * 1000)
            if response.status >= 300:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    return Measure(
        len(latencies) / elapsed,
        statistics.median(latencies) if latencies else 0.0,
        p99,
        errors[0],
        "python",
    )
