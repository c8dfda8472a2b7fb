"""Integers beyond 64 bits: refused with a 422 naming the field, never turned into floats.

JSON has no size limit on integers; the service keeps exactly what 64 bits
hold, signed or not (-2**63 to 2**64 - 1), and refuses anything beyond
instead of rounding it. Every JSON body decoder and every place that keeps a
JSON object (``static_data``, record attributes) applies the rule.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from activityfeed.bodies import parse_one
from activityfeed.decoding import BigInteger, decode_json, decode_ndjson
from activityfeed.errors import Invalid
from activityfeed.settings import Limits

LIST = "/v2/activity_histories"
RECORDS = "/v2/associated_records"
BIG = "123456789012345678901234567890"
REFUSED = f"integer {BIG} is beyond 64 bits; send it as a string"
NDJSON = {"Content-Type": "application/x-ndjson"}


def _note(n: int, static_data: str = '{"n": 1}') -> str:
    return (
        f'{{"id": "note-{n}", "type": "note", "resource_type": "person", '
        f'"resource_id": {n}, "static_data": {static_data}}}'
    )


def _post(client: TestClient, path: str, raw: str, headers: dict[str, str]) -> Any:
    return client.post(path, content=raw, headers={"Content-Type": "application/json", **headers})


def _stored(client: TestClient, auth: dict[str, str]) -> list[Any]:
    return list(client.get(LIST, headers=auth).json()["data"])


def test_create_refuses_a_big_integer_in_static_data(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = _post(client, LIST, _note(1, f'{{"a": [{{"b": {BIG}}}]}}'), auth)
    assert response.status_code == 422
    assert response.json() == {"errors": {"static_data": [REFUSED]}}
    negative = _post(client, LIST, _note(1, f'{{"n": -{BIG}}}'), auth)
    assert negative.json() == {"errors": {"static_data": [REFUSED.replace(BIG, "-" + BIG)]}}
    assert _stored(client, auth) == []


def test_bulk_refuses_a_big_integer_naming_the_item(
    client: TestClient, auth: dict[str, str]
) -> None:
    raw = "[" + _note(1) + "," + _note(2, f'{{"n": {BIG}}}') + "]"
    response = _post(client, f"{LIST}/bulk", raw, auth)
    assert response.status_code == 422
    assert response.json() == {"errors": {"[1].static_data": [REFUSED]}}
    assert _stored(client, auth) == []


def test_ndjson_bulk_refuses_a_big_integer_naming_the_item(
    client: TestClient, auth: dict[str, str]
) -> None:
    raw = "\n".join([_note(1), "", _note(2), _note(3, f'{{"n": {BIG}}}')]) + "\n"
    response = client.post(f"{LIST}/bulk", content=raw, headers={**auth, **NDJSON})
    assert response.status_code == 422
    assert response.json() == {"errors": {"[2].static_data": [REFUSED]}}
    assert _stored(client, auth) == []


def test_update_refuses_a_big_integer_and_changes_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    assert _post(client, LIST, _note(1), auth).status_code == 201
    raw = f'{{"static_data": {{"n": {BIG}}}, "tags": ["x"]}}'
    response = client.put(
        f"{LIST}/note-1", content=raw, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json() == {"errors": {"static_data": [REFUSED]}}
    stored = client.get(f"{LIST}/note-1", headers=auth).json()["data"]
    assert (stored["static_data"], stored["tags"]) == ({"n": 1}, [])


def test_records_refuse_a_big_integer_in_attributes(
    client: TestClient, auth: dict[str, str]
) -> None:
    json_headers = {**auth, "Content-Type": "application/json"}
    one = client.put(f"{RECORDS}/email/1", content=f'{{"views": {BIG}}}', headers=json_headers)
    assert one.status_code == 422
    assert one.json() == {"errors": {"body": [REFUSED]}}
    batch = f'[{{"id": 1, "attributes": {{}}}}, {{"id": 2, "attributes": {{"x": [{BIG}]}}}}]'
    many = client.put(f"{RECORDS}/email", content=batch, headers=json_headers)
    assert many.status_code == 422
    assert many.json() == {"errors": {"[1].attributes": [REFUSED]}}
    assert client.get(f"{RECORDS}/email/1", headers=auth).status_code == 404


def test_integers_that_64_bits_hold_are_kept_exactly(
    client: TestClient, auth: dict[str, str]
) -> None:
    static_data = {
        "unsigned_max": 2**64 - 1,
        "signed_min": -(2**63),
        "snowflake": 1234567890123456789,
        "as_text": BIG,
        "note": f"ticket {BIG} and -{BIG}",
        "fraction": 0.12345678901234567890123,
        "large_float": 1.5e300,
    }
    raw = _note(1, json.dumps(static_data))
    assert _post(client, LIST, raw, auth).status_code == 201
    got = client.get(f"{LIST}/note-1", headers=auth)
    # Python's json keeps integers exact, so this compares the digits themselves.
    assert json.loads(got.content)["data"]["static_data"] == json.loads(json.dumps(static_data))
    records = f'{{"max": {2**64 - 1}, "id_text": "{BIG}"}}'
    put = client.put(
        f"{RECORDS}/email/1", content=records, headers={**auth, "Content-Type": "application/json"}
    )
    assert put.status_code == 201
    assert json.loads(put.content)["data"]["attributes"] == {"max": 2**64 - 1, "id_text": BIG}


def test_a_big_integer_elsewhere_is_refused_by_that_field(
    client: TestClient, auth: dict[str, str]
) -> None:
    raw = f'{{"type": "note", "resource_type": "person", "resource_id": {BIG}}}'
    response = _post(client, LIST, raw, auth)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["resource_id"]
    assert _stored(client, auth) == []


def test_absurd_integers_and_deep_nesting_are_a_422_not_a_crash(
    client: TestClient, auth: dict[str, str]
) -> None:
    huge = "9" * 5000
    response = _post(client, LIST, _note(1, f'{{"n": {huge}}}'), auth)
    assert response.status_code == 422
    (message,) = response.json()["errors"]["static_data"]
    assert message.startswith("integer 999") and "beyond 64 bits" in message
    assert len(message) < 120
    deep = "[" * 1000 + BIG + "]" * 1000
    deeper = _post(client, LIST, _note(1, f'{{"n": {deep}}}'), auth)
    assert deeper.status_code == 422
    assert _stored(client, auth) == []


def test_a_number_too_large_for_a_double_is_named_not_called_invalid_json(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = _post(client, LIST, _note(1, '{"n": 1e400}'), auth)
    assert response.json() == {"errors": {"body": ["number 1e400 is too large for a double"]}}
    raw = _note(1) + "\n" + _note(2, '{"n": -2.5E+999}') + "\n"
    ndjson = client.post(f"{LIST}/bulk", content=raw, headers={**auth, **NDJSON})
    assert ndjson.json() == {"errors": {"line 2": ["number -2.5E+999 is too large for a double"]}}
    # What orjson refuses besides stays refused on the second reading.
    surrogate = '{"type": "note", "resource_type": "person", "resource_id": 1, '
    surrogate += '"static_data": {"n": ' + "9" * 400 + '}, "user_guid": "\\ud800"}'
    refused = _post(client, LIST, surrogate, auth)
    assert refused.json() == {"errors": {"body": ["is not valid JSON"]}}
    assert _stored(client, auth) == []


# The mechanism, without HTTP.


def test_decoding_marks_big_integers_instead_of_rounding_them() -> None:
    assert decode_json(f'{{"n": {BIG}, "m": 1.5}}'.encode()) == {"n": BigInteger(BIG), "m": 1.5}
    assert decode_ndjson(f'{{"n": 1}}\n\n{{"n": -{BIG}}}\n'.encode()) == [
        {"n": 1},
        {"n": BigInteger("-" + BIG)},
    ]
    with pytest.raises(orjson.JSONEncodeError):  # nothing can store one by mistake
        orjson.dumps(BigInteger(BIG))
    # Digits in a string, in a fraction or in 64-bit integers: orjson's answer as it is.
    assert decode_json(f'{{"s": "{BIG}", "f": 0.{BIG}}}'.encode()) == {
        "s": BIG,
        "f": float(f"0.{BIG}"),
    }


def test_a_big_python_integer_is_refused_like_a_decoded_one() -> None:
    # The import command reads files with Python's json, whose integers are exact.
    with pytest.raises(Invalid) as info:
        parse_one(
            {
                "type": "note",
                "resource_type": "person",
                "resource_id": 1,
                "static_data": {"n": int(BIG)},
            },
            Limits(),
        )
    assert info.value.errors == {"static_data": [REFUSED]}


def test_digits_that_are_no_big_integer_are_left_to_orjson() -> None:
    text = (
        b'{"fraction": 0.000123456789012345678901, "exponent": 1e-12345678901234567890,'
        b' "in_word": "x-12345678901234567890123", "zeros": "000000000000000000000001",'
        b' "snowflake": 1234567890123456789, "min": -9223372036854775808,'
        b' "max": [18446744073709551615]}'
    )
    assert decode_json(text) == orjson.loads(text)


def _expected(text: str) -> Any:
    def integer(digits: str) -> int | BigInteger:
        number = int(digits)
        return number if -(2**63) <= number <= 2**64 - 1 else BigInteger(digits)

    return json.loads(text, parse_int=integer)


_scalars = (
    st.integers()
    | st.integers(min_value=2**63 - 5, max_value=2**64 + 5)
    | st.integers(min_value=-(2**63) - 5, max_value=-(2**63) + 5)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from("0123456789-."))
    | st.booleans()
    | st.none()
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(_values, st.booleans())
def test_every_json_text_decodes_to_its_exact_value(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert decode_json(text.encode()) == _expected(text)
    lines = f"{text}\n\n{json.dumps([value])}\n"
    assert decode_ndjson(lines.encode()) == [_expected(text), [_expected(text)]]
