"""The shared responses and headers of the OpenAPI document: the contract's error table.

Besides the errors of the ``/v2`` operations (each with the rate-limit headers),
every operation of every path declares the answers that come before any
handler: a 405 with ``Allow`` for a method the path does not take, and the
protocol-level 400, 408, 414 and 431 (a request the HTTP parser refuses, a head
that does not arrive in time, a request line or a header section over its
limit), which carry no rate-limit headers.
"""

from __future__ import annotations

from activityfeed.openapi.schemas import Schema, ref
from activityfeed.ratelimit.policy import UNLIMITED_REMAINING


def header_ref(name: str) -> Schema:
    """A reference to the component header ``name``."""
    return {"$ref": f"#/components/headers/{name}"}


def response_ref(name: str) -> Schema:
    """A reference to the component response ``name``."""
    return {"$ref": f"#/components/responses/{name}"}


# Every authenticated /v2 response carries these (contract, section 5); a 401 never.
RATE_LIMIT_HEADERS: dict[str, Schema] = {
    "x-ratelimit-endpoint-cost": header_ref("RateLimitEndpointCost"),
    "x-ratelimit-remaining-minute": header_ref("RateLimitRemainingMinute"),
}
ALLOW_HEADER: dict[str, Schema] = {"Allow": header_ref("Allow")}

# What every operation may answer before its handler runs, by status.
PROTOCOL_ERRORS = {
    400: "BadRequest",
    408: "RequestTimeout",
    414: "URITooLong",
    431: "HeadersTooLarge",
}


def headers() -> dict[str, Schema]:
    """Every component header."""
    return {
        "RateLimitEndpointCost": {
            "description": "What this request cost against the team's budget for the "
            "minute: 1, or for list requests by `page`: 101-150: 3, 151-250: 8, "
            "251-500: 10, 501 and above: 30.",
            "schema": {"type": "integer", "minimum": 0},
        },
        "RateLimitRemainingMinute": {
            "description": "What is left of the team's budget for this calendar minute; "
            f"{UNLIMITED_REMAINING} when the team has no limit or rate limiting is off.",
            "schema": {"type": "integer", "minimum": 0},
        },
        "WWWAuthenticate": {
            "description": "`Bearer`, with a realm.",
            "required": True,
            "schema": {"type": "string"},
            "example": 'Bearer realm="activityfeed"',
        },
        "RetryAfter": {
            "description": "Seconds until the next minute, when the budget renews.",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
            "example": 17,
        },
        "RetryAfterUnavailable": {
            "description": "Seconds to wait before trying again, on every 503 of an outage; "
            "absent when the store is read-only (retrying does not help).",
            "schema": {"type": "integer", "minimum": 0},
            "example": 2,
        },
        "Allow": {
            "description": "The methods the path takes (`HEAD` wherever `GET` is).",
            "required": True,
            "schema": {"type": "string"},
            "example": "GET, HEAD, PUT, DELETE",
        },
    }


def _error(description: str, message: str, extra_headers: dict[str, Schema]) -> Schema:
    return {
        "description": description,
        "headers": extra_headers,
        "content": {"application/json": {"schema": ref("Error"), "example": {"error": message}}},
    }


def responses() -> dict[str, Schema]:
    """Every shared response: the error bodies of the contract's table."""
    return {
        "Unauthorized": _error(
            "Missing, malformed, unknown or revoked key. Comes before any other error.",
            "Invalid API key",
            {"WWW-Authenticate": header_ref("WWWAuthenticate")},
        ),
        "Forbidden": _error(
            "The key lacks the scope the operation needs.",
            "This API key lacks the activities:write scope",
            RATE_LIMIT_HEADERS,
        ),
        "NotFound": _error(
            "Unknown activity, record or route; never says which.",
            "Not Found",
            RATE_LIMIT_HEADERS,
        ),
        "MethodNotAllowed": _error(
            "The path exists, not with this method (after the key is checked).",
            "Method Not Allowed",
            {**ALLOW_HEADER, **RATE_LIMIT_HEADERS},
        ),
        "ServiceMethodNotAllowed": _error(
            "The path exists, not with this method.", "Method Not Allowed", ALLOW_HEADER
        ),
        "PayloadTooLarge": _error(
            "The request body is over the configured limit.",
            "Request body is over the limit of 10485760 bytes",
            RATE_LIMIT_HEADERS,
        ),
        "ValidationFailed": {
            "description": "Invalid parameters or body: every problem, each under its name.",
            "headers": RATE_LIMIT_HEADERS,
            "content": {"application/json": {"schema": ref("ValidationErrors")}},
        },
        "RateLimited": _error(
            "The team's budget for this calendar minute is spent; the request cost nothing.",
            "API rate limit exceeded",
            {"Retry-After": header_ref("RetryAfter"), **RATE_LIMIT_HEADERS},
        ),
        "Unavailable": _error(
            "The database or another required part is unavailable; retry after "
            "`Retry-After` seconds.",
            "The database is unavailable, try again shortly",
            {"Retry-After": header_ref("RetryAfterUnavailable"), **RATE_LIMIT_HEADERS},
        ),
        "BadRequest": _error(
            "The HTTP parser refused the request (bad bytes in the request line or a header, "
            "a bad `Content-Length`); the connection is closed.",
            "Bad Request",
            {},
        ),
        "URITooLong": _error(
            "The request line is over its limit; the connection is closed.",
            "Request line is too long",
            {},
        ),
        "RequestTimeout": _error(
            "The request's head did not all arrive in time (`ACTIVITYFEED_HEAD_TIMEOUT_S`, "
            "10 s by default); the connection is closed.",
            "Request head not received within 10 s",
            {},
        ),
        "HeadersTooLarge": _error(
            "The header section is over its limit; the connection is closed.",
            "Request header fields are too large",
            {},
        ),
    }


def protocol_errors(*, api: bool) -> dict[str, Schema]:
    """The answers of every operation that come before its handler: 400, 405, 408, 414, 431."""
    method = "MethodNotAllowed" if api else "ServiceMethodNotAllowed"
    statuses = {**PROTOCOL_ERRORS, 405: method}
    return {str(status): response_ref(statuses[status]) for status in sorted(statuses)}
