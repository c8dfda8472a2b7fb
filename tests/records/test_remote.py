"""Remote sources against a real HTTP server on loopback, and the circuit breaker."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from activityfeed.records.remote import CircuitBreaker
from activityfeed.settings import Settings

LIST = "/v2/activity_histories"
DEADLINE_MS = 250
RECORDS: dict[str, dict[str, dict[str, Any]]] = {
    "email": {"1": {"subject": "Hello", "views": 3}, "2": {"subject": "Again", "views": 0}},
    "voicemail": {"1": {"length": 20}},
    # An integer beyond 64 bits (record 2) would be rounded to a float; one within stays exact.
    "step": {
        "1": {"number": 18446744073709551615},
        "2": {"number": 123456789012345678901234567890},
    },
}


class Source:
    """A stand-in for a team's record service: how it answers depends on the path.

    ``/ok`` answers from :data:`RECORDS`, ``/500`` fails, ``/hang`` answers
    only when the test ends, ``/malformed`` sends broken JSON, ``/shape``
    valid JSON of the wrong shape, ``/switch`` whatever ``mode`` says.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.release = threading.Event()
        self.mode = "ok"
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                source.requests.append((self.path, body, dict(self.headers)))
                mode = source.mode if self.path == "/switch" else self.path.strip("/")
                if mode == "hang":
                    source.release.wait(10)
                if mode == "500":
                    self.answer(500, b"oops")
                elif mode == "malformed":
                    self.answer(200, b'{"records": {"1": {"subj')
                elif mode == "shape":
                    self.answer(200, b'{"records": [1, 2]}')
                else:
                    known = RECORDS.get(body["resource"], {})
                    found = {i: known[i] for i in body["ids"] if i in known}
                    self.answer(200, json.dumps({"records": found}).encode())

            def answer(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up on /hang: expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/{path}"

    def count(self, resource: str) -> int:
        return sum(1 for _, body, _ in self.requests if body["resource"] == resource)


def refused_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/records"


@pytest.fixture
def source() -> Iterator[Source]:
    server = Source()
    server.thread.start()
    yield server
    server.release.set()
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def settings(store_url: str, source: Source) -> Settings:
    return Settings(
        database_url=store_url,
        rate_limit_per_minute=0,
        dynamic_data_deadline_ms=DEADLINE_MS,
        records_env=(
            ("EMAIL_URL", source.url("ok")),
            ("EMAIL_AUTHORIZATION", "Bearer s3cret"),
            ("VOICEMAIL_URL", source.url("ok")),
            ("CALL_URL", source.url("500")),
            ("MEETING_URL", source.url("hang")),
            ("NOTE_URL", source.url("malformed")),
            ("SUCCESS_URL", source.url("shape")),
            ("TASK_URL", refused_url()),
            ("STEP_URL", source.url("ok")),
        ),
    )


@pytest.fixture
def cadence(client: TestClient, auth: dict[str, str]) -> None:
    """A local record next to the remote ones: it loads whatever the remotes do."""
    client.put("/v2/associated_records/cadence/1", json={"name": "Outbound"}, headers=auth)


def create(client: TestClient, auth: dict[str, str], static_data: dict[str, Any]) -> None:
    body = {"type": "call", "resource_type": "person", "resource_id": 1}
    response = client.post(LIST, json={**body, "static_data": static_data}, headers=auth)
    assert response.status_code == 201


def only(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    response = client.get(LIST, headers=auth)
    assert response.status_code == 200
    (activity,) = response.json()["data"]
    return activity  # type: ignore[no-any-return]


@pytest.mark.usefixtures("cadence")
def test_an_answering_source_fills_dynamic_data(
    client: TestClient, auth: dict[str, str], source: Source
) -> None:
    create(client, auth, {"email_id": 1, "cadence_id": 1})
    activity = only(client, auth)
    assert activity["dynamic_data"] == {"subject": "Hello", "views": 3, "name": "Outbound"}
    assert activity["failed_dynamic_resources"] == []
    ((path, body, headers),) = source.requests
    assert path == "/ok"
    assert body == {"team": "acme", "team_id": body["team_id"], "resource": "email", "ids": ["1"]}
    assert headers["Authorization"] == "Bearer s3cret"


@pytest.mark.usefixtures("cadence")
def test_an_id_the_source_does_not_return_fails(client: TestClient, auth: dict[str, str]) -> None:
    create(client, auth, {"email_id": 99, "cadence_id": 1})
    activity = only(client, auth)
    assert activity["dynamic_data"] == {"name": "Outbound"}
    assert activity["failed_dynamic_resources"] == ["email"]


@pytest.mark.usefixtures("cadence")
@pytest.mark.parametrize(
    "name",
    ["call", "meeting", "note", "success", "task"],
    ids=["500", "hangs", "malformed-json", "wrong-shape", "refused"],
)
def test_a_failing_source_fails_its_name_and_the_rest_still_loads(
    client: TestClient, auth: dict[str, str], name: str
) -> None:
    create(client, auth, {f"{name}_id": 1, "email_id": 2, "cadence_id": 1})
    started = time.monotonic()
    activity = only(client, auth)
    elapsed = time.monotonic() - started
    assert activity["dynamic_data"] == {"subject": "Again", "views": 0, "name": "Outbound"}
    assert activity["failed_dynamic_resources"] == [name]
    # A behaviour bound, not a benchmark: a hanging source costs about one deadline.
    assert elapsed < 5 * DEADLINE_MS / 1000


def test_a_hanging_source_does_not_hold_the_page_past_the_deadline(
    client: TestClient, auth: dict[str, str], source: Source
) -> None:
    for n in range(25):
        create(client, auth, {"meeting_id": n, "email_id": 1 + n % 2})
    started = time.monotonic()
    response = client.get(LIST, headers=auth)
    elapsed = time.monotonic() - started
    data = response.json()["data"]
    assert len(data) == 25
    assert all(a["failed_dynamic_resources"] == ["meeting"] for a in data)
    assert all(a["dynamic_data"]["subject"] in ("Hello", "Again") for a in data)
    assert source.count("meeting") == 1
    assert elapsed < 5 * DEADLINE_MS / 1000


def test_one_request_per_resource_name_per_page(
    client: TestClient, auth: dict[str, str], source: Source
) -> None:
    for n in range(30):
        create(client, auth, {"email_id": n % 3, "voicemail_id": n})
    first = client.get(LIST, params={"per_page": 20, "sort_direction": "asc"}, headers=auth).json()[
        "data"
    ]
    assert (source.count("email"), source.count("voicemail")) == (1, 1)
    ids = {name: body["ids"] for _, body, _ in source.requests for name in [body["resource"]]}
    assert sorted(ids["email"]) == ["0", "1", "2"]
    assert len(ids["voicemail"]) == 20
    with_voicemail = [a for a in first if "length" in a["dynamic_data"]]
    assert len(with_voicemail) == 1
    assert all(a["failed_dynamic_resources"] for a in first if a not in with_voicemail)
    client.get(LIST, params={"per_page": 20, "page": 2}, headers=auth)
    assert (source.count("email"), source.count("voicemail")) == (2, 2)


class TestBreaker:
    @pytest.fixture
    def settings(self, store_url: str, source: Source, tmp_path: Path) -> Settings:
        config = tmp_path / "records.toml"
        config.write_text(
            f'[resources.email]\nurl = "{source.url("switch")}"\n'
            "failure_threshold = 2\ncooldown_seconds = 30\n"
        )
        return Settings(
            database_url=store_url,
            rate_limit_per_minute=0,
            dynamic_data_deadline_ms=DEADLINE_MS,
            records_config=str(config),
        )

    def test_the_breaker_opens_then_a_probe_closes_it(
        self, client: TestClient, auth: dict[str, str], source: Source
    ) -> None:
        now = [1000.0]
        breaker = client.app.state.service.hydrator.remote["email"].breaker  # type: ignore[attr-defined]
        breaker.clock = lambda: now[0]
        create(client, auth, {"email_id": 1})

        source.mode = "500"
        for _ in range(2):
            assert only(client, auth)["failed_dynamic_resources"] == ["email"]
        assert source.count("email") == 2
        assert breaker.state == "open"

        # Open: the source is not called at all, and the answer is immediate.
        source.mode = "ok"
        assert only(client, auth)["failed_dynamic_resources"] == ["email"]
        assert source.count("email") == 2

        # After the cooldown one probe goes out; it fails, so the breaker reopens.
        source.mode = "500"
        now[0] += 31
        assert only(client, auth)["failed_dynamic_resources"] == ["email"]
        assert source.count("email") == 3
        assert breaker.state == "open"
        only(client, auth)
        assert source.count("email") == 3

        # The next probe succeeds: closed, and every request calls the source again.
        source.mode = "ok"
        now[0] += 31
        assert only(client, auth)["dynamic_data"] == {"subject": "Hello", "views": 3}
        assert breaker.state == "closed"
        only(client, auth)
        assert source.count("email") == 5


def test_breaker_states_with_a_fake_clock() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=3, cooldown=10, clock=lambda: now[0])
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state == "closed"
    breaker.success()  # a success resets the count of consecutive failures
    for _ in range(3):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    now[0] = 9.9
    assert not breaker.allow()
    now[0] = 10.0
    assert breaker.state == "half_open"
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one probe at a time
    breaker.success()
    assert breaker.state == "closed"
    assert breaker.allow()


def test_a_remote_integer_within_64_bits_is_exact_and_one_beyond_is_never_rounded(
    client: TestClient, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    create(client, auth, {"step_id": 1})
    activity = only(client, auth)
    assert activity["dynamic_data"] == {"number": 18446744073709551615}
    client.delete(f"{LIST}/{activity['id']}", headers=auth)
    create(client, auth, {"step_id": 2})
    with caplog.at_level(logging.WARNING, logger="activityfeed.records.remote"):
        activity = only(client, auth)
    assert activity["dynamic_data"] == {}
    assert activity["failed_dynamic_resources"] == ["step"]
    assert "beyond 64 bits" in caplog.text
