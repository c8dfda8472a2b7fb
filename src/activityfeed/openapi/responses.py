"""The shared responses and headers of the OpenAPI document: the contract's error table."""

from __future__ import annotations

from activityfeed.openapi.schemas import Schema, ref
from activityfeed.ratelimit.policy import UNLIMITED_REMAINING


def header_ref(name: str) -> Schema:
    """A reference to the component header ``name``."""
    return {"$ref": f"#/components/headers/{name}"}


# Every authenticated /v2 response carries these (contract, section 5); a 401 never.
RATE_LIMIT_HEADERS: dict[str, Schema] = {
    "x-ratelimit-endpoint-cost": header_ref("RateLimitEndpointCost"),
    "x-ratelimit-remaining-minute": header_ref("RateLimitRemainingMinute"),
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
            "The path exists, not with this method.", "Method Not Allowed", RATE_LIMIT_HEADERS
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
            "The database or another required part is unavailable; retry shortly.",
            "The database is unavailable, try again shortly",
            RATE_LIMIT_HEADERS,
        ),
    }
