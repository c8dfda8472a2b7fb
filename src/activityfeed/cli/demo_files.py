"""The demo's two files beside its store: the key it printed, and what it loaded.

Keys are stored only as hashes, so the key the demo printed can be printed
again only from a file of its own: ``<store>.demo-key`` (the key alone, one
line, mode 0600), beside a SQLite store. ``<store>.demo-state`` records the
demo's options and the store's state right after the load
(:func:`activityfeed.demo.load.loaded_state`): a rerun with the same options
on a store still in that state loads nothing. A PostgreSQL store has no file
to sit beside: its files live in ``$XDG_STATE_HOME/activityfeed`` (else
``~/.local/state/activityfeed``), named by a hash of the URL without its
password.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from activityfeed.urls import SQLITE_PREFIX, sqlite_path, without_secrets


def demo_file(database_url: str, suffix: str) -> Path:
    """The demo's file ``suffix`` (``demo-key`` or ``demo-state``) for the store at the URL."""
    if database_url.startswith(SQLITE_PREFIX):
        return Path(f"{sqlite_path(database_url)}.{suffix}")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    name = hashlib.sha256(without_secrets(database_url).encode()).hexdigest()[:16]
    return Path(base) / "activityfeed" / f"postgres-{name}.{suffix}"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` at once (a reader sees the old file or the new), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask, and an old file's mode
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            fd = -1
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        if fd >= 0:
            os.close(fd)
        temporary.unlink(missing_ok=True)


def read_text(path: Path) -> str | None:
    """The file's text, stripped; ``None`` when it is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def read_state(path: Path) -> dict[str, Any] | None:
    """The demo's recorded options and state; ``None`` when missing or not the demo's."""
    text = read_text(path)
    if text is None:
        return None
    try:
        state = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return state if isinstance(state, dict) else None


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Record the demo's options and the store's state after the load."""
    write_private(path, orjson.dumps(state, option=orjson.OPT_INDENT_2).decode() + "\n")
