"""Versioned migrations of the SQLite store, applied in order on start.

Timestamps are integer microseconds since the epoch, UTC. ``seq`` is the order
of first storage (the sort tie-break); as the rowid it ends every index, so
each index below serves its filter *and* the total order without a sort.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
CREATE TABLE teams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    rate_limit INTEGER,
    clock INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX api_keys_team ON api_keys (team_id);
CREATE TABLE activities (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    user_guid TEXT,
    occurred_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    pinned_at INTEGER,
    refs BLOB,
    doc BLOB NOT NULL
);
CREATE UNIQUE INDEX activities_team_id ON activities (team_id, id);
CREATE UNIQUE INDEX activities_team_updated ON activities (team_id, updated_at);
CREATE INDEX activities_team_occurred ON activities (team_id, occurred_at);
CREATE INDEX activities_team_resource
    ON activities (team_id, resource_type, resource_id, occurred_at);
CREATE INDEX activities_team_type ON activities (team_id, type, occurred_at);
CREATE INDEX activities_team_user ON activities (team_id, user_guid, occurred_at);
CREATE INDEX activities_team_pinned ON activities (team_id, occurred_at)
    WHERE pinned_at IS NOT NULL;
CREATE TABLE activity_counts (
    team_id INTEGER NOT NULL,
    type TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (team_id, type, resource_type)
) WITHOUT ROWID
""",
    ),
    (
        2,
        # Associated records (contract, section 4): the local source of
        # dynamic data, read in batches by (team, resource, ids). Rows append
        # by rowid and the key lives in a narrow index: keys arrive in any
        # order, and probing a small index stays in cache where a wide
        # clustered table would not.
        """
CREATE TABLE associated_records (
    seq INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    resource TEXT NOT NULL,
    id TEXT NOT NULL,
    attributes BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX associated_records_key ON associated_records (team_id, resource, id)
""",
    ),
    (
        3,
        # Type filters by occurred_at are served as a union of ordered ranges,
        # one per (type, resource type) pair (sqlbuild.type_branches): with
        # the resource type in the key each range is exact, however the
        # team's activities split between people, accounts and opportunities.
        """
DROP INDEX activities_team_type;
CREATE INDEX activities_team_type ON activities (team_id, type, resource_type, occurred_at)
""",
    ),
]
