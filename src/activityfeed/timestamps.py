"""Timestamps as the contract reads and writes them.

Inside the service every timestamp is an integer count of microseconds since
the Unix epoch, UTC. Out, it is always ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; in, it
is any ISO 8601 / RFC 3339 form the contract lists (section 1).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000

_PATTERN = re.compile(
    r"""
    (?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})
    (?:
        [Tt\ ]
        (?P<hour>\d{2}):(?P<minute>\d{2})
        (?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{0,9}))?)?
        (?P<offset>[Zz]|(?P<sign>[+\-\ ])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?
    )?
    """,
    # ASCII only: without it \d also matches other scripts' digits, which int() accepts.
    re.VERBOSE | re.ASCII,
)
# The instants a timestamp can name and render back: years 0001 to 9999, UTC.
MIN_US = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
MAX_US = (datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC) - _EPOCH) // timedelta(
    microseconds=1
)


class TimestampError(ValueError):
    """The text is not a timestamp the contract accepts."""


def parse_timestamp(text: str) -> int:
    """Parse a timestamp into microseconds since the epoch, UTC.

    Accepts ``Z``, ``+hh:mm``, ``-hh:mm``, ``+hhmm``, ``+hh``, 0 to 9
    fractional digits (digits past the sixth are truncated), a date alone
    (midnight UTC) and no offset (UTC). A space where the ``+`` of an offset
    should be is read as ``+``: it is what an unencoded ``+`` in a query
    string turns into.
    """
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise TimestampError("is not a valid ISO 8601 timestamp")
    g = match.group
    try:
        fraction = (g("fraction") or "")[:6].ljust(6, "0")
        moment = datetime(
            int(g("year")),
            int(g("month")),
            int(g("day")),
            int(g("hour") or 0),
            int(g("minute") or 0),
            int(g("second") or 0),
            int(fraction),
            tzinfo=UTC,
        )
    except ValueError:
        raise TimestampError("is not a valid ISO 8601 timestamp") from None
    offset_us = 0
    if g("sign") is not None:
        hours, minutes = int(g("oh")), int(g("om") or 0)
        if hours > 23 or minutes > 59:
            raise TimestampError("has an invalid UTC offset")
        offset_us = (hours * 3600 + minutes * 60) * _US
        if g("sign") == "-":
            offset_us = -offset_us
    delta = moment - _EPOCH
    us = (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds - offset_us
    if not MIN_US <= us <= MAX_US:
        # An offset can push a valid local time past year 9999 (or before year 1),
        # where it could be neither rendered nor echoed.
        raise TimestampError("is out of range: UTC years 0001 to 9999")
    return us


def format_timestamp(us: int) -> str:
    """Render microseconds since the epoch as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    # Every stored activity renders its timestamps once when written, so this
    # is on the bulk path: the date and the time to the second come from
    # caches, the rest is integer arithmetic.
    day, rest = divmod(us, _DAY_US)
    date_part = _DATE_PARTS.get(day)
    if date_part is None:
        date_part = _date_part(day)
    seconds, micro = divmod(rest, _US)
    time_part = _TIME_PARTS.get(seconds)
    if time_part is None:
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        # At most 86,400 of them: bounded by itself.
        time_part = _TIME_PARTS[seconds] = f"{hour:02d}:{minute:02d}:{second:02d}."
    return f"{date_part}{time_part}{micro:06d}Z"


_DAY_US = 86_400 * _US
_DATE_PARTS: dict[int, str] = {}
_TIME_PARTS: dict[int, str] = {}  # second of the day -> "HH:MM:SS."


def _date_part(day: int) -> str:
    """``YYYY-MM-DDT`` of a day since the epoch; OverflowError past year 9999."""
    moment = _EPOCH + timedelta(days=day)
    text = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
    if len(_DATE_PARTS) >= 100_000:  # about 270 years of days: bounded memory
        _DATE_PARTS.clear()
    _DATE_PARTS[day] = text
    return text


def to_datetime(us: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=us)


def from_datetime(moment: datetime) -> int:
    """An aware (or naive, read as UTC) datetime as microseconds since the epoch."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def now_us() -> int:
    """The wall clock in microseconds since the epoch."""
    return time.time_ns() // 1000
