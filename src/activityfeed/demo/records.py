"""Associated records for the demo: what the demo activities' references point to.

For each team the demo generator reports how many ids of each resource name
its activities used (dense, ``1..n``), its cadences with their step ranges,
and its opportunity ids. This module makes one believable record for each:
emails with a subject, status and view/click/reply counts, calls with a
duration, disposition, sentiment and recording flag, meetings with a title,
start, end and status, and so on, so that the demo feed shows rich
``dynamic_data``.

Records are a pure, seeded function of ``(seed, team index, resource, id)``
order, so rerunning the demo stores the same bytes and changes nothing. Keys
are distinct across resource names that one activity references together
(``cadence_name``, ``step_name``), so the flat merge loses nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from activityfeed.storage.base import Storage
from activityfeed.timestamps import format_timestamp

BATCH = 10_000
_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US
DEFAULT_SPAN_US = (
    int(datetime(2022, 1, 3, tzinfo=UTC).timestamp()) * 1_000_000,
    int(datetime(2026, 11, 1, tzinfo=UTC).timestamp()) * 1_000_000,
)

_TOPICS = (
    "your Q3 pipeline",
    "the onboarding plan",
    "pricing for the Growth tier",
    "our call on Tuesday",
    "the security questionnaire",
    "next steps",
    "the renewal",
    "a quick question",
    "integrating with Salesforce",
    "the pilot results",
    "your team's outbound goals",
    "the proposal",
)
_EMAIL_FORMS = ("Re: {}", "Following up on {}", "Quick note about {}", "{}", "Fwd: {}")
_EMAIL_STATUS = (
    ("sent", 25),
    ("delivered", 30),
    ("opened", 28),
    ("clicked", 9),
    ("replied", 6),
    ("bounced", 2),
)
_DISPOSITIONS = (
    ("Connected", 34),
    ("Left Voicemail", 27),
    ("No Answer", 28),
    ("Busy", 6),
    ("Wrong Number", 3),
    ("Gatekeeper", 2),
)
_SENTIMENTS = ("Positive", "Neutral", "Neutral", "Negative", "Interested", "Not Interested")
_MEETING_KINDS = (
    "Discovery call",
    "Product demo",
    "Pricing review",
    "Kickoff",
    "QBR",
    "Technical deep dive",
    "Contract walkthrough",
)
_MEETING_STATUS = (
    ("completed", 62),
    ("booked", 18),
    ("no_show", 9),
    ("canceled", 8),
    ("rescheduled", 3),
)
_NOTES = (
    "Spoke with {who}: budget approved for next quarter, wants a proposal by Friday.",
    "{who} is evaluating two other vendors; main concern is onboarding time.",
    "Champion is {who}. Legal review expected to take two weeks.",
    "{who} asked for a case study in their industry; sent the fintech one.",
    "Follow up after their board meeting. {who} prefers email over calls.",
    "Pricing pushback from {who}; consider the annual discount.",
    "{who} loved the demo, looping in IT for the security review.",
)
_WHO = ("the VP of Sales", "the CFO", "our champion", "the ops lead", "procurement", "the CTO")
_TASKS = (
    "Call back",
    "Send proposal to",
    "Follow up with",
    "Prepare demo for",
    "Book a meeting with",
    "Share pricing with",
    "Check in with",
)
_TASK_TARGETS = ("the champion", "the buying committee", "procurement", "the new VP", "IT")
_TASK_TYPES = ("call", "email", "general", "linkedin")
_PAGES = (
    ("/pricing", "Pricing"),
    ("/product", "Product tour"),
    ("/customers", "Customer stories"),
    ("/blog/outbound-playbook", "The outbound playbook"),
    ("/integrations/salesforce", "Salesforce integration"),
    ("/security", "Security"),
    ("/demo", "Book a demo"),
)
_CHANNELS = ("sms", "linkedin", "whatsapp")
_SUCCESS = (
    "Meeting booked",
    "Replied positively",
    "Opportunity created",
    "Demo completed",
    "Deal won",
    "Referral received",
)
_REVIEW_SITES = ("G2", "Capterra", "TrustRadius", "Gartner Peer Insights")
_CADENCE_NAMES = (
    "Inbound follow-up",
    "Outbound enterprise",
    "Webinar attendees",
    "Renewal",
    "Closed-lost revival",
    "Trial nurture",
    "Event leads",
    "SMB outbound",
)
_STEP_TYPES = ("email", "phone", "linkedin", "other", "email", "phone")
_STEP_LABELS = {"email": "Email", "phone": "Call", "linkedin": "LinkedIn touch", "other": "Task"}
_STAGES = (
    ("Prospecting", 20),
    ("Qualification", 22),
    ("Needs Analysis", 15),
    ("Proposal", 14),
    ("Negotiation", 9),
    ("Closed Won", 10),
    ("Closed Lost", 10),
)


def _weighted(choices: Sequence[tuple[str, int]]) -> Callable[[random.Random], str]:
    table = [name for name, weight in choices for _ in range(weight)]
    return lambda rng: table[int(rng.random() * len(table))]


_email_status = _weighted(_EMAIL_STATUS)
_disposition = _weighted(_DISPOSITIONS)
_meeting_status = _weighted(_MEETING_STATUS)
_stage = _weighted(_STAGES)


def _email(rng: random.Random) -> dict[str, Any]:
    status = _email_status(rng)
    opened = status in ("opened", "clicked", "replied")
    views = rng.randint(1, 9) if opened else 0
    clicked = status == "clicked" or (status == "replied" and rng.random() < 0.5)
    clicks = rng.randint(1, 4) if clicked else 0
    subject = rng.choice(_EMAIL_FORMS).format(rng.choice(_TOPICS))
    return {
        "subject": subject[0].upper() + subject[1:],
        "status": status,
        "counts": {"views": views, "clicks": clicks, "replies": int(status == "replied")},
    }


def _call(rng: random.Random) -> dict[str, Any]:
    disposition = _disposition(rng)
    connected = disposition == "Connected"
    return {
        "duration": rng.randint(90, 1800) if connected else rng.randint(5, 45),
        "disposition": disposition,
        "sentiment": rng.choice(_SENTIMENTS) if connected else None,
        "recording": connected and rng.random() < 0.8,
    }


def _meeting(rng: random.Random) -> dict[str, Any]:
    return {
        "title": f"{rng.choice(_MEETING_KINDS)} with {rng.choice(_WHO)}",
        "status": _meeting_status(rng),
        "minutes": rng.choice((15, 30, 30, 45, 60)),
    }


def _note(rng: random.Random) -> dict[str, Any]:
    content = rng.choice(_NOTES).format(who=rng.choice(_WHO))
    return {"content": content[0].upper() + content[1:]}


def _task(rng: random.Random) -> dict[str, Any]:
    state = "completed" if rng.random() < 0.7 else rng.choice(("scheduled", "overdue"))
    return {
        "subject": f"{rng.choice(_TASKS)} {rng.choice(_TASK_TARGETS)}",
        "state": state,
        "task_type": rng.choice(_TASK_TYPES),
    }


def _site_visit(rng: random.Random) -> dict[str, Any]:
    path, title = rng.choice(_PAGES)
    return {
        "url": f"https://www.example.com{path}",
        "page_title": title,
        "pages_viewed": rng.randint(1, 12),
    }


def _live_chat(rng: random.Random) -> dict[str, Any]:
    return {"channel": "website", "messages": rng.randint(2, 40), "rating": rng.randint(3, 5)}


def _conversation(rng: random.Random) -> dict[str, Any]:
    return {
        "channel": rng.choice(_CHANNELS),
        "messages": rng.randint(1, 25),
        "unread": rng.random() < 0.1,
    }


def _success(rng: random.Random) -> dict[str, Any]:
    return {"title": rng.choice(_SUCCESS), "counted_in_reports": rng.random() < 0.9}


def _review(rng: random.Random) -> dict[str, Any]:
    return {"site": rng.choice(_REVIEW_SITES), "rating": rng.choice((3, 4, 4, 5, 5, 5))}


MAKERS: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "email": _email,
    "call": _call,
    "meeting": _meeting,
    "note": _note,
    "task": _task,
    "site_visit": _site_visit,
    "live_chat": _live_chat,
    "conversation": _conversation,
    "success": _success,
    "review": _review,
}
_POOL_BITS = 11  # 2,048 variants per resource name: plenty of variety, cheap to pick


def _pool(rng: random.Random, name: str) -> list[bytes]:
    """Serialised variants of a resource's attributes, open at the end when timed.

    Meetings and tasks get their time of day or due date appended per record
    (they follow the activity's time); the rest are whole JSON objects.
    """
    pool = []
    for _ in range(1 << _POOL_BITS):
        attributes = MAKERS[name](rng)
        if name == "meeting":
            minutes = attributes.pop("minutes")
            pool.append(orjson.dumps(attributes)[:-1] + b',"minutes":%d' % minutes)
        elif name == "task":
            pool.append(orjson.dumps(attributes)[:-1])
        else:
            pool.append(orjson.dumps(attributes))
    return pool


def _records(
    rng: random.Random, name: str, count: int, span_us: tuple[int, int]
) -> Iterator[tuple[str, bytes]]:
    """Records ``1..count`` of one name; ids grow with time across ``span_us``."""
    pool = _pool(rng, name)
    bits = rng.getrandbits
    start, end = span_us
    step = (end - start) / count
    days: dict[int, bytes] = {}
    for n in range(1, count + 1):
        variant = pool[bits(_POOL_BITS)]
        if name == "meeting":
            when = start + int((n - 1 + rng.random()) * step)
            when -= when % (_HOUR_US // 2)  # meetings start on the half hour
            stamp = format_timestamp(when).encode()
            yield str(n), b'%s,"start_time":"%s"}' % (variant, stamp)
        elif name == "task":
            day = (start + int((n - 1) * step)) // _DAY_US + bits(3)
            due = days.get(day)
            if due is None:
                due = days[day] = format_timestamp(day * _DAY_US)[:10].encode()
            yield str(n), b'%s,"due_date":"%s"}' % (variant, due)
        else:
            yield str(n), variant


class CadenceRange(Protocol):
    """A cadence and its contiguous step ids, as the demo world describes it."""

    @property
    def id(self) -> int: ...
    @property
    def first_step(self) -> int: ...
    @property
    def steps(self) -> int: ...


def team_records(
    seed: int,
    team_index: int,
    counts: Mapping[str, int],
    cadences: Sequence[CadenceRange],
    opportunities: Sequence[str],
    span_us: tuple[int, int] = DEFAULT_SPAN_US,
) -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """``(resource, [(id, attributes JSON), ...])`` batches of one team's records.

    Ids ``1..counts[name]`` of each name are assumed to grow with time, as the
    demo hands them out, so a meeting's start or a task's due date lands near
    the activity that mentions it.
    """
    start, end = span_us
    for name, count in counts.items():
        if name not in MAKERS or count <= 0:
            continue
        rng = random.Random(f"{seed}:records:{team_index}:{name}")
        items: list[tuple[str, bytes]] = []
        for item in _records(rng, name, count, span_us):
            items.append(item)
            if len(items) >= BATCH:
                yield name, items
                items = []
        if items:
            yield name, items
    rng = random.Random(f"{seed}:records:{team_index}:cadence")
    cadence_items: list[tuple[str, bytes]] = []
    step_items: list[tuple[str, bytes]] = []
    for cadence in cadences:
        name = f"{rng.choice(_CADENCE_NAMES)} #{cadence.id}"
        cadence_items.append(
            (str(cadence.id), orjson.dumps({"cadence_name": name, "cadence_steps": cadence.steps}))
        )
        day = 1
        for number in range(cadence.steps):
            kind = rng.choice(_STEP_TYPES)
            label = _STEP_LABELS[kind]
            attributes = {"step_name": f"Day {day}: {label}", "step_day": day, "step_type": kind}
            step_items.append((str(cadence.first_step + number), orjson.dumps(attributes)))
            day += rng.randint(1, 4)
    yield "cadence", cadence_items
    yield "step", step_items
    rng = random.Random(f"{seed}:records:{team_index}:opportunity")
    opportunity_items = []
    for opportunity in opportunities:
        close = start + int(rng.random() * (end - start))
        attributes = {
            "opportunity_name": f"{rng.choice(_CADENCE_NAMES).split()[0]} deal {opportunity[-5:]}",
            "stage": _stage(rng),
            "amount": rng.randrange(5_000, 250_000, 500),
            "close_date": format_timestamp(close)[:10],
        }
        opportunity_items.append((opportunity, orjson.dumps(attributes)))
    yield "opportunity", opportunity_items


async def load_team_records(
    store: Storage,
    team_id: int,
    batches: Iterator[tuple[str, list[tuple[str, bytes]]]],
) -> int:
    """Store a team's record batches; how many records were created or changed."""
    written = 0
    for resource, items in batches:
        if items:
            result = await store.put_records(team_id, resource, items)
            written += result.created + result.updated
    return written
