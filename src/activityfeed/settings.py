"""Settings: one frozen value built from the environment and the command line."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "sqlite:///activityfeed.db"
ENV_PREFIX = "ACTIVITYFEED_"
REDIS_SCHEMES = ("redis", "rediss", "unix")


class SettingsError(ValueError):
    """A setting that cannot be used; its message is one line naming the variable."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits on a write body (contract, section 3), configurable; ``bodies`` applies them."""

    max_body_bytes: int = 10 * 1024 * 1024
    max_static_data_bytes: int = 64 * 1024
    max_tags: int = 50
    max_tag_length: int = 100
    max_bulk_items: int = 10_000


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything :func:`activityfeed.http.app.create_app` needs to build a service."""

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    limits: Limits = field(default_factory=Limits)
    # The request head (http/server.py): a 414 over the target's limit, a 431 over
    # the header fields' bytes or count.
    max_request_target_bytes: int = 8 * 1024
    max_header_bytes: int = 32 * 1024
    max_header_count: int = 100
    head_timeout_s: float = 10.0
    rate_limit_per_minute: int = 600
    redis_url: str | None = None
    redis_key_prefix: str = "activityfeed:"
    rate_limit_fail_closed: bool = False
    # The machine-local counter file (ratelimit.factory.shared_file_path when unset);
    # serve hands the one it chose to its workers.
    rate_limit_file: str | None = None
    dynamic_data_deadline_ms: int = 250
    # The deadline of one store call, in seconds: a hung database is a 503 after it.
    store_timeout_s: float = 5.0
    # Entries of each exact cache (cache.py); 0 turns them off.
    cache_entries: int = 4096
    # Bytes all the exact caches of a worker may hold (cache.py); 0 turns them off.
    cache_bytes: int = 64 * 1024 * 1024
    records_config: str | None = None
    # ACTIVITYFEED_RECORDS_* variables without that prefix (activityfeed.records.registry).
    records_env: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``ACTIVITYFEED_*`` variables, then ``overrides`` (not ``None``)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, env_name, read in _FROM_ENV:
            if (raw := _get(env, env_name)) is not None:
                values[name] = read(env_name, raw)
        if records_env := _records_env(env):
            values["records_env"] = records_env
        limits = {}
        for name, env_name in _LIMITS_FROM_ENV:
            if (raw := _get(env, env_name)) is not None:
                limits[name] = _integer(env_name, raw)
        if limits:
            values["limits"] = Limits(**limits)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values.get("redis_url") is not None:
            _check_redis_url(values["redis_url"])
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with ``changes``."""
        return replace(self, **changes)


def _get(env: Mapping[str, str], name: str) -> str | None:
    """The variable ``ACTIVITYFEED_<name>``; ``None`` when unset or empty."""
    value = env.get(ENV_PREFIX + name)
    return value if value not in (None, "") else None


def _check_redis_url(url: str) -> None:
    """Refuse a Redis URL of another scheme (it is named, not shown: it may hold a password)."""
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme not in REDIS_SCHEMES:
        given = f"a {scheme}:// URL" if scheme else f"{url!r}" if "@" not in url else "no scheme"
        raise SettingsError(
            f"the Redis URL ({ENV_PREFIX}REDIS_URL or --redis-url) must start with "
            f"redis://, rediss:// or unix://, not {given}"
        )


def _text(name: str, raw: str) -> str:
    return raw


def _flag(name: str, raw: str) -> bool:
    if (word := raw.strip().lower()) in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{ENV_PREFIX}{name} must be true or false (1/0, yes/no), not {raw!r}")


def _integer(name: str, raw: str) -> int:
    try:
        number = int(raw)
    except ValueError:
        raise SettingsError(f"{ENV_PREFIX}{name} must be an integer, not {raw!r}") from None
    if number < 0:
        raise SettingsError(f"{ENV_PREFIX}{name} must not be negative, not {raw!r}")
    return number


def _at_least_one(name: str, raw: str) -> int:
    if (number := _integer(name, raw)) == 0:
        raise SettingsError(f"{ENV_PREFIX}{name} must be at least 1, not {raw!r}")
    return number


def _seconds(name: str, raw: str) -> float:
    try:
        number = float(raw)
    except ValueError:
        raise SettingsError(f"{ENV_PREFIX}{name} must be a number, not {raw!r}") from None
    if not number > 0 or number == float("inf"):
        raise SettingsError(f"{ENV_PREFIX}{name} must be a positive number, not {raw!r}")
    return number


def _records_env(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The ``ACTIVITYFEED_RECORDS_*`` variables but ``_CONFIG``, without that prefix, sorted."""
    prefix = ENV_PREFIX + "RECORDS_"
    return tuple(
        sorted(
            (name[len(prefix) :], value)
            for name, value in env.items()
            if name.startswith(prefix) and name != prefix + "CONFIG" and value
        )
    )


# The fields of Settings read from ACTIVITYFEED_<variable>, in the order they are checked.
_FROM_ENV: tuple[tuple[str, str, Callable[[str, str], Any]], ...] = (
    ("database_url", "DATABASE_URL", _text),
    ("rate_limit_per_minute", "RATE_LIMIT_PER_MINUTE", _integer),
    ("redis_url", "REDIS_URL", _text),
    ("redis_key_prefix", "REDIS_KEY_PREFIX", _text),
    ("rate_limit_fail_closed", "RATE_LIMIT_FAIL_CLOSED", _flag),
    ("rate_limit_file", "RATE_LIMIT_FILE", _text),
    ("cache_entries", "CACHE_ENTRIES", _integer),
    ("cache_bytes", "CACHE_BYTES", _integer),
    ("dynamic_data_deadline_ms", "DYNAMIC_DATA_DEADLINE_MS", _integer),
    ("store_timeout_s", "STORE_TIMEOUT_S", _seconds),
    ("records_config", "RECORDS_CONFIG", _text),
    ("max_request_target_bytes", "MAX_REQUEST_TARGET_BYTES", _at_least_one),
    ("max_header_bytes", "MAX_HEADER_BYTES", _at_least_one),
    ("max_header_count", "MAX_HEADER_COUNT", _at_least_one),
    ("head_timeout_s", "HEAD_TIMEOUT_S", _seconds),
)
# The fields of Limits read from ACTIVITYFEED_<variable>.
_LIMITS_FROM_ENV = (
    ("max_body_bytes", "MAX_BODY_BYTES"),
    ("max_static_data_bytes", "MAX_STATIC_DATA_BYTES"),
    ("max_tags", "MAX_TAGS"),
    ("max_tag_length", "MAX_TAG_LENGTH"),
)
