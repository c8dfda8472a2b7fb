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
import logging
import mmap
import os
import stat
import struct
import tempfile
from typing import Any

from activityfeed.ratelimit.policy import Backend, BackendBusy, BackendUnavailable, Clock, RateLimiter
from activityfeed.settings import Settings
from activityfeed.urls import sqlite_path

_MAGIC = b"AFRLv001"
_HEADER = struct.Struct("<8sQ")  # magic, number of slots
_SLOT = struct.Struct("<qqq")  # team id, minute, count
_HEADER_SIZE = 64
DEFAULT_SLOTS = 1 << 14  # distinct teams per minute per machine: 384 KiB of file
_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing spreads consecutive team ids
log = logging.getLogger("activityfeed.ratelimit.policy")


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


def _private(path: str) -> bool:
    """Whether ``path`` is a directory (not a link) of this user that nobody else may enter."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and not stat.S_IMODE(info.st_mode) & 0o077
    )


_made: dict[str, str] = {}  # temporary directory -> the private directory made in it


def private_directory() -> str:
    """A directory only this user can enter, for files that other local users must not touch.

    ``$XDG_RUNTIME_DIR`` when it is one; else ``activityfeed-<uid>`` in the
    temporary directory, made 0700, and used only if it is ours and still
    private (another user may have made that name first: a link, an open
    directory); else a new directory of an unpredictable name
    (:func:`tempfile.mkdtemp`), the same for the rest of this process.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and _private(runtime):
        return runtime
    base = tempfile.gettempdir()
    if base in _made:
        return _made[base]
    directory = os.path.join(base, f"activityfeed-{os.geteuid()}")
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    except OSError:
        directory = ""
    if not directory or not _private(directory):
        if directory:
            log.warning("%s is not a private directory of this user: not using it", directory)
        directory = tempfile.mkdtemp(prefix=f"activityfeed-{os.geteuid()}-")
    _made[base] = directory
    return directory


def shared_file_path(database_url: str) -> str | None:
    """The counter file for a deployment, derived from its database URL.

    Next to the SQLite file when no other user may write in its directory
    (its workers share that directory already); else, and for a server
    database, in :func:`private_directory` under a name derived from the
    store, so that a file another user made first can neither stop the
    service nor be counted in. ``None`` for an in-memory store, which one
    process alone can use. ``serve`` decides once and hands the path to its
    workers (``ACTIVITYFEED_RATE_LIMIT_FILE``).
    """
    if database_url.startswith("sqlite:"):
        path = sqlite_path(database_url)
        if path == ":memory:" or path.startswith("file::memory:"):
            return None
        path = os.path.abspath(path)
        try:
            shared = stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) & 0o022
        except OSError:
            shared = 0  # not there yet: the store makes it, for this user
        if not shared:
            return path + ".ratelimit"
        name = path
    else:
        name = database_url
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return os.path.join(private_directory(), f"ratelimit-{digest}")


def local_file(settings: Settings) -> str | None:
    """Where this deployment's machine-local counters live: as set, else derived."""
    return settings.rate_limit_file or shared_file_path(settings.database_url)


def build_rate_limiter(
    settings: Settings, clock: Clock | None = None, local_path: str | None = None
) -> RateLimiter:
    """The limiter that ``settings`` describe: Redis when configured, else the shared file.

    ``local_path`` puts the shared file elsewhere than :func:`shared_file_path` says.
    """
    local: Backend = SharedFileBackend(local_path or local_file(settings))
    backend: Backend = local
    fallback: Backend | None = None
    if settings.redis_url:
        backend = RedisBackend(settings.redis_url, settings.redis_key_prefix)
        fallback = local
    extra: dict[str, Any] = {} if clock is None else {"clock": clock}
    return RateLimiter(
        settings.rate_limit_per_minute,
        backend,
        fallback=fallback,
        fail_closed=settings.rate_limit_fail_closed,
        **extra,
    )


def describe(settings: Settings) -> str:
    """One line for the operator: the default budget and where it is counted."""
    if settings.rate_limit_per_minute <= 0:
        return "rate limiting: off (ACTIVITYFEED_RATE_LIMIT_PER_MINUTE=0)"
    local = local_file(settings) or "this process's memory"
    where = f"in {local} (shared by this machine's workers)"
    if settings.redis_url:
        mode = "fail closed" if settings.rate_limit_fail_closed else f"fail open to {local}"
        where = f"in Redis at {_redacted(settings.redis_url)} ({mode} when unreachable)"
    return f"rate limiting: {settings.rate_limit_per_minute} per team per minute, counted {where}"


def _redacted(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}{sep}***@{host}" if at and credentials else url


def rate_limit_env(settings: Settings) -> dict[str, str]:
    """The ``ACTIVITYFEED_*`` variables that give worker processes the same rate limiting."""
    env = {
        "ACTIVITYFEED_RATE_LIMIT_PER_MINUTE": str(settings.rate_limit_per_minute),
        "ACTIVITYFEED_RATE_LIMIT_FAIL_CLOSED": "true"
        if settings.rate_limit_fail_closed
        else "false",
        "ACTIVITYFEED_REDIS_KEY_PREFIX": settings.redis_key_prefix,
    }
    if settings.redis_url:
        env["ACTIVITYFEED_REDIS_URL"] = settings.redis_url
    if (path := local_file(settings)) is not None:
        env["ACTIVITYFEED_RATE_LIMIT_FILE"] = path  # decided once, by the master
    return env
