"""Protocol-level limits and errors, over raw sockets against a live server.

The request line and the header section have limits (414, 431); anything the
HTTP parser rejects is a 400; each is the contract's JSON with
``Connection: close``, sent as soon as the limit is crossed, not after the whole
oversized head has arrived. A response given before the request's body has
arrived (an early 413, a 401) closes the connection instead of reading the rest.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from activityfeed.settings import Limits, Settings
from support.sdk_support import LiveServer, live_server

KIB = 1024


@dataclass(frozen=True)
class Answer:
    """One response read off a raw connection."""

    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after the response

    def error(self) -> str:
        """The contract's ``{"error": "..."}`` message, checking the shape on the way."""
        assert self.headers["content-type"] == "application/json", self.headers
        document = json.loads(self.body)
        assert isinstance(document, dict) and list(document) == ["error"], document
        message = document["error"]
        assert isinstance(message, str) and message
        return message


def connect(server: LiveServer) -> socket.socket:
    address = urlsplit(server.url)
    assert address.hostname is not None and address.port is not None
    sock = socket.create_connection((address.hostname, address.port), timeout=10)
    return sock


def send(sock: socket.socket, *parts: bytes) -> None:
    """Send ``parts``; the server may close while they are on their way."""
    for part in parts:
        try:
            sock.sendall(part)
        except OSError:
            return


def read_answer(sock: socket.socket, wait_for_close: float = 5.0) -> Answer:
    """The next response on ``sock``, and whether the server then closed it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before a response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed inside the body"
        rest += chunk
    body, extra = rest[:length], rest[length:]
    closed = False
    if not extra:
        sock.settimeout(wait_for_close)
        try:
            closed = sock.recv(65536) == b""
        except ConnectionResetError:
            closed = True
        except TimeoutError:
            closed = False
    return Answer(int(status_line.split()[1]), headers, body, closed)


def exchange(server: LiveServer, *parts: bytes) -> Answer:
    with connect(server) as sock:
        send(sock, *parts)
        return read_answer(sock)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'activityfeed.db'}",
        rate_limit_per_minute=0,
        limits=Limits(max_body_bytes=64 * KIB),
    )
    with live_server(settings) as live:
        yield live


def test_a_header_over_the_limit_is_a_json_431_before_the_header_ends(
    server: LiveServer,
) -> None:
    # The header never ends: the answer must come from the bytes counted so far.
    answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", b"a" * (512 * KIB))
    assert answer.status == 431
    assert "header" in answer.error().lower()
    assert answer.headers["connection"] == "close"
    assert answer.closed


def test_many_small_headers_over_the_total_limit_are_a_431(server: LiveServer) -> None:
    headers = b"".join(b"X-Filler-%d: %s\r\n" % (n, b"b" * 1000) for n in range(60))
    answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert answer.status == 431
    answer.error()
    assert answer.headers["connection"] == "close"
    assert answer.closed


def test_too_many_header_fields_are_a_431(server: LiveServer) -> None:
    headers = b"".join(b"X-%d: 1\r\n" % n for n in range(150))
    answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert answer.status == 431
    assert "header" in answer.error().lower()
    assert answer.closed


def test_a_request_target_over_the_limit_is_a_json_414_before_it_ends(
    server: LiveServer,
) -> None:
    answer = exchange(server, b"GET /v2/activity_histories?ids[]=", b"9" * (256 * KIB))
    assert answer.status == 414
    assert "request target" in answer.error().lower()
    assert answer.headers["connection"] == "close"
    assert answer.closed


def test_a_head_within_the_limits_is_served_and_the_connection_kept(
    server: LiveServer,
) -> None:
    request = (
        b"GET /healthz?" + b"q" * (6 * KIB) + b" HTTP/1.1\r\nHost: x\r\n"
        b"X-Big: "
        + b"a" * (20 * KIB)
        + b"\r\n"
        + b"".join(b"X-%d: 1\r\n" % n for n in range(80))
        + b"\r\n"
    )
    with connect(server) as sock:
        for _ in range(2):  # the same connection serves a second request
            send(sock, request)
            answer = read_answer(sock, wait_for_close=0.2)
            assert answer.status == 200
            assert answer.body == b'{"status":"ok"}'
            assert not answer.closed


MALFORMED = {
    "control byte in the request target": b"GET /heal\x01thz HTTP/1.1\r\nHost: x\r\n\r\n",
    "space in the request target": b"GET /heal thz HTTP/1.1\r\nHost: x\r\n\r\n",
    "unknown method": b"G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad HTTP version": b"GET /healthz HTTP/7.x\r\nHost: x\r\n\r\n",
    "space in a header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",
    "NUL in a header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX\x00: y\r\n\r\n",
    "control byte in a header value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n",
    "header line without a colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n",
    "letters in Content-Length": (
        b"POST /v2/activity_histories HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"
    ),
    "negative Content-Length": (
        b"POST /v2/activity_histories HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
    ),
    "overflowing Content-Length": (
        b"POST /v2/activity_histories HTTP/1.1\r\nHost: x\r\nContent-Length: "
        + b"9" * 30
        + b"\r\n\r\n"
    ),
    "two different Content-Lengths": (
        b"POST /v2/activity_histories HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab"
    ),
    "Content-Length with chunked": (
        b"POST /v2/activity_histories HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "bad chunk size": (
        b"POST /v2/activity_histories HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"
    ),
    "non-ASCII bytes in the path": b"GET /h\xc3\xa9althz HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_request_the_parser_rejects_is_a_json_400(
    server: LiveServer, request_bytes: bytes
) -> None:
    answer = exchange(server, request_bytes)
    assert answer.status == 400
    answer.error()
    assert answer.headers["connection"] == "close"
    assert answer.closed


def test_a_body_announced_over_the_limit_is_a_413_and_the_rest_is_not_read(
    server: LiveServer,
) -> None:
    key = server.key()
    head = (
        b"POST /v2/activity_histories HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % (96 * KIB * KIB)
    )
    with connect(server) as sock:
        send(sock, head, b"[" * (16 * KIB))
        answer = read_answer(sock)
    assert answer.status == 413
    answer.error()
    assert answer.headers["connection"] == "close"
    assert answer.closed  # without the other 96 MiB


def test_a_chunked_body_crossing_the_limit_is_a_413_and_the_connection_closes(
    server: LiveServer,
) -> None:
    key = server.key()
    head = (
        b"POST /v2/activity_histories HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (8 * KIB, b" " * (8 * KIB))
    with connect(server) as sock:
        send(sock, head, chunk * 12)  # 96 KiB of a 64 KiB limit, and no last chunk
        answer = read_answer(sock)
    assert answer.status == 413
    answer.error()
    assert answer.headers["connection"] == "close"
    assert answer.closed


def test_an_answer_before_the_body_has_arrived_closes_the_connection(
    server: LiveServer,
) -> None:
    head = (
        b"POST /v2/activity_histories HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (32 * KIB * KIB)
    )
    with connect(server) as sock:
        send(sock, head, b"[" * KIB)
        answer = read_answer(sock)
    assert answer.status == 401  # no key: answered without reading the body
    assert answer.headers["connection"] == "close"
    assert answer.closed


def test_a_whole_body_answered_early_keeps_the_connection(server: LiveServer) -> None:
    request = (
        b"POST /v2/activity_histories HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    with connect(server) as sock:
        for _ in range(2):
            send(sock, request)
            answer = read_answer(sock, wait_for_close=0.2)
            assert answer.status == 401
            assert "connection" not in answer.headers
            assert not answer.closed


def test_head_limits_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "ACTIVITYFEED_MAX_REQUEST_TARGET_BYTES": "4096",
            "ACTIVITYFEED_MAX_HEADER_BYTES": "16384",
            "ACTIVITYFEED_MAX_HEADER_COUNT": "50",
        }
    )
    assert settings.max_request_target_bytes == 4096
    assert settings.max_header_bytes == 16384
    assert settings.max_header_count == 50
    with pytest.raises(ValueError, match="MAX_HEADER_BYTES"):
        Settings.from_env({"ACTIVITYFEED_MAX_HEADER_BYTES": "0"})


def test_configured_head_limits_apply(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'activityfeed.db'}",
        rate_limit_per_minute=0,
        max_request_target_bytes=100,
        max_header_bytes=200,
        max_header_count=3,
    )
    with live_server(settings) as live:
        ok = exchange(live, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ok.status == 200
        long_target = exchange(live, b"GET /healthz?" + b"q" * 100 + b" HTTP/1.1\r\n\r\n")
        assert long_target.status == 414
        big = exchange(live, b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 200 + b"\r\n\r\n")
        assert big.status == 431
        many = exchange(live, b"GET /healthz HTTP/1.1\r\n" + b"X: 1\r\n" * 4 + b"\r\n")
        assert many.status == 431


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[LiveServer]:
    """A server that waits at most 0.5 s for a request's head."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'activityfeed.db'}",
        rate_limit_per_minute=0,
        head_timeout_s=0.5,
    )
    with live_server(settings) as live:
        yield live


def test_a_head_that_trickles_in_is_a_json_408_and_the_connection_closes(
    impatient: LiveServer,
) -> None:
    with connect(impatient) as sock:
        send(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        started = time.monotonic()
        answer = read_answer(sock)
        waited = time.monotonic() - started
    assert answer.status == 408
    assert "within 0.5 s" in answer.error()
    assert answer.headers["connection"] == "close"
    assert answer.closed
    assert waited < 5  # the deadline and slack for a busy machine, not forever


def test_a_connection_that_sends_nothing_is_closed_after_the_head_timeout(
    impatient: LiveServer,
) -> None:
    with connect(impatient) as sock:
        answer = read_answer(sock)
    assert answer.status == 408
    assert answer.closed


def test_a_later_request_on_a_kept_connection_has_its_own_head_deadline(
    impatient: LiveServer,
) -> None:
    with connect(impatient) as sock:
        time.sleep(0.3)
        send(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = read_answer(sock, wait_for_close=0.4)  # past the first head's 0.5 s
        assert (first.status, first.closed) == (200, False)
        send(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_answer(sock, wait_for_close=0.1).status == 200
        send(sock, b"GET /healthz HTTP/1.1\r\n")
        sock.settimeout(10)
        assert read_answer(sock).status == 408


def test_the_head_timeout_comes_from_the_environment() -> None:
    assert Settings.from_env({"ACTIVITYFEED_HEAD_TIMEOUT_S": "2.5"}).head_timeout_s == 2.5
    assert Settings().head_timeout_s == 10.0
