"""Planning writes, shared by every store: ids, clocks and what an upsert changes.

The stores run these pure functions inside their write transaction, with the
team's clock locked, so that ``updated_at`` is unique within a team and grows in
commit order (contract, section 2, "Order").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from activityfeed.errors import ErrorCollector
from activityfeed.model import (
    Activity,
    ActivityChanges,
    ActivityInput,
    render_doc,
    render_doc_parts,
    resource_id_value,
    static_refs,
)
from activityfeed.timestamps import format_timestamp

# The columns a store reads to rebuild an Activity, in this order.
ACTIVITY_COLUMNS = (
    "seq, id, type, resource_type, resource_id, user_guid, "
    "occurred_at, created_at, updated_at, pinned_at, doc"
)


class Clock:
    """A team's ``updated_at`` clock: strictly increasing, close to the wall clock."""

    def __init__(self, last: int, now: int) -> None:
        self.value = last
        self.now = now

    def tick(self) -> int:
        """The next ``updated_at`` for this team."""
        self.value = max(self.now, self.value + 1)
        return self.value


def activity_from_row(row: Sequence[Any]) -> tuple[int, Activity]:
    """``(seq, Activity)`` from a row of :data:`ACTIVITY_COLUMNS`."""
    doc = orjson.loads(row[10])
    return row[0], Activity(
        id=row[1],
        type=row[2],
        resource_type=row[3],
        resource_id=row[4],
        user_guid=row[5],
        occurred_at=row[6],
        created_at=row[7],
        updated_at=row[8],
        pinned_at=row[9],
        tags=tuple(doc["tags"]),
        static_data_json=orjson.dumps(doc["static_data"]),
    )


def new_activity(item: ActivityInput, activity_id: str, stamp: int) -> Activity:
    """A new activity from a create body, first stored at ``stamp``."""
    return Activity(
        id=activity_id,
        type=item.type,
        resource_type=item.resource_type,
        resource_id=item.resource_id,
        user_guid=item.user_guid,
        occurred_at=stamp if item.occurred_at is None else item.occurred_at,
        created_at=stamp,
        updated_at=stamp,
        pinned_at=item.pinned_at,
        tags=item.tags,
        static_data_json=item.static_data_json,
    )


def replacement(stored: Activity, item: ActivityInput) -> Activity:
    """What a bulk item makes of a stored activity, ``updated_at`` not yet bumped.

    Omitted optional fields take their defaults, except ``occurred_at``: its
    default is "now", which would make a resent batch change every activity,
    so an omitted ``occurred_at`` keeps the stored one.
    """
    return dataclasses.replace(
        stored,
        resource_type=item.resource_type,
        resource_id=item.resource_id,
        user_guid=item.user_guid,
        occurred_at=stored.occurred_at if item.occurred_at is None else item.occurred_at,
        pinned_at=item.pinned_at,
        tags=item.tags,
        static_data_json=item.static_data_json,
    )


def changed(stored: Activity, changes: ActivityChanges, stamp: int) -> Activity:
    """A stored activity with an update body applied and ``updated_at`` bumped."""
    errors = ErrorCollector()
    for name, value in changes.fixed:
        current: Any = getattr(stored, name)
        if name == "resource_id":
            current = resource_id_value(stored.resource_type, stored.resource_id)
            value = str(value) if stored.resource_type == "crm_opportunity" else value
        if value != current:
            errors.add(name, "cannot be changed")
    errors.raise_if_any()
    values: dict[str, Any] = {"updated_at": stamp}
    for name in changes.present:
        # The body's static_data is kept as encoded JSON, under another name.
        attribute = "static_data_json" if name == "static_data" else name
        values[attribute] = getattr(changes, attribute)
    return dataclasses.replace(stored, **values)


def auto_id(activity_type: str, seq: int) -> str:
    """The id the service assigns when a create body has none."""
    return f"{activity_type}-{seq}"


def refs_of(activity: Activity) -> bytes | None:
    """The stored ``refs`` column of an activity."""
    return refs_column(activity.static_data_json)


def refs_column(static_data_json: bytes) -> bytes | None:
    """The stored ``refs`` column for a ``static_data`` document."""
    # Without `_id"` in the text no key can end in "_id" (unless escaped,
    # hence the backslash test): skip parsing, as for `{}`.
    if b'_id"' not in static_data_json and b"\\" not in static_data_json:
        return None
    refs = static_refs(orjson.loads(static_data_json))
    return None if refs is None else orjson.dumps(refs)


def new_row(team_id: int, seq: int, item: ActivityInput, stamp: int) -> tuple[Any, ...]:
    """``stored_columns(team_id, seq, new_activity(item, item.id, stamp))``, faster.

    The bulk path's hot loop: it renders the document straight from the input
    (the created and updated timestamps are one and the same) rather than
    building an :class:`Activity` first.
    """
    occurred_at = stamp if item.occurred_at is None else item.occurred_at
    stamp_text = format_timestamp(stamp)
    static_data_json = item.static_data_json
    return (
        team_id,
        seq,
        item.id,
        item.type,
        item.resource_type,
        item.resource_id,
        item.user_guid,
        occurred_at,
        stamp,
        stamp,
        item.pinned_at,
        refs_column(static_data_json),
        render_doc_parts(item, format_timestamp(occurred_at), stamp_text, stamp_text),
    )


def new_rows(
    team_id: int, seq: int, clock: Clock, items: Sequence[ActivityInput]
) -> tuple[list[tuple[Any, ...]], dict[tuple[str, str], int]]:
    """:func:`new_row` for each of ``items`` (all new), from ``seq`` on, stamped by ``clock``.

    Also returns how many of each ``(type, resource_type)`` they add, for the
    counts table: what the bulk upsert does for items whose ids are not stored.
    """
    rows = []
    deltas: dict[tuple[str, str], int] = {}
    tick = clock.tick
    for item in items:
        rows.append(new_row(team_id, seq, item, tick()))
        seq += 1
        key = (item.type, item.resource_type)
        deltas[key] = deltas.get(key, 0) + 1
    return rows, deltas


def stored_columns(team_id: int, seq: int, activity: Activity) -> tuple[Any, ...]:
    """Values for an INSERT of every column, in the order of :data:`INSERT_COLUMNS`."""
    return (
        team_id,
        seq,
        activity.id,
        activity.type,
        activity.resource_type,
        activity.resource_id,
        activity.user_guid,
        activity.occurred_at,
        activity.created_at,
        activity.updated_at,
        activity.pinned_at,
        refs_of(activity),
        render_doc(activity),
    )


INSERT_COLUMNS = (
    "team_id, seq, id, type, resource_type, resource_id, user_guid, "
    "occurred_at, created_at, updated_at, pinned_at, refs, doc"
)


@dataclass(slots=True)
class UpsertPlan:
    """What a bulk upsert does, decided in array order with the team's clock locked.

    ``inserts`` are new activities with their stamps (the store gives them
    their ``seq`` in this order); ``replaces`` stored activities that change,
    by ``seq``; ``deltas`` the changes of the per-(type, resource type) counters.
    """

    inserts: list[tuple[ActivityInput, int]] = field(default_factory=list)
    replaces: list[tuple[int, Activity]] = field(default_factory=list)
    deltas: dict[tuple[str, str], int] = field(default_factory=dict)
    unchanged: int = 0

    def count(self, key: tuple[str, str], n: int) -> None:
        """Move the counter of ``key`` by ``n``."""
        self.deltas[key] = self.deltas.get(key, 0) + n


def plan_upsert(
    items: Iterable[ActivityInput], existing: Mapping[str, tuple[int, Activity]], clock: Clock
) -> UpsertPlan:
    """Decide, item by item in array order, what a bulk upsert changes.

    An item equal to what is stored changes nothing, so a resent batch neither
    bumps ``updated_at`` nor duplicates anything.
    """
    plan = UpsertPlan()
    for item in items:
        assert item.id is not None
        found = existing.get(item.id)
        if found is None:
            plan.inserts.append((item, clock.tick()))
            plan.count((item.type, item.resource_type), 1)
            continue
        stored_seq, stored = found
        candidate = replacement(stored, item)
        if candidate == stored:
            plan.unchanged += 1
            continue
        plan.replaces.append((stored_seq, dataclasses.replace(candidate, updated_at=clock.tick())))
        if stored.resource_type != candidate.resource_type:
            plan.count((stored.type, stored.resource_type), -1)
            plan.count((candidate.type, candidate.resource_type), 1)
    return plan
