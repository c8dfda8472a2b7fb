"""While PostgreSQL is down or hung: fast 503s, not ready, alive; once it is back: 200s.

The tests run their own throwaway cluster (``pg_cluster.py``) so that they can
stop, start, freeze and thaw it without disturbing the shared server.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from starlette.testclient import TestClient

from activityfeed.http.app import create_app
from activityfeed.settings import Settings
from activityfeed.storage import StorageUnavailable
from activityfeed.storage.postgres.store import PostgresStorage
from conftest import Keys, need_service
from support import pg_cluster
from support.sdk_support import live_server
from support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# Generous: a request must not hang on the dead server, well above the
# store's 1 s connect timeout used here, far below a client's patience.
NO_HANG_SECONDS = 5.0


@pytest.fixture
def cluster() -> Iterator[pg_cluster.Cluster]:
    reason = pg_cluster.unavailable_reason()
    if reason is not None:
        need_service("initdb/pg_ctl", reason)
    made = pg_cluster.Cluster()
    try:
        made.init()
        made.start()
        yield made
    finally:
        made.destroy()


def timed_get(client: TestClient, path: str, headers: dict[str, str]) -> tuple[int, dict, float]:  # type: ignore[type-arg]
    start = time.monotonic()
    response = client.get(path, headers=headers)
    return response.status_code, response.json(), time.monotonic() - start


class Collected(logging.Handler):
    """Keeps the records logged to it."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def tracebacks_logged() -> Iterator[list[str]]:
    """The messages logged with a traceback during the block (uvicorn's own included).

    Enter it once the server runs: uvicorn configures its loggers as it starts.
    """
    collected = Collected()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.error")]
    for logger in loggers:
        logger.addHandler(collected)
    found: list[str] = []
    try:
        yield found
    finally:
        for logger in loggers:
            logger.removeHandler(collected)
        found += [record.getMessage() for record in collected.records if record.exc_info]


def test_outage_gives_fast_503s_and_recovery_needs_no_restart(
    cluster: pg_cluster.Cluster,
) -> None:
    settings = Settings(
        database_url=cluster.url + "?connect_timeout=1&pool_size=4", rate_limit_per_minute=0
    )
    with TestClient(create_app(settings)) as client, tracebacks_logged() as tracebacks:
        headers = Keys(client).headers("acme")
        assert client.get("/v2/activity_histories", headers=headers).status_code == 200
        assert client.get("/readyz").status_code == 200

        cluster.stop()
        for _ in range(3):
            status, body, elapsed = timed_get(client, "/v2/activity_histories", headers)
            assert status == 503
            assert set(body) == {"error"} and body["error"]
            assert elapsed < NO_HANG_SECONDS
        status, body, elapsed = timed_get(client, "/readyz", {})
        assert status == 503 and elapsed < NO_HANG_SECONDS
        assert client.get("/healthz").status_code == 200

        cluster.start()
        deadline = time.monotonic() + 30
        while client.get("/v2/activity_histories", headers=headers).status_code != 200:
            assert time.monotonic() < deadline, "no recovery 30 s after the database came back"
            time.sleep(0.2)
        for _ in range(3):
            assert client.get("/v2/activity_histories", headers=headers).status_code == 200
        assert client.get("/readyz").status_code == 200
        created = client.post(
            "/v2/activity_histories",
            headers=headers,
            json={"type": "call", "resource_type": "person", "resource_id": 1},
        )
        assert created.status_code == 201
    assert tracebacks == []


# A hung database: frozen with SIGSTOP, its connections open and silent.

STORE_TIMEOUT = 1.0
# A 503 within the store's deadline; the slack is for a busy machine, far below the freeze.
ANSWERED_WITHIN = STORE_TIMEOUT + 1.5
READYZ_PROMISE = 3.0  # docs/scaling.md
# A safety thaw: without deadlines a request would wait the freeze out, and
# the test then fails on its timing instead of hanging.
FREEZE_AT_MOST = 15.0


@contextmanager
def thawed_at_the_end(cluster: pg_cluster.Cluster) -> Iterator[None]:
    """Thaw the cluster when the block ends, or after :data:`FREEZE_AT_MOST` at the latest."""
    safety = threading.Timer(FREEZE_AT_MOST, cluster.thaw)
    safety.start()
    try:
        yield
    finally:
        safety.cancel()
        cluster.thaw()


@contextmanager
def frozen(cluster: pg_cluster.Cluster) -> Iterator[None]:
    """The cluster frozen for the block."""
    with thawed_at_the_end(cluster):
        cluster.freeze()
        yield


def timed(http: httpx.Client, method: str, path: str, **kwargs: Any) -> tuple[int, Any, float]:
    start = time.monotonic()
    response = http.request(method, path, **kwargs)
    return response.status_code, response.json(), time.monotonic() - start


def test_a_frozen_database_gives_503s_within_the_store_deadline_and_serving_resumes_on_thaw(
    cluster: pg_cluster.Cluster,
) -> None:
    settings = Settings(
        database_url=cluster.url + "?connect_timeout=1&pool_size=4",
        rate_limit_per_minute=0,
        store_timeout_s=STORE_TIMEOUT,
    )
    with (
        live_server(settings) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
        tracebacks_logged() as tracebacks,
    ):
        http.headers["Authorization"] = f"Bearer {server.key()}"
        new = {"type": "call", "resource_type": "person", "resource_id": 1}
        created = http.post("/v2/activity_histories", json=new)
        assert created.status_code == 201
        one = f"/v2/activity_histories/{created.json()['data']['id']}"
        # Several connections in the pool, idle and healthy when the freeze comes.
        with ThreadPoolExecutor(8) as pool:
            warm = list(pool.map(lambda _: http.get("/v2/activity_histories"), range(8)))
        assert all(response.status_code == 200 for response in warm)

        calls: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", "/v2/activity_histories", {}),
            ("GET", one, {}),
            ("POST", "/v2/activity_histories", {"json": new}),
            ("PUT", one, {"json": {"tags": ["frozen"]}}),
            ("DELETE", one, {}),
            ("POST", "/v2/activity_histories/bulk", {"json": [{**new, "id": "call-77"}]}),
            ("PUT", "/v2/associated_records/call/7", {"json": {"duration": 1}}),
            ("GET", "/readyz", {}),
        ]
        with frozen(cluster):
            # Twice the pool: some calls wait for a connection, some for an answer.
            with ThreadPoolExecutor(len(calls) * 2) as pool:
                answers = list(
                    pool.map(lambda call: timed(http, call[0], call[1], **call[2]), calls * 2)
                )
            assert http.get("/healthz").status_code == 200
            thawed = time.monotonic()
        for (method, path, _), (status, body, elapsed) in zip(calls * 2, answers, strict=True):
            assert status == 503, (method, path, status, body)
            assert set(body) == {"error"} or path == "/readyz", body
            assert elapsed < ANSWERED_WITHIN, (method, path, elapsed)
            if path == "/readyz":
                assert elapsed < READYZ_PROMISE

        # Serving again within a second of the thaw, with nothing half-done.
        while (status := http.get("/v2/activity_histories").status_code) != 200:
            assert time.monotonic() - thawed < 1.0, status
        assert time.monotonic() - thawed < 1.0
        with ThreadPoolExecutor(8) as pool:
            after = list(pool.map(lambda _: http.get(one), range(8)))
        assert [response.status_code for response in after] == [200] * 8
        assert after[0].json()["data"]["tags"] == []
        assert len(http.get("/v2/activity_histories").json()["data"]) == 1
        assert http.put(one, json={"tags": ["thawed"]}).status_code == 200
        assert http.get("/readyz").status_code == 200
    assert tracebacks == []


def test_a_transaction_frozen_midway_fails_within_the_deadline_and_its_connection_is_dropped(
    cluster: pg_cluster.Cluster,
) -> None:
    async def scenario() -> None:
        store = PostgresStorage(cluster.url, connect_timeout=1, pool_size=2, timeout=STORE_TIMEOUT)
        await store.open()
        try:
            team = await store.ensure_team("acme")
            # Frozen between two statements; still frozen when the transaction ends.
            with thawed_at_the_end(cluster), pytest.raises(StorageUnavailable):
                async with store.transaction() as conn:
                    await conn.execute("SELECT 1")
                    cluster.freeze()
                    start = time.monotonic()
                    await conn.execute(
                        "INSERT INTO team_clocks (team_id) VALUES ($1) ON CONFLICT DO NOTHING",
                        team.id,
                    )
            assert time.monotonic() - start < ANSWERED_WITHIN
            # Thawed: every connection the pool hands out works, none is mid-transaction.
            for _ in range(4):
                async with store.connection() as conn:
                    assert await conn.fetchval("SELECT 1") == 1
                    assert not conn.is_in_transaction()
            assert await store.get_team("acme") == team
        finally:
            await store.close()

    asyncio.run(scenario())


# A connection lost in the middle of a write.


def local_port(response: httpx.Response) -> int:
    """The client's port of the connection that carried ``response``."""
    port: int = response.extensions["network_stream"].get_extra_info("socket").getsockname()[1]
    return port


def waiting_behind(conn: psycopg.Connection[Any], blocker: int) -> int:
    """How many backends wait for a lock that the backend ``blocker`` holds."""
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (blocker,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_connection_lost_mid_write_is_a_clean_503_and_the_client_keeps_its_connection(
    pg_url: str,
) -> None:
    # The store reaches PostgreSQL through a proxy, whose connections a test can cut.
    upstream = urlsplit(pg_url)
    proxy = TcpProxy((upstream.hostname or "127.0.0.1", upstream.port or 5432))
    proxy.start()
    user = upstream.netloc.rsplit("@", 1)[0] + "@" if "@" in upstream.netloc else ""
    proxied = urlunsplit(upstream._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))
    settings = Settings(database_url=proxied + "&connect_timeout=1", rate_limit_per_minute=0)
    new = {"type": "call", "resource_type": "person", "resource_id": 1}
    try:
        with (
            live_server(settings) as server,
            httpx.Client(base_url=server.url, timeout=30) as http,
            tracebacks_logged() as tracebacks,
        ):
            http.headers["Authorization"] = f"Bearer {server.key()}"
            first = http.post("/v2/activity_histories", json=new)
            assert first.status_code == 201
            with psycopg.connect(pg_url) as holder, psycopg.connect(pg_url) as watcher:
                watcher.autocommit = True
                # The team's clock locked, the next write waits in its transaction...
                holder.execute("SELECT clock FROM team_clocks FOR UPDATE")
                with ThreadPoolExecutor(1) as pool:
                    pending = pool.submit(http.post, "/v2/activity_histories", json=new)
                    deadline = time.monotonic() + 20
                    while not waiting_behind(watcher, holder.info.backend_pid):
                        assert time.monotonic() < deadline, "the write never reached its lock"
                        time.sleep(0.05)
                    # ...when its connection is cut.
                    proxy.stop()
                    cut = pending.result()
                holder.rollback()
            proxy.start()
            assert cut.status_code == 503
            assert set(cut.json()) == {"error"}
            assert cut.headers.get("connection", "").lower() != "close"
            again = http.get("/v2/activity_histories")
            assert again.status_code == 200
            assert [a["id"] for a in again.json()["data"]] == [first.json()["data"]["id"]]
            # One keep-alive connection carried all three.
            assert local_port(first) == local_port(cut) == local_port(again)
    finally:
        proxy.stop()
    assert tracebacks == []


def test_the_store_deadline_comes_from_the_environment_and_must_be_positive() -> None:
    settings = Settings.from_env({"ACTIVITYFEED_STORE_TIMEOUT_S": "1.5"})
    assert settings.store_timeout_s == 1.5
    assert Settings().store_timeout_s == 5.0
    app = create_app(settings.with_(database_url="postgresql://nobody@127.0.0.1:1/none"))
    assert app.state.service.storage.timeout == 1.5
    for bad in ("0", "-1", "soon", "nan", "inf"):
        with pytest.raises(ValueError, match="ACTIVITYFEED_STORE_TIMEOUT_S"):
            Settings.from_env({"ACTIVITYFEED_STORE_TIMEOUT_S": bad})
