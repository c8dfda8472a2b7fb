"""Where the rate limit's counters live: Redis, or a file shared by one machine's workers.

Both keep one counter per team per calendar minute and update it atomically,
so that no number of workers or hosts grants more than one budget:

* :class:`RedisBackend` (``ACTIVITYFEED_REDIS_URL``) holds across every host of
  a deployment: one Lua script per request checks and spends in one step, on a
  key per team and minute that expires by itself.
* :class:`SharedFileBackend` holds across the worker processes of one machine:
  a small memory-mapped hash table of (team, minute, count) slots, updated
  under an exclusive ``flock``. It is the counter when Redis is not configured
  and the fallback while Redis is unreachable. ``docs/benchmarks.md`` has the
  figures that chose it over a SQLite table.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import mmap
import os
import stat
import struct
from typing import Any

from activityfeed.ratelimit.policy import BackendBusy, BackendUnavailable

_MAGIC = b"AFRLv001"
_HEADER = struct.Struct("<8sQ")  # magic, number of slots
_SLOT = struct.Struct("<qqq")  # team id, minute, count
_HEADER_SIZE = 64
DEFAULT_SLOTS = 1 << 14  # distinct teams per minute per machine: 384 KiB of file
_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing spreads consecutive team ids


class SharedFileBackend:
    """Counters in a memory-mapped file, shared by every process that opens it.

    Slots are found by open addressing from the team's hash. A slot whose
    minute is older than the one asked for is free to take: counts of past
    minutes are never needed again, so the table never needs clearing. A
    slot's minute only grows, which keeps the probe sequence valid: the first
    free slot on a team's path is always past any live slot of that team.
    ``path=None`` keeps the table in this process only (an in-memory store).
    """

    name = "file"

    def __init__(self, path: str | None, slots: int = DEFAULT_SLOTS) -> None:
        if slots <= 0 or slots & (slots - 1):
            raise ValueError("the number of slots must be a power of two")
        self.path = path
        self.slots = slots
        self._shift = 64 - slots.bit_length() + 1
        self._fd: int | None = None
        self._map: mmap.mmap | None = None

    async def start(self) -> None:
        """Open (or create) the file and map it."""
        self.open_sync()

    def open_sync(self) -> None:
        """Open and map the file; each opener gets its own descriptor, so ``flock`` excludes."""
        if self._map is not None:
            return
        size = _HEADER_SIZE + self.slots * _SLOT.size
        if self.path is None:
            self._map = mmap.mmap(-1, size)
            _HEADER.pack_into(self._map, 0, _MAGIC, self.slots)
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise OSError(f"cannot open the rate limit file {self.path}: {exc}") from exc
        try:
            info = os.fstat(fd)
            if info.st_uid != os.geteuid():
                raise OSError(f"the rate limit file {self.path} belongs to another user")
            if not stat.S_ISREG(info.st_mode):
                raise OSError(f"the rate limit file {self.path} is not a regular file")
            if stat.S_IMODE(info.st_mode) & 0o077:
                os.fchmod(fd, 0o600)  # our own counters: nobody else reads or writes them
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_size < size:
                    os.ftruncate(fd, size)
                self._map = mmap.mmap(fd, size)
                magic, slots = _HEADER.unpack_from(self._map, 0)
                if magic == b"\0" * 8:
                    _HEADER.pack_into(self._map, 0, _MAGIC, self.slots)
                elif magic != _MAGIC or slots != self.slots:
                    raise OSError(
                        f"the rate limit file {self.path} has another format; "
                        "stop every server using it and delete it"
                    )
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except BaseException:
            if self._map is not None:
                self._map.close()
                self._map = None
            os.close(fd)
            raise
        self._fd = fd

    async def close(self) -> None:
        """Unmap and close."""
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    async def spend(
        self, team_id: int, minute: int, cost: int, limit: int, known: int = 0, extra: int = 0
    ) -> tuple[bool, int]:
        """Check and spend under the file lock (a few microseconds: no need to leave the loop).

        The count is first raised to ``known`` (the fallback starts from what
        Redis had counted: the file's count of an earlier outage this minute
        is part of that), then ``extra`` is added.
        """
        return self.spend_sync(team_id, minute, cost, limit, known, extra)

    def spend_sync(
        self, team_id: int, minute: int, cost: int, limit: int, known: int = 0, extra: int = 0
    ) -> tuple[bool, int]:
        """:meth:`spend` without an event loop."""
        table = self._map
        if table is None:
            raise BackendUnavailable("the rate limit file is not open")
        fd = self._fd
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            mask = self.slots - 1
            index = ((team_id * _GOLDEN) & _MASK64) >> self._shift
            for _ in range(self.slots):
                offset = _HEADER_SIZE + index * _SLOT.size
                slot_team, slot_minute, used = _SLOT.unpack_from(table, offset)
                if slot_minute < minute:
                    used = 0  # a free slot: this team has none on this minute
                elif slot_team != team_id or slot_minute != minute:
                    index = (index + 1) & mask
                    continue
                merged = max(used, known) + extra
                if merged + cost > limit:
                    if merged != used or slot_minute != minute:
                        _SLOT.pack_into(table, offset, team_id, minute, merged)
                    return False, merged
                _SLOT.pack_into(table, offset, team_id, minute, merged + cost)
                return True, merged + cost
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
        raise BackendUnavailable(f"the rate limit table is full ({self.slots} teams this minute)")


# KEYS[1]: the team's counter for the minute; ARGV: cost, limit, ttl in seconds, known,
# extra. A counter that exists gets ``extra`` added (what the caller granted while it could
# not ask); one that does not (a new minute, or a restarted Redis) starts from the larger of
# ``known`` (the count the caller last saw) and ``extra``. Then the cost is checked.
# Returns {1, count} when spent, {0, count} when refused (nothing spent).
_SPEND_SCRIPT = """
local raw = redis.call('GET', KEYS[1])
local extra = tonumber(ARGV[5])
local before = tonumber(raw or '0')
local used = before + extra
if not raw then
  used = math.max(tonumber(ARGV[4]), extra)
end
local cost = tonumber(ARGV[1])
local granted = used + cost <= tonumber(ARGV[2])
if granted then
  used = used + cost
end
if used > before then
  redis.call('INCRBY', KEYS[1], used - before)
  if not raw then
    redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  end
end
if granted then
  return {1, used}
end
return {0, used}
"""
KEY_TTL = 120  # a minute's counter outlives the minute, for hosts whose clocks differ a little


class RedisBackend:
    """Counters in Redis, shared by every host: one script call per request.

    Timeouts are short and retries off so that a dead Redis costs a request
    about a second at most; the limiter then stops asking for a while. A
    bounded pool reuses connections, so that a burst of requests does not open
    (and wait for) one connection each; a request that waits more than
    ``connect_timeout`` for a free one is :class:`BackendBusy`, which the
    limiter does not take for an outage. redis-py reconnects by itself once
    Redis answers again.
    """

    name = "redis"

    def __init__(
        self,
        url: str,
        prefix: str = "activityfeed:",
        timeout: float = 0.5,
        connect_timeout: float = 1.0,
        max_connections: int = 32,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self._client: Any = None
        # One call per connection: a request that waits too long for one is busy,
        # not a sign of an outage (the pool's own wait would say "unreachable").
        self._slots = asyncio.Semaphore(max_connections)
        self._sha = hashlib.sha1(_SPEND_SCRIPT.encode()).hexdigest()  # noqa: S324  (Redis names scripts so)

    async def start(self) -> None:
        """Make the client; it connects on first use."""
        # redis is imported only by a deployment that counts there (no cycle: a library).
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        pool = aioredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_connections,
            timeout=self.connect_timeout,  # waiting for a free connection
            socket_timeout=self.timeout,
            socket_connect_timeout=self.connect_timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._client = aioredis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))
        self._slots = asyncio.Semaphore(self.max_connections)  # of this event loop

    async def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            await self._client.aclose(close_connection_pool=True)
            self._client = None

    def key(self, team_id: int, minute: int) -> str:
        """The counter of one team for one minute."""
        return f"{self.prefix}ratelimit:{team_id}:{minute}"

    async def spend(
        self, team_id: int, minute: int, cost: int, limit: int, known: int = 0, extra: int = 0
    ) -> tuple[bool, int]:
        """Check and spend in one atomic script call.

        A counter that exists gets ``extra`` added; one that does not (a new
        minute, or a Redis restarted without its data) starts from the larger
        of ``known`` and ``extra``. Raises :class:`BackendBusy` when no
        connection frees up within ``connect_timeout``.
        """
        from redis.exceptions import NoScriptError, RedisError

        client = self._client
        if client is None:
            raise BackendUnavailable("the Redis client is not started")
        key = self.key(team_id, minute)
        args = (cost, limit, KEY_TTL, known, extra)
        if self._slots.locked():  # (a free slot is taken at once, without a timer)
            try:
                await asyncio.wait_for(self._slots.acquire(), self.connect_timeout)
            except TimeoutError:
                message = f"no Redis connection free within {self.connect_timeout} s"
                raise BackendBusy(message) from None
        else:
            await self._slots.acquire()
        try:
            try:
                granted, used = await client.evalsha(self._sha, 1, key, *args)
            except NoScriptError:  # a new or restarted Redis: load it once
                self._sha = await client.script_load(_SPEND_SCRIPT)
                granted, used = await client.evalsha(self._sha, 1, key, *args)
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._slots.release()
        return bool(granted), int(used)
