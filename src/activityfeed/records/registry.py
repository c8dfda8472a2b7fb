"""The registry of associated-record resource names and their sources (contract, section 4).

A key ``<name>_id`` of ``static_data`` is a reference when ``<name>`` is in the
registry. Each name is served either by the service's own store (``local``)
or by a remote HTTP service (``remote``, see :mod:`activityfeed.records.remote`).

The registry starts from :data:`DEFAULT_RESOURCES`, all local, then applies a
TOML file (``ACTIVITYFEED_RECORDS_CONFIG``), then ``ACTIVITYFEED_RECORDS_*``
environment variables; ``docs/dynamic-data.md`` describes both.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

# The names the 25 activity types reference (docs/dynamic-data.md has the table).
DEFAULT_RESOURCES: tuple[str, ...] = (
    "action",
    "cadence",
    "call",
    "conversation",
    "dnc_event",
    "email",
    "live_chat",
    "meeting",
    "note",
    "opportunity",
    "review",
    "site_visit",
    "step",
    "success",
    "task",
    "voicemail",
)
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_COOLDOWN_SECONDS = 30.0


class RecordsConfigError(ValueError):
    """The records configuration (file or environment) is invalid."""


@dataclass(frozen=True, slots=True)
class RemoteSpec:
    """Where and how to call the remote source of one resource name."""

    url: str
    # Header values usually hold credentials: kept out of reprs and logs.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS


@dataclass(frozen=True, slots=True)
class Registry:
    """Every known resource name, and the remote spec of those not stored locally."""

    names: frozenset[str]
    remote: Mapping[str, RemoteSpec] = field(default_factory=dict)

    def is_local(self, name: str) -> bool:
        """Whether records of ``name`` live in the service's own store."""
        return name in self.names and name not in self.remote

    @classmethod
    def local_only(cls, names: Iterable[str] = DEFAULT_RESOURCES) -> Registry:
        """A registry whose every name is stored locally."""
        return cls(frozenset(names))


def load_registry(config_path: str | None, env: Iterable[tuple[str, str]] = ()) -> Registry:
    """The registry from the defaults, the TOML file at ``config_path``, then ``env``.

    ``env`` holds ``ACTIVITYFEED_RECORDS_*`` variables without that prefix
    (``("EMAIL_URL", "http://...")``), as :class:`~activityfeed.settings.Settings`
    keeps them.
    """
    names = dict.fromkeys(DEFAULT_RESOURCES)
    remote: dict[str, RemoteSpec] = {}
    if config_path is not None:
        try:
            with open(config_path, "rb") as handle:
                data = tomllib.load(handle)
        except OSError as exc:
            raise RecordsConfigError(f"cannot read records config {config_path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise RecordsConfigError(f"records config {config_path}: {exc}") from exc
        _apply_file(data, names, remote, config_path)
    _apply_env(dict(env), names, remote)
    return Registry(frozenset(names), {n: s for n, s in remote.items() if n in names})


def _check_name(name: str, where: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise RecordsConfigError(
            f"{where}: {name!r} is not a resource name (lowercase letters, digits, '_')"
        )
    return name


def _check_url(url: Any, where: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise RecordsConfigError(f"{where}: url must be an http:// or https:// URL")
    return url


def _apply_file(
    data: Mapping[str, Any], names: dict[str, None], remote: dict[str, RemoteSpec], path: str
) -> None:
    for key in data:
        if key not in ("names", "remote", "resources"):
            raise RecordsConfigError(f"{path}: unknown key {key!r}")
    if "names" in data:
        listed = data["names"]
        if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
            raise RecordsConfigError(f"{path}: names must be an array of strings")
        names.clear()
        names.update(dict.fromkeys(_check_name(n, f"{path}: names") for n in listed))
    defaults = data.get("remote", {})
    if not isinstance(defaults, dict):
        raise RecordsConfigError(f"{path}: [remote] must be a table")
    base = _remote_options(RemoteSpec(url="http://unset"), defaults, f"{path}: [remote]")
    resources = data.get("resources", {})
    if not isinstance(resources, dict):
        raise RecordsConfigError(f"{path}: [resources] must be a table")
    for name, table in resources.items():
        where = f"{path}: [resources.{name}]"
        _check_name(name, where)
        if not isinstance(table, dict):
            raise RecordsConfigError(f"{where} must be a table")
        if table.get("enabled", True) is False:
            names.pop(name, None)
            remote.pop(name, None)
            continue
        names[name] = None
        source = table.get("source", "remote" if "url" in table else "local")
        if source == "local":
            remote.pop(name, None)
        elif source == "remote":
            spec = replace(base, url=_check_url(table.get("url"), where))
            remote[name] = _remote_options(spec, table, where)
        else:
            raise RecordsConfigError(f"{where}: source must be 'local' or 'remote'")


def _remote_options(spec: RemoteSpec, table: Mapping[str, Any], where: str) -> RemoteSpec:
    known = {"url", "source", "enabled", "headers", "failure_threshold", "cooldown_seconds"}
    for key in table:
        if key not in known:
            raise RecordsConfigError(f"{where}: unknown key {key!r}")
    headers = table.get("headers", dict(spec.headers))
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise RecordsConfigError(f"{where}: headers must be a table of strings")
    threshold = table.get("failure_threshold", spec.failure_threshold)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        raise RecordsConfigError(f"{where}: failure_threshold must be an integer >= 1")
    cooldown = table.get("cooldown_seconds", spec.cooldown_seconds)
    if not isinstance(cooldown, (int, float)) or isinstance(cooldown, bool) or cooldown <= 0:
        raise RecordsConfigError(f"{where}: cooldown_seconds must be a number > 0")
    return replace(
        spec,
        headers=tuple(headers.items()),
        failure_threshold=threshold,
        cooldown_seconds=float(cooldown),
    )


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _apply_env(env: dict[str, str], names: dict[str, None], remote: dict[str, RemoteSpec]) -> None:
    where = "ACTIVITYFEED_RECORDS_"
    for name in _split(env.get("ADD", "")):
        names[_check_name(name, where + "ADD")] = None
    for name in _split(env.get("REMOVE", "")):
        names.pop(name, None)
    for key, value in sorted(env.items()):
        if key.endswith("_URL"):
            name = _check_name(key[:-4].lower(), where + key)
            if value.lower() == "local":
                remote.pop(name, None)
            else:
                previous = remote.get(name, RemoteSpec(url=value))
                remote[name] = replace(previous, url=_check_url(value, where + key))
            names[name] = None
    for key, value in env.items():
        if key.endswith("_AUTHORIZATION"):
            name = key[: -len("_AUTHORIZATION")].lower()
            if name not in remote:
                raise RecordsConfigError(f"{where}{key}: {name!r} has no remote URL")
            headers = dict(remote[name].headers)
            headers["Authorization"] = value
            remote[name] = replace(remote[name], headers=tuple(headers.items()))
