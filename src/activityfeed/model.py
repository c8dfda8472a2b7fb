"""Domain values: activity types, resources, stored activities and their JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from activityfeed.timestamps import format_timestamp

ACTIVITY_TYPES: tuple[str, ...] = (
    "added_to_cadence",
    "account_added_to_cadence",
    "call",
    "completed_action",
    "dnc_event",
    "email_reply",
    "external_meeting",
    "live_chat",
    "meeting",
    "meeting_held",
    "message_conversation",
    "note",
    "opportunity_amount_change",
    "opportunity_close_date_change",
    "opportunity_stage_change",
    "received_email",
    "requested_email",
    "residency_change",
    "sent_email",
    "site_visit",
    "share_internal_note",
    "success",
    "task",
    "voicemail",
    "review",
)
ACTIVITY_TYPE_SET = frozenset(ACTIVITY_TYPES)

RESOURCE_TYPES: tuple[str, ...] = ("person", "account", "crm_opportunity")
RESOURCE_TYPE_SET = frozenset(RESOURCE_TYPES)

SCOPE_READ = "activities:read"
SCOPE_WRITE = "activities:write"
SCOPES: tuple[str, ...] = (SCOPE_READ, SCOPE_WRITE)


@dataclass(frozen=True, slots=True)
class Team:
    """A tenant: every activity, record and key belongs to exactly one team."""

    id: int
    name: str
    rate_limit: int | None = None
    created_at: int = 0


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as stored: only its hash is kept, never the key itself."""

    id: int
    team_id: int
    team_name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: int
    revoked_at: int | None = None
    rate_limit: int | None = None


@dataclass(frozen=True, slots=True)
class ActivityInput:
    """A validated create (or bulk) body: what the client decides about an activity."""

    type: str
    resource_type: str
    resource_id: str
    id: str | None = None
    occurred_at: int | None = None
    user_guid: str | None = None
    tags: tuple[str, ...] = ()
    static_data_json: bytes = b"{}"
    pinned_at: int | None = None


@dataclass(frozen=True, slots=True)
class ActivityChanges:
    """A validated update body: only the fields present are changed."""

    occurred_at: int | None = None
    user_guid: str | None = None
    tags: tuple[str, ...] | None = None
    static_data_json: bytes | None = None
    pinned_at: int | None = None
    present: frozenset[str] = field(default_factory=frozenset)
    # Fields an update cannot change, as the client sent them back.
    fixed: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Activity:
    """A stored activity: every column of the read model."""

    id: str
    type: str
    resource_type: str
    resource_id: str
    user_guid: str | None
    occurred_at: int
    created_at: int
    updated_at: int
    pinned_at: int | None
    tags: tuple[str, ...]
    static_data_json: bytes


def resource_id_value(resource_type: str, resource_id: str) -> int | str:
    """The JSON value of a resource id: a string for opportunities, else an integer."""
    if resource_type == "crm_opportunity":
        return resource_id
    try:
        return int(resource_id)
    except ValueError:
        return resource_id


def storable(text: str) -> bool:
    """Whether every store can hold ``text``: PostgreSQL's ``text`` refuses NUL characters.

    The bodies refuse such strings, so that every store accepts the same
    bodies; a lookup of one finds nothing, without asking the store.
    """
    return "\x00" not in text


def render_doc(activity: Activity) -> bytes:
    """The stored JSON document of an activity, without its dynamic part.

    The list endpoint serves these bytes as they are, adding only
    ``dynamic_data`` and ``failed_dynamic_resources`` (see :mod:`render`).
    """
    return render_doc_parts(
        activity,
        format_timestamp(activity.occurred_at),
        format_timestamp(activity.created_at),
        format_timestamp(activity.updated_at),
    )


def render_doc_parts(
    fields: Activity | ActivityInput, occurred_at: str, created_at: str, updated_at: str
) -> bytes:
    """:func:`render_doc` from an activity's fields and its timestamps already rendered.

    ``fields`` gives everything but the timestamps (whose rendered forms are
    passed in), so the bulk path can render a new activity from its input
    without building an :class:`Activity` first; both give the same bytes.
    """
    pinned_at = fields.pinned_at
    head = orjson.dumps(
        {
            "id": fields.id,
            "type": fields.type,
            "user_guid": fields.user_guid,
            "resource_type": fields.resource_type,
            "resource_id": resource_id_value(fields.resource_type, fields.resource_id),
            "occurred_at": occurred_at,
            "created_at": created_at,
            "updated_at": updated_at,
            "pinned_at": None if pinned_at is None else format_timestamp(pinned_at),
            "tags": fields.tags,
        }
    )
    return head[:-1] + b',"static_data":' + fields.static_data_json + b"}"


def static_refs(static_data: dict[str, Any]) -> list[list[str]] | None:
    """The candidate references of ``static_data``: every ``<name>_id`` key, in order.

    Which names are real resources is decided at read time by the registry;
    storing every candidate keeps the stored form independent of it.
    """
    # On every new activity's write path: a plain loop, and exact type tests
    # (a bool is an int to isinstance, and JSON gives no subclasses).
    refs = []
    for key, value in static_data.items():
        if key[-3:] == "_id" and len(key) > 3:
            kind = type(value)
            if kind is int or kind is str:
                refs.append([key[:-3], str(value)])
    return refs or None
