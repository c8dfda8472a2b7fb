"""API keys: how they look, how they are made, and how a request's key is checked.

A key is ``ak_`` and 64 lowercase hex characters, as Salesloft's. Only its
SHA-256 is stored; the key itself is shown once, when it is made
(:func:`new_key`, for ``keys create``, the demo, the tests and the benchmarks).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from activityfeed.errors import Forbidden, Unauthorized
from activityfeed.model import ApiKey
from activityfeed.storage.base import Storage

KEY_PATTERN = re.compile(r"ak_[0-9a-f]{64}")
PREFIX_LENGTH = 11  # "ak_" and 8 hex digits: enough to name a key in listings


def generate_key() -> str:
    """A new random key."""
    return "ak_" + secrets.token_hex(32)


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    """The public part of a key, shown in listings and used to revoke it."""
    return key[:PREFIX_LENGTH]


async def new_key(store: Storage, team: str, scopes: tuple[str, ...]) -> str:
    """Make a key for ``team`` (created when missing); the key, shown once."""
    found = await store.ensure_team(team)
    key = generate_key()
    await store.add_key(found.id, hash_key(key), key_prefix(key), scopes)
    return key


def bearer_token(header: str | None) -> str:
    """The key of an ``Authorization: Bearer <key>`` header, or a 401."""
    if not header:
        raise Unauthorized("Missing API key: send Authorization: Bearer <key>")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Malformed Authorization header: expected Bearer <key>")
    token = token.strip()
    if KEY_PATTERN.fullmatch(token) is None:
        raise Unauthorized("Malformed API key")
    return token


def check_key(key: ApiKey | None) -> ApiKey:
    """A usable key, or a 401 (never echoing the key).

    A revoked key gets the same answer as one that never existed: the answer
    tells whoever holds a key nothing about its history.
    """
    if key is None or key.revoked_at is not None:
        raise Unauthorized("Invalid API key")
    return key


def require_scope(key: ApiKey, scope: str) -> None:
    """A 403 when ``key`` lacks ``scope``."""
    if scope not in key.scopes:
        raise Forbidden(f"This API key lacks the {scope} scope")
