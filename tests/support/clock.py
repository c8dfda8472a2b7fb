"""A clock for tests of the rate limiter and the outage log: it moves only when told to."""

from __future__ import annotations


class FakeClock:
    """A clock for tests: it moves only when told to."""

    def __init__(self, now: float = 1_700_000_040.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds
