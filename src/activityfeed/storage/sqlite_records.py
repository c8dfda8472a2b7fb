"""Associated records in the SQLite store (contract, section 4).

A mixin of :class:`~activityfeed.storage.sqlite.SQLiteStorage`: records live
in ``associated_records``, keyed by ``(team_id, resource, id)`` (a WITHOUT
ROWID table, so a batch read is one probe of the primary key per id).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from activityfeed.storage.base import BulkResult, StoredRecord
from activityfeed.timestamps import now_us

T = TypeVar("T")
_CHUNK = 500  # ids per IN list, well under SQLite's variable limit
_COLUMNS = "resource, id, attributes, created_at, updated_at"


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


class SQLiteRecords:
    """The record methods of the :class:`~activityfeed.storage.base.Storage` protocol."""

    # Provided by SQLiteStorage: the read connection, error mapping and writer.
    @property
    def reader(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _errors(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def put_records(
        self, team_id: int, resource: str, items: Sequence[tuple[str, bytes]]
    ) -> BulkResult:
        """Create or replace records by id in one transaction; equal ones are left alone."""
        return await self._write(lambda conn: self.put_records_sync(conn, team_id, resource, items))

    @staticmethod
    def put_records_sync(
        conn: sqlite3.Connection, team_id: int, resource: str, items: Sequence[tuple[str, bytes]]
    ) -> BulkResult:
        """The upsert inside an open write transaction (also used by the demo loader)."""
        stored: dict[str, bytes] = {}
        for chunk in _chunks([record_id for record_id, _ in items]):
            marks = ",".join("?" * len(chunk))
            stored.update(
                conn.execute(
                    "SELECT id, attributes FROM associated_records "  # noqa: S608
                    f"WHERE team_id = ? AND resource = ? AND id IN ({marks})",
                    [team_id, resource, *chunk],
                ).fetchall()
            )
        now = now_us()
        changed: list[tuple[Any, ...]] = []
        created = unchanged = 0
        for record_id, attributes in items:
            before = stored.get(record_id)
            if before is None:
                created += 1
            elif bytes(before) == attributes:
                unchanged += 1
                continue
            changed.append((team_id, resource, record_id, attributes, now, now))
        conn.executemany(
            "INSERT INTO associated_records (team_id, resource, id, attributes, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (team_id, resource, id) "
            "DO UPDATE SET attributes = excluded.attributes, updated_at = excluded.updated_at",
            changed,
        )
        return BulkResult(created=created, updated=len(changed) - created, unchanged=unchanged)

    async def get_records(
        self, team_id: int, resource: str, ids: Sequence[str]
    ) -> dict[str, bytes]:
        """The attributes of the records found among ``ids``: one query per 500 ids."""
        found: dict[str, bytes] = {}
        with self._errors():
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                found.update(
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
