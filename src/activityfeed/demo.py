"""Deterministic demo data (placeholder until the demo generator lands)."""

from __future__ import annotations

from dataclasses import dataclass

from activityfeed.storage import Storage


@dataclass(frozen=True)
class DemoReport:
    """What the demo loaded."""

    main_team: str
    activities: int

    def summary(self) -> str:
        """One line for the terminal."""
        return f"loaded {self.activities} activities"


async def load_demo(store: Storage, activities: int, seed: int) -> DemoReport:
    """Load the demo data set."""
    await store.ensure_team("acme")
    return DemoReport("acme", 0)
