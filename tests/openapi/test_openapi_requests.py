"""The OpenAPI document's request schemas accept exactly what the service accepts.

Each property test draws values around every rule (valid ones, each way of breaking a rule,
blanks and nulls) and checks that the document's schema and the service's own validation
give the same verdict. Two gaps are known and kept out of the draws, because JSON Schema
cannot state them: a JSON number's spelling (a float literal past 2**64 is accepted by the
service, while JSON Schema reads it as an integer too large), and the size of a body in
bytes. The timestamp pattern refuses a few valid instants at the edges of the years 0001
and 9999 (``patterns.timestamp_input``); the draws skip those too.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from activityfeed.bodies import object_json, parse_bulk, parse_one, parse_update
from activityfeed.decoding import decode_json
from activityfeed.errors import ErrorCollector, Invalid
from activityfeed.model import ACTIVITY_TYPES, RESOURCE_TYPES
from activityfeed.openapi import openapi_document
from activityfeed.records.service import parse_batch, record_id
from activityfeed.settings import Limits
from activityfeed.timestamps import TimestampError, parse_timestamp

LIMITS = Limits()


@cache
def document() -> dict[str, Any]:
    return openapi_document(LIMITS)


@cache
def validator(name: str) -> Any:
    """A validator of the component schema ``name``.

    jsonschema-rs, not Python's ``jsonschema``: the latter runs patterns with Python's ``re``,
    where ``$`` also matches before a final newline; JSON Schema's patterns are ECMA 262's.
    """
    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": document()["components"]}
    )


def path_parameter(path: str, name: str) -> Any:
    item = document()["paths"][path]
    (param,) = [p for p in item["parameters"] if p["name"] == name]
    return jsonschema_rs.Draft202012Validator(
        {**param["schema"], "components": document()["components"]}
    )


def accepted(parse: Any, body: Any) -> bool:
    """Whether the service takes ``body``, sent as JSON text (decoded as the service does)."""
    try:
        parse(decode_json(json.dumps(body).encode()), LIMITS)
    except Invalid:
        return False
    return True


# -- Values around the rules ----------------------------------------------------------------

TEXT = st.text(max_size=6)
NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64]),
    # No float past 2**53: JSON Schema reads such a float as an integer, the service as a float.
    st.floats(-(2.0**53), 2.0**53, allow_nan=False),
    st.sampled_from([7.0, 7.5, -0.0, 2.0**53]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
OBJECTS = st.dictionaries(TEXT, JSON_VALUES, max_size=3)
TWO_DIGITS = st.integers(0, 99).map(lambda n: f"{n:02d}")
DIGITS = st.text("0123456789", max_size=10)


def _join(*parts: str) -> str:
    return "".join(parts)


TIMESTAMP_LIKE = st.builds(
    _join,
    st.one_of(
        st.sampled_from(["0000", "0001", "0004", "1900", "2000", "2019", "2100", "9999"]),
        st.integers(0, 9999).map(lambda n: f"{n:04d}"),
        st.just("12345"),
    ),
    st.just("-"),
    st.one_of(st.sampled_from(["01", "02", "04", "12", "13", "00"]), TWO_DIGITS),
    st.just("-"),
    st.one_of(st.sampled_from(["01", "28", "29", "30", "31", "32", "00"]), TWO_DIGITS),
    st.one_of(
        st.just(""),
        st.builds(
            _join,
            st.sampled_from(["T", "t", " ", "x"]),
            st.one_of(st.sampled_from(["00", "23", "24"]), TWO_DIGITS),
            st.sampled_from([":", ""]),
            st.one_of(st.sampled_from(["00", "59", "60"]), TWO_DIGITS),
            st.one_of(
                st.just(""),
                st.builds(
                    _join,
                    st.just(":"),
                    st.one_of(st.sampled_from(["00", "59", "60"]), TWO_DIGITS),
                    st.one_of(st.just(""), st.builds(_join, st.sampled_from(".,"), DIGITS)),
                ),
            ),
            st.one_of(
                st.sampled_from(["", "Z", "z", "+", "+5"]),
                st.builds(
                    _join,
                    st.sampled_from(["+", "-", " "]),
                    st.one_of(st.sampled_from(["00", "23", "24"]), TWO_DIGITS),
                    st.sampled_from(["", ":", "::"]),
                    st.one_of(st.just(""), st.sampled_from(["00", "59", "60"]), TWO_DIGITS),
                ),
            ),
        ),
    ),
)
TIMESTAMPS = st.one_of(TIMESTAMP_LIKE, TEXT)
_PARSER = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2}).*?(?P<sign>[+\- ])[0-9]{2}(?::?[0-9]{2})?", re.ASCII
)


def at_the_edge(value: Any) -> bool:
    """A timestamp whose offset moves the first or last day of the years (the pattern's gap)."""
    if not isinstance(value, str):
        return False
    match = _PARSER.fullmatch(value)
    if match is None:
        return False
    date, sign = match.group("date"), match.group("sign")
    return (date == "0001-01-01" and sign in "+ ") or (date == "9999-12-31" and sign == "-")


@st.composite
def valid_timestamps(draw: st.DrawFn) -> str:
    """A timestamp in one of the forms the contract lists, away from the edges of the years."""
    moment = draw(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)))
    text = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    if draw(st.booleans()):
        return text
    text += draw(st.sampled_from("Tt ")) + f"{moment.hour:02d}:{moment.minute:02d}"
    if draw(st.booleans()):
        text += f":{moment.second:02d}"
        if draw(st.booleans()):
            text += draw(st.sampled_from(".,")) + draw(DIGITS)
    hours, minutes = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    offsets = ["", "Z", "z", f"+{hours:02d}:{minutes:02d}", f"-{hours:02d}{minutes:02d}"]
    return text + draw(st.sampled_from([*offsets, f" {hours:02d}", f"+{hours:02d}"]))


SUFFIXES = st.from_regex(r"[A-Za-z0-9._~-]{1,8}", fullmatch=True)
NO_NUL = st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=8)
IN_RANGE = st.integers(-(2**63), 2**64 - 1)
SMALL_OBJECTS = st.dictionaries(
    TEXT, st.one_of(st.none(), st.booleans(), IN_RANGE, TEXT), max_size=3
)


def resource_ids(resource_type: str) -> st.SearchStrategy[Any]:
    """Valid ids of a resource of ``resource_type``, in each form the service takes."""
    if resource_type == "crm_opportunity":
        return st.one_of(IN_RANGE, NO_NUL, st.just("x" * 255))
    return st.one_of(
        st.integers(0, 2**63 - 1),
        st.integers(0, 2**63 - 1).map(str),
        st.integers(0, 10**6).map(lambda n: f"{n:019d}"),
        st.integers(0, 2**53).map(float),
    )


ACTIVITY_IDS = st.one_of(
    st.builds(
        "{}-{}".format,
        st.sampled_from(ACTIVITY_TYPES),
        st.one_of(SUFFIXES, st.sampled_from(["", "x" * 200, "x" * 201, "a/b", "é"]), TEXT),
    ),
    TEXT,
    SCALARS,
)
WILD_RESOURCE_IDS = st.one_of(
    NUMBERS,
    st.from_regex(r"[0-9]{1,20}", fullmatch=True),
    st.sampled_from(
        ["", "0", "007", str(2**63 - 1), str(2**63), "0" * 19 + "1", "x" * 255, "x" * 256]
    ),
    st.sampled_from(["a\x00b", "\u0661\u0662", "-1", " 1"]),
    TEXT,
    st.booleans(),
)
WILD_USER_GUIDS = st.one_of(SCALARS, st.sampled_from(["", "x" * 255, "x" * 256, "a\x00", "\u200b"]))
WILD_TAGS = st.one_of(
    SCALARS,
    st.lists(TEXT, max_size=3),
    st.lists(SCALARS, max_size=2),
    st.sampled_from([["t"] * 50, ["t"] * 51, ["x" * 100], ["x" * 101]]),
)
STATIC_DATA = st.one_of(SCALARS, OBJECTS, st.lists(SCALARS, max_size=2))
WILD_TIMES = st.one_of(SCALARS, TIMESTAMPS, st.lists(SCALARS, max_size=2))
ABSENT = object()  # a field left out
# Field: (a valid value, any value). `resource_id` and `id` follow the body's type.
FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "type": (st.sampled_from(ACTIVITY_TYPES), st.one_of(TEXT, SCALARS)),
    "resource_type": (st.sampled_from(RESOURCE_TYPES), st.one_of(TEXT, SCALARS)),
    "resource_id": (st.nothing(), WILD_RESOURCE_IDS),
    "id": (st.nothing(), ACTIVITY_IDS),
    "occurred_at": (st.one_of(st.none(), valid_timestamps()), WILD_TIMES),
    "pinned_at": (st.one_of(st.none(), valid_timestamps()), WILD_TIMES),
    "user_guid": (st.one_of(st.none(), NO_NUL, st.just("x" * 255)), WILD_USER_GUIDS),
    "tags": (st.one_of(st.none(), st.lists(TEXT, max_size=3)), WILD_TAGS),
    "static_data": (st.one_of(st.none(), SMALL_OBJECTS), STATIC_DATA),
    # Read-only keys of the activity object (ignored), and a field no body has.
    "created_at": (JSON_VALUES, JSON_VALUES),
    "dynamic_data": (JSON_VALUES, JSON_VALUES),
    "failed_dynamic_resources": (JSON_VALUES, JSON_VALUES),
    "notes": (st.nothing(), JSON_VALUES),
}
REQUIRED = ("type", "resource_type", "resource_id")


@st.composite
def activity_bodies(
    draw: st.DrawFn, names: tuple[str, ...] = tuple(FIELDS), required: tuple[str, ...] = REQUIRED
) -> Any:
    """A body with at most two fields broken (or left out), the others valid or absent."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.one_of(SCALARS, st.lists(SCALARS, max_size=2)))
    broken = draw(st.sets(st.sampled_from(names), max_size=2))
    body: dict[str, Any] = {}
    for name in names:
        if name in broken:
            value = draw(st.one_of(st.just(ABSENT), FIELDS[name][1]))
        elif name not in required and (name == "notes" or draw(st.booleans())):
            value = ABSENT
        elif name == "resource_id":
            value = draw(resource_ids(str(body.get("resource_type"))))
        elif name == "id":
            value = draw(SUFFIXES.map(f"{body.get('type')}-{{}}".format))
        else:
            value = draw(FIELDS[name][0])
        if value is not ABSENT:
            body[name] = value
    return body


def no_edge_timestamps(body: Any) -> bool:
    return not isinstance(body, dict) or not any(
        at_the_edge(body.get(name)) for name in ("occurred_at", "pinned_at")
    )


# -- The properties -------------------------------------------------------------------------


@given(st.one_of(TIMESTAMPS, valid_timestamps()))
def test_the_timestamp_pattern_admits_what_the_parser_accepts(text: str) -> None:
    admitted = validator("TimestampInput").is_valid(text)
    try:
        parse_timestamp(text)
        parsed = True
    except TimestampError:
        parsed = False
    assert not admitted or parsed, text
    assert admitted or not parsed or at_the_edge(text), text


@pytest.mark.parametrize(
    ("text", "admitted"),
    [
        ("2019-01-01", True),
        ("2019-01-01T09:30", True),
        ("2019-01-01 09:30:00,123456789+0530", True),
        ("2019-01-01T09:30:00. 05", True),
        ("2020-02-29", True),
        ("2000-02-29", True),
        ("1900-02-29", False),
        ("2019-02-29", False),
        ("2019-04-31", False),
        ("2019-01-01T24:00", False),
        ("2019-01-01T09:30:00+24:00", False),
        ("2019-01-01T09:30:60", False),
        ("0000-01-01", False),
        ("0001-01-01T00:00:00-01:00", True),
        ("9999-12-31T23:59:59+01:00", True),
        ("9999-12-31T23:59:59-01:00", False),
        ("2019-01-01T09:30:00.1234567890Z", False),
        ("\u0662019-01-01", False),
    ],
)
def test_the_timestamp_pattern_on_its_corners(text: str, admitted: bool) -> None:
    assert validator("TimestampInput").is_valid(text) is admitted


@given(activity_bodies())
def test_the_create_schema_accepts_what_a_create_accepts(body: Any) -> None:
    assume(no_edge_timestamps(body))
    assert validator("ActivityCreate").is_valid(body) == accepted(parse_one, body), body


@given(st.lists(activity_bodies(required=(*REQUIRED, "id")), max_size=3) | SCALARS)
def test_the_bulk_schema_accepts_what_a_bulk_upsert_accepts(body: Any) -> None:
    assume(not isinstance(body, list) or all(no_edge_timestamps(item) for item in body))
    ids = (
        [item.get("id") for item in body if isinstance(item, dict)]
        if isinstance(body, list)
        else []
    )
    # Unique ids within the batch: the schema says it in words, the service checks it.
    assume(len({json.dumps(i) for i in ids}) == len(ids))
    assert validator("BulkActivities").is_valid(body) == accepted(parse_bulk, body), body


UPDATE_NAMES = (
    "occurred_at",
    "pinned_at",
    "user_guid",
    "tags",
    "static_data",
    "created_at",
    "dynamic_data",
    "notes",
)


@given(activity_bodies(UPDATE_NAMES, required=()))
def test_the_update_schema_accepts_what_an_update_accepts(body: Any) -> None:
    # `id`, `type`, `resource_type` and `resource_id` are left out: the service takes them
    # when they are the stored values (the schema says so in words), which no schema can check.
    assume(no_edge_timestamps(body))
    assert validator("ActivityUpdate").is_valid(body) == accepted(parse_update, body), body


RECORD_IDS = st.one_of(
    NUMBERS,
    TEXT,
    st.sampled_from(["", "x" * 255, "x" * 256, "a/b", "a\x00", "\x1f", "\x7f", "\x85", "\x9f"]),
    st.sampled_from(["\u200b", "\u2028", "\ue000", "\U0010ffff", " ", "7"]),
    st.booleans(),
    st.none(),
)
RECORD_ITEMS = st.one_of(
    st.fixed_dictionaries({"id": st.one_of(IN_RANGE, NO_NUL), "attributes": SMALL_OBJECTS}),
    st.fixed_dictionaries(
        {}, optional={"id": RECORD_IDS, "attributes": STATIC_DATA, "notes": JSON_VALUES}
    ),
)


@given(st.lists(RECORD_ITEMS, max_size=2) | SCALARS)
def test_the_record_batch_schema_accepts_what_a_record_batch_accepts(body: Any) -> None:
    if isinstance(body, list):
        ids = [record_id(item.get("id")) for item in body]
        assume(None in ids or len(set(ids)) == len(ids))
    assert validator("AssociatedRecordBatch").is_valid(body) == accepted(parse_batch, body), body


@given(st.one_of(TEXT, st.sampled_from(["", "x" * 255, "x" * 256, "a/b", "\n", "\x9f", "7"])))
def test_the_record_id_parameter_admits_what_the_service_takes(text: str) -> None:
    path = "/v2/associated_records/{resource}/{record_id}"
    assert path_parameter(path, "record_id").is_valid(text) == (record_id(text) is not None)


@given(STATIC_DATA)
def test_the_record_attributes_schema_accepts_what_a_record_put_accepts(body: Any) -> None:
    def parse(data: Any, limits: Limits) -> None:
        errors = ErrorCollector()
        object_json(data, limits, "body", errors)
        errors.raise_if_any()

    assert validator("RecordAttributes").is_valid(body) == accepted(parse, body), body


@given(st.one_of(ACTIVITY_IDS.filter(lambda v: isinstance(v, str))))
def test_an_activity_id_the_path_refuses_can_never_be_stored(activity_id: str) -> None:
    admitted = path_parameter("/v2/activity_histories/{activity_id}", "activity_id").is_valid(
        activity_id
    )
    activity_type = activity_id.partition("-")[0]
    body = {"type": activity_type, "resource_type": "person", "resource_id": 1, "id": activity_id}
    assert admitted or not accepted(parse_one, body), activity_id
