"""The Python SDK of the activity history API: :class:`Client` and :class:`AsyncClient`.

It needs httpx only (``pip install activityfeed``, no extras) and imports
nothing of the server. It talks to activityfeed and, with the base URL and key
swapped, to Salesloft's ``/v2/activity_histories``. See ``docs/sdk.md``.
"""

from activityfeed.client.async_client import AsyncClient
from activityfeed.client.calls import UNSET
from activityfeed.client.errors import (
    ActivityFeedError,
    ApiError,
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    TransportError,
    Unauthorized,
    ValidationError,
)
from activityfeed.client.models import (
    Activity,
    BulkResult,
    Page,
    Paging,
    Record,
    RecordsResult,
    Synced,
)
from activityfeed.client.params import ListFilters
from activityfeed.client.policy import RetryPolicy, Wait
from activityfeed.client.sync_client import Client

__all__ = [
    "UNSET",
    "Activity",
    "ActivityFeedError",
    "ApiError",
    "AsyncClient",
    "BadRequest",
    "BulkResult",
    "Client",
    "Forbidden",
    "ListFilters",
    "MethodNotAllowed",
    "NotFound",
    "Page",
    "Paging",
    "PayloadTooLarge",
    "RateLimited",
    "Record",
    "RecordsResult",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "Synced",
    "TransportError",
    "Unauthorized",
    "ValidationError",
    "Wait",
]
