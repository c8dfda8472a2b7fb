"""Hypothesis strategies for list queries and for every way of encoding them.

:func:`queries` draws a :class:`reference.Query` from pools of values that a
dataset makes interesting; :func:`encodings` writes one query as a raw query
string in a random mix of the contract's forms (bracket arrays, repeated keys,
comma lists, indexed brackets, the object form of ``type``, the ``id`` alias,
every timestamp form of section 1, booleans in any case), interleaving the
parameters and adding the noise the parser must ignore (blank values, blank
comma items, unknown parameters, an overridden earlier scalar).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from hypothesis import strategies as st

from support.reference import _EPOCH, OPERATORS, Query

RESOURCE_TYPES = ("person", "account", "crm_opportunity")
SORT_KEYS = ("occurred_at", "updated_at")
# Offsets in minutes east of UTC, the extremes included.
OFFSETS = (0, 60, 330, -480, -45, 14 * 60, -(12 * 60))


@dataclass(frozen=True)
class Pools:
    """Values a dataset makes worth filtering on."""

    types: tuple[str, ...]
    ids: tuple[str, ...]
    resource_ids: tuple[str, ...]
    user_guids: tuple[str, ...]
    instants: dict[str, tuple[int, ...]]  # per timestamp column


def _cased(text: str) -> st.SearchStrategy[str]:
    """``text`` with each letter in a random case."""
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda upper: "".join(
            c.upper() if u else c.lower() for c, u in zip(text, upper, strict=True)
        )
    )


@st.composite
def timestamp_text(draw: st.DrawFn, us: int, query: bool = True) -> str:
    """An encoded timestamp naming exactly ``us``, in a random contract form.

    With ``query``, the text is percent-encoded for a query string, and the
    ``+`` of an offset may be left raw (the server reads it as a space, which
    the contract reads back as ``+``).
    """
    # Every draw is made whatever ``us`` is: the values come from the server's
    # clock, and hypothesis needs the same draws when it replays an example.
    date_only, offset = draw(st.booleans()), draw(st.sampled_from(OFFSETS))
    digits, extra = draw(st.integers(0, 9)), draw(st.text("0123456789", min_size=3, max_size=3))
    form, raw_plus = draw(st.integers(0, 4)), draw(st.booleans())
    moment = _EPOCH + timedelta(microseconds=us)
    if date_only and moment.hour == moment.minute == moment.second == moment.microsecond == 0:
        return moment.strftime("%Y-%m-%d")
    try:
        local = moment + timedelta(minutes=offset)
    except OverflowError:  # the local time of an extreme instant is past year 9999
        offset, local = 0, moment
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    micro = f"{local.microsecond:06d}"
    # Fewer digits only where they are zeros; past the sixth, any digits (truncated).
    digits = max(digits, len(micro.rstrip("0")))
    if digits:
        text += "." + (micro + extra)[:digits]
    hours, minutes = divmod(abs(offset), 60)
    sign = "-" if offset < 0 else "+"
    forms = [f"{sign}{hours:02d}:{minutes:02d}", f"{sign}{hours:02d}{minutes:02d}"]
    if offset == 0:
        forms += ["Z", "", "-00:00"]
    suffix = forms[form % len(forms)]
    if not query:
        return text + suffix
    encoded = quote(text + suffix, safe="")
    if suffix.startswith("+") and raw_plus:
        encoded = encoded.replace("%2B", "+")  # an unencoded "+", read as a space
    return encoded


def _some(values: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=3)


FILTERS = ("type", "occurred_at", "updated_at", "pinned", "resource_type", "ids", "user_guid")


@st.composite
def queries(draw: st.DrawFn, pools: Pools) -> Query:
    """A random list request over values from ``pools``, every parameter optional.

    A few filters at a time: with all of them given at once, nearly every page
    would come back empty.
    """
    chosen = draw(st.lists(st.sampled_from(FILTERS), unique=True, max_size=3))
    bounds: dict[str, dict[str, int]] = {"occurred_at": {}, "updated_at": {}}
    for column in SORT_KEYS:
        if column in chosen:
            ops = draw(st.lists(st.sampled_from(OPERATORS), min_size=1, max_size=2, unique=True))
            bounds[column] = {op: draw(st.sampled_from(pools.instants[column])) for op in ops}
    type_filter: list[str] | dict[str, list[str]] | None = None
    if "type" in chosen and draw(st.booleans()):
        type_filter = draw(_some(pools.types))
    elif "type" in chosen:
        keys = draw(st.lists(st.sampled_from(RESOURCE_TYPES), min_size=1, max_size=3, unique=True))
        type_filter = {key: draw(_some(pools.types)) for key in keys}
    resource_type = draw(_some(RESOURCE_TYPES)) if "resource_type" in chosen else None
    resource_id = draw(st.none() | _some(pools.resource_ids)) if resource_type else None
    return Query(
        per_page=draw(st.none() | st.integers(1, 6) | st.sampled_from([25, 100])),
        page=draw(st.sampled_from([None, None, None, 1, 2, 3, 4, 10**17])),
        include_paging_counts=draw(st.none() | st.booleans()),
        limit_paging_counts=draw(st.none() | st.booleans()),
        sort_by=draw(st.none() | st.sampled_from(SORT_KEYS)),
        sort_direction=draw(st.none() | st.sampled_from(["ASC", "DESC"]).flatmap(_cased)),
        type=type_filter,
        occurred_at=bounds["occurred_at"],
        updated_at=bounds["updated_at"],
        pinned=draw(st.booleans()) if "pinned" in chosen else None,
        resource_type=resource_type,
        resource_id=resource_id,
        ids=draw(_some(pools.ids)) if "ids" in chosen else None,
        user_guid=draw(_some(pools.user_guids)) if "user_guid" in chosen else None,
    )


def _key(name: str, *segments: str, escape: bool = False) -> str:
    brackets = "".join(f"[{s}]" for s in segments)
    return name + (quote(brackets, safe="") if escape else brackets)


@st.composite
def _array_parts(draw: st.DrawFn, names: tuple[str, ...], values: list[str]) -> list[str]:
    """``values`` in order, in chunks of random forms, under one of ``names`` each."""
    parts: list[str] = []
    index = 0
    rest = list(values)
    while rest:
        size = draw(st.integers(1, len(rest)))
        chunk, rest = rest[:size], rest[size:]
        name = draw(st.sampled_from(names))
        escape = draw(st.booleans())
        form = draw(st.sampled_from(["comma", "brackets", "plain", "indexed"]))
        if form == "comma":
            items = [quote(v, safe="") for v in chunk]
            if draw(st.booleans()):  # blank items of a comma list are skipped
                items.insert(draw(st.integers(0, len(items))), "")
            parts.append(f"{_key(name, escape=escape)}={','.join(items)}")
            continue
        for value in chunk:
            if form == "brackets":
                key = _key(name, "", escape=escape)
            elif form == "indexed":
                key = _key(name, str(index), escape=escape)
            else:
                key = name
            index += 1
            parts.append(f"{key}={quote(value, safe='')}")
    if draw(st.booleans()):  # a blank value counts as not given
        parts.insert(draw(st.integers(0, len(parts))), f"{_key(names[0], '')}=")
    return parts


@st.composite
def _type_object_parts(draw: st.DrawFn, mapping: dict[str, list[str]]) -> list[list[str]]:
    """The object form: one sequence of parts per resource type, each in order."""
    sequences = []
    for resource_type, types in mapping.items():
        escape = draw(st.booleans())
        if draw(st.booleans()):
            sequences.append([f"{_key('type', resource_type, escape=escape)}={','.join(types)}"])
        else:
            indexed = draw(st.booleans())  # type[person][0]= rather than type[person][]=
            sequences.append(
                [
                    f"{_key('type', resource_type, str(i) if indexed else '', escape=escape)}={t}"
                    for i, t in enumerate(types)
                ]
            )
    return sequences


def _bool_text(value: bool) -> st.SearchStrategy[str]:
    return st.sampled_from(["true", "1"] if value else ["false", "0"]).flatmap(_cased)


@st.composite
def encodings(draw: st.DrawFn, query: Query) -> str:
    """``query`` as a raw query string, its parameters interleaved at random."""
    sequences: list[list[str]] = []
    scalars: list[tuple[str, str | None]] = [
        ("per_page", None if query.per_page is None else str(query.per_page)),
        ("page", None if query.page is None else str(query.page)),
        ("sort_by", query.sort_by),
        ("sort_direction", query.sort_direction),
    ]
    for name, flag in (
        ("include_paging_counts", query.include_paging_counts),
        ("limit_paging_counts", query.limit_paging_counts),
        ("pinned", query.pinned),
    ):
        scalars.append((name, None if flag is None else draw(_bool_text(flag))))
    for name, text in scalars:
        if text is None:
            continue
        if name in ("per_page", "page") and draw(st.booleans()):
            text = "00" + text  # leading zeros are harmless
        sequence = [f"{name}={text}"]
        if draw(st.integers(0, 4)) == 0:  # given twice, the last one wins
            earlier = {"per_page": "7", "page": "3", "sort_by": "updated_at"}.get(name, "")
            sequence.insert(0, f"{name}={earlier}")
        sequences.append(sequence)
    if isinstance(query.type, list):
        sequences.append(draw(_array_parts(("type",), query.type)))
    elif isinstance(query.type, dict):
        sequences.extend(draw(_type_object_parts(query.type)))
    for column in SORT_KEYS:
        bounds: dict[str, int] = getattr(query, column)
        for op, value in bounds.items():
            key = _key(column, op, escape=draw(st.booleans()))
            sequences.append([f"{key}={draw(timestamp_text(value))}"])
    for name, names in (
        ("resource_type", ("resource_type",)),
        ("resource_id", ("resource_id",)),
        ("ids", ("ids", "id")),
        ("user_guid", ("user_guid",)),
    ):
        values = getattr(query, name)
        if values is not None:
            sequences.append(draw(_array_parts(names, values)))
    noise = draw(
        st.lists(
            st.sampled_from(
                [
                    "sort=occurred_at",
                    "occurred_at_gte=yesterday",
                    "foo%5Bbar%5D=1",
                    "utf8=%E2%9C%93",
                    "per_page=",
                    "pinned=",
                    "updated_at%5Bgt%5D=",
                ]
            ),
            max_size=2,
        )
    )
    sequences.extend([item] for item in noise)
    return _interleave(draw, sequences)


def _interleave(draw: st.DrawFn, sequences: list[list[str]]) -> str:
    """Merge the sequences in a random order that keeps each one's own order."""
    slots = [i for i, sequence in enumerate(sequences) for _ in sequence]
    slots = draw(st.permutations(slots))
    cursors = [0] * len(sequences)
    parts = []
    for i in slots:
        parts.append(sequences[i][cursors[i]])
        cursors[i] += 1
    return "&".join(parts)
