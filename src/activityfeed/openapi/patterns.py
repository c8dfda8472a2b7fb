"""Regular expressions for the document's string rules, built from the rules they mirror.

Each pattern is written for every regex dialect a JSON Schema tool may use
(ECMA 262, Python's ``re``, Rust's ``regex``): anchored, ASCII classes spelled
out (``[0-9]``, never ``\\d``, which is Unicode in Python), no lookaround, no
backreferences. ``tests/openapi/test_openapi.py`` checks each one against the function
that enforces the rule.
"""

from __future__ import annotations

from collections.abc import Iterable

from activityfeed.model import ACTIVITY_TYPES

# The part of an activity id after "{type}-" (bodies._ID_SUFFIX).
ID_SUFFIX = "[A-Za-z0-9._~-]{1,200}"
INT64_MAX = 2**63 - 1


def _any(alternatives: Iterable[str]) -> str:
    return "(?:" + "|".join(alternatives) + ")"


def activity_id(types: Iterable[str] = ACTIVITY_TYPES) -> str:
    """An activity id, ``{type}-{suffix}``, for one of ``types``."""
    return f"^{_any(types)}-{ID_SUFFIX}$"


def digits_at_most(bound: int, width: int) -> str:
    """Decimal digits (leading zeros allowed, 1 to ``width`` of them) of a value <= ``bound``.

    ``bound`` must have ``width`` digits: shorter strings are always below it,
    and a string of ``width`` digits is below it when it is lexically.
    """
    text = str(bound)
    assert len(text) == width
    shorter = f"[0-9]{{1,{width - 1}}}"
    same_length = [
        text[:i] + f"[0-{int(text[i]) - 1}]" + f"[0-9]{{{width - i - 1}}}"
        for i in range(width)
        if text[i] != "0"
    ]
    return f"^{_any([shorter, *same_length, text])}$"


def no_nul(min_length: int = 1, max_length: int = 255) -> str:
    """A string of ``min_length`` to ``max_length`` characters without NUL."""
    return f"^[^\\u0000]{{{min_length},{max_length}}}$"


# A record id given as a string: no '/', no control character (C0, DEL, C1).
RECORD_ID = "^[^/\\u0000-\\u001f\\u007f-\\u009f]{1,255}$"

# Booleans of the query string: true, false, 1 or 0, in any ASCII case.
QUERY_BOOLEAN = "^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$"
# sort_direction: ASC or DESC in any ASCII case.
SORT_DIRECTION = "^(?:[Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])$"
# A query integer: ASCII digits, leading zeros allowed.
QUERY_DIGITS = "^[0-9]+$"


# -- Timestamps in (timestamps.parse_timestamp) ------------------------------------------

_MONTH_DAYS = {
    "31": ("01", "03", "05", "07", "08", "10", "12"),
    "30": ("04", "06", "09", "11"),
}
_DAY_28 = "(?:0[1-9]|1[0-9]|2[0-8])"
_DAY_30 = "(?:0[1-9]|[12][0-9]|30)"
_DAY_31 = "(?:0[1-9]|[12][0-9]|3[01])"
# Month and day of any year but February 29th.
_MONTH_DAY = _any(
    [
        f"{_any(_MONTH_DAYS['31'])}-{_DAY_31}",
        f"{_any(_MONTH_DAYS['30'])}-{_DAY_30}",
        f"02-{_DAY_28}",
    ]
)
# Years 0002 to 9998: 0001 and 9999 have rules of their own (the range check below).
_YEAR_INNER = _any(
    [
        "000[2-9]",
        "00[1-9][0-9]",
        "0[1-9][0-9]{2}",
        "[1-8][0-9]{3}",
        "9[0-8][0-9]{2}",
        "99[0-8][0-9]",
        "999[0-8]",
    ]
)
# Leap years (all between 0002 and 9998): divisible by 4, centuries by 400.
_LEAP_YEAR = _any(
    [
        "[0-9]{2}(?:0[48]|[2468][048]|[13579][26])",
        "(?:0[48]|[2468][048]|[13579][26])00",
    ]
)
_TIME = "[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:[.,][0-9]{0,9})?)?"
_OFFSET_CLOCK = "(?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?"


def _offset(signs: str) -> str:
    """An optional offset: ``Z`` or one of ``signs`` (``+`` may arrive as a space)."""
    return f"(?:[Zz]|[{signs}]{_OFFSET_CLOCK})?"


def _moment(date: str, signs: str) -> str:
    return f"{date}(?:{_TIME}{_offset(signs)})?"


def timestamp_input() -> str:
    """Every timestamp ``parse_timestamp`` accepts, except a few it accepts at the edges.

    The parser refuses an instant outside the years 0001 to 9999 once its
    offset is applied. A pattern cannot subtract, so on the first day
    (0001-01-01) it admits only offsets that move the instant later (``-``),
    and on the last (9999-12-31) only those that move it earlier (``+``):
    ``0001-01-01T05:00:00+01:00`` is valid and the pattern refuses it; nothing
    the pattern admits is refused by the parser.
    """
    every = "+ \\-"
    first_day = "0001-01-01"
    last_day = "9999-12-31"
    edge_year_days = [  # the other days of 0001 and 9999 (neither is a leap year)
        f"01-{_any(['0[2-9]', '[12][0-9]', '3[01]'])}",
        f"{_any(['03', '05', '07', '08', '10'])}-{_DAY_31}",
        f"{_any(_MONTH_DAYS['30'])}-{_DAY_30}",
        f"02-{_DAY_28}",
    ]
    last_year_days = [
        *[d for d in edge_year_days if not d.startswith("01-")],
        f"01-{_DAY_31}",
        f"12-{_any(['0[1-9]', '[12][0-9]', '30'])}",
    ]
    first_year_days = [*edge_year_days, f"12-{_DAY_31}"]
    alternatives = [
        _moment(f"{_YEAR_INNER}-{_MONTH_DAY}", every),
        _moment(f"{_LEAP_YEAR}-02-29", every),
        _moment(f"0001-{_any(first_year_days)}", every),
        _moment(f"9999-{_any(last_year_days)}", every),
        _moment(first_day, "\\-"),
        _moment(last_day, "+ "),
    ]
    return f"^{_any(alternatives)}$"
