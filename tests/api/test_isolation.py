"""Tenant isolation through every endpoint (contract, section 1: a key sees one team).

Team A stores activities; team B's key must never read, list, count, change or
delete them, nor learn that they exist: every answer B gets about A's ids is
the answer it gets about ids nobody has.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import Keys

LIST = "/v2/activity_histories"
BULK = "/v2/activity_histories/bulk"
GUID = "0b7d6e2a-3f4c-4c1e-9a55-6d0c3c0f5a11"

A_ACTIVITIES = [
    {
        "id": "call-1",
        "type": "call",
        "resource_type": "person",
        "resource_id": 101,
        "user_guid": GUID,
        "occurred_at": "2019-01-01T00:00:00Z",
        "tags": ["secret"],
        "static_data": {"call_id": 1},
        "pinned_at": "2019-01-02T00:00:00Z",
    },
    {
        "id": "note-2",
        "type": "note",
        "resource_type": "account",
        "resource_id": 202,
        "occurred_at": "2019-01-03T00:00:00Z",
    },
    {
        "id": "success-3",
        "type": "success",
        "resource_type": "crm_opportunity",
        "resource_id": "opp-303",
        "occurred_at": "2019-01-04T00:00:00Z",
    },
]

# Every filter, in several encodings, that would select one of A's activities.
FILTERS: list[dict[str, Any]] = [
    {},
    {"ids": "call-1"},
    {"id": "call-1"},
    {"ids[]": ["call-1", "note-2", "success-3"]},
    {"ids": "call-1,note-2"},
    {"resource_type": "person", "resource_id": "101"},
    {"resource_type[]": ["account", "crm_opportunity"], "resource_id[]": ["202", "opp-303"]},
    {"user_guid": GUID},
    {"type": "call"},
    {"type[]": ["call", "note", "success"]},
    {"type[person][]": "call", "type[account][]": "note"},
    {"pinned": "true"},
    {"pinned": "false"},
    {"occurred_at[gte]": "2018-01-01", "occurred_at[lt]": "2020-01-01"},
    {"updated_at[gt]": "2000-01-01", "sort_by": "updated_at", "sort_direction": "asc"},
    {"resource_type": "crm_opportunity"},
]


@pytest.fixture
def teams(client: TestClient, keys: Keys) -> tuple[dict[str, str], dict[str, str]]:
    """Headers for team A (which holds A_ACTIVITIES) and team B (empty)."""
    a, b = keys.headers("team-a"), keys.headers("team-b")
    response = client.post(BULK, json=A_ACTIVITIES, headers=a)
    assert response.json() == {"data": {"created": 3, "updated": 0, "unchanged": 0}}
    return a, b


def snapshot(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every activity of a team, in the default order."""
    response = client.get(LIST, params={"per_page": 100}, headers=headers)
    assert response.status_code == 200
    return list(response.json()["data"])


@pytest.mark.parametrize("params", FILTERS)
def test_other_team_lists_and_counts_nothing(
    client: TestClient, teams: tuple[dict[str, str], dict[str, str]], params: dict[str, Any]
) -> None:
    a, b = teams
    for path in (LIST, "/v2/activity_histories.json"):
        for limit_counts in ("false", "true"):
            query = {**params, "include_paging_counts": "true", "limit_paging_counts": limit_counts}
            seen_by_b = client.get(path, params=query, headers=b)
            assert seen_by_b.status_code == 200
            assert seen_by_b.json()["data"] == []
            paging = seen_by_b.json()["metadata"]["paging"]
            assert (paging["total_count"], paging["total_pages"], paging["next_page"]) == (
                0,
                0,
                None,
            )
            # The same filters find A's activities for A: they are not simply empty.
            seen_by_a = client.get(path, params=query, headers=a).json()
            assert seen_by_a["data"], params
            assert seen_by_a["metadata"]["paging"]["total_count"] == len(seen_by_a["data"])


def test_other_teams_ids_look_exactly_like_unknown_ids(
    client: TestClient, teams: tuple[dict[str, str], dict[str, str]]
) -> None:
    _, b = teams
    for method, kwargs in (
        ("GET", {}),
        ("PUT", {"json": {"tags": ["mine now"]}}),
        ("PUT", {"json": {"occurred_at": "nope"}}),
        ("DELETE", {}),
    ):
        theirs = client.request(method, f"{LIST}/call-1", headers=b, **kwargs)
        nobodys = client.request(method, f"{LIST}/call-999", headers=b, **kwargs)
        assert theirs.status_code == nobodys.status_code
        assert theirs.content == nobodys.content
        assert theirs.headers["content-type"] == nobodys.headers["content-type"]
        if method != "PUT" or "tags" in kwargs["json"]:
            assert theirs.status_code == 404
            assert theirs.json() == {"error": "Not Found"}


def test_other_team_cannot_change_or_delete(
    client: TestClient, teams: tuple[dict[str, str], dict[str, str]]
) -> None:
    a, b = teams
    before = snapshot(client, a)
    for activity in A_ACTIVITIES:
        path = f"{LIST}/{activity['id']}"
        assert (
            client.put(path, json={"tags": ["hijacked"], "pinned_at": None}, headers=b).status_code
            == 404
        )
        assert client.delete(path, headers=b).status_code == 404
    assert snapshot(client, a) == before


def test_bulk_with_another_teams_ids_creates_the_teams_own(
    client: TestClient, teams: tuple[dict[str, str], dict[str, str]]
) -> None:
    a, b = teams
    before = snapshot(client, a)
    mine = [
        {**{k: v for k, v in item.items() if k not in ("tags", "static_data")}, "tags": ["b"]}
        for item in A_ACTIVITIES
    ]
    response = client.post(BULK, json=mine, headers=b)
    # Created, not updated: B cannot tell that A holds these ids.
    assert response.json() == {"data": {"created": 3, "updated": 0, "unchanged": 0}}
    assert snapshot(client, a) == before
    b_rows = snapshot(client, b)
    assert {row["id"] for row in b_rows} == {"call-1", "note-2", "success-3"}
    assert all(row["tags"] == ["b"] for row in b_rows)
    # A resend changes nothing on either side.
    again = client.post(BULK, json=mine, headers=b)
    assert again.json() == {"data": {"created": 0, "updated": 0, "unchanged": 3}}
    assert snapshot(client, a) == before


def test_create_with_another_teams_id_is_allowed(
    client: TestClient, teams: tuple[dict[str, str], dict[str, str]]
) -> None:
    a, b = teams
    before = snapshot(client, a)
    body = {"id": "call-1", "type": "call", "resource_type": "person", "resource_id": 7}
    response = client.post(LIST, json=body, headers=b)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["resource_id"] == 7
    assert snapshot(client, a) == before
    # Now each team has its own call-1, and each changes only its own.
    assert client.put(f"{LIST}/call-1", json={"tags": ["b's"]}, headers=b).status_code == 200
    assert client.delete(f"{LIST}/call-1", headers=b).status_code == 204
    assert snapshot(client, a) == before
    assert client.get(f"{LIST}/call-1", headers=b).status_code == 404


def test_auto_ids_do_not_reveal_or_collide_with_another_team(
    client: TestClient, teams: tuple[dict[str, str], dict[str, str]]
) -> None:
    a, b = teams
    body = {"type": "call", "resource_type": "person", "resource_id": 1}
    made_by_b = client.post(LIST, json=body, headers=b).json()["data"]["id"]
    assert client.get(f"{LIST}/{made_by_b}", headers=b).status_code == 200
    made_by_a = client.post(LIST, json=body, headers=a).json()["data"]["id"]
    assert client.get(f"{LIST}/{made_by_a}", headers=a).status_code == 200
    assert [row["id"] for row in snapshot(client, b)] == [made_by_b]


def test_counts_of_a_team_ignore_other_teams_writes(
    client: TestClient, teams: tuple[dict[str, str], dict[str, str]]
) -> None:
    a, b = teams
    extra = [
        {"id": f"call-b{i}", "type": "call", "resource_type": "person", "resource_id": 101}
        for i in range(5)
    ]
    client.post(BULK, json=extra, headers=b)
    client.delete(f"{LIST}/call-b0", headers=b)
    for params in ({}, {"type": "call"}, {"resource_type": "person", "resource_id": "101"}):
        query = {**params, "include_paging_counts": "true"}
        count_a = client.get(LIST, params=query, headers=a).json()["metadata"]["paging"]
        count_b = client.get(LIST, params=query, headers=b).json()["metadata"]["paging"]
        assert count_a["total_count"] == (3 if not params else 1)
        assert count_b["total_count"] == 4


def test_updated_at_sync_sees_only_the_teams_own_writes(
    client: TestClient, teams: tuple[dict[str, str], dict[str, str]]
) -> None:
    a, b = teams
    sync = {"sort_by": "updated_at", "sort_direction": "ASC", "updated_at[gt]": "2000-01-01"}
    client.post(LIST, json={"type": "note", "resource_type": "person", "resource_id": 5}, headers=b)
    client.put(f"{LIST}/note-2", json={"tags": ["a's"]}, headers=a)
    seen_by_b = [row["id"] for row in client.get(LIST, params=sync, headers=b).json()["data"]]
    assert len(seen_by_b) == 1 and seen_by_b[0] not in {"call-1", "success-3"}
    seen_by_a = [row["id"] for row in client.get(LIST, params=sync, headers=a).json()["data"]]
    assert seen_by_a == ["call-1", "success-3", "note-2"]


def test_a_key_of_each_team_sees_the_same_team(
    client: TestClient, keys: Keys, teams: tuple[dict[str, str], dict[str, str]]
) -> None:
    a, _ = teams
    another_a = keys.headers("team-a")
    assert snapshot(client, another_a) == snapshot(client, a)
