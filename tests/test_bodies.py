"""Validating write bodies (contract, section 3)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from activityfeed.bodies import parse_bulk, parse_one, parse_update
from activityfeed.decoding import decode_json, decode_ndjson
from activityfeed.errors import Invalid
from activityfeed.model import ActivityInput
from activityfeed.settings import Limits

LIMITS = Limits()
MIDNIGHT_2019 = 1_546_300_800_000_000
BASE: dict[str, Any] = {"type": "call", "resource_type": "person", "resource_id": 12}


def errors_of(call: Any, *args: Any) -> dict[str, list[str]]:
    with pytest.raises(Invalid) as info:
        call(*args)
    return info.value.errors


def one(**fields: Any) -> ActivityInput:
    return parse_one({**BASE, **fields}, LIMITS)


def one_errors(**fields: Any) -> dict[str, list[str]]:
    return errors_of(parse_one, {**BASE, **fields}, LIMITS)


# Create.


def test_omitted_optional_fields_take_their_defaults() -> None:
    assert one() == ActivityInput(type="call", resource_type="person", resource_id="12")
    item = one()
    assert (item.id, item.occurred_at, item.user_guid, item.pinned_at) == (None,) * 4
    assert (item.tags, item.static_data_json) == ((), b"{}")


def test_null_optional_fields_are_their_defaults() -> None:
    item = one(
        id=None, occurred_at=None, user_guid=None, tags=None, static_data=None, pinned_at=None
    )
    assert item == one()


def test_every_field_is_kept() -> None:
    item = one(
        id="call-x.1~a_b-c",
        occurred_at="2019-01-01T05:30:00+05:30",
        user_guid="0863ed13-7120-479b-8650-206a3679e2fb",
        tags=["b", "a", "b"],
        static_data={"email_id": 2, "nested": {"x": [1, None]}},
        pinned_at="2019-01-01",
    )
    assert item.id == "call-x.1~a_b-c"
    assert item.occurred_at == item.pinned_at == MIDNIGHT_2019
    assert item.user_guid == "0863ed13-7120-479b-8650-206a3679e2fb"
    assert item.tags == ("b", "a", "b")  # in the order given, repeats kept
    assert orjson.loads(item.static_data_json) == {"email_id": 2, "nested": {"x": [1, None]}}


def test_required_fields() -> None:
    assert errors_of(parse_one, {}, LIMITS) == {
        "type": ["is required"],
        "resource_type": ["is required"],
        "resource_id": ["is required"],
    }


@pytest.mark.parametrize("value", ["Call", "calls", "", 5, ["call"], {"a": 1}])
def test_type_must_be_an_activity_type(value: Any) -> None:
    assert one_errors(type=value) == {"type": ["is not a valid activity type"]}


@pytest.mark.parametrize("value", ["Person", "lead", "", 1])
def test_resource_type_must_be_known(value: Any) -> None:
    assert one_errors(resource_type=value) == {
        "resource_type": ["must be one of: person, account, crm_opportunity"]
    }


@pytest.mark.parametrize(
    ("resource_type", "value", "stored"),
    [
        ("person", 12, "12"),
        ("person", "12", "12"),
        ("person", "0012", "12"),
        ("account", 0, "0"),
        ("account", 2**63 - 1, str(2**63 - 1)),
        ("crm_opportunity", "006A000001", "006A000001"),
        ("crm_opportunity", 7, "7"),
        ("crm_opportunity", "x" * 255, "x" * 255),
        # A JSON number with no fraction is the integer, as JSON Schema reads it (up to 2**53).
        ("person", 12.0, "12"),
        ("crm_opportunity", 7.0, "7"),
    ],
)
def test_resource_ids(resource_type: str, value: Any, stored: str) -> None:
    assert one(resource_type=resource_type, resource_id=value).resource_id == stored


@pytest.mark.parametrize(
    "value", [-1, 2**63, 1.5, 2.0**60, "abc", "", " 12", "-1", "\uff11\uff12", "9" * 20, [12]]
)
def test_person_and_account_ids_are_non_negative_integers(value: Any) -> None:
    for resource_type in ("person", "account"):
        assert one_errors(resource_type=resource_type, resource_id=value) == {
            "resource_id": ["must be a non-negative integer"]
        }


@pytest.mark.parametrize("value", ["", "x" * 256, "a\x00b", 1.5, ["a"], {"a": 1}])
def test_opportunity_ids_are_short_strings(value: Any) -> None:
    assert list(one_errors(resource_type="crm_opportunity", resource_id=value)) == ["resource_id"]


def test_a_boolean_is_no_resource_id() -> None:
    assert one_errors(resource_id=True) == {"resource_id": ["must be an integer or a string"]}


@pytest.mark.parametrize(
    "value",
    ["note-1", "call", "call-", "call-a b", "call-a/b", "call-%41", "-1", "call-" + "1" * 201, 5],
)
def test_an_id_must_be_the_type_a_dash_and_a_url_safe_suffix(value: Any) -> None:
    assert list(one_errors(id=value)) == ["id"]


def test_an_id_of_200_suffix_characters_is_fine() -> None:
    assert one(id="call-" + "9" * 200).id == "call-" + "9" * 200


def test_meeting_held_ids_are_not_meeting_ids() -> None:
    assert list(one_errors(type="meeting", id="meeting_held-1")) == ["id"]
    assert one(type="meeting_held", id="meeting_held-1").id == "meeting_held-1"


@pytest.mark.parametrize("name", ["occurred_at", "pinned_at"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "is not a valid ISO 8601 timestamp"),
        ("2019-02-30", "is not a valid ISO 8601 timestamp"),
        ("9999-12-31T23:59:59-01:00", "is out of range: UTC years 0001 to 9999"),
        (1546300800, "must be an ISO 8601 timestamp string"),
        (True, "must be an ISO 8601 timestamp string"),
    ],
)
def test_timestamps_must_be_timestamp_strings(name: str, value: Any, message: str) -> None:
    assert one_errors(**{name: value}) == {name: [message]}


@pytest.mark.parametrize("value", ["", "x" * 256, 5, "a\x00b", ["u"]])
def test_user_guid_is_a_short_string_or_null(value: Any) -> None:
    assert list(one_errors(user_guid=value)) == ["user_guid"]


def test_tags_limits_are_inclusive() -> None:
    assert len(one(tags=["t"] * 50).tags) == 50
    assert one(tags=["x" * 100]).tags == ("x" * 100,)
    assert one_errors(tags=["t"] * 51) == {"tags": ["must hold at most 50 tags"]}
    assert one_errors(tags=["x" * 101]) == {"tags": ["must each be at most 100 characters"]}


@pytest.mark.parametrize("value", ["vip", [1], ["a", None], {"a": "b"}])
def test_tags_are_an_array_of_strings(value: Any) -> None:
    assert one_errors(tags=value) == {"tags": ["must be an array of strings"]}


def test_static_data_is_an_object_of_at_most_64_kib_of_json() -> None:
    padding = 64 * 1024 - len(orjson.dumps({"k": ""}))
    assert len(one(static_data={"k": "x" * padding}).static_data_json) == 64 * 1024
    assert one_errors(static_data={"k": "x" * (padding + 1)}) == {
        "static_data": ["must be at most 65536 bytes of JSON"]
    }
    for value in ([], "x", 1):
        assert one_errors(static_data=value) == {"static_data": ["must be a JSON object"]}


def test_limits_are_configurable() -> None:
    limits = Limits(max_static_data_bytes=10, max_tags=1, max_tag_length=2)
    body = {**BASE, "tags": ["abc", "d"], "static_data": {"long": "value"}}
    assert errors_of(parse_one, body, limits) == {
        "tags": ["must hold at most 1 tags", "must each be at most 2 characters"],
        "static_data": ["must be at most 10 bytes of JSON"],
    }


def test_read_only_fields_sent_back_are_ignored() -> None:
    read_back = {
        "created_at": "x",
        "updated_at": None,
        "dynamic_data": {"a": 1},
        "failed_dynamic_resources": ["email"],
    }
    assert parse_one({**BASE, **read_back}, LIMITS) == one()


def test_unknown_fields_and_every_problem_are_named_at_once() -> None:
    assert errors_of(
        parse_one, {"type": "x", "resource_id": -1, "color": "red", "tags": 1}, LIMITS
    ) == {
        "color": ["is not a known field"],
        "type": ["is not a valid activity type"],
        "resource_type": ["is required"],
        "resource_id": ["must be a non-negative integer"],
        "tags": ["must be an array of strings"],
    }


@pytest.mark.parametrize("body", [[], "call", 1, None])
def test_a_create_body_must_be_an_object(body: Any) -> None:
    assert errors_of(parse_one, body, LIMITS) == {"body": ["must be a JSON object"]}


# Bulk.


def test_bulk_items_keep_array_order_and_need_ids() -> None:
    items = parse_bulk([{**BASE, "id": "call-2"}, {**BASE, "id": "call-1"}], LIMITS)
    assert [item.id for item in items] == ["call-2", "call-1"]
    assert parse_bulk([], LIMITS) == []
    assert errors_of(parse_bulk, [BASE], LIMITS) == {"[0].id": ["is required"]}


def test_bulk_errors_name_each_item_by_index() -> None:
    body = [
        {**BASE, "id": "call-1"},
        {**BASE, "id": "call-2", "type": "calls"},
        "not an object",
        {**BASE, "id": "call-1"},
        {**BASE, "id": "call-4", "tags": "x", "resource_id": None},
    ]
    assert errors_of(parse_bulk, body, LIMITS) == {
        "[1].type": ["is not a valid activity type"],
        "[2]": ["must be a JSON object"],
        "[3].id": ["repeats the id of item [0]"],
        "[4].resource_id": ["is required"],
        "[4].tags": ["must be an array of strings"],
    }


def test_bulk_body_must_be_an_array_of_at_most_the_limit() -> None:
    assert errors_of(parse_bulk, {"id": "call-1"}, LIMITS) == {
        "body": ["must be a JSON array of activities"]
    }
    limits = Limits(max_bulk_items=2)
    three = [{**BASE, "id": f"call-{n}"} for n in range(3)]
    assert errors_of(parse_bulk, three, limits) == {"body": ["must hold at most 2 activities"]}
    assert len(parse_bulk(three[:2], limits)) == 2


# Update.


def test_an_update_changes_only_the_fields_present() -> None:
    changes = parse_update({"tags": ["a"], "pinned_at": None}, LIMITS)
    assert changes.present == frozenset({"tags", "pinned_at"})
    assert changes.tags == ("a",)
    assert changes.pinned_at is None  # null unpins
    assert parse_update({}, LIMITS).present == frozenset()


def test_update_nulls_reset_tags_and_static_data() -> None:
    changes = parse_update({"tags": None, "static_data": None, "user_guid": None}, LIMITS)
    assert (changes.tags, changes.static_data_json, changes.user_guid) == ((), b"{}", None)
    assert changes.present == frozenset({"tags", "static_data", "user_guid"})


def test_update_null_occurred_at_leaves_it_as_it_is() -> None:
    # As in a create (now) and a bulk replace (the stored time): null is "not given".
    changes = parse_update({"occurred_at": None, "tags": ["a"]}, LIMITS)
    assert changes.present == frozenset({"tags"})
    assert parse_update({"occurred_at": "2019-01-01"}, LIMITS).occurred_at == MIDNIGHT_2019


def test_update_keeps_fixed_fields_for_the_store_to_compare() -> None:
    changes = parse_update({**BASE, "id": "call-1", "created_at": "x"}, LIMITS)
    assert dict(changes.fixed) == {**BASE, "id": "call-1"}
    assert changes.present == frozenset()


def test_update_validates_like_create() -> None:
    assert errors_of(
        parse_update, {"tags": ["t"] * 51, "user_guid": 3, "pinned_at": "x", "foo": 1}, LIMITS
    ) == {
        "foo": ["is not a known field"],
        "pinned_at": ["is not a valid ISO 8601 timestamp"],
        "user_guid": ["must be a string of 1 to 255 characters without NUL, or null"],
        "tags": ["must hold at most 50 tags"],
    }
    assert errors_of(parse_update, [], LIMITS) == {"body": ["must be a JSON object"]}


# Decoding.


@pytest.mark.parametrize("body", [b"", b"{", b"[1,]", b"\xff", b"NaN", b"{'a': 1}"])
def test_invalid_json_is_422(body: bytes) -> None:
    assert errors_of(decode_json, body) == {"body": ["is not valid JSON"]}


def test_ndjson_skips_blank_lines_and_names_bad_ones() -> None:
    assert decode_ndjson(b'{"a":1}\n\n  \n{"b":2}\n') == [{"a": 1}, {"b": 2}]
    assert decode_ndjson(b'{"a":1}\r\n{"b":2}') == [{"a": 1}, {"b": 2}]
    assert errors_of(decode_ndjson, b'{"a":1}\n{oops\n\nnope') == {
        "line 2": ["is not valid JSON"],
        "line 4": ["is not valid JSON"],
    }
