"""Parsing the list endpoint's query string (contract, sections 1 and 2; docs/api.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activityfeed.errors import Invalid
from activityfeed.query import MAX_INTEGER, ListQuery, TimeRange, parse_list_query
from support.querygen import Pools, encodings, queries
from support.reference import Query, filtering, to_us

Pairs = list[tuple[str, str]]


def parse(raw: str) -> ListQuery:
    """Parse a raw query string as Starlette splits it."""
    return parse_list_query(parse_qsl(raw, keep_blank_values=True))


def errors_of(raw: str) -> dict[str, list[str]]:
    with pytest.raises(Invalid) as info:
        parse(raw)
    return info.value.errors


def test_no_parameters_are_the_defaults() -> None:
    query = parse("")
    assert query == ListQuery()
    assert (query.per_page, query.page, query.offset) == (25, 1, 0)
    assert (query.sort_by, query.sort_direction) == ("occurred_at", "DESC NULLS LAST")
    assert not query.include_counts and not query.limit_counts
    assert query.filtering == {}


# Integers.


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("100", 100), ("007", 7), ("", 25)])
def test_per_page_accepts_1_to_100(raw: str, expected: int) -> None:
    assert parse(f"per_page={raw}").per_page == expected


@pytest.mark.parametrize(
    "raw", ["0", "101", "-1", "%2B5", "1.5", "1e2", "abc", "%205", "5%20", "0x10", "%EF%BC%95"]
)
def test_per_page_outside_1_to_100_is_422(raw: str) -> None:
    message = "must be an integer in the range [1, 100]"
    assert errors_of(f"per_page={raw}") == {"per_page": [message]}


def test_page_accepts_huge_pages_and_long_leading_zeros() -> None:
    assert parse(f"page={MAX_INTEGER}").page == MAX_INTEGER
    assert parse("page=" + "0" * 5000 + "3").page == 3
    assert parse("page=2&per_page=10").offset == 10


@pytest.mark.parametrize("raw", ["0", "-1", "1.0", "two", "0" * 30])
def test_page_below_one_is_422(raw: str) -> None:
    assert errors_of(f"page={raw}") == {"page": ["must be an integer greater than or equal to 1"]}


@pytest.mark.parametrize("raw", [str(MAX_INTEGER + 1), "9" * 40, "9" * 5000])
def test_page_past_the_largest_is_422(raw: str) -> None:
    assert errors_of(f"page={raw}") == {"page": [f"must be at most {MAX_INTEGER}"]}


# Booleans and sorting.


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[("true", True), ("TRUE", True), ("tRuE", True), ("1", True)],
        *[("false", False), ("False", False), ("FALSE", False), ("0", False)],
    ],
)
def test_booleans_in_any_case(raw: str, expected: bool) -> None:
    query = parse(f"include_paging_counts={raw}&limit_paging_counts={raw}&pinned={raw}")
    assert query.include_counts is query.limit_counts is query.pinned is expected
    assert query.filtering == {"pinned": expected}


@pytest.mark.parametrize("raw", ["yes", "no", "t", "f", "2", "on", "truee", "%C4%B0"])
def test_other_booleans_are_422_under_each_name(raw: str) -> None:
    message = ["must be true or false"]
    assert errors_of(f"include_paging_counts={raw}&limit_paging_counts={raw}&pinned={raw}") == {
        "include_paging_counts": message,
        "limit_paging_counts": message,
        "pinned": message,
    }


@pytest.mark.parametrize(
    ("raw", "descending"), [("ASC", False), ("asc", False), ("aSc", False), ("DESC", True)]
)
def test_sort_direction_in_any_case(raw: str, descending: bool) -> None:
    assert parse(f"sort_direction={raw}").descending is descending


@pytest.mark.parametrize("raw", ["up", "ascending", "a%C5%BFc", "de%C5%BFc", "ASC%20"])
def test_other_sort_directions_are_422(raw: str) -> None:
    assert errors_of(f"sort_direction={raw}") == {"sort_direction": ["must be one of: ASC, DESC"]}


def test_sort_by_is_case_sensitive() -> None:
    assert parse("sort_by=updated_at").sort_by == "updated_at"
    assert errors_of("sort_by=Updated_at") == {
        "sort_by": ["must be one of: occurred_at, updated_at"]
    }


def test_a_scalar_given_twice_takes_the_last_non_blank_value() -> None:
    query = parse("per_page=5&sort_by=updated_at&per_page=7&sort_by=occurred_at&per_page=")
    assert (query.per_page, query.sort_by) == (7, "occurred_at")
    assert parse("page[]=2").page == 2


# Arrays.


@pytest.mark.parametrize(
    "raw",
    [
        "type=call,note,call",
        "type[]=call&type[]=note&type[]=call",
        "type%5B%5D=call&type%5B%5D=note&type%5B%5D=call",
        "type=call&type=note&type=call",
        "type[0]=call&type[1]=note&type[2]=call",
        "type[]=call&type=note,,&type[7]=call",
        "type=,call,,note&type=&type[]=call",
    ],
)
def test_every_array_form_reads_the_same(raw: str) -> None:
    query = parse(raw)
    assert query.types == ("call", "note", "call")
    assert query.filtering == {"type": ["call", "note", "call"]}


def test_one_value_is_echoed_as_an_array() -> None:
    query = parse("resource_type=person&resource_id=12&user_guid=u-1&ids=call-1")
    assert query.filtering == {
        "resource_type": ["person"],
        "resource_id": ["12"],
        "user_guid": ["u-1"],
        "ids": ["call-1"],
    }


def test_id_is_an_alias_of_ids_in_the_order_given() -> None:
    query = parse("id=call-1&ids[]=note-2&id[]=call-3,note-4")
    assert query.ids == ("call-1", "note-2", "call-3", "note-4")
    assert query.filtering == {"ids": ["call-1", "note-2", "call-3", "note-4"]}


@pytest.mark.parametrize("raw", ["Call", "calls", "phone_call", "call%20"])
def test_unknown_activity_types_are_422(raw: str) -> None:
    assert list(errors_of(f"type=note,{raw}")) == ["type"]


def test_unknown_resource_types_are_422() -> None:
    assert errors_of("resource_type=person,lead") == {
        "resource_type": ["'lead' is not a valid resource type"]
    }


def test_resource_id_requires_resource_type() -> None:
    expected = {"resource_id": ["requires resource_type"]}
    assert errors_of("resource_id=12") == expected
    assert errors_of("resource_id=12&resource_type=") == expected
    assert parse("resource_id=&resource_type=").resource_ids is None


def test_resource_ids_are_kept_as_strings() -> None:
    query = parse("resource_type=person,crm_opportunity&resource_id=007,006A1")
    assert query.resource_ids == ("007", "006A1")


@pytest.mark.parametrize(
    "raw", ["ids[x]=1", "ids[][]=1", "user_guid[a]=b", "resource_type[0][1]=a"]
)
def test_arrays_with_other_bracket_shapes_are_422(raw: str) -> None:
    name = raw.split("[", 1)[0]
    assert errors_of(raw) == {name: ["must be a value or an array of values"]}


# The object form of type.


@pytest.mark.parametrize(
    "raw",
    [
        "type[person][]=call&type[account][]=note&type[person][]=email_reply",
        "type[person]=call,email_reply&type[account]=note",
        "type[person][0]=call&type[account][0]=note&type[person][1]=email_reply",
        "type%5Bperson%5D%5B%5D=call,email_reply&type%5Baccount%5D%5B%5D=note",
    ],
)
def test_the_object_form_of_type(raw: str) -> None:
    query = parse(raw)
    assert query.types is None
    assert query.type_map == (("person", ("call", "email_reply")), ("account", ("note",)))
    assert query.filtering == {"type": {"person": ["call", "email_reply"], "account": ["note"]}}


def test_the_object_form_cannot_be_mixed_with_the_array_form() -> None:
    assert errors_of("type[person][]=call&type=note") == {
        "type": ["cannot mix the array form with the object form"]
    }


def test_a_blank_type_does_not_count_as_the_array_form() -> None:
    query = parse("type=&type[]=&type[person][]=call&type[account][]=")
    assert query.type_map == (("person", ("call",)),)
    assert parse("type[person][]=&type=call").types == ("call",)


def test_the_object_form_checks_resource_and_activity_types() -> None:
    assert errors_of("type[lead][]=call&type[person][]=calls") == {
        "type": ["'lead' is not a valid resource type", "'calls' is not a valid activity type"]
    }
    assert errors_of("type[person][a][b]=call") == {"type": ["is not a valid type filter"]}
    assert errors_of("type[person][x]=call") == {"type": ["is not a valid type filter"]}


# Timestamp operators.


def test_time_operators_combine_into_ranges_echoed_in_utc() -> None:
    query = parse(
        "occurred_at[gte]=2019-01-01&occurred_at[lt]=2019-01-02T05:30:00%2B05:30"
        "&updated_at[gt]=2019-01-01T00:00:00.0000019Z&updated_at[lte]=2019-01-01T01:00:00 01:00"
    )
    assert query.occurred_at == TimeRange(gte=1_546_300_800_000_000, lt=1_546_387_200_000_000)
    assert query.updated_at == TimeRange(gt=1_546_300_800_000_001, lte=1_546_300_800_000_000)
    assert query.filtering == {
        "occurred_at": {
            "gte": "2019-01-01T00:00:00.000000Z",
            "lt": "2019-01-02T00:00:00.000000Z",
        },
        "updated_at": {
            "gt": "2019-01-01T00:00:00.000001Z",
            "lte": "2019-01-01T00:00:00.000000Z",
        },
    }


def test_a_raw_plus_in_an_offset_is_read_as_plus() -> None:
    assert parse("occurred_at[gt]=2019-01-01T05:30:00+05:30").occurred_at.gt == to_us(
        "2019-01-01T00:00:00.000000Z"
    )


def test_time_errors_name_the_full_key() -> None:
    assert errors_of("occurred_at[gt]=soon&updated_at[lte]=2019-02-30") == {
        "occurred_at[gt]": ["is not a valid ISO 8601 timestamp"],
        "updated_at[lte]": ["is not a valid ISO 8601 timestamp"],
    }
    assert errors_of("occurred_at[gt]=9999-12-31T23:00:00-05:00") == {
        "occurred_at[gt]": ["is out of range: UTC years 0001 to 9999"]
    }


def test_time_filters_need_a_known_operator() -> None:
    assert errors_of("occurred_at[eq]=2019-01-01&updated_at=2019-01-01") == {
        "occurred_at[eq]": ["is not a known operator: use gt, gte, lt or lte"],
        "updated_at": ["must be given with an operator: gt, gte, lt or lte"],
    }
    assert parse("occurred_at[gt]=&updated_at[lt]=").filtering == {}


# Everything at once.


def test_every_invalid_parameter_is_listed_at_once() -> None:
    errors = errors_of(
        "per_page=0&page=x&include_paging_counts=maybe&sort_by=name&sort_direction=up"
        "&type=calls&occurred_at[gt]=never&pinned=2&resource_type=lead&ids[x]=1"
    )
    assert sorted(errors) == sorted(
        [
            "per_page",
            "page",
            "include_paging_counts",
            "sort_by",
            "sort_direction",
            "type",
            "occurred_at[gt]",
            "pinned",
            "resource_type",
            "ids",
        ]
    )


@pytest.mark.parametrize(
    "raw",
    [
        "sort=occurred_at",
        "occurred_at_gte=2019-01-01",
        "foo[bar]=1",
        "utf8=%E2%9C%93",
        "type[=call",
        "ty%20pe=call",
        "Per_Page=1000",
        "=x",
        "pinned",
    ],
)
def test_unknown_parameters_are_ignored(raw: str) -> None:
    assert parse(raw) == ListQuery()


# Round trip: the echo, sent back, is the same query.

POOLS = Pools(
    types=("call", "note", "sent_email", "review"),
    ids=("call-1", "note-2", "sent_email-x.y~z"),
    resource_ids=("1", "007", "006A1"),
    user_guids=("0863ed13-7120-479b-8650-206a3679e2fb", "u-2"),
    instants={
        "occurred_at": (0, 1, -1, 1_546_300_800_000_000, 1_546_300_800_123_456),
        "updated_at": (1_546_300_800_000_000, 1_546_300_800_000_001, 253_402_300_799_999_999),
    },
)


def _echo_as_query_string(echo: dict[str, Any]) -> str:
    """The ``filtering`` echo written back in the plainest forms."""
    parts = []
    for name, value in echo.items():
        if isinstance(value, bool):
            parts.append(f"{name}={str(value).lower()}")
        elif isinstance(value, list):
            parts += [f"{name}[]={item}" for item in value]
        elif name == "type":
            parts += [f"type[{rt}][]={t}" for rt, types in value.items() for t in types]
        else:
            parts += [f"{name}[{op}]={text}" for op, text in value.items()]
    return "&".join(parts)


@given(queries(POOLS).flatmap(lambda q: st.tuples(st.just(q), encodings(q))))
def test_every_encoding_parses_to_the_query_and_its_echo_round_trips(
    generated: tuple[Query, str],
) -> None:
    query, raw = generated
    parsed = parse(raw)
    assert parsed.filtering == filtering(query), raw
    assert parsed.per_page == (query.per_page or 25)
    assert parsed.page == (query.page or 1)
    assert parsed.include_counts is bool(query.include_paging_counts)
    assert parsed.limit_counts is bool(query.limit_paging_counts)
    assert parsed.sort_by == (query.sort_by or "occurred_at")
    assert parsed.descending is ((query.sort_direction or "DESC").upper() == "DESC")
    again = parse(_echo_as_query_string(parsed.filtering))
    assert again.filtering == parsed.filtering
    assert again == ListQuery(**{**_filters_of(parsed)})


def _filters_of(query: ListQuery) -> dict[str, Any]:
    """The filter fields of ``query``, the rest at their defaults."""
    names = ("types", "type_map", "occurred_at", "updated_at", "pinned", "resource_types")
    names += ("resource_ids", "ids", "user_guids")
    return {name: getattr(query, name) for name in names}
