"""The SDK against the in-process app: every method, every filter, the error tree."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from activityfeed.auth import new_key
from activityfeed.client import (
    Activity,
    AsyncClient,
    BulkResult,
    Client,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationError,
)
from activityfeed.client.params import encode_filters
from activityfeed.http.app import create_app
from activityfeed.model import SCOPE_READ, SCOPES
from activityfeed.settings import Settings
from conftest import Keys
from support.sdk_support import AppBridge

T0 = datetime(2024, 1, 1, tzinfo=UTC)
GUID_A = "0c1f8c3e-0000-4000-8000-00000000000a"
GUID_B = "0c1f8c3e-0000-4000-8000-00000000000b"


def dataset() -> list[dict[str, Any]]:
    """Twelve activities that every filter can tell apart."""
    items: list[dict[str, Any]] = []
    kinds = [
        ("call", "person", 1),
        ("note", "account", 2),
        ("sent_email", "person", 3),
        ("meeting", "crm_opportunity", "opp-7"),
    ]
    for n in range(12):
        kind, resource_type, resource_id = kinds[n % 4]
        items.append(
            {
                "id": f"{kind}-{n}",
                "type": kind,
                "resource_type": resource_type,
                "resource_id": resource_id,
                "occurred_at": T0 + timedelta(hours=n),
                "user_guid": GUID_A if n % 2 else GUID_B,
                "tags": [f"t{n % 3}"],
                "static_data": {"n": n},
                "pinned_at": T0 if n % 5 == 0 else None,
            }
        )
    return items


@pytest.fixture
def loaded(sdk: Client) -> Client:
    """The SDK with the dataset stored."""
    assert sdk.bulk_upsert(dataset()) == BulkResult(created=12, updated=0, unchanged=0)
    return sdk


def ids(activities: Any) -> list[str]:
    return [activity.id for activity in activities]


def test_create_returns_a_typed_activity_without_dynamic_data(sdk: Client) -> None:
    created = sdk.create_activity(
        "call",
        "person",
        42,
        id="call-x1",
        occurred_at=datetime(2024, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        user_guid=GUID_A,
        tags=("a", "b"),
        static_data={"call_id": 9, "nested": {"k": [1, 2]}},
        pinned_at="2024-03-02",
    )
    assert created.id == "call-x1"
    assert created.resource_id == 42
    assert created.occurred_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert created.pinned_at == datetime(2024, 3, 2, tzinfo=UTC)
    assert created.tags == ("a", "b")
    assert created.static_data == {"call_id": 9, "nested": {"k": [1, 2]}}
    assert created.dynamic_data is None
    assert created.failed_dynamic_resources == ()
    assert created.created_at == created.updated_at
    with pytest.raises(TypeError):
        created.static_data["call_id"] = 1  # type: ignore[index]


def test_create_with_only_the_required_fields_gets_the_defaults(sdk: Client) -> None:
    created = sdk.create_activity("meeting", "crm_opportunity", "opp-1")
    assert created.id.startswith("meeting-")
    assert created.resource_id == "opp-1"
    assert (created.user_guid, created.pinned_at, created.tags) == (None, None, ())
    assert created.static_data == {}


def test_get_update_and_delete(sdk: Client) -> None:
    created = sdk.create_activity("note", "account", 7, tags=["x"], pinned_at=T0)
    got = sdk.get_activity(created.id)
    assert got.dynamic_data == {}
    assert got.to_input() == created.to_input()

    updated = sdk.update_activity(created.id, pinned_at=None, user_guid=GUID_B)
    assert updated.pinned_at is None
    assert updated.user_guid == GUID_B
    assert updated.tags == ("x",)  # not sent, not changed
    assert updated.updated_at > created.updated_at

    retagged = sdk.update_activity(created.id, tags=[], static_data={"a": 1}, occurred_at=T0)
    assert (retagged.tags, dict(retagged.static_data), retagged.occurred_at) == ((), {"a": 1}, T0)

    sdk.delete_activity(created.id)
    with pytest.raises(NotFound) as caught:
        sdk.get_activity(created.id)
    assert caught.value.status == 404
    with pytest.raises(NotFound):
        sdk.delete_activity(created.id)


def test_bulk_as_json_and_as_ndjson_upserts_by_id(sdk: Client) -> None:
    items = dataset()
    assert sdk.bulk_upsert(items, ndjson=True) == BulkResult(12, 0, 0)
    assert sdk.bulk_upsert(items) == BulkResult(0, 0, 12)
    items[0] = {**items[0], "tags": ["changed"]}
    stored = sdk.get_activity(items[1]["id"])
    assert sdk.bulk_upsert([items[0], stored]) == BulkResult(0, 1, 1)


def test_bulk_error_names_the_item(sdk: Client) -> None:
    with pytest.raises(ValidationError) as caught:
        sdk.bulk_upsert([dataset()[0], {"id": "call-9", "type": "nope", "resource_type": "person"}])
    assert "[1].type" in caught.value.errors
    assert caught.value.status == 422


def test_list_returns_a_page_with_its_metadata(loaded: Client) -> None:
    page = loaded.list_activities(per_page=5, page=2, include_paging_counts=True)
    assert len(page) == 5
    assert (page.paging.current_page, page.paging.next_page, page.paging.prev_page) == (2, 3, 1)
    assert (page.paging.total_count, page.paging.total_pages) == (12, 3)
    assert (page.sort_by, page.sort_direction) == ("occurred_at", "DESC NULLS LAST")
    assert ids(page) == [f"{d['id']}" for d in reversed(dataset())][5:10]
    limited = loaded.list_activities(include_paging_counts=True, limit_paging_counts=True)
    assert limited.paging.total_count == 12
    assert loaded.list_activities().paging.total_count is None


@pytest.mark.parametrize(
    ("filters", "echo", "expected"),
    [
        ({"type": "call"}, {"type": ["call"]}, [0, 4, 8]),
        ({"type": ["call", "note"]}, {"type": ["call", "note"]}, [0, 1, 4, 5, 8, 9]),
        (
            {"type": {"person": ["call"], "account": "note"}},
            {"type": {"person": ["call"], "account": ["note"]}},
            [0, 1, 4, 5, 8, 9],
        ),
        (
            {"occurred_at_gte": T0 + timedelta(hours=3), "occurred_at_lt": "2024-01-01T05:00Z"},
            {
                "occurred_at": {
                    "gte": "2024-01-01T03:00:00.000000Z",
                    "lt": "2024-01-01T05:00:00.000000Z",
                }
            },
            [3, 4],
        ),
        (
            {"occurred_at_gt": T0 + timedelta(hours=9), "occurred_at_lte": date(2024, 1, 2)},
            {
                "occurred_at": {
                    "gt": "2024-01-01T09:00:00.000000Z",
                    "lte": "2024-01-02T00:00:00.000000Z",
                }
            },
            [10, 11],
        ),
        ({"pinned": True}, {"pinned": True}, [0, 5, 10]),
        ({"pinned": False}, {"pinned": False}, [1, 2, 3, 4, 6, 7, 8, 9, 11]),
        ({"resource_type": "crm_opportunity"}, {"resource_type": ["crm_opportunity"]}, [3, 7, 11]),
        (
            {"resource_type": ["person", "account"], "resource_id": [1, "2"]},
            {"resource_type": ["person", "account"], "resource_id": ["1", "2"]},
            [0, 1, 4, 5, 8, 9],
        ),
        ({"ids": "note-1"}, {"ids": ["note-1"]}, [1]),
        ({"ids": ["note-1", "call-4"]}, {"ids": ["note-1", "call-4"]}, [1, 4]),
        (
            {"user_guid": GUID_A, "type": "note"},
            {"user_guid": [GUID_A], "type": ["note"]},
            [1, 5, 9],
        ),
        ({"user_guid": [GUID_A, GUID_B], "ids": "call-0"}, None, [0]),
    ],
)
def test_every_filter_is_encoded_as_the_service_reads_it(
    loaded: Client, filters: dict[str, Any], echo: dict[str, Any] | None, expected: list[int]
) -> None:
    page = loaded.list_activities(**filters, sort_direction="asc", per_page=100)
    names = [d["id"] for d in dataset()]
    assert ids(page) == [names[n] for n in expected]
    if echo is not None:
        assert dict(page.filtering) == echo


def test_updated_at_filters_and_sorting(loaded: Client) -> None:
    by_update = list(loaded.iter_activities(sort_by="updated_at", sort_direction="ASC"))
    assert ids(by_update) == [d["id"] for d in dataset()]
    middle = by_update[5].updated_at
    after = loaded.list_activities(updated_at_gt=middle, sort_by="updated_at", per_page=100)
    assert ids(after) == list(reversed(ids(by_update[6:])))
    window = loaded.list_activities(
        updated_at_gte=middle, updated_at_lte=by_update[7].updated_at, sort_direction="ASC"
    )
    assert sorted(ids(window)) == sorted(ids(by_update[5:8]))
    upto = loaded.list_activities(updated_at_lt=middle, per_page=100)
    assert sorted(ids(upto)) == sorted(ids(by_update[:5]))


def test_iter_activities_follows_next_page(loaded: Client) -> None:
    seen = ids(loaded.iter_activities(per_page=5, type=["call", "note", "sent_email", "meeting"]))
    assert len(seen) == 12
    assert seen == ids(loaded.list_activities(per_page=100))
    assert ids(loaded.iter_activities(per_page=5, page=3)) == seen[10:]


def test_sync_reads_every_change_once_and_resumes_from_its_cursor(loaded: Client) -> None:
    first = list(loaded.sync(per_page=5))
    assert [item.activity.id for item in first] == [d["id"] for d in dataset()]
    assert first[-1].cursor == first[-1].activity.cursor
    assert list(loaded.sync(since=first[-1].cursor)) == []
    changed = loaded.update_activity("note-5", tags=["again"])
    again = list(loaded.sync(since=first[-1].cursor))
    assert [item.activity for item in again] == [changed]
    from_datetime = list(loaded.sync(since=first[9].activity.updated_at, type="call"))
    assert [item.activity.id for item in from_datetime] == []
    typed = [item.activity.id for item in loaded.sync(type="call", per_page=1)]
    assert typed == ["call-0", "call-4", "call-8"]


def test_sync_refuses_the_parameters_it_sets_itself(sdk: Client) -> None:
    with pytest.raises(TypeError, match="sort_by"):
        list(sdk.sync(sort_by="occurred_at"))  # type: ignore[call-arg]


def test_a_misspelt_filter_is_a_type_error_not_a_wider_query(sdk: Client) -> None:
    with pytest.raises(TypeError, match="occured_at_gt"):
        sdk.list_activities(occured_at_gt=T0)  # type: ignore[call-arg]


def test_invalid_filters_raise_a_validation_error_with_every_problem(sdk: Client) -> None:
    with pytest.raises(ValidationError) as caught:
        sdk.list_activities(occurred_at_gt="yesterday", type="nope", per_page=500)
    assert set(caught.value.errors) == {"occurred_at[gt]", "type", "per_page"}
    assert "per_page" in str(caught.value)


def test_auth_errors_are_their_own_exceptions(client: Any, keys: Keys) -> None:
    bridge = AppBridge(client)
    with Client("http://testserver", "ak_" + "0" * 64, transport=bridge) as stranger:
        with pytest.raises(Unauthorized) as caught:
            stranger.list_activities()
        assert caught.value.message == "Invalid API key"
    with Client("http://testserver", keys("acme", (SCOPE_READ,)), transport=bridge) as reader:
        assert len(reader.list_activities()) == 0
        with pytest.raises(Forbidden):
            reader.create_activity("call", "person", 1)


def test_associated_records_and_their_dynamic_data(sdk: Client) -> None:
    record = sdk.put_record("email", "2", {"subject": "Hello", "views": 3})
    assert (record.resource, record.id, dict(record.attributes)) == (
        "email",
        "2",
        {"subject": "Hello", "views": 3},
    )
    assert record.created_at is not None
    assert sdk.get_record("email", "2") == record
    batch = sdk.put_records("cadence", {"5": {"name": "Outbound"}, "6": {"name": "Inbound"}})
    assert (batch.created, batch.updated, batch.unchanged, batch.total) == (2, 0, 0, 2)
    again = sdk.put_records("cadence", [sdk.get_record("cadence", "5")])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)

    created = sdk.create_activity("sent_email", "person", 1, static_data={"email_id": 2})
    assert dict(sdk.get_activity(created.id).dynamic_data or {}) == {
        "subject": "Hello",
        "views": 3,
    }
    sdk.delete_record("email", "2")
    with pytest.raises(NotFound):
        sdk.get_record("email", "2")
    assert sdk.get_activity(created.id).failed_dynamic_resources == ("email",)


def test_encode_filters_uses_the_rails_bracket_forms() -> None:
    moment = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=-5)))
    assert encode_filters(
        {
            "type": {"person": ["call", "note"]},
            "updated_at_gt": moment,
            "pinned": False,
            "ids": ["a-1"],
            "resource_type": "person",
            "resource_id": 5,
            "per_page": 10,
            "include_paging_counts": True,
            "user_guid": None,
        }
    ) == [
        ("per_page", "10"),
        ("include_paging_counts", "true"),
        ("pinned", "false"),
        ("type[person][]", "call"),
        ("type[person][]", "note"),
        ("updated_at[gt]", "2024-05-06T12:08:09.123456Z"),
        ("resource_type", "person"),
        ("resource_id", "5"),
        ("ids[]", "a-1"),
    ]


def test_activity_json_round_trips(loaded: Client) -> None:
    for activity in loaded.iter_activities():
        assert Activity.from_json(activity.to_json()) == activity


def test_async_client_against_the_app(settings: Settings) -> None:
    async def scenario() -> None:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            key = await new_key(app.state.service.storage, "acme", SCOPES)
            transport = httpx.ASGITransport(app=app)
            async with AsyncClient("http://testserver", key, transport=transport) as sdk:
                assert await sdk.bulk_upsert(dataset(), ndjson=True) == BulkResult(12, 0, 0)
                page = await sdk.list_activities(type={"person": ["call"]}, per_page=2)
                assert ids(page) == ["call-8", "call-4"]
                every = [a.id async for a in sdk.iter_activities(per_page=5)]
                assert len(every) == 12
                synced = [item async for item in sdk.sync(per_page=4)]
                assert [s.activity.id for s in synced] == [d["id"] for d in dataset()]
                created = await sdk.create_activity("task", "person", 3, tags=["t"])
                assert (await sdk.get_activity(created.id)).tags == ("t",)
                updated = await sdk.update_activity(created.id, pinned_at=T0)
                assert updated.pinned_at == T0
                await sdk.put_record("task", "1", {"subject": "Call back"})
                assert (await sdk.get_record("task", "1")).attributes == {"subject": "Call back"}
                assert (await sdk.put_records("task", {"2": {}})).created == 1
                await sdk.delete_record("task", "1")
                await sdk.delete_activity(created.id)
                with pytest.raises(NotFound):
                    await sdk.get_activity(created.id)
                with pytest.raises(ValidationError):
                    await sdk.list_activities(sort_by="nope")

    asyncio.run(scenario())
