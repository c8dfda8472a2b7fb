"""Timestamps in and out (contract, section 1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activityfeed.timestamps import (
    MAX_US,
    MIN_US,
    TimestampError,
    format_timestamp,
    from_datetime,
    parse_timestamp,
    to_datetime,
)

MIDNIGHT_2019 = 1_546_300_800_000_000  # 2019-01-01T00:00:00Z
SECOND = 1_000_000
HOUR = 3600 * SECOND


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-01-01T00:00:00Z", MIDNIGHT_2019),
        ("2019-01-01T00:00:00z", MIDNIGHT_2019),
        ("2019-01-01t00:00:00Z", MIDNIGHT_2019),
        ("2019-01-01T00:00:00.000000Z", MIDNIGHT_2019),
        ("2019-01-01", MIDNIGHT_2019),
        ("2019-01-01T00:00:00", MIDNIGHT_2019),
        ("2019-01-01T00:00", MIDNIGHT_2019),
        ("2019-01-01 00:00:00Z", MIDNIGHT_2019),
        ("2019-01-01T05:30:00+05:30", MIDNIGHT_2019),
        ("2019-01-01T05:30:00+0530", MIDNIGHT_2019),
        ("2019-01-01T05:00:00+05", MIDNIGHT_2019),
        ("2018-12-31T16:00:00-08:00", MIDNIGHT_2019),
        ("2018-12-31T16:00:00-0800", MIDNIGHT_2019),
        ("2019-01-01T00:00:00+00:00", MIDNIGHT_2019),
        ("2019-01-01T00:00:00-00:00", MIDNIGHT_2019),
        # An unencoded "+" in a query string arrives as a space.
        ("2019-01-01T05:30:00 05:30", MIDNIGHT_2019),
        ("2019-01-01T05:30:00 0530", MIDNIGHT_2019),
        ("2019-01-01T00:00:00.5Z", MIDNIGHT_2019 + 500_000),
        ("2019-01-01T00:00:00,5Z", MIDNIGHT_2019 + 500_000),
        ("2019-01-01T00:00:00.000001Z", MIDNIGHT_2019 + 1),
        ("2019-01-01T00:00:00.123456Z", MIDNIGHT_2019 + 123_456),
        # Digits past the sixth are truncated, never rounded.
        ("2019-01-01T00:00:00.1234567Z", MIDNIGHT_2019 + 123_456),
        ("2019-01-01T00:00:00.999999999Z", MIDNIGHT_2019 + 999_999),
        ("2019-01-01T00:00:00.Z", MIDNIGHT_2019),
        ("2019-01-01T00:00:00.5-01:00", MIDNIGHT_2019 + HOUR + 500_000),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.999999Z", -1),
        ("2020-02-29T12:00:00Z", 1_582_977_600_000_000),
        ("0001-01-01T00:00:00Z", MIN_US),
        ("9999-12-31T23:59:59.999999Z", MAX_US),
        ("0001-01-01T23:00:00+23:00", MIN_US),
        ("9999-12-31T00:59:59.999999-23:00", MAX_US),
    ],
)
def test_accepted_forms(text: str, expected: int) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "yesterday",
        "2019",
        "2019-01",
        "2019-1-1",
        "19-01-01",
        "2019/01/01",
        "2019-01-01T",
        "2019-01-01Z",
        "2019-01-01T00Z",
        "2019-01-01T0:00:00Z",
        "2019-01-01T00:00:00.1234567890Z",  # ten fractional digits
        "2019-13-01",
        "2019-02-29",
        "2019-01-32",
        "2019-01-01T24:00:00Z",
        "2019-01-01T23:60:00Z",
        "2019-01-01T23:59:60Z",  # no leap seconds
        "0000-01-01",
        "2019-01-01T00:00:00+24:00",
        "2019-01-01T00:00:00+05:60",
        "2019-01-01T00:00:00+5:30",
        "2019-01-01T00:00:00+05:",
        "2019-01-01T00:00:00+05:3",
        "2019-01-01T00:00:00ZZ",
        "2019-01-01T00:00:00 Z",
        " 2019-01-01",
        "2019-01-01 ",
        "2019-01-01T00:00:00Z\n",
        "\u0662\u0660\u0661\u0669-01-01",  # Arabic-Indic digits
        "\uff12\uff10\uff11\uff19-01-01",  # full-width digits
        "2019-01-01T00:00:00.\u0665Z",
        "1546300800",
    ],
)
def test_rejected_forms(text: str) -> None:
    with pytest.raises(TimestampError):
        parse_timestamp(text)


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+00:01",
        "0001-01-01T00:00:00.999999+01:00",
        "9999-12-31T23:59:59.999999-00:01",
        "9999-12-31T23:00:00-01:00",
    ],
)
def test_an_offset_past_the_representable_years_is_out_of_range(text: str) -> None:
    with pytest.raises(TimestampError, match="out of range"):
        parse_timestamp(text)


def test_errors_say_what_is_wrong_without_echoing_input() -> None:
    with pytest.raises(TimestampError) as info:
        parse_timestamp("<script>")
    assert str(info.value) == "is not a valid ISO 8601 timestamp"


@pytest.mark.parametrize(
    ("us", "text"),
    [
        (MIDNIGHT_2019, "2019-01-01T00:00:00.000000Z"),
        (MIDNIGHT_2019 + 1, "2019-01-01T00:00:00.000001Z"),
        (0, "1970-01-01T00:00:00.000000Z"),
        (-1, "1969-12-31T23:59:59.999999Z"),
        (MIN_US, "0001-01-01T00:00:00.000000Z"),
        (MAX_US, "9999-12-31T23:59:59.999999Z"),
    ],
)
def test_format_is_utc_with_six_digits_and_z(us: int, text: str) -> None:
    assert format_timestamp(us) == text


instants = st.integers(MIN_US, MAX_US)


@given(instants)
def test_format_then_parse_is_the_identity(us: int) -> None:
    assert parse_timestamp(format_timestamp(us)) == us


@given(instants)
def test_format_agrees_with_datetime(us: int) -> None:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    expected = f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S.%fZ")
    assert format_timestamp(us) == expected


@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.just(UTC),
    ),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_any_offset_names_the_same_instant(moment: datetime, offset_minutes: int) -> None:
    local = moment + timedelta(minutes=offset_minutes)
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = local.replace(tzinfo=None).isoformat(timespec="microseconds")
    for offset in (f"{sign}{hours:02d}:{minutes:02d}", f"{sign}{hours:02d}{minutes:02d}"):
        assert parse_timestamp(text + offset) == from_datetime(moment)
    if sign == "+":
        assert parse_timestamp(text + f" {hours:02d}:{minutes:02d}") == from_datetime(moment)


@given(instants)
def test_datetime_conversions_round_trip(us: int) -> None:
    assert from_datetime(to_datetime(us)) == us


def test_a_naive_datetime_is_utc() -> None:
    assert from_datetime(datetime(2019, 1, 1)) == MIDNIGHT_2019
