"""The test Redis: its URL, or a skip (a failure in CI) when it is not there."""

from __future__ import annotations

import os

import redis

from conftest import need_service


def redis_test_url() -> str:
    """``ACTIVITYFEED_TEST_REDIS_URL``, once it answers a ping."""
    url = os.environ.get("ACTIVITYFEED_TEST_REDIS_URL")
    if not url:
        need_service("Redis", "ACTIVITYFEED_TEST_REDIS_URL is not set")
        raise AssertionError("need_service skips or fails")
    try:
        with redis.Redis.from_url(url, socket_timeout=2) as conn:
            conn.ping()
    except redis.RedisError as exc:
        need_service("Redis", f"{url} does not answer: {exc}")
    return url
