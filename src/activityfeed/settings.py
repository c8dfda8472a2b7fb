"""Settings: one frozen value built from the environment and the command line."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///activityfeed.db"
ENV_PREFIX = "ACTIVITYFEED_"


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

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value if value not in (None, "") else None

        def integer(name: str, raw: str) -> int:
            try:
                number = int(raw)
            except ValueError:
                raise ValueError(f"{ENV_PREFIX}{name} must be an integer, not {raw!r}") from None
            if number < 0:
                raise ValueError(f"{ENV_PREFIX}{name} must not be negative, not {raw!r}")
            return number

        def seconds(name: str, raw: str) -> float:
            try:
                number = float(raw)
            except ValueError:
                raise ValueError(f"{ENV_PREFIX}{name} must be a number, not {raw!r}") from None
            if not number > 0 or number == float("inf"):
                raise ValueError(f"{ENV_PREFIX}{name} must be a positive number, not {raw!r}")
            return number

        values: dict[str, Any] = {}
        if (url := get("DATABASE_URL")) is not None:
            values["database_url"] = url
        if (limit := get("RATE_LIMIT_PER_MINUTE")) is not None:
            values["rate_limit_per_minute"] = integer("RATE_LIMIT_PER_MINUTE", limit)
        if (redis_url := get("REDIS_URL")) is not None:
            values["redis_url"] = redis_url
        if (prefix := get("REDIS_KEY_PREFIX")) is not None:
            values["redis_key_prefix"] = prefix
        if (closed := get("RATE_LIMIT_FAIL_CLOSED")) is not None:
            values["rate_limit_fail_closed"] = closed.lower() in ("1", "true", "yes")
        if (rate_limit_file := get("RATE_LIMIT_FILE")) is not None:
            values["rate_limit_file"] = rate_limit_file
        if (entries := get("CACHE_ENTRIES")) is not None:
            values["cache_entries"] = integer("CACHE_ENTRIES", entries)
        if (cache_bytes := get("CACHE_BYTES")) is not None:
            values["cache_bytes"] = integer("CACHE_BYTES", cache_bytes)
        if (deadline := get("DYNAMIC_DATA_DEADLINE_MS")) is not None:
            values["dynamic_data_deadline_ms"] = integer("DYNAMIC_DATA_DEADLINE_MS", deadline)
        if (store_timeout := get("STORE_TIMEOUT_S")) is not None:
            values["store_timeout_s"] = seconds("STORE_TIMEOUT_S", store_timeout)
        if (records := get("RECORDS_CONFIG")) is not None:
            values["records_config"] = records
        records_prefix = ENV_PREFIX + "RECORDS_"
        records_env = tuple(
            sorted(
                (name[len(records_prefix) :], value)
                for name, value in env.items()
                if name.startswith(records_prefix) and name != records_prefix + "CONFIG" and value
            )
        )
        if records_env:
            values["records_env"] = records_env
        for name, env_name in (
            ("max_request_target_bytes", "MAX_REQUEST_TARGET_BYTES"),
            ("max_header_bytes", "MAX_HEADER_BYTES"),
            ("max_header_count", "MAX_HEADER_COUNT"),
        ):
            if (raw := get(env_name)) is not None:
                if (number := integer(env_name, raw)) == 0:
                    raise ValueError(f"{ENV_PREFIX}{env_name} must be at least 1, not {raw!r}")
                values[name] = number
        limits = {}
        for name, env_name in (
            ("max_body_bytes", "MAX_BODY_BYTES"),
            ("max_static_data_bytes", "MAX_STATIC_DATA_BYTES"),
            ("max_tags", "MAX_TAGS"),
            ("max_tag_length", "MAX_TAG_LENGTH"),
        ):
            if (raw := get(env_name)) is not None:
                limits[name] = integer(env_name, raw)
        if limits:
            values["limits"] = Limits(**limits)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with ``changes``."""
        return replace(self, **changes)
