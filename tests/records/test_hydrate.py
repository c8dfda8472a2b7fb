"""Hydration from the local store: dynamic_data, failed_dynamic_resources, loads per page."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from starlette.testclient import TestClient

from activityfeed.records.hydrate import RecordHydrator
from activityfeed.records.registry import Registry
from activityfeed.storage.base import Row

LIST = "/v2/activity_histories"
RECORDS = "/v2/associated_records"


def create(client: TestClient, auth: dict[str, str], static_data: dict[str, Any]) -> Any:
    body = {"type": "sent_email", "resource_type": "person", "resource_id": 1}
    response = client.post(LIST, json={**body, "static_data": static_data}, headers=auth)
    assert response.status_code == 201
    return response.json()["data"]


def listed(client: TestClient, auth: dict[str, str], **params: Any) -> list[Any]:
    response = client.get(LIST, params=params, headers=auth)
    assert response.status_code == 200
    data: list[Any] = response.json()["data"]
    return data


def test_record_attributes_appear_and_follow_the_record_while_updated_at_stays(
    client: TestClient, auth: dict[str, str]
) -> None:
    client.put(f"{RECORDS}/email/2", json={"subject": "Hi", "views": 0}, headers=auth)
    created = create(client, auth, {"email_id": 2})

    (first,) = listed(client, auth)
    assert first["dynamic_data"] == {"subject": "Hi", "views": 0}
    assert first["failed_dynamic_resources"] == []

    client.put(f"{RECORDS}/email/2", json={"subject": "Hi", "views": 3}, headers=auth)
    (second,) = listed(client, auth)
    assert second["dynamic_data"] == {"subject": "Hi", "views": 3}
    assert second["updated_at"] == first["updated_at"] == created["updated_at"]
    one = client.get(f"{LIST}/{created['id']}", headers=auth).json()["data"]
    assert one["dynamic_data"] == {"subject": "Hi", "views": 3}
    assert one["updated_at"] == created["updated_at"]


def test_a_missing_record_puts_its_name_in_failed_dynamic_resources(
    client: TestClient, auth: dict[str, str]
) -> None:
    client.put(f"{RECORDS}/cadence/5", json={"name": "Outbound"}, headers=auth)
    create(client, auth, {"email_id": 404, "cadence_id": 5})
    (activity,) = listed(client, auth)
    assert activity["dynamic_data"] == {"name": "Outbound"}
    assert activity["failed_dynamic_resources"] == ["email"]


def test_a_deleted_record_fails_from_the_next_read_on(
    client: TestClient, auth: dict[str, str]
) -> None:
    client.put(f"{RECORDS}/call/7", json={"duration": 42}, headers=auth)
    create(client, auth, {"call_id": 7})
    assert listed(client, auth)[0]["dynamic_data"] == {"duration": 42}
    client.delete(f"{RECORDS}/call/7", headers=auth)
    (activity,) = listed(client, auth)
    assert activity["dynamic_data"] == {}
    assert activity["failed_dynamic_resources"] == ["call"]


def test_create_omits_dynamic_data(client: TestClient, auth: dict[str, str]) -> None:
    client.put(f"{RECORDS}/email/2", json={"subject": "Hi"}, headers=auth)
    created = create(client, auth, {"email_id": 2})
    assert "dynamic_data" not in created
    assert created["failed_dynamic_resources"] == []


def test_update_and_get_are_hydrated(client: TestClient, auth: dict[str, str]) -> None:
    client.put(f"{RECORDS}/note/1", json={"content": "first"}, headers=auth)
    client.put(f"{RECORDS}/note/2", json={"content": "second"}, headers=auth)
    created = create(client, auth, {"note_id": 1})
    path = f"{LIST}/{created['id']}"
    updated = client.put(path, json={"static_data": {"note_id": 2}}, headers=auth).json()["data"]
    assert updated["dynamic_data"] == {"content": "second"}
    assert client.get(path, headers=auth).json()["data"]["dynamic_data"] == {"content": "second"}


@pytest.mark.parametrize(
    ("static_data", "expected"),
    [
        ({"email_id": 1, "call_id": 1}, {"subject": "from email", "status": "sent", "disp": "ok"}),
        ({"call_id": 1, "email_id": 1}, {"subject": "from call", "disp": "ok", "status": "sent"}),
    ],
)
def test_attributes_merge_flat_and_the_first_reference_wins_a_clash(
    client: TestClient, auth: dict[str, str], static_data: dict[str, Any], expected: Any
) -> None:
    client.put(f"{RECORDS}/email/1", json={"subject": "from email", "status": "sent"}, headers=auth)
    client.put(f"{RECORDS}/call/1", json={"subject": "from call", "disp": "ok"}, headers=auth)
    create(client, auth, static_data)
    (activity,) = listed(client, auth)
    assert activity["dynamic_data"] == expected
    assert list(activity["dynamic_data"]) == list(expected)


def test_keys_that_are_not_resource_names_are_not_references(
    client: TestClient, auth: dict[str, str]
) -> None:
    create(client, auth, {"crm_id": 5, "external_id": "x", "email": 3, "email_id": None})
    (activity,) = listed(client, auth)
    assert activity["dynamic_data"] == {}
    assert activity["failed_dynamic_resources"] == []


def test_string_and_integer_references_find_the_same_record(
    client: TestClient, auth: dict[str, str]
) -> None:
    client.put(f"{RECORDS}/opportunity/0065e00000AbCdE", json={"stage": "Won"}, headers=auth)
    client.put(f"{RECORDS}/task/12", json={"state": "done"}, headers=auth)
    create(client, auth, {"opportunity_id": "0065e00000AbCdE"})
    create(client, auth, {"task_id": "12"})
    create(client, auth, {"opportunity_id": "0065e00000AbCdE"})
    create(client, auth, {"task_id": 12})
    data = listed(client, auth, sort_direction="ASC")
    assert [a["dynamic_data"] for a in data] == [{"stage": "Won"}, {"state": "done"}] * 2


def test_another_teams_record_is_never_loaded(client: TestClient, keys: Any) -> None:
    acme, other = keys.headers("acme"), keys.headers("other")
    client.put(f"{RECORDS}/email/2", json={"subject": "other's secret"}, headers=other)
    create(client, acme, {"email_id": 2})
    (activity,) = listed(client, acme)
    assert activity["dynamic_data"] == {}
    assert activity["failed_dynamic_resources"] == ["email"]


def test_one_load_per_resource_name_per_page(
    client: TestClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = [{"id": n, "attributes": {"subject": f"email {n}"}} for n in range(40)]
    client.put(f"{RECORDS}/email", json=batch, headers=auth)
    client.put(f"{RECORDS}/cadence", json=[{"id": 1, "attributes": {"name": "c"}}], headers=auth)
    activities = [
        {
            "id": f"sent_email-{n}",
            "type": "sent_email",
            "resource_type": "person",
            "resource_id": n,
            "static_data": {"email_id": n, "cadence_id": 1, "step_id": n},
        }
        for n in range(40)
    ]
    client.post(f"{LIST}/bulk", json=activities, headers=auth)
    store = client.app.state.service.storage  # type: ignore[attr-defined]
    loads: Counter[str] = Counter()
    real = store.get_records

    async def counting(
        team_id: int, wanted: Mapping[str, Sequence[str]]
    ) -> dict[str, dict[str, bytes]]:
        loads["calls"] += 1
        loads.update(wanted.keys())
        return await real(team_id, wanted)

    monkeypatch.setattr(store, "get_records", counting)
    data = listed(client, auth, per_page=25)
    assert len(data) == 25
    assert loads == {"calls": 1, "email": 1, "cadence": 1, "step": 1}
    assert all(a["failed_dynamic_resources"] == ["step"] for a in data)
    assert all(a["dynamic_data"]["name"] == "c" for a in data)


def test_a_page_without_references_loads_nothing(
    client: TestClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    create(client, auth, {})
    create(client, auth, {"crm_id": 3})
    store = client.app.state.service.storage  # type: ignore[attr-defined]

    async def forbidden(*args: object) -> dict[str, bytes]:
        raise AssertionError("no load expected")

    monkeypatch.setattr(store, "get_records", forbidden)
    assert [a["dynamic_data"] for a in listed(client, auth)] == [{}, {}]


class FakeStore:
    """Only what the hydrator reads, with records in memory."""

    def __init__(self, records: dict[tuple[str, str], bytes]) -> None:
        self.records = records
        self.calls: list[tuple[str, list[str]]] = []

    async def get_records(
        self, team_id: int, wanted: Mapping[str, Sequence[str]]
    ) -> dict[str, dict[str, bytes]]:
        found: dict[str, dict[str, bytes]] = {}
        for resource, ids in wanted.items():
            self.calls.append((resource, list(ids)))
            found[resource] = {
                i: self.records[resource, i] for i in ids if (resource, i) in self.records
            }
        return found


def test_hydrator_asks_each_id_once_and_keeps_row_order() -> None:
    store = FakeStore({("email", "1"): b'{"s":1}', ("email", "2"): b'{"s":2}'})
    hydrator = RecordHydrator(store, Registry.local_only())  # type: ignore[arg-type]
    rows = [
        Row(b"{}", b'[["email","1"]]'),
        Row(b"{}", None),
        Row(b"{}", b'[["email","2"],["foo","1"]]'),
        Row(b"{}", b'[["email","1"]]'),
        Row(b"{}", b'[["email","3"]]'),
    ]
    result = asyncio.run(hydrator.hydrate(1, rows))
    assert store.calls == [("email", ["1", "2", "3"])]
    assert result == [
        (b'{"s":1}', b"[]"),
        (b"{}", b"[]"),
        (b'{"s":2}', b"[]"),
        (b'{"s":1}', b"[]"),
        (b"{}", b'["email"]'),
    ]
