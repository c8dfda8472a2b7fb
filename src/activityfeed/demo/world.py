"""The demo's world: teams, their users, people, accounts, opportunities and cadences.

Everything here is a pure, seeded function of ``(seed, team index, activities)``:
the same arguments give the same world, so rerunning ``activityfeed demo``
upserts the same activities and changes nothing. The activity stream that
happens in this world is :mod:`activityfeed.demo.stream`.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from itertools import accumulate

# Team names, the first is the main team, which gets most of the activities.
TEAM_NAMES: tuple[str, ...] = (
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark",
    "wayne",
    "wonka",
    "tyrell",
    "soylent",
    "cyberdyne",
    "oscorp",
)
MAX_TEAMS = len(TEAM_NAMES)
MAIN_SHARE = 0.7  # of all activities, for the main team; the others split the rest
# Each team works from one office; hours are local (UTC offset, hours).
TEAM_UTC_OFFSETS: tuple[int, ...] = (-5, 1, -8, 0, -6, 9, -5, 2, 10, -3, 5, -7)

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_OPPORTUNITY_SPACE = 62**5


def team_shares(activities: int, teams: int) -> list[int]:
    """How many activities each team gets: the main team most, then fewer and fewer."""
    if teams < 1 or teams > MAX_TEAMS:
        raise ValueError(f"teams must be between 1 and {MAX_TEAMS}")
    if teams == 1:
        return [activities]
    weights = [MAIN_SHARE] + [(1 - MAIN_SHARE) * w for w in _decreasing(teams - 1)]
    cuts = [round(activities * c) for c in accumulate(weights)]
    cuts[-1] = activities
    return [b - a for a, b in zip([0, *cuts[:-1]], cuts, strict=True)]


def _decreasing(n: int) -> list[float]:
    raw = [1 / (i + 1) for i in range(n)]
    total = sum(raw)
    return [r / total for r in raw]


def salesforce_id(prefix: str, n: int) -> str:
    """A 15-character Salesforce-style id (``0065e00000AbCdE``), unique per ``n``."""
    # An odd multiplier modulo 62**5 is a bijection: distinct n, distinct ids,
    # yet consecutive records do not look consecutive.
    value = (n * 387_420_489 + 11_111) % _OPPORTUNITY_SPACE
    chars = []
    for _ in range(5):
        value, digit = divmod(value, 62)
        chars.append(_BASE62[digit])
    return prefix + "".join(reversed(chars))


@dataclass(frozen=True, slots=True)
class Cadence:
    """A cadence and the contiguous range of its step ids."""

    id: int
    first_step: int
    steps: int


@dataclass(frozen=True, slots=True)
class World:
    """One team's world.

    Resource ids (``people``, ``accounts`` as strings of integers,
    ``opportunities`` as Salesforce ids) are what activities are *for*;
    ``owners`` map each resource to the index of the user who owns it.
    The ``*_pick`` tables hold resource indexes, each repeated by how busy
    the resource is and ordered by when it first appears: picking uniformly
    from a prefix that grows with time gives both busy resources and growth.
    """

    name: str
    index: int
    activities: int
    utc_offset_hours: int
    users: tuple[str, ...]
    people: tuple[str, ...]
    person_owner: tuple[int, ...]
    person_account: tuple[int, ...]
    accounts: tuple[str, ...]
    account_owner: tuple[int, ...]
    opportunities: tuple[str, ...]
    opportunity_owner: tuple[int, ...]
    cadences: tuple[Cadence, ...]
    person_pick: tuple[int, ...]
    account_pick: tuple[int, ...]
    opportunity_pick: tuple[int, ...]

    @property
    def steps(self) -> int:
        """How many cadence steps there are; step ids are 1..steps."""
        return sum(c.steps for c in self.cadences)


def _pick_table(rng: random.Random, count: int, size: int, alpha: float) -> tuple[int, ...]:
    """Indexes 0..count-1, each repeated in proportion to a heavy-tailed weight."""
    weights = [min(rng.paretovariate(alpha), 50.0) for _ in range(count)]
    scale = size / sum(weights)
    table: list[int] = []
    carry = 0.0
    for index, weight in enumerate(weights):
        carry += weight * scale
        copies = int(carry)
        carry -= copies
        table.extend([index] * max(copies, 1))
    return tuple(table)


def build_world(seed: int, index: int, activities: int) -> World:
    """The world of team ``index`` (0 is the main team) with ``activities`` to come."""
    rng = random.Random(f"{seed}:world:{index}")
    n_users = max(4, min(250, activities // 6_000))
    n_people = max(20, activities // 25)
    n_accounts = max(5, n_people // 12)
    n_opportunities = max(3, (n_accounts * 4) // 5)
    n_cadences = max(6, min(150, n_users * 2))
    users = tuple(str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n_users))
    person_base = 10_000_000 + index * 3_000_000
    account_base = 1_000_000 + index * 200_000
    people = tuple(str(person_base + i * 3 + rng.randrange(3)) for i in range(n_people))
    accounts = tuple(str(account_base + i * 2 + rng.randrange(2)) for i in range(n_accounts))
    opportunities = tuple(
        salesforce_id("0065e00000", index * 20_000_000 + i) for i in range(n_opportunities)
    )
    cadences = []
    first = 1
    for number in range(1, n_cadences + 1):
        steps = rng.randint(4, 12)
        cadences.append(Cadence(number, first, steps))
        first += steps
    return World(
        name=TEAM_NAMES[index],
        index=index,
        activities=activities,
        utc_offset_hours=TEAM_UTC_OFFSETS[index],
        users=users,
        people=people,
        person_owner=tuple(rng.randrange(n_users) for _ in range(n_people)),
        person_account=tuple(rng.randrange(n_accounts) for _ in range(n_people)),
        accounts=accounts,
        account_owner=tuple(rng.randrange(n_users) for _ in range(n_accounts)),
        opportunities=opportunities,
        opportunity_owner=tuple(rng.randrange(n_users) for _ in range(n_opportunities)),
        cadences=tuple(cadences),
        person_pick=_pick_table(rng, n_people, n_people * 4, 1.2),
        account_pick=_pick_table(rng, n_accounts, n_accounts * 4, 1.5),
        opportunity_pick=_pick_table(rng, n_opportunities, n_opportunities * 4, 2.0),
    )
