"""JSON bodies decoded exactly: integers beyond 64 bits are kept as :class:`BigInteger`.

orjson reads an integer outside -2**63..2**64-1 as a float, rounding it. The
decoders here find the texts where that could happen with a cheap scan of the
raw bytes (a run of 20 digits, or a minus and 19) and decode only those again
with Python's json, which is told what to do with each integer; every other
body costs one orjson call. What a field does with a :class:`BigInteger` is the
validation's business (:mod:`activityfeed.bodies` refuses it by name).
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left
from collections.abc import Mapping
from typing import Any

import orjson

from activityfeed.errors import ErrorCollector, Invalid


class BigInteger:
    """An integer of a body beyond 64 bits, as its digits.

    orjson reads such an integer as a float, rounding it
    (``123456789012345678901234567890`` would be ``1.2345678901234568e+29``);
    the decoders below put this in its place instead, so that no field takes
    it as a number and :func:`object_json` refuses it by name. Not a
    dataclass on purpose: orjson would encode one as an object.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BigInteger) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"BigInteger({self.text!r})"

    def __str__(self) -> str:
        return self.text


# What orjson reads as an exact int: every integer from -2**63 to 2**64 - 1.
INTEGER_MIN = -(2**63)
INTEGER_MAX = 2**64 - 1
# Beyond that range an integer has 20 digits or more, or a minus and 19 or
# more: the text with every digit as "0", "-" as it is and anything else as " "
# shows such runs at C speed (19-digit ids such as snowflakes never match).
_AS_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x2D if b == 0x2D else 0x20 for b in range(256))
_LONG_RUNS = (b"0" * 20, b"-" + b"0" * 19)
_RUN_END = re.compile(rb"[^0]")
# Around an integer literal: nothing of a word, a fraction or an exponent.
_NOT_BEFORE = frozenset(b"0123456789.eE+-_" + bytes(range(0x41, 0x5B)) + bytes(range(0x61, 0x7B)))
_NOT_AFTER = _NOT_BEFORE - frozenset(b"+-")


def loads_exact(text: bytes) -> Any:
    """The JSON value of ``text``, integers beyond 64 bits as :class:`BigInteger`.

    :class:`ValueError` when ``text`` is not JSON (for callers that are not
    answering a request, such as a remote record source's answer).
    """
    try:
        return _load(text, bool(_rounded_runs(text)))
    except _NotDecoded as exc:
        raise ValueError(str(exc)) from None


def decode_json(body: bytes) -> Any:
    """The JSON value of a body, or a 422 naming ``body``.

    Integers beyond 64 bits come out as :class:`BigInteger`, never as floats.
    """
    try:
        return _load(body, bool(_rounded_runs(body)))
    except _NotDecoded as exc:
        raise Invalid({"body": [str(exc)]}) from None


def decode_ndjson(body: bytes) -> list[Any]:
    """The items of an NDJSON body (blank lines skipped), or a 422 naming each bad line.

    Integers beyond 64 bits come out as :class:`BigInteger`, never as floats.
    """
    errors = ErrorCollector()
    items: list[Any] = []
    runs = _rounded_runs(body)
    start = 0
    for number, line in enumerate(body.split(b"\n"), start=1):
        end = start + len(line)
        suspect = bool(runs) and bisect_left(runs, end) > bisect_left(runs, start)
        start = end + 1
        if not line.strip():
            continue
        try:
            items.append(_load(line, suspect))
        except _NotDecoded as exc:
            errors.add(f"line {number}", str(exc))
    errors.raise_if_any()
    return items


class _NotDecoded(Exception):
    """Why a JSON text has no value for us; the message ends up in the 422."""


# orjson's words for a number that is valid JSON but too large for a double.
_INFINITE = "number is infinity"


def _load(text: bytes, suspect: bool) -> Any:
    """The value of one JSON text: orjson's, or Python json's when orjson would round.

    ``suspect``: :func:`_rounded_runs` found a run of digits in ``text`` that
    may be an integer beyond 64 bits (perhaps in a string). Then, or for a
    number too large for a double (which orjson refuses), the text is decoded
    again, slower but told what to do with each integer.
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if _INFINITE not in str(exc):
            raise _NotDecoded("is not valid JSON") from None
        return _load_exactly(text, recheck=True)
    return _load_exactly(text, recheck=False) if suspect else value


def _rounded_runs(text: bytes) -> list[int]:
    """Where ``text`` has a run of digits that orjson would read as a rounded float.

    Runs inside a word, a fraction or an exponent are not integers; a run in
    a string cannot be told from one here, and counts.
    """
    digits = text.translate(_AS_DIGITS)
    found: list[int] = []
    for pattern in _LONG_RUNS:
        start = digits.find(pattern)
        while start >= 0:
            first = start - 1 if start > 0 and text[start - 1] == 0x2D else start
            last = _RUN_END.search(digits, start + 1)
            end = len(text) if last is None else last.start()
            if (
                (first == 0 or text[first - 1] not in _NOT_BEFORE)
                and (end == len(text) or text[end] not in _NOT_AFTER)
                and not _fits(text[first:end])
            ):
                found.append(first)
            start = digits.find(pattern, end)
    return sorted(found)


def _load_exactly(text: bytes, recheck: bool) -> Any:
    """``text`` by Python's json: integers beyond 64 bits as :class:`BigInteger`.

    With ``recheck`` (orjson did not read the whole text), the value is
    encoded once to make sure it is JSON that orjson would take (no lone
    surrogates, which Python's json lets through).
    """
    try:
        value = json.loads(
            text.decode(),
            parse_int=_integer,
            parse_float=_finite,
            parse_constant=_no_constant,
        )
        if recheck:
            orjson.dumps(value, default=_placeholder)
    except _Infinite as exc:
        raise _NotDecoded(f"number {shown(str(exc))} is too large for a double") from None
    except RecursionError:
        raise _NotDecoded("is nested too deeply") from None
    except (ValueError, orjson.JSONEncodeError):
        raise _NotDecoded("is not valid JSON") from None
    return value


class _Infinite(Exception):
    pass


def _fits(digits: bytes | str) -> bool:
    """Whether an integer literal is one orjson reads exactly (JSON has no leading zeros)."""
    if len(digits) > 21:
        return False
    return INTEGER_MIN <= int(digits) <= INTEGER_MAX


def _integer(text: str) -> int | BigInteger:
    return int(text) if _fits(text) else BigInteger(text)


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise _Infinite(text)
    return number


def _no_constant(text: str) -> Any:
    raise ValueError(text)  # NaN and Infinity are not JSON


def _placeholder(value: Any) -> int:
    if isinstance(value, BigInteger):
        return 0
    raise TypeError


def shown(digits: str) -> str:
    """A number as a message shows it: at most 40 characters of it."""
    return digits if len(digits) <= 42 else digits[:40] + "..."


def big_integer_in(value: Any) -> str | None:
    """The digits of the first integer beyond 64 bits in a decoded value, if any.

    A :class:`BigInteger` from the decoders, or a Python int from a caller that
    decoded with Python's json (the import command).
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, BigInteger):
            return item.text
        if isinstance(item, int) and not isinstance(item, bool):
            if not INTEGER_MIN <= item <= INTEGER_MAX:
                return str(item)
        elif isinstance(item, Mapping):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
    return None
