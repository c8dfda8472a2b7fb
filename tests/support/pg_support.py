"""PostgreSQL for tests: a schema of its own per test on the shared server.

The suite runs in parallel with other runs against the same server, so each
test gets its own schema (``af_<random>``), named in the store URL through
libpq's ``options=-csearch_path=...``. Creating and migrating a schema (16
partitions and their indexes) costs a few hundred milliseconds on a busy
machine, so a finished test's schema is emptied (``DELETE``, sequences
restarted: milliseconds for a test's few rows) and handed to the next test of
the same process; the schemas are dropped when the process exits.
"""

from __future__ import annotations

import atexit
import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg

ENV = "ACTIVITYFEED_TEST_POSTGRES_URL"


def base_url() -> str | None:
    """The server tests may use, from ``ACTIVITYFEED_TEST_POSTGRES_URL``."""
    return os.environ.get(ENV) or None


@functools.cache
def unreachable_reason(url: str) -> str | None:
    """Why the server cannot be used, or ``None`` when it answers (asked once)."""
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"cannot connect to {ENV}: {str(exc).strip().splitlines()[0]}"
    return None


def schema_url(url: str, schema: str) -> str:
    """``url`` with ``schema`` first on the search path."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}', safe='')}"


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A store URL on a new, empty schema, dropped on exit."""
    schema = _create(url)
    try:
        yield schema_url(url, schema)
    finally:
        _drop(url, schema)


_free: dict[str, list[str]] = {}  # server URL -> emptied schemas ready for reuse


@contextmanager
def pooled_schema(url: str) -> Iterator[str]:
    """A store URL on an empty schema: a reused one when this process has one."""
    free = _free.get(url)
    if free is None:
        free = _free[url] = []
        atexit.register(_drop_all, url, free)
    schema = free.pop() if free else _create(url)
    try:
        yield schema_url(url, schema)
    finally:
        if _empty(url, schema):
            free.append(schema)
        else:
            _drop(url, schema)


def _create(url: str) -> str:
    schema = f"af_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return schema


def _empty(url: str, schema: str) -> bool:
    """Delete every row but the migration history and restart the sequences."""
    try:
        with psycopg.connect(url) as conn:
            conn.execute("SET lock_timeout = '5s'")
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT c.relname FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') "
                    "AND NOT c.relispartition AND c.relname <> 'schema_migrations'",
                    (schema,),
                )
            ]
            if tables:
                # One statement: foreign keys (NO ACTION) are checked at its end.
                deletes = [f"DELETE FROM {schema}.{name}" for name in tables]
                ctes = ", ".join(f"d{i} AS ({sql})" for i, sql in enumerate(deletes[1:]))
                conn.execute(f"WITH {ctes} {deletes[0]}" if ctes else deletes[0])
            sequences = conn.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = %s", (schema,)
            ).fetchall()
            for (sequence,) in sequences:
                conn.execute(f"ALTER SEQUENCE {schema}.{sequence} RESTART")
    except psycopg.Error:
        return False
    return True


def _drop(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        # Whatever a test left connected must not hang the suite.
        conn.execute("SET lock_timeout = '10s'")
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _drop_all(url: str, schemas: list[str]) -> None:
    for schema in schemas:
        try:
            _drop(url, schema)
        except psycopg.Error:
            continue  # the server went away first: nothing left to tidy
