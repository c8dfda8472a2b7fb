"""Dynamic data: attributes of associated records, loaded at read time (section 4).

The service hydrates every page it returns through a :class:`Hydrator`. Until
associated records are configured, :class:`NoDynamicData` answers every
activity with ``{}`` and ``[]``.
"""

from __future__ import annotations

from typing import Protocol

from activityfeed.storage.base import Row


class Hydrator(Protocol):
    """Loads the dynamic part of a page of activities."""

    async def hydrate(self, team_id: int, rows: list[Row]) -> list[tuple[bytes, bytes]] | None:
        """``(dynamic_data, failed_dynamic_resources)`` as JSON per row, or ``None`` if empty."""


class NoDynamicData:
    """The hydrator with no associated records: every activity gets ``{}`` and ``[]``."""

    async def hydrate(self, team_id: int, rows: list[Row]) -> list[tuple[bytes, bytes]] | None:
        return None
