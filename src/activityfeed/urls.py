"""Reading the URLs of the settings: the file of a SQLite URL, and what of a URL may be shown.

Beside :mod:`activityfeed.settings`, which holds the database and Redis URLs.
The stores, the rate limiter and the command line all read a URL here, so that
none of them parses it through another's module. Only the standard library is
imported.
"""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

SQLITE_PREFIX = "sqlite:///"
# Query parameters of a database URL that carry a secret (libpq's names).
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    if not url.startswith(SQLITE_PREFIX):
        raise ValueError("a SQLite URL looks like sqlite:///relative.db or sqlite:////abs.db")
    path = url[len(SQLITE_PREFIX) :].split("?", 1)[0]
    if not path:
        raise ValueError("the SQLite URL names no file")
    return path


def without_secrets(url: str) -> str:
    """``url`` with its password (in the user info or the query) left out.

    What may be shown of a URL, and what names an import's target in its state
    file: the same server, database, user and options, whatever the password,
    so that a rerun with a rotated password still resumes and the file never
    holds a credential.
    """
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if k.lower() not in _SECRET_PARAMETERS]
    if ":" not in userinfo and len(kept) == len(pairs):
        return url  # nothing to leave out: the URL as given
    netloc = f"{userinfo.partition(':')[0]}{at}{host}"
    query = urlencode(kept) if len(kept) < len(pairs) else parts.query
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def database_location(url: str) -> str:
    """Where the database of ``url`` is, for messages: host and port, or the file; no secret."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return url.removeprefix(SQLITE_PREFIX).split("?", 1)[0]
    hosts = parts.netloc.rpartition("@")[2]  # never the user or the password
    if not hosts:  # libpq's host and port parameters (a socket directory, say)
        query = parse_qs(parts.query)
        hosts = f"{query.get('host', ['localhost'])[0]}:{query.get('port', ['5432'])[0]}"
    elif "," not in hosts and not hosts.rpartition(":")[2].isdigit():
        hosts += ":5432"
    return hosts
