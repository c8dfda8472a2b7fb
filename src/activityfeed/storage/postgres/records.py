"""Associated records in the PostgreSQL store (contract, section 4).

A mixin of :class:`~activityfeed.storage.postgres.store.PostgresStorage`: records
live in ``associated_records``, keyed by ``(team_id, resource, id)``; a batch
read is one query with the ids as one array parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg

from activityfeed.model import storable
from activityfeed.storage.postgres.connection import PostgresParts
from activityfeed.storage.postgres.writes import CUSTOM_PLANS
from activityfeed.storage.values import BulkResult, StoredRecord
from activityfeed.timestamps import now_us

_COLUMNS = "resource, id, attributes, created_at, updated_at"


class PostgresRecords(PostgresParts):
    """The record methods of the :class:`~activityfeed.storage.base.Storage` protocol."""

    async def put_records(
        self, team_id: int, resource: str, items: Sequence[tuple[str, bytes]]
    ) -> BulkResult:
        """Create or replace records by id in one transaction; equal ones are left alone."""
        async with self.transaction() as conn:
            return await self.put_records_in(conn, team_id, resource, items)

    @staticmethod
    async def put_records_in(
        conn: asyncpg.Connection,
        team_id: int,
        resource: str,
        items: Sequence[tuple[str, bytes]],
    ) -> BulkResult:
        """The upsert inside an open transaction.

        The stored rows are read ``FOR UPDATE`` so that the created / updated /
        unchanged counts are exact under concurrent writers of the same ids.
        """
        await conn.execute(CUSTOM_PLANS)
        # Sorted, so that concurrent writers lock rows in one order.
        ids = sorted(record_id for record_id, _ in items)
        rows = await conn.fetch(
            "SELECT found.id, found.attributes FROM unnest($3::text[]) AS wanted (wanted_id) "
            "CROSS JOIN LATERAL (SELECT id, attributes FROM associated_records "
            "WHERE team_id = $1 AND resource = $2 AND id = wanted.wanted_id "
            "LIMIT 1 FOR UPDATE) AS found",
            team_id,
            resource,
            ids,
        )
        stored = {row[0]: bytes(row[1]) for row in rows}
        changed_ids: list[str] = []
        changed_attributes: list[bytes] = []
        created = unchanged = 0
        for record_id, attributes in items:
            before = stored.get(record_id)
            if before is None:
                created += 1
            elif before == attributes:
                unchanged += 1
                continue
            changed_ids.append(record_id)
            changed_attributes.append(attributes)
        if changed_ids:
            # One statement for the batch: arrays unnested server-side.
            await conn.execute(
                "INSERT INTO associated_records (team_id, resource, id, attributes, "
                "created_at, updated_at) SELECT $1, $2, i, a, $5, $5 "
                "FROM unnest($3::text[], $4::bytea[]) AS batch (i, a) "
                "ON CONFLICT (team_id, resource, id) DO UPDATE "
                "SET attributes = excluded.attributes, updated_at = excluded.updated_at",
                team_id,
                resource,
                changed_ids,
                changed_attributes,
                now_us(),
            )
        changed = changed_ids
        return BulkResult(created=created, updated=len(changed) - created, unchanged=unchanged)

    async def get_records(
        self, team_id: int, wanted: Mapping[str, Sequence[str]]
    ) -> dict[str, dict[str, bytes]]:
        """The attributes of the records found, every name of a page in one query.

        One round trip per page instead of one per name: on PostgreSQL the
        round trip is most of a small query's cost.
        """
        found: dict[str, dict[str, bytes]] = {resource: {} for resource in wanted}
        # Ids come from static_data, which may hold anything; one with a NUL
        # character cannot be stored, so it is not found.
        names: list[str] = []
        ids: list[str] = []
        for resource, resource_ids in wanted.items():
            if not storable(resource):
                continue
            for record_id in resource_ids:
                if storable(record_id):
                    names.append(resource)
                    ids.append(record_id)
        if not ids:
            return found
        # One index probe per (name, id) (see PostgresWrites._existing).
        rows = await self.fetch(
            "SELECT found.resource, found.id, found.attributes "
            "FROM unnest($2::text[], $3::text[]) AS wanted (resource, wanted_id) "
            "CROSS JOIN LATERAL (SELECT resource, id, attributes FROM associated_records "
            "WHERE team_id = $1 AND resource = wanted.resource AND id = wanted.wanted_id "
            "LIMIT 1) AS found",
            team_id,
            names,
            ids,
        )
        for resource, record_id, attributes in rows:
            found[resource][record_id] = attributes
        return found

    async def get_record(self, team_id: int, resource: str, record_id: str) -> StoredRecord | None:
        """One record, with its timestamps."""
        rows = await self.fetch(
            f"SELECT {_COLUMNS} FROM associated_records "  # noqa: S608
            "WHERE team_id = $1 AND resource = $2 AND id = $3",
            team_id,
            resource,
            record_id,
        )
        return StoredRecord(*rows[0]) if rows else None

    async def delete_record(self, team_id: int, resource: str, record_id: str) -> bool:
        """Delete one record."""
        async with self.transaction() as conn:
            status: str = await conn.execute(
                "DELETE FROM associated_records WHERE team_id = $1 AND resource = $2 AND id = $3",
                team_id,
                resource,
                record_id,
            )
        return status != "DELETE 0"

    async def scan_records(
        self, team_id: int, after: tuple[str, str] | None, limit: int
    ) -> list[StoredRecord]:
        """Records of a team in key order, after ``after``: for export and copy."""
        if after is None:
            rows = await self.fetch(
                f"SELECT {_COLUMNS} FROM associated_records WHERE team_id = $1 "  # noqa: S608
                "ORDER BY resource, id LIMIT $2",
                team_id,
                limit,
            )
        else:
            rows = await self.fetch(
                f"SELECT {_COLUMNS} FROM associated_records WHERE team_id = $1 "  # noqa: S608
                "AND (resource, id) > ($2, $3) ORDER BY resource, id LIMIT $4",
                team_id,
                after[0],
                after[1],
                limit,
            )
        return [StoredRecord(*row) for row in rows]
