"""The HTTP server: uvicorn with a protocol that bounds the request head, and its workers.

uvicorn's httptools protocol reads a request line and header section of any
size (httptools joins a header value's pieces as they arrive, so a 64 MiB
header costs seconds of one worker's CPU), and answers what its parser rejects
with a plain-text 400. :class:`BoundedHttpToolsProtocol` counts the head as it
arrives and answers, in the contract's JSON with ``Connection: close``:

* 414 once the request target is over ``max_request_target_bytes``;
* 431 once the header fields are over ``max_header_bytes`` (each line's name,
  value and separators) or over ``max_header_count`` fields;
* 400 for anything else the parser rejects (bad bytes in the request line or
  a header, a bad ``Content-Length``, a bad chunk);
* 408 when a request's head has not all arrived within ``head_timeout_s`` of
  the connection's opening (or of the first byte of a later request on it),
  so that a client sending its head a byte at a time, or nothing, cannot hold
  a connection (uvicorn's keep-alive timeout covers only the idle time
  between requests).

The limits are checked after each read of an unfinished head (one read is
at most 256 KiB), so an endless header is answered after the limit plus one
read, never after it ends; the exact count is made when the head ends.

An answer given before the request's body has all arrived (a 413, a 401, a
404...) carries ``Connection: close`` and the connection is closed after it:
the rest of the body is not read, so an upload over the limit costs the
worker nothing more. Connections whose body was read keep alive as usual.

:func:`create_worker_app` is the app factory of ``activityfeed serve``: in a
worker of ``--workers N`` it also ties the worker's life to the supervisor's
(:func:`exit_with_parent`).
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import httptools
from starlette.applications import Starlette
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from activityfeed.http.app import create_app
from activityfeed.render import json_bytes
from activityfeed.settings import Settings

if TYPE_CHECKING:
    from uvicorn._types import ASGISendEvent

log = logging.getLogger("activityfeed")

# The request line's bytes besides its target: a method (at most 20 bytes in
# llhttp's table), two spaces, "HTTP/1.1" and CRLF; a little room to spare.
REQUEST_LINE_SLACK = 64
# How often a worker checks that its supervisor is still there (the portable
# fallback of PR_SET_PDEATHSIG), and how long it has to finish its requests
# once the supervisor is gone (a long poll waits up to 30 s).
PARENT_POLL_SECONDS = 0.5
ORPHAN_GRACE_SECONDS = 40.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """The limits on a request's head (settings ``max_request_target_bytes`` and co.)."""

    max_request_target_bytes: int = 8 * 1024
    max_header_bytes: int = 32 * 1024
    max_header_count: int = 100
    head_timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadLimits:
        return cls(
            settings.max_request_target_bytes,
            settings.max_header_bytes,
            settings.max_header_count,
            settings.head_timeout_s,
        )


class HeadRejected(Exception):
    """Raised in a parser callback: the head is over a limit."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head limits and JSON protocol errors.

    The checks cost a few attribute reads per request: the target and the
    header count are checked after each read of an unfinished head and when
    the head ends; the header bytes are counted exactly only when the reads
    that carried the head could hold more than the limit.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        head_limits: HeadLimits | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_limits = head_limits or HeadLimits()
        self._in_head = False  # a message has begun and its headers have not ended
        self._head_bytes = 0  # bytes of the head in earlier reads (a lower bound)
        self._read_bytes = 0  # bytes of the read being parsed
        self._message_completed = False  # during the read being parsed
        self._closing_cycle: RequestResponseCycle | None = None
        self._rejected = False
        self._head_timer: asyncio.TimerHandle | None = None

    # The head's deadline

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(
                self.head_limits.head_timeout_s, self._head_timed_out
            )

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._rejected or self.transport.is_closing():
            return
        cycle = self.cycle
        if self._in_head or cycle is None or cycle.response_complete:
            limit = self.head_limits.head_timeout_s
            self._reject(408, f"Request head not received within {limit:g} s")

    # The connection

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return
        self._unset_keepalive_if_required()
        was_in_head = self._in_head
        self._message_completed = False
        self._read_bytes = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            return
        except httptools.HttpParserError as exc:
            rejected = exc.__context__
            if isinstance(rejected, HeadRejected):
                self._reject(rejected.status, rejected.message)
            else:
                self._reject(400, _parser_message(exc))
            return
        if self._in_head:
            # The head goes on past this read, so all of the read is head,
            # unless an earlier message ended in it (pipelining): count none.
            if was_in_head or not self._message_completed:
                self._head_bytes += len(data)
            if (problem := self._head_problem(final=False)) is not None:
                self._reject(*problem)
            return
        cycle = self.cycle
        if (
            cycle is not None
            and cycle.more_body
            and not cycle.response_started
            and cycle is not self._closing_cycle
        ):
            # The body is still on its way: an answer before its end closes.
            cycle.send = _closing_early(cycle)  # type: ignore[method-assign]
            self._closing_cycle = cycle

    def _head_problem(self, final: bool) -> tuple[int, str] | None:
        """The status and message for a head over a limit, else ``None``."""
        limits = self.head_limits
        if len(self.url) > limits.max_request_target_bytes:
            limit = limits.max_request_target_bytes
            return 414, f"Request target is over the limit of {limit} bytes"
        if len(self.headers) > limits.max_header_count:
            return 431, f"Request has over {limits.max_header_count} header fields"
        limit = limits.max_header_bytes
        if final:  # the fields may be over only if the reads that carried them are
            over = self._head_bytes + self._read_bytes > limit and (
                sum(len(name) + len(value) + 4 for name, value in self.headers) > limit
            )
        else:  # what the reads held besides the request line, so far
            over = self._head_bytes - len(self.url) > limit + REQUEST_LINE_SLACK
        return (431, _headers_too_large(limit)) if over else None

    def _unsupported_upgrade_warning(self) -> None:
        # The service has no upgrades: such a request is served as plain HTTP,
        # without two warnings in the log for each one.
        log.debug("ignored an Upgrade header")

    def _reject(self, status: int, message: str) -> None:
        """Answer ``status`` with ``{"error": message}`` and close the connection."""
        self._rejected = True
        log.debug("rejected a request: %d %s", status, message)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if self._in_head or cycle.response_started:
                # An earlier request's answer is due or under way on this
                # connection: an answer now would pass for it. Close only.
                self.transport.close()
                return
            # The body of the request in progress is bad: its app gets a
            # disconnect, and what it answers is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        body = json_bytes({"error": message})
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(body),
                b"x-content-type-options: nosniff\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()

    # Parser callbacks

    def on_message_begin(self) -> None:
        self._start_head_timer()  # a later request on the connection: its own deadline
        self._in_head = True
        self._head_bytes = 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        self._in_head = False
        if (problem := self._head_problem(final=True)) is not None:
            self._in_head = True  # the answer is this head's
            raise HeadRejected(*problem)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._message_completed = True
        super().on_message_complete()


def _closing_early(cycle: RequestResponseCycle) -> Any:
    """``cycle.send``, turning keep-alive off for an answer begun before the body ended.

    uvicorn then sends ``Connection: close`` and closes the connection after
    the answer, instead of reading (and dropping) the rest of the body.
    """
    send = cycle.send

    async def closing_send(message: ASGISendEvent) -> None:
        if message["type"] == "http.response.start" and cycle.more_body:
            cycle.keep_alive = False
        await send(message)

    return closing_send


def _headers_too_large(limit: int) -> str:
    return f"Request header fields are over the limit of {limit} bytes"


def _parser_message(exc: Exception) -> str:
    """The client's message for a parser error: llhttp's reason (a fixed text)."""
    if isinstance(exc, httptools.HttpParserCallbackError) or not str(exc):
        return "Malformed HTTP request"
    reason = str(exc).strip().rstrip(".")
    return f"Malformed HTTP request: {reason}"


def protocol_for(settings: Settings) -> type[asyncio.Protocol]:
    """The protocol for uvicorn's ``http`` option, with the limits of ``settings``.

    A partial of a module-level class, so that it pickles into the workers.
    """
    protocol = functools.partial(
        BoundedHttpToolsProtocol, head_limits=HeadLimits.from_settings(settings)
    )
    return cast(type[asyncio.Protocol], protocol)


def server_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn options every server of the service runs with (``serve`` and the tests)."""
    return {"http": protocol_for(settings), "ws": "none"}


def create_worker_app() -> Starlette:
    """The app of one ``serve`` process, from the environment.

    In a worker of ``--workers N`` the worker first ties its life to the
    supervisor's, so that no worker outlives it (a ``kill -9`` of the
    supervisor would leave its workers serving the port).
    """
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        exit_with_parent(parent.pid)
    return create_app()


def exit_with_parent(parent_pid: int) -> None:
    """Stop this process (SIGTERM: uvicorn's graceful shutdown) when ``parent_pid`` is gone.

    On Linux the kernel sends the signal the moment the parent dies
    (``PR_SET_PDEATHSIG``); everywhere a thread also checks the parent every
    :data:`PARENT_POLL_SECONDS`, which covers other systems and a parent
    that died before this was set up. A worker that has not finished within
    :data:`ORPHAN_GRACE_SECONDS` of the signal exits at once.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the thread below does it
            pass
    watcher = threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="activityfeed-parent-watch", daemon=True
    )
    watcher.start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    log.warning("the supervisor (pid %d) is gone: worker %d stops", parent_pid, os.getpid())
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE_SECONDS)
    os._exit(1)
