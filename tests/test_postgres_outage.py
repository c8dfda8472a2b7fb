"""While PostgreSQL is down: fast 503s, not ready, alive; once it is back: 200s, no restart.

The test runs its own throwaway cluster (``pg_cluster.py``) so that it can stop
and start it without disturbing the shared server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

import pg_cluster
from activityfeed.http.app import create_app
from activityfeed.settings import Settings
from conftest import Keys, need_service

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


def test_outage_gives_fast_503s_and_recovery_needs_no_restart(
    cluster: pg_cluster.Cluster,
) -> None:
    settings = Settings(
        database_url=cluster.url + "?connect_timeout=1&pool_size=4", rate_limit_per_minute=0
    )
    with TestClient(create_app(settings)) as client:
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
