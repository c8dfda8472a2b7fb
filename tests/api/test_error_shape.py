"""Every error response of every endpoint has the contract's shape (section 1, "Errors").

The requests below go to every route the app serves, with every method, and
with bad keys, bad parameters, bad bodies, unknown ids and odd encodings. Each
error answer must be JSON, ``{"error": str}`` or ``{"errors": {str: [str, ...]}}``,
a 4xx (never a 500), and must carry no stack trace, SQL or key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from activityfeed.http.app import create_app
from activityfeed.model import SCOPE_READ, SCOPE_WRITE
from activityfeed.settings import Limits, Settings
from conftest import Keys

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
UNKNOWN_KEY = "ak_" + "0" * 64
ACTIVITY = {"type": "call", "resource_type": "person", "resource_id": 1}
# Words that only a leaked stack trace or SQL statement would put in a body.
LEAKS = re.compile(
    r"Traceback|File \"|\.py\b|line \d+, in|sqlite3?\b|SELECT\b|INSERT\b|UPDATE \w+ SET|"
    r"\bFROM activities\b|OperationalError|IntegrityError|psycopg",
    re.IGNORECASE,
)

IDS = [
    "call-1",
    "call-404",
    "bulk",
    "%C3%A9t%C3%A9-1",
    "%00",
    "%FF%FE",
    "call-" + "9" * 5000,
    "..%2F..%2Fetc",
    "%20",
]

BAD_QUERIES = [
    "per_page=0&page=0&sort_by=x&sort_direction=y&type=z&pinned=w",
    "per_page=" + "9" * 100,
    "page=" + "9" * 17,
    "page=" + "9" * 18,
    "page=" + "9" * 40,
    "per_page=100&page=92233720368547758",
    "occurred_at[gt]=9999-12-31T23:59:59-23:59",
    "occurred_at[lt]=0001-01-01T00:00:00%2B23:59",
    "updated_at[gte]=99999-01-01",
    "updated_at[lte]=2019-01-01T00:00:00.9999999999999Z",
    "occurred_at=2019-01-01",
    "occurred_at[gt][x]=2019-01-01",
    "occurred_at[between]=2019-01-01",
    "type[person][x][y]=call",
    "type[person]=call&type=note",
    "type[%E2%98%83][]=call",
    "type=%E2%98%83",
    "ids[a][b]=1",
    "resource_type[x]=person",
    "resource_id=1",
    "resource_type=person&resource_id=" + "9" * 400,
    "user_guid=%00&ids=%00&resource_type=person&resource_id=%00",
    "ids=" + ",".join(f"call-{i}" for i in range(2000)),
    "per_page=%FF",
    "%FF=%FE",
    "type%5B%5D=call",
    "sort_direction=a%C5%BFc",
    "per_page=%D9%A1%D9%A0",
    "pinned=%00",
    "a" * 5000 + "=1",
]

NDJSON = "application/x-ndjson"


def dumps(value: Any) -> bytes:
    """JSON of anything, also integers past 64 bits (which orjson refuses)."""
    return json.dumps(value).encode()


BAD_BODIES: list[tuple[bytes, str | None]] = [
    (b"", None),
    (b"{", "application/json"),
    (b"\xff\xfe\x00", "application/json"),
    (b"null", "application/json"),
    (b"[]", "application/json"),
    (b"{}", "application/json"),
    (b"[{}]", "application/json"),
    (b'{"a": 1e999}', "application/json"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
    (b'{"type": "call"}', "text/plain"),
    (b"type=call&resource_type=person", "application/x-www-form-urlencoded"),
    (b'{"type": "call"}\n{broken', NDJSON),
    (b"\n\n", NDJSON),
    (b"[1]\n2\n", NDJSON),
    (dumps({**ACTIVITY, "resource_id": 10**30}), "application/json"),
    (b'{"type":"call","resource_type":"person","resource_id":1' + b"0" * 400 + b"}", None),
    (dumps({**ACTIVITY, "occurred_at": "9999-12-31T23:59:59-23:00"}), None),
    (dumps({**ACTIVITY, "occurred_at": "0001-01-01T00:00:00+23:00"}), None),
    (dumps({**ACTIVITY, "pinned_at": "9999-12-31T23:59:59.999999-00:01"}), None),
    (dumps({**ACTIVITY, "occurred_at": None, "tags": None}), None),
    (dumps({**ACTIVITY, "id": "call-\u2603", "user_guid": "\u2603" * 300}), None),
    (b'{"type":"call","resource_type":"person","resource_id":1,"user_guid":"\\ud800"}', None),
    (dumps({**ACTIVITY, "static_data": {"deep": [[[[[[[[[[1]]]]]]]]]]}}), None),
    (dumps({**ACTIVITY, "user_guid": "\u0000", "tags": ["a\u0000"]}), None),
    (dumps({**ACTIVITY, "static_data": {"k\u0000": "\u0000"}}), None),
    (dumps({"resource_type": "crm_opportunity", "resource_id": "\u0000", "type": "note"}), None),
    (dumps({**ACTIVITY, "tags": [["nested"]], "static_data": {"x": 2**70}}), None),
    (dumps({**ACTIVITY, "type": "call", "id": "call-1"}), None),
    (dumps({"id": "call-1", "resource_id": -(2**63)}), None),
    (dumps({"resource_type": "crm_opportunity", "resource_id": "", "type": "x"}), None),
    (dumps([{**ACTIVITY, "id": "call-1"}, {**ACTIVITY, "id": "call-1"}]), None),
    (dumps([{**ACTIVITY, "id": f"call-{i}"} for i in range(3)] + [7]), None),
    (dumps({"occurred_at": "x", "type": "note", "created_at": 5}), None),
]


def check_error(response: Any, where: str) -> list[str]:
    """Problems with one response, described; empty when it is fine."""
    problems: list[str] = []
    status = response.status_code
    if status >= 500:
        problems.append(f"{where}: status {status}: {response.text[:300]}")
        return problems
    if status < 400:
        return problems
    if response.headers.get("content-type") != "application/json":
        problems.append(f"{where}: content-type {response.headers.get('content-type')!r}")
    if response.request.method == "HEAD":
        return problems
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return [*problems, f"{where}: body is not JSON: {response.text[:200]!r}"]
    if not shaped(payload):
        problems.append(f"{where}: bad shape {payload!r:.300}")
    if LEAKS.search(response.text):
        problems.append(f"{where}: leaks internals: {response.text[:300]}")
    if re.search(r"ak_[0-9a-f]{8}", response.text):
        problems.append(f"{where}: body carries a key")
    if status == 401 and not response.headers.get("www-authenticate", "").startswith("Bearer"):
        problems.append(f"{where}: 401 without WWW-Authenticate: Bearer")
    return problems


def shaped(payload: Any) -> bool:
    """Whether ``payload`` is one of the contract's two error bodies."""
    if not isinstance(payload, dict) or len(payload) != 1:
        return False
    if "error" in payload:
        return isinstance(payload["error"], str) and bool(payload["error"])
    errors = payload.get("errors")
    return (
        isinstance(errors, dict)
        and bool(errors)
        and all(
            isinstance(name, str)
            and isinstance(messages, list)
            and bool(messages)
            and all(isinstance(m, str) and m for m in messages)
            for name, messages in errors.items()
        )
    )


UNKNOWN_PATHS = ["/v2/x", "/v2/a/b/c", "/v2/%00", "/v2/", "/v2", "/nope"]


def paths(client: TestClient) -> list[str]:
    """Every path of every route the app serves, path parameters filled in, and unknown ones."""
    found = list(UNKNOWN_PATHS)
    for route in client.app.routes:  # type: ignore[attr-defined]
        assert isinstance(route, Route)
        path = route.path.replace("{resource}", "email")
        if "{activity_id}" in path:
            found.extend(path.replace("{activity_id}", i) for i in IDS)
        elif "{record_id}" in path:
            found.extend(path.replace("{record_id}", i) for i in ("7", "404", "%00", "%20"))
        else:
            found.append(path)
    return sorted(set(found))


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    """A client that answers a server error as the response the app sent, so that one
    test reports every 500 it meets instead of stopping at the first."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient) -> dict[str, dict[str, Any]]:
    """Header sets: no key, bad keys, each scope, a full key; team acme has call-1."""
    keys = Keys(client)
    full = keys.headers("acme")
    assert client.post("/v2/activity_histories", json={**ACTIVITY, "id": "call-1"}, headers=full)
    return {
        "none": {},
        "garbage": {"Authorization": "garbage"},
        "unknown": {"Authorization": "Bearer " + UNKNOWN_KEY},
        "non-ascii": {"Authorization": b"Bearer \xe9\xff"},
        "read-only": keys.headers("acme", (SCOPE_READ,)),
        "write-only": keys.headers("acme", (SCOPE_WRITE,)),
        "no-scopes": keys.headers("acme", ()),
        "full": full,
    }


def test_every_route_and_method_answers_errors_in_shape(
    client: TestClient, world: dict[str, dict[str, Any]]
) -> None:
    problems: list[str] = []
    for path in paths(client):
        for method in METHODS:
            for name, headers in world.items():
                response = client.request(method, path, headers=headers)
                problems += check_error(response, f"{method} {path} [{name}]")
    assert not problems, "\n".join(problems[:40])


def test_bad_query_strings_answer_errors_in_shape(
    client: TestClient, world: dict[str, dict[str, Any]]
) -> None:
    problems: list[str] = []
    for path in ("/v2/activity_histories", "/v2/activity_histories.json"):
        for query in BAD_QUERIES:
            for name in ("full", "read-only", "unknown"):
                response = client.get(f"{path}?{query}", headers=world[name])
                problems += check_error(response, f"GET {path}?{query[:80]} [{name}]")
                past_the_end = query.startswith("page=") or "&page=" in query
                if name == "full" and response.status_code == 200 and past_the_end:
                    assert response.json()["data"] == [], query
    assert not problems, "\n".join(problems[:40])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/activity_histories"),
        ("POST", "/v2/activity_histories.json"),
        ("POST", "/v2/activity_histories/bulk"),
        ("PUT", "/v2/activity_histories/call-1"),
        ("PUT", "/v2/activity_histories/call-404"),
    ],
)
def test_bad_bodies_answer_errors_in_shape(
    client: TestClient, world: dict[str, dict[str, Any]], method: str, path: str
) -> None:
    problems: list[str] = []
    for index, (content, content_type) in enumerate(BAD_BODIES):
        for name in ("full", "read-only", "unknown"):
            headers = dict(world[name])
            if content_type is not None:
                headers["Content-Type"] = content_type
            response = client.request(method, path, content=content, headers=headers)
            problems += check_error(response, f"{method} {path} body #{index} [{name}]")
    assert not problems, "\n".join(problems[:40])


def test_bulk_items_with_bad_bodies_answer_errors_in_shape(
    client: TestClient, world: dict[str, dict[str, Any]]
) -> None:
    problems: list[str] = []
    for index, (content, _) in enumerate(BAD_BODIES):
        try:
            item = json.loads(content)
        except (ValueError, RecursionError):
            continue
        for payload in ([item], [{**ACTIVITY, "id": "call-9"}, item]):
            response = client.post(
                "/v2/activity_histories/bulk", content=dumps(payload), headers=world["full"]
            )
            problems += check_error(response, f"bulk item #{index}")
            ndjson = b"\n".join(dumps(i) for i in payload)
            response = client.post(
                "/v2/activity_histories/bulk",
                content=ndjson,
                headers={**world["full"], "Content-Type": NDJSON},
            )
            problems += check_error(response, f"ndjson bulk item #{index}")
    assert not problems, "\n".join(problems[:40])


@pytest.fixture
def tiny_client(settings: Settings) -> Iterator[TestClient]:
    """An app with a 100-byte body limit."""
    with TestClient(create_app(settings.with_(limits=Limits(max_body_bytes=100)))) as client:
        yield client


def test_oversized_bodies_answer_errors_in_shape(tiny_client: TestClient) -> None:
    keys = Keys(tiny_client)
    headers = {"full": keys.headers("acme"), "unknown": {"Authorization": "Bearer " + "x"}}
    problems: list[str] = []
    for method, path in (
        ("POST", "/v2/activity_histories"),
        ("POST", "/v2/activity_histories/bulk"),
        ("PUT", "/v2/activity_histories/call-1"),
    ):
        for name, auth in headers.items():
            response = tiny_client.request(method, path, content=b"[" * 1000, headers=auth)
            problems += check_error(response, f"{method} {path} [{name}]")
            assert response.status_code == (413 if name == "full" else 401)
            lying = {**auth, "Content-Length": "5"}
            response = tiny_client.request(method, path, content=b"{" * 5, headers=lying)
            problems += check_error(response, f"{method} {path} [{name}] short")
    assert not problems, "\n".join(problems[:40])


def test_error_shape_checker_rejects_what_it_should() -> None:
    assert shaped({"error": "x"})
    assert shaped({"errors": {"per_page": ["must be"]}})
    assert not shaped({"error": ""})
    assert not shaped({"errors": {}})
    assert not shaped({"errors": {"a": []}})
    assert not shaped({"errors": {"a": "x"}})
    assert not shaped({"error": "x", "detail": "y"})
    assert not shaped({"detail": "Not Found"})
    assert LEAKS.search('Traceback (most recent call last):\n  File "x.py", line 3, in f')
    assert LEAKS.search("near SELECT: syntax error")
    assert not LEAKS.search("must be one of: occurred_at, updated_at")
