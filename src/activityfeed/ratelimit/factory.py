"""The rate limiter of a deployment, chosen and built from its settings.

Redis when ``ACTIVITYFEED_REDIS_URL`` is set, with the machine-local shared
file as its fallback; else the shared file alone (:mod:`.backends`). The file's
place is derived from the database URL, in a directory no other local user may
enter (:func:`shared_file_path`); ``serve`` decides it once and hands it, with
the rest of the rate limit's settings, to its workers (:func:`rate_limit_env`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
from typing import Any

from activityfeed.ratelimit.backends import RedisBackend, SharedFileBackend
from activityfeed.ratelimit.policy import Backend, Clock, RateLimiter
from activityfeed.settings import Settings
from activityfeed.urls import sqlite_path, without_secrets

log = logging.getLogger("activityfeed.ratelimit")


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
        where = f"in Redis at {without_secrets(settings.redis_url)} ({mode} when unreachable)"
    return f"rate limiting: {settings.rate_limit_per_minute} per team per minute, counted {where}"


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
