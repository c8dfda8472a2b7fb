"""The scenarios S1-S9 and their closest Datasette equivalents.

Every parameter comes from the data set itself (the busiest person, a month in
the middle of the data, a sync cursor 100 rows before the end), so the queries
are the same on every store and on Datasette.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from loadgen import Load

LIST = "/v2/activity_histories"


@dataclass(frozen=True)
class DataSet:
    """What the scenarios need to know about the data."""

    team_id: int
    team_name: str
    activities: int
    person_id: str
    range_start: str
    range_end: str
    sync_after: str
    sync_after_us: int
    range_start_us: int
    range_end_us: int


@dataclass(frozen=True)
class Scenario:
    """One measured request shape."""

    key: str
    title: str
    method: str
    path: str
    body: bytes | None = None
    body_template: str | None = None
    datasette_sql: str | None = None
    # Datasette's table API as a team gets it out of the box: it counts the
    # matches of every page (the Datasette figures are of this);
    # None where it cannot express the request.
    datasette_table: list[tuple[str, str]] | None = None
    is_list: bool = True

    def load(self, base_url: str, api_key: str) -> Load:
        headers = {"Authorization": f"Bearer {api_key}"}
        if self.method != "GET":
            headers["Content-Type"] = "application/json"
        return Load(self.method, base_url + self.path, headers, self.body, self.body_template)


def _iso(us: int) -> str:
    from activityfeed.timestamps import format_timestamp

    return format_timestamp(us)


def describe(db_file: Path) -> DataSet:
    """Read the scenario parameters off the SQLite store."""
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        team_id, team_name, count = conn.execute(
            "SELECT t.id, t.name, sum(c.n) FROM activity_counts c JOIN teams t ON t.id = c.team_id "
            "GROUP BY t.id ORDER BY sum(c.n) DESC LIMIT 1"
        ).fetchone()
        (person,) = conn.execute(
            "SELECT resource_id FROM activities WHERE team_id = ? AND resource_type = 'person' "
            "GROUP BY resource_id ORDER BY count(*) DESC LIMIT 1",
            (team_id,),
        ).fetchone()
        low, high = conn.execute(
            "SELECT min(occurred_at), max(occurred_at) FROM activities WHERE team_id = ?",
            (team_id,),
        ).fetchone()
        middle = (low + high) // 2
        month = 30 * 86_400 * 1_000_000
        (cursor,) = conn.execute(
            "SELECT updated_at FROM activities WHERE team_id = ? "
            "ORDER BY updated_at DESC LIMIT 1 OFFSET 150",
            (team_id,),
        ).fetchone()
    finally:
        conn.close()
    return DataSet(
        team_id=team_id,
        team_name=team_name,
        activities=int(count),
        person_id=str(person),
        range_start=_iso(middle),
        range_end=_iso(middle + month),
        sync_after=_iso(cursor),
        sync_after_us=cursor,
        range_start_us=middle,
        range_end_us=middle + month,
    )


def _q(params: list[tuple[str, str]]) -> str:
    return LIST + "?" + urlencode(params, safe="[]")


def scenarios(data: DataSet) -> list[Scenario]:
    """S1-S9 for ``data``."""
    team = data.team_id
    base = f"SELECT * FROM activities WHERE team_id = {team}"
    in_range = f"occurred_at >= {data.range_start_us} AND occurred_at < {data.range_end_us}"
    one = {"type": "note", "resource_type": "person", "resource_id": 1}
    feed = [("team_id", str(team)), ("_sort_desc", "occurred_at"), ("_size", "25")]
    return [
        Scenario(
            "S1",
            "team feed, page 1",
            "GET",
            LIST,
            datasette_sql=f"{base} ORDER BY occurred_at DESC, seq DESC LIMIT 26",
            datasette_table=feed,
        ),
        Scenario(
            "S2",
            "a person's timeline",
            "GET",
            _q([("resource_type", "person"), ("resource_id", data.person_id)]),
            datasette_sql=f"{base} AND resource_type = 'person' AND resource_id = "
            f"'{data.person_id}' ORDER BY occurred_at DESC, seq DESC LIMIT 26",
            datasette_table=[
                *feed,
                ("resource_type", "person"),
                ("resource_id", data.person_id),
            ],
        ),
        Scenario(
            "S3",
            "type array + occurred_at range",
            "GET",
            _q(
                [
                    ("type[]", "sent_email"),
                    ("type[]", "call"),
                    ("occurred_at[gte]", data.range_start),
                    ("occurred_at[lt]", data.range_end),
                ]
            ),
            datasette_sql=f"{base} AND type IN ('sent_email', 'call') AND {in_range} "
            "ORDER BY occurred_at DESC, seq DESC LIMIT 26",
            datasette_table=[
                *feed,
                ("type__in", "sent_email,call"),
                ("occurred_at__gte", str(data.range_start_us)),
                ("occurred_at__lt", str(data.range_end_us)),
            ],
        ),
        Scenario(
            "S4",
            "incremental sync, per_page=100",
            "GET",
            _q(
                [
                    ("sort_by", "updated_at"),
                    ("sort_direction", "ASC"),
                    ("updated_at[gt]", data.sync_after),
                    ("per_page", "100"),
                ]
            ),
            datasette_sql=f"{base} AND updated_at > {data.sync_after_us} "
            "ORDER BY updated_at ASC, seq ASC LIMIT 101",
            datasette_table=[
                ("team_id", str(team)),
                ("updated_at__gt", str(data.sync_after_us)),
                ("_sort", "updated_at"),
                ("_size", "100"),
            ],
        ),
        Scenario(
            "S5",
            "S1 with include_paging_counts",
            "GET",
            _q([("include_paging_counts", "true")]),
            datasette_sql=f"SELECT (SELECT count(*) FROM activities WHERE team_id = {team}) "
            f"AS total, * FROM activities WHERE team_id = {team} "
            "ORDER BY occurred_at DESC, seq DESC LIMIT 26",
            datasette_table=feed,
        ),
        Scenario(
            "S6",
            "page 400",
            "GET",
            _q([("page", "400")]),
            datasette_sql=f"{base} ORDER BY occurred_at DESC, seq DESC LIMIT 26 OFFSET 9975",
        ),
        Scenario(
            "S7",
            "object form of type",
            "GET",
            _q(
                [
                    ("type[person][]", "call"),
                    ("type[person][]", "sent_email"),
                    ("type[account][]", "note"),
                ]
            ),
            datasette_sql=f"{base} AND ((resource_type = 'person' AND type IN "
            "('call', 'sent_email')) OR (resource_type = 'account' AND type = 'note')) "
            "ORDER BY occurred_at DESC, seq DESC LIMIT 26",
            datasette_table=[
                *feed,
                (
                    "_where",
                    "(resource_type = 'person' AND type IN ('call', 'sent_email')) "
                    "OR (resource_type = 'account' AND type = 'note')",
                ),
            ],
        ),
        Scenario(
            "S8",
            "bulk ingest (100 per request)",
            "POST",
            LIST + "/bulk",
            body_template="["
            + ",".join(
                json.dumps({**one, "id": f"note-bench-{{n}}-{i}", "tags": ["bench"]})
                for i in range(100)
            )
            + "]",
            is_list=False,
        ),
        Scenario(
            "S9",
            "create one",
            "POST",
            LIST,
            body=json.dumps({**one, "static_data": {"note_id": 1}}).encode(),
            is_list=False,
        ),
    ]


def datasette_table_path(database: str, params: list[tuple[str, str]]) -> str:
    """The Datasette JSON URL path of the ``activities`` table with ``params``."""
    return f"/{database}/activities.json?{urlencode(params)}&_shape=objects"


def datasette_path(database: str, sql: str) -> str:
    """The Datasette JSON URL path running ``sql``."""
    return f"/{database}.json?sql={quote(sql)}&_shape=array"
