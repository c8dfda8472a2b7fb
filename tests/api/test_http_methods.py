"""HTTP methods: HEAD is a GET without a body, a wrong method is a 405 with ``Allow``.

A handler serves the methods its route names and nothing else: no method
falls through to a write. The scope check asks for the write scope only for
methods that write, so a method no route takes is a 405, not a 403.
"""

from __future__ import annotations

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message

from activityfeed.model import SCOPE_READ, SCOPE_WRITE
from conftest import Keys

LIST = "/v2/activity_histories"
ACTIVITY = "/v2/activity_histories/call-1"
RECORD = "/v2/associated_records/email/7"
BATCH = "/v2/associated_records/email"
UNKNOWN_KEY = "ak_" + "0" * 64
CALL = {"id": "call-1", "type": "call", "resource_type": "person", "resource_id": 1}
# Headers that may differ between two answers to the same request.
VOLATILE = {"date", "x-ratelimit-remaining-minute"}


@pytest.fixture
def writer(client: TestClient, keys: Keys) -> dict[str, str]:
    """A read-write key of team acme, which holds call-1 and the email record 7."""
    headers = keys.headers("acme")
    assert client.post(LIST, json=CALL, headers=headers).status_code == 201
    assert client.put(RECORD, json={"subject": "Hi"}, headers=headers).status_code == 201
    return headers


@pytest.fixture
def reader(keys: Keys) -> dict[str, str]:
    """A read-only key of team acme."""
    return keys.headers("acme", (SCOPE_READ,))


def raw_request(
    client: TestClient, method: str, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """Call the ASGI app directly: the status, headers and the body bytes the app sent.

    The HTTP client drops a HEAD answer's body by itself, so it cannot tell
    whether the app sent one.
    """
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "app": client.app,
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    async def call() -> None:
        await client.app(scope, receive, send)

    assert client.portal is not None
    client.portal.call(call)
    start = sent[0]
    assert start["type"] == "http.response.start"
    answer_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], answer_headers, body


# HEAD never writes


@pytest.mark.parametrize("who", ["writer", "reader"])
def test_head_on_an_activity_leaves_it_in_place(
    client: TestClient, writer: dict[str, str], reader: dict[str, str], who: str
) -> None:
    headers = writer if who == "writer" else reader
    got = client.get(ACTIVITY, headers=writer)
    response = client.head(ACTIVITY, headers=headers)
    assert response.status_code == 200
    assert response.content == b""
    assert client.get(ACTIVITY, headers=writer).json() == got.json()
    assert [a["id"] for a in client.get(LIST, headers=writer).json()["data"]] == ["call-1"]


@pytest.mark.parametrize("who", ["writer", "reader"])
def test_head_on_a_record_leaves_it_in_place(
    client: TestClient, writer: dict[str, str], reader: dict[str, str], who: str
) -> None:
    headers = writer if who == "writer" else reader
    got = client.get(RECORD, headers=writer)
    response = client.head(RECORD, headers=headers)
    assert response.status_code == 200
    assert response.content == b""
    assert client.get(RECORD, headers=writer).json() == got.json()


def test_head_with_a_write_only_key_is_403_and_deletes_nothing(
    client: TestClient, writer: dict[str, str], keys: Keys
) -> None:
    write_only = keys.headers("acme", (SCOPE_WRITE,))
    for path in (ACTIVITY, RECORD):
        response = client.head(path, headers=write_only)
        assert response.status_code == 403
        assert client.get(path, headers=writer).status_code == 200


# HEAD is a GET without a body


HEAD_PATHS = [
    LIST,
    LIST + "?per_page=1",
    LIST + "?per_page=0",
    "/v2/activity_histories.json",
    ACTIVITY,
    "/v2/activity_histories/call-404",
    RECORD,
    "/v2/associated_records/email/404",
    "/v2/nope",
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/docs",
    "/nope",
]


@pytest.mark.parametrize("path", HEAD_PATHS)
def test_head_answers_as_get_without_a_body(
    client: TestClient, writer: dict[str, str], path: str
) -> None:
    get_status, get_headers, get_body = raw_request(client, "GET", path, writer)
    head_status, head_headers, head_body = raw_request(client, "HEAD", path, writer)
    assert head_status == get_status
    assert head_body == b""
    assert get_body
    assert head_headers["content-length"] == str(len(get_body))
    assert {k: v for k, v in head_headers.items() if k not in VOLATILE} == {
        k: v for k, v in get_headers.items() if k not in VOLATILE
    }


@pytest.mark.parametrize("authorization", [None, "Bearer " + UNKNOWN_KEY])
def test_head_without_a_good_key_is_the_get_401_without_a_body(
    client: TestClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    get_status, get_headers, _ = raw_request(client, "GET", ACTIVITY, headers)
    head_status, head_headers, head_body = raw_request(client, "HEAD", ACTIVITY, headers)
    assert get_status == head_status == 401
    assert head_body == b""
    assert head_headers == get_headers


def test_head_costs_what_the_get_costs(client: TestClient, writer: dict[str, str]) -> None:
    for page in ("1", "101", "501"):
        get = client.get(LIST, params={"page": page}, headers=writer)
        head = client.head(LIST, params={"page": page}, headers=writer)
        assert head.headers["x-ratelimit-endpoint-cost"] == get.headers["x-ratelimit-endpoint-cost"]


def every_route(client: TestClient) -> list[Route]:
    routes = [r for r in client.app.routes if isinstance(r, Route)]  # type: ignore[attr-defined]
    assert routes
    return routes


def fill(path: str) -> str:
    """A route's path with its parameters filled in with the fixture's items."""
    return (
        path.replace("{activity_id}", "call-1")
        .replace("{resource}", "email")
        .replace("{record_id}", "7")
    )


def test_every_route_that_takes_get_takes_head_and_no_head_writes(
    client: TestClient, writer: dict[str, str], reader: dict[str, str]
) -> None:
    before = client.get(LIST, headers=writer).json()["data"]
    record = client.get(RECORD, headers=writer).json()
    for route in every_route(client):
        assert route.methods is not None, route.path
        if "GET" in route.methods:
            assert "HEAD" in route.methods, route.path
        for headers in (writer, reader):
            response = client.head(fill(route.path), headers=headers)
            assert response.status_code < 500, route.path
            assert response.status_code != 204, route.path
    assert client.get(LIST, headers=writer).json()["data"] == before
    assert client.get(RECORD, headers=writer).json() == record


# A wrong method is a 405 with Allow; never a write


EXPECTED_ALLOW = {
    LIST: "GET, HEAD, POST",
    "/v2/activity_histories.json": "GET, HEAD, POST",
    "/v2/activity_histories/bulk": "POST",
    ACTIVITY: "GET, HEAD, PUT, DELETE",
    BATCH: "PUT",
    RECORD: "GET, HEAD, PUT, DELETE",
    "/healthz": "GET, HEAD",
    "/readyz": "GET, HEAD",
    "/openapi.json": "GET, HEAD",
    "/docs": "GET, HEAD",
}
ODD_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PURGE"]


def test_expected_allow_names_every_route(client: TestClient) -> None:
    assert {fill(r.path) for r in every_route(client)} == set(EXPECTED_ALLOW)


@pytest.mark.parametrize(("path", "allow"), EXPECTED_ALLOW.items())
def test_a_known_path_with_a_wrong_method_is_405_with_allow(
    client: TestClient, writer: dict[str, str], path: str, allow: str
) -> None:
    allowed = allow.split(", ")
    for method in ODD_METHODS:
        if method in allowed:
            continue
        response = client.request(method, path, headers=writer)
        assert response.status_code == 405, (method, path, response.text)
        assert response.json() == {"error": "Method Not Allowed"}
        assert response.headers["allow"] == allow, (method, path)
        if path.startswith("/v2"):
            assert response.headers["x-ratelimit-endpoint-cost"] == "1"


def test_get_on_the_batch_path_is_405_allow_put(
    client: TestClient, writer: dict[str, str], reader: dict[str, str]
) -> None:
    for headers in (writer, reader):
        response = client.get(BATCH, headers=headers)
        assert response.status_code == 405
        assert response.headers["allow"] == "PUT"


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "OPTIONS", "PURGE", "PROPFIND"])
def test_a_method_no_route_takes_is_405_with_a_read_only_key(
    client: TestClient, writer: dict[str, str], reader: dict[str, str], method: str
) -> None:
    for path in (LIST, ACTIVITY, RECORD, BATCH):
        response = client.request(method, path, headers=reader)
        assert response.status_code == 405, (method, path, response.text)
        assert "allow" in response.headers
    assert client.get(ACTIVITY, headers=writer).status_code == 200
    assert client.get(RECORD, headers=writer).status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_writing_method_with_a_read_only_key_is_403(
    client: TestClient, writer: dict[str, str], reader: dict[str, str], method: str
) -> None:
    for path in (LIST, ACTIVITY, RECORD, BATCH):
        response = client.request(method, path, headers=reader)
        assert response.status_code == 403, (method, path)
        assert SCOPE_WRITE in response.json()["error"]
    assert client.get(ACTIVITY, headers=writer).status_code == 200
    assert client.get(RECORD, headers=writer).status_code == 200


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "PURGE"])
def test_a_method_no_route_takes_with_a_bad_key_is_still_401(
    client: TestClient, method: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer " + UNKNOWN_KEY}):
        response = client.request(method, ACTIVITY, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_no_method_deletes_but_delete(
    client: TestClient, writer: dict[str, str], keys: Keys
) -> None:
    no_scopes = keys.headers("acme", ())
    for method in [*ODD_METHODS, "HEAD"]:
        if method in ("DELETE", "PUT"):
            continue
        for headers in (writer, no_scopes):
            for path in (ACTIVITY, RECORD):
                response = client.request(method, path, headers=headers)
                assert response.status_code != 204, (method, path)
    assert client.get(ACTIVITY, headers=writer).status_code == 200
    assert client.get(RECORD, headers=writer).status_code == 200


def test_unknown_paths_are_404_for_every_method(client: TestClient, writer: dict[str, str]) -> None:
    for path in ("/v2/nope", "/v2/activity_histories/call-1/extra", "/v2/", "/nope"):
        for method in ("GET", "POST", "DELETE", "TRACE"):
            response = client.request(method, path, headers=writer)
            assert response.status_code == 404, (method, path)
            assert "allow" not in response.headers


def test_trailing_slash_is_404_not_a_redirect(client: TestClient, writer: dict[str, str]) -> None:
    response = client.get(LIST + "/", headers=writer, follow_redirects=False)
    assert response.status_code == 404
