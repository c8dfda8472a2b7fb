"""Caches that are exact and bounded: in entries, in bytes, least recently used out first.

A store that can tell cheaply whether anything changed (SQLite's
``PRAGMA data_version`` covers every commit of every connection and process)
returns a *generation*; a :class:`GenerationCache` is emptied as soon as the
generation moves, so a cached answer is always the answer the store would give
now. A store that cannot tell (``None``) is never cached.

Every entry is weighed when it is put (by default :func:`weigh_deep`: the
key, the value and everything they refer to, plus the map's own share), and
the least recently used entries leave until the new one fits the byte budget. An entry
over an eighth of the budget is not cached at all: it would push out most of
the others.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

# An entry heavier than this share of the budget is not cached.
MAX_ENTRY_SHARE = 8
# The map's own bytes per entry: its node, the (value, weight) pair, the weight
# (163 measured with tracemalloc; rounded up for the table's spare room).
ENTRY_OVERHEAD = 192
_LEAVES = frozenset({str, bytes, bytearray, int, float, bool, type(None)})


def footprint(value: object) -> int:
    """The bytes ``value`` holds: ``sys.getsizeof`` of it and of all it refers to.

    Follows tuples, lists, sets, dicts and the attributes of objects (slots or
    ``__dict__``); each object is counted once.
    """
    size = sys.getsizeof
    total = 0
    seen: set[int] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _LEAVES:
            total += size(item)
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += size(item)
        if isinstance(item, tuple | list | set | frozenset):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            for name in getattr(kind, "__slots__", ()):
                if hasattr(item, name):
                    stack.append(getattr(item, name))
            if hasattr(item, "__dict__"):
                stack.append(vars(item))
    return total


def weigh_deep(key: object, value: object) -> int:
    """An entry's weight: the :func:`footprint` of its key and value, and the map's share."""
    return footprint((key, value)) + ENTRY_OVERHEAD


class _Lru(Generic[K, V]):
    """The map under both caches: entries with their weights, least recently used first."""

    def __init__(
        self,
        max_entries: int,
        max_bytes: int = 64 * 1024 * 1024,
        weigh: Callable[[K, V], int] = weigh_deep,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._weigh = weigh
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def _put(self, key: K, value: V) -> None:
        if self.max_entries <= 0 or self.max_bytes <= 0:
            return
        weight = self._weigh(key, value)
        if weight * MAX_ENTRY_SHARE > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        while self._entries and (
            len(self._entries) >= self.max_entries or self.bytes + weight > self.max_bytes
        ):
            _, (_, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped
        self._entries[key] = (value, weight)
        self.bytes += weight

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self.bytes = 0

    def values(self) -> list[V]:
        """The values held, least recently used first."""
        return [value for value, _ in self._entries.values()]

    def __len__(self) -> int:
        return len(self._entries)


class BoundedCache(_Lru[K, V]):
    """A map of at most ``max_entries`` entries and ``max_bytes`` bytes, LRU out first."""

    def get(self, key: K) -> V | None:
        """The entry for ``key``, now the most recently used."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V) -> None:
        """Remember ``value``, unless it is over its share of the budget."""
        self._put(key, value)


class GenerationCache(_Lru[K, V]):
    """A :class:`BoundedCache` whose entries are valid for one store generation."""

    def __init__(
        self,
        max_entries: int,
        max_bytes: int = 64 * 1024 * 1024,
        weigh: Callable[[K, V], int] = weigh_deep,
    ) -> None:
        super().__init__(max_entries, max_bytes, weigh)
        self._generation: int | None = None

    def get(self, generation: int | None, key: K) -> V | None:
        """The entry for ``key``, if the store has not changed since it was put."""
        if generation is None:
            return None
        if generation != self._generation:
            self.clear()
            self._generation = generation
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, generation: int | None, key: K, value: V) -> None:
        """Remember ``value`` for the generation it was computed in.

        ``generation`` must have been read before the value was computed: a
        change after that moves the generation and empties the cache.
        """
        if generation is None or generation != self._generation:
            return
        self._put(key, value)
