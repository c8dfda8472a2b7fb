"""The demo's activity stream: what happens in a team's world, day by day.

Activities are generated in ``occurred_at`` order over several years, with a
daily rhythm (business hours in the team's time zone), a weekly one (quiet
weekends), seasons (a slow August and holidays, pushes at the end of each
quarter) and growth (more people and more activity as time goes on). Types come
in believable proportions per resource type, each with the ``static_data``
references a real sales-engagement product would record.

References are dense per team and per resource name: the ``n``-th email that a
team's activities mention has ``email_id`` ``n``. :class:`References` records
how many of each were used, so that associated records can be made for exactly
those ids.

Making the activities is the generator's hot path (the demo loads a million
activities in seconds): tables are precomputed once per stream, and each
activity costs a few table lookups and one string format.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from activityfeed.demo.world import World
from activityfeed.model import ActivityInput

DEMO_START = date(2022, 1, 3)
DEMO_END = date(2026, 11, 1)  # exclusive
_DAY_US = 86_400_000_000
_HOUR_US = 3_600_000_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

# How static_data refers to associated records.
NONE, NEW, CADENCE, STEP, NEW_MAYBE_STEP, OPPORTUNITY = range(6)
# Names of associated resources with dense ids 1..n per team.
RESOURCES: tuple[str, ...] = (
    "email",
    "call",
    "task",
    "note",
    "meeting",
    "site_visit",
    "live_chat",
    "conversation",
    "success",
    "review",
)
_RESOURCE_INDEX = {name: i for i, name in enumerate(RESOURCES)}

# (type, resource_type, weight per 1000, reference kind, resource, pin rate, has a user)
MIX: tuple[tuple[str, str, float, int, str, float, bool], ...] = (
    ("sent_email", "person", 250, NEW_MAYBE_STEP, "email", 0.001, True),
    ("received_email", "person", 55, NEW, "email", 0.001, True),
    ("email_reply", "person", 45, NEW, "email", 0.004, True),
    ("requested_email", "person", 12, NEW, "email", 0.0, True),
    ("call", "person", 105, NEW_MAYBE_STEP, "call", 0.004, True),
    ("voicemail", "person", 28, NEW, "call", 0.0, True),
    ("completed_action", "person", 70, STEP, "", 0.0, True),
    ("added_to_cadence", "person", 36, CADENCE, "", 0.0, True),
    ("task", "person", 45, NEW, "task", 0.002, True),
    ("note", "person", 28, NEW, "note", 0.08, True),
    ("share_internal_note", "person", 7, NEW, "note", 0.05, True),
    ("meeting", "person", 18, NEW, "meeting", 0.04, True),
    ("meeting_held", "person", 13, NEW, "meeting", 0.02, True),
    ("external_meeting", "person", 9, NEW, "meeting", 0.01, True),
    ("site_visit", "person", 34, NEW, "site_visit", 0.0, False),
    ("live_chat", "person", 9, NEW, "live_chat", 0.0, True),
    ("message_conversation", "person", 13, NEW, "conversation", 0.0, True),
    ("success", "person", 8, NEW, "success", 0.1, True),
    ("review", "person", 4, NEW, "review", 0.0, True),
    ("residency_change", "person", 3.5, NONE, "", 0.0, False),
    ("dnc_event", "person", 2.5, NONE, "", 0.0, False),
    ("account_added_to_cadence", "account", 24, CADENCE, "", 0.0, True),
    ("note", "account", 20, NEW, "note", 0.08, True),
    ("share_internal_note", "account", 6, NEW, "note", 0.05, True),
    ("meeting", "account", 8, NEW, "meeting", 0.04, True),
    ("task", "account", 9, NEW, "task", 0.002, True),
    ("site_visit", "account", 8, NEW, "site_visit", 0.0, False),
    ("success", "account", 4, NEW, "success", 0.1, True),
    ("opportunity_stage_change", "crm_opportunity", 28, OPPORTUNITY, "", 0.01, True),
    ("opportunity_amount_change", "crm_opportunity", 18, OPPORTUNITY, "", 0.0, True),
    ("opportunity_close_date_change", "crm_opportunity", 14, OPPORTUNITY, "", 0.0, True),
    ("note", "crm_opportunity", 5, NEW, "note", 0.08, True),
    ("meeting", "crm_opportunity", 3, NEW, "meeting", 0.04, True),
    ("task", "crm_opportunity", 2, NEW, "task", 0.002, True),
)
_MIX_BITS = 14
TAGS: tuple[str, ...] = (
    "inbound",
    "outbound",
    "follow-up",
    "hot-lead",
    "enterprise",
    "smb",
    "renewal",
    "webinar",
    "q-end-push",
    "champion",
    "at-risk",
    "expansion",
)
# Local hour of the day -> relative weight: business hours, a lunch dip.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 6, 25, 80, 135, 150, 130, 80, 105, 140, 135, 110, 70)
HOUR_WEIGHTS_EVENING = (35, 20, 14, 9, 5, 2)
WEEKDAY_WEIGHTS = (1.0, 1.08, 1.06, 1.0, 0.82, 0.1, 0.06)
# Share of activities for resources that appeared lately, and how late
# (a fraction of all of them: about two months' worth of newcomers).
RECENT_SHARE = 0.75
RECENT_WINDOW = 0.04


@dataclass
class References:
    """The associated records that one team's activities refer to.

    Ids of every name in :data:`RESOURCES` are dense: ``counts["email"] == n``
    means ``email_id`` 1..n. Cadences and steps come from the world
    (``World.cadences``), opportunities too (``World.opportunities``, the
    values of ``opportunity_id``).
    """

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESOURCES, 0))

    def ids(self, resource: str) -> range:
        """The ids of ``resource`` that some activity refers to."""
        return range(1, self.counts[resource] + 1)


def day_weights(days: int) -> list[float]:
    """Relative activity of each day since :data:`DEMO_START`: rhythm, seasons, growth."""
    weights = []
    start = DEMO_START.toordinal()
    for offset in range(days):
        day = date.fromordinal(start + offset)
        weight = WEEKDAY_WEIGHTS[day.weekday()] * (0.3 + 1.7 * offset / days)
        if (day.month == 12 and day.day >= 20) or (day.month == 1 and day.day <= 2):
            weight *= 0.35
        elif day.month == 8:
            weight *= 0.8
        elif day.month in (3, 6, 9, 12) and day.day >= 22:
            weight *= 1.2
        weights.append(weight)
    return weights


def daily_counts(total: int, days: int) -> list[int]:
    """``total`` spread over ``days`` by :func:`day_weights`, summing exactly to it."""
    weights = day_weights(days)
    whole = sum(weights)
    counts = []
    running = 0.0
    given = 0
    for weight in weights:
        running += weight
        upto = round(total * running / whole)
        counts.append(upto - given)
        given = upto
    return counts


def _hour_slots(utc_offset_hours: int) -> list[int]:
    """1024 start-of-hour offsets (microseconds from local midnight, as UTC)."""
    weights = HOUR_WEIGHTS + HOUR_WEIGHTS_EVENING
    scale = 1024 / sum(weights)
    slots: list[int] = []
    for hour, weight in enumerate(weights):
        slots.extend([(hour - utc_offset_hours) * _HOUR_US] * round(weight * scale))
    return (slots + slots[-1:] * 1024)[:1024]


def _mix_table() -> list[int]:
    size = 1 << _MIX_BITS
    scale = size / sum(entry[2] for entry in MIX)
    table: list[int] = []
    carry = 0.0
    for index, entry in enumerate(MIX):
        carry += entry[2] * scale
        copies = int(carry)
        carry -= copies
        table.extend([index] * copies)
    return (table + table[-1:] * size)[:size]


# Per resource type: its pick table, ids, owners and recent window.
_Picker = tuple[tuple[int, ...], tuple[str, ...], tuple[int, ...], float]


@dataclass(frozen=True, slots=True)
class _Tables:
    """What each activity of one team's stream looks up, made once per stream.

    Lists indexed by *kind* have one entry per entry of :data:`MIX`.
    """

    slots: list[int]
    mix: list[int]
    id_prefixes: list[str]
    resource_of: list[int]
    static_head: list[str]
    tag_sets: list[tuple[str, ...]]
    users: tuple[str, ...]
    cadences: list[tuple[int, int, int]]
    pickers: dict[str, _Picker]


def _tables(world: World) -> _Tables:
    """The lookup tables of ``world``'s stream."""
    pickers = {
        resource_type: (pick, ids, owners, max(1.0, len(pick) * RECENT_WINDOW))
        for resource_type, pick, ids, owners in (
            ("person", world.person_pick, world.people, world.person_owner),
            ("account", world.account_pick, world.accounts, world.account_owner),
            (
                "crm_opportunity",
                world.opportunity_pick,
                world.opportunities,
                world.opportunity_owner,
            ),
        )
    }
    return _Tables(
        slots=_hour_slots(world.utc_offset_hours),
        mix=_mix_table(),
        id_prefixes=[entry[0] + "-" for entry in MIX],
        resource_of=[_RESOURCE_INDEX.get(entry[4], 0) for entry in MIX],
        static_head=[f'{{"{entry[4]}_id":' for entry in MIX],
        tag_sets=[(tag,) for tag in TAGS]
        + [(TAGS[i], TAGS[j]) for i in range(len(TAGS)) for j in range(i + 1, len(TAGS), 3)],
        users=world.users,
        cadences=[(c.id, c.first_step, c.steps) for c in world.cadences],
        pickers=pickers,
    )


def activity_stream(
    world: World, seed: int, refs: References, batch_size: int = 10_000
) -> Iterator[list[ActivityInput]]:
    """The team's activities in ``occurred_at`` order, in batches of ``batch_size``."""
    rng = random.Random(f"{seed}:stream:{world.index}")
    tables = _tables(world)
    days = DEMO_END.toordinal() - DEMO_START.toordinal()
    first_day_us = (DEMO_START.toordinal() - _EPOCH_ORDINAL) * _DAY_US
    # Ids of one type are numbered per team with a fixed width, as Salesloft's are.
    next_number = dict.fromkeys((entry[0] for entry in MIX), 100_000_001 + world.index * 50_000_000)
    counts = [0] * len(RESOURCES)
    batch: list[ActivityInput] = []
    for day, count in enumerate(daily_counts(world.activities, days)):
        if not count:
            continue
        moments = _moments(rng, tables.slots, first_day_us + day * _DAY_US, count)
        # Resources appear over time: the pick tables are ordered by first appearance.
        reach = 0.15 + 0.85 * (day + 1) / days
        for activity in _day_activities(rng, tables, moments, reach, next_number, counts):
            batch.append(activity)
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch
    refs.counts.update(zip(RESOURCES, counts, strict=True))


def _moments(rng: random.Random, slots: list[int], day_us: int, count: int) -> list[int]:
    """``count`` instants of the day starting at ``day_us``, in order, by the hour weights."""
    rand, bits = rng.random, rng.getrandbits
    return sorted(day_us + slots[bits(10)] + int(rand() * _HOUR_US) for _ in range(count))


def _day_activities(
    rng: random.Random,
    tables: _Tables,
    moments: list[int],
    reach: float,
    next_number: dict[str, int],
    counts: list[int],
) -> list[ActivityInput]:
    """One day's activities, one at each of ``moments``, among the first ``reach`` of resources.

    ``next_number`` (the next id number per type) and ``counts`` (the
    references made per resource of :data:`RESOURCES`) go on from day to day.
    """
    rand, bits = rng.random, rng.getrandbits
    mix, pickers, users, tag_sets = tables.mix, tables.pickers, tables.users, tables.tag_sets
    id_prefixes = tables.id_prefixes
    made: list[ActivityInput] = []
    for occurred in moments:
        kind = mix[bits(_MIX_BITS)]
        activity_type, resource_type, _, ref, _, pin_rate, has_user = MIX[kind]
        picker = pickers[resource_type]
        which, user = _subject(rand, picker, reach, users if has_user else ())
        resource_id = picker[1][which]
        static = _static_data(rand, tables, kind, ref, resource_id, counts)
        number = next_number[activity_type]
        next_number[activity_type] = number + 1
        tags = tag_sets[int(rand() * len(tag_sets))] if rand() < 0.18 else ()
        pinned = occurred + int(rand() * _DAY_US) if pin_rate and rand() < pin_rate else None
        made.append(
            ActivityInput(
                activity_type,
                resource_type,
                resource_id,
                id_prefixes[kind] + str(number),
                occurred,
                user,
                tags,
                static,
                pinned,
            )
        )
    return made


def _subject(
    rand: Callable[[], float],
    picker: _Picker,
    reach: float,
    users: tuple[str, ...],
) -> tuple[int, str | None]:
    """Which resource an activity is for (its index), and which of ``users`` did it.

    ``users`` is empty for a type that no user does: then the user is ``None``.
    """
    pick, _, owners, window = picker
    # Most work goes to resources in play lately (a prospect is worked
    # for weeks, then goes quiet); the rest to any seen so far.
    top = reach * len(pick)
    if rand() < RECENT_SHARE:
        which = pick[max(0, int(top - rand() * window))]
    else:
        which = pick[int(rand() * top)]
    if not users:
        return which, None
    if rand() < 0.85:
        return which, users[owners[which]]
    return which, users[int(rand() * len(users))]


def _static_data(
    rand: Callable[[], float],
    tables: _Tables,
    kind: int,
    ref: int,
    resource_id: str,
    counts: list[int],
) -> bytes:
    """The ``static_data`` JSON of an activity of ``kind``: the references its ``ref`` makes.

    A new associated record takes the next id of its resource (``counts``).
    """
    if ref == NONE:
        return b"{}"
    if ref == OPPORTUNITY:
        return f'{{"opportunity_id":"{resource_id}"}}'.encode()
    cadences = tables.cadences
    if ref in (NEW, NEW_MAYBE_STEP):
        slot = tables.resource_of[kind]
        counts[slot] += 1
        if ref == NEW_MAYBE_STEP and rand() < 0.6:
            cadence, first, steps = cadences[int(rand() * len(cadences))]
            step = first + int(rand() * steps)
            return (
                f'{tables.static_head[kind]}{counts[slot]},"cadence_id":{cadence},'
                f'"step_id":{step}}}'
            ).encode()
        return f"{tables.static_head[kind]}{counts[slot]}}}".encode()
    cadence, first, steps = cadences[int(rand() * len(cadences))]
    if ref == CADENCE:
        return f'{{"cadence_id":{cadence}}}'.encode()
    step = first + int(rand() * steps)
    return f'{{"cadence_id":{cadence},"step_id":{step}}}'.encode()
