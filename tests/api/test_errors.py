"""One test per row of the contract's error table that the core serves (section 1).

Rate limiting (429) and an unavailable store (503) have their own suites.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from activityfeed.http.app import create_app
from activityfeed.model import SCOPE_READ, SCOPE_WRITE
from activityfeed.settings import Limits, Settings
from conftest import Keys

LIST = "/v2/activity_histories"
BULK = "/v2/activity_histories/bulk"
UNKNOWN_KEY = "ak_" + "0" * 64


def body(activity_type: str = "call", resource_id: int = 1, **fields: Any) -> dict[str, Any]:
    """A valid create body."""
    return {"type": activity_type, "resource_type": "person", "resource_id": resource_id, **fields}


def assert_error(response: Any, status: int) -> str:
    """The response is ``{"error": message}`` with ``status``; returns the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert set(payload) == {"error"}
    assert isinstance(payload["error"], str) and payload["error"]
    return str(payload["error"])


def assert_invalid(response: Any) -> dict[str, list[str]]:
    """The response is a 422 ``{"errors": {name: [message, ...]}}``; returns the errors."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert set(payload) == {"errors"}
    errors = payload["errors"]
    assert errors
    for name, messages in errors.items():
        assert isinstance(name, str)
        assert messages and all(isinstance(m, str) and m for m in messages)
    return dict(errors)


def all_ids(client: TestClient, auth: dict[str, str]) -> list[str]:
    """Every id of the team, newest first (up to 100)."""
    response = client.get(LIST, params={"per_page": 100}, headers=auth)
    assert response.status_code == 200
    return [item["id"] for item in response.json()["data"]]


# 401


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token " + UNKNOWN_KEY,
        "Bearer ak_123",
        "Bearer " + UNKNOWN_KEY.upper(),
        "Bearer " + UNKNOWN_KEY + "0",
        "Bearer sk_" + "0" * 64,
        "Bearer " + UNKNOWN_KEY,
    ],
    ids=[
        "missing",
        "empty",
        "scheme-only",
        "scheme-and-space",
        "basic",
        "other-scheme",
        "short",
        "uppercase",
        "too-long",
        "wrong-prefix",
        "unknown",
    ],
)
def test_missing_malformed_or_unknown_key_is_401_with_www_authenticate(
    client: TestClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get(LIST, headers=headers)
    assert_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_bearer_scheme_is_case_insensitive(client: TestClient, keys: Keys) -> None:
    key = keys("acme")
    for scheme in ("bearer", "BEARER", "BeArEr"):
        assert client.get(LIST, headers={"Authorization": f"{scheme} {key}"}).status_code == 200


def test_revoked_key_is_401(client: TestClient, keys: Keys) -> None:
    key = keys("acme")
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get(LIST, headers=headers).status_code == 200
    storage = client.app.state.service.storage  # type: ignore[attr-defined]
    assert client.portal is not None
    assert client.portal.call(storage.revoke_key, key[:11]) == 1
    response = client.get(LIST, headers=headers)
    assert_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_revoked_key_gets_the_answer_of_an_unknown_key(client: TestClient, keys: Keys) -> None:
    key = keys("acme")
    storage = client.app.state.service.storage  # type: ignore[attr-defined]
    assert client.portal is not None
    assert client.portal.call(storage.revoke_key, key[:11]) == 1
    revoked = client.get(LIST, headers={"Authorization": f"Bearer {key}"})
    unknown = client.get(LIST, headers={"Authorization": "Bearer " + UNKNOWN_KEY})
    assert revoked.status_code == unknown.status_code == 401
    assert revoked.content == unknown.content
    volatile = {"date"}
    assert {k: v for k, v in revoked.headers.items() if k not in volatile} == {
        k: v for k, v in unknown.headers.items() if k not in volatile
    }


def test_401_never_echoes_the_key(client: TestClient) -> None:
    response = client.get(LIST, headers={"Authorization": "Bearer " + UNKNOWN_KEY})
    assert UNKNOWN_KEY not in response.text
    assert "0" * 64 not in response.text


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", LIST, {"params": {"per_page": "0", "sort_by": "nope", "type": "nope"}}),
        ("GET", "/v2/activity_histories/does-not-exist", {}),
        ("GET", "/v2/no/such/route", {}),
        ("PATCH", LIST, {}),
        ("POST", LIST, {"content": b"{not json"}),
        ("POST", BULK, {"json": [{"type": "nope"}]}),
        ("PUT", "/v2/activity_histories/call-1", {"json": {"tags": 5}}),
        ("DELETE", "/v2/activity_histories/call-1", {}),
    ],
)
def test_authentication_comes_before_everything_else(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    for headers in ({}, {"Authorization": "Bearer " + UNKNOWN_KEY}):
        response = client.request(method, path, headers=headers, **kwargs)
        assert_error(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_bad_key_with_an_oversized_body_is_401_not_413(settings: Settings) -> None:
    small = create_app(settings.with_(limits=Limits(max_body_bytes=64)))
    with TestClient(small) as client:
        response = client.post(
            LIST, content=b"x" * 1000, headers={"Authorization": "Bearer " + UNKNOWN_KEY}
        )
    assert_error(response, 401)


# 403


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", LIST, {"json": body()}),
        ("POST", "/v2/activity_histories.json", {"json": body()}),
        ("POST", BULK, {"json": [body(id="call-9")]}),
        ("PUT", "/v2/activity_histories/call-1", {"json": {"tags": ["x"]}}),
        ("DELETE", "/v2/activity_histories/call-1", {}),
    ],
)
def test_read_only_key_cannot_write(
    client: TestClient, keys: Keys, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    writer = keys.headers("acme")
    client.post(LIST, json=body(id="call-1"), headers=writer)
    reader = keys.headers("acme", (SCOPE_READ,))
    response = client.request(method, path, headers=reader, **kwargs)
    message = assert_error(response, 403)
    assert SCOPE_WRITE in message
    # Nothing was written.
    assert all_ids(client, writer) == ["call-1"]
    assert client.get("/v2/activity_histories/call-1", headers=writer).json()["data"]["tags"] == []


@pytest.mark.parametrize(
    "path",
    [
        LIST,
        "/v2/activity_histories.json",
        "/v2/activity_histories/call-1",
        "/v2/activity_histories/does-not-exist",
    ],
)
def test_write_only_key_cannot_read(client: TestClient, keys: Keys, path: str) -> None:
    writer = keys.headers("acme", (SCOPE_WRITE,))
    assert client.post(LIST, json=body(id="call-1"), headers=writer).status_code == 201
    response = client.get(path, headers=writer)
    message = assert_error(response, 403)
    assert SCOPE_READ in message


def test_write_only_key_can_write(client: TestClient, keys: Keys) -> None:
    writer = keys.headers("acme", (SCOPE_WRITE,))
    assert client.post(LIST, json=body(id="call-1"), headers=writer).status_code == 201
    assert client.post(BULK, json=[body(id="call-2")], headers=writer).status_code == 200
    response = client.put("/v2/activity_histories/call-1", json={"tags": ["a"]}, headers=writer)
    assert response.status_code == 200
    assert client.delete("/v2/activity_histories/call-2", headers=writer).status_code == 204


def test_read_only_key_with_bad_params_is_422_not_403(client: TestClient, keys: Keys) -> None:
    reader = keys.headers("acme", (SCOPE_READ,))
    assert_invalid(client.get(LIST, params={"per_page": "0"}, headers=reader))


# 404


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_unknown_activity_is_404(client: TestClient, auth: dict[str, str], method: str) -> None:
    kwargs: dict[str, Any] = {"json": {"tags": ["x"]}} if method == "PUT" else {}
    response = client.request(method, "/v2/activity_histories/call-404", headers=auth, **kwargs)
    assert assert_error(response, 404) == "Not Found"


def test_deleted_activity_is_404(client: TestClient, auth: dict[str, str]) -> None:
    client.post(LIST, json=body(id="call-1"), headers=auth)
    assert client.delete("/v2/activity_histories/call-1", headers=auth).status_code == 204
    assert_error(client.get("/v2/activity_histories/call-1", headers=auth), 404)
    assert_error(client.delete("/v2/activity_histories/call-1", headers=auth), 404)


@pytest.mark.parametrize(
    "path", ["/v2/nope", "/v2/activity_histories/call-1/extra", "/v1/activity_histories", "/nope"]
)
def test_unknown_route_is_404(client: TestClient, auth: dict[str, str], path: str) -> None:
    assert assert_error(client.get(path, headers=auth), 404) == "Not Found"


# 405


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", LIST),
        ("DELETE", LIST),
        ("PUT", LIST),
        ("PATCH", "/v2/activity_histories/call-1"),
        ("POST", "/v2/activity_histories/call-1"),
        ("POST", "/healthz"),
        ("DELETE", "/openapi.json"),
    ],
)
def test_known_route_with_a_wrong_method_is_405(
    client: TestClient, auth: dict[str, str], method: str, path: str
) -> None:
    assert_error(client.request(method, path, headers=auth), 405)


# 413


@pytest.fixture
def small_client(settings: Settings) -> Iterator[TestClient]:
    """A client of an app whose body limit is 256 bytes."""
    with TestClient(create_app(settings.with_(limits=Limits(max_body_bytes=256)))) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", LIST), ("POST", BULK), ("PUT", "/v2/activity_histories/call-1")],
)
def test_body_over_the_limit_is_413(small_client: TestClient, method: str, path: str) -> None:
    auth = Keys(small_client).headers("acme")
    small_client.post(LIST, json=body(id="call-1"), headers=auth)
    big = orjson.dumps(body(id="call-2", tags=["x" * 90] * 3))
    assert len(big) > 256
    response = small_client.request(method, path, content=big, headers=auth)
    assert_error(response, 413)
    assert all_ids(small_client, auth) == ["call-1"]


def test_streamed_body_over_the_limit_is_413(small_client: TestClient) -> None:
    auth = Keys(small_client).headers("acme")

    def chunks() -> Iterator[bytes]:
        # No Content-Length: the limit must hold while reading.
        yield b'{"type": "call", "resource_type": "person", "resource_id": 1, "tags": ['
        for _ in range(50):
            yield b'"xxxxxxxxxx",'
        yield b'"x"]}'

    response = small_client.post(LIST, content=chunks(), headers=auth)
    assert_error(response, 413)


def test_body_at_the_limit_is_accepted(small_client: TestClient) -> None:
    auth = Keys(small_client).headers("acme")
    raw = orjson.dumps(body(id="call-1"))
    padded = raw[:-1] + b" " * (256 - len(raw)) + b"}"
    assert len(padded) == 256
    assert small_client.post(LIST, content=padded, headers=auth).status_code == 201


# 422: list parameters


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "101"}, "per_page"),
        ({"per_page": "-1"}, "per_page"),
        ({"per_page": "ten"}, "per_page"),
        ({"per_page": "2.5"}, "per_page"),
        ({"page": "0"}, "page"),
        ({"page": "-3"}, "page"),
        ({"page": "first"}, "page"),
        ({"include_paging_counts": "yes"}, "include_paging_counts"),
        ({"limit_paging_counts": "maybe"}, "limit_paging_counts"),
        ({"sort_by": "created_at"}, "sort_by"),
        ({"sort_by": "Occurred_At"}, "sort_by"),
        ({"sort_direction": "up"}, "sort_direction"),
        ({"type": "phone_call"}, "type"),
        ({"type": "Call"}, "type"),
        ({"type[]": ["call", "nope"]}, "type"),
        ({"type": "call,nope"}, "type"),
        ({"type[planet][]": "call"}, "type"),
        ({"type[person][]": "nope"}, "type"),
        ({"occurred_at[gt]": "yesterday"}, "occurred_at[gt]"),
        ({"occurred_at[gte]": "2019-02-30"}, "occurred_at[gte]"),
        ({"occurred_at[lt]": "2019-01-01T25:00:00Z"}, "occurred_at[lt]"),
        ({"occurred_at[lte]": "2019-01-01T00:00:00+25:00"}, "occurred_at[lte]"),
        ({"updated_at[gt]": "1546300800"}, "updated_at[gt]"),
        ({"updated_at[lte]": "2019-13-01"}, "updated_at[lte]"),
        ({"pinned": "yes"}, "pinned"),
        ({"resource_type": "lead"}, "resource_type"),
        ({"resource_type[]": ["person", "Person"]}, "resource_type"),
        ({"resource_id": "5"}, "resource_id"),
    ],
)
def test_invalid_list_parameter_is_422_under_its_name(
    client: TestClient, auth: dict[str, str], params: dict[str, Any], name: str
) -> None:
    errors = assert_invalid(client.get(LIST, params=params, headers=auth))
    assert list(errors) == [name]


def test_resource_id_without_resource_type_has_the_contract_message(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = client.get(LIST, params={"resource_id": "5"}, headers=auth)
    assert response.json() == {"errors": {"resource_id": ["requires resource_type"]}}


def test_every_invalid_list_parameter_is_listed(client: TestClient, auth: dict[str, str]) -> None:
    params = {
        "per_page": "500",
        "page": "0",
        "include_paging_counts": "perhaps",
        "limit_paging_counts": "perhaps",
        "sort_by": "id",
        "sort_direction": "sideways",
        "type": "nope",
        "occurred_at[gt]": "soon",
        "occurred_at[lt]": "later",
        "updated_at[gte]": "never",
        "pinned": "perhaps",
        "resource_id": "1",
        "unknown_param": "ignored",
        "sort": "ignored too",
    }
    errors = assert_invalid(client.get(LIST, params=params, headers=auth))
    assert set(errors) == {
        "per_page",
        "page",
        "include_paging_counts",
        "limit_paging_counts",
        "sort_by",
        "sort_direction",
        "type",
        "occurred_at[gt]",
        "occurred_at[lt]",
        "updated_at[gte]",
        "pinned",
        "resource_id",
    }


def test_unknown_parameters_are_ignored(client: TestClient, auth: dict[str, str]) -> None:
    params = {"sort": "x", "occurred_at_gte": "nope", "foo[bar]": "1", "": "x"}
    assert client.get(LIST, params=params, headers=auth).status_code == 200


# 422: create and update bodies


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"type": None}, "type"),
        ({"type": "phone_call"}, "type"),
        ({"type": 3}, "type"),
        ({"resource_type": None}, "resource_type"),
        ({"resource_type": "lead"}, "resource_type"),
        ({"resource_id": None}, "resource_id"),
        ({"resource_id": -1}, "resource_id"),
        ({"resource_id": "abc"}, "resource_id"),
        ({"resource_id": True}, "resource_id"),
        ({"resource_id": 2**64}, "resource_id"),
        ({"resource_id": 1.5}, "resource_id"),
        ({"id": "note-1"}, "id"),
        ({"id": "call-"}, "id"),
        ({"id": "call-a b"}, "id"),
        ({"id": 12}, "id"),
        ({"occurred_at": "not a time"}, "occurred_at"),
        ({"occurred_at": 1546300800}, "occurred_at"),
        ({"pinned_at": "2019-02-30T00:00:00Z"}, "pinned_at"),
        ({"user_guid": 5}, "user_guid"),
        ({"user_guid": ""}, "user_guid"),
        ({"tags": "a,b"}, "tags"),
        ({"tags": ["a", 1]}, "tags"),
        ({"static_data": [1, 2]}, "static_data"),
        ({"static_data": "x"}, "static_data"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_create_field_is_422_under_its_name(
    client: TestClient, auth: dict[str, str], fields: dict[str, Any], name: str
) -> None:
    data = {k: v for k, v in {**body(), **fields}.items() if v is not None}
    errors = assert_invalid(client.post(LIST, json=data, headers=auth))
    assert list(errors) == [name]
    assert all_ids(client, auth) == []


def test_every_invalid_create_field_is_listed(client: TestClient, auth: dict[str, str]) -> None:
    data = {
        "type": "nope",
        "resource_type": "lead",
        "occurred_at": "x",
        "pinned_at": "y",
        "user_guid": 1,
        "tags": [1],
        "static_data": [],
        "extra": 1,
    }
    errors = assert_invalid(client.post(LIST, json=data, headers=auth))
    assert set(errors) == {
        "type",
        "resource_type",
        "resource_id",
        "occurred_at",
        "pinned_at",
        "user_guid",
        "tags",
        "static_data",
        "extra",
    }


@pytest.mark.parametrize(
    "payload", [b"", b"{", b"[1, 2", b"nul", b"\xff\xfe{}", b'{"a": NaN}', b"{}{}"]
)
def test_body_that_is_not_json_is_422(
    client: TestClient, auth: dict[str, str], payload: bytes
) -> None:
    errors = assert_invalid(client.post(LIST, content=payload, headers=auth))
    assert list(errors) == ["body"]


@pytest.mark.parametrize("payload", [[], [body()], "call", 5, None])
def test_create_body_that_is_not_an_object_is_422(
    client: TestClient, auth: dict[str, str], payload: Any
) -> None:
    errors = assert_invalid(client.post(LIST, content=orjson.dumps(payload), headers=auth))
    assert list(errors) == ["body"]


def test_create_with_a_taken_id_is_422_has_already_been_taken(
    client: TestClient, auth: dict[str, str]
) -> None:
    assert client.post(LIST, json=body(id="call-7"), headers=auth).status_code == 201
    response = client.post(LIST, json=body(id="call-7", resource_id=2), headers=auth)
    assert response.status_code == 422
    assert response.json() == {"errors": {"id": ["has already been taken"]}}
    stored = client.get("/v2/activity_histories/call-7", headers=auth).json()["data"]
    assert stored["resource_id"] == 1


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"occurred_at": "nope"}, "occurred_at"),
        ({"pinned_at": "nope"}, "pinned_at"),
        ({"tags": {"a": 1}}, "tags"),
        ({"tags": ["x" * 101]}, "tags"),
        ({"static_data": 5}, "static_data"),
        ({"user_guid": 5}, "user_guid"),
        ({"type": "note"}, "type"),
        ({"resource_type": "account"}, "resource_type"),
        ({"resource_id": 99}, "resource_id"),
        ({"id": "call-2"}, "id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_update_field_is_422_under_its_name(
    client: TestClient, auth: dict[str, str], fields: dict[str, Any], name: str
) -> None:
    client.post(LIST, json=body(id="call-1"), headers=auth)
    before = client.get("/v2/activity_histories/call-1", headers=auth).json()
    response = client.put("/v2/activity_histories/call-1", json=fields, headers=auth)
    assert list(assert_invalid(response)) == [name]
    assert client.get("/v2/activity_histories/call-1", headers=auth).json() == before


def test_update_may_send_back_the_fields_it_cannot_change(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = client.post(LIST, json=body(id="call-1"), headers=auth).json()["data"]
    sent_back = {k: v for k, v in created.items() if k != "failed_dynamic_resources"}
    sent_back["tags"] = ["changed"]
    sent_back["static_data"] = {"email_id": 2}
    response = client.put("/v2/activity_histories/call-1", json=sent_back, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["tags"] == ["changed"]
    assert response.json()["data"]["static_data"] == {"email_id": 2}


@pytest.mark.parametrize("payload", [[], "x", 3, None])
def test_update_body_that_is_not_an_object_is_422(
    client: TestClient, auth: dict[str, str], payload: Any
) -> None:
    client.post(LIST, json=body(id="call-1"), headers=auth)
    response = client.put(
        "/v2/activity_histories/call-1", content=orjson.dumps(payload), headers=auth
    )
    assert list(assert_invalid(response)) == ["body"]


# Body limits


def test_static_data_over_64_kib_is_422(client: TestClient, auth: dict[str, str]) -> None:
    big = {"blob": "x" * (64 * 1024)}
    errors = assert_invalid(client.post(LIST, json=body(static_data=big), headers=auth))
    assert list(errors) == ["static_data"]
    fits = {"blob": "x" * (64 * 1024 - 20)}
    assert client.post(LIST, json=body(static_data=fits), headers=auth).status_code == 201


def test_51_tags_is_422_and_50_is_fine(client: TestClient, auth: dict[str, str]) -> None:
    tags = [f"t{i}" for i in range(51)]
    errors = assert_invalid(client.post(LIST, json=body(tags=tags), headers=auth))
    assert list(errors) == ["tags"]
    assert client.post(LIST, json=body(tags=tags[:50]), headers=auth).status_code == 201


def test_tag_of_101_characters_is_422_and_100_is_fine(
    client: TestClient, auth: dict[str, str]
) -> None:
    errors = assert_invalid(client.post(LIST, json=body(tags=["x" * 101]), headers=auth))
    assert list(errors) == ["tags"]
    assert client.post(LIST, json=body(tags=["é" * 100]), headers=auth).status_code == 201


def test_limits_are_configurable(settings: Settings) -> None:
    limits = Limits(max_static_data_bytes=32, max_tags=2, max_tag_length=3)
    with TestClient(create_app(settings.with_(limits=limits))) as client:
        auth = Keys(client).headers("acme")
        bad = body(tags=["a", "b", "c"], static_data={"k": "x" * 40})
        assert set(assert_invalid(client.post(LIST, json=bad, headers=auth))) == {
            "tags",
            "static_data",
        }
        response = client.post(LIST, json=body(tags=["abcd"]), headers=auth)
        assert list(assert_invalid(response)) == ["tags"]
        assert client.post(LIST, json=body(tags=["abc", "d"]), headers=auth).status_code == 201


# Bulk


def test_bulk_with_one_invalid_item_changes_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    client.post(BULK, json=[body(id="call-1", tags=["old"])], headers=auth)
    before = client.get(LIST, headers=auth).json()["data"]
    batch = [
        body(id="call-1", tags=["new"]),
        body(id="call-2"),
        body(id="call-3"),
        {**body(id="call-4"), "type": "nope"},
        body(id="call-5"),
    ]
    errors = assert_invalid(client.post(BULK, json=batch, headers=auth))
    assert list(errors) == ["[3].type"]
    assert client.get(LIST, headers=auth).json()["data"] == before


def test_bulk_names_every_invalid_item_by_index(client: TestClient, auth: dict[str, str]) -> None:
    batch = [
        body(id="call-0"),
        {"type": "call", "resource_type": "person", "resource_id": 1},
        {**body(id="call-2"), "tags": "x", "occurred_at": "x"},
        "not an object",
    ]
    errors = assert_invalid(client.post(BULK, json=batch, headers=auth))
    assert set(errors) == {"[1].id", "[2].tags", "[2].occurred_at", "[3]"}
    assert all_ids(client, auth) == []


def test_bulk_with_a_duplicate_id_is_422(client: TestClient, auth: dict[str, str]) -> None:
    batch = [body(id="call-1"), body(id="call-2"), body(id="call-1", resource_id=2)]
    errors = assert_invalid(client.post(BULK, json=batch, headers=auth))
    assert list(errors) == ["[2].id"]
    assert all_ids(client, auth) == []


def test_bulk_over_10000_items_is_422(client: TestClient, auth: dict[str, str]) -> None:
    batch = [{"id": f"call-{i}", "type": "call"} for i in range(10_001)]
    errors = assert_invalid(client.post(BULK, json=batch, headers=auth))
    assert list(errors) == ["body"]
    assert all_ids(client, auth) == []


def test_bulk_of_exactly_10000_items_is_accepted(client: TestClient, auth: dict[str, str]) -> None:
    batch = [body(id=f"call-{i}", resource_id=i) for i in range(10_000)]
    response = client.post(BULK, json=batch, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"created": 10_000, "updated": 0, "unchanged": 0}}


@pytest.mark.parametrize("payload", [{}, body(id="call-1"), "x", 1])
def test_bulk_body_that_is_not_an_array_is_422(
    client: TestClient, auth: dict[str, str], payload: Any
) -> None:
    errors = assert_invalid(client.post(BULK, content=orjson.dumps(payload), headers=auth))
    assert list(errors) == ["body"]


def test_bulk_item_limits_are_checked_per_item(client: TestClient, auth: dict[str, str]) -> None:
    batch = [
        body(id="call-0"),
        body(id="call-1", tags=[f"t{i}" for i in range(51)]),
        body(id="call-2", tags=["x" * 101]),
        body(id="call-3", static_data={"blob": "x" * (64 * 1024)}),
    ]
    errors = assert_invalid(client.post(BULK, json=batch, headers=auth))
    assert set(errors) == {"[1].tags", "[2].tags", "[3].static_data"}


NDJSON = {"Content-Type": "application/x-ndjson"}


def test_ndjson_bulk_creates_in_line_order(client: TestClient, auth: dict[str, str]) -> None:
    lines = [orjson.dumps(body(id=f"call-{i}", occurred_at="2019-01-01")) for i in range(3)]
    payload = b"\n".join(lines) + b"\n\n"
    response = client.post(BULK, content=payload, headers={**auth, **NDJSON})
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"created": 3, "updated": 0, "unchanged": 0}}
    # Equal occurred_at: ties broken by storage order, later first under DESC.
    assert all_ids(client, auth) == ["call-2", "call-1", "call-0"]
    again = client.post(BULK, content=payload, headers={**auth, **NDJSON})
    assert again.json() == {"data": {"created": 0, "updated": 0, "unchanged": 3}}


@pytest.mark.parametrize(
    "content_type", ["application/x-ndjson; charset=utf-8", "Application/X-NDJSON"]
)
def test_ndjson_content_type_is_matched_as_a_media_type(
    client: TestClient, auth: dict[str, str], content_type: str
) -> None:
    payload = b"\n".join(orjson.dumps(body(id=f"call-{i}")) for i in range(2))
    response = client.post(BULK, content=payload, headers={**auth, "Content-Type": content_type})
    assert response.json() == {"data": {"created": 2, "updated": 0, "unchanged": 0}}


def test_ndjson_bulk_with_an_invalid_item_changes_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    payload = b"\n".join(
        [orjson.dumps(body(id="call-0")), orjson.dumps({**body(id="call-1"), "type": "x"})]
    )
    errors = assert_invalid(client.post(BULK, content=payload, headers={**auth, **NDJSON}))
    assert list(errors) == ["[1].type"]
    assert all_ids(client, auth) == []


def test_ndjson_bulk_with_a_broken_line_is_422(client: TestClient, auth: dict[str, str]) -> None:
    payload = orjson.dumps(body(id="call-0")) + b"\n{broken\n"
    errors = assert_invalid(client.post(BULK, content=payload, headers={**auth, **NDJSON}))
    assert len(errors) == 1
    assert all_ids(client, auth) == []
