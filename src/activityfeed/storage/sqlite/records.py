"""Associated records in the SQLite store (contract, section 4).

A mixin of :class:`~activityfeed.storage.sqlite.store.SQLiteStorage`: records live
in ``associated_records``, keyed by ``(team_id, resource, id)`` through a
unique index, so a batch read is one index probe per id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from activityfeed.storage.sqlbuild import chunks
from activityfeed.storage.sqlite.connection import SQLiteParts
from activityfeed.storage.values import BulkResult, StoredRecord
from activityfeed.timestamps import now_us

_COLUMNS = "resource, id, attributes, created_at, updated_at"


class SQLiteRecords(SQLiteParts):
    """The record methods of the :class:`~activityfeed.storage.base.Storage` protocol."""

    async def put_records(
        self, team_id: int, resource: str, items: Sequence[tuple[str, bytes]]
    ) -> BulkResult:
        """Create or replace records by id in one transaction; equal ones are left alone."""
        return await self._write(lambda conn: self.put_records_sync(conn, team_id, resource, items))

    @staticmethod
    def put_records_sync(
        conn: sqlite3.Connection, team_id: int, resource: str, items: Sequence[tuple[str, bytes]]
    ) -> BulkResult:
        """The upsert inside an open write transaction (also used by the demo loader).

        Two set-wise passes instead of a read per record: insert the new ones,
        then replace those whose bytes differ; the row counts tell them apart.
        """
        now = now_us()
        created = conn.executemany(
            "INSERT INTO associated_records (team_id, resource, id, attributes, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (team_id, resource, id) DO NOTHING",
            [(team_id, resource, rid, attributes, now, now) for rid, attributes in items],
        ).rowcount
        updated = 0
        if created < len(items):
            updated = conn.executemany(
                "UPDATE associated_records SET attributes = ?, updated_at = ? "
                "WHERE team_id = ? AND resource = ? AND id = ? AND attributes != ?",
                [(a, now, team_id, resource, rid, a) for rid, a in items],
            ).rowcount
        return BulkResult(
            created=created, updated=updated, unchanged=len(items) - created - updated
        )

    async def get_records(
        self, team_id: int, wanted: Mapping[str, Sequence[str]]
    ) -> dict[str, dict[str, bytes]]:
        """The attributes of the records found: a query per name (and per 500 ids).

        SQLite runs in process, so a statement costs microseconds; one per name
        keeps each an exact index probe (a single statement over all names
        measured no faster).
        """
        found: dict[str, dict[str, bytes]] = {}
        with self._errors():
            for resource, ids in wanted.items():
                records = found[resource] = {}
                for chunk in chunks(ids):
                    marks = ",".join("?" * len(chunk))
                    records.update(
                        self.reader.execute(
                            "SELECT id, attributes FROM associated_records "  # noqa: S608
                            f"WHERE team_id = ? AND resource = ? AND id IN ({marks})",
                            [team_id, resource, *chunk],
                        ).fetchall()
                    )
        return found

    async def get_record(self, team_id: int, resource: str, record_id: str) -> StoredRecord | None:
        """One record, with its timestamps."""
        with self._errors():
            row = self.reader.execute(
                f"SELECT {_COLUMNS} FROM associated_records "  # noqa: S608
                "WHERE team_id = ? AND resource = ? AND id = ?",
                (team_id, resource, record_id),
            ).fetchone()
        return None if row is None else StoredRecord(*row)

    async def delete_record(self, team_id: int, resource: str, record_id: str) -> bool:
        """Delete one record."""
        return await self._write(
            lambda conn: (
                conn.execute(
                    "DELETE FROM associated_records WHERE team_id = ? AND resource = ? AND id = ?",
                    (team_id, resource, record_id),
                ).rowcount
                > 0
            )
        )

    async def scan_records(
        self, team_id: int, after: tuple[str, str] | None, limit: int
    ) -> list[StoredRecord]:
        """Records of a team in key order, after ``after``: for export and copy."""
        sql = f"SELECT {_COLUMNS} FROM associated_records WHERE team_id = ?"  # noqa: S608
        params: list[Any] = [team_id]
        if after is not None:
            sql += " AND (resource, id) > (?, ?)"
            params.extend(after)
        with self._errors():
            rows = self.reader.execute(
                sql + " ORDER BY resource, id LIMIT ?", [*params, limit]
            ).fetchall()
        return [StoredRecord(*row) for row in rows]
