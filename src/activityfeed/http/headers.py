"""Headers every answer carries, whatever produced it (a handler, an error, the middleware).

* ``X-Content-Type-Options: nosniff`` on every answer of the service: a
  browser never reads a JSON error as HTML or script.
* ``Cache-Control: no-store`` on every ``/v2`` answer, errors included: the
  answers are one team's data, and no shared or browser cache keeps them.

:class:`~activityfeed.http.middleware.SecurityHeaders` adds them to every
answer; an error response has them itself (``errors.py``), also the few
rendered outside the middleware. ``/docs`` adds its own
``Content-Security-Policy`` (``docs.py``).
"""

from __future__ import annotations

NOSNIFF = (b"x-content-type-options", b"nosniff")
NO_STORE = (b"cache-control", b"no-store")
ERROR_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def is_api_path(path: str) -> bool:
    """Whether ``path`` is the API's: authenticated, rate-limited, never stored by caches."""
    return path.startswith("/v2")
