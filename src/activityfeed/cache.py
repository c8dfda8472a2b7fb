"""Caches that are exact: an entry lives only as long as the store is unchanged.

A store that can tell cheaply whether anything changed (SQLite's
``PRAGMA data_version`` covers every commit of every connection and process)
returns a *generation*; both caches below are emptied as soon as the
generation moves, so a cached answer is always the answer the store would give
now. A store that cannot tell (``None``) is never cached.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class GenerationCache(Generic[K, V]):
    """A bounded map whose entries are valid for one store generation."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._generation: int | None = None
        self._entries: dict[K, V] = {}

    def get(self, generation: int | None, key: K) -> V | None:
        """The entry for ``key``, if the store has not changed since it was put."""
        if generation is None:
            return None
        if generation != self._generation:
            self._entries.clear()
            self._generation = generation
            return None
        return self._entries.get(key)

    def put(self, generation: int | None, key: K, value: V) -> None:
        """Remember ``value`` for the generation it was computed in.

        ``generation`` must have been read before the value was computed: a
        change after that moves the generation and empties the cache.
        """
        if generation is None or generation != self._generation or self.max_entries <= 0:
            return
        if len(self._entries) >= self.max_entries:
            # Insertion order: drop the oldest entry.
            del self._entries[next(iter(self._entries))]
        self._entries[key] = value

    def __len__(self) -> int:
        return len(self._entries)
