"""Schemathesis hooks for ``test_schemathesis.py``: the rules the document states but JSON
Schema cannot, so that what schemathesis generates as valid is valid.

For requests generated as valid only (an invalid one is the service's to reject):

* ``x-conflicts-with`` and ``x-requires`` of a query parameter (the array and object forms
  of ``type`` do not mix; ``resource_id[]`` needs ``resource_type[]``): the query keeps the
  first of two conflicting parameters and drops one whose requirement is missing.
* Ids are unique within a batch (``BulkActivities``, ``AssociatedRecordBatch``): the batch
  keeps the first item of each id.
* An id already taken is a 422 that depends on what is stored, not on the body: a create
  that repeats an id this run created gets a fresh suffix.

For every request:

* A whole number past 2**53 drawn as a float is sent as the integer it is (see
  ``_integer_spelling``).
* NDJSON bodies are one JSON document per line. A value that is no array has no NDJSON
  form: it is sent as indented JSON over several lines, which no NDJSON reader takes.
* Each answered request is counted in the file ``SCHEMATHESIS_REQUEST_COUNT`` names.
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema_rs
import schemathesis
from schemathesis.core.parameters import ParameterLocation

from activityfeed.records.service import record_id

REQUEST_COUNT_ENV = "SCHEMATHESIS_REQUEST_COUNT"
BATCH_OPERATIONS = {"bulkUpsertActivityHistories", "putAssociatedRecords"}
CREATE_OPERATIONS = {"createActivityHistory", "createActivityHistoryJson"}
ID_TAKEN = {"errors": {"id": ["has already been taken"]}}
_created: set[str] = set()  # the activity ids this run created


def _operation_id(case: Any) -> Any:
    return case.operation.definition.raw.get("operationId")


def _valid_at(case: Any, location: ParameterLocation) -> bool:
    return case.meta is not None and not case.meta.is_negative_at(location)


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: Any, value: Any) -> bytes:
    if isinstance(value, list):
        return b"".join(json.dumps(item).encode() + b"\n" for item in value)
    return json.dumps(value, indent=2).encode()


# -- Valid requests: the rules between parameters, and between items --------------------------


def _blank(value: Any) -> bool:
    """A query value the service reads as not given: blank, or only blank items."""
    if isinstance(value, list):
        return all(item == "" for item in value)
    return value is None or value == ""


def _query_rules(case: Any, query: dict[str, Any]) -> dict[str, Any]:
    rules = {param.name: param.definition for param in case.operation.query}
    given = {name for name, value in query.items() if not _blank(value)}
    kept = dict(query)
    for name in list(query):
        if name not in given:
            continue
        definition = rules.get(name, {})
        requires = definition.get("x-requires", [])
        if requires and not any(other in given for other in requires):
            del kept[name]
            given.discard(name)
            continue
        for other in definition.get("x-conflicts-with", []):
            if other in given:
                del kept[other]
                given.discard(other)
    return kept


def _unique_ids(body: Any) -> Any:
    """``body`` without the items whose id repeats an earlier item's, read as the service
    reads ids (``7``, ``7.0`` and ``"7"`` are one record id)."""
    if not isinstance(body, list):
        return body
    seen: set[str] = set()
    kept = []
    for item in body:
        key = record_id(item.get("id")) if isinstance(item, dict) else None
        if key is not None and key in seen:
            continue
        if key is not None:
            seen.add(key)
        kept.append(item)
    return kept


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if case.query and _valid_at(case, ParameterLocation.QUERY):
        query = _query_rules(case, case.query)
        if query != case.query:
            case.query = query
    if _operation_id(case) in BATCH_OPERATIONS and _valid_at(case, ParameterLocation.BODY):
        body = _unique_ids(case.body)
        if body != case.body:
            case.body = body
    return case


# -- Every request: how numbers are spelled; ids already taken --------------------------------


def _has_huge_whole_float(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer() and abs(value) > 2**53
    if isinstance(value, list):
        return any(_has_huge_whole_float(item) for item in value)
    if isinstance(value, dict):
        return any(_has_huge_whole_float(item) for item in value.values())
    return False


def _integer_spelling(value: Any) -> Any:
    """``value`` with each float that is a whole number past 2**53 written as an integer.

    JSON Schema reads numbers by value: ``1e300`` and its 301 digits are one integer to it,
    beyond 64 bits either way. The service reads the spelling: a float literal is a double
    it keeps, an integer literal beyond 64 bits is refused. So whatever schemathesis draws as
    such a whole number is sent as the integer the document means.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) > 2**53:
        return int(value)
    if isinstance(value, list):
        return [_integer_spelling(item) for item in value]
    if isinstance(value, dict):
        return {key: _integer_spelling(item) for key, item in value.items()}
    return value


def _fresh(activity_id: str) -> str:
    """``activity_id`` with a suffix that no activity of this run has."""
    activity_type, _, suffix = activity_id.partition("-")
    for n in itertools.count(len(_created)):
        tag = f"~{n}"
        candidate = f"{activity_type}-{suffix[: 200 - len(tag)]}{tag}"
        if candidate not in _created:
            return candidate
    raise AssertionError("unreachable")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if _has_huge_whole_float(case.body):
        case.body = _integer_spelling(case.body)
    body = case.body
    if (
        _operation_id(case) in CREATE_OPERATIONS
        and _valid_at(case, ParameterLocation.BODY)
        and isinstance(body, dict)
        and isinstance(body.get("id"), str)
        and body["id"] in _created
    ):
        case.body = {**body, "id": _fresh(body["id"])}


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    if _operation_id(case) in CREATE_OPERATIONS and response.status_code == 201:
        _created.add(json.loads(response.content)["data"]["id"])
    path = os.environ.get(REQUEST_COUNT_ENV)
    if path:
        with open(path, "a") as log:
            log.write(".")


# -- Failures ---------------------------------------------------------------------------------


def _wire_value(schema: dict[str, Any], texts: list[str]) -> Any:
    """The value of a query parameter as sent, read as the document reads it: an array of
    the texts (form style, exploded), else the last text, typed by the schema."""
    if schema.get("type") == "array":
        return texts
    text = texts[-1]
    kind = schema.get("type")
    if kind == "integer" and text.isascii() and text.isdigit():
        return int(text)
    if kind == "boolean" and text.lower() in ("true", "false", "1", "0"):
        return text.lower() in ("true", "1")
    return text


def _query_valid_as_sent(case: Any, response: Any) -> bool:
    """Whether every query parameter, as it went on the wire, is one the document admits."""
    sent: dict[str, list[str]] = {}
    query = urlsplit(response.request.url).query
    for key, value in parse_qsl(query, keep_blank_values=True):
        sent.setdefault(key, []).append(value)
    components = case.operation.schema.raw_schema.get("components", {})
    for param in case.operation.query:
        texts = sent.get(param.name)
        if texts is None:
            continue
        if param.definition.get("allowEmptyValue") and texts == [""]:
            continue
        schema = param.definition["schema"]
        validator = jsonschema_rs.Draft202012Validator({**schema, "components": components})
        if not validator.is_valid(_wire_value(schema, texts)):
            return False
    return True


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but two:

    * a request generated as invalid whose only invalid part, the query string, is valid as
      it was sent (a value drawn as ``{}`` goes out blank, which every list parameter takes);
    * a valid create refused with exactly "has already been taken" (an id taken by a case
      replayed while shrinking): the one refusal of a valid body that the document says
      depends on what is stored.
    """
    meta = case.meta
    if failure.code == "ST201" and meta is not None:
        negative = {location for location, c in meta.components.items() if c.mode.is_negative}
        return not (negative == {ParameterLocation.QUERY} and _query_valid_as_sent(case, response))
    if failure.code != "ST202" or response.status_code != 422:
        return True
    if _operation_id(case) not in CREATE_OPERATIONS:
        return True
    try:
        body = json.loads(response.content)
    except ValueError:
        return True
    return bool(body != ID_TAKEN)
